#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan in a build directory of their
# own, runs each for SECONDS_PER_TARGET seconds (default 60) on a temporary copy of its seed
# corpus (fuzz/corpus/<target>/, left untouched), and prints executions and coverage.
# Exits non-zero when a target crashes, leaks, trips a sanitizer or an engine assertion, or
# times out on an input; the input that did it is kept and its path printed.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#   PBXSTATE_FUZZ_BUILD_DIR=dir   build directory (default build-fuzz)
#   PBXSTATE_FUZZ_TARGETS="..."   targets to run (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
case "$secs" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS_PER_TARGET must be a whole number, got '$secs'" >&2; exit 2;; esac
build="${PBXSTATE_FUZZ_BUILD_DIR:-build-fuzz}"
targets="${PBXSTATE_FUZZ_TARGETS:-fuzz_frame_decoder fuzz_scenario_loader}"
jobs="$(nproc)"

# Debug keeps the engine's assertions live; -O1 keeps the fuzzer fast enough.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPBXSTATE_WERROR=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DPBXSTATE_FUZZ=ON -DPBXSTATE_BUILD_TESTS=OFF -DPBXSTATE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target $targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
status=0
for t in $targets; do
  work="$(mktemp -d)"
  cp fuzz/corpus/"$t"/* "$work"/
  crashes="$build/$t-findings"
  mkdir -p "$crashes"
  log="$build/$t.log"
  echo "== $t: ${secs}s on a copy of fuzz/corpus/$t ($(ls "$work" | wc -l) seeds)"
  if "$build/fuzz/$t" "$work" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$crashes/" >"$log" 2>&1; then
    grep -E '^#[0-9]+' "$log" | tail -n 1 | sed 's/^/   last: /'
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added)' "$log" | sed 's/^/   /'
  else
    status=1
    echo "   FAILED: see $log; the input is kept in $crashes/:"
    ls -1 "$crashes" | sed 's/^/     /'
    grep -E 'ERROR|SUMMARY|Assertion|deadly signal|runtime error' "$log" | head -n 20 | sed 's/^/   /'
  fi
  rm -rf "$work"
done
if [ "$status" -eq 0 ]; then echo "fuzzing: no crash"; fi
exit "$status"
