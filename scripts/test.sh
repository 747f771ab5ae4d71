#!/usr/bin/env bash
# Installs what the build needs, builds everything and runs every test suite.
# Exits non-zero when anything fails to build or any test fails (or when no test ran).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

build="${PBXSTATE_BUILD_DIR:-build}"
jobs="$(nproc)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$jobs"
