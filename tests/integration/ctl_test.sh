#!/usr/bin/env bash
# sipmetrics-ctl inspect, without HTTP: a missing segment is an error (1), a bad command line
# another (2); a crashed writer shows as
# DEAD (no daemon has folded it yet) next to a live one; --json parses and agrees.
#   ctl_test.sh SIPMETRICS_CTL TEST_WORKER
set -euo pipefail
CTL=$1 WORKER=$2
TMP=$(mktemp -d /tmp/sipmetrics-ctl.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "PASS: $1"; else failed=$((failed + 1)); echo "FAIL: $1"; fi; }

status() { "$@" >/dev/null 2>"$TMP/err" && echo 0 || echo $?; }
check "a missing segment is an error (exit 1)" \
  "[ \$(status '$CTL' inspect --segment '$TMP/none') = 1 ] && grep -q 'does not exist' '$TMP/err'"
check "a bad command line exits 2" \
  "[ \$(status '$CTL' inspect --no-such-flag) = 2 ] && [ \$(status '$CTL') = 2 ] && grep -q 'subcommand' '$TMP/err'"
check "--help exits 0 and gives the exit statuses" "'$CTL' --help | grep -q 'Exit status: 0'"

export SIPMETRICS_SEGMENT=$TMP/seg
"$WORKER" --counter 'calls_total{transport=sip}@5' --hold >"$TMP/live.out" 2>&1 &
pids+=($!); live=$!
"$WORKER" --counter 'calls_total{transport=sip}@7' --hold >"$TMP/dead.out" 2>&1 &
pids+=($!); dead=$!
for _ in $(seq 100); do grep -q ready "$TMP/live.out" && grep -q ready "$TMP/dead.out" && break; sleep 0.1; done
kill -9 "$dead"; wait "$dead" 2>/dev/null || true

"$CTL" inspect >"$TMP/report.txt"
cat "$TMP/report.txt"
check "the crashed writer is shown DEAD" "grep -Eq '^ +[0-9]+ +$dead +DEAD ' '$TMP/report.txt'"
check "the live writer is shown alive" "grep -Eq '^ +[0-9]+ +$live +alive ' '$TMP/report.txt'"
check "no daemon is reported running" "grep -q '^daemon  *not running' '$TMP/report.txt'"
"$CTL" inspect --json >"$TMP/report.json"
check "--json agrees" "/usr/bin/python3 -c '
import json,sys
r=json.load(open(\"$TMP/report.json\"))
w={x[\"pid\"]:x[\"alive\"] for x in r[\"writers\"]}
sys.exit(0 if w.get($live) is True and w.get($dead) is False and r[\"used\"][\"series\"]==1 else 1)'"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
