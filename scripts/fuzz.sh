#!/usr/bin/env bash
# The libFuzzer targets (fuzz/), built with clang, ASan and UBSan in a build directory of their
# own. Two modes (fuzz/README.md):
#
#   scripts/fuzz.sh replay            every input of every corpus, once each: deterministic; what
#                                     the test command runs. Fails on any crash, leak, sanitizer
#                                     report, assertion or timeout (60 s per input).
#   scripts/fuzz.sh explore [SECONDS] fuzz each target for SECONDS (default 60) from a temporary
#                                     copy of its seed corpus. A finding counts only when its
#                                     input fails again when run alone (with a limit five times
#                                     the fuzzing limit): one that does not is reported as
#                                     unconfirmed, kept, and fuzzing goes on for the time left.
#   scripts/fuzz.sh SECONDS           the same as `explore SECONDS` (the old form).
#
# The corpora replayed: fuzz/corpus/<target>/ (the seeds, and every finding once fixed, as
# regression-<what>), and the inputs the test suites keep for the same code: the shipped
# scenarios, tests/sim/scenario/bad/ and tests/sim/scenario/backend/ for the loader; tests/engine/frames/*.bin,
# each as one frame in each of the four modes, for the frame decoder.
#
#   PBXSTATE_FUZZ_BUILD_DIR=dir   build directory (default build-fuzz)
#   PBXSTATE_FUZZ_TARGETS="..."   targets (default: fuzz_frame_decoder fuzz_scenario_loader)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mode="explore"
default_secs=60  # the one default: scripts/test.sh passes no SECONDS unless told
secs="$default_secs"
case "${1:-}" in
  replay) mode="replay"; [ $# -le 1 ] || usage ;;
  explore) secs="${2:-$default_secs}"; [ $# -le 2 ] || usage ;;
  '') ;;
  *) secs="$1"; [ $# -le 1 ] || usage ;;
esac
case "$secs" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got '$secs'" >&2; exit 2;; esac
build="${PBXSTATE_FUZZ_BUILD_DIR:-build-fuzz}"
targets="${PBXSTATE_FUZZ_TARGETS:-fuzz_frame_decoder fuzz_scenario_loader}"
jobs="$(nproc)"

# libFuzzer's limits while fuzzing; a finding is confirmed alone with confirm_factor times more.
fuzz_timeout=10
confirm_factor=5
confirm_runs=3
replay_timeout=60
rss_mb=2048
max_restarts=5

# Debug keeps the engine's assertions live; -O1 keeps the fuzzer fast enough.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPBXSTATE_WERROR=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DPBXSTATE_FUZZ=ON -DPBXSTATE_BUILD_TESTS=OFF -DPBXSTATE_BUILD_BENCH=OFF >/dev/null
# shellcheck disable=SC2086  # targets is a list
cmake --build "$build" -j "$jobs" --target $targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# The inputs to replay for target $1, one path per line.
replay_inputs() {
  local t="$1"
  find "fuzz/corpus/$t" -maxdepth 1 -type f | sort
  case "$t" in
    fuzz_scenario_loader)
      find scenarios tests/sim/scenario/bad tests/sim/scenario/backend -maxdepth 1 -type f -name '*.yaml' | sort ;;
    fuzz_frame_decoder)
      # One frame per input: mode byte, 2-byte little-endian length, the frame (fuzz_frame_decoder.cc).
      local wrapped="$scratch/frames"
      mkdir -p "$wrapped"
      /usr/bin/python3 - "$wrapped" tests/engine/frames/*.bin <<'EOF'
import os, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    frame = open(path, "rb").read()
    assert len(frame) < 1 << 16, path
    for mode in range(4):
        name = os.path.join(out, f"{os.path.basename(path)}-mode{mode}")
        with open(name, "wb") as f:
            f.write(bytes([mode]) + len(frame).to_bytes(2, "little") + frame)
EOF
      find "$wrapped" -type f | sort ;;
  esac
}

# Replays every input of target $1 once; 0 when all passed.
replay() {
  local t="$1"
  local log="$build/$t-replay.log" list="$scratch/$t.list"
  replay_inputs "$t" >"$list"
  local count start end
  count="$(wc -l <"$list")"
  if [ "$count" -eq 0 ]; then
    echo "== $t: nothing to replay: fuzz/corpus/$t is empty"
    return 1
  fi
  start="$(date +%s.%N)"
  # Files as arguments: libFuzzer runs each once ("Running: FILE") and fuzzes nothing (-r: never
  # start the target without files, which would fuzz without end).
  if xargs -r -d '\n' -a "$list" "$build/fuzz/$t" -timeout="$replay_timeout" -rss_limit_mb="$rss_mb" \
       >"$log" 2>&1; then
    end="$(date +%s.%N)"
    local ran
    ran="$(grep -c '^Executed ' "$log" || true)"
    if [ "$ran" -ne "$count" ]; then
      echo "== $t: replay ran $ran of $count inputs; see $log"
      return 1
    fi
    awk -v t="$t" -v n="$count" -v s="$start" -v e="$end" \
      'BEGIN { printf "== %s: replayed %d inputs, each once, in %.1f s: no finding\n", t, n, e - s }'
    return 0
  fi
  echo "== $t: replay FAILED (a corpus input crashes, leaks, trips a sanitizer or times out)"
  grep -E '^Running: ' "$log" | tail -n 1 | sed 's/^/   input: /'
  grep -E 'ERROR|SUMMARY|Assertion|deadly signal|runtime error|timeout' "$log" | head -n 20 | sed 's/^/   /'
  echo "   full log: $log; reproduce with $build/fuzz/$t FILE"
  return 1
}

# Runs the input $2 alone through target $1, $confirm_runs times, with limits $confirm_factor
# times the fuzzing ones; 0 (confirmed) when any run fails.
confirmed() {
  local t="$1" input="$2" i
  for ((i = 1; i <= confirm_runs; i++)); do
    if ! "$build/fuzz/$t" "$input" -runs=1 -timeout=$((fuzz_timeout * confirm_factor)) \
         -rss_limit_mb=$((rss_mb * confirm_factor)) >>"$build/$t-confirm.log" 2>&1; then
      return 0
    fi
  done
  return 1
}

# Fuzzes target $1 for $secs seconds in all; 0 unless a finding was confirmed.
explore() {
  local t="$1"
  local work="$scratch/$t-corpus" findings="$build/$t-findings" unconfirmed="$build/$t-unconfirmed"
  mkdir -p "$work" "$findings" "$unconfirmed"
  cp fuzz/corpus/"$t"/* "$work"/
  local deadline=$(( $(date +%s) + secs )) restarts=0 left
  echo "== $t: fuzzing ${secs}s from a copy of fuzz/corpus/$t ($(find "$work" -type f | wc -l) seeds)"
  while left=$(( deadline - $(date +%s) )); [ "$left" -gt 0 ]; do
    local log="$build/$t.log" artifacts="$scratch/$t-artifacts-$restarts/"
    mkdir -p "$artifacts"
    if "$build/fuzz/$t" "$work" -max_total_time="$left" -print_final_stats=1 -timeout="$fuzz_timeout" \
         -rss_limit_mb="$rss_mb" -artifact_prefix="$artifacts" >"$log" 2>&1; then
      grep -E '^#[0-9]+' "$log" | tail -n 1 | sed 's/^/   last: /'
      grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added)' "$log" |
        sed 's/^/   /'
      return 0
    fi
    local found=0 input
    for input in "$artifacts"*; do
      [ -f "$input" ] || continue
      found=1
      if confirmed "$t" "$input"; then
        cp "$input" "$findings/"
        echo "   FINDING (fails again alone): $findings/$(basename "$input")"
        grep -E 'ERROR|SUMMARY|Assertion|deadly signal|runtime error|timeout' "$log" | head -n 20 | sed 's/^/   /'
        echo "   full log: $log; reproduce with $build/fuzz/$t $findings/$(basename "$input")"
        return 1
      fi
      cp "$input" "$unconfirmed/"
      echo "   unconfirmed: $(basename "$input") failed while fuzzing but passes alone" \
           "($confirm_runs runs, limits x$confirm_factor): not counted; kept in $unconfirmed/"
    done
    if [ "$found" -eq 0 ]; then
      echo "   FAILED without an input to blame: see $log"
      return 1
    fi
    restarts=$((restarts + 1))
    if [ "$restarts" -gt "$max_restarts" ]; then
      echo "   $max_restarts unconfirmed findings in a row: stopping; the machine may be overloaded"
      return 0
    fi
  done
  return 0
}

status=0
for t in $targets; do
  if [ "$mode" = "replay" ]; then
    replay "$t" || status=1
  else
    explore "$t" || status=1
  fi
done
if [ "$status" -eq 0 ]; then echo "fuzzing ($mode): no finding"; fi
exit "$status"
