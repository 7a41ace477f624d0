#!/usr/bin/env bash
# exports_test.sh LIBSIPMETRICS_SO HEADER
# libsipmetrics exports the functions <sipmetrics/sipmetrics.h> declares, all of them and nothing
# else (nm -D --defined-only: every defined dynamic symbol is a sipmetrics_* function of the
# header, the thread-local array its inline updates read, or the SIPMETRICS_0 version node), each
# at version SIPMETRICS_0; its SONAME is libsipmetrics.so.0; it uses static (initial-exec) TLS
# and has no text relocations.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 LIBSIPMETRICS_SO HEADER" >&2; exit 2; }
LIB=$1 HEADER=$2
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

defined=$(nm -D --defined-only "$LIB" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
others=$(grep -v -e '^sipmetrics_' -e '^SIPMETRICS_0$' <<<"$defined" || true)
[[ -z $others ]] && pass "only sipmetrics_* defined ($(wc -l <<<"$defined") symbols)" ||
  fail "exported beyond the API: $(tr '\n' ' ' <<<"$others")"
grep -qx SIPMETRICS_0 <<<"$defined" && pass "version node SIPMETRICS_0" || fail "no SIPMETRICS_0 node"

# Functions the header declares: an identifier followed by '(' on a declaration line, less its
# static inline helpers that no exported function backs (a SIPMETRICS_API or SIPMETRICS_HOT line
# names every exported one).
named=$(grep -v '^ *\(/\*\|\*\)' "$HEADER" | grep -oE '\bsipmetrics_[a-z0-9_]+\(' | tr -d '(' | sort -u)
api=$(grep -E '^SIPMETRICS_(API|HOT) ' "$HEADER" | grep -oE '\bsipmetrics_[a-z0-9_]+\(' | tr -d '(' | sort -u)
inline_only=$(grep -E '^static inline ' "$HEADER" | grep -oE '\bsipmetrics_[a-z0-9_]+\(' | tr -d '(' |
  sort -u | comm -23 - <(echo "$api"))
[[ -n $inline_only ]] && pass "inline-only helpers: $(tr '\n' ' ' <<<"$inline_only")" ||
  fail "no inline-only helper found: the header parse is broken"
declared=$(comm -23 <(echo "$named") <(echo "$inline_only"))
exported=$(nm -D --defined-only "$LIB" | awk '$2 == "T" {print $NF}' | sed 's/@.*//' | sort -u)
data=$(nm -D --defined-only "$LIB" | awk '$2 != "T" && $2 != "A" {print $NF}' | sed 's/@.*//' | sort -u)
[[ $data == sipmetrics_thread_cells_ ]] && pass "one data symbol: sipmetrics_thread_cells_" ||
  fail "data symbols: $(tr '\n' ' ' <<<"$data")"
symbols=$(readelf -sW "$LIB")
grep -qE ' TLS +GLOBAL +DEFAULT .* sipmetrics_thread_cells_@@SIPMETRICS_0$' <<<"$symbols" &&
  pass "sipmetrics_thread_cells_ is thread-local, at SIPMETRICS_0" ||
  fail "sipmetrics_thread_cells_: $(grep thread_cells_ <<<"$symbols" || echo missing)"
grep -q 'sipmetrics_thread_cells_\[' "$HEADER" && pass "the header declares sipmetrics_thread_cells_" ||
  fail "the header does not declare sipmetrics_thread_cells_"
# Its size is the header's slot count of pointers: the inline updates index it up to there.
slots=$(sed -nE 's/^#define SIPMETRICS_THREAD_CELL_SLOTS_ ([0-9]+)u$/\1/p' "$HEADER")
size=$(awk '$NF == "sipmetrics_thread_cells_@@SIPMETRICS_0" {print $3}' <<<"$symbols")
[[ -n $slots && $size == $((slots * 8)) ]] &&
  pass "sipmetrics_thread_cells_ is $size bytes: the header's $slots slots" ||
  fail "sipmetrics_thread_cells_ is ${size:-?} bytes; the header reads ${slots:-?} slots of 8"
if [[ $declared == "$exported" ]]; then
  pass "exported functions are exactly the $(wc -l <<<"$declared") the header declares"
else
  fail "header and library differ:"
  diff <(echo "$declared") <(echo "$exported") | sed 's/^/    /' || true
fi
unversioned=$(nm -D --defined-only --with-symbol-versions "$LIB" 2>/dev/null | awk '$NF ~ /^sipmetrics_/ && $NF !~ /@@SIPMETRICS_0$/ {print $NF}' || true)
[[ -z $unversioned ]] && pass "every function at version SIPMETRICS_0" || fail "not at SIPMETRICS_0: $unversioned"

dyn=$(readelf -dW "$LIB")
grep -q 'Library soname: \[libsipmetrics.so.0\]' <<<"$dyn" && pass "SONAME libsipmetrics.so.0" ||
  fail "SONAME: $(grep SONAME <<<"$dyn" || echo none)"
grep -q 'STATIC_TLS' <<<"$dyn" && pass "initial-exec TLS (DF_STATIC_TLS)" || fail "no STATIC_TLS flag"
grep -q 'TEXTREL' <<<"$dyn" && fail "text relocations" || pass "no text relocations"
echo "$passed passed, $failed failed"
((failed == 0))
