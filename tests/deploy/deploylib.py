"""Shared by the Python deployment tests (tests/deploy/*_test.py): results, processes that cannot
outlive the test, loopback ports, /metrics, README blocks. The shell tests use lib.sh."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

passed = 0
failed = 0
_procs = []


def ok(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("PASS:", what, flush=True)
    else:
        failed += 1
        print("FAIL:", what, flush=True)
    return bool(cond)


def fatal(what):
    print("FATAL:", what, flush=True)
    stop_all()
    print(f"{passed} passed, {failed + 1} failed")
    sys.exit(1)


def finish():
    stop_all()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def start(argv, env, log, cwd, lifetime=120):
    """Starts argv under `timeout` (it dies on its own if the test is killed) in a session of its
    own, so stop() can take down all its processes."""
    p = subprocess.Popen(["timeout", "-k", "5", str(lifetime)] + argv, env=env, cwd=cwd,
                         stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    _procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    """Signals p's process group, waits up to 5 s, then kills it; returns the exit code."""
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        return p.wait()


def stop_all():
    for p in _procs:
        if p.poll() is None:
            stop(p)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listeners(port):
    """Listening TCP sockets on port (any address)."""
    n = 0
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for r in rows:
            c = r.split()
            if len(c) > 3 and c[3] == "0A" and int(c[1].rsplit(":", 1)[1], 16) == port:
                n += 1
    return n


def http_status(url):
    try:
        return urllib.request.urlopen(url, timeout=2).status
    except OSError:
        return 0


def wait_http(url, proc, seconds=15):
    """True once url answers 200; False if proc exits or seconds pass."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if http_status(url) == 200:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def metrics(port):
    """{'name{labels}': value} of /metrics at port ({} if it cannot be fetched)."""
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return {}
    vals = {}
    for row in page.splitlines():
        if row and not row.startswith("#"):
            k, _, v = row.rpartition(" ")
            try:
                vals[k] = float(v)
            except ValueError:
                pass
    return vals


def family_sum(vals, name):
    return sum(v for k, v in vals.items() if k == name or k.startswith(name + "{"))


def readme_block(src, name):
    """The fenced block after `<!-- deploy-test: NAME -->` in README.md, or None."""
    readme = open(os.path.join(src, "README.md"), encoding="utf-8").read()
    m = re.search(r"<!-- deploy-test: " + re.escape(name) + r" -->\n```[a-z]*\n(.*?)\n```", readme, re.S)
    return m.group(1) if m else None


def show_logs(tmp, names):
    for log in names:
        path = os.path.join(tmp, log)
        if os.path.exists(path) and os.path.getsize(path):
            print(f"---- {log} (end) ----")
            print(open(path, errors="replace").read()[-2500:])
