#!/usr/bin/env bash
# Runs the Python suite (tests/pybind) with Debian's /usr/bin/python3 against the pbxstate module
# of BUILD_DIR (its pybind/python folder goes first on PYTHONPATH; nothing is installed).
#   scripts/pytest.sh BUILD_DIR [pytest arguments...]
# Exits non-zero when a test fails, when the module was not built, or when pytest collects no
# test at all (pytest's exit status 5): a suite that ran nothing has not passed.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
  echo "usage: scripts/pytest.sh BUILD_DIR [pytest arguments...]" >&2
  exit 2
fi
build="$1"
shift
if [ ! -d "$build" ]; then
  echo "scripts/pytest.sh: $build: no such build folder" >&2
  exit 1
fi
module_dir="$(cd "$build" && pwd)/pybind/python"
if ! compgen -G "$module_dir/pbxstate*.so" >/dev/null; then
  echo "scripts/pytest.sh: no pbxstate module in $module_dir: build the pbxstate_python target" \
       "(it needs python3-dev and pybind11-dev; see pybind/README.md)" >&2
  exit 1
fi

export PYTHONPATH="$module_dir${PYTHONPATH:+:$PYTHONPATH}"
# Nothing written into the source tree: no __pycache__, no .pytest_cache.
export PYTHONDONTWRITEBYTECODE=1
/usr/bin/python3 -m pytest tests/pybind -p no:cacheprovider -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "scripts/pytest.sh: pytest collected no tests in tests/pybind: that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
