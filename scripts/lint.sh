#!/usr/bin/env bash
# Formatting and static analysis of every C and C++ source the project tracks:
#   clang-format 14 (.clang-format): any difference fails;
#   clang-tidy 14 (.clang-tidy, every warning an error) on every translation unit of the build
#   in BUILD_DIR (default ./build, configured here if missing), through its compile commands,
#   and on the benchmarks and fuzzers, through the compile commands of ./build-lint (configured
#   here with clang, never built).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=$(nproc 2>/dev/null || echo 2)
scripts/install-deps.sh --lint --bench --fuzz

mapfile -t sources < <(git ls-files '*.c' '*.h' '*.cpp' '*.hpp')
echo "lint: clang-format on ${#sources[@]} files"
clang-format-14 --dry-run --Werror "${sources[@]}"

[ -f "$build/compile_commands.json" ] ||
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Generated sources (the build tree's own) are not ours to lint, but the sources that include
# them need them to exist.
cmake --build "$build" --target sipmetricsd_proto_sources >/dev/null
echo "lint: clang-tidy on the translation units of $build"
run-clang-tidy-14 -quiet -p "$build" -j "$jobs" "^$(pwd)/(bindings|client|daemon|tests|examples)/" \
  >"$build/clang-tidy.log" 2>&1 || { grep -E "error:|warning:" -A3 "$build/clang-tidy.log" | head -200; exit 1; }
# The benchmarks and fuzzers are not part of the default build: configured (with clang, as the
# fuzzers need) into a tree of their own, only for its compile commands.
cmake -S . -B build-lint -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DSIPMETRICS_BUILD_BENCH=ON -DSIPMETRICS_BUILD_FUZZ=ON -DSIPMETRICS_BUILD_TESTS=OFF \
  -DSIPMETRICS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-lint --target sipmetricsd_proto_sources >/dev/null
echo "lint: clang-tidy on the benchmarks and fuzzers (build-lint)"
run-clang-tidy-14 -quiet -p build-lint -j "$jobs" "^$(pwd)/(bench|fuzz)/" \
  >build-lint/clang-tidy.log 2>&1 || { grep -E "error:|warning:" -A3 build-lint/clang-tidy.log | head -200; exit 1; }
echo "lint: clean"
