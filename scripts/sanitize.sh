#!/usr/bin/env bash
# Builds everything with sanitizers and runs the whole ctest suite under them.
#   scripts/sanitize.sh address   ASan + UBSan, into build-asan
#   scripts/sanitize.sh thread    TSan, into build-tsan
# The daemon and the worker processes the integration tests start are instrumented too; a
# report makes them exit non-zero (or stop serving), which fails the test that started them.
# TSan sees races between the threads of one process only: the segment is shared memory written
# by other processes, which it cannot see.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  address) dir=build-asan ;;
  thread) dir=build-tsan ;;
  *) echo "usage: $0 address|thread" >&2; exit 2 ;;
esac
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIPMETRICS_SANITIZE="$1" >/dev/null
cmake --build "$dir" -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$(pwd)/scripts/tsan.supp}
# scrape_flood bounds the daemon's RSS at 64 MiB; shadow memory and ASan's quarantine put an
# instrumented daemon far above that whatever it does. Its other checks (every scrape answered,
# exact counts, threads bounded) still run; only the RSS bound is raised.
export RSS_LIMIT_KB=${RSS_LIMIT_KB:-2097152}
cd "$dir"
ctest --output-on-failure -j"$jobs"
