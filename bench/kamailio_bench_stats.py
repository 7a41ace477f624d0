#!/usr/bin/env python3
"""Statistics for bench/kamailio_bench.sh.

  kamailio_bench_stats.py cell DIR --mode M --series N --rep R --calls C --sipp-rc RC
                               --cpu-ticks T --daemon-ticks D --hz HZ --wall S
      one tab-separated line for one run: sipp's statistics and response times (DIR/uac_*_.csv,
      DIR/uac_*_rtt.csv), the scrapes (DIR/scrapes.txt) and the CPU figures
  kamailio_bench_stats.py table CELLS.TSV [--machine FILE]
      the markdown table of medians over the runs of each mode and series count
"""
import argparse
import glob
import os
import statistics
import sys

COLUMNS = ["mode", "updates", "series", "rep", "calls", "ok", "failed", "requests", "cpu_us_req",
           "daemon_us_req", "rtt_n", "p50_ms", "p99_ms", "scrapes", "scrape_failed",
           "scrape_p50_ms", "scrape_max_ms", "page_kib", "wall_s"]


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def sipp_counts(d):
    """(successful, failed) calls from the last line of sipp's -trace_stat file."""
    files = [f for f in glob.glob(os.path.join(d, "uac_*_.csv"))]
    if not files:
        return 0, 0
    lines = [ln.rstrip("\n").split(";") for ln in open(files[0]) if ln.strip()]
    head, last = lines[0], lines[-1]
    return int(last[head.index("SuccessfulCall(C)")]), int(last[head.index("FailedCall(C)")])


def rtts(d):
    """Response times in ms from sipp's -trace_rtt file (whole milliseconds in sipp 3.6)."""
    out = []
    for f in glob.glob(os.path.join(d, "uac_*_rtt.csv")):
        for ln in open(f):
            parts = ln.strip().split(";")
            if len(parts) >= 2 and parts[1].replace(".", "", 1).isdigit():
                out.append(float(parts[1]))
    return out


def scrapes(d):
    """(times in ms of the successful scrapes, failed count, page size in bytes)."""
    path = os.path.join(d, "scrapes.txt")
    times, failed, size = [], 0, 0
    if not os.path.exists(path):
        return times, failed, size
    for ln in open(path):
        parts = ln.split()
        if len(parts) == 3 and parts[2] == "200":
            times.append(float(parts[0]) * 1000.0)
            size = max(size, int(parts[1]))
        elif parts:
            failed += 1
    return times, failed, size


def cell(a):
    ok, failed = sipp_counts(a.dir)
    # Each call that completed routed INVITE, ACK and BYE; a failed one at least its INVITE.
    requests = 3 * ok + failed
    per_req = lambda ticks: ticks / a.hz * 1e6 / requests if requests else float("nan")
    rt = rtts(a.dir)
    st, sfailed, size = scrapes(a.dir)
    row = [a.mode, a.updates, a.series, a.rep, a.calls, ok, failed, requests,
           "%.2f" % per_req(a.cpu_ticks), "%.2f" % per_req(a.daemon_ticks), len(rt),
           "%g" % percentile(rt, 50) if rt else "nan", "%g" % percentile(rt, 99) if rt else "nan",
           len(st), sfailed, "%.2f" % percentile(st, 50) if st else "nan",
           "%.2f" % max(st) if st else "nan", "%.1f" % (size / 1024.0), "%.1f" % a.wall]
    print("\t".join(str(x) for x in row))


def fmt(x, digits=1):
    return "—" if x is None or x != x else ("%.*f" % (digits, x))


def table(a):
    rows = [dict(zip(COLUMNS, ln.rstrip("\n").split("\t"))) for ln in open(a.cells) if ln.strip()]
    num = lambda r, k: float(r[k])
    # Each engine (native cfg routing, or KEMI: modes named kemi_*) against its own no-metrics runs.
    engine = lambda mode: ("kemi_", mode[5:]) if mode.startswith("kemi_") else ("", mode)
    bases = {}
    for r in rows:
        e, kind = engine(r["mode"])
        if kind == "none":
            bases.setdefault(e, []).append(num(r, "cpu_us_req"))
    bases = {e: statistics.median(v) for e, v in bases.items()}
    groups = {}
    for r in rows:
        groups.setdefault((r["mode"], int(r["updates"]), int(r["series"])), []).append(r)
    order = {"none": 0, "app_lua": 1, "xhttp_prom": 2, "sipmetrics": 3}
    if a.machine and os.path.exists(a.machine):
        for ln in open(a.machine):
            print("<!-- " + ln.strip() + " -->")
    print("| metrics | series | runs | Kamailio CPU µs/request | metric cost µs/request (range) "
          "| per update | sipmetricsd µs/request | SIP p50 / p99 ms | scrape p50 / max ms "
          "| page KiB | failed calls |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    cost = {}
    key = lambda kv: (engine(kv[0][0])[0], kv[0][2], order.get(engine(kv[0][0])[1], 9), kv[0][1])
    for (mode, updates, series), rs in sorted(groups.items(), key=key):
        med = lambda k: statistics.median(num(r, k) for r in rs)
        cpu = med("cpu_us_req")
        e, kind = engine(mode)
        base = bases.get(e, float("nan"))
        costs = [num(r, "cpu_us_req") - base for r in rs]
        name = mode if updates == 1 else "%s, %d updates/request" % (mode, updates)
        if kind == "none":
            spread = [num(r, "cpu_us_req") for r in rs]
            metric = "baseline (runs %s–%s)" % (fmt(min(spread)), fmt(max(spread)))
            per_update = "—"
        else:
            c = statistics.median(costs)
            cost[(mode, updates, series)] = c
            metric = "%s (%s – %s)" % (fmt(c), fmt(min(costs)), fmt(max(costs)))
            per_update = fmt(c / updates, 2)
        daemon = fmt(med("daemon_us_req"), 2) if kind == "sipmetrics" else "—"
        served = kind in ("xhttp_prom", "sipmetrics")
        scrape = ("%s / %s" % (fmt(med("scrape_p50_ms"), 2), fmt(med("scrape_max_ms"), 2))
                  if served else "—")
        page = fmt(med("page_kib")) if served else "—"
        failed = sum(int(r["failed"]) for r in rs)
        calls = sum(int(r["calls"]) for r in rs)
        print("| %s | %s | %d | %s | %s | %s | %s | %s / %s | %s | %s | %d of %d |" % (
            name, "—" if kind in ("none", "app_lua") else "{:,}".format(series), len(rs), fmt(cpu), metric,
            per_update, daemon, fmt(med("p50_ms"), 0), fmt(med("p99_ms"), 0), scrape, page,
            failed, calls))
    # Per update: the slope between the runs with K updates a request and those with one, in the
    # same mode and series count (what the mode costs whatever the update count, and any drift
    # between these runs and the no-metrics ones, cancels); against the no-metrics runs where
    # there is no one-update run.
    med_cpu = {k: statistics.median(num(r, "cpu_us_req") for r in rs) for k, rs in groups.items()}

    def per_update(mode, series):
        ks = sorted(u for (m, u, s2) in med_cpu if m == mode and s2 == series)
        if not ks:
            return None
        k = ks[-1]
        if k > 1 and 1 in ks:
            return (med_cpu[(mode, k, series)] - med_cpu[(mode, 1, series)]) / (k - 1), k, "slope"
        return (med_cpu[(mode, k, series)] - bases.get(engine(mode)[0], float("nan"))) / k, k, "vs none"

    lines = []
    floor = per_update("app_lua", 0)
    for e, label in (("", ""), ("kemi_", "KEMI, ")):
        for series in sorted({k[2] for k in cost if engine(k[0])[0] == e}):
            x, sm = per_update(e + "xhttp_prom", series), per_update(e + "sipmetrics", series)
            if not x or not sm:
                continue
            ratio = "%.0f×" % (x[0] / sm[0]) if sm[0] > 0 else "sipmetrics within the noise"
            lines.append("%s%s series: xhttp_prom %s µs (%s, %d updates/request), sipmetrics %s µs "
                         "(%s, %d): %s" % (label, "{:,}".format(series), fmt(x[0], 1), x[2], x[1],
                                           fmt(sm[0], 2), sm[2], sm[1], ratio))
    if lines:
        print()
        print("Metric cost per update:")
        print()
        for ln in lines:
            print("* " + ln)
        if floor:
            print("* lua_run() into an empty Lua function (app_lua's own call, the floor of any "
                  "metric kept from Lua): %s µs (%s, %d a request)" % (fmt(floor[0], 2), floor[2],
                                                                     floor[1]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cell")
    c.add_argument("dir")
    for k in ("mode", "rep"):
        c.add_argument("--" + k, required=True)
    for k in ("updates", "series", "calls", "sipp-rc", "cpu-ticks", "daemon-ticks", "hz"):
        c.add_argument("--" + k, type=int, required=True)
    c.add_argument("--wall", type=float, required=True)
    t = sub.add_parser("table")
    t.add_argument("cells")
    t.add_argument("--machine")
    a = p.parse_args()
    cell(a) if a.cmd == "cell" else table(a)


if __name__ == "__main__":
    sys.exit(main())
