#!/usr/bin/env bash
# A segment name that points at the wrong file never destroys it: a worker (the demo and the
# test worker), sipmetricsd and sipmetrics-ctl inspect each leave a file that is neither empty
# nor a sipmetrics segment byte for byte as it was, and say so; inspect never writes at all,
# even to a half-made segment. What may be (re)initialised still is: an empty file, an all-zero
# file, and --recreate-incompatible on request.
#   wrong_path_test.sh SIPMETRICSD SIPMETRICS_CTL TEST_WORKER DEMO SOURCE_DIR
set -euo pipefail
DAEMON=$1 CTL=$2 WORKER=$3 DEMO=$4 SRC=$5
MAJOR=$(sed -n 's/.*kVersionMajor = \([0-9]*\);.*/\1/p' "$SRC/shared/include/sipmetrics/layout.hpp")
TMP=$(mktemp -d /tmp/sipmetrics-wrong-path.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "PASS: $1"; else failed=$((failed + 1)); echo "FAIL: $1"; fi; }
unset SIPMETRICS_SEGMENT SIPMETRICS_SEGMENT_GROUP
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fingerprint() { stat -c '%s %Y %i' "$1" && sha256sum <"$1"; }

# Files that must survive every process pointed at them.
printf 'important config\n' >"$TMP/config"                                    # the issue's case
{ head -c 4096 /dev/zero; printf 'data after zeros\n'; } >"$TMP/zeros-then-data"  # short, zeros first
{ head -c $((2 * 1024 * 1024)) /dev/zero; printf 'x'; } >"$TMP/late-data"       # data past 1 MiB
head -c 65536 /dev/urandom >"$TMP/random"
for f in config zeros-then-data late-data random; do
  cp -p "$TMP/$f" "$TMP/$f.orig"
  before=$(fingerprint "$TMP/$f")
  target=$TMP/$f

  SIPMETRICS_SEGMENT=$target "$WORKER" --counter calls_total --increments 3 >"$TMP/w.out" 2>"$TMP/w.err" || true
  check "$f: the worker runs detached" "grep -qx detached '$TMP/w.out'"
  check "$f: the worker says why, in one line" \
    "[ \$(grep -c 'sipmetrics: cannot attach: segment .$target.: not a sipmetrics segment' '$TMP/w.err') -eq 1 ]"

  SIPMETRICS_SEGMENT=$target timeout 5 "$DEMO" --workers 1 --seconds 1 --cps 50 >/dev/null 2>"$TMP/demo.err" || true
  check "$f: the demo says why" "grep -q 'not a sipmetrics segment' '$TMP/demo.err'"

  rc=0
  timeout 10 "$DAEMON" --listen "127.0.0.1:$(port)" --segment "$target" >/dev/null 2>"$TMP/d.err" || rc=$?
  check "$f: sipmetricsd exits 2" "[ $rc -eq 2 ]"
  check "$f: sipmetricsd names the file and what it found" \
    "grep -q \"segment '$target': not a sipmetrics segment: \$(stat -c %s '$TMP/$f.orig') bytes\" '$TMP/d.err'"

  rc=0
  "$CTL" inspect --segment "$target" >/dev/null 2>"$TMP/c.err" || rc=$?
  check "$f: inspect fails and says why" "[ $rc -ne 0 ] && grep -q 'not a sipmetrics segment' '$TMP/c.err'"

  check "$f: unchanged, byte for byte" "cmp -s '$TMP/$f' '$TMP/$f.orig' && [ \"\$(fingerprint '$TMP/$f')\" = '$before' ]"
done

# Not a regular file: a directory and a FIFO.
mkdir "$TMP/dir"
mkfifo "$TMP/fifo"
for f in dir fifo; do
  SIPMETRICS_SEGMENT=$TMP/$f "$WORKER" --counter calls_total --increments 1 >"$TMP/w.out" 2>"$TMP/w.err" || true
  check "$f: the worker runs detached" "grep -qx detached '$TMP/w.out'"
  rc=0
  timeout 10 "$DAEMON" --listen "127.0.0.1:$(port)" --segment "$TMP/$f" >/dev/null 2>"$TMP/d.err" || rc=$?
  check "$f: sipmetricsd refuses it" "[ $rc -ne 0 ]"
done
check "the FIFO is still a FIFO, the directory still empty" "[ -p '$TMP/fifo' ] && [ -z \"\$(ls -A '$TMP/dir')\" ]"

# Inspect only reads: a half-made segment (magic, never ready) stays as it is, and so does a
# ready one with no writer alive.
python3 - "$TMP/half" "$MAJOR" <<'PY'
import struct, sys
# magic "SIPMETR1", this build's major version, minor 0, init_state 0 (never ready)
header = struct.pack("<QIII", 0x315254454D504953, int(sys.argv[2]), 0, 0).ljust(512, b"\0")
open(sys.argv[1], "wb").write(header + b"\0" * 4096)
PY
before=$(fingerprint "$TMP/half")
rc=0
"$CTL" inspect --segment "$TMP/half" >/dev/null 2>"$TMP/c.err" || rc=$?
check "half-made: inspect reports it not ready" "[ $rc -ne 0 ] && grep -q 'not ready' '$TMP/c.err'"
check "half-made: inspect left it untouched" "[ \"\$(fingerprint '$TMP/half')\" = '$before' ]"
SIPMETRICS_SEGMENT=$TMP/half "$WORKER" --counter calls_total --increments 2 >"$TMP/w.out" 2>&1
check "half-made: a worker recovers it" "grep -qx attached '$TMP/w.out'"

before=$(fingerprint "$TMP/half")
"$CTL" inspect --segment "$TMP/half" >"$TMP/report.txt"
check "ready: inspect reads it" "grep -q '^series  *1 /' '$TMP/report.txt'"
check "ready: inspect left it untouched" "[ \"\$(fingerprint '$TMP/half')\" = '$before' ]"
chmod 0444 "$TMP/half"
check "ready: inspect needs no write access" "'$CTL' inspect --segment '$TMP/half' >/dev/null"
chmod 0660 "$TMP/half"
check "absent: inspect creates nothing" "! '$CTL' inspect --segment '$TMP/none' 2>/dev/null && [ ! -e '$TMP/none' ]"

# What may be initialised still is.
: >"$TMP/empty"
SIPMETRICS_SEGMENT=$TMP/empty "$WORKER" --counter calls_total --increments 1 >"$TMP/w.out" 2>&1
check "an empty file becomes a segment" "grep -qx attached '$TMP/w.out'"
head -c 100000 /dev/zero >"$TMP/zeros"
SIPMETRICS_SEGMENT=$TMP/zeros "$WORKER" --counter calls_total --increments 1 >"$TMP/w.out" 2>&1
check "an all-zero file (a creator died before its header) becomes a segment" "grep -qx attached '$TMP/w.out'"

# --recreate-incompatible replaces a foreign file when asked, and says so.
cp "$TMP/config.orig" "$TMP/replace"
p=$(port)
"$DAEMON" --listen "127.0.0.1:$p" --segment "$TMP/replace" --recreate-incompatible >/dev/null 2>"$TMP/r.err" &
dpid=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
kill "$dpid"; wait "$dpid" 2>/dev/null || true
check "--recreate-incompatible replaces it, logged" \
  "grep -q 'removed segment' '$TMP/r.err' && ! cmp -s '$TMP/replace' '$TMP/config.orig'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
