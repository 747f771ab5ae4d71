#!/usr/bin/env bash
# The main job: installs what it needs, builds, runs a scenario in ns-3 and leaves a report.
#   scripts/run.sh [SCENARIO] [pbxstate run options...]
# Default scenario: scenarios/partition-heal.yaml. The record and report.html land in
# out/<scenario name>/ unless --out says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
build="${PBXSTATE_BUILD_DIR:-build}"
# A new build folder is a RelWithDebInfo build; an existing one keeps its configuration (after
# scripts/test.sh: the packages' Release flags), so the two commands do not rebuild each other's.
if [ -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" > /dev/null
else
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
fi
cmake --build "$build" -j "$(nproc)" --target pbxstate

scenario="${1:-scenarios/partition-heal.yaml}"
shift || true
status=0
"$build/sim/cli/pbxstate" run "$scenario" "$@" || status=$?
# Exit 1 means a check failed: the report still shows why.
exit "$status"
