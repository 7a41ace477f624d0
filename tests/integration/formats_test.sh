#!/usr/bin/env bash
# /metrics as scrapers ask for it: text 0.0.4 by default, OpenMetrics 1.0 when the Accept header
# lists it, gzip when Accept-Encoding allows it. Each answer is parsed by the Python client's own
# parsers (Debian's python3-prometheus-client, installed here when missing) and its values checked.
#   formats_test.sh SIPMETRICSD PROM_WORKER
set -euo pipefail
DAEMON=$1 WORKER=$2
TMP=$(mktemp -d /tmp/sipmetrics-formats.XXXXXX)
pids=()
# Each process runs under `timeout`, which leads a process group of its own: the clean-up signals
# the whole group, so a child that hangs on its way out (LeakSanitizer's exit-time check can, under
# ASan) is killed with its wrapper instead of outliving the test.
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# Debian's python3, where Debian's python3-prometheus-client lands (PATH may hold another one).
PY=/usr/bin/python3
if ! $PY -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq python3-prometheus-client >/dev/null ||
    { "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq python3-prometheus-client >/dev/null; }
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
timeout -k 5 120 "$DAEMON" --listen "127.0.0.1:$port" --segment "$TMP/seg" --drain-interval-ms 2 \
  --housekeeping-interval-ms 50 >"$TMP/daemon.log" 2>&1 &
pids+=($!)
timeout -k 5 120 "$WORKER" "$TMP/seg" 2 5000 300 60 >"$TMP/worker.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready ' "$TMP/worker.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready ' "$TMP/worker.out" || { cat "$TMP/daemon.log" "$TMP/worker.out"; exit 1; }
url="http://127.0.0.1:$port/metrics"
# Wait until both children are folded, so every format sees the same final totals.
for _ in $(seq 100); do
  curl -s "$url" | grep -q '^sipmetrics_writers_exited_total 2$' && break; sleep 0.1
done

curl -s -D "$TMP/text.h" -o "$TMP/text.txt" "$url"
curl -s -D "$TMP/om.h" -o "$TMP/om.txt" \
  -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' "$url"
curl -s -D "$TMP/gz.h" -o "$TMP/gz.bin" -H 'Accept-Encoding: gzip' "$url"
curl -s -D "$TMP/omgz.h" -o "$TMP/omgz.bin" -H 'Accept-Encoding: gzip, deflate' \
  -H 'Accept: application/openmetrics-text;version=1.0.0' "$url"
curl -s -D "$TMP/br.h" -o "$TMP/br.txt" -H 'Accept-Encoding: br' "$url"
curl -s -D "$TMP/q0.h" -o "$TMP/q0.txt" -H 'Accept-Encoding: gzip;q=0, *' "$url"
curl -s -I -o "$TMP/head.h" -H 'Accept-Encoding: gzip' "$url"
curl -s -D "$TMP/index.h" -o "$TMP/index.html" -H 'Accept-Encoding: br, gzip' "${url%/metrics}/"
curl -s -D "$TMP/health.h" -o "$TMP/health.txt" -H 'Accept-Encoding: br' "${url%/metrics}/healthz"

$PY - "$TMP" <<'PY'
import gzip, sys
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families

tmp = sys.argv[1]
passed = failed = 0
def check(what, ok):
    global passed, failed
    print(("PASS: " if ok else "FAIL: ") + what)
    passed, failed = passed + ok, failed + (not ok)

def header(name, key):
    for line in open(f"{tmp}/{name}.h", encoding="latin-1"):
        k, _, v = line.partition(":")
        if k.strip().lower() == key: return v.strip()
    return ""

def values(families):
    out = {}
    for f in families:
        for s in f.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out

text = open(f"{tmp}/text.txt").read()
om = open(f"{tmp}/om.txt").read()
check("text answer is text/plain 0.0.4", header("text", "content-type").startswith("text/plain; version=0.0.4"))
check("OpenMetrics answer has its content type",
      header("om", "content-type").startswith("application/openmetrics-text; version=1.0.0"))
check("OpenMetrics answer ends with # EOF", om.endswith("# EOF\n"))
check("gzip answer is gzip-encoded", header("gz", "content-encoding") == "gzip")
gz = gzip.decompress(open(f"{tmp}/gz.bin", "rb").read()).decode()
check("gzip answer says it varies with Accept-Encoding", "Accept-Encoding" in header("gz", "vary"))
check("OpenMetrics is gzip-encoded too", header("omgz", "content-encoding") == "gzip")
omgz = gzip.decompress(open(f"{tmp}/omgz.bin", "rb").read()).decode()
check("gzip OpenMetrics answer ends with # EOF", omgz.endswith("# EOF\n"))
check("br is not offered: the answer is plain text", header("br", "content-encoding") == ""
      and open(f"{tmp}/br.txt").read().startswith("# HELP "))
check("gzip;q=0 refuses gzip", header("q0", "content-encoding") == "")
check("the index and /healthz are never compressed",
      header("index", "content-encoding") == header("health", "content-encoding") == ""
      and "<h1>sipmetricsd</h1>" in open(f"{tmp}/index.html").read()
      and open(f"{tmp}/health.txt").read().startswith("ok\n"))
check("HEAD announces gzip and a length, without a body",
      header("head", "content-encoding") == "gzip" and int(header("head", "content-length") or 0) > 0)

t = values(text_string_to_metric_families(text))
o = values(om_families(om))
g = values(text_string_to_metric_families(gz))
calls = ("voiceserver_calls_total", (("status", "ok"), ("transport", "sip")))
count = ("voiceserver_e2e_first_byte_ms_count", ())
check("text parser: calls = 10000", t.get(calls) == 10000)
check("OpenMetrics parser: calls = 10000", o.get(calls) == 10000)
check("gzip text parser: calls = 10000", g.get(calls) == 10000)
check("gzip OpenMetrics parser: calls = 10000", values(om_families(omgz)).get(calls) == 10000)
check("plain answer to br: calls = 10000",
      values(text_string_to_metric_families(open(f"{tmp}/br.txt").read())).get(calls) == 10000)
check("text and OpenMetrics agree on e2e _count = 600", t.get(count) == o.get(count) == 600)
# The summary's NaN, +Inf, -Inf and -5 (per child) are counted apart, never in _sum or quantiles.
check("summary: 8 invalid samples counted, _sum of the valid ones only, quantiles >= 0",
      t.get(("sipmetrics_invalid_samples_total", ())) == 8 and
      o.get(("sipmetrics_invalid_samples_total", ())) == 8 and
      t.get(("voiceserver_e2e_first_byte_ms_sum", ())) == 2 * sum(i % 100 + 0.25 for i in range(300)) and
      all(v >= 0 for k, v in o.items() if k[0] == "voiceserver_e2e_first_byte_ms"))
# The histogram: 300 values per child plus NaN, +Inf and -1, in 2 children.
sip = (("transport", "sip"),)
hcount = ("voiceserver_test_setup_ms_count", sip)
inf = ("voiceserver_test_setup_ms_bucket", (("le", "+Inf"), ("transport", "sip")))
check("histogram family typed in both formats",
      any(f.name == "voiceserver_test_setup_ms" and f.type == "histogram"
          for f in text_string_to_metric_families(text)) and
      any(f.name == "voiceserver_test_setup_ms" and f.type == "histogram" for f in om_families(om)))
check("histogram _count = 606 and = the +Inf bucket, in both formats",
      t.get(hcount) == o.get(hcount) == 606 and t.get(inf) == o.get(inf) == 606)
check("histogram _sum excludes NaN, +Inf and -1",
      t.get(("voiceserver_test_setup_ms_sum", sip)) == 2 * sum(i * 37 % 40000 for i in range(300)))
le = sorted((float(dict(k[1])["le"]), v) for k, v in t.items() if k[0] == "voiceserver_test_setup_ms_bucket")
check("histogram buckets are cumulative, 15 of them, up to +Inf",
      len(le) == 15 and le[-1][0] == float("inf") and all(a[1] <= b[1] for a, b in zip(le, le[1:])))
check("OpenMetrics counter family is named without _total",
      any(f.name == "voiceserver_calls" and f.type == "counter" for f in om_families(om)))
check("every text sample is in the OpenMetrics answer with the same value (but the scrape's own duration)",
      all(o.get(k) == v for k, v in t.items() if not k[0].startswith("sipmetrics_scrape_duration")))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
