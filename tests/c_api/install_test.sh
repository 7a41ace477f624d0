#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR SIPMETRICSD [SANITIZER_FLAGS]
# The C API as a user gets it from `cmake --install --prefix P`:
#   1. the tree: libsipmetrics.so.0.x.y with its SONAME and -dev links, sipmetrics.h (the
#      source), sipmetrics.pc and the CMake package's C targets; exported symbols checked;
#   2. examples/c/sipmetrics_example.c built with only `cc prog.c $(pkg-config --cflags --libs
#      sipmetrics)` and run against the real sipmetricsd on a loopback port and a segment file:
#      /metrics shows exactly the example_* series and values it wrote, and its SIP helper
#      series, every other helper series at 0;
#   3. dlopen(): a plugin built the same way, loaded by a host that does not link libsipmetrics,
#      used from the main thread and from a thread started before dlopen(): exact counts;
#   4. find_package(sipmetrics CONFIG REQUIRED COMPONENTS c) + sipmetrics::c in a C project.
# In a sanitizer build (scripts/sanitize.sh) the library carries the sanitizer's runtime, which
# must be loaded first: SANITIZER_FLAGS (-fsanitize=...) are added to every program built here.
set -euo pipefail
[[ $# -eq 3 || $# -eq 4 ]] || { echo "usage: $0 BUILD_DIR SOURCE_DIR SIPMETRICSD [SANITIZER_FLAGS]" >&2; exit 2; }
BUILD=$(realpath "$1") SRC=$(realpath "$2") DAEMON=$(realpath "$3")
read -r -a SAN <<<"${4:-}"
LIFETIME=150
# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
source "$SRC/tests/deploy/lib.sh"
need_tools cc:gcc pkg-config:pkgconf curl:curl nm:binutils readelf:binutils cmake:cmake python3:python3
make_tmp c-api-install
P=$TMP/prefix
LOGS+=(install.log)
cmake --install "$BUILD" --prefix "$P" >"$TMP/install.log" 2>&1 || die "cmake --install failed"

# ---- 1. The installed tree ----------------------------------------------------------------------------
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$BUILD/CMakeCache.txt")
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
L=$P/$libdir
[[ -f $L/libsipmetrics.so.$version && ! -L $L/libsipmetrics.so.$version ]] &&
  pass "$libdir/libsipmetrics.so.$version" || fail "no $libdir/libsipmetrics.so.$version"
[[ $(readlink "$L/libsipmetrics.so.0") == "libsipmetrics.so.$version" ]] &&
  pass "libsipmetrics.so.0 -> libsipmetrics.so.$version" || fail "libsipmetrics.so.0 link"
[[ $(readlink "$L/libsipmetrics.so") == libsipmetrics.so.0 ]] &&
  pass "libsipmetrics.so -> libsipmetrics.so.0" || fail "libsipmetrics.so link"
check "installed sipmetrics.h is the source" cmp -s "$SRC/client/include/sipmetrics/sipmetrics.h" \
  "$P/include/sipmetrics/sipmetrics.h"
check "$libdir/cmake/sipmetrics/sipmetricsCTargets.cmake" test -f "$L/cmake/sipmetrics/sipmetricsCTargets.cmake"
PC=$L/pkgconfig
check "$libdir/pkgconfig/sipmetrics.pc" test -f "$PC/sipmetrics.pc"
export PKG_CONFIG_PATH=$PC
got=$(pkg-config --modversion sipmetrics)
[[ $got == "$version" ]] && pass "pkg-config --modversion: $got" || fail "pkg-config --modversion: $got"
got=$(pkg-config --cflags --libs sipmetrics)
got=${got% }  # pkgconf ends the line with a space
[[ $got == "-I$P/include -L$L -lsipmetrics" ]] && pass "pkg-config: $got" ||
  fail "pkg-config gives '$got', want '-I$P/include -L$L -lsipmetrics'"
LOGS+=(exports.log)
bash "$SRC/tests/c_api/exports_test.sh" "$L/libsipmetrics.so.0" "$P/include/sipmetrics/sipmetrics.h" \
  >"$TMP/exports.log" 2>&1 && pass "installed library exports only the API" ||
  fail "exports of the installed library: $(grep FAIL "$TMP/exports.log" | tr '\n' ' ')"
got=$(cd "$TMP" && cmake --install "$BUILD" --prefix "$TMP/c-lib" --component lib >/dev/null 2>&1 &&
      cd "$TMP/c-lib" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort | tr '\n' ' ')
[[ $got == "$libdir/libsipmetrics.so.0 $libdir/libsipmetrics.so.$version " ]] &&
  pass "component lib: the runtime library only" || fail "component lib installs: $got"

# ---- 2. The example, built with pkg-config only, against the daemon -----------------------------------
LOGS+=(cc.log)
# shellcheck disable=SC2046  # word splitting of pkg-config's output is the point
cc "${SAN[@]}" "$SRC/examples/c/sipmetrics_example.c" $(pkg-config --cflags --libs sipmetrics) \
  -o "$TMP/example" >"$TMP/cc.log" 2>&1 || die "cc example.c \$(pkg-config --cflags --libs sipmetrics) failed"
pass "cc sipmetrics_example.c \$(pkg-config --cflags --libs sipmetrics)"
SEG=$TMP/seg
start_daemon daemon.log SIPMETRICS_SEGMENT="$SEG" -- "$DAEMON" --housekeeping-interval-ms 50 ||
  die "sipmetricsd did not start"
start_bg example.out env LD_LIBRARY_PATH="$L" SIPMETRICS_SEGMENT="$SEG" "$TMP/example" 60
EXAMPLE_PID=$STARTED
deadline=$((SECONDS + 20))
until grep -q '^ready' "$TMP/example.out" 2>/dev/null; do
  ((SECONDS < deadline)) && kill -0 "$EXAMPLE_PID" 2>/dev/null || die "the example never got ready"
  sleep 0.05
done
# Sample lines (no comments, no quantiles) of /metrics whose names start with one of $1 (regex).
samples() {
  { curl -s --max-time 5 "http://127.0.0.1:$DAEMON_PORT/metrics" || true; } |
    awk -v re="^($1)" '$0 !~ /^#/ && $1 ~ re && $1 !~ /quantile=/ { print $1, $2 }' | sort
}
want_example=$(sort <<'EOF2'
example_events_total 1
example_latency_ms_count 3
example_latency_ms_sum 60.5
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="5"} 0
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="10"} 0
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="25"} 0
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="50"} 0
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="100"} 0
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="250"} 1
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="500"} 1
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="1000"} 1
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="2000"} 1
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="3000"} 2
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="4000"} 2
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="8000"} 2
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="16000"} 2
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="32000"} 2
example_post_dial_delay_hist_ms_bucket{direction="inbound",le="+Inf"} 3
example_post_dial_delay_hist_ms_count{direction="inbound"} 3
example_post_dial_delay_hist_ms_sum{direction="inbound"} 42530
example_queue_depth 3
example_requests_total{method="INVITE",transport="udp"} 7
example_temperature_celsius 21.5
EOF2
)
want_sip=$(sort <<'EOF2'
sip_invite_result_total{code_class="4xx",direction="inbound"} 3
sip_transaction_timeout_total{method="INVITE"} 1
voiceserver_active_calls{transport="sip"} 1
voiceserver_calls_total{status="ok",transport="sip"} 1
EOF2
)
got=""
deadline=$((SECONDS + 10))
while ((SECONDS < deadline)); do
  got=$(samples example_)
  [[ $got == "$want_example" ]] && break
  sleep 0.1
done
if [[ $got == "$want_example" ]]; then
  pass "/metrics: exactly the example's series and values ($(wc -l <<<"$got") samples)"
else
  fail "/metrics example_* samples differ:"
  diff <(echo "$want_example") <(echo "$got") | sed 's/^/    /' || true
fi
helpers=$(samples 'sip_|voiceserver_' | grep -v '^voiceserver_metrics_')
nonzero=$(awk '$2 != "0" && $2 != "NaN"' <<<"$helpers")
nseries=$(grep -c . <<<"$helpers" || true)
if [[ $nonzero == "$want_sip" ]]; then
  pass "SIP helper families: the 4 series written have their values, the other $((nseries - 4)) samples are 0"
else
  fail "SIP helper samples other than 0:"
  diff <(echo "$want_sip") <(echo "$nonzero") | sed 's/^/    /' || true
fi
stop_bg "$EXAMPLE_PID"

# ---- 3. dlopen() of a plugin linked against libsipmetrics --------------------------------------------
LOGS+=(dlopen-cc.log)
# shellcheck disable=SC2046
cc "${SAN[@]}" -shared -fPIC "$SRC/tests/c_api/dlopen_module.c" $(pkg-config --cflags --libs sipmetrics) \
  -o "$TMP/plugin.so" >"$TMP/dlopen-cc.log" 2>&1 &&
  cc "${SAN[@]}" "$SRC/tests/c_api/dlopen_host.c" -o "$TMP/host" -ldl -pthread >>"$TMP/dlopen-cc.log" 2>&1 ||
  die "building the dlopen plugin or host failed"
if readelf -dW "$TMP/host" | grep -q sipmetrics; then fail "the host links libsipmetrics"; fi
start_bg host.out env LD_LIBRARY_PATH="$L" SIPMETRICS_SEGMENT="$SEG" "$TMP/host" "$TMP/plugin.so" 100000
HOST_PID=$STARTED
deadline=$((SECONDS + 20))
until grep -q '^ready' "$TMP/host.out" 2>/dev/null; do
  ((SECONDS < deadline)) && kill -0 "$HOST_PID" 2>/dev/null || die "the dlopen host failed: $(cat "$TMP/host.out")"
  sleep 0.05
done
v="" w=""
deadline=$((SECONDS + 10))
while ((SECONDS < deadline)); do
  v=$(metric_value "$DAEMON_PORT" capi_dlopen_total)
  w=$(metric_value "$DAEMON_PORT" capi_dlopen_ms_count)
  [[ $v == 200000 && $w == 2 ]] && break
  sleep 0.05
done
[[ $v == 200000 && $w == 2 ]] &&
  pass "dlopen()ed plugin, main thread and a thread older than the dlopen(): 2 x 100000 increments, 2 samples" ||
  fail "dlopen: capi_dlopen_total '$v' (want 200000), capi_dlopen_ms_count '$w' (want 2)"
stop_bg "$HOST_PID"

# ---- 4. The CMake package: find_package(... COMPONENTS c), sipmetrics::c ------------------------------
mkdir -p "$TMP/consumer"
cat >"$TMP/consumer/CMakeLists.txt" <<'EOF2'
cmake_minimum_required(VERSION 3.25)
project(sipmetrics_c_consumer LANGUAGES C)
find_package(sipmetrics 0.1 CONFIG REQUIRED COMPONENTS c)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE sipmetrics::c)
EOF2
cat >"$TMP/consumer/main.c" <<'EOF2'
#include <sipmetrics/sipmetrics.h>
int main(void) {
  return sipmetrics_add_counter(sipmetrics_global(), "capi_cmake_total", "CMake consumer.", NULL, 0,
                                5) == SIPMETRICS_OK ? 0 : 1;
}
EOF2
LOGS+=(consumer.log)
if cmake -S "$TMP/consumer" -B "$TMP/consumer/build" -DCMAKE_PREFIX_PATH="$P" \
     -DCMAKE_C_FLAGS="${SAN[*]}" -DCMAKE_EXE_LINKER_FLAGS="${SAN[*]}" >"$TMP/consumer.log" 2>&1 &&
   cmake --build "$TMP/consumer/build" >>"$TMP/consumer.log" 2>&1; then
  pass "find_package(sipmetrics CONFIG REQUIRED COMPONENTS c) + sipmetrics::c builds"
else
  die "the CMake consumer does not configure or build"
fi
# The imported target carries the library's path: the consumer runs without LD_LIBRARY_PATH.
if SIPMETRICS_SEGMENT=$SEG timeout 20 "$TMP/consumer/build/consumer" >"$TMP/consumer.run" 2>&1; then
  v=""
  deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    v=$(metric_value "$DAEMON_PORT" capi_cmake_total)
    [[ $v == 5 ]] && break
    sleep 0.05
  done
  [[ $v == 5 ]] && pass "CMake consumer's count served (5)" || fail "capi_cmake_total '$v', want 5"
else
  fail "CMake consumer run: $(cat "$TMP/consumer.run")"
fi
finish
