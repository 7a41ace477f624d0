#!/usr/bin/env bash
# prometheus_test.sh SIPMETRICSD PROM_WORKER
#
# Runs sipmetricsd's exposition through real Prometheus tooling (Debian's `prometheus` package:
# promtool and the prometheus server; installed with apt-get when missing, as root or via sudo).
#
#   1. starts sipmetricsd on a free loopback port with a file-backed segment in a temp dir;
#   2. runs sipmetrics-prom-worker: PROCESSES forked children x INCREMENTS increments of
#      voiceserver_calls_total{transport="sip",status="ok"} and SAMPLES observations of the
#      summary voiceserver_e2e_first_byte_ms; the parent sets the gauge
#      voiceserver_active_calls{transport="sip"} and stays alive;
#   3. `promtool check metrics` on /metrics: the only problem tolerated is the lint about
#      abbreviated units in the seed's `_ms` names (a product contract); anything else fails;
#   4. a real prometheus server on another free loopback port scrapes the daemon every second;
#      its HTTP API must show the target up, no scrape error, every series ingested, and the
#      exact values written;
#   5. a second prometheus server, started with --enable-feature=native-histograms, scrapes the
#      same daemon at the same time: its Accept header prefers protobuf, which the daemon must
#      answer (gzipped when asked), and the same checks must pass against it.
#
# Every process this script starts runs under `timeout` (so it dies on its own even if the
# script is SIGKILLed) and is killed, with its process group, by the EXIT trap.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SIPMETRICSD PROM_WORKER" >&2
  exit 2
fi
DAEMON=$1
WORKER=$2
for f in "$DAEMON" "$WORKER"; do
  [[ -x $f ]] || { echo "FATAL: not an executable: $f" >&2; exit 2; }
done
DAEMON=$(cd "$(dirname "$DAEMON")" && pwd)/$(basename "$DAEMON")
WORKER=$(cd "$(dirname "$WORKER")" && pwd)/$(basename "$WORKER")

readonly PROCESSES=3 INCREMENTS=250000 SAMPLES=1000
readonly GAUGE_VALUE=42            # what sipmetrics-prom-worker sets the gauge to
readonly JOB=sipmetrics
readonly LIFETIME=270              # seconds any started process may live (ctest TIMEOUT is 300)
readonly START=$SECONDS

# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
source "$(dirname "$0")/../deploy/lib.sh"

# ---- 1. Tools ---------------------------------------------------------------------------------------
# The package's postinst may try to start prometheus.service: whatever it does is ignored, this
# test only ever uses its own prometheus process.
need_tools promtool:prometheus prometheus:prometheus curl:curl python3:python3
echo "using $(promtool --version 2>&1 | head -n 1)"
make_tmp promtest

# ---- 2. Daemon and workload -------------------------------------------------------------------------
start_daemon daemon.log -- "$DAEMON" --segment "$TMP/seg" --drain-interval-ms 2 \
  --housekeeping-interval-ms 100 || die "sipmetricsd did not start"
METRICS_URL="http://127.0.0.1:$DAEMON_PORT/metrics"
echo "sipmetricsd (pid $DAEMON_PID) serving $METRICS_URL, segment $TMP/seg"

start_bg worker.out "$WORKER" "$TMP/seg" "$PROCESSES" "$INCREMENTS" "$SAMPLES" "$LIFETIME"
WORKER_PID=$STARTED
deadline=$((SECONDS + 60)); while ((SECONDS < deadline)); do  # bounded: 60 s
  grep -q '^ready ' "$TMP/worker.out" 2>/dev/null && break
  kill -0 "$WORKER_PID" 2>/dev/null || die "sipmetrics-prom-worker exited before it was ready"
  sleep 0.1
done
grep -q '^ready ' "$TMP/worker.out" || die "sipmetrics-prom-worker not ready within 60 s"
echo "worker: $(grep '^ready ' "$TMP/worker.out")"

# What the workload must add up to (computed here, not taken from the worker).
EXPECT_CALLS=$((PROCESSES * INCREMENTS))
EXPECT_COUNT=$((PROCESSES * SAMPLES))
EXPECT_SUM=$(python3 -c "print(repr($PROCESSES * sum(i % 100 + 0.25 for i in range($SAMPLES))))")
grep -q "^ready calls=$EXPECT_CALLS e2e_count=$EXPECT_COUNT " "$TMP/worker.out" ||
  die "the worker reports other totals than expected ($EXPECT_CALLS calls, $EXPECT_COUNT samples)"
# The histogram: SAMPLES values i * 37 % 40000 per child, plus NaN, +Inf and -1 (counted, not summed).
EXPECT_SETUP_COUNT=$((PROCESSES * (SAMPLES + 3)))
EXPECT_SETUP_SUM=$(python3 -c "print($PROCESSES * sum(i * 37 % 40000 for i in range($SAMPLES)))")
EXPECT_SETUP_LE_1000=$(python3 -c "print($PROCESSES * (1 + sum(i * 37 % 40000 <= 1000 for i in range($SAMPLES))))")
grep -q " setup_count=$EXPECT_SETUP_COUNT setup_sum=$EXPECT_SETUP_SUM setup_le_1000=$EXPECT_SETUP_LE_1000\$" \
  "$TMP/worker.out" || die "the worker reports other histogram totals than expected"

# Value of the first sample line whose name and labels match exactly (labels as exposed).
page_value() {  # FILE NAME_AND_LABELS
  awk -v k="$2" '$1 == k { print $2; exit }' "$1"
}
same_number() {  # A B: numerically equal?
  python3 -c 'import sys
try: sys.exit(0 if float(sys.argv[1]) == float(sys.argv[2]) else 1)
except ValueError: sys.exit(1)' "$1" "$2"
}

# The children have exited: wait until the daemon has folded all of them, so every scrape that
# follows must show the final totals.
PAGE=$TMP/metrics.txt
folded=""
deadline=$((SECONDS + 10)); while ((SECONDS < deadline)); do  # bounded: 10 s
  if curl -s --max-time 5 -o "$PAGE" "$METRICS_URL"; then
    folded=$(page_value "$PAGE" sipmetrics_writers_exited_total)
    [[ $folded == "$PROCESSES" ]] && break
  fi
  sleep 0.1
done
if [[ $folded == "$PROCESSES" ]]; then
  pass "daemon folded the $PROCESSES exited children (sipmetrics_writers_exited_total $folded)"
else
  fail "sipmetrics_writers_exited_total is '${folded:-absent}' after 10 s, expected $PROCESSES"
fi

# ---- 3. promtool check metrics ----------------------------------------------------------------------
# promtool (2.42) reads the text format 0.0.4: ask for exactly that.
ctype=$(curl -s --max-time 5 -H 'Accept: text/plain;version=0.0.4' -o "$PAGE" -w '%{content_type}' \
  "$METRICS_URL") || die "cannot fetch $METRICS_URL"
for family in voiceserver_calls_total voiceserver_active_calls voiceserver_e2e_first_byte_ms \
  voiceserver_test_setup_ms; do
  grep -q "^# TYPE $family " "$PAGE" || die "family $family missing from /metrics"
done
echo "/metrics: $(wc -c <"$PAGE") bytes, Content-Type: $ctype"
# What Prometheus 2.42 gets: the same request with its Accept header (it prefers OpenMetrics).
SCRAPE_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
ctype=$(curl -s --max-time 5 -H "Accept: $SCRAPE_ACCEPT" -o "$TMP/scrape.txt" -w '%{content_type}' \
  "$METRICS_URL") || die "cannot fetch $METRICS_URL"
SAMPLE_LINES=$(grep -c -v -e '^#' -e '^[[:space:]]*$' "$TMP/scrape.txt" || true)
echo "/metrics as Prometheus asks for it: $SAMPLE_LINES sample lines, Content-Type: $ctype"

set +e
promtool check metrics <"$PAGE" >"$TMP/promtool.out" 2>&1
promtool_rc=$?
set -e
echo "---- promtool check metrics (exit code $promtool_rc) ----"
cat "$TMP/promtool.out"
echo "---- end of promtool output ----"
tolerated=0
unexpected=0
while IFS= read -r line || [[ -n $line ]]; do
  [[ -z $line ]] && continue
  # The seed's latency names end in _ms (voiceserver_e2e_first_byte_ms, ...): a contract that
  # cannot change. Never tolerated for the exporter's own metrics.
  name=""
  [[ $line =~ ^([a-zA-Z_:][a-zA-Z0-9_:]*)\ metric\ names\ should\ not\ contain\ abbreviated\ units$ ]] &&
    name=${BASH_REMATCH[1]}
  if [[ -n $name && $name =~ (^|_)ms(_|$) && $name != sipmetrics_* && $name != voiceserver_metrics_* ]]; then
    tolerated=$((tolerated + 1))
  else
    unexpected=$((unexpected + 1))
    echo "promtool problem: $line"
  fi
done <"$TMP/promtool.out"
# promtool exits 0 when clean, 3 when it only has lint problems, 1 on a parse error.
if [[ $promtool_rc -eq 0 || ($promtool_rc -eq 3 && $tolerated -gt 0) ]] && [[ $unexpected -eq 0 ]]; then
  pass "promtool check metrics: parses, only the tolerated _ms unit lint ($tolerated line(s))"
else
  fail "promtool check metrics: exit code $promtool_rc, $unexpected unexpected line(s)"
fi

# ---- 4. A real Prometheus server --------------------------------------------------------------------
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: $JOB
    static_configs:
      - targets: ['127.0.0.1:$DAEMON_PORT']
EOF
# Starts a prometheus server on a free loopback port: NAME (its log and tsdb), then extra flags.
# Sets PROM_PORT and PROM_PID.
start_prometheus() {
  local name=$1 port attempt deadline
  shift
  PROM_PORT=""
  for attempt in 1 2 3; do  # a port picked here can be taken before prometheus binds it: retry
    port=$(free_port)
    start_bg "$name.log" prometheus --config.file="$TMP/prometheus.yml" \
      --storage.tsdb.path="$TMP/$name-tsdb" --web.listen-address="127.0.0.1:$port" \
      --log.level=warn "$@"
    PROM_PID=$STARTED
    deadline=$((SECONDS + 30)); while ((SECONDS < deadline)); do  # bounded: 30 s
      if [[ $(http_code "http://127.0.0.1:$port/-/ready") == 200 ]]; then
        PROM_PORT=$port
        break
      fi
      kill -0 "$PROM_PID" 2>/dev/null || break
      sleep 0.1
    done
    [[ -n $PROM_PORT ]] && return 0
    echo "prometheus $name did not come up on 127.0.0.1:$port (attempt $attempt):"
    tail -n 5 "$TMP/$name.log" || true
    stop_bg "$PROM_PID"
    rm -rf "$TMP/$name-tsdb"
  done
  return 1
}
# The second server asks for the protobuf format (native histograms on); both scrape at once,
# so the second costs no extra wall time.
start_prometheus prometheus || die "prometheus did not start"
PROM_URL="http://127.0.0.1:$PROM_PORT"
start_prometheus prometheus-native --enable-feature=native-histograms ||
  die "prometheus --enable-feature=native-histograms did not start"
NATIVE_URL="http://127.0.0.1:$PROM_PORT"
NATIVE_PID=$PROM_PID
echo "prometheus on $PROM_URL and $NATIVE_URL (native histograms), scraping 127.0.0.1:$DAEMON_PORT every 1s"

# Instant query: prints the single sample's value, "none", "multiple:N" or "error:...".
prom_query() { prom_api_query "$PROM_URL" "$1"; }
expect_value() {  # DESCRIPTION QUERY EXPECTED
  local got
  got=$(prom_query "$2")
  if same_number "$got" "$3"; then
    pass "$1: $2 = $got"
  else
    fail "$1: $2 = $got, expected $3"
  fi
}

# The checks every server must pass, against PROM_URL.
check_server() {
  # Bounded wait: the target must be up and have been scraped at least 3 times.
  scrapes=none
  deadline=$((SECONDS + 60)); while ((SECONDS < deadline)); do  # bounded: 60 s
    scrapes=$(prom_query "count_over_time(up{job=\"$JOB\"}[5m])" || true)
    up=$(prom_query "up{job=\"$JOB\"}" || true)
    if [[ $up == 1 ]] && same_number "$scrapes" "$scrapes" && python3 -c "import sys; sys.exit(0 if float('$scrapes') >= 3 else 1)"; then
      break
    fi
    kill -0 "$PROM_PID" 2>/dev/null || die "prometheus exited"
    sleep 0.1
  done
  echo "prometheus scraped the target $scrapes time(s) ($((SECONDS - START)) s since the test began)"

  expect_value "target is up" "up{job=\"$JOB\"}" 1
  expect_value "target was up on every scrape" "min_over_time(up{job=\"$JOB\"}[5m])" 1

  curl -s --max-time 5 -o "$TMP/targets.json" "$PROM_URL/api/v1/targets" || true
  target=$(python3 - "$TMP/targets.json" "$JOB" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    t = [t for t in d["data"]["activeTargets"] if t["labels"].get("job") == sys.argv[2]]
    print("%s|%s" % (t[0]["health"], t[0]["lastError"]) if len(t) == 1 else "targets:%d|" % len(t))
except Exception as e:  # noqa: BLE001
    print("error|%s" % e)
EOF
  )
  if [[ $target == "up|" ]]; then
    pass "scrape target healthy, no scrape error"
  else
    fail "scrape target: health|lastError = $target"
  fi

  # Every sample line of the page must be a distinct series in Prometheus: nothing dropped by the
  # scrape parser, no duplicate series.
  expect_value "samples per scrape" "scrape_samples_scraped{job=\"$JOB\"}" "$SAMPLE_LINES"
  expect_value "series ingested" "count({job=\"$JOB\",__name__!~\"up|scrape_.+\"})" "$SAMPLE_LINES"

  # The values written, exactly; min/max over all scrapes too, so no scrape ever saw another value.
  expect_value "calls written" "sum(voiceserver_calls_total{status=\"ok\"})" "$EXPECT_CALLS"
  expect_value "calls on every scrape (min)" \
    "min_over_time(voiceserver_calls_total{transport=\"sip\",status=\"ok\"}[5m])" "$EXPECT_CALLS"
  expect_value "calls on every scrape (max)" \
    "max_over_time(voiceserver_calls_total{transport=\"sip\",status=\"ok\"}[5m])" "$EXPECT_CALLS"
  expect_value "summary count" "voiceserver_e2e_first_byte_ms_count" "$EXPECT_COUNT"
  expect_value "summary sum" "voiceserver_e2e_first_byte_ms_sum" "$EXPECT_SUM"
  expect_value "gauge" "voiceserver_active_calls{transport=\"sip\"}" "$GAUGE_VALUE"
  expect_value "summary quantiles served" "count(voiceserver_e2e_first_byte_ms)" 4
  # Samples are k + 0.25 for k in 0..99: a median outside that range cannot come from them.
  expect_value "median within the observed range" \
    "count(voiceserver_e2e_first_byte_ms{quantile=\"0.5\"} >= 0.25 <= 99.25)" 1
  expect_value "histogram count" "voiceserver_test_setup_ms_count" "$EXPECT_SETUP_COUNT"
  expect_value "histogram sum" "voiceserver_test_setup_ms_sum" "$EXPECT_SETUP_SUM"
  expect_value "histogram bucket le=$LE_1000" "voiceserver_test_setup_ms_bucket{le=\"$LE_1000\"}" \
    "$EXPECT_SETUP_LE_1000"
  expect_value "histogram +Inf bucket = count" "voiceserver_test_setup_ms_bucket{le=\"+Inf\"}" \
    "$EXPECT_SETUP_COUNT"
  expect_value "histogram buckets served" "count(voiceserver_test_setup_ms_bucket)" 15
  expect_value "histogram_quantile within the bounds" \
    "count(histogram_quantile(0.5, voiceserver_test_setup_ms_bucket) > 0 <= 32000)" 1
  expect_value "live writers" "sipmetrics_writers{job=\"$JOB\"}" 1
  expect_value "no observation dropped" "voiceserver_metrics_observe_dropped_total{job=\"$JOB\"}" 0

  # Prometheus' own counters of samples it refused while ingesting.
  curl -s --max-time 5 -o "$TMP/prom_self.txt" "$PROM_URL/metrics" || true
  for m in prometheus_target_scrapes_sample_duplicate_timestamp_total \
    prometheus_target_scrapes_sample_out_of_order_total \
    prometheus_target_scrapes_sample_out_of_bounds_total; do
    v=$(page_value "$TMP/prom_self.txt" "$m")
    if [[ -n $v ]] && same_number "$v" 0; then
      pass "prometheus ingested without refusals: $m $v"
    else
      fail "prometheus: $m = '${v:-absent}', expected 0"
    fi
  done
}

echo "---- prometheus, text formats (OpenMetrics) ----"
LE_1000=1000  # as written in the text
check_server
# ---- 5. Prometheus with native histograms: the protobuf format --------------------------------------
echo "---- prometheus --enable-feature=native-histograms (protobuf) ----"
PROTO_ACCEPT='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
ctype=$(curl -s --max-time 5 -H "Accept: $PROTO_ACCEPT" -o "$TMP/scrape.pb" -w '%{content_type}' \
  "$METRICS_URL") || die "cannot fetch $METRICS_URL"
if [[ $ctype == "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited" ]]; then
  pass "Prometheus 2.42's native-histogram Accept gets protobuf ($(wc -c <"$TMP/scrape.pb") bytes)"
else
  fail "Prometheus 2.42's native-histogram Accept gets Content-Type '$ctype'"
fi
headers=$(curl -s --max-time 5 -H "Accept: $PROTO_ACCEPT" -H 'Accept-Encoding: gzip' \
  -o "$TMP/scrape.pb.gz" -D - "$METRICS_URL" | tr -d '\r') || die "cannot fetch $METRICS_URL"
if grep -qi '^content-encoding: gzip$' <<<"$headers" &&
  python3 -c 'import gzip, sys; gzip.decompress(open(sys.argv[1], "rb").read())' "$TMP/scrape.pb.gz"; then
  pass "protobuf answer gzipped when accepted"
else
  fail "protobuf answer with Accept-Encoding: gzip is not gzip"
fi
PROM_URL=$NATIVE_URL
PROM_PID=$NATIVE_PID
# From protobuf, Prometheus 2.42 writes `le` itself, in OpenMetrics' float form.
LE_1000=1000.0
check_server
# ---- 6. --base-units: the same segment served in Prometheus base units is promtool-clean -------------
stop_bg "$DAEMON_PID"
BASE_PORT=""
if start_daemon daemon-base.log -- "$DAEMON" --segment "$TMP/seg" --base-units; then
  BASE_PID=$DAEMON_PID BASE_PORT=$DAEMON_PORT
fi
if [[ -z $BASE_PORT ]]; then
  fail "sipmetricsd --base-units did not start"
else
  curl -s --max-time 5 -o "$TMP/base.txt" "http://127.0.0.1:$BASE_PORT/metrics" || true
  promtool check metrics <"$TMP/base.txt" >"$TMP/promtool-base.out" 2>&1
  rc=$?
  echo "---- promtool check metrics with --base-units (exit code $rc) ----"
  cat "$TMP/promtool-base.out"
  echo "---- end ----"
  if [[ $rc -eq 0 && ! -s $TMP/promtool-base.out ]]; then
    pass "promtool check metrics prints nothing with --base-units"
  else
    fail "promtool check metrics with --base-units: exit code $rc, output above"
  fi
  v=$(page_value "$TMP/base.txt" voiceserver_e2e_first_byte_seconds_sum)
  want=$(python3 -c "print(repr($EXPECT_SUM / 1000))")
  if [[ -n $v ]] && python3 -c "import sys; sys.exit(0 if abs(float('$v') - $want) <= 1e-9 * abs($want) else 1)"; then
    pass "--base-units: voiceserver_e2e_first_byte_seconds_sum $v = the ms sum / 1000"
  else
    fail "--base-units: voiceserver_e2e_first_byte_seconds_sum '${v:-absent}', expected $want"
  fi
  if grep -q '_ms' "$TMP/base.txt"; then fail "--base-units: an _ms name is still served"; else pass "--base-units: no _ms name served"; fi
  stop_bg "$BASE_PID"
fi

echo "test took $((SECONDS - START)) s"
finish
