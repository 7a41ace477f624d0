#!/usr/bin/env bash
# lua_test.sh SIPMETRICSD MODULE_DIR VERSION
# The Lua module in plain lua5.1 against the real daemon: lua_test.lua checks errors, statuses
# and detached no-ops in-process, then writes series through every function of the module
# (handles, histograms with every bucket, registry-style calls, every SIP helper with every enum
# value, global and explicit clients); /metrics must then hold exactly lua_test.expected: those
# samples with those values, and every other sample of the SIP helper families at 0. The writer
# name given to open() is on the daemon's page; once the script exits its counts stay and its
# gauges leave.
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 SIPMETRICSD MODULE_DIR VERSION" >&2; exit 2; }
DAEMON=$(realpath "$1") MODULE_DIR=$(realpath "$2") VERSION=$3
HERE=$(cd "$(dirname "$0")" && pwd)
LIFETIME=60
# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
source "$HERE/../deploy/lib.sh"
need_tools lua5.1:lua5.1 curl:curl
make_tmp lua
SEG=$TMP/seg

start_daemon daemon.log -- "$DAEMON" --segment "$SEG" --housekeeping-interval-ms 50 ||
  die "sipmetricsd did not start"
mkfifo "$TMP/stdin"
exec 3<>"$TMP/stdin"  # held open read-write: the script's io.read() waits for our line
start_bg lua.out env SIPMETRICS_SEGMENT="$SEG" LUA_CPATH="$MODULE_DIR/?.so" LUA_PATH="" \
  bash -c 'exec env ${SIPMETRICS_TEST_PRELOAD:+LD_PRELOAD=$SIPMETRICS_TEST_PRELOAD} lua5.1 "$0" "$1" <"$2"' \
  "$HERE/lua_test.lua" "$VERSION" "$TMP/stdin"
LUA_PID=$STARTED
deadline=$((SECONDS + 20))
until grep -q -E '^(ready|failed)' "$TMP/lua.out" 2>/dev/null; do
  ((SECONDS < deadline)) && kill -0 "$LUA_PID" 2>/dev/null || die "lua_test.lua never got ready"
  sleep 0.05
done
checks=$(grep -c -E '^ok - ' "$TMP/lua.out" || true)
if grep -q '^not ok' "$TMP/lua.out"; then
  fail "in-process checks:"
  grep '^not ok' "$TMP/lua.out" | sed 's/^/    /'
else
  pass "lua_test.lua: $checks in-process checks"
fi
((checks >= 74)) || fail "only $checks in-process checks ran"

# Sample lines (no comments, no quantiles) whose names match the regex $1, sorted.
samples() {
  { curl -s --max-time 5 "http://127.0.0.1:$DAEMON_PORT/metrics" || true; } |
    awk -v re="^($1)" '$0 !~ /^#/ && $1 ~ re && $1 !~ /quantile=/ { print $1, $2 }' | LC_ALL=C sort
}
nonzero() { awk '$2 != "0" && $2 != "NaN"' | grep -v '^voiceserver_metrics_' || true; }
want=$(cat "$HERE/lua_test.expected")
got=""
deadline=$((SECONDS + 10))
while ((SECONDS < deadline)); do
  got=$(samples 'lua_|sip_|voiceserver_' | nonzero)
  [[ $got == "$want" ]] && break
  sleep 0.1
done
if [[ $got == "$want" ]]; then
  pass "/metrics: exactly the $(wc -l <<<"$want") non-zero samples of lua_test.expected"
else
  fail "/metrics differs from lua_test.expected (< want, > got):"
  diff <(echo "$want") <(echo "$got") | sed 's/^/    /' || true
fi
helpers=$(samples 'sip_|voiceserver_' | grep -v '^voiceserver_metrics_' || true)
zeros=$(awk '$2 == "0"' <<<"$helpers" | wc -l)
# 92 helper series: 88 counters and gauges (one sample each) and 4 + 3 summaries (_sum, _count).
total=$(wc -l <<<"$helpers")
[[ $total == 99 ]] && pass "the SIP helper families expose 99 samples ($zeros at 0)" ||
  fail "the SIP helper families expose $total samples, want 99"
grep -q 'lua_detached' <<<"$(samples 'lua_')" && fail "a detached client's series reached /metrics"
[[ $(curl -s --max-time 5 "http://127.0.0.1:$DAEMON_PORT/") == *lua-test-writer* ]] &&
  pass "the daemon's page names the writer 'lua-test-writer'" ||
  fail "the daemon's page does not name the writer 'lua-test-writer'"

echo done >&3
wait "$LUA_PID" && pass "lua_test.lua exited 0" || fail "lua_test.lua exited non-zero"
await_value() {  # KEY WANT
  local v="" deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    v=$(metric_value "$DAEMON_PORT" "$1")
    [[ $v == "$2" ]] && break
    sleep 0.05
  done
  [[ $v == "$2" ]] && pass "after exit: $1 $2" || fail "after exit: $1 is '$v', want $2"
}
await_value 'voiceserver_active_calls{transport="webrtc"}' 0
await_value lua_queue_depth 0
await_value 'lua_requests_total{method="INVITE",transport="udp"}' 42
await_value 'sip_invite_result_total{code_class="4xx",direction="inbound"}' 2
await_value 'lua_pdd_hist_ms_bucket{direction="inbound",le="3000"}' 2
await_value 'lua_small_hist_count' 8
finish
