#!/usr/bin/env bash
# install_test.sh BUILD_DIR PYTHON PY_INSTALL_DIR LIBDIR
# `cmake --install` of components lib and python under a temporary prefix: the module and its
# stubs land in PREFIX/PY_INSTALL_DIR, the module finds PREFIX/LIBDIR/libsipmetrics.so.0 through
# its RUNPATH ($ORIGIN-relative, so any prefix works), and PYTHON imports it from there and
# writes into a file-path segment.
set -euo pipefail
[[ $# -eq 4 ]] || { echo "usage: $0 BUILD_DIR PYTHON PY_INSTALL_DIR LIBDIR" >&2; exit 2; }
BUILD=$1 PY=$2 PYDIR=$3 LIBDIR=$4
LIFETIME=60
# shellcheck source-path=SCRIPTDIR source=../../../tests/deploy/lib.sh
source "$(dirname "$0")/../../../tests/deploy/lib.sh"
make_tmp python-install
P=$TMP/prefix

for component in lib python; do
  LOGS+=("install-$component.log")
  cmake --install "$BUILD" --component "$component" --prefix "$P" >"$TMP/install-$component.log" 2>&1 ||
    die "cmake --install --component $component failed"
done

mods=("$P/$PYDIR"/sipmetrics.cpython-*.so)
[[ ${#mods[@]} -eq 1 && -f ${mods[0]} ]] || die "no single sipmetrics.cpython-*.so in $P/$PYDIR"
mod=${mods[0]}
pass "module installed as ${mod#"$P"/}"
check "sipmetrics.pyi beside it" test -s "$P/$PYDIR/sipmetrics.pyi"
check "RUNPATH relative to the module" grep -q 'RUNPATH.*\[\$ORIGIN/' <(readelf -d "$mod")
lib=$(env -u LD_LIBRARY_PATH ldd "$mod" | awk '$1 == "libsipmetrics.so.0" { print $3 }')
if [[ -n $lib && $(realpath "$lib") == "$(realpath "$P/$LIBDIR")"/* ]]; then
  pass "libsipmetrics.so.0 resolved from the prefix ($lib)"
else
  fail "libsipmetrics.so.0 resolved to '$lib', not under $P/$LIBDIR"
fi

out=$(cd "$TMP" && env -u LD_LIBRARY_PATH PYTHONPATH="$P/$PYDIR" SIPMETRICS_SEGMENT="$TMP/segment" \
  timeout 30 env ${SIPMETRICS_TEST_PRELOAD:+LD_PRELOAD=$SIPMETRICS_TEST_PRELOAD} "$PY" -c '
import sipmetrics
c = sipmetrics.Client()
k = c.counter("py_install_total", "Installed.")
k.inc()
print(sipmetrics.__file__, c.attached, k.status)') || die "the installed module did not run"
check "imported from the prefix" test "${out%% *}" = "$mod"
check "attached, handle ok ($out)" test "${out#* }" = "True ok"
check "segment file created" test -s "$TMP/segment"
finish
