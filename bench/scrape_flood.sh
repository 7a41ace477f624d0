#!/usr/bin/env bash
# Scrape flood: wrk hammers /metrics on loopback while a worker process counts on the hot path.
# Prints the daemon's memory and threads before and after, the scrape rate and latency, and the
# worker's increments per second without and with the flood (per wall second and per CPU second:
# on a shared machine the first also measures CPU contention, the second only the hot path).
#
#   bench/scrape_flood.sh [--duration S] [--connections C] [--series N] [--no-pin] [--check]
#                         SIPMETRICSD TEST_WORKER
#
# SIPMETRICSD and TEST_WORKER are build/sipmetricsd and build/tests/sipmetrics-test-worker.
# --series N (default 200) registers that many extra series first, so /metrics has a realistic
# size (about 100 bytes a series).
# With two CPUs or more (and taskset), the worker runs on CPU 0 and the daemon and wrk on CPU 1,
# so that the comparison is about the hot path and not about sharing a core; --no-pin turns that
# off. --check makes it a test: exit 1 unless the daemon's RSS stays under $RSS_LIMIT_KB
# (default 65536), its thread count does not change, every scrape succeeds and the counter is
# exact afterwards. wrk comes from Debian's package, installed if missing (root or sudo).
set -euo pipefail

duration=10 connections=8 series_extra=200 check=0 pin=1
while [ $# -gt 2 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --series) series_extra=$2; shift 2 ;;
    --check) check=1; shift ;;
    --no-pin) pin=0; shift ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { sed -n '2,19p' "$0" >&2; exit 2; }
daemon_bin=$(realpath "$1") worker_bin=$(realpath "$2")
rss_limit_kb=${RSS_LIMIT_KB:-65536}

if ! command -v wrk >/dev/null; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "scrape_flood: installing wrk (Debian package)" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends wrk >/dev/null ||
    { DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq &&
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends wrk >/dev/null; }
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/sipmetrics-flood-XXXXXX")
daemon_pid=""
cleanup() {
  # Only the daemon this script started, by its pid.
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

cpu_worker=() cpu_other=()
if [ "$pin" -eq 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  cpu_worker=(taskset -c 0) cpu_other=(taskset -c 1)
fi

segment=$dir/segment
series='voiceserver_calls_total{transport=sip,status=ok}'
env -u SIPMETRICS_SEGMENT_GROUP "${cpu_other[@]}" "$daemon_bin" --segment "$segment" --listen 127.0.0.1:0 \
  --housekeeping-interval-ms 50 --log-level info 2>"$dir/daemon.log" &
daemon_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*serving http:\/\/127\.0\.0\.1:\([0-9]*\)\/metrics.*/\1/p' "$dir/daemon.log")
  [ -n "$port" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "scrape_flood: sipmetricsd did not come up:" >&2; cat "$dir/daemon.log" >&2; exit 1; }
url=http://127.0.0.1:$port/metrics

status() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# Runs the worker for $1 increments; prints "wall_seconds cpu_seconds".
count() {
  local TIMEFORMAT='%R %U' t
  t=$( { time SIPMETRICS_SEGMENT=$segment "${cpu_worker[@]}" "$worker_bin" --counter "$series" \
           --increments "$1" >/dev/null; } 2>&1 )
  echo "$t"
}
if [ "$series_extra" -gt 0 ]; then
  args=()
  for i in $(seq "$series_extra"); do args+=(--counter "bench_flood_series_total{instance=i$i,kind=k$((i % 7))}@1"); done
  SIPMETRICS_SEGMENT=$segment "$worker_bin" "${args[@]}" --increments 1 >/dev/null
fi
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
total=0

# Calibrate: increments that take about $duration seconds of one CPU (a little less).
read -r _ cal_cpu <<<"$(count 200000000)"
total=$((total + 200000000))
n=$(awk -v c="$cal_cpu" -v d="$duration" 'BEGIN { r = (c > 0.01 ? 2e8 / c : 1e9); printf "%.0f", r * d * 0.8 }')

for _ in 1 2 3; do curl -s -o /dev/null "$url"; done
rss_before=$(status "$daemon_pid" VmRSS)
threads_before=$(status "$daemon_pid" Threads)

read -r base_wall base_cpu <<<"$(count "$n")"
total=$((total + n))

# The flood lasts exactly as long as the flooded worker runs: wrk stops and reports on SIGINT.
"${cpu_other[@]}" wrk -t2 -c"$connections" -d"$((duration * 6))s" --latency "$url" >"$dir/wrk.out" 2>&1 &
wrk_pid=$!
sleep 0.5  # let the flood start first
read -r flood_wall flood_cpu <<<"$(count "$n")"
total=$((total + n))
rss_during=$(status "$daemon_pid" VmRSS)
kill -INT "$wrk_pid" 2>/dev/null || true
wait "$wrk_pid" || true
rss_after=$(status "$daemon_pid" VmRSS)
hwm_after=$(status "$daemon_pid" VmHWM)
threads_after=$(status "$daemon_pid" Threads)

# The counter must be exact: every worker has exited and been folded into the retained totals.
want=$total got=""
for _ in $(seq 100); do
  got=$(curl -s "$url" | awk '$1 == "voiceserver_calls_total{status=\"ok\",transport=\"sip\"}" { print $2 }')
  [ "$got" = "$want" ] && break
  sleep 0.1
done

req_s=$(awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk.out")
requests=$(awk '/requests in/ { print $1 }' "$dir/wrk.out")
flood_s=$(awk '/requests in/ { sub(/,$/, "", $4); print $4 }' "$dir/wrk.out")
lat_avg=$(awk '$1 == "Latency" && NF >= 4 { print $2; exit }' "$dir/wrk.out")
lat_p50=$(awk '$1 == "50%" { print $2 }' "$dir/wrk.out")
lat_p99=$(awk '$1 == "99%" { print $2 }' "$dir/wrk.out")
errors=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { for (i = 3; i <= NF; i += 2) n += $(i + 1) } END { print n + 0 }' "$dir/wrk.out")
bytes=$(curl -s "$url" | wc -c)

cat <<EOF
scrape flood: wrk -t2 -c$connections $url (exposition $bytes bytes)${cpu_worker:+, worker on CPU 0, daemon and wrk on CPU 1}
  scrapes          ${requests:-?} in ${flood_s:-?} = ${req_s:-?}/s; latency avg ${lat_avg:-?}, p50 ${lat_p50:-?}, p99 ${lat_p99:-?}; failed $errors
  daemon RSS       ${rss_before} KiB before, ${rss_during} KiB during, ${rss_after} KiB after (peak ${hwm_after} KiB)
  daemon threads   ${threads_before} before, ${threads_after} after
  worker, alone    $(rate "$n" "$base_wall") increments/s (wall), $(rate "$n" "$base_cpu") per CPU second
  worker, flooded  $(rate "$n" "$flood_wall") increments/s (wall), $(rate "$n" "$flood_cpu") per CPU second
  counter          $got, expected $want
EOF

if [ "$check" -eq 1 ]; then
  fail=0
  kill -0 "$daemon_pid" 2>/dev/null || { echo "FAIL: sipmetricsd died" >&2; fail=1; }
  [ "${hwm_after:-0}" -lt "$rss_limit_kb" ] || { echo "FAIL: daemon peak RSS ${hwm_after} KiB >= ${rss_limit_kb} KiB" >&2; fail=1; }
  [ "$threads_before" = "$threads_after" ] || { echo "FAIL: daemon threads ${threads_before} -> ${threads_after}" >&2; fail=1; }
  [ "$errors" -eq 0 ] || { echo "FAIL: $errors scrapes failed" >&2; fail=1; }
  [ "${requests:-0}" -gt 0 ] || { echo "FAIL: wrk made no requests:" >&2; cat "$dir/wrk.out" >&2; fail=1; }
  [ "$got" = "$want" ] || { echo "FAIL: counter $got, expected $want" >&2; fail=1; }
  if grep -qE "Sanitizer|critical|error" "$dir/daemon.log"; then
    echo "FAIL: the daemon logged errors:" >&2; cat "$dir/daemon.log" >&2; fail=1
  fi
  exit "$fail"
fi
