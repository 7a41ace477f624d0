#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR
#
# `cmake --install` into a scratch prefix, then:
#   1. the tree: binary, man page, systemd unit (ExecStart naming the installed binary), sysusers.d,
#      tmpfiles.d, examples, headers (identical to the sources), CMake package; each component
#      installs only its own files;
#   2. the man page: found by `man` as sipmetricsd(8) (what the unit's Documentation= names),
#      renders without groff warnings, and documents every option and variable of --help;
#   3. a consumer project: find_package(sipmetrics CONFIG REQUIRED) from the scratch prefix,
#      target_link_libraries(... sipmetrics::client) and (... sipmetrics::layout), built, and run
#      against the installed sipmetricsd: what it records is served on /metrics.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
LIFETIME=150
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SRC/tests/deploy/lib.sh"
START=$SECONDS

need_tools cmake:cmake c++:g++ curl:curl python3:python3 man:man-db groff:groff-base
make_tmp install
P=$TMP/prefix

# ---- 1. The installed tree ----------------------------------------------------------------------------
LOGS+=(install.log)
cmake --install "$BUILD" --prefix "$P" >"$TMP/install.log" 2>&1 || die "cmake --install failed"
pass "cmake --install $BUILD --prefix <scratch>"

expected=(
  bin/sipmetricsd
  bin/sipmetrics-ctl
  share/man/man8/sipmetricsd.8
  lib/systemd/system/sipmetricsd.service
  lib/sysusers.d/sipmetrics.conf
  lib/tmpfiles.d/sipmetrics.conf
  share/doc/sipmetrics/examples/sipmetricsd.env
  share/doc/sipmetrics/examples/sip-service-sipmetrics.conf
  share/cmake/sipmetrics/sipmetricsConfig.cmake
  share/cmake/sipmetrics/sipmetricsConfigVersion.cmake
  share/cmake/sipmetrics/sipmetricsTargets.cmake
)
while IFS= read -r h; do expected+=("include/${h#*/include/}"); done < <(
  cd "$SRC" && find shared/include client/include -type f -name '*.hpp' | sort)
# The C API (cmake/c_api.cmake): its header, library, pkg-config file and the package's C targets.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
libdir=$(cache CMAKE_INSTALL_LIBDIR) config=$(cache CMAKE_BUILD_TYPE | tr '[:upper:]' '[:lower:]')
expected+=(include/sipmetrics/sipmetrics.h "$libdir/libsipmetrics.so.$(cache CMAKE_PROJECT_VERSION)"
  "$libdir/pkgconfig/sipmetrics.pc" "$libdir/cmake/sipmetrics/sipmetricsCTargets.cmake"
  "$libdir/cmake/sipmetrics/sipmetricsCTargets-${config:-noconfig}.cmake")
expected+=("$(cache SIPMETRICS_LUA_CMOD_DIR)/sipmetrics.so")  # the Lua module (bindings/lua)
if [ "$(cache SIPMETRICS_BUILD_PYTHON)" != OFF ]; then  # the Python module (bindings/python)
  pymod=$(cd "$BUILD/bindings/python" && ls sipmetrics*.so)
  expected+=("$(cache SIPMETRICS_PYTHON_INSTALL_DIR)/$pymod" "$(cache SIPMETRICS_PYTHON_INSTALL_DIR)/sipmetrics.pyi")
fi
got=$(cd "$P" && find . -type f | sed 's|^\./||' | sort)
want=$(printf '%s\n' "${expected[@]}" | sort)
if [[ $got == "$want" ]]; then
  pass "installed exactly the ${#expected[@]} expected files"
else
  fail "installed files differ from the expected list:"
  diff <(echo "$want") <(echo "$got") | sed 's/^/    /' || true
fi
[[ -x $P/bin/sipmetricsd ]] && pass "bin/sipmetricsd is executable" || fail "bin/sipmetricsd is not executable"
headers_same=1
while IFS= read -r h; do
  cmp -s "$SRC/$h" "$P/include/${h#*/include/}" || { headers_same=0; echo "    differs: $h"; }
done < <(cd "$SRC" && find shared/include client/include -type f -name '*.hpp')
((headers_same)) && pass "installed headers are the sources" || fail "installed headers differ from the sources"

unit=$P/lib/systemd/system/sipmetricsd.service
exec_start=$(grep '^ExecStart=' "$unit" || true)
if [[ $exec_start == "ExecStart=$P/bin/sipmetricsd \$SIPMETRICSD_OPTS" ]]; then
  pass "installed unit: $exec_start"
else
  fail "installed unit has '$exec_start', expected ExecStart=$P/bin/sipmetricsd \$SIPMETRICSD_OPTS"
fi
if diff <(grep -v '^ExecStart=' "$SRC/systemd/sipmetricsd.service") <(grep -v '^ExecStart=' "$unit") >/dev/null; then
  pass "installed unit is systemd/sipmetricsd.service but for ExecStart"
else
  fail "installed unit differs from systemd/sipmetricsd.service beyond ExecStart"
fi
for pair in sipmetrics.sysusers:lib/sysusers.d/sipmetrics.conf sipmetrics.tmpfiles:lib/tmpfiles.d/sipmetrics.conf \
  sipmetricsd.env:share/doc/sipmetrics/examples/sipmetricsd.env \
  sip-service-sipmetrics.conf:share/doc/sipmetrics/examples/sip-service-sipmetrics.conf; do
  check "installed ${pair#*:} is systemd/${pair%%:*}" cmp -s "$SRC/systemd/${pair%%:*}" "$P/${pair#*:}"
done

# Components: a container takes `daemon` only, a -dev package `dev` only.
component_files() {  # COMPONENT
  rm -rf "$TMP/c-$1"
  cmake --install "$BUILD" --prefix "$TMP/c-$1" --component "$1" >/dev/null 2>&1 || echo "INSTALL-FAILED"
  (cd "$TMP/c-$1" 2>/dev/null && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')
}
got=$(component_files daemon)
[[ $got == "bin/sipmetrics-ctl bin/sipmetricsd share/man/man8/sipmetricsd.8 " ]] &&
  pass "component daemon: $got" || fail "component daemon installs: $got"
got=$(component_files dev)
if [[ $got == *include/sipmetrics/client.hpp* && $got == *share/cmake/sipmetrics/sipmetricsConfig.cmake* &&
      $got != *bin/* && $got != *lib/systemd* ]]; then
  pass "component dev: headers and CMake package only"
else
  fail "component dev installs: $got"
fi
got=$(component_files systemd)
[[ $got == "lib/systemd/system/sipmetricsd.service lib/sysusers.d/sipmetrics.conf lib/tmpfiles.d/sipmetrics.conf share/doc/sipmetrics/examples/sip-service-sipmetrics.conf share/doc/sipmetrics/examples/sipmetricsd.env " ]] &&
  pass "component systemd: unit, sysusers.d, tmpfiles.d, examples" || fail "component systemd installs: $got"

# ---- 2. The man page ------------------------------------------------------------------------------------
page=$(MANPATH=$P/share/man man -w sipmetricsd 2>/dev/null || true)
[[ $page == "$P/share/man/man8/sipmetricsd.8" ]] &&
  pass "man finds sipmetricsd(8) in the prefix" || fail "man -w sipmetricsd gives '$page'"
warnings=$(groff -ww -z -man "$P/share/man/man8/sipmetricsd.8" 2>&1 || echo "groff failed")
[[ -z $warnings ]] && pass "groff -ww: no warnings" || { fail "groff -ww warns:"; echo "$warnings" | head -n 10; }
rendered=$(MANWIDTH=250 man -l "$P/share/man/man8/sipmetricsd.8" 2>/dev/null | col -b 2>/dev/null || true)
help=$("$P/bin/sipmetricsd" --help)
missing=()
while IFS= read -r tok; do
  grep -qF -- "$tok" <<<"$rendered" || missing+=("$tok")
done < <(grep -oE -- '--[a-z][a-z-]+|SIPMETRICSD?_[A-Z_]+' <<<"$help" | sort -u)
ntok=$(grep -oE -- '--[a-z][a-z-]+|SIPMETRICSD?_[A-Z_]+' <<<"$help" | sort -u | wc -l)
if ((${#missing[@]} == 0 && ntok > 20)); then
  pass "man page documents all $ntok options and variables of --help"
else
  fail "man page lacks: ${missing[*]} (of $ntok)"
fi
grep -q '^SIPMETRICSD(8)' <<<"$rendered" && pass "man page renders as SIPMETRICSD(8)" || fail "man page title"

# ---- 3. A consumer of the CMake package ------------------------------------------------------------------
mkdir -p "$TMP/consumer"
cat >"$TMP/consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(sipmetrics_consumer LANGUAGES CXX)
find_package(sipmetrics 0.1 CONFIG REQUIRED)
message(STATUS "sipmetrics_DIR=${sipmetrics_DIR} layout=${sipmetrics_LAYOUT_VERSION}")
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE sipmetrics::client)
add_executable(layout_only layout_only.cpp)
target_link_libraries(layout_only PRIVATE sipmetrics::layout)
target_compile_definitions(layout_only PRIVATE EXPECTED_LAYOUT="${sipmetrics_LAYOUT_VERSION}")
EOF
cat >"$TMP/consumer/main.cpp" <<'EOF'
#include <sipmetrics/client.hpp>
#include <sipmetrics/sip.hpp>

int main() {
  namespace sip = sipmetrics::sip;
  for (int i = 0; i < 7; ++i) sip::invite_result(sip::Direction::inbound, 200);
  sipmetrics::Counter c = sipmetrics::Client::global().counter(
      "consumer_events_total", "Events of the install test's consumer.");
  c.add(5);
  return 0;
}
EOF
cat >"$TMP/consumer/layout_only.cpp" <<'EOF'
#include <sipmetrics/layout.hpp>

#include <cstdio>
#include <string>

int main() {
  const std::string v = std::to_string(sipmetrics::layout::kVersionMajor) + "." +
                        std::to_string(sipmetrics::layout::kVersionMinor);
  std::printf("layout %s, package says %s\n", v.c_str(), EXPECTED_LAYOUT);
  return v == EXPECTED_LAYOUT ? 0 : 1;
}
EOF
LOGS+=(consumer.log)
if cmake -S "$TMP/consumer" -B "$TMP/consumer/build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release \
     >"$TMP/consumer.log" 2>&1 &&
   cmake --build "$TMP/consumer/build" -j2 >>"$TMP/consumer.log" 2>&1; then
  pass "consumer: find_package(sipmetrics CONFIG REQUIRED) + sipmetrics::client and sipmetrics::layout build"
else
  die "the consumer project does not configure or build"
fi
found=$(sed -n 's/^sipmetrics_DIR:PATH=//p' "$TMP/consumer/build/CMakeCache.txt")
[[ $found == "$P/share/cmake/sipmetrics" ]] &&
  pass "the package came from the scratch prefix" || fail "sipmetrics_DIR is '$found'"
out=$("$TMP/consumer/build/layout_only" 2>&1) && pass "sipmetrics::layout consumer: $out" ||
  fail "sipmetrics::layout consumer: $out"

# The installed daemon serves what the consumer, built from the installed headers, records.
SEG=$TMP/segment
start_daemon daemon.log SIPMETRICS_SEGMENT="$SEG" -- "$P/bin/sipmetricsd" --housekeeping-interval-ms 50 ||
  die "the installed sipmetricsd did not start"
SIPMETRICS_SEGMENT=$SEG timeout 30 "$TMP/consumer/build/consumer" >"$TMP/consumer.run" 2>&1 ||
  fail "consumer run failed: $(cat "$TMP/consumer.run")"
v="" w=""
deadline=$((SECONDS + 10))
while ((SECONDS < deadline)); do
  v=$(metric_value "$DAEMON_PORT" 'sip_invite_result_total{code_class="2xx",direction="inbound"}')
  w=$(metric_value "$DAEMON_PORT" consumer_events_total)
  [[ $v == 7 && $w == 5 ]] && break
  sleep 0.1
done
[[ $v == 7 && $w == 5 ]] &&
  pass "installed sipmetricsd serves the consumer's counts (invites 7, events 5)" ||
  fail "served invites '$v' (want 7), events '$w' (want 5)"

echo "test took $((SECONDS - START)) s"
finish
