#!/usr/bin/env bash
# Installs what the build needs, builds everything and runs every test suite (CTest, then the
# Python suite with pytest), runs the regression gate against reports/baselines, replays the
# fuzz corpora and fuzzes the frame decoder and the scenario loader for a minute each, then
# runs the engine's suites again in a Debug build under AddressSanitizer and
# UndefinedBehaviorSanitizer (where the engine's invariant assertions are live).
# Exits non-zero when anything fails to build or any test fails (or when no test ran).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

build="${PBXSTATE_BUILD_DIR:-build}"
jobs="$(nproc)"
# The build the suites run on is the Debian packages' build: upstream's Release with
# dpkg-buildflags' hardening flags (debian/rules prints them), so a warning only -O3 or the
# hardening flags show fails here, and the tests run on the objects the packages ship. Both
# builds compile through one ccache that ignores where a tree is (a base folder above both, no
# working directory in the key) and in the locale debhelper builds in (ccache keys on LC_ALL):
# the package build at the end compiles only the few files whose defines or include paths name
# the source folder, and links (packaging/README.md, "The test command").
source scripts/ccache-env.sh
mapfile -t release_flags < <(make -s -f debian/rules print-cmake-buildflags)
# ASTERISK_PREFIX: an Asterisk 22 installed there (with its headers) builds res_pbxstate and runs
# its two-server integration test, and the package build makes asterisk-pbxstate for it; without
# it, the module is built only when Asterisk's headers are in /usr/include, and the tests that
# need it are skipped with a message.
# Warnings are errors here and in CI (PBXSTATE_WERROR is off for users and packagers).
cmake -S . -B "$build" -G Ninja "${release_flags[@]}" -DPBXSTATE_WERROR=ON \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  ${ASTERISK_PREFIX:+-DASTERISK_INCLUDE_DIR="$ASTERISK_PREFIX/include"}
LC_ALL=C.UTF-8 cmake --build "$build" -j "$jobs"
# Everything but the packages' tests, which get their own step below.
ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$jobs" -LE packaging

# The Python bindings and the pytest plugin, with Debian's interpreter (fails when a test fails
# or when pytest collects nothing).
bash scripts/pytest.sh "$build"

# The regression gate: every scenario with a baseline in reports/baselines runs again, once per
# seed its baseline lists, and the median over those runs of each metric must be no worse than
# the baseline (convergence, latency, cost per change, lost/stale; reports/README.md). The run
# records, reports, index.html and junit.xml stay in $build/gate for people and CI systems.
mapfile -t gated < <(sed -n 's/^file: //p' reports/baselines/*.yaml)
"$build/sim/cli/pbxstate" check "${gated[@]}" --baseline reports/baselines --out "$build/gate"

# Fuzzing (fuzz/README.md), under libFuzzer with ASan and UBSan (clang). First every corpus is
# replayed, each input once: deterministic, it fails only on an input that crashes, leaks, trips
# a sanitizer or runs over 60 s. Then the frame decoder and the scenario loader are fuzzed for
# PBXSTATE_FUZZ_SECONDS each (unset: fuzz.sh's default, a minute; 0 skips it); a finding fails the
# run only when its input fails again when run alone, so a busy machine's slow moment is not a failure.
PBXSTATE_FUZZ_BUILD_DIR="${build}-fuzz" bash scripts/fuzz.sh replay
fuzz_seconds="${PBXSTATE_FUZZ_SECONDS:-}"
if [ "$fuzz_seconds" != 0 ]; then
  PBXSTATE_FUZZ_BUILD_DIR="${build}-fuzz" bash scripts/fuzz.sh explore ${fuzz_seconds:+"$fuzz_seconds"}
fi

# The sanitizer pass: engine units, the C API, the cluster tests, and swarm seeds (random
# scenarios on the in-process cluster, both membership modes) when ns-3 is there to build them.
asan="${build}-asan"
cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPBXSTATE_BUILD_BENCH=OFF -DPBXSTATE_WERROR=ON \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
  -DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
# The suites by their path in the build folder; each one's target is its file name.
asan_suites=(tests/engine/engine_unit_tests tests/engine/capi/capi_contract_test tests/engine/capi/capi_cluster_test_c11
             tests/transports/inproc/pbxstate_cluster_tests tests/engine/frames/frame_corpus_test)
cmake --build "$asan" -j "$jobs" --target "${asan_suites[@]##*/}" pbxstate
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
for t in "${asan_suites[@]}"; do
  echo "== sanitizers: $t"
  "$asan/$t"
done
# `swarm` is a subcommand only in a build with ns-3 (the runners): without it there is none to run.
if "$asan/sim/cli/pbxstate" swarm --help >/dev/null 2>&1; then
  echo "== sanitizers: pbxstate swarm"
  "$asan/sim/cli/pbxstate" swarm --seeds 300 --out "$asan/swarm" --quiet
fi
echo "sanitizer pass: all suites clean"

# The Debian packages (tests/packaging, label `packaging`): built from a copy of the tree with
# dpkg-buildpackage (through the ccache the build above filled) and lintian, installed into a
# fresh Debian root, used there, removed and purged; with ASTERISK_PREFIX also asterisk-pbxstate
# against that Asterisk. Last and alone: they boot a system and must not share the two cores with
# the timing-sensitive suites.
ctest --test-dir "$build" --output-on-failure --no-tests=error -L packaging
