#!/usr/bin/env python3
"""dashboard_test.py SOURCE_DIR SIPMETRICSD DEMO

The Grafana dashboard and the Prometheus rules against a real Prometheus (Debian's package):
  1. the dashboard's structure: unique panel ids, every target on the `datasource` variable,
     every variable an expression uses defined (or Grafana's own), panels inside the 24-column
     grid;
  2. sipmetricsd on a scratch file segment and a loopback port, the demo workload
     (`--workers 2 --cps 20 --seconds 60`) writing into it, and Prometheus on another loopback
     port running deploy/prometheus/prometheus.yml (intervals shortened to 1 s, the target
     replaced) with sipmetrics.rules.yml;
  3. once scraped: every dashboard expression (variables substituted: $__rate_interval=1m,
     $job=sipmetrics, $instance=.+, the All value) as an instant and as a range query, every
     recording rule's expression, every recorded series, and the dashboard's variable queries
     (label_values) through the HTTP API: each succeeds and returns data - a finite value for
     every expression and recording rule, so a misspelt metric (which PromQL answers with an
     empty result, not an error) fails;
  4. every metric name in the dashboard and the rules (alerts included) is one sipmetricsd
     serves or a recording rule records; Prometheus reports every rule loaded and healthy.
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import atexit

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib  # noqa: E402
from deploylib import ok, fatal, finish, start, stop, free_port, listeners, wait_http, show_logs  # noqa: E402

SRC, DAEMON, DEMO = (os.path.abspath(a) for a in sys.argv[1:4])
TMP = tempfile.mkdtemp(prefix="sipmetrics-dashboard.")
atexit.register(shutil.rmtree, TMP, True)
LOGS = ["daemon.log", "demo.log", "prometheus.log"]
START = time.time()
JOB = "sipmetrics"
SUBST = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m", "job": JOB, "instance": ".+"}

# ---- 1. Dashboard structure ------------------------------------------------------------------------------
dash = json.load(open(os.path.join(SRC, "deploy/grafana/sipmetrics-dashboard.json"), encoding="utf-8"))
panels = []
for p in dash["panels"]:
    panels.append(p)
    panels.extend(p.get("panels", []))
ids = [p["id"] for p in panels]
ok(len(ids) == len(set(ids)), f"{len(panels)} panels, ids unique")
ok(dash.get("uid") and dash.get("title") and isinstance(dash.get("schemaVersion"), int), "uid, title, schemaVersion")
variables = {v["name"]: v for v in dash["templating"]["list"]}
ok(variables.get("datasource", {}).get("type") == "datasource" and variables["datasource"].get("query") == "prometheus",
   "a `datasource` variable of type prometheus")
targets = [(p["title"], t) for p in panels for t in p.get("targets", [])]
ok(len(targets) >= 20, f"{len(targets)} queries")
ok(all(t.get("datasource", {}).get("uid") == "${datasource}" for _, t in targets) and
   all(p.get("datasource", {}).get("uid") == "${datasource}" for p in panels if p["type"] != "row"),
   "every panel and query uses ${datasource}")
ok(all(0 <= p["gridPos"]["x"] and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels), "panels within 24 columns")
used = {m for _, t in targets for m in re.findall(r"\$\{?(\w+)", t["expr"])}
ok(used <= set(variables) | {"__rate_interval", "__interval", "__range"},
   f"variables used {sorted(used)} are defined")
ok(variables.get("instance", {}).get("allValue") == SUBST["instance"], "instance's All value is .+ (as substituted here)")


def substitute(expr):
    out = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: SUBST[m.group(1) or m.group(2)], expr)
    return out


# ---- 2. sipmetricsd, the demo, Prometheus -------------------------------------------------------------------
seg = os.path.join(TMP, "segment")
env = {"PATH": "/usr/bin:/bin", "SIPMETRICS_SEGMENT": seg}
for attempt in range(3):
    dport = free_port()
    d = start([DAEMON, "--listen", f"127.0.0.1:{dport}", "--segment", seg], env, os.path.join(TMP, "daemon.log"), TMP, 200)
    if wait_http(f"http://127.0.0.1:{dport}/healthz", d) and listeners(dport) == 1:
        break
    stop(d)
else:
    show_logs(TMP, LOGS)
    fatal("sipmetricsd did not start")
demo = start([DEMO, "--workers", "2", "--cps", "20", "--seconds", "60"], env, os.path.join(TMP, "demo.log"), TMP, 120)
demo_started = time.time()

prom_cfg = yaml.safe_load(open(os.path.join(SRC, "deploy/prometheus/prometheus.yml"), encoding="utf-8"))
jobs = prom_cfg.get("scrape_configs", [])
ok(len(jobs) == 1 and jobs[0]["job_name"] == JOB and "static_configs" in jobs[0],
   f"the example scrape config has the one job `{JOB}` (static targets)")
prom_cfg["global"].update({"scrape_interval": "1s", "evaluation_interval": "1s"})
jobs[0].update({"scrape_interval": "1s", "scrape_timeout": "1s", "static_configs": [{"targets": [f"127.0.0.1:{dport}"]}]})
for rf in prom_cfg.get("rule_files", []):
    shutil.copy(os.path.join(SRC, "deploy/prometheus", rf), os.path.join(TMP, rf))
with open(os.path.join(TMP, "prometheus.yml"), "w") as f:
    yaml.safe_dump(prom_cfg, f)
r = subprocess.run(["promtool", "check", "config", os.path.join(TMP, "prometheus.yml")], capture_output=True, text=True)
ok(r.returncode == 0, "promtool check config: the test's copy of prometheus.yml and its rules")
for attempt in range(3):
    pport = free_port()
    prom = start(["prometheus", f"--config.file={TMP}/prometheus.yml", f"--storage.tsdb.path={TMP}/tsdb",
                  f"--web.listen-address=127.0.0.1:{pport}", "--log.level=warn"], {"PATH": "/usr/bin:/bin"},
                 os.path.join(TMP, "prometheus.log"), TMP, 200)
    if wait_http(f"http://127.0.0.1:{pport}/-/ready", prom, 30):
        break
    stop(prom)
    shutil.rmtree(os.path.join(TMP, "tsdb"), ignore_errors=True)
else:
    show_logs(TMP, LOGS)
    fatal("prometheus did not start")
API = f"http://127.0.0.1:{pport}/api/v1"


def api(path, **params):
    url = f"{API}/{path}?" + urllib.parse.urlencode(params, doseq=True)
    try:
        return json.load(urllib.request.urlopen(url, timeout=10))
    except urllib.error.HTTPError as e:  # 400/422 carry the error as JSON
        try:
            return json.load(e)
        except ValueError:
            return {"status": "error", "error": str(e)}
    except (OSError, ValueError) as e:
        return {"status": "error", "error": str(e)}


def finite_values(res):
    data = res.get("data", {})
    rt, result = data.get("resultType"), data.get("result", [])
    if rt == "scalar":
        vals = [result[1]]
    elif rt == "vector":
        vals = [s["value"][1] for s in result]
    elif rt == "matrix":
        vals = [v[1] for s in result for v in s["values"]]
    else:
        vals = []
    return [float(v) for v in vals if not math.isnan(float(v)) and not math.isinf(float(v))], len(result)


def scalar(q):
    vals, _ = finite_values(api("query", query=q))
    return vals[0] if vals else None


deadline = time.time() + 60
while time.time() < deadline:
    if scalar(f'up{{job="{JOB}"}}') == 1 and (scalar(f'count_over_time(up{{job="{JOB}"}}[5m])') or 0) >= 3:
        break
    if prom.poll() is not None:
        fatal("prometheus exited")
    time.sleep(0.2)
ok(scalar(f'up{{job="{JOB}"}}') == 1, f"Prometheus scrapes sipmetricsd as job {JOB}")

# ---- 3. Every expression ----------------------------------------------------------------------------------------
rules_doc = yaml.safe_load(open(os.path.join(SRC, "deploy/prometheus/sipmetrics.rules.yml"), encoding="utf-8"))
rules = [r for g in rules_doc["groups"] for r in g["rules"]]
records = [r for r in rules if "record" in r]
alerts = [r for r in rules if "alert" in r]
checks = [(f"panel '{title}' {t['refId']}", substitute(t["expr"])) for title, t in targets]
checks += [(f"recording rule {r['record']} (expr)", r["expr"]) for r in records]
checks += [(f"recorded series {r['record']}", r["record"]) for r in records]
errors, pending = {}, dict(checks)
# Everything must have real data once the workload has run a while: session-timer refreshes
# come from calls longer than 15 s, so allow until the demo's 60 s are nearly over.
deadline = demo_started + 55
while pending and time.time() < deadline:
    for name, q in list(pending.items()):
        res = api("query", query=q)
        if res.get("status") != "success":
            errors[name] = res.get("error")
            del pending[name]
            continue
        vals, _ = finite_values(res)
        if vals:
            del pending[name]
    if pending:
        time.sleep(1)
for name, q in checks:
    if name in errors:
        ok(False, f"{name}: {q} -> error {errors[name]}")
    elif name in pending:
        vals, n = finite_values(api("query", query=q))
        ok(False, f"{name}: {q} -> no finite value ({n} series)")
ok(not errors and not pending, f"{len(checks)} queries (dashboard, recording rules, recorded series) succeed with data "
   f"({time.time() - demo_started:.0f} s into the workload)")
now = time.time()
bad = []
for title, t in targets:
    q = substitute(t["expr"])
    res = api("query_range", query=q, start=now - 60, end=now, step=5)
    if res.get("status") != "success" or not finite_values(res)[0]:
        bad.append(f"{title}: {res.get('error') or 'no data'}")
ok(not bad, f"every dashboard query as a range query (the last minute, step 5 s){': ' + str(bad) if bad else ''}")
for name, v in variables.items():
    if v.get("type") != "query":
        continue
    m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", v["query"]["query"])
    if not ok(m, f"variable {name}: label_values(METRIC, LABEL)"):
        continue
    res = api(f"label/{m.group(2)}/values", **{"match[]": substitute(m.group(1))})
    got = res.get("data", [])
    want = JOB if name == "job" else f"127.0.0.1:{dport}"
    ok(res.get("status") == "success" and want in got, f"variable {name}: {v['query']['query']} -> {got}")

# ---- 4. Names and rule health -------------------------------------------------------------------------------------
names = set(api("label/__name__/values").get("data", []))
known = names | {r["record"] for r in records}
unknown = set()
for expr in [t["expr"] for _, t in targets] + [r["expr"] for r in rules]:
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    for ident in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
        if (re.match(r"(sip|voiceserver|sipmetrics)_", ident) or ":" in ident) and ident not in known:
            unknown.add(ident)
ok(not unknown, f"every metric in the dashboard and the rules exists{': unknown ' + str(sorted(unknown)) if unknown else ''}")
loaded = [r for g in api("rules").get("data", {}).get("groups", []) for r in g["rules"]]
unhealthy = [(r["name"], r.get("lastError")) for r in loaded if r.get("health") != "ok" or r.get("lastError")]
ok(len(loaded) == len(rules) and not unhealthy,
   f"Prometheus loaded all {len(rules)} rules ({len(records)} recording, {len(alerts)} alerting), all healthy"
   + (f"; unhealthy: {unhealthy}" if unhealthy else ""))
firing = sorted({a["labels"]["alertname"] for a in api("alerts").get("data", {}).get("alerts", [])})
print(f"alerts pending or firing on the demo workload: {firing or 'none'}")

print(f"test took {time.time() - START:.0f} s")
if deploylib.failed:
    show_logs(TMP, LOGS)
finish()
