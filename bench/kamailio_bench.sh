#!/usr/bin/env bash
# Head to head in one Kamailio: the same sipp load through the same configuration
# (bench/kamailio/bench.cfg) with no metrics, with xhttp_prom and with sipmetrics, at several
# series counts, scraped once a second; and the same again with the routing in a KEMI Lua script
# (bench/kamailio/bench_kemi.cfg, bench_kemi.lua: modes kemi_*), where each metric is called as a
# Lua-scripted Kamailio calls it. A benchmark, not a test: it prints a table and never fails on a
# figure.
#
#   bench/kamailio_bench.sh [BUILD_DIR]            (./run bench-kamailio)
#
# BUILD_DIR (default build-kbench, Release) gets sipmetricsd and the Lua module, built when
# missing. Installs kamailio, kamailio-lua-modules, kamailio-extra-modules (xhttp_prom) and
# sip-tester with apt-get when missing (root or sudo).
#
# Each cell: sipmetricsd (sipmetrics only) and Kamailio 5.6 (4 UDP workers) start on free loopback
# ports; a sipp UAS answers; a warm-up load lets every worker resolve its series; then a sipp UAC
# places RATE calls a second for DURATION seconds (INVITE, 200, ACK, BYE, 200: 3 requests a call)
# while curl scrapes /metrics once a second. Measured over the load:
#   Kamailio CPU      utime+stime of all Kamailio processes (/proc/PID/stat), per SIP request
#   metric cost       that minus the median of the no-metrics runs
#   daemon CPU        sipmetricsd's utime+stime per SIP request (sipmetrics only)
#   SIP p50/p99       sipp's response times (-trace_rtt): INVITE to 200 and BYE to 200, pooled
#   scrape            curl's time_total per scrape, p50 and max, and the page size
# Each mode and series count runs REPEATS times, interleaved; the table shows medians (and the
# range of the metric cost), then the cost per update: the slope between a mode's K-update and
# one-update runs (kamailio_bench_stats.py).
#
# Environment: KBENCH_DURATION (15 s), KBENCH_RATE (500 calls/s), KBENCH_REPEATS (2),
# KBENCH_SERIES ("1 1000 10000"), KBENCH_MODES ("none xhttp_prom xhttp_prom:10 sipmetrics
# sipmetrics:50 app_lua app_lua:50 kemi_none kemi_xhttp_prom kemi_xhttp_prom:10 kemi_sipmetrics
# kemi_sipmetrics:2000"; MODE:K repeats the update K times per request, to resolve a cost per
# update below the run-to-run noise of a whole request; xhttp_prom:K is skipped from 10,000 series,
# where 10 updates a request overload Kamailio; app_lua is the same lua_run() into an empty Lua
# function and, like none, runs once a round; kemi_none, kemi_xhttp_prom[:K] and
# kemi_sipmetrics[:K] are the KEMI-routed runs, each against kemi_none), KBENCH_WARMUP
# (2 s), KBENCH_OUT (a directory for the raw results; default a temporary one, removed unless
# set).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/bench/kamailio
BUILD=$(realpath -m "${1:-$ROOT/build-kbench}")
DURATION=${KBENCH_DURATION:-15}
RATE=${KBENCH_RATE:-500}
REPEATS=${KBENCH_REPEATS:-2}
SERIES_LIST=${KBENCH_SERIES:-"1 1000 10000"}
MODES=${KBENCH_MODES:-"none xhttp_prom xhttp_prom:10 sipmetrics sipmetrics:50 app_lua app_lua:50 kemi_none kemi_xhttp_prom kemi_xhttp_prom:10 kemi_sipmetrics kemi_sipmetrics:2000"}
WARMUP=${KBENCH_WARMUP:-2}

say() { echo "kamailio_bench: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- Tools ------------------------------------------------------------------------------------------
AS_ROOT=()
[[ $(id -u) -eq 0 ]] || AS_ROOT=(sudo)
apt_install() {
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive "${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" \
    >/dev/null ||
    { "${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq &&
      DEBIAN_FRONTEND=noninteractive "${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
        "$@" >/dev/null; } || die "cannot install $*"
}
MPATH=/usr/lib/x86_64-linux-gnu/kamailio/modules
missing=()
command -v kamailio >/dev/null || missing+=(kamailio)
[[ -e $MPATH/app_lua.so ]] || missing+=(kamailio-lua-modules)
[[ -e $MPATH/xhttp_prom.so ]] || missing+=(kamailio-extra-modules)
command -v sipp >/dev/null || missing+=(sip-tester)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
[[ -e $MPATH/xhttp_prom.so ]] || MPATH=$(dirname "$(find /usr/lib -path '*kamailio/modules/xhttp_prom.so' -print -quit)")
kamailio -v | head -1 | grep -q 'kamailio 5\.' || die "not Kamailio 5: $(kamailio -v | head -1)"
# The package's own service, where an init system started it, is not ours to share ports with.
if command -v systemctl >/dev/null && systemctl is-active --quiet kamailio 2>/dev/null; then
  "${AS_ROOT[@]}" systemctl disable --now kamailio || die "cannot stop the kamailio service"
fi

LUA_MOD=$BUILD/bindings/lua/sipmetrics.so
if [[ ! -x $BUILD/sipmetricsd || ! -e $LUA_MOD ]]; then
  "$ROOT/scripts/install-deps.sh"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSIPMETRICS_BUILD_TESTS=OFF \
    -DSIPMETRICS_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target sipmetricsd sipmetrics_lua >/dev/null
fi

# ---- Scratch, and only what this script started is stopped ---------------------------------------
OUT=${KBENCH_OUT:-}
if [[ -n $OUT ]]; then mkdir -p "$OUT"; else OUT=$(mktemp -d "${TMPDIR:-/tmp}/kbench-XXXXXX"); fi
PIDS=()
stop() {  # PID...: TERM, then KILL after 5 s
  local p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
cleanup() {
  ((${#PIDS[@]} == 0)) || stop "${PIDS[@]}"
  [[ -n ${KBENCH_OUT:-} ]] || rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_ports() {  # N: N distinct free ports on 127.0.0.1 (UDP and TCP), bound at once
  python3 -c 'import socket, sys
socks = []
while len(socks) < int(sys.argv[1]):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", u.getsockname()[1]))
    except OSError:
        continue
    socks += [(u, t)]
print(" ".join(str(u.getsockname()[1]) for u, _ in socks))' "$1"
}
udp_bound() {  # PORT: a UDP socket is bound to 127.0.0.1:PORT
  awk -v p="$(printf '%04X' "$1")" 'NR > 1 { split($2, a, ":"); if (a[2] == p) n++ } END { exit !n }' \
    /proc/net/udp
}
cpu_ticks() {  # PGID: utime+stime of every process in the group
  local f sum=0 fields
  for f in /proc/[0-9]*/stat; do
    fields=$(cat "$f" 2>/dev/null) || continue
    fields=${fields##*) }
    read -r -a s <<<"$fields"
    # After the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    [[ ${s[2]} == "$1" ]] && sum=$((sum + s[11] + s[12]))
  done
  echo "$sum"
}
await() {  # SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
series_served() {  # URL: sample lines of bench_requests in the page
  { curl -s --max-time 10 "$1" || true; } | grep -cE '^(kamailio_)?bench_requests' || true
}
populated() {  # URL SERIES: the page has SERIES bench_requests series
  (($(series_served "$1") >= $2))
}

# ---- One cell ---------------------------------------------------------------------------------------
# run_cell MODE[:UPDATES] SERIES REP: appends one line to $OUT/cells.tsv
run_cell() {
  local mode=${1%%:*} updates=1 series=$2 rep=$3 dir sip http uas uac dport kam daemon="" uasp url="" scraper="" \
    c0 c1 d0=0 d1=0 t0 t1 rc=0 calls
  [[ $1 != *:* ]] || updates=${1#*:}
  dir=$OUT/$mode-$updates-$series-$rep
  mkdir -p "$dir"
  read -r sip http uas uac dport < <(free_ports 5)
  sed "s/UAS_PORT/$uas/g" "$HERE/uac.xml" >"$dir/uac.xml"
  local -a defs=(-A SIP_PORT="$sip" -A SERIES="$series" -A UPDATES="$updates")
  local cfg=$HERE/bench.cfg kind=$mode
  # kemi_*: the same proxy routed by a KEMI Lua script, the metric chosen in its environment.
  if [[ $mode == kemi_* ]]; then
    cfg=$HERE/bench_kemi.cfg kind=${mode#kemi_}
    defs=(-A SIP_PORT="$sip" -A BENCH_LUA="\"$HERE/bench_kemi.lua\"")
  fi
  case $kind in
    none) ;;
    xhttp_prom)
      defs+=(-A WITH_XHTTP_PROM -A HTTP_PORT="$http")
      url=http://127.0.0.1:$http/metrics ;;
    app_lua) defs+=(-A WITH_APP_LUA -A BENCH_LUA="\"$HERE/bench.lua\"") ;;
    sipmetrics)
      [[ $mode == kemi_* ]] || defs+=(-A WITH_SIPMETRICS -A BENCH_LUA="\"$HERE/bench.lua\"")
      url=http://127.0.0.1:$dport/metrics
      # Room for 10,000 series of one family in the segment and on the page.
      setsid "$BUILD/sipmetricsd" --listen "127.0.0.1:$dport" --segment "$dir/seg" \
        --max-writers 32 --lane-pool 48 --max-series 16384 --max-cells 16384 \
        --family-series-limit 12000 --max-series-per-family 12000 --arena-kib 4096 \
        --ring-capacity 1024 >"$dir/daemon.log" 2>&1 &
      daemon=$!
      PIDS+=("$daemon")
      await 10 curl -sf -o /dev/null "http://127.0.0.1:$dport/healthz" ||
        { say "sipmetricsd did not start: $(tail -1 "$dir/daemon.log")"; return 1; }
      ;;
  esac
  mkdir -p "$dir/run"
  SIPMETRICS_SEGMENT=$dir/seg BENCH_SERIES=$series BENCH_UPDATES=$updates BENCH_METRICS=$kind \
    LUA_CPATH="$(dirname "$LUA_MOD")/?.so" LUA_PATH="" \
    setsid kamailio -DD -E -x tlsf -m 256 -M 16 -f "$cfg" -L "$MPATH" "${defs[@]}" \
    -Y "$dir/run" -P "$dir/run/pid" -w "$dir/run" >"$dir/kamailio.log" 2>&1 &
  kam=$!
  PIDS+=("$kam")
  await 30 udp_bound "$sip" ||
    { say "Kamailio did not start ($mode): $(grep -m1 -E 'ERROR|CRITICAL' "$dir/kamailio.log")"; return 1; }
  (cd "$dir" && exec sipp -sf "$HERE/uas.xml" -i 127.0.0.1 -p "$uas" -nostdin -bind_local \
    -timeout "$((DURATION + WARMUP + 120))s" >uas.log 2>&1) &
  uasp=$!
  PIDS+=("$uasp")
  await 10 udp_bound "$uas" || { say "no sipp UAS: $(tail -1 "$dir/uas.log")"; return 1; }
  # Warm-up: every worker resolves its handles (sipmetrics) before the measured load.
  (cd "$dir" && sipp -sf "$dir/uac.xml" -i 127.0.0.1 -p "$uac" "127.0.0.1:$sip" -nostdin \
    -r "$RATE" -m "$((RATE * WARMUP))" -timeout 60s >warmup.log 2>&1) || say "warm-up calls failed ($mode $series)"
  if [[ -n $url ]]; then
    await 60 populated "$url" "$series" ||
      die "$mode: /metrics has $(series_served "$url") bench_requests series, want $series"
    # Once a second for the whole load: duration and size of each scrape.
    (while :; do
       curl -s -o /dev/null --max-time 5 -w '%{time_total} %{size_download} %{http_code}\n' "$url" || echo "- 0 000"
       sleep 1
     done >"$dir/scrapes.txt") &
    scraper=$!
    PIDS+=("$scraper")
  fi
  calls=$((RATE * DURATION))
  c0=$(cpu_ticks "$kam")
  [[ -z $daemon ]] || d0=$(cpu_ticks "$daemon")
  t0=$(date +%s.%N)
  (cd "$dir" && exec sipp -sf "$dir/uac.xml" -i 127.0.0.1 -p "$uac" "127.0.0.1:$sip" -nostdin \
    -r "$RATE" -m "$calls" -timeout "$((DURATION + 60))s" -trace_rtt -rtt_freq 100 \
    -trace_stat -fd 1 >uac.log 2>&1) || rc=$?
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$kam")
  [[ -z $daemon ]] || d1=$(cpu_ticks "$daemon")
  # The scraper first, so that no scrape meets a daemon on its way out.
  [[ -z $scraper ]] || stop "$scraper"
  local -a mine=("$uasp" "$kam")
  [[ -z $daemon ]] || mine+=("$daemon")
  stop "${mine[@]}"
  PIDS=()
  python3 "$ROOT/bench/kamailio_bench_stats.py" cell "$dir" --mode "$mode" --updates "$updates" \
    --series "$series" --rep "$rep" --calls "$calls" --sipp-rc "$rc" --cpu-ticks "$((c1 - c0))" \
    --daemon-ticks "$((d1 - d0))" --hz "$(getconf CLK_TCK)" \
    --wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >>"$OUT/cells.tsv"
  say "$(tail -1 "$OUT/cells.tsv")"
}

# cell MODE SERIES REP: run_cell, again on other ports (up to 3 times) when a port picked free was
# taken before the cell bound it.
cell() {
  for _ in 1 2 3; do
    run_cell "$@" && return 0
    ((${#PIDS[@]} == 0)) || stop "${PIDS[@]}"
    PIDS=()
    rm -rf "$OUT/${1%%:*}-"*"-$2-$3"
  done
  die "$1 at $2 series did not start 3 times"
}

# ---- The matrix -------------------------------------------------------------------------------------
say "$REPEATS x modes {$MODES} x series {$SERIES_LIST}, $RATE calls/s for $DURATION s; raw results in $OUT"
: >"$OUT/cells.tsv"
{
  echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "$(kamailio -v | head -1), $(sipp -v 2>&1 | grep -o 'SIPp v[0-9.]*' | head -1), $RATE calls/s for $DURATION s, $REPEATS rounds"
} >"$OUT/machine.txt"
for rep in $(seq "$REPEATS"); do
  # The no-metrics baseline at the start and at the end of each round; it and app_lua have no
  # series.
  for base in none kemi_none; do
    [[ " $MODES " != *" $base "* ]] || cell "$base" 0 "$rep.a"
  done
  for mode in $MODES; do
    [[ $mode != app_lua* ]] || cell "$mode" 0 "$rep"
  done
  for series in $SERIES_LIST; do
    for mode in $MODES; do
      [[ $mode == none || $mode == kemi_none || $mode == app_lua* ]] && continue
      [[ $mode == *xhttp_prom:* && $series -ge 10000 ]] && continue
      cell "$mode" "$series" "$rep"
    done
  done
  for base in none kemi_none; do
    [[ " $MODES " != *" $base "* ]] || cell "$base" 0 "$rep.b"
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
python3 "$ROOT/bench/kamailio_bench_stats.py" table "$OUT/cells.tsv" --machine "$OUT/machine.txt"
