#!/usr/bin/env bash
# install_test.sh BUILD_DIR LUA_CMOD_DIR LIBDIR VERSION
# `cmake --install --component lib` and `--component lua` into a scratch prefix: sipmetrics.so
# lands in PREFIX/LUA_CMOD_DIR, needs libsipmetrics.so.0 and not liblua (the host provides Lua),
# finds the library through its RUNPATH ($ORIGIN/../..) with no LD_LIBRARY_PATH, exports only
# luaopen_sipmetrics, and `require "sipmetrics"` works from lua5.1.
set -euo pipefail
[[ $# -eq 4 ]] || { echo "usage: $0 BUILD_DIR LUA_CMOD_DIR LIBDIR VERSION" >&2; exit 2; }
BUILD=$(realpath "$1") CMOD=$2 LIBDIR=$3 VERSION=$4
LIFETIME=60
# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
source "$(dirname "$0")/../deploy/lib.sh"
need_tools lua5.1:lua5.1 readelf:binutils
make_tmp lua-install
P=$TMP/prefix
for component in lib lua; do
  cmake --install "$BUILD" --component "$component" --prefix "$P" >"$TMP/install-$component.log" 2>&1 ||
    { cat "$TMP/install-$component.log"; die "cmake --install --component $component failed"; }
done
MOD=$P/$CMOD/sipmetrics.so
[[ -f $MOD ]] && pass "installed $CMOD/sipmetrics.so" || die "no $MOD"
[[ -e $P/$LIBDIR/libsipmetrics.so.0 ]] && pass "installed $LIBDIR/libsipmetrics.so.0" ||
  fail "no $P/$LIBDIR/libsipmetrics.so.0"
dyn=$(readelf -dW "$MOD")
grep -q 'NEEDED.*\[libsipmetrics\.so\.0\]' <<<"$dyn" && pass "NEEDED libsipmetrics.so.0" ||
  fail "sipmetrics.so does not need libsipmetrics.so.0"
grep -q 'NEEDED.*liblua' <<<"$dyn" && fail "sipmetrics.so links liblua (two Lua copies in one host)" ||
  pass "no liblua in NEEDED"
grep -q 'RUNPATH.*\[\$ORIGIN/\.\./\.\.\]' <<<"$dyn" && pass "RUNPATH \$ORIGIN/../.." ||
  fail "RUNPATH is not \$ORIGIN/../..: $(grep -E 'RPATH|RUNPATH' <<<"$dyn" || echo none)"
exports=$(readelf -W --dyn-syms "$MOD" | awk '$5 == "GLOBAL" && $7 != "UND" { print $8 }' | sort)
[[ $exports == luaopen_sipmetrics ]] && pass "exports luaopen_sipmetrics only" ||
  fail "exports: $(tr '\n' ' ' <<<"$exports")"
got=$(env -u LD_LIBRARY_PATH SIPMETRICS_SEGMENT="/nonexistent-sipmetrics-dir/seg" \
  LUA_CPATH="$P/$CMOD/?.so" LUA_PATH="" \
  env ${SIPMETRICS_TEST_PRELOAD:+LD_PRELOAD=$SIPMETRICS_TEST_PRELOAD} lua5.1 -e 'local sm = require "sipmetrics"; io.write(sm.version(), " ", tostring(sm.attached(sm.global())))' 2>"$TMP/lua.err") ||
  { cat "$TMP/lua.err"; die "require \"sipmetrics\" from the installed tree failed"; }
[[ $got == "$VERSION false" ]] && pass "require \"sipmetrics\" from $CMOD: version $VERSION, detached without a segment" ||
  fail "lua5.1 printed '$got', want '$VERSION false'"
grep -q 'sipmetrics: cannot attach' "$TMP/lua.err" && pass "detached: one line on stderr" ||
  fail "no 'cannot attach' line on stderr: $(cat "$TMP/lua.err")"
finish
