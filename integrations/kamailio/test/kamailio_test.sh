#!/usr/bin/env bash
# kamailio_test.sh SIPMETRICSD MODULE_DIR [lua|python]
# Kamailio 5.6 with integrations/kamailio/kamailio.cfg under real SIP traffic from sipp,
# everything on 127.0.0.1 (free UDP ports), against the real sipmetricsd. The engine:
#   lua      (the default) app_lua and sipmetrics.lua; MODULE_DIR holds the Lua module
#            sipmetrics.so (LUA_CPATH)
#   python   app_python3 and sipmetrics_kamailio.py (kamailio -A WITH_PYTHON); MODULE_DIR holds
#            the Python module sipmetrics.cpython-*.so (PYTHONPATH)
#   UAS: answer (180, 200, then the caller's BYE), busy (486), unavailable (503, which Kamailio
#        relays as 500), silent (never answers: Kamailio's fr_timer gives the caller a local 408)
#   UAC: uac.xml through Kamailio's "inbound" and "outbound" ports, the R-URI user and port of
#        each call from an injection file (ok/busy/fail/slow), so Kamailio routes by R-URI port
#   1. /metrics equals exactly what the UACs' counts files report, per direction and response
#      class, transaction timeouts per method, BYEs, calls, post-dial delay samples (the summary's
#      and the histogram's _count, the histogram's +Inf bucket); no other SIP helper series moves;
#      the histogram's buckets are cumulative on kSipLatencyBucketsMs' bounds and its _count and
#      _sum are the summary's; active calls are back at 0; the writers are named by process;
#      Kamailio runs the engine asked for and logged no script error
#   2. with calls held up and new calls arriving, Kamailio's whole process group is SIGKILLed:
#      no count scraped before the kill is lost, the dead processes' active calls leave the
#      gauge, and a restarted Kamailio changes nothing until it proxies again
#   3. the restarted Kamailio counts on top: every family moves by exactly sipp's new counts
# Installs kamailio, sip-tester and the engine's packages (kamailio-lua-modules and lua5.1, or
# kamailio-python3-modules) with apt-get when missing.
set -euo pipefail
usage() { echo "usage: $0 SIPMETRICSD MODULE_DIR [lua|python]" >&2; exit 2; }
[[ $# -eq 2 || $# -eq 3 ]] || usage
DAEMON=$(realpath "$1") MODULE_DIR=$(realpath "$2") ENGINE=${3:-lua}
case $ENGINE in
  lua) APP=app_lua APP_PKG=kamailio-lua-modules ;;
  python) APP=app_python3 APP_PKG=kamailio-python3-modules ;;
  *) usage ;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)
KAM=$(cd "$HERE/.." && pwd)
LIFETIME=150
# shellcheck source-path=SCRIPTDIR source=../../../tests/deploy/lib.sh
source "$HERE/../../../tests/deploy/lib.sh"
readonly START=$SECONDS

# ---- Tools: Debian's kamailio (app_lua in kamailio-lua-modules, app_python3 in -------------------
# ---- kamailio-python3-modules) and sipp (sip-tester) ----------------------------------------------
if [[ $ENGINE == lua ]]; then
  need_tools kamailio:kamailio sipp:sip-tester lua5.1:lua5.1 curl:curl python3:python3
else
  need_tools kamailio:kamailio sipp:sip-tester curl:curl python3:python3
fi
APP_SO=/usr/lib/x86_64-linux-gnu/kamailio/modules/$APP.so
if [[ ! -e $APP_SO ]]; then
  APP_SO=$(find /usr/lib -path "*kamailio/modules/$APP.so" -print -quit 2>/dev/null || true)
fi
if [[ -z $APP_SO || ! -e $APP_SO ]]; then
  as_root_init || die "need root or sudo to install $APP_PKG"
  timeout 420 "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
    --no-install-recommends "$APP_PKG" ||
    { timeout 420 "${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=300 update || true
      timeout 420 "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
        --no-install-recommends "$APP_PKG"; } || die "cannot install $APP_PKG"
  APP_SO=$(find /usr/lib -path "*kamailio/modules/$APP.so" -print -quit)
fi
MPATH=$(dirname "$APP_SO")
# The package's own service, where an init system started it, is not ours to share ports with.
if command -v systemctl >/dev/null && systemctl is-active --quiet kamailio 2>/dev/null; then
  "${AS_ROOT[@]}" systemctl disable --now kamailio || die "cannot stop the kamailio service"
fi
kamailio -v | head -1 | grep -q 'kamailio 5\.' || die "not Kamailio 5: $(kamailio -v | head -1)"

make_tmp kamailio
cp "$HERE"/*.xml "$TMP/"
SEG=$TMP/seg
# Eleven distinct free UDP ports on 127.0.0.1, all bound at once so none is handed out twice.
read -r SIP_IN SIP_OUT UAS_OK UAS_BUSY UAS_FAIL UAS_SILENT UAC_IN UAC_OUT UAC_HOLD UAC_LOAD UAC_AFTER \
  < <(python3 -c 'import socket
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(11)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
FR_TIMER_MS=1500

start_daemon daemon.log -- "$DAEMON" --segment "$SEG" --housekeeping-interval-ms 50 ||
  die "sipmetricsd did not start"

# ---- Kamailio ---------------------------------------------------------------------------------------
# Listening UDP sockets on 127.0.0.1:PORT, from /proc/net/udp.
udp_bound() {
  python3 -c 'import sys
port = int(sys.argv[1])
print(sum(1 for r in open("/proc/net/udp").read().splitlines()[1:]
          if int(r.split()[1].rsplit(":", 1)[1], 16) == port))' "$1"
}
# The engine's environment and defines: where its sipmetrics module and our script are.
if [[ $ENGINE == lua ]]; then
  ENGINE_ENV=(LUA_CPATH="$MODULE_DIR/?.so" LUA_PATH="" SIPMETRICS_KAMAILIO_LUA="$KAM/sipmetrics.lua")
  ENGINE_DEFS=()
else
  # No bytecode cache written next to the script in the source tree.
  ENGINE_ENV=(PYTHONPATH="$MODULE_DIR" PYTHONDONTWRITEBYTECODE=1
              SIPMETRICS_KAMAILIO_PY="$KAM/sipmetrics_kamailio.py")
  ENGINE_DEFS=(-A WITH_PYTHON)
fi
start_kamailio() {  # LOG
  local rundir=$TMP/run-$1 deadline
  mkdir -p "$rundir"
  start_bg "$1" env SIPMETRICS_SEGMENT="$SEG" "${ENGINE_ENV[@]}" \
    kamailio -DD -E -f "$KAM/kamailio.cfg" -L "$MPATH" "${ENGINE_DEFS[@]}" -A SIP_IN_PORT="$SIP_IN" \
    -A SIP_OUT_PORT="$SIP_OUT" -A FR_TIMER_MS="$FR_TIMER_MS" -Y "$rundir" -P "$rundir/pid" -w "$rundir"
  KAM_PID=$STARTED
  deadline=$((SECONDS + 20))
  until [[ -s $rundir/pid && $(udp_bound "$SIP_IN") -gt 0 && $(udp_bound "$SIP_OUT") -gt 0 ]]; do
    ((SECONDS < deadline)) && kill -0 "$KAM_PID" 2>/dev/null || die "Kamailio did not start ($1)"
    sleep 0.1
  done
  pass "Kamailio up on 127.0.0.1:$SIP_IN (inbound) and :$SIP_OUT (outbound), pid $(cat "$rundir/pid")"
  grep -q "/$APP\.so\$" "/proc/$(cat "$rundir/pid")/maps" && pass "Kamailio runs $APP" ||
    fail "Kamailio has not loaded $APP.so"
}
# script_errors LOG: the lines of Kamailio's log where the engine reports a failed script call.
script_errors() {
  grep -E "ERROR: ($APP|<script>)|Traceback|Error:|lua_run|apy_exec" "$TMP/$1" || true
}
for port in "$SIP_IN" "$SIP_OUT"; do
  [[ $(udp_bound "$port") == 0 ]] || die "UDP port $port is already bound"
done
start_kamailio kamailio-1.log

# ---- The UAS side ---------------------------------------------------------------------------------
uas() {  # LOG SCENARIO PORT [sipp options]
  local log=$1 sf=$2 port=$3
  shift 3
  start_bg "$log" sipp -sf "$TMP/$sf" -i 127.0.0.1 -p "$port" -nostdin -timeout "${LIFETIME}s" "$@"
}
uas uas-answer.log uas_answer.xml "$UAS_OK"
uas uas-busy.log uas_busy.xml "$UAS_BUSY"
uas uas-unavailable.log uas_unavailable.xml "$UAS_FAIL"
uas uas-silent.log uas_silent.xml "$UAS_SILENT" -d 10000
for port in "$UAS_OK" "$UAS_BUSY" "$UAS_FAIL" "$UAS_SILENT"; do
  deadline=$((SECONDS + 10))
  until [[ $(udp_bound "$port") -gt 0 ]]; do
    ((SECONDS < deadline)) || die "no sipp UAS on port $port"
    sleep 0.05
  done
done

# calls FILE KIND COUNT ...: an injection file (SEQUENTIAL) of COUNT calls of each KIND, kinds
# interleaved so that every kind is in flight at once.
calls() {
  local file=$1 i more
  shift
  local -a kinds=() counts=()
  while (($#)); do kinds+=("$1"); counts+=("$2"); shift 2; done
  echo SEQUENTIAL >"$file"
  more=1
  while ((more)); do
    more=0
    for i in "${!kinds[@]}"; do
      ((counts[i] > 0)) || continue
      case ${kinds[i]} in
        ok) echo "ok;$UAS_OK" ;; busy) echo "busy;$UAS_BUSY" ;;
        fail) echo "fail;$UAS_FAIL" ;; slow) echo "slow;$UAS_SILENT" ;;
      esac >>"$file"
      counts[i]=$((counts[i] - 1))
      more=1
    done
  done
}
# uac LOG PORT KAMAILIO_PORT CALLS_FILE COUNT HOLD_MS [sipp options]: a UAC in its own directory
# (its counts file is $TMP/LOG.d/uac_<pid>_counts.csv).
uac() {
  local log=$1 port=$2 kport=$3 file=$4 n=$5 hold=$6
  shift 6
  mkdir -p "$TMP/$log.d"
  LOGS+=("$log")
  (cd "$TMP/$log.d" && exec timeout -k 5 "$LIFETIME" sipp -sf "$TMP/uac.xml" -inf "$file" \
    -i 127.0.0.1 -p "$port" "127.0.0.1:$kport" -m "$n" -d "$hold" -nostdin -trace_counts \
    -fd 1 "$@") >"$TMP/$log" 2>&1 &
  STARTED=$!
  PIDS+=("$STARTED")
}
# count LOG COLUMN: the last value of COLUMN (e.g. 3_200_Recv) in the UAC's counts file.
count() {
  local f
  f=$(ls "$TMP/$1.d"/uac_*_counts.csv 2>/dev/null | head -1)
  [[ -n $f ]] || { echo "no counts file for $1" >&2; echo -1; return; }
  awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    { v = $c } END { print (c && v != "") ? v : -1 }' "$f"
}
# Columns of uac.xml's steps in sipp's counts file (all of them, used or not).
# shellcheck disable=SC2034
C_INVITE=0_INVITE_Sent C_100=1_100_Recv C_180=2_180_Recv C_200=3_200_Recv C_486=4_486_Recv \
  C_500=5_500_Recv C_408=6_408_Recv C_BYE=10_BYE_Sent C_BYE_200=11_200_Recv

# Sample lines of the SIP helper families and sip_post_dial_delay_ms, sip_post_dial_delay_hist_ms
# (no quantiles), sorted.
samples() {
  { curl -s --max-time 5 "http://127.0.0.1:$DAEMON_PORT/metrics" || true; } |
    awk '$0 !~ /^#/ && $1 ~ /^(sip_|voiceserver_)/ && $1 !~ /^voiceserver_metrics_/ &&
         $1 !~ /quantile=/ { print $1, $2 }' | LC_ALL=C sort
}
value() {  # SAMPLES KEY: the value of KEY in SAMPLES, 0 when absent
  awk -v k="$2" '$1 == k { v = $2 } END { print (v == "") ? 0 : v }' <<<"$1"
}
await_value() {  # KEY WANT SECONDS
  local v="" deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    v=$(metric_value "$DAEMON_PORT" "$1")
    [[ $v == "$2" ]] && return 0
    sleep 0.1
  done
  echo "    $1 is '$v', want $2"
  return 1
}

# want_from BASE UAC_IN_LOG UAC_OUT_LOG: the non-zero samples (without post-dial delay sums)
# that BASE (the samples before the UACs ran) plus the UACs' counts predict, sorted. An empty
# log name stands for a UAC that did not run.
want_from() {
  local base=$1 in=$2 out=$3 d log by
  {
    for d in inbound outbound; do
      log=$in by=remote
      [[ $d == outbound ]] && log=$out by=local
      [[ -n $log ]] || continue
      echo "sip_invite_result_total{code_class=\"2xx\",direction=\"$d\"} $(count "$log" $C_200)"
      echo "sip_invite_result_total{code_class=\"4xx\",direction=\"$d\"} $(($(count "$log" $C_486) + $(count "$log" $C_408)))"
      echo "sip_invite_result_total{code_class=\"5xx\",direction=\"$d\"} $(count "$log" $C_500)"
      echo "sip_bye_total{by=\"$by\",direction=\"$d\",reason_class=\"user-hangup\"} $(count "$log" $C_BYE)"
      # One sample per call answered (its first 18x or 2xx; a 180 may reach sipp after the 200).
      echo "sip_post_dial_delay_ms_count{direction=\"$d\"} $(count "$log" $C_200)"
      echo "sip_post_dial_delay_hist_ms_count{direction=\"$d\"} $(count "$log" $C_200)"
      echo "sip_post_dial_delay_hist_ms_bucket{direction=\"$d\",le=\"+Inf\"} $(count "$log" $C_200)"
      echo "sip_transaction_timeout_total{method=\"INVITE\"} $(count "$log" $C_408)"
      echo "voiceserver_calls_total{status=\"ok\",transport=\"sip\"} $(count "$log" $C_BYE)"
    done
    nonzero <<<"$base"
  } | awk '{ v[$1] += $2 } END { for (k in v) if (v[k] != 0) print k, v[k] }' | LC_ALL=C sort
}
nonzero() {  # the non-zero samples of STDIN except post-dial delay sums and finite buckets (timings)
  awk '$2 != "0" && $2 != "NaN" && $1 !~ /^sip_post_dial_delay_(hist_)?ms_sum/ &&
       !($1 ~ /^sip_post_dial_delay_hist_ms_bucket/ && $1 !~ /le="\+Inf"/)' | LC_ALL=C sort
}
# check_pdd_hist WHAT SAMPLES: per direction, sip_post_dial_delay_hist_ms has a bucket at each of
# kSipLatencyBucketsMs' 14 bounds and +Inf, cumulative (never decreasing), the +Inf one equal to
# its _count, which equals the summary's _count; its _sum is the summary's (the same samples).
check_pdd_hist() {
  local out
  if out=$(python3 -c '
import re, sys
want_le = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, 3000, 4000, 8000, 16000, 32000]
v = {}
for line in sys.stdin.read().splitlines():
    key, value = line.split(" ")
    v[key] = float(value)
bad, notes = [], []
for d in ("inbound", "outbound"):
    pat = re.compile(r"sip_post_dial_delay_hist_ms_bucket\{direction=\"%s\",le=\"([^\"]+)\"\}$" % d)
    b = {m.group(1): val for k, val in v.items() for m in [pat.match(k)] if m}
    finite = sorted((float(le), n) for le, n in b.items() if le != "+Inf")
    if [le for le, _ in finite] != want_le or "+Inf" not in b:
        bad.append(f"{d}: buckets le={sorted(b)}")
        continue
    inf = b["+Inf"]
    counts = [n for _, n in finite] + [inf]
    if any(a > c for a, c in zip(counts, counts[1:])):
        bad.append(f"{d}: not cumulative: {counts}")
    hc = v.get(f"sip_post_dial_delay_hist_ms_count{{direction=\"{d}\"}}")
    sc = v.get(f"sip_post_dial_delay_ms_count{{direction=\"{d}\"}}")
    hs = v.get(f"sip_post_dial_delay_hist_ms_sum{{direction=\"{d}\"}}")
    ss = v.get(f"sip_post_dial_delay_ms_sum{{direction=\"{d}\"}}")
    if not (inf == hc == sc):
        bad.append(f"{d}: +Inf bucket {inf}, histogram _count {hc}, summary _count {sc}")
    if hs is None or ss is None or abs(hs - ss) > 1e-6 * max(1.0, abs(ss)):
        bad.append(f"{d}: histogram _sum {hs}, summary _sum {ss}")
    notes.append(f"{d} {int(inf)} samples, {int(counts[0])} of them at most 5 ms")
print("; ".join(bad) if bad else ", ".join(notes))
sys.exit(1 if bad else 0)' <<<"$2"); then
    pass "$1: post-dial delay histogram cumulative, its _count and _sum the summary's ($out)"
  else
    fail "$1: post-dial delay histogram: $out"
  fi
}
# await_samples WANT: until the non-zero samples equal WANT (15 s); then pass or show the diff.
await_samples() {
  local what=$1 want=$2 got="" deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    got=$(samples | nonzero)
    [[ $got == "$want" ]] && break
    sleep 0.2
  done
  if [[ $got == "$want" ]]; then
    pass "$what: /metrics equals sipp's counts ($(wc -l <<<"$want") non-zero samples)"
  else
    fail "$what: /metrics differs from sipp's counts (< want from sipp, > /metrics):"
    diff <(echo "$want") <(echo "$got") | sed 's/^/    /' || true
  fi
}
sipp_ok() {  # LOG PID: sipp exited 0 (every call ran its scenario to the end)
  if wait "$2"; then pass "sipp $1: every call completed"; else fail "sipp $1 exited non-zero"; fi
}

# ---- 1. Load: counts equal sipp's ------------------------------------------------------------------
base=$(samples)
calls "$TMP/in.csv" ok 16 busy 6 fail 5 slow 3
calls "$TMP/out.csv" ok 8 busy 3 fail 2 slow 2
uac uac-in.log "$UAC_IN" "$SIP_IN" "$TMP/in.csv" 30 200 -r 20 -l 20
IN_PID=$STARTED
uac uac-out.log "$UAC_OUT" "$SIP_OUT" "$TMP/out.csv" 15 200 -r 10 -l 10
OUT_PID=$STARTED
sipp_ok uac-in "$IN_PID"
sipp_ok uac-out "$OUT_PID"
[[ $(count uac-in.log $C_INVITE) == 30 && $(count uac-out.log $C_INVITE) == 15 ]] &&
  pass "the UACs sent 30 and 15 INVITEs" || fail "INVITEs sent: $(count uac-in.log $C_INVITE), $(count uac-out.log $C_INVITE)"
[[ $(count uac-in.log $C_408) == 3 && $(count uac-in.log $C_500) == 5 && $(count uac-in.log $C_486) == 6 &&
   $(count uac-in.log $C_200) == 16 ]] && pass "inbound: 16 x 200, 6 x 486, 5 x 500, 3 x 408 as routed" ||
  fail "inbound responses: 200 $(count uac-in.log $C_200), 486 $(count uac-in.log $C_486), 500 $(count uac-in.log $C_500), 408 $(count uac-in.log $C_408)"
want=$(want_from "$base" uac-in.log uac-out.log)
await_samples "after the load" "$want"
await_value 'voiceserver_active_calls{transport="sip"}' 0 10 && pass "active calls back at 0" ||
  fail "active calls not back at 0"
check_pdd_hist "after the load" "$(samples)"
sum=$(value "$(samples)" 'sip_post_dial_delay_ms_sum{direction="inbound"}')
awk -v s="$sum" 'BEGIN { exit !(s > 0 && s < 16 * 1000) }' &&
  pass "post-dial delay: 16 inbound samples summing $sum ms" || fail "post-dial delay sum $sum"
page=$(curl -s --max-time 5 "http://127.0.0.1:$DAEMON_PORT/")
named=$({ grep -o -E 'kamailio-(udp|timer)-[0-9]+' <<<"$page" || true; } | sort -u | wc -l)
((named >= 2)) && pass "$named Kamailio processes attached, each named kamailio-<proto>-<pid>" ||
  fail "Kamailio writers named kamailio-<proto>-<pid>: $named"
# The timeouts are reported from the timer process, which attaches as kamailio-timer-<pid>.
timers=$({ grep -o -E 'kamailio-timer-[0-9]+' <<<"$page" || true; } | sort -u | wc -l)
((timers >= 1)) && pass "the timer process attached as kamailio-timer-<pid> ($timers)" ||
  fail "no writer named kamailio-timer-<pid>"
errors=$(script_errors kamailio-1.log)
[[ -z $errors ]] && pass "no $ENGINE script error in Kamailio's log" ||
  { fail "$ENGINE script errors in Kamailio's log:"; head -20 <<<"$errors" | sed 's/^/    /'; }

# ---- 2. SIGKILL mid-load ---------------------------------------------------------------------------
calls "$TMP/hold.csv" ok 4
uac uac-hold.log "$UAC_HOLD" "$SIP_IN" "$TMP/hold.csv" 4 60000 -r 20
HOLD_PID=$STARTED
await_value 'voiceserver_active_calls{transport="sip"}' 4 15 && pass "4 calls held up" ||
  die "the held calls never became active"
calls "$TMP/load.csv" ok 400 busy 400
uac uac-load.log "$UAC_LOAD" "$SIP_IN" "$TMP/load.csv" 800 100 -r 25
LOAD_PID=$STARTED
deadline=$((SECONDS + 15))
until (($(count uac-load.log $C_200) >= 5)); do
  ((SECONDS < deadline)) || die "the background load never got going"
  sleep 0.1
done
before=$(samples)
active=$(value "$before" 'voiceserver_active_calls{transport="sip"}')
kill -KILL -- "-$KAM_PID" 2>/dev/null || die "cannot SIGKILL Kamailio's process group"
wait "$KAM_PID" 2>/dev/null || true
pass "Kamailio's process group SIGKILLed with $active calls active and calls arriving"
stop_bg "$LOAD_PID"
stop_bg "$HOLD_PID"
await_value 'voiceserver_active_calls{transport="sip"}' 0 10 &&
  pass "the dead processes' active calls left the gauge" || fail "active calls stay after the kill"
after=$(samples)
lost=0
while read -r key v; do
  a=$(value "$after" "$key")
  if ! awk -v a="$a" -v b="$v" 'BEGIN { exit !(a >= b) }'; then
    fail "after the kill $key is $a, below the $v scraped before it"
    lost=1
  fi
done < <(grep -v '^voiceserver_active_calls' <<<"$before")
((lost)) || pass "every count scraped before the kill is kept ($(wc -l <<<"$before") samples)"
check_pdd_hist "after the kill" "$after"
[[ $(value "$after" 'sip_invite_result_total{code_class="2xx",direction="inbound"}') -gt \
   $(value "$base" 'sip_invite_result_total{code_class="2xx",direction="inbound"}') ]] || fail "no 2xx counted"

start_kamailio kamailio-2.log
sleep 1
restarted=$(samples)
[[ $(nonzero <<<"$restarted") == "$(nonzero <<<"$after")" ]] &&
  pass "the restarted Kamailio changed no count" ||
  { fail "counts changed across the restart:"; diff <(nonzero <<<"$after") <(nonzero <<<"$restarted") | sed 's/^/    /' || true; }

# ---- 3. The restarted Kamailio counts on top -----------------------------------------------------
calls "$TMP/after.csv" ok 6 busy 2 fail 2 slow 2
uac uac-after.log "$UAC_AFTER" "$SIP_IN" "$TMP/after.csv" 12 100 -r 20
sipp_ok uac-after "$STARTED"
want=$(want_from "$restarted" uac-after.log "")
await_samples "after the restart" "$want"
check_pdd_hist "after the restart" "$(samples)"
await_value 'voiceserver_active_calls{transport="sip"}' 0 10 && pass "active calls back at 0" ||
  fail "active calls not back at 0 after the restart"
errors=$(script_errors kamailio-2.log)
[[ -z $errors ]] && pass "no $ENGINE script error in the restarted Kamailio's log" ||
  { fail "$ENGINE script errors in the restarted Kamailio's log:"; head -20 <<<"$errors" | sed 's/^/    /'; }
echo "kamailio_test ($ENGINE): $((SECONDS - START)) s"
finish
