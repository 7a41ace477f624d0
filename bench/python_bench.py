#!/usr/bin/python3
"""Per-call cost of the Python binding, against a floor and against prometheus_client.

  /usr/bin/python3 bench/python_bench.py [--module-dir build-py/bindings/python] [--rounds 21]

Each case is timed with timeit in rounds: every round measures every variant once (so a noisy
neighbour slows all of them alike), each measurement calls the statement enough times to last
about --seconds; the figure is the median over the rounds of the time per call. Variants:

  sipmetrics  the binding's call, the handle (or module) in a local variable;
  floor       an empty C function reached the same way: a METH_NOARGS or METH_O method of a
              handle-like object (sipmetrics._Floor), or a METH_FASTCALL module function
              (sipmetrics._floor_fastcall) given the same arguments. It is what CPython charges
              for the call itself (and timeit's loop), so sipmetrics - floor is what the binding
              and the C library add;
  prometheus  prometheus_client (Debian's python3-prometheus-client) in multiprocess mode
              (PROMETHEUS_MULTIPROC_DIR set), the way forked Python workers use it today.

The segment is a file in a temporary directory (SIPMETRICS_SEGMENT) and no daemon runs: summary
samples then take the full-ring path (dropped for the quantiles, counted), as in bench_client's
BM_Summary_Observe; _sum and _count are written either way.
"""
import argparse
import glob
import os
import platform
import shutil
import statistics
import sys
import tempfile
import timeit

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_module_dir(given):
    if given:
        return given
    for build in ("build-py", "build", "build-bench"):
        d = os.path.join(REPO, build, "bindings", "python")
        if glob.glob(os.path.join(d, "sipmetrics.cpython-*.so")):
            return d
    return None  # the installed module, if any


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module-dir", help="directory holding sipmetrics.cpython-*.so")
    ap.add_argument("--rounds", type=int, default=21, help="measurements per variant (median)")
    ap.add_argument("--seconds", type=float, default=0.05, help="length of one measurement")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sipmetrics-python-bench-")
    os.environ["SIPMETRICS_SEGMENT"] = os.path.join(tmp, "segment")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(tmp, "prometheus")
    os.mkdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    module_dir = find_module_dir(args.module_dir)
    if module_dir:
        sys.path.insert(0, module_dir)
    import sipmetrics
    try:
        import prometheus_client
    except ImportError:
        sys.exit("prometheus_client is missing: apt-get install python3-prometheus-client")

    c = sipmetrics.Client()
    if not c.attached:
        sys.exit("the client did not attach to " + os.environ["SIPMETRICS_SEGMENT"])
    ns = {
        "sm": sipmetrics,
        "counter": c.counter("bench_calls_total", "Calls.", {"transport": "sip"}),
        "gauge": c.gauge("bench_active", "Active."),
        "summary": c.summary("bench_pdd_ms", "PDD."),
        "histogram": c.histogram("bench_pdd_hist_ms", "PDD.", None, sipmetrics.SIP_LATENCY_BUCKETS_MS),
        "floor": sipmetrics._Floor(),
        "p_counter": prometheus_client.Counter("bench_calls", "Calls."),
        "p_gauge": prometheus_client.Gauge("bench_active", "Active.", multiprocess_mode="livesum"),
        "p_summary": prometheus_client.Summary("bench_pdd_ms", "PDD."),
        "p_histogram": prometheus_client.Histogram("bench_pdd_hist_ms", "PDD.",
                                                   buckets=sipmetrics.SIP_LATENCY_BUCKETS_MS),
        "p_invite": prometheus_client.Counter("bench_invite_result", "INVITE results.",
                                              ["direction", "code_class"]),
        "p_bye": prometheus_client.Counter("bench_bye", "BYEs.", ["direction", "by", "reason_class"]),
    }
    sipmetrics.prepare()
    setup = "; ".join(f"{k} = ns_{k}" for k in ns)  # locals of timeit's inner function
    globs = {f"ns_{k}": v for k, v in ns.items()}

    cases = [  # name, sipmetrics, floor, prometheus_client
        ("counter.inc()", "counter.inc()", "floor.noargs()", "p_counter.inc()"),
        ("gauge.add(1)", "gauge.add(1)", "floor.one(1)", "p_gauge.inc(1)"),
        ("summary.observe(182.0)", "summary.observe(182.0)", "floor.one(182.0)",
         "p_summary.observe(182.0)"),
        ("histogram.observe(182.0)", "histogram.observe(182.0)", "floor.one(182.0)",
         "p_histogram.observe(182.0)"),
        ('invite_result("inbound", 486)', 'sm.invite_result("inbound", 486)',
         'sm._floor_fastcall("inbound", 486)', 'p_invite.labels("inbound", "4xx").inc()'),
        ('bye("inbound", "remote", "user-hangup")', 'sm.bye("inbound", "remote", "user-hangup")',
         'sm._floor_fastcall("inbound", "remote", "user-hangup")',
         'p_bye.labels("inbound", "remote", "user-hangup").inc()'),
    ]
    timers, numbers = {}, {}
    for case in cases:
        for stmt in case[1:]:
            t = timeit.Timer(stmt, setup=setup, globals=globs)
            n, took = t.autorange()
            numbers[stmt] = max(100, int(n * args.seconds / took))
            timers[stmt] = t
    per_call = {stmt: [] for stmt in timers}
    for _ in range(args.rounds):
        for stmt, t in timers.items():
            per_call[stmt].append(t.timeit(numbers[stmt]) / numbers[stmt] * 1e9)
    med = {stmt: statistics.median(v) for stmt, v in per_call.items()}
    spread = {stmt: (min(v), max(v)) for stmt, v in per_call.items()}

    print(f"Python {platform.python_version()} ({sys.executable}), {cpu_model()}, "
          f"{os.cpu_count()} CPUs; sipmetrics {sipmetrics.__version__} from "
          f"{os.path.dirname(sipmetrics.__file__)}, prometheus_client "
          f"{getattr(prometheus_client, '__version__', '(Debian)')} multiprocess")
    print(f"medians of {args.rounds} rounds, ns per call (min-max over rounds)")
    print()
    print("| call | sipmetrics | floor | ratio | added | prometheus_client | prometheus / sipmetrics |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, ours, floor, prom in cases:
        print(f"| `{name}` | {med[ours]:.1f} ns ({spread[ours][0]:.0f}-{spread[ours][1]:.0f}) "
              f"| {med[floor]:.1f} ns | {med[ours] / med[floor]:.2f}x "
              f"| {med[ours] - med[floor]:.1f} ns | {med[prom] / 1000:.2f} us "
              f"| {med[prom] / med[ours]:.0f}x |")
    # prometheus_client's multiprocess values check os.getpid() on every update: its figures
    # follow this host's system-call cost.
    getpid = timeit.Timer("getpid()", setup="import os; getpid = os.getpid")
    n, took = getpid.autorange()
    pid_ns = statistics.median(getpid.repeat(args.rounds, n)) / n * 1e9
    print()
    print(f"os.getpid() (a system call, made by every prometheus_client update): {pid_ns:.0f} ns")
    for stmt in ("counter", "gauge", "summary", "histogram"):
        ns[stmt].valid or sys.exit(f"the {stmt} handle was not valid: the figures measured a no-op")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
