#!/usr/bin/env bash
# The landing page at / in a real browser: headless Chromium (Debian's package, installed here
# when missing) loads it from a daemon serving a live writer and a crashed one (housekeeping
# slowed down so the dead writer is still unfolded), and the rendered DOM must show both, the
# crashed one as dead. A screenshot is left in the build tree and its path printed.
#   landing_test.sh SIPMETRICSD TEST_WORKER OUTPUT_DIR
set -euo pipefail
DAEMON=$1 WORKER=$2 OUT=$3
TMP=$(mktemp -d /tmp/sipmetrics-landing.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

if ! command -v chromium >/dev/null; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
    { "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq && "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium >/dev/null; }
fi

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DAEMON" --listen "127.0.0.1:$port" --segment "$TMP/seg" --housekeeping-interval-ms 60000 \
  >"$TMP/daemon.log" 2>&1 &
pids+=($!)
# The daemon sweeps once at start-up, then once a minute: wait for it before the crash.
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
export SIPMETRICS_SEGMENT=$TMP/seg
"$WORKER" --counter 'calls_total{transport=sip}@5' --hold >"$TMP/live.out" 2>&1 &
pids+=($!); live=$!
"$WORKER" --counter 'calls_total{transport=sip}@7' --hold >"$TMP/dead.out" 2>&1 &
pids+=($!); dead=$!
for _ in $(seq 100); do grep -q ready "$TMP/live.out" && grep -q ready "$TMP/dead.out" && break; sleep 0.1; done
kill -9 "$dead"

browse() {
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$TMP/profile" "$@" "http://127.0.0.1:$port/" 2>>"$TMP/chromium.log"
}
browse --dump-dom >"$TMP/dom.html"
mkdir -p "$OUT"
browse --window-size=1100,800 --screenshot="$OUT/landing.png" >/dev/null
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "PASS: $1"; else failed=$((failed + 1)); echo "FAIL: $1"; fi; }
check "the page renders with links to /metrics and /healthz" "grep -q 'href=\"/metrics\"' '$TMP/dom.html' && grep -q 'href=\"/healthz\"' '$TMP/dom.html'"
check "the crashed writer is shown dead" "grep -Eq '<td>$dead</td><td>[^<]*</td><td class=\"dead\">dead</td>' '$TMP/dom.html'"
check "the live writer is shown alive" "grep -Eq '<td>$live</td><td>[^<]*</td><td class=\"alive\">alive</td>' '$TMP/dom.html'"
check "a screenshot was taken" "[ -s '$OUT/landing.png' ]"
echo "screenshot: $OUT/landing.png"
[ "$failed" -eq 0 ] || { echo "--- DOM ---"; cat "$TMP/dom.html"; tail -5 "$TMP/chromium.log"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
