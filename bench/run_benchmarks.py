#!/usr/bin/env python3
"""Runs the Google Benchmark programs and prints each figure next to its floor, measured in the
same run, with the target ratio from the performance issue.

    bench/run_benchmarks.py [BUILD_DIR]      (default: build-bench; ./run bench builds it)
"""
import json
import subprocess
import sys

build = sys.argv[1] if len(sys.argv) > 1 else "build-bench"


def run(binary, extra=()):
    out = subprocess.run(
        [f"{build}/bench/{binary}", "--benchmark_format=json", "--benchmark_repetitions=5",
         "--benchmark_report_aggregates_only=true", "--benchmark_min_time=0.2", *extra],
        check=True, capture_output=True, text=True).stdout
    medians = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            medians[b["run_name"]] = b
    return medians


def ns(b):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
    return b["real_time"] * scale


client = run("bench_client", ["--benchmark_filter=Raw|Counter|Gauge|Summary|Histogram|CApi"])
procs = run("bench_client", ["--benchmark_filter=Processes", "--benchmark_repetitions=7"])
daemon = run("bench_daemon")

rows = []
def ratio(name, value_ns, floor_name, floor_ns, target, unit="ns"):
    r = value_ns / floor_ns
    ok = r <= target
    scale = {"ns": 1, "us": 1e3, "ms": 1e6}[unit]
    rows.append((name, f"{value_ns / scale:.3f} {unit}", floor_name, f"{floor_ns / scale:.3f} {unit}",
                 f"{r:.2f}x", f"<= {target}x", "ok" if ok else "MISSED"))

for t in (1, 2):
    floor = ns(client[f"BM_Raw_ShmFetchAdd/threads:{t}"])
    ratio(f"BM_Counter_Inc/threads:{t}", ns(client[f"BM_Counter_Inc/threads:{t}"]),
          "BM_Raw_ShmFetchAdd", floor, 0.25)
    ratio(f"BM_Gauge_Set/threads:{t}", ns(client[f"BM_Gauge_Set/threads:{t}"]), "BM_Raw_ShmFetchAdd", floor, 0.25)
    ratio(f"BM_Gauge_Add/threads:{t}", ns(client[f"BM_Gauge_Add/threads:{t}"]), "BM_Raw_ShmFetchAdd", floor, 0.25)
    ratio(f"BM_Summary_Observe/threads:{t}", ns(client[f"BM_Summary_Observe/threads:{t}"]),
          "BM_Raw_ShmFetchAdd", floor, 0.75)
    drained = ns(client[f"BM_Summary_Observe_Drained/threads:{t}"])
    rows.append((f"BM_Summary_Observe_Drained/threads:{t}", f"{drained:.3f} ns", "BM_Raw_ShmFetchAdd",
                 f"{floor:.3f} ns", f"{drained / floor:.2f}x", "(informational)", ""))
    # A histogram observation (a bucket search and three cells) against a summary's (a ring push
    # and two cells), both measured in this run.
    hist = ns(client[f"BM_Histogram_Observe/threads:{t}"])
    summ = ns(client[f"BM_Summary_Observe/threads:{t}"])
    rows.append((f"BM_Histogram_Observe/threads:{t}", f"{hist:.3f} ns", "BM_Summary_Observe",
                 f"{summ:.3f} ns", f"{hist / summ:.2f}x", "(informational)", ""))
    rows.append((f"BM_Histogram_Observe/threads:{t}", f"{hist:.3f} ns", "BM_Raw_ShmFetchAdd",
                 f"{floor:.3f} ns", f"{hist / floor:.2f}x", "(informational)", ""))
binary = ns(client["BM_Histogram_BucketIndex/binary"])
linear = ns(client["BM_Histogram_BucketIndex/linear"])
rows.append(("BM_Histogram_BucketIndex/binary", f"{binary:.3f} ns", "BM_Histogram_BucketIndex/linear",
             f"{linear:.3f} ns", f"{binary / linear:.2f}x", "(informational)", ""))
# Every page offset of a lane's cells costs the same: the slowest offset against the fastest.
at_cell = {name: ns(b) for name, b in client.items() if name.startswith("BM_Summary_Observe_AtCell/")}
if at_cell:
    slow = max(at_cell, key=at_cell.get)
    fast = min(at_cell, key=at_cell.get)
    spread = at_cell[slow] / at_cell[fast]
    rows.append((f"{slow.split('/')[0]} slowest ({slow.split('/')[1]})", f"{at_cell[slow]:.3f} ns",
                 f"fastest ({fast.split('/')[1]})", f"{at_cell[fast]:.3f} ns", f"{spread:.2f}x",
                 "<= 1.15x", "ok" if spread <= 1.15 else "MISSED"))


# The C API against the C++ handle doing the same update, both measured in this run.
for t in (1, 2):
    for c_name, cpp_name in (("BM_CApi_CounterInc", "BM_Counter_Inc"), ("BM_CApi_GaugeAdd", "BM_Gauge_Add"),
                             ("BM_CApi_SummaryObserve", "BM_Summary_Observe"),
                             ("BM_CApi_HistogramObserve", "BM_Histogram_Observe")):
        ratio(f"{c_name}/threads:{t}", ns(client[f"{c_name}/threads:{t}"]), cpp_name,
              ns(client[f"{cpp_name}/threads:{t}"]), 1.5)
def starting(medians, prefix):
    return next(b for name, b in medians.items() if name.startswith(prefix))

one = starting(procs, "BM_Processes_OneSeries_1/")["items_per_second"]
two = starting(procs, "BM_Processes_OneSeries_2/")["items_per_second"]
rows.append(("2 processes, one series", f"{two / 1e6:.0f} M inc/s", "1 process", f"{one / 1e6:.0f} M inc/s",
             f"{two / one:.2f}x", ">= 1.9x", "ok" if two / one >= 1.9 else "MISSED"))
for n in (1000, 10000, 100000):
    ratio(f"BM_Exporter_Scrape/{n}", ns(daemon[f"BM_Exporter_Scrape/{n}"]), "BM_Floor_ToChars",
          ns(daemon[f"BM_Floor_ToChars/{n}"]), 2.5, "us")
ratio("BM_Exporter_ScrapeMixed/protobuf", ns(daemon["BM_Exporter_ScrapeMixed/protobuf"]),
      "BM_Exporter_ScrapeMixed/text", ns(daemon["BM_Exporter_ScrapeMixed/text"]), 1.5, "us")
ratio("BM_Exporter_Quantiles", ns(daemon["BM_Exporter_Quantiles"]), "BM_Floor_NthElement",
      ns(daemon["BM_Floor_NthElement"]), 1.2, "us")

def absolute(name, value_ns, limit_ms):
    rows.append((name, f"{value_ns / 1e6:.3f} ms", "limit", f"{limit_ms} ms", "", f"<= {limit_ms} ms",
                 "ok" if value_ns / 1e6 <= limit_ms else "MISSED"))

absolute("BM_Http_Scrape/10000", ns(daemon["BM_Http_Scrape/10000"]), 1)
absolute("BM_Http_Scrape/100000", ns(daemon["BM_Http_Scrape/100000"]), 12)
for n in (10000, 100000):
    b = daemon[f"BM_Http_Scrape_Gzip/{n}"]
    rows.append((f"BM_Http_Scrape_Gzip/{n}", f"{ns(b) / 1e6:.3f} ms", "identity",
                 f"{ns(daemon[f'BM_Http_Scrape/{n}']) / 1e6:.3f} ms", f"{ns(b) / ns(daemon[f'BM_Http_Scrape/{n}']):.2f}x",
                 "(informational)", ""))
absolute("BM_Exporter_Scrape_16Writers", ns(daemon["BM_Exporter_Scrape_16Writers"]), 0.5)
faults = daemon["BM_Exporter_Scrape/10000"].get("page_faults_per_scrape", 0)
rows.append(("page faults per scrape (10k)", f"{faults:.3f}", "", "", "", "0", "ok" if faults < 0.5 else "MISSED"))

widths = [max(len(str(r[i])) for r in rows + [("figure", "median", "floor", "floor median", "ratio", "target", "")])
          for i in range(7)]
head = ("figure", "median", "floor", "floor median", "ratio", "target", "")
for r in [head] + rows:
    print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
missed = sum(1 for r in rows if r[6] == "MISSED")
print(f"{len(rows) - missed} passed, {missed} failed (targets; informational, not a test)")
