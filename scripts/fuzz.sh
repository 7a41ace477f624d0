#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang 14, ASan+UBSan) into build-fuzz and runs each for
# SECONDS (default 60) on its committed seed corpus, fuzz/corpus/<target>/ (read only: new inputs
# go to build-fuzz/corpus/<target>/). Fails on any crash, sanitizer report, leak, timeout or
# out-of-memory; the input that caused it is left in build-fuzz/artifacts/ and the log's tail is
# printed. Reproduce with: build-fuzz/fuzz/<target> build-fuzz/artifacts/<file>
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh --fuzz
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DSIPMETRICS_BUILD_FUZZ=ON -DSIPMETRICS_BUILD_TESTS=OFF -DSIPMETRICS_BUILD_EXAMPLES=OFF >/dev/null
targets=(segment_reader_fuzz config_fuzz web_config_fuzz)
cmake --build build-fuzz -j"$jobs" --target "${targets[@]}"

declare -A max_len=([segment_reader_fuzz]=2048 [config_fuzz]=4096 [web_config_fuzz]=4096)
# The targets' scratch files (a segment file, a config file) go here, removed whatever happens:
# libFuzzer does not always run exit handlers.
TMPDIR=$(mktemp -d /dev/shm/sipmetrics-fuzz.XXXXXX 2>/dev/null || mktemp -d)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" build-fuzz/artifacts
  log=build-fuzz/$t.log
  echo "fuzz: $t for ${seconds}s (log: $log)"
  # -timeout: one input taking longer is a hang; timeout(1) bounds the run should libFuzzer not
  # stop on its own.
  if timeout --kill-after=30 $((seconds + 120)) "build-fuzz/fuzz/$t" -max_total_time="$seconds" \
      -timeout=25 -rss_limit_mb=2048 -max_len="${max_len[$t]}" -print_final_stats=1 \
      -artifact_prefix="build-fuzz/artifacts/$t-" "build-fuzz/corpus/$t" "fuzz/corpus/$t" \
      >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t clean: ${runs:-?} inputs in ${seconds}s"
  else
    echo "fuzz: $t FAILED; last lines of $log:"
    tail -n 60 "$log"
    status=1
  fi
done
exit $status
