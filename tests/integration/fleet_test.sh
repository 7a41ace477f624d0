#!/usr/bin/env bash
# fleet_test.sh SIPMETRICSD TEST_WORKER
#
# A fleet on one machine: three sidecars (each its own segment and port, two in region "eu",
# one in "us"), SIP workers with known E2E first-byte latencies recorded through the typed SIP
# helper with SIPMETRICS_LATENCY_HISTOGRAMS=native, a real Prometheus (Debian's `prometheus`)
# scraping the three and remote-writing to a real VictoriaMetrics (Debian's `victoria-metrics`),
# and a second Prometheus started with --enable-feature=native-histograms (protobuf scrapes).
#   1. a worker is SIGKILLed after its samples, and one sidecar is restarted mid-run: every
#      count is still exact, in both stores;
#   2. histogram_quantile over `sum by (le)` of the histogram twin's buckets, fleet-wide and per
#      region, in Prometheus and in VictoriaMetrics, lands in the bucket that holds the exact
#      quantile of all samples merged (the bucket resolution: kSipLatencyBucketsMs); and
#      histogram_quantile over `sum` of the native histogram, in the native Prometheus, lands in
#      the native bucket (schema 3: a factor of 2^(1/8)) that holds it;
#   3. the seed's summary keeps its name and exact _count beside it.
# Every process runs under `timeout` and is killed, with its process group, by the EXIT trap.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SIPMETRICSD TEST_WORKER" >&2
  exit 2
fi
DAEMON=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
WORKER=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
readonly LIFETIME=200
readonly FAMILY=voiceserver_e2e_first_byte_hist_ms

# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
source "$(dirname "$0")/../deploy/lib.sh"
need_tools prometheus:prometheus victoria-metrics:victoria-metrics curl:curl python3:python3
make_tmp fleet

# ---- The workload: what each worker observes (ms), and the exact merged distribution -------------
# host REGION SAMPLES FIRST STEP; host 1 has two workers, the second of which is SIGKILLed.
readonly -a HOST_REGION=(eu eu us)
readonly -a WORKLOAD=("0 2000 10 1" "1 1000 100 2" "1 1000 2100 2" "2 1000 3000 10")
python3 - "${WORKLOAD[@]}" >"$TMP/expected.txt" <<'EOF'
import math, sys
bounds = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, 3000, 4000, 8000, 16000, 32000]
region = ["eu", "eu", "us"]
samples = {"fleet": [], "eu": [], "us": []}
for spec in sys.argv[1:]:
    host, n, first, step = (int(x) for x in spec.split())
    for i in range(n):
        v = first + step * i
        samples["fleet"].append(v)
        samples[region[host]].append(v)
for scope, vs in samples.items():
    vs.sort()
    for q in (0.5, 0.99):
        exact = vs[math.ceil(q * len(vs)) - 1]
        hi = next(b for b in bounds if b >= exact)
        lo = max([0] + [b for b in bounds if b < hi])
        # The native bucket (schema 3) that holds it: the smallest k with exact <= 2^(k/8).
        k = math.ceil(math.log2(exact) * 8)
        while 2 ** ((k - 1) / 8) >= exact:
            k -= 1
        while 2 ** (k / 8) < exact:
            k += 1
        print(scope, q, len(vs), exact, lo, hi, 2 ** ((k - 1) / 8), 2 ** (k / 8))
EOF
TOTAL=$(awk '$1 == "fleet" { print $3; exit }' "$TMP/expected.txt")
echo "workload: $TOTAL samples; exact quantiles and their buckets:"
cat "$TMP/expected.txt"

# ---- Three sidecars ------------------------------------------------------------------------------
PORTS=()
DPIDS=()
for h in 0 1 2; do
  start_daemon "daemon$h.log" -- "$DAEMON" --segment "$TMP/seg$h" --drain-interval-ms 2 \
    --housekeeping-interval-ms 100 || die "sipmetricsd $h did not start"
  PORTS+=("$DAEMON_PORT")
  DPIDS+=("$DAEMON_PID")
done
echo "sidecars on ports ${PORTS[*]}"

WPIDS=()
for i in "${!WORKLOAD[@]}"; do
  read -r host n first step <<<"${WORKLOAD[$i]}"
  start_bg "worker$i.out" env SIPMETRICS_SEGMENT="$TMP/seg$host" SIPMETRICS_LATENCY_HISTOGRAMS=native \
    "$WORKER" --e2e-first-byte --observe "$n" --value "$first" --step "$step" --hold
  WPIDS+=("$STARTED")
done
for i in "${!WORKLOAD[@]}"; do
  deadline=$((SECONDS + 30)); while ((SECONDS < deadline)); do  # bounded: 30 s
    grep -q '^ready$' "$TMP/worker$i.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '^ready$' "$TMP/worker$i.out" || die "worker $i not ready"
done

# ---- VictoriaMetrics and Prometheus --------------------------------------------------------------
VM_PORT=$(free_port)
start_bg vm.log victoria-metrics -httpListenAddr="127.0.0.1:$VM_PORT" \
  -storageDataPath="$TMP/vm" -retentionPeriod=1 -search.latencyOffset=0s -search.disableCache \
  -loggerLevel=ERROR
VM_URL="http://127.0.0.1:$VM_PORT"
PROM_PORT=$(free_port)
PROM_URL="http://127.0.0.1:$PROM_PORT"
{
  echo "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}"
  echo "scrape_configs:"
  echo "  - job_name: sipmetrics"
  echo "    static_configs:"
  for h in 0 1 2; do
    echo "      - {targets: ['127.0.0.1:${PORTS[$h]}'], labels: {region: ${HOST_REGION[$h]}}}"
  done
  echo "remote_write:"
  echo "  - url: $VM_URL/api/v1/write"
  echo "    queue_config: {batch_send_deadline: 1s, max_shards: 1}"
} >"$TMP/prometheus.yml"
start_bg prometheus.log prometheus --config.file="$TMP/prometheus.yml" \
  --storage.tsdb.path="$TMP/tsdb" --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
# The native-histogram Prometheus: the same scrape job, protobuf scrapes, no remote_write.
NATIVE_PORT=$(free_port)
NATIVE_URL="http://127.0.0.1:$NATIVE_PORT"
sed '/^remote_write:/,$d' "$TMP/prometheus.yml" >"$TMP/prometheus-native.yml"
start_bg prometheus-native.log prometheus --enable-feature=native-histograms \
  --config.file="$TMP/prometheus-native.yml" --storage.tsdb.path="$TMP/tsdb-native" \
  --web.listen-address="127.0.0.1:$NATIVE_PORT" --log.level=warn
for url in "$VM_URL/health" "$PROM_URL/-/ready" "$NATIVE_URL/-/ready"; do
  deadline=$((SECONDS + 30)); while ((SECONDS < deadline)); do  # bounded: 30 s
    [[ $(http_code "$url") == 200 ]] && break
    sleep 0.1
  done
  [[ $(http_code "$url") == 200 ]] || die "$url not ready"
done

# ---- A SIGKILLed worker, a restarted sidecar -----------------------------------------------------
kill -KILL -- "-${WPIDS[2]}" 2>/dev/null || die "cannot SIGKILL worker 2"
sleep 2  # a few scrapes with the folded counts
stop_bg "${DPIDS[2]}"
sleep 1
start_bg daemon2-again.log env SIPMETRICSD_LISTEN="127.0.0.1:${PORTS[2]}" "$DAEMON" \
  --segment "$TMP/seg2" --drain-interval-ms 2 --housekeeping-interval-ms 100
deadline=$((SECONDS + 15)); while ((SECONDS < deadline)); do  # bounded: 15 s
  [[ $(http_code "http://127.0.0.1:${PORTS[2]}/healthz") == 200 ]] && break
  sleep 0.1
done
[[ $(http_code "http://127.0.0.1:${PORTS[2]}/healthz") == 200 ]] || die "sidecar 2 did not restart"

# ---- Queries --------------------------------------------------------------------------------------
# await_value STORE URL PROMQL WANT: polls (bounded: 60 s) until the query gives WANT.
await_value() {
  local got="" deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    got=$(prom_api_query "$2" "$3")
    [[ $got == "$4" ]] && break
    sleep 0.5
  done
  if [[ $got == "$4" ]]; then pass "$1: $3 = $got"; else fail "$1: $3 = $got, expected $4"; fi
}
# in_bucket STORE URL SCOPE Q: the store's estimate lies within the exact quantile's bucket.
in_bucket() {
  local store=$1 url=$2 scope=$3 q=$4 sel="" by="le" got
  [[ $scope != fleet ]] && sel="{region=\"$scope\"}"
  read -r _ _ _ exact lo hi nlo nhi < <(awk -v s="$scope" -v q="$q" '$1 == s && $2 == q' "$TMP/expected.txt")
  if [[ $store == "Prometheus (native)" ]]; then
    got=$(prom_api_query "$url" "histogram_quantile($q, sum(${FAMILY}$sel))")
    lo=$nlo hi=$nhi
  else
    got=$(prom_api_query "$url" "histogram_quantile($q, sum by ($by) (${FAMILY}_bucket$sel))")
  fi
  if python3 -c "import sys; g = float('$got'); sys.exit(0 if $lo * (1 - 1e-9) <= g <= $hi * (1 + 1e-9) else 1)" 2>/dev/null; then
    pass "$store: P$(python3 -c "print(round($q * 100))") $scope = $got, in the bucket ($lo, $hi] of the exact $exact"
  else
    fail "$store: P$q $scope = $got, not in the bucket ($lo, $hi] of the exact $exact"
  fi
}

for store in Prometheus VictoriaMetrics; do
  url=$PROM_URL
  [[ $store == VictoriaMetrics ]] && url=$VM_URL
  await_value "$store" "$url" "sum(${FAMILY}_count)" "$TOTAL"
  await_value "$store" "$url" "sum(${FAMILY}_bucket{le=\"+Inf\"})" "$TOTAL"
  await_value "$store" "$url" "sum(voiceserver_e2e_first_byte_ms_count)" "$TOTAL"
  await_value "$store" "$url" "sum(${FAMILY}_count{region=\"eu\"})" 4000
  for scope in fleet eu us; do
    for q in 0.5 0.99; do in_bucket "$store" "$url" "$scope" "$q"; done
  done
done
# Native: no _bucket or _count series; the histogram itself, summed across the sidecars.
await_value "Prometheus (native)" "$NATIVE_URL" "histogram_count(sum(${FAMILY}))" "$TOTAL"
await_value "Prometheus (native)" "$NATIVE_URL" "histogram_count(sum(${FAMILY}{region=\"eu\"}))" 4000
# Stored as native histograms: Prometheus ignores their classic buckets.
await_value "Prometheus (native)" "$NATIVE_URL" "count(${FAMILY}_bucket)" none
for scope in fleet eu us; do
  for q in 0.5 0.99; do in_bucket "Prometheus (native)" "$NATIVE_URL" "$scope" "$q"; done
done
finish
