#!/usr/bin/env python3
"""dockerfile_test.py SOURCE_DIR DEMO [CACHE_DIR]

The Dockerfile without a container engine:
  1. its shape: multi-stage, Debian 12 (build) and Debian 12 slim (runtime); both stages use
     scripts/install-deps.sh (the runtime one with --runtime); a numeric non-root USER that the
     RUN lines create; EXPOSE 9477 = the port of SIPMETRICSD_LISTEN; SIPMETRICS_SEGMENT set;
     HEALTHCHECK on /healthz; ENTRYPOINT the binary the build stage stages; .dockerignore keeps
     host build trees and .git out of the context;
  2. the build stage for real: the context (.dockerignore applied) is copied to CACHE_DIR/src (the
     build tree there persists between runs, like Docker's layer cache), and every RUN line of
     the build stage runs there verbatim with /bin/sh -c (nproc capped at 2); the staged tree must
     be exactly the stripped binary and its man page;
  3. the runtime stage: every `install-deps.sh --runtime` package exists in Debian 12, and they
     (with their dependencies and Debian's required packages, what debian:12-slim holds) provide
     every shared library the binary loads and the curl of the HEALTHCHECK;
  4. README "Container image", played with the image's settings: the volume as a directory with
     the block's mode and group, the sipmetricsd container as the image's USER with its ENV plus
     the block's -e, the SIP container (the demo) as another uid with --group-add; the worker's
     counts are served, the HEALTHCHECK command passes while the daemon runs and fails once it
     is stopped, the block's curl works.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import fnmatch
import atexit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402
from deploylib import (ok, fatal, finish, start, stop, free_port, listeners, wait_http,  # noqa: E402
                       metrics, family_sum, readme_block, show_logs)

SRC = os.path.abspath(sys.argv[1])
DEMO = os.path.abspath(sys.argv[2])
TMP = tempfile.mkdtemp(prefix="sipmetrics-docker.")
os.chmod(TMP, 0o755)
atexit.register(shutil.rmtree, TMP, True)
CACHE = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else os.path.join(TMP, "cache")
START = time.time()
LOGS = ["build-stage.log", "daemon.log", "worker.log"]


# ---- 1. Shape --------------------------------------------------------------------------------------
def parse_dockerfile(path):
    """[(stage_index, INSTRUCTION, argument string)], continuation lines joined, comments dropped."""
    out, stage, buf = [], -1, ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            stage += 1
        out.append((stage, word, rest.strip()))
        buf = ""
    return out


ins = parse_dockerfile(os.path.join(SRC, "Dockerfile"))
froms = [a for _, w, a in ins if w == "FROM"]
ok(len(froms) >= 2, f"multi-stage: {froms}")
ok(re.fullmatch(r"debian:12(\.\d+)?\s+AS\s+build", froms[0], re.I) is not None, f"build stage FROM {froms[0]}")
ok(re.fullmatch(r"debian:12(\.\d+)?-slim", froms[-1]) is not None, f"runtime stage FROM {froms[-1]} (small)")
last = len(froms) - 1
build = [(w, a) for s, w, a in ins if s == 0]
final = [(w, a) for s, w, a in ins if s == last]
build_runs = [a for w, a in build if w == "RUN"]
final_runs = [a for w, a in final if w == "RUN"]
ok(any(re.match(r"^(\./)?scripts/install-deps\.sh\s*($|&&)", r) for r in build_runs),
   "build stage runs scripts/install-deps.sh (as the README's build does)")
ok(any(re.search(r"install-deps\.sh --runtime", r) for r in final_runs), "runtime stage runs install-deps.sh --runtime")
ok(all(any(w == "COPY" and "scripts/install-deps.sh" in a for w, a in st) for st in (build, final)),
   "both stages COPY scripts/install-deps.sh")
readme_text = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
ok("scripts/install-deps.sh" in readme_text, "README's build uses scripts/install-deps.sh too")

user = [a for w, a in final if w == "USER"]
m = re.fullmatch(r"(\d+):(\d+)", user[-1]) if user else None
if not m:
    fatal(f"runtime stage USER must be numeric uid:gid, is {user}")
UID_, GID_ = int(m.group(1)), int(m.group(2))
ok(UID_ != 0 and GID_ != 0, f"USER {UID_}:{GID_} is not root")
runs = " ".join(final_runs)
ok(re.search(rf"groupadd\b[^&]*--gid {GID_}\b", runs) and re.search(rf"useradd\b[^&]*--uid {UID_}\b", runs),
   f"the runtime stage creates uid {UID_} and gid {GID_}")


def env_of(stage):
    env = {}
    for w, a in stage:
        if w == "ENV":
            for item in shlex.split(a):
                k, _, v = item.partition("=")
                env[k] = v
    return env


IMAGE_ENV = env_of(final)
expose = [a for w, a in final if w == "EXPOSE"]
listen = IMAGE_ENV.get("SIPMETRICSD_LISTEN", "0.0.0.0:9477")
ok(expose == ["9477"], f"EXPOSE {expose}")
ok(listen.rpartition(":")[2] == "9477", f"ENV SIPMETRICSD_LISTEN={listen} listens on the EXPOSEd port")
ok("SIPMETRICS_SEGMENT" in IMAGE_ENV, f"ENV SIPMETRICS_SEGMENT={IMAGE_ENV.get('SIPMETRICS_SEGMENT')} (configurable)")
hc = [a for w, a in final if w == "HEALTHCHECK"]
hc_cmd = re.sub(r"^.*?\bCMD\s+", "", hc[-1]) if hc else ""
ok(hc and "/healthz" in hc_cmd and not hc_cmd.startswith("["), f"HEALTHCHECK (shell form) on /healthz: {hc_cmd}")
ep = [a for w, a in final if w == "ENTRYPOINT"]
try:
    entry = json.loads(ep[-1])
except (IndexError, ValueError):
    entry = None
ok(isinstance(entry, list) and entry and entry[0].startswith("/"), f"ENTRYPOINT exec form: {entry}")
copies = [a.split() for w, a in final if w == "COPY" and a.startswith("--from=build")]
ok(len(copies) == 1 and len(copies[0]) == 3, f"one COPY --from=build: {copies}")
stage_src, stage_dst = copies[0][1], copies[0][2]
workdir = [a for w, a in build if w == "WORKDIR"][-1]

ignore = [ln.strip() for ln in open(os.path.join(SRC, ".dockerignore"), encoding="utf-8")
          if ln.strip() and not ln.startswith("#")]
ok(not any(p.startswith("!") for p in ignore), ".dockerignore has no exceptions (this test does not model them)")


def ignored(rel):
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        for p in ignore:
            p = p.strip("/")
            if fnmatch.fnmatchcase(prefix, p) or (p.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1], p[3:])):
                return True
    return False


for must in ("build/CMakeCache.txt", ".git/HEAD", "build-bench/x"):
    ok(ignored(must), f".dockerignore keeps {must.split('/')[0]}/ out of the build context")

# ---- 2. The build stage, for real ------------------------------------------------------------------------
ctx = os.path.join(CACHE, "src")
os.makedirs(ctx, exist_ok=True)
for entry_name in os.listdir(ctx):  # `COPY . .` onto a fresh layer; the build tree is the cache
    if entry_name != "build":
        p = os.path.join(ctx, entry_name)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
n_files = 0
for dirpath, dirnames, filenames in os.walk(SRC):
    rel_dir = os.path.relpath(dirpath, SRC)
    rel_dir = "" if rel_dir == "." else rel_dir
    dirnames[:] = [d for d in dirnames if not ignored(os.path.join(rel_dir, d) if rel_dir else d)]
    for f in filenames:
        rel = os.path.join(rel_dir, f) if rel_dir else f
        if ignored(rel):
            continue
        os.makedirs(os.path.join(ctx, rel_dir), exist_ok=True)
        shutil.copy2(os.path.join(SRC, rel), os.path.join(ctx, rel), follow_symlinks=False)
        n_files += 1
ok(n_files > 20, f"build context: {n_files} files copied to {ctx}")
shim = os.path.join(TMP, "bin")
os.makedirs(shim)
with open(os.path.join(shim, "nproc"), "w") as f:
    f.write('#!/bin/sh\nn=$(/usr/bin/nproc "$@"); [ "$n" -gt 2 ] && n=2; echo "$n"\n')
os.chmod(os.path.join(shim, "nproc"), 0o755)
env = dict(os.environ, PATH=shim + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
log = open(os.path.join(TMP, "build-stage.log"), "w")
t0 = time.time()
for cmd in build_runs:
    log.write(f"+ {cmd}\n")
    log.flush()
    r = subprocess.run(["timeout", "900", "/bin/sh", "-c", cmd], cwd=ctx, env=env, stdout=log,
                       stderr=subprocess.STDOUT)
    if not ok(r.returncode == 0, f"build stage: RUN {cmd[:90]}{'...' if len(cmd) > 90 else ''} (exit {r.returncode})"):
        show_logs(TMP, ["build-stage.log"])
        fatal("the build stage fails")
print(f"build stage: {time.time() - t0:.0f} s (cache: {CACHE})")
staged = os.path.join(ctx, os.path.relpath(stage_src.rstrip("/"), workdir))
files = sorted(os.path.relpath(os.path.join(d, f), staged) for d, _, fs in os.walk(staged) for f in fs)
ok(files == ["bin/sipmetrics-ctl", "bin/sipmetricsd", "share/man/man8/sipmetricsd.8"], f"staged for the runtime stage: {files}")
BINARY = os.path.join(staged, "bin/sipmetricsd")
ok(os.path.join(stage_dst.rstrip("/"), "bin/sipmetricsd") == entry[0], f"ENTRYPOINT {entry[0]} is the staged binary")
sections = subprocess.run(["readelf", "-S", BINARY], capture_output=True, text=True).stdout
ok(".text" in sections and ".symtab" not in sections, "the staged binary is stripped")
cache = open(os.path.join(ctx, "build", "CMakeCache.txt")).read()
ok("CMAKE_BUILD_TYPE:STRING=Release" in cache, "built as Release")

# ---- 3. The runtime stage's packages ------------------------------------------------------------------------
pk = subprocess.run(["bash", "-c", 'eval "$(grep -E "^runtime=\\(" "$1")"; printf "%s\\n" "${runtime[@]}"', "_",
                     os.path.join(SRC, "scripts/install-deps.sh")], capture_output=True, text=True).stdout.split()
ok(len(pk) >= 2 and "curl" in pk, f"install-deps.sh --runtime installs {pk} (curl for the HEALTHCHECK)")
r = subprocess.run(["timeout", "300", os.path.join(SRC, "scripts/install-deps.sh"), "--runtime"],
                   capture_output=True, text=True)
ok(r.returncode == 0, f"scripts/install-deps.sh --runtime runs (exit {r.returncode}; a no-op where they are installed)")
for p in pk:
    r = subprocess.run(["apt-cache", "show", "--no-all-versions", p], capture_output=True, text=True)
    ok(r.returncode == 0 and "Package: " + p in r.stdout, f"Debian package {p} exists")
# debian:12-slim is Debian's minbase: the packages of priority required, apt, and their
# dependencies; the runtime stage adds the runtime packages and theirs.
req = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Priority}\\n"], capture_output=True, text=True).stdout
base = sorted({ln.split()[0] for ln in req.splitlines() if ln.endswith(" required")} | {"apt"})
dep = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                      "--no-breaks", "--no-replaces", "--no-enhances"] + pk + base, capture_output=True, text=True).stdout
closure = {ln.strip() for ln in dep.splitlines() if ln and not ln.startswith(" ") and not ln.startswith("<")}
ldd = subprocess.run(["ldd", BINARY], capture_output=True, text=True).stdout
ok("not found" not in ldd, "ldd: every library resolves here")
libs = re.findall(r"=>\s+(/\S+)", ldd)
missing = []
for lib in libs:
    owner = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
    if owner.returncode != 0:  # /lib -> /usr/lib merged paths
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True, text=True)
    pkgs = {x.strip().split(":")[0] for x in owner.stdout.split(": ")[0].split(",")} if owner.returncode == 0 else set()
    if not pkgs & closure:
        missing.append(f"{lib} ({', '.join(sorted(pkgs)) or 'no package'})")
ok(libs and not missing, f"the runtime packages provide all {len(libs)} libraries the binary loads"
   + (f"; missing: {missing}" if missing else ""))

# ---- 4. README "Container image" with the image's settings ----------------------------------------------------
block = readme_block(SRC, "container")
if block is None:
    fatal("README has no block 'container'")
if os.geteuid() != 0:
    print("NOTE: not root: the README block cannot be played with the image's uid")
    finish()
image_tag, volumes, daemon_port, daemon_env, daemon_proc, port_map = None, {}, None, None, None, {}
worker_proc = None
for line in block.splitlines():
    cmd = line.split(" #")[0].strip()
    if not cmd:
        continue
    w = shlex.split(cmd)
    if w[:2] == ["docker", "build"]:
        ok("-t" in w and w[-1] == ".", f"README: {cmd}: the build stage above, tagged {w[w.index('-t') + 1]}")
        image_tag = w[w.index("-t") + 1]
    elif w[:3] == ["docker", "volume", "create"]:
        opts = dict(o.split("=", 1) for o in w[w.index("--opt") + 1:] if "=" in o and not o.startswith("-"))
        o = dict(kv.split("=", 1) for kv in opts.get("o", "").split(",") if "=" in kv)
        ok(opts.get("type") == "tmpfs", f"README: the volume is a tmpfs ({opts.get('type')})")
        name = w[-1]
        d = os.path.join(TMP, "volume-" + name)
        os.mkdir(d)
        os.chown(d, int(o.get("uid", 0)), int(o.get("gid", 0)))
        os.chmod(d, int(o.get("mode", "1777"), 8))
        size = o.get("size", "")
        volumes[name] = (d, int(size[:-1]) * {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[size[-1].lower()] if size else None)
        ok(int(o.get("gid", -1)) == GID_ and int(o.get("mode", "0"), 8) & 0o2070 == 0o2070,
           f"README: volume {name}: setgid, group-writable, group {o.get('gid')} = the image's gid")
    elif w[:2] == ["docker", "run"]:
        i, opts = 2, {"-e": [], "-v": [], "-p": [], "--group-add": []}
        while i < len(w) and w[i].startswith("-"):
            if w[i] in ("-d", "--rm"):
                i += 1
                continue
            key, _, val = w[i].partition("=")
            if not val:
                val = w[i + 1]
                i += 1
            opts.setdefault(key, []).append(val) if key in opts else opts.__setitem__(key, val)
            i += 1
        image, args = w[i], w[i + 1:]
        mounts = {}
        for v in opts["-v"]:
            src, _, dst = v.partition(":")
            if src not in volumes:
                fatal(f"README: {cmd}: volume {src} was not created above")
            mounts[dst.rstrip("/")] = volumes[src][0]

        def mapped(value):
            for dst, d in mounts.items():
                if value == dst or value.startswith(dst + "/"):
                    return d + value[len(dst):]
            return value

        run_env = {"PATH": "/usr/bin:/bin"}
        groups = [int(g) for g in opts["--group-add"]]
        if image == image_tag:
            run_env.update(IMAGE_ENV)
            run_env.update(dict(e.split("=", 1) for e in opts["-e"]))
            host, _, cport = opts["-p"][0].rpartition(":") if opts["-p"] else ("", "", "")
            ok(cport == run_env["SIPMETRICSD_LISTEN"].rpartition(":")[2],
               f"README: -p {opts['-p']} publishes the port sipmetricsd listens on")
            seg = run_env["SIPMETRICS_SEGMENT"]
            ok(mapped(seg) != seg, f"README: the segment {seg} is on the shared volume")
            run_env["SIPMETRICS_SEGMENT"] = mapped(seg)
            for attempt in range(3):
                lp = free_port()
                run_env["SIPMETRICSD_LISTEN"] = f"127.0.0.1:{lp}"
                daemon_proc = start(["setpriv", f"--reuid={UID_}", f"--regid={GID_}",
                                     "--groups=" + ",".join(map(str, [GID_] + groups)), "--no-new-privs", "--",
                                     BINARY] + args, run_env, os.path.join(TMP, "daemon.log"), TMP)
                if wait_http(f"http://127.0.0.1:{lp}/healthz", daemon_proc) and listeners(lp) == 1:
                    break
                stop(daemon_proc)
            else:
                show_logs(TMP, ["daemon.log"])
                fatal("the image's sipmetricsd did not start")
            daemon_port, daemon_env = lp, dict(run_env)
            port_map[host.rpartition(":")[2] if host else cport] = lp
            ok(True, f"README: {cmd}: sipmetricsd as uid {UID_}:{GID_} with the image's ENV")
        else:
            run_env.update({k: mapped(v) for k, v in (e.split("=", 1) for e in opts["-e"])})
            ok(GID_ in groups, f"README: the SIP container gets the image's group ({opts['--group-add']})")
            worker_proc = start(["setpriv", "--reuid=4343", "--regid=4343",
                                 "--groups=" + ",".join(map(str, groups or [4343])), "--no-new-privs", "--",
                                 "sh", "-c", 'umask 022; exec "$@"', "sh",
                                 DEMO, "--workers", "2", "--cps", "20", "--seconds", "20"],
                                run_env, os.path.join(TMP, "worker.log"), TMP)
            ok(True, f"README: {cmd}: the demo as the SIP container (uid 4343, --group-add)")
    elif w[0] == "curl":
        m = re.search(r"http://127\.0\.0\.1:(\d+)", cmd)
        real = cmd.replace(m.group(0), f"http://127.0.0.1:{port_map.get(m.group(1), 0)}") if m else cmd
        r = subprocess.run(["bash", "-c", real], capture_output=True, text=True, timeout=20)
        ok(m and m.group(1) in port_map and r.returncode == 0, f"README: {cmd} -> {r.stdout.strip()[:20]!r}")
    else:
        ok(False, f"README block 'container' has a line this test cannot play: {line}")

if daemon_proc is None or worker_proc is None:
    fatal("the README block starts no sipmetricsd or no SIP container")
vals = {}
deadline = time.time() + 15
while time.time() < deadline:
    vals = metrics(daemon_port)
    if vals.get("sipmetrics_writers", 0) >= 1 and family_sum(vals, "sip_invite_result_total") > 0:
        break
    time.sleep(0.2)
ok(vals.get("sipmetrics_writers", 0) >= 1 and family_sum(vals, "sip_invite_result_total") > 0,
   f"sipmetricsd serves the SIP container's counts ({vals.get('sipmetrics_writers', 0):.0f} writers, "
   f"{family_sum(vals, 'sip_invite_result_total'):.0f} INVITE responses)")
seg_path = daemon_env["SIPMETRICS_SEGMENT"]
st = os.stat(seg_path)
ok((st.st_mode & 0o777) == 0o660 and st.st_gid == GID_, f"segment mode {oct(st.st_mode & 0o777)}, gid {st.st_gid}")
vol_size = next((s for d, s in volumes.values() if seg_path.startswith(d + "/")), None)
ok(vol_size and st.st_size <= vol_size, f"segment ({st.st_size >> 20} MiB) fits the volume's size ({(vol_size or 0) >> 20} MiB)")
hc_env = dict(daemon_env)
r = subprocess.run(["timeout", "10", "/bin/sh", "-c", hc_cmd], env=hc_env, capture_output=True, text=True)
ok(r.returncode == 0, f"HEALTHCHECK passes while sipmetricsd runs (exit {r.returncode})")
stop(worker_proc)
stop(daemon_proc)
r = subprocess.run(["timeout", "10", "/bin/sh", "-c", hc_cmd], env=hc_env, capture_output=True, text=True)
ok(r.returncode != 0, f"HEALTHCHECK fails once sipmetricsd is stopped (exit {r.returncode})")

print(f"test took {time.time() - START:.0f} s")
if deploylib.failed:
    show_logs(TMP, LOGS)
finish()
