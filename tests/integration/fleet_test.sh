#!/usr/bin/env bash
# fleet_test.sh SIPMETRICSD TEST_WORKER
#
# A fleet on one machine, configured by the blocks of README.md's "Fleets" section: three
# sidecars (each its own segment and port, two in region "eu", one in "us"), SIP workers with
# known E2E first-byte latencies recorded through the typed SIP helper with
# SIPMETRICS_LATENCY_HISTOGRAMS=native, and real Debian servers: one Prometheus per region
# (blocks fleet-scrape and fleet-remote-write, with deploy/prometheus/sipmetrics.rules.yml beside
# it) remote-writing to one VictoriaMetrics, a global Prometheus federating the two (block
# fleet-federate), and a Prometheus started with --enable-feature=native-histograms scraping
# the three sidecars in protobuf.
#   0. the README blocks are used as they are, but for what makes them run on loopback: a 1 s
#      `global:` section put before them; in fleet-scrape, the `targets:` list replaced by the
#      region's loopback sidecars and the `region:` value by the region's name; in the others,
#      each HOST.example.net:PORT replaced by a loopback address. Each replacement must match
#      exactly once and no example.net may remain; `promtool check config` passes on each file;
#   1. the workers observe their samples once before the Prometheus servers start and once more
#      after each regional one has scraped its sidecars (so bucket rates see the second round,
#      the same distribution); then a worker is SIGKILLed and one sidecar restarted: every count
#      is still exact, in both regional Prometheus servers and in VictoriaMetrics;
#   2. quantile estimates land in the bucket that holds the exact quantile of all samples merged
#      (the bucket resolution: kSipLatencyBucketsMs): per region in each regional Prometheus
#      from the raw buckets, from the recorded bucket rates and from the README's fleet-promql
#      block; fleet-wide and per region in VictoriaMetrics from the raw buckets; fleet-wide and
#      per region in the global Prometheus from the federated recorded rates, through the
#      README's fleet-global-promql block. The federated per-region estimate thereby agrees
#      with the regional one within the bucket resolution. The native-histogram Prometheus
#      stores the twin as a native histogram (no _bucket series), its histogram_count is exact,
#      and histogram_quantile over `sum`, fleet-wide and per region, lands in the native bucket
#      (schema 3, a factor of 2^(1/8)) that holds the exact quantile;
#   3. the seed's summary keeps its name and exact _count beside it.
# Every process runs under `timeout` and is killed, with its process group, by the EXIT trap.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SIPMETRICSD TEST_WORKER" >&2
  exit 2
fi
DAEMON=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
WORKER=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
readonly LIFETIME=200
readonly FAMILY=voiceserver_e2e_first_byte_hist_ms
readonly RATES=job_region_le:${FAMILY}_bucket:rate5m  # recorded by sipmetrics.rules.yml

# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
source "$(dirname "$0")/../deploy/lib.sh"
START=$SECONDS
need_tools prometheus:prometheus promtool:prometheus victoria-metrics:victoria-metrics \
  curl:curl python3:python3
make_tmp fleet

# ---- The workload: what each worker observes (ms), and the exact merged distribution -------------
# host REGION SAMPLES FIRST STEP; host 1 has two workers, the second of which is SIGKILLed.
# Every worker observes its samples twice (two rounds), so each count below is doubled.
readonly -a HOST_REGION=(eu eu us)
readonly -a WORKLOAD=("0 2000 10 1" "1 1000 100 2" "1 1000 2100 2" "2 1000 3000 10")
readonly -a BOUNDS=(5 10 25 50 100 250 500 1000 2000 3000 4000 8000 16000 32000)  # kSipLatencyBucketsMs
python3 - "${BOUNDS[*]}" "${WORKLOAD[@]}" >"$TMP/expected.txt" <<'EOF'
import math, sys
bounds = [int(b) for b in sys.argv[1].split()]
region = ["eu", "eu", "us"]
samples = {"fleet": [], "eu": [], "us": []}
for spec in sys.argv[2:]:
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
samples_in() { awk -v s="$1" '$1 == s { print $3; exit }' "$TMP/expected.txt"; }
TOTAL=$(samples_in fleet)
echo "workload: $TOTAL samples a round; exact quantiles and their buckets:"
cat "$TMP/expected.txt"

# ---- The README blocks ---------------------------------------------------------------------------
README=$SRC/README.md
for b in fleet-scrape fleet-remote-write fleet-federate fleet-promql fleet-global-promql; do
  readme_block "$README" "$b" >"$TMP/$b.block" || die "README.md has no block '$b'"
done
# localize BLOCK OUT PATTERN REPLACEMENT...: BLOCK with each Python regex PATTERN replaced by its
# REPLACEMENT, each of which must match exactly once, after the test's 1 s `global:` section.
localize() {
  local block=$1 out=$2
  shift 2
  python3 - "$TMP/$block.block" "$@" >"$TMP/$out" <<'EOF' || return 1
import re, sys
text, args = open(sys.argv[1]).read(), sys.argv[2:]
for pattern, repl in zip(args[::2], args[1::2]):
    text, n = re.subn(pattern, repl, text)
    if n != 1:
        sys.exit(f"{sys.argv[1]}: /{pattern}/ matched {n} times, not once")
print("global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}")
print(text, end="")
EOF
  if grep -n 'example\.net' "$TMP/$out"; then
    echo "$out: an example host was not replaced"
    return 1
  fi
}

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
# await_rounds N: every worker has printed `ready` N times (bounded: 30 s).
await_rounds() {
  local i deadline
  for i in "${!WORKLOAD[@]}"; do
    deadline=$((SECONDS + 30)); while ((SECONDS < deadline)); do
      (($(grep -c '^ready$' "$TMP/worker$i.out" 2>/dev/null || true) >= $1)) && break
      sleep 0.1
    done
    (($(grep -c '^ready$' "$TMP/worker$i.out" || true) >= $1)) || die "worker $i: not ready $1 times"
  done
}
await_rounds 1

# ---- VictoriaMetrics, a Prometheus per region, a global Prometheus -------------------------------
VM_PORT=$(free_port)
VM_URL="http://127.0.0.1:$VM_PORT"
start_bg vm.log victoria-metrics -httpListenAddr="127.0.0.1:$VM_PORT" \
  -storageDataPath="$TMP/vm" -retentionPeriod=1 -search.latencyOffset=0s -search.disableCache \
  -loggerLevel=ERROR
cp "$SRC/deploy/prometheus/sipmetrics.rules.yml" "$TMP/"
declare -A PROM_URL PROM_PORT PROM_PID
for r in eu us global; do
  PROM_PORT[$r]=$(free_port)
  PROM_URL[$r]="http://127.0.0.1:${PROM_PORT[$r]}"
done
for r in eu us; do
  targets=()
  for h in 0 1 2; do [[ ${HOST_REGION[$h]} == "$r" ]] && targets+=("127.0.0.1:${PORTS[$h]}"); done
  list=$(IFS=,; echo "${targets[*]}")
  localize fleet-scrape "scrape-$r.yml" '(- targets: )\[[^]\n]*\]' "\\1[${list//,/, }]" \
    '(\bregion: )eu\b' "\\g<1>$r" || die "README block fleet-scrape cannot be localized"
  localize fleet-remote-write "remote-write-$r.yml" '\bvictoriametrics\.example\.net:8428\b' \
    "127.0.0.1:$VM_PORT" || die "README block fleet-remote-write cannot be localized"
  { cat "$TMP/scrape-$r.yml"; sed 1d "$TMP/remote-write-$r.yml"; } >"$TMP/prometheus-$r.yml"
done
localize fleet-federate prometheus-global.yml \
  '\bprometheus\.eu\.example\.net:9090\b' "127.0.0.1:${PROM_PORT[eu]}" \
  '\bprometheus\.us\.example\.net:9090\b' "127.0.0.1:${PROM_PORT[us]}" ||
  die "README block fleet-federate cannot be localized"
for r in eu us global; do
  if (cd "$TMP" && promtool check config "prometheus-$r.yml") >"$TMP/promtool-$r.out" 2>&1; then
    pass "promtool check config: the README blocks as the $r Prometheus' prometheus.yml"
  else
    fail "promtool check config prometheus-$r.yml:"
    sed 's/^/    /' "$TMP/promtool-$r.out"
    cat "$TMP/prometheus-$r.yml"
  fi
  start_bg "prometheus-$r.log" prometheus --config.file="$TMP/prometheus-$r.yml" \
    --storage.tsdb.path="$TMP/tsdb-$r" --web.listen-address="127.0.0.1:${PROM_PORT[$r]}" \
    --log.level=warn
  PROM_PID[$r]=$STARTED
done
# The native-histogram Prometheus: every sidecar with its region, protobuf scrapes.
NATIVE_PORT=$(free_port)
NATIVE_URL="http://127.0.0.1:$NATIVE_PORT"
{
  echo "global: {scrape_interval: 1s, scrape_timeout: 1s}"
  echo "scrape_configs:"
  echo "  - job_name: sipmetrics"
  echo "    static_configs:"
  for h in 0 1 2; do
    echo "      - {targets: ['127.0.0.1:${PORTS[$h]}'], labels: {region: ${HOST_REGION[$h]}}}"
  done
} >"$TMP/prometheus-native.yml"
start_bg prometheus-native.log prometheus --enable-feature=native-histograms \
  --config.file="$TMP/prometheus-native.yml" --storage.tsdb.path="$TMP/tsdb-native" \
  --web.listen-address="127.0.0.1:$NATIVE_PORT" --log.level=warn
NATIVE_PID=$STARTED
for url in "$VM_URL/health" "${PROM_URL[eu]}/-/ready" "${PROM_URL[us]}/-/ready" \
  "${PROM_URL[global]}/-/ready" "$NATIVE_URL/-/ready"; do
  deadline=$((SECONDS + 30)); while ((SECONDS < deadline)); do  # bounded: 30 s
    [[ $(http_code "$url") == 200 ]] && break
    sleep 0.1
  done
  [[ $(http_code "$url") == 200 ]] || die "$url not ready"
done

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
within() {  # VALUE LO HI: VALUE is a number in [LO, HI]
  awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v ~ /^[0-9.]+(e[+-]?[0-9]+)?$/ && lo <= v + 0 && v + 0 <= hi) }'
}
# in_bucket STORE URL SCOPE Q PROMQL [LABEL]: polls (bounded: 30 s; recorded and federated rates
# follow the scrapes by a rule evaluation and a federation scrape) until the query's value lies
# within the bucket of the exact quantile (its native bucket when STORE ends in "(native)").
# With LABEL, the query gives one series per value of LABEL and the one whose LABEL is SCOPE
# counts.
in_bucket() {
  local store=$1 url=$2 scope=$3 q=$4 expr=$5 label=${6:-} got="" lo hi exact deadline=$((SECONDS + 30))
  local nlo nhi
  read -r _ _ _ exact lo hi nlo nhi < <(awk -v s="$scope" -v q="$q" '$1 == s && $2 == q' "$TMP/expected.txt")
  [[ $store == *"(native)" ]] && lo=$nlo hi=$nhi
  while ((SECONDS < deadline)); do
    if [[ -n $label ]]; then
      got=$(prom_api_vector "$url" "$expr" "$label" | awk -v s="$scope" '$1 == s { print $2 }')
    else
      got=$(prom_api_query "$url" "$expr")
    fi
    within "$got" "$lo" "$hi" && break
    sleep 0.5
  done
  if within "$got" "$lo" "$hi"; then
    pass "$store: P$(awk -v q="$q" 'BEGIN { printf "%d", q * 100 + 0.5 }') $scope = $got, in the bucket ($lo, $hi] of the exact $exact: $expr"
  else
    fail "$store: P$q $scope = ${got:-none}, not in the bucket ($lo, $hi] of the exact $exact: $expr"
  fi
}

# ---- A second round once each regional Prometheus has scraped; a SIGKILLed worker, a restart ----
for r in eu us; do
  n=0
  for h in 0 1 2; do [[ ${HOST_REGION[$h]} == "$r" ]] && n=$((n + 1)); done
  await_value "Prometheus $r" "${PROM_URL[$r]}" "count(${FAMILY}_count{job=\"sipmetrics\",region=\"$r\"})" "$n"
done
for i in "${!WPIDS[@]}"; do  # the worker itself (the child of its `timeout`), not its group
  wpid=$(awk '{ print $1 }' "/proc/${WPIDS[$i]}/task/${WPIDS[$i]}/children" 2>/dev/null || true)
  if [[ -z $wpid ]] || ! kill -USR1 "$wpid"; then die "worker $i: no process to signal"; fi
done
await_rounds 2
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

# ---- 1 and 3: exact counts ------------------------------------------------------------------------
for store in eu us VictoriaMetrics; do
  url=$VM_URL scope=fleet name=$store
  [[ $store != VictoriaMetrics ]] && url=${PROM_URL[$store]} scope=$store name="Prometheus $store"
  want=$((2 * $(samples_in "$scope")))
  await_value "$name" "$url" "sum(${FAMILY}_count)" "$want"
  await_value "$name" "$url" "sum(${FAMILY}_bucket{le=\"+Inf\"})" "$want"
  await_value "$name" "$url" "sum(voiceserver_e2e_first_byte_ms_count)" "$want"
done
await_value VictoriaMetrics "$VM_URL" "sum(${FAMILY}_count{region=\"eu\"})" $((2 * $(samples_in eu)))

# ---- 2: quantiles ---------------------------------------------------------------------------------
README_PROMQL=$(grep -v '^[[:space:]]*$' "$TMP/fleet-promql.block")
mapfile -t GLOBAL_PROMQL < <(grep -v '^[[:space:]]*$' "$TMP/fleet-global-promql.block")
[[ $README_PROMQL == *0.99* && $(wc -l <<<"$README_PROMQL") -eq 1 ]] ||
  fail "README block fleet-promql: one P99 query expected, got: $README_PROMQL"
[[ ${#GLOBAL_PROMQL[@]} -eq 2 && ${GLOBAL_PROMQL[0]} == *0.99* && ${GLOBAL_PROMQL[1]} == *"by (job, region, le)"* ]] ||
  fail "README block fleet-global-promql: a fleet-wide and a per-region P99 query expected"
for r in eu us; do
  for q in 0.5 0.99; do
    in_bucket "Prometheus $r (raw buckets)" "${PROM_URL[$r]}" "$r" "$q" \
      "histogram_quantile($q, sum by (le) (${FAMILY}_bucket))"
    in_bucket "Prometheus $r (recorded rates)" "${PROM_URL[$r]}" "$r" "$q" "histogram_quantile($q, $RATES)"
  done
  in_bucket "Prometheus $r (README fleet-promql)" "${PROM_URL[$r]}" "$r" 0.99 "$README_PROMQL"
done
for scope in fleet eu us; do
  sel=""
  [[ $scope != fleet ]] && sel="{region=\"$scope\"}"
  for q in 0.5 0.99; do
    in_bucket VictoriaMetrics "$VM_URL" "$scope" "$q" "histogram_quantile($q, sum by (le) (${FAMILY}_bucket$sel))"
  done
done
# The global Prometheus: what federation brought (one series per region and bucket, with the
# regional job and region labels: honor_labels), then the quantiles from it.
G=${PROM_URL[global]}
await_value "global Prometheus" "$G" "count($RATES)" $((2 * (${#BOUNDS[@]} + 1)))
await_value "global Prometheus" "$G" "count($RATES{job=\"sipmetrics\",region=\"eu\"})" $((${#BOUNDS[@]} + 1))
in_bucket "global Prometheus (README fleet-global-promql)" "$G" fleet 0.99 "${GLOBAL_PROMQL[0]}"
in_bucket "global Prometheus" "$G" fleet 0.5 "histogram_quantile(0.5, sum by (job, le) ($RATES))"
for r in eu us; do
  in_bucket "global Prometheus (README fleet-global-promql)" "$G" "$r" 0.99 "${GLOBAL_PROMQL[1]}" region
  in_bucket "global Prometheus" "$G" "$r" 0.5 "histogram_quantile(0.5, sum by (job, le) ($RATES{region=\"$r\"}))"
done

# The native-histogram Prometheus: no _bucket or _count series, the histogram itself, summed.
N="Prometheus (native)"
await_value "$N" "$NATIVE_URL" "histogram_count(sum(${FAMILY}))" $((2 * $(samples_in fleet)))
await_value "$N" "$NATIVE_URL" "histogram_count(sum(${FAMILY}{region=\"eu\"}))" $((2 * $(samples_in eu)))
await_value "$N" "$NATIVE_URL" "count(${FAMILY}_bucket)" none  # stored native only
for scope in fleet eu us; do
  sel=""
  [[ $scope != fleet ]] && sel="{region=\"$scope\"}"
  for q in 0.5 0.99; do
    in_bucket "$N" "$NATIVE_URL" "$scope" "$q" "histogram_quantile($q, sum(${FAMILY}$sel))"
  done
done

# The Prometheus servers stop first: on SIGTERM they flush their remote_write queues, which
# would wait for a VictoriaMetrics stopped at the same time.
for r in global eu us; do stop_bg "${PROM_PID[$r]}"; done
stop_bg "$NATIVE_PID"
echo "test took $((SECONDS - START)) s"
finish
