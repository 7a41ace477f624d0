#!/usr/bin/env bash
# fork_test.sh SIPMETRICSD FORK_WORKER
# Handles resolved through the C API before fork() write into each child's own writer slot:
# two children of c_api_fork_worker, N increments each, exact on the real daemon's /metrics
# (counter, SUM and MAX gauges, summary _count and _sum, every sample of a histogram with a
# negative, a NaN and an infinite observation per child, a SIP helper family). Once the parent
# and its children are gone the counts stay (folded into retained totals) and the gauges leave.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 SIPMETRICSD FORK_WORKER" >&2; exit 2; }
DAEMON=$(realpath "$1") WORKER=$(realpath "$2")
LIFETIME=100
# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
source "$(dirname "$0")/../deploy/lib.sh"
readonly N=200000 SAMPLES=1000
make_tmp c-api-fork
SEG=$TMP/seg

start_daemon daemon.log -- "$DAEMON" --segment "$SEG" --housekeeping-interval-ms 50 ||
  die "sipmetricsd did not start"
start_bg worker.out env SIPMETRICS_SEGMENT="$SEG" "$WORKER" "$N" "$SAMPLES"
WORKER_PID=$STARTED
deadline=$((SECONDS + 30))
until grep -q '^ready' "$TMP/worker.out" 2>/dev/null; do
  ((SECONDS < deadline)) && kill -0 "$WORKER_PID" 2>/dev/null || die "the fork worker never got ready"
  sleep 0.05
done

# await KEY WANT: polls /metrics until KEY has the value WANT (10 s), then passes or fails.
await() {
  local v="" deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    v=$(metric_value "$DAEMON_PORT" "$1")
    [[ $v == "$2" ]] && break
    sleep 0.05
  done
  [[ $v == "$2" ]] && pass "$1 $2" || fail "$1 is '$v', want $2"
}
await 'capi_fork_total{transport="sip"}' $((2 * N))
await capi_fork_active 2
await capi_fork_peak 20
await capi_fork_ms_count $((2 * SAMPLES))
await capi_fork_ms_sum $((3 * SAMPLES))
# Child 0 observes SAMPLES x 1, child 1 SAMPLES x 2; each also -1 (first bucket), NaN and +Inf
# (+Inf bucket), none of which adds to _sum.
await 'capi_fork_hist_ms_bucket{transport="sip",le="1"}' $((SAMPLES + 2))
await 'capi_fork_hist_ms_bucket{transport="sip",le="2"}' $((2 * SAMPLES + 2))
await 'capi_fork_hist_ms_bucket{transport="sip",le="+Inf"}' $((2 * SAMPLES + 6))
await 'capi_fork_hist_ms_count{transport="sip"}' $((2 * SAMPLES + 6))
await 'capi_fork_hist_ms_sum{transport="sip"}' $((3 * SAMPLES))
await 'sip_invite_result_total{code_class="4xx",direction="inbound"}' 3
await 'sip_invite_result_total{code_class="2xx",direction="inbound"}' 0
await sipmetrics_writers 2  # the children; the parent only resolved, it never claimed a slot

stop_bg "$WORKER_PID"  # the parent; its children see the pipe close and exit
await 'capi_fork_total{transport="sip"}' $((2 * N))
await capi_fork_ms_count $((2 * SAMPLES))
await 'capi_fork_hist_ms_bucket{transport="sip",le="2"}' $((2 * SAMPLES + 2))
await 'capi_fork_hist_ms_count{transport="sip"}' $((2 * SAMPLES + 6))
await capi_fork_active 0
finish
