#!/usr/bin/python3
"""binding_test.py: `import sipmetrics` against the real sipmetricsd.

Python programs write counters, gauges, summaries, histograms, registry-style series and every
typed SIP helper into a file-path segment; the test reads them back from the daemon's /metrics (on a free
loopback port) and requires exact values, label sets and family bounds. Handles resolved before
os.fork() count exactly in the children; bad arguments raise TypeError or ValueError and register
nothing; a segment path in a missing directory runs detached without raising.

Environment (set by ctest, bindings/python/CMakeLists.txt):
  SIPMETRICSD                  the daemon binary
  SIPMETRICS_PYTHON_PATH       the directory holding the built module
  SIPMETRICS_EXPECTED_VERSION  the project version (sipmetrics.__version__)
"""
import ast
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import urllib.request
import warnings

DAEMON = os.environ["SIPMETRICSD"]
MODULE_DIR = os.environ["SIPMETRICS_PYTHON_PATH"]
sys.path.insert(0, MODULE_DIR)
import sipmetrics  # noqa: E402  (after the path is known)

LIFETIME = 200  # seconds any process started here may live (`timeout` enforces it)
HERE = os.path.dirname(os.path.abspath(__file__))


# ---- Processes and the daemon ----------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listeners(port):
    """Listening TCP sockets on `port` (cpp-httplib binds with SO_REUSEPORT: a shared port is
    possible, and would mix two daemons' answers)."""
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 3 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                n += 1
    return n


def stop(proc):
    """SIGTERM, up to 5 s, then SIGKILL to the process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(5)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            stream.close()


def parse_exposition(text):
    """{'name{labels}': float} for every sample line, {'name': help} for every HELP line."""
    samples, helps = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            helps[name] = help_text
        elif line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples, helps


class Daemon:
    """sipmetricsd on a free loopback port and a file-path segment in `tmp`."""

    def __init__(self, tmp):
        self.segment = os.path.join(tmp, "segment")
        self.log = open(os.path.join(tmp, "daemon.log"), "w")
        for _attempt in range(3):
            self.port = free_port()
            self.proc = subprocess.Popen(
                ["timeout", "-k", "5", str(LIFETIME), DAEMON, "--segment", self.segment,
                 "--listen", f"127.0.0.1:{self.port}", "--housekeeping-interval-ms", "50"],
                stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz",
                                                timeout=2) as r:
                        if r.status == 200 and listeners(self.port) == 1:
                            return
                        break
                except OSError:
                    time.sleep(0.1)
            stop(self.proc)
        raise RuntimeError("sipmetricsd did not start; see " + self.log.name)

    def scrape(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return parse_exposition(r.read().decode())

    def await_values(self, test, want, seconds=10):
        """Polls /metrics until every key of `want` has its value; fails the test otherwise."""
        deadline = time.monotonic() + seconds
        while True:
            samples, helps = self.scrape()
            wrong = {k: (samples.get(k), v) for k, v in want.items() if samples.get(k) != v}
            if not wrong or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        test.assertEqual(wrong, {}, "key: (on /metrics, wanted)")
        return samples, helps

    def close(self):
        stop(self.proc)
        self.log.close()


WRITER_PRELUDE = "import math, os, sys, json, sipmetrics\n"
WRITER_READY = "\nprint('ready', flush=True)\nsys.stdin.read()\n"


class Writer:
    """A Python program writing through the module: it prints "ready" when its writes are done,
    then lives (its gauges with it) until its stdin is closed."""

    def __init__(self, tmp, segment, body, args=()):
        path = os.path.join(tmp, f"writer_{time.monotonic_ns()}.py")
        with open(path, "w") as f:
            f.write(WRITER_PRELUDE + textwrap.dedent(body) + WRITER_READY)
        env = dict(os.environ, SIPMETRICS_SEGMENT=segment, PYTHONPATH=MODULE_DIR)
        self.proc = subprocess.Popen(
            ["timeout", "-k", "5", str(LIFETIME), sys.executable, path, *map(str, args)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            start_new_session=True)
        self.output = b""
        deadline = time.monotonic() + 60
        while b"ready\n" not in self.output:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            chunk = os.read(self.proc.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                stop(self.proc)
                raise AssertionError("the writer never got ready:\n" + self.proc.stderr.read().decode())
            self.output += chunk

    def finish(self):
        """Closes its stdin; returns (exit status, stderr)."""
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            stop(self.proc)
        err = self.proc.stderr.read().decode()
        stop(self.proc)
        return self.proc.returncode, err


def family(samples, name):
    """The samples of one counter or gauge family: keys `name` or `name{...}`."""
    return {k: v for k, v in samples.items() if k == name or k.startswith(name + "{")}


# ---- Through the daemon ----------------------------------------------------------------------

class ExpositionTest(unittest.TestCase):
    """Series written by Python programs, exactly as /metrics serves them."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sipmetrics-python-")
        cls.daemon = Daemon(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, body):
        w = Writer(self.tmp, self.daemon.segment, body)
        self.addCleanup(lambda: stop(w.proc))
        return w

    def test_handles(self):
        w = self.write("""
            c = sipmetrics.Client()
            assert c.attached
            calls = c.counter("py_calls_total", "Calls.", {"transport": "sip", "status": "ok"})
            busy = c.counter("py_calls_total", "Calls.", [("status", "busy"), ("transport", "sip")])
            for _ in range(1000):
                calls.inc()
            calls.add(5)
            calls.add(0)
            calls.add(2**40)
            busy.inc()
            active = c.gauge("py_active", "Active.", {"transport": "sip"})
            active.inc(); active.inc(); active.inc(); active.dec(); active.add(2.5)
            level = c.gauge("py_level", "Level.")
            level.set(7); level.add(-2)
            peak = c.gauge("py_peak", "Peak.", mode=sipmetrics.GAUGE_MAX)
            peak.set(3); peak.set(11)
            lat = c.summary("py_latency_ms", "Latency.", {"leg": "a"})
            for v in range(1, 101):
                lat.observe(v)
            lat.observe(0.5)
            lat.observe(float("nan"))  # ignored
            print(json.dumps([h.status for h in (calls, busy, active, level, peak, lat)]))
        """)
        samples, helps = self.daemon.await_values(self, {
            'py_calls_total{status="ok",transport="sip"}': 1005 + 2**40,
            'py_calls_total{status="busy",transport="sip"}': 1,
            'py_active{transport="sip"}': 4.5,
            "py_level": 5,
            "py_peak": 11,
            'py_latency_ms_count{leg="a"}': 101,
            'py_latency_ms_sum{leg="a"}': 5050.5,
        })
        self.assertEqual(json.loads(w.output.split(b"\n")[0]), ["ok"] * 6)
        self.assertEqual(len(family(samples, "py_calls_total")), 2)
        self.assertEqual(helps["py_calls_total"], "Calls.")
        self.assertEqual(helps["py_latency_ms"], "Latency.")
        self.assertEqual(w.finish()[0], 0)
        # The writer is gone: its counts stay, its sum-mode gauges leave with it.
        self.daemon.await_values(self, {'py_calls_total{status="ok",transport="sip"}': 1005 + 2**40,
                                        'py_active{transport="sip"}': 0, "py_level": 0,
                                        'py_latency_ms_count{leg="a"}': 101})

    def test_histograms(self):
        """Every bucket, _sum and _count exactly; values outside [0, +Inf) in a bucket and _count,
        never in _sum; the same series from a second registration."""
        w = self.write("""
            c = sipmetrics.Client()
            pdd = c.histogram("py_pdd_hist_ms", "Post-dial delay, ms.", {"direction": "inbound"},
                              sipmetrics.SIP_LATENCY_BUCKETS_MS)
            for v in (180, 2350.5, 3000, 40000):  # 3000 is a bound: le="3000" holds it
                pdd.observe(v)
            small = c.histogram("py_small_hist", None, None, [1, 5, 10])
            for v in (0.5, 1, 3, 7, 20):
                small.observe(v)
            for v in (-1, float("-inf"), float("nan"), float("inf")):
                small.observe(v)
            again = c.histogram(name="py_small_hist", help=None, labels=[], bounds=(1.0, 5, 10))
            again.observe(5)
            print(json.dumps([pdd.status, pdd.valid, small.status, again.status, again.valid]))
        """)
        pdd = {5: 0, 10: 0, 25: 0, 50: 0, 100: 0, 250: 1, 500: 1, 1000: 1, 2000: 1, 3000: 3,
               4000: 3, 8000: 3, 16000: 3, 32000: 3, "+Inf": 4}
        want = {f'py_pdd_hist_ms_bucket{{direction="inbound",le="{le}"}}': v for le, v in pdd.items()}
        want.update({'py_pdd_hist_ms_count{direction="inbound"}': 4,
                     'py_pdd_hist_ms_sum{direction="inbound"}': 45530.5})
        small = {'py_small_hist_bucket{le="1"}': 4, 'py_small_hist_bucket{le="5"}': 6,
                 'py_small_hist_bucket{le="10"}': 7, 'py_small_hist_bucket{le="+Inf"}': 10,
                 "py_small_hist_count": 10, "py_small_hist_sum": 36.5}
        samples, helps = self.daemon.await_values(self, {**want, **small})
        self.assertEqual(json.loads(w.output.split(b"\n")[0]), ["ok", True, "ok", "ok", True])
        self.assertEqual(family(samples, "py_pdd_hist_ms_bucket"),
                         {k: v for k, v in want.items() if "_bucket" in k})
        self.assertEqual(family(samples, "py_small_hist_bucket"),
                         {k: v for k, v in small.items() if "_bucket" in k})
        self.assertEqual(helps["py_pdd_hist_ms"], "Post-dial delay, ms.")
        self.assertEqual(w.finish()[0], 0)
        # The writer is gone: a histogram's counts stay, as a counter's do.
        self.daemon.await_values(self, {**want, **small})

    def test_threads(self):
        """Python threads share handles; each writes its own lane, and every update lands."""
        w = self.write("""
            import threading
            c = sipmetrics.Client()
            total = c.counter("py_threads_total", "Threads.")
            ms = c.summary("py_threads_ms", "Threads.")
            def work(k):
                for _ in range(50000):
                    total.inc()
                ms.observe(k)
            threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 7)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        """)
        self.daemon.await_values(self, {"py_threads_total": 300000, "py_threads_ms_count": 6,
                                        "py_threads_ms_sum": 21})
        self.assertEqual(w.finish()[0], 0)

    def test_registry_calls(self):
        w = self.write("""
            c = sipmetrics.Client()
            st = [c.register_labels("py_reg_total", ["transport"])]
            for _ in range(3):
                st.append(c.inc_counter("py_reg_total", "Reg.", {"transport": "sip"}))
            st.append(c.add_counter("py_reg_total", "Reg.", {"transport": "sip"}, 4))
            # A key outside the whitelist: dropped by the daemon, the series merged and counted.
            st.append(c.inc_counter("py_reg_total", "Reg.", {"transport": "sip", "callid": "x1"}))
            st.append(c.inc_counter("py_reg_plain_total"))
            st.append(c.set_gauge("py_reg_gauge", "G.", None, 9))
            st.append(c.add_gauge("py_reg_gauge", "G.", None, -2.5))
            st.append(c.observe("py_reg_ms", "Ms.", 10))
            st.append(c.observe_n("py_reg_ms", "Ms.", 20, 64))
            st.append(c.observe_async("py_reg_ms", "Ms.", 30.5))
            assert c.async_dropped_count() == 0
            print(json.dumps(st))
        """)
        samples, _ = self.daemon.await_values(self, {
            'py_reg_total{transport="sip"}': 8,
            "py_reg_plain_total": 1,
            "py_reg_gauge": 6.5,
            "py_reg_ms_count": 3,
            "py_reg_ms_sum": 60.5,
            "voiceserver_metrics_unknown_label_total": 1,
        })
        self.assertEqual(json.loads(w.output.split(b"\n")[0]), ["ok"] * 12)
        self.assertEqual(family(samples, "py_reg_total"), {'py_reg_total{transport="sip"}': 8})
        self.assertEqual(w.finish()[0], 0)

    def test_sip_helpers(self):
        w = self.write("""
            s = sipmetrics
            assert s.prepare() == "ok"
            s.invite_result(s.DIRECTION_INBOUND, 486)
            s.invite_result("inbound", 486)
            s.invite_result("outbound", 999)       # not a status code: "other"
            s.invite_result("inbound", 700)
            s.invite_result("inbound", 2**70)      # beyond a C int: still "other"
            s.invite_result("inbound", 100)
            s.invite_result("inbound", 699)
            s.bye("inbound", "remote", "user-hangup")
            s.bye_outbound(s.BYE_BY_LOCAL, s.BYE_REASON_TIMER_EXPIRED)
            s.transaction_timeout("INVITE")
            s.transaction_timeout("FOO")           # unknown method: "other"
            s.transaction_timeout("invite")        # case-sensitive: "other"
            s.transaction_timeout(s.METHOD_PRACK)
            s.session_timer_refresh("422-bumped")
            s.session_timer_refresh(s.REFRESH_DIALOG_GONE_481)
            s.dtls_handshake("fingerprint-mismatch")
            s.stir_verify("soft-fail")
            s.observe_call_qos(120, 4.5, 0.25, 4.0)
            s.observe_call_qos(0, -1.0, 0.0, float("nan"))  # "no data" each: all skipped
            s.voice_attach("realtime", True)
            s.voice_attach("cascaded", False)
            s.voice_attach_with_result("cascaded", "config_error")
            s.voice_attach_mode_fallback("pipeline", "realtime")
            s.voice_attach_mode_fallback("realtime", "pipeline")  # not a known fallback: dropped
            s.voice_attach_native(True)
            s.voice_attach_native(False)
            s.voice_attach_native(0)
            for _ in range(3):
                s.call_started("sip")
            s.call_started(s.TRANSPORT_WEBRTC)
            s.call_ended("sip", "ice-failed")
            s.asr_error("webrtc")
            s.tts_error("sip")
            s.barge_in("webrtc"); s.barge_in("webrtc")
            s.dialog_reconnect("webrtc", "fail")
            s.observe_e2e_first_byte(640)
            s.observe_e2e_first_byte(0)            # skipped
            s.observe_e2e_first_byte(-2**70)       # skipped
            s.observe_llm_first_byte(120)
            s.observe_tts_first_byte(95); s.observe_tts_first_byte(95)
            # The same helpers on an explicit client of the same segment (sipmetrics_sip_*_on).
            c = s.Client(os.environ["SIPMETRICS_SEGMENT"], "py-explicit")
            assert c.prepare() == "ok"
            c.invite_result("inbound", 503)
            c.call_ended("webrtc", "ok")
            c.transaction_timeout("BYE")
        """)
        want_nonzero = {
            'sip_invite_result_total{code_class="4xx",direction="inbound"}': 2,
            'sip_invite_result_total{code_class="other",direction="outbound"}': 1,
            'sip_invite_result_total{code_class="other",direction="inbound"}': 2,
            'sip_invite_result_total{code_class="1xx",direction="inbound"}': 1,
            'sip_invite_result_total{code_class="6xx",direction="inbound"}': 1,
            'sip_invite_result_total{code_class="5xx",direction="inbound"}': 1,
            'sip_bye_total{by="remote",direction="inbound",reason_class="user-hangup"}': 1,
            'sip_bye_total{by="local",direction="outbound",reason_class="timer-expired"}': 1,
            'sip_transaction_timeout_total{method="INVITE"}': 1,
            'sip_transaction_timeout_total{method="other"}': 2,
            'sip_transaction_timeout_total{method="PRACK"}': 1,
            'sip_transaction_timeout_total{method="BYE"}': 1,
            'sip_session_timer_refresh_total{result="422-bumped"}': 1,
            'sip_session_timer_refresh_total{result="481"}': 1,
            'sip_dtls_handshake_total{result="fingerprint-mismatch"}': 1,
            'sip_stir_verify_total{result="soft-fail"}': 1,
            'sip_voice_attach_total{mode="realtime",result="ok"}': 1,
            'sip_voice_attach_total{mode="cascaded",result="config_error"}': 2,
            'sip_voice_attach_mode_fallback_total{from="pipeline",to="realtime"}': 1,
            'sip_voice_attach_native_total{result="ok"}': 1,
            'sip_voice_attach_native_total{result="err"}': 2,
            'voiceserver_active_calls{transport="sip"}': 2,
            'voiceserver_calls_total{status="ice-failed",transport="sip"}': 1,
            'voiceserver_calls_total{status="ok",transport="webrtc"}': 1,
            'voiceserver_asr_errors_total{transport="webrtc"}': 1,
            'voiceserver_tts_errors_total{transport="sip"}': 1,
            'voiceserver_barge_in_total{transport="webrtc"}': 2,
            'voiceserver_dialog_reconnect_total{outcome="fail",transport="webrtc"}': 1,
        }
        summaries = {
            "sip_call_rtt_ms": (1, 120), "sip_call_jitter_ms": (1, 4.5),
            "sip_call_loss_fraction": (1, 0.25), "sip_call_mos_estimate": (1, 4.0),
            "voiceserver_e2e_first_byte_ms": (1, 640), "voiceserver_llm_first_byte_ms": (1, 120),
            "voiceserver_tts_first_byte_ms": (2, 190),
        }
        want = dict(want_nonzero)
        for name, (count, total) in summaries.items():
            want[name + "_count"], want[name + "_sum"] = count, total
        samples, _ = self.daemon.await_values(self, want)
        # Every other series of the helpers' families is there, at zero: exactly the bounds.
        bounds = {
            "sip_invite_result_total": 14, "sip_bye_total": 16, "sip_transaction_timeout_total": 15,
            "sip_session_timer_refresh_total": 5, "sip_dtls_handshake_total": 4,
            "sip_stir_verify_total": 4, "sip_voice_attach_total": 4,
            "sip_voice_attach_mode_fallback_total": 1, "sip_voice_attach_native_total": 2,
            "voiceserver_active_calls": 2, "voiceserver_calls_total": 8,
            "voiceserver_asr_errors_total": 2, "voiceserver_tts_errors_total": 2,
            "voiceserver_barge_in_total": 2, "voiceserver_dialog_reconnect_total": 4,
        }
        for name, bound in bounds.items():
            series = family(samples, name)
            self.assertEqual(len(series), bound, name)
            for key, value in series.items():
                self.assertEqual(value, want_nonzero.get(key, 0), key)
        self.assertEqual(w.finish()[0], 0)

    def test_refused_series(self):
        c = sipmetrics.Client(self.daemon.segment, "py-refusals")
        self.assertTrue(c.attached)
        with self.assertWarnsRegex(RuntimeWarning, "'py bad name' refused"):
            bad = c.counter("py bad name")
        self.assertEqual((bad.status, bad.valid), ("refused", False))
        bad.inc()  # a no-op handle
        self.assertEqual(c.gauge("py_mode_gauge", mode="max").status, "ok")
        with self.assertWarns(RuntimeWarning):
            other_mode = c.gauge("py_mode_gauge", mode="min")
        self.assertEqual(other_mode.status, "refused")
        self.assertEqual(c.inc_counter("py bad name"), "refused")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with self.assertRaises(RuntimeWarning):
                c.summary("py bad summary")
        with self.assertWarnsRegex(RuntimeWarning, "histogram 'py bad hist' refused"):
            bad_hist = c.histogram("py bad hist", None, None, [1])
        self.assertEqual((bad_hist.status, bad_hist.valid), ("refused", False))
        bad_hist.observe(1)  # a no-op handle
        self.assertEqual(c.histogram("py_bounds_hist", None, None, [1, 2]).status, "ok")
        with self.assertWarns(RuntimeWarning):
            other_bounds = c.histogram("py_bounds_hist", None, None, [1, 2, 3])
        self.assertEqual((other_bounds.status, other_bounds.valid), ("refused", False))
        samples, _ = self.daemon.await_values(self, {
            'sipmetrics_refusals_total{reason="invalid_name"}': 4,
            'sipmetrics_refusals_total{reason="type_conflict"}': 2,
            'py_bounds_hist_bucket{le="+Inf"}': 0,
        })
        self.assertFalse([k for k in samples if k.startswith("py bad")])

    def test_bad_arguments_raise_and_register_nothing(self):
        c = sipmetrics.Client(self.daemon.segment, "py-bad-arguments")
        counter = c.counter("py_good_total")
        gauge = c.gauge("py_good_gauge")
        summary = c.summary("py_good_ms")
        hist = c.histogram("py_good_hist_ms", None, None, [1])
        s = sipmetrics
        cases = [
            (TypeError, "name must be a str", lambda: c.counter(7)),
            (TypeError, "help must be a str or None", lambda: c.counter("py_bad1_total", 5)),
            (TypeError, "a label value must be a str", lambda: c.counter("py_bad2_total", None, {"a": 1})),
            (TypeError, "a label key must be a str", lambda: c.counter("py_bad3_total", None, {1: "a"})),
            (TypeError, "labels must be None, a dict", lambda: c.counter("py_bad4_total", None, "a=b")),
            (TypeError, r"\(key, value\) pairs", lambda: c.counter("py_bad5_total", None, [("a",)])),
            (ValueError, "at most 16 labels",
             lambda: c.counter("py_bad6_total", None, {f"k{i}": "v" for i in range(17)})),
            (ValueError, "NUL", lambda: c.counter("py_bad7\0_total")),
            (ValueError, "NUL", lambda: c.counter("py_bad8_total", None, {"a": "b\0c"})),
            (ValueError, "mode must be one of 'sum', 'max', 'min', 'last'",
             lambda: c.gauge("py_bad9", mode="avg")),
            (TypeError, "mode must be a str", lambda: c.gauge("py_bad10", mode=1)),
            (ValueError, "window_samples", lambda: c.summary("py_bad11_ms", window_samples=-1)),
            (TypeError, "keys must be a sequence of str, not a str",
             lambda: c.register_labels("py_bad12_total", "transport")),
            (TypeError, "a key must be a str", lambda: c.register_labels("py_bad13_total", [1])),
            (ValueError, "counters never go down", lambda: counter.add(-1)),
            (ValueError, "below 2\\*\\*64", lambda: counter.add(2**64)),
            (TypeError, "n must be an int, not float", lambda: counter.add(1.5)),
            (TypeError, "n must be an int, not str", lambda: counter.add("1")),
            (TypeError, "takes no arguments", lambda: counter.inc(1)),
            (TypeError, "d must be an int or a float, not str", lambda: gauge.add("1")),
            (TypeError, "v must be an int or a float, not NoneType", lambda: gauge.set(None)),
            (TypeError, "v must be an int or a float, not list", lambda: summary.observe([1])),
            (TypeError, "takes 2 positional arguments \\(1 given\\)", lambda: s.invite_result("inbound")),
            (TypeError, "keyword arguments", lambda: s.invite_result(direction="inbound", code=200)),
            (ValueError, "direction must be one of 'inbound', 'outbound', not 'sideways'",
             lambda: s.invite_result("sideways", 200)),
            (TypeError, "direction must be a str", lambda: s.invite_result(0, 200)),
            (TypeError, "code must be an int, not float", lambda: s.invite_result("inbound", 200.0)),
            (ValueError, "reason must be one of", lambda: s.bye("inbound", "local", "hangup")),
            (ValueError, "by must be one of 'local', 'remote'", lambda: s.bye_outbound("me", "normal")),
            (TypeError, "method must be a str", lambda: s.transaction_timeout(b"INVITE")),
            (ValueError, "result must be one of", lambda: s.session_timer_refresh("422")),
            (ValueError, "result must be one of", lambda: s.dtls_handshake("OK")),
            (ValueError, "result must be one of", lambda: s.stir_verify("")),
            (TypeError, "rtt_ms must be an int", lambda: s.observe_call_qos(1.5, 1, 1, 1)),
            (ValueError, "rtt_ms must be at most", lambda: s.observe_call_qos(2**32, 1, 1, 1)),
            (TypeError, "mos_estimate must be an int or a float", lambda: s.observe_call_qos(1, 1, 1, "4")),
            (TypeError, "ok must be a bool, not str", lambda: s.voice_attach("realtime", "config_error")),
            (ValueError, "mode must be one of 'cascaded', 'realtime'", lambda: s.voice_attach("pipeline", True)),
            (ValueError, "result must be one of 'ok', 'config_error'",
             lambda: s.voice_attach_with_result("realtime", "error")),
            (ValueError, "mode must be one of 'pipeline', 'realtime'",
             lambda: s.voice_attach_mode_fallback("pipeline", "cascaded")),
            (TypeError, "ok must be a bool", lambda: s.voice_attach_native(None)),
            (ValueError, "transport must be one of 'sip', 'webrtc'", lambda: s.call_started("SIP")),
            (ValueError, "status must be one of", lambda: s.call_ended("sip", "busy")),
            (ValueError, "transport must be one of", lambda: s.asr_error("pstn")),
            (ValueError, "transport must be one of", lambda: s.tts_error("pstn")),
            (ValueError, "transport must be one of", lambda: c.barge_in("pstn")),
            (ValueError, "outcome must be one of 'ok', 'fail'", lambda: s.dialog_reconnect("sip", "error")),
            (TypeError, "ms must be an int, not float", lambda: s.observe_e2e_first_byte(1.5)),
            (ValueError, "ms must be at most", lambda: s.observe_llm_first_byte(2**31)),
            (TypeError, "takes 1 positional argument \\(0 given\\)", lambda: c.observe_tts_first_byte()),
            (TypeError, "takes 1 to 3 positional arguments", lambda: c.inc_counter()),
            (ValueError, "n must be in 0..2\\*\\*63-1", lambda: c.add_counter("py_bad14_total", None, None, -3)),
            (TypeError, "v must be an int or a float", lambda: c.set_gauge("py_bad15", None, None, "9")),
            (TypeError, "labels must be None", lambda: c.add_gauge("py_bad16", None, 5, 1)),
            (TypeError, "takes 3 positional arguments", lambda: c.observe("py_bad17_ms", None)),
            (TypeError, "max_samples must be an int", lambda: c.observe_n("py_bad18_ms", None, 1, 2.0)),
            (TypeError, "PathLike", lambda: s.Client(5)),
            (TypeError, "writer must be a str or None", lambda: s.Client(self.daemon.segment, 5)),
            (TypeError, "cannot create", lambda: s.Counter()),
            (TypeError, "cannot create", lambda: s.Gauge()),
            (TypeError, "cannot create", lambda: s.Summary()),
            (TypeError, "cannot create", lambda: s.Histogram()),
            (TypeError, "required argument 'bounds'", lambda: c.histogram("py_bad19_ms", None, None)),
            (TypeError, "bounds must be a sequence of numbers, not str",
             lambda: c.histogram("py_bad20_ms", None, None, "1,2")),
            (TypeError, "bounds must be a sequence of numbers", lambda: c.histogram("py_bad21_ms", None, None, 5)),
            (TypeError, "a bound must be an int or a float, not str",
             lambda: c.histogram("py_bad22_ms", None, None, [1, "2"])),
            (ValueError, "at most 64 bounds, not 65", lambda: c.histogram("py_bad23_ms", None, None, range(65))),
            (ValueError, "bounds must be 1 to 64 finite, non-negative, strictly increasing numbers, not \\[\\]",
             lambda: c.histogram("py_bad24_ms", None, None, [])),
            (ValueError, "strictly increasing numbers, not \\[2, 1\\]",
             lambda: c.histogram("py_bad25_ms", None, None, [2, 1])),
            (ValueError, "strictly increasing", lambda: c.histogram("py_bad26_ms", None, None, (1, 1))),
            (ValueError, "strictly increasing", lambda: c.histogram("py_bad27_ms", None, None, [-1, 1])),
            (ValueError, "strictly increasing",
             lambda: c.histogram("py_bad28_ms", None, None, [1, float("nan")])),
            (ValueError, "strictly increasing",
             lambda: c.histogram("py_bad29_ms", None, None, [1, float("inf")])),
            (ValueError, "at most 16 labels",
             lambda: c.histogram("py_bad30_ms", None, {f"k{i}": "v" for i in range(17)}, [1])),
            (TypeError, "name must be a str", lambda: c.histogram(None, None, None, [1])),
            (TypeError, "v must be an int or a float, not str", lambda: hist.observe("1")),
            (TypeError, "takes exactly one argument", lambda: hist.observe()),
        ]
        for exc, message, call in cases:
            with self.subTest(message=message):
                with self.assertRaisesRegex(exc, message):
                    call()
        counter.inc()  # the process still writes: after all the above, the good handles count
        hist.observe(0.5)
        samples, _ = self.daemon.await_values(self, {"py_good_total": 1, "py_good_hist_ms_count": 1,
                                                     'py_good_hist_ms_bucket{le="1"}': 1})
        self.assertFalse([k for k in samples if k.startswith("py_bad")], "a bad call registered")


class ForkTest(unittest.TestCase):
    """The Kamailio pattern: resolve in the parent, os.fork() workers, count in the children."""

    N, SAMPLES = 100000, 1000

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sipmetrics-python-fork-")
        self.daemon = Daemon(self.tmp)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self.daemon.close)

    def test_children_counts_exact(self):
        w = Writer(self.tmp, self.daemon.segment, """
            import traceback
            n, samples = int(sys.argv[1]), int(sys.argv[2])
            c = sipmetrics.Client()
            total = c.counter("py_fork_total", "Fork.", {"transport": "sip"})
            active = c.gauge("py_fork_active", "Fork.")
            peak = c.gauge("py_fork_peak", "Fork.", mode="max")
            ms = c.summary("py_fork_ms", "Fork.")
            hist = c.histogram("py_fork_hist_ms", "Fork.", None, [1, 2])
            assert sipmetrics.prepare() == "ok"
            done_r, done_w = os.pipe()
            alive_r, alive_w = os.pipe()
            for i in range(2):
                if os.fork() == 0:
                    status = 1
                    try:
                        os.close(done_r); os.close(alive_w)
                        for _ in range(n):
                            total.inc()
                        active.add(1)
                        peak.set(10 * (i + 1))
                        for _ in range(samples):
                            ms.observe(i + 1)
                            hist.observe(i + 1)
                        for _ in range(i + 1):
                            sipmetrics.invite_result("inbound", 486)
                        os.write(done_w, b"d")
                        while os.read(alive_r, 1):  # until the parent is gone
                            pass
                        status = 0
                    except BaseException:
                        traceback.print_exc()
                    finally:
                        os._exit(status)
            os.close(done_w); os.close(alive_r)
            got = b""
            while len(got) < 2:
                b = os.read(done_r, 2 - len(got))
                if not b:
                    sys.exit("a child died before it was done")
                got += b
        """, args=(self.N, self.SAMPLES))
        self.addCleanup(lambda: stop(w.proc))
        self.daemon.await_values(self, {
            'py_fork_total{transport="sip"}': 2 * self.N,
            "py_fork_active": 2,
            "py_fork_peak": 20,
            "py_fork_ms_count": 2 * self.SAMPLES,
            "py_fork_ms_sum": 3 * self.SAMPLES,
            'py_fork_hist_ms_bucket{le="1"}': self.SAMPLES,
            'py_fork_hist_ms_bucket{le="2"}': 2 * self.SAMPLES,
            'py_fork_hist_ms_bucket{le="+Inf"}': 2 * self.SAMPLES,
            "py_fork_hist_ms_count": 2 * self.SAMPLES,
            "py_fork_hist_ms_sum": 3 * self.SAMPLES,
            'sip_invite_result_total{code_class="4xx",direction="inbound"}': 3,
            'sip_invite_result_total{code_class="2xx",direction="inbound"}': 0,
            "sipmetrics_writers": 2,  # the children; the parent only resolved
        })
        status, err = w.finish()
        self.assertEqual(status, 0, err)
        # Parent and children gone: the counts are kept, the gauges leave.
        self.daemon.await_values(self, {
            'py_fork_total{transport="sip"}': 2 * self.N,
            "py_fork_ms_count": 2 * self.SAMPLES,
            "py_fork_hist_ms_count": 2 * self.SAMPLES,
            'py_fork_hist_ms_bucket{le="1"}': self.SAMPLES,
            "py_fork_active": 0,
            "sipmetrics_writers": 0,
        })


class DocsExampleTest(unittest.TestCase):
    """docs/python.md's example, run as it is written, shows what the page says it shows."""

    def test_example(self):
        with open(os.path.join(HERE, "..", "..", "..", "docs", "python.md")) as f:
            page = f.read()
        marker = "<!-- python-example: run by bindings/python/tests/binding_test.py -->\n```python\n"
        self.assertIn(marker, page)
        example = page.split(marker, 1)[1].split("\n```", 1)[0]
        tmp = tempfile.mkdtemp(prefix="sipmetrics-python-docs-")
        self.addCleanup(shutil.rmtree, tmp, True)
        daemon = Daemon(tmp)
        self.addCleanup(daemon.close)
        env = dict(os.environ, SIPMETRICS_SEGMENT=daemon.segment, PYTHONPATH=MODULE_DIR)
        r = subprocess.run(["timeout", "-k", "5", "60", sys.executable, "-c", example], env=env,
                           capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        daemon.await_values(self, {
            'myapp_calls_total{status="ok",transport="sip"}': 2,
            "myapp_active_dialogs": 0,
            "myapp_pdd_ms_count": 2,
            "myapp_pdd_ms_sum": 364,
            'myapp_pdd_hist_ms_bucket{le="100"}': 0,
            'myapp_pdd_hist_ms_bucket{le="250"}': 2,
            "myapp_pdd_hist_ms_count": 2,
            "myapp_pdd_hist_ms_sum": 364,
            'sip_invite_result_total{code_class="4xx",direction="inbound"}': 2,
            'sip_transaction_timeout_total{method="OPTIONS"}': 2,
            'sip_bye_total{by="remote",direction="inbound",reason_class="user-hangup"}': 2,
        })


# ---- Without a daemon ------------------------------------------------------------------------

class DetachedTest(unittest.TestCase):
    """A segment path in a missing directory: every call is a no-op, none raises."""

    def test_detached_is_a_no_op(self):
        tmp = tempfile.mkdtemp(prefix="sipmetrics-python-detached-")
        self.addCleanup(shutil.rmtree, tmp, True)
        missing = os.path.join(tmp, "missing", "segment")
        code = WRITER_PRELUDE + textwrap.dedent("""
            s = sipmetrics
            c = s.Client()
            own = s.Client(sys.argv[1] + "-own", "py-detached")
            out = {"attached": [c.attached, own.attached]}
            handles = [c.counter("py_d_total", "D.", {"a": "b"}), c.gauge("py_d", mode="last"),
                       c.summary("py_d_ms"), own.counter("py_d_total")]
            for h in handles[:1] + handles[3:]:
                h.inc(); h.add(5)
            handles[1].add(1); handles[1].set(2); handles[1].inc(); handles[1].dec()
            handles[2].observe(1.5)
            hist = own.histogram("py_d_hist_ms", None, None, s.SIP_LATENCY_BUCKETS_MS)
            hist.observe(1.5); hist.observe(float("nan"))
            out["handles"] = [[h.status, h.valid] for h in handles + [hist]]
            try:
                c.histogram("py_d_hist_ms", None, None, [])
            except ValueError as e:  # arguments are checked before the attachment
                out["bad_bounds"] = str(e)
            out["cold"] = [c.register_labels("py_d_total", ["a"]), c.inc_counter("py_d_total"),
                           c.add_counter("py_d_total", None, None, 2), c.set_gauge("py_g", None, None, 1),
                           c.add_gauge("py_g", None, None, 1), c.observe("py_d_ms", None, 1),
                           c.observe_n("py_d_ms", None, 1, 10), c.observe_async("py_d_ms", None, 1),
                           s.prepare(), own.prepare()]
            out["dropped"] = c.async_dropped_count()
            for cl in (s, own):
                cl.invite_result("inbound", 200); cl.bye("inbound", "local", "normal")
                cl.bye_outbound("local", "normal"); cl.transaction_timeout("INVITE")
                cl.session_timer_refresh("ok"); cl.dtls_handshake("ok"); cl.stir_verify("verified")
                cl.observe_call_qos(1, 1, 0.1, 4); cl.voice_attach("realtime", True)
                cl.voice_attach_with_result("realtime", "ok")
                cl.voice_attach_mode_fallback("pipeline", "realtime"); cl.voice_attach_native(True)
                cl.call_started("sip"); cl.call_ended("sip", "ok"); cl.asr_error("sip")
                cl.tts_error("sip"); cl.barge_in("sip"); cl.dialog_reconnect("sip", "ok")
                cl.observe_e2e_first_byte(1); cl.observe_llm_first_byte(1)
                cl.observe_tts_first_byte(1)
            print(json.dumps(out))
        """)
        env = dict(os.environ, SIPMETRICS_SEGMENT=missing, PYTHONPATH=MODULE_DIR)
        r = subprocess.run(["timeout", "-k", "5", "60", sys.executable, "-c", code, missing],
                           env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["attached"], [False, False])
        self.assertEqual(out["handles"], [["detached", False]] * 5)
        self.assertIn("bounds must be 1 to 64 finite", out["bad_bounds"])
        self.assertEqual(out["cold"], ["detached"] * 10)
        self.assertEqual(out["dropped"], 0)
        self.assertIn(f"'{missing}'", r.stderr)  # the C library's one line per segment
        self.assertIn(f"'{missing}-own'", r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertFalse(os.path.exists(os.path.dirname(missing)))


class ModuleTest(unittest.TestCase):
    """The module's own surface: constants, pure functions, the stubs."""

    def test_constants_are_the_label_strings(self):
        s = sipmetrics
        self.assertEqual((s.DIRECTION_INBOUND, s.BYE_REASON_USER_HANGUP, s.REFRESH_BUMPED_422,
                          s.REFRESH_DIALOG_GONE_481, s.VOICE_ATTACH_CONFIG_ERROR, s.CALL_ICE_FAILED,
                          s.METHOD_INVITE, s.METHOD_OTHER, s.CODE_OTHER, s.GAUGE_LAST),
                         ("inbound", "user-hangup", "422-bumped", "481", "config_error",
                          "ice-failed", "INVITE", "other", "other", "last"))
        self.assertEqual(s.MAX_LABELS, 16)
        self.assertEqual(s.SIP_LATENCY_BUCKETS_MS, (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0,
                                                    2000.0, 3000.0, 4000.0, 8000.0, 16000.0, 32000.0))
        self.assertIs(type(s.SIP_LATENCY_BUCKETS_MS), tuple)
        self.assertTrue(all(type(b) is float for b in s.SIP_LATENCY_BUCKETS_MS))
        self.assertEqual(s.__version__, os.environ["SIPMETRICS_EXPECTED_VERSION"])

    def test_pure_functions(self):
        s = sipmetrics
        self.assertEqual([s.classify_code(c) for c in (100, 199, 486, 699, 700, 99, 0, -1, 999, 2**80)],
                         ["1xx", "1xx", "4xx", "6xx", "other", "other", "other", "other", "other", "other"])
        self.assertEqual([s.classify_method(m) for m in ("INVITE", "PRACK", "INFO", "invite", "FOO", "")],
                         ["INVITE", "PRACK", "INFO", "other", "other", "other"])
        self.assertEqual(s.labels_call("webrtc", "dialog-hangup"),
                         {"transport": "webrtc", "status": "dialog-hangup"})
        self.assertEqual(s.labels_dialog_outcome("sip", "fail"), {"transport": "sip", "outcome": "fail"})
        with self.assertRaisesRegex(TypeError, "code must be an int"):
            s.classify_code("486")
        with self.assertRaisesRegex(ValueError, "status must be one of"):
            s.labels_call("sip", "busy")

    def test_label_strings_built_at_run_time(self):
        """Equal str objects that are not the module's own (the binding remembers the last one
        seen per value) map to their own value, every time."""
        s = sipmetrics
        for _ in range(3):
            hangup, error = "".join(["dialog", "-hangup"]), "".join(["pipeline", "-", "error"])
            self.assertEqual(s.labels_call("sip", hangup)["status"], "dialog-hangup")
            self.assertEqual(s.labels_call("sip", hangup)["status"], "dialog-hangup")
            self.assertEqual(s.labels_call("sip", error)["status"], "pipeline-error")
            self.assertEqual(s.labels_call("".join(["web", "rtc"]), "ok")["transport"], "webrtc")
            with self.assertRaisesRegex(ValueError, "not 'dialog-hangupx'"):
                s.labels_call("sip", hangup + "x")

    def test_global_client_is_one_object(self):
        self.assertIs(sipmetrics.Client(), sipmetrics.Client())

    def test_stubs_match_the_module(self):
        """sipmetrics.pyi declares exactly the module's public names, with the same values."""
        with open(os.path.join(HERE, "..", "sipmetrics.pyi")) as f:
            tree = ast.parse(f.read())
        declared, classes = {}, {}
        for node in tree.body:
            if isinstance(node, ast.AnnAssign):
                declared[node.target.id] = node.value.value if node.value else None
            elif isinstance(node, ast.FunctionDef):
                declared[node.name] = None
            elif isinstance(node, ast.ClassDef):
                declared[node.name] = None
                classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)
                                      and not n.name.startswith("__")}
        public = {n for n in dir(sipmetrics) if not n.startswith("_")} | {"__version__"}
        self.assertEqual(set(declared), public)
        for name, value in declared.items():
            if value is not None and name != "__version__":
                self.assertEqual(getattr(sipmetrics, name), value, name)
        for name, methods in classes.items():
            actual = {n for n in dir(getattr(sipmetrics, name)) if not n.startswith("_")}
            self.assertEqual(methods, actual, name)


if __name__ == "__main__":
    unittest.main()
