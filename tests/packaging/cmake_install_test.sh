#!/usr/bin/env bash
# `cmake --install` of this build into a scratch DESTDIR, then the installed programs used from
# there, away from the source tree: pbxstate runs a shipped scenario and draws its report with the
# installed report scripts (found relative to the installed program), the installed Python module
# draws a report the same way, and pytest finds the plugin's fixtures through the installed
# .dist-info. Checks that every file a user expects is installed.
#
#   tests/packaging/cmake_install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$(cd "${1:?BUILD_DIR}" && pwd)"
source="$(cd "${2:?SOURCE_DIR}" && pwd)"
dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")"
DESTDIR="$dest" cmake --install "$build" > "$dest.log" 2>&1 || { cat "$dest.log" >&2; fail "cmake --install"; }
rm -f "$dest.log"
root="$dest$prefix"

expect=(bin/pbxstate share/pbxstate/scenarios/lan-3-mystate.yaml share/pbxstate/reports/html_report.py
        share/pbxstate/reports/runrecord.py share/man/man1/pbxstate.1 share/man/man5/pbxstate-scenario.5
        share/bash-completion/completions/pbxstate)
if grep -q '^PBXSTATE_WITH_CPG' "$build/CMakeCache.txt" || [ -x "$build/daemon/pbxstated" ]; then
  expect+=(sbin/pbxstated share/man/man8/pbxstated.8 share/man/man5/pbxstated.conf.5
           lib/systemd/system/pbxstated.service lib/sysusers.d/pbxstated.conf)
fi
# Every report script and module of reports/ (the scripts import each other).
for f in "$source"/reports/*.py; do
  expect+=("share/pbxstate/reports/$(basename "$f")")
done
for f in "${expect[@]}"; do
  [ -e "$root/$f" ] || fail "cmake --install did not install $prefix/$f"
done
# The report scripts (a `#!` line) are installed executable, the modules they import are not.
for f in "$root"/share/pbxstate/reports/*.py; do
  if [ "$(head -c 2 "$f")" = '#!' ]; then
    [ -x "$f" ] || fail "$f starts with #! but is not executable"
  else
    [ ! -x "$f" ] || fail "$f is executable but has no #! line"
  fi
done
if [ -x "$root/sbin/pbxstated" ]; then
  conf="$(find "$dest" -path '*/pbxstate/pbxstated.yaml' | head -1)"
  [ -n "$conf" ] || fail "no pbxstated.yaml installed"
  grep -q "ExecStart=$prefix/sbin/pbxstated" "$root/lib/systemd/system/pbxstated.service" ||
    fail "the unit does not start $prefix/sbin/pbxstated"
fi
echo "installed under DESTDIR: ${#expect[@]} expected files present"

# The installed command, from a folder far from the sources, without PBXSTATE_REPORTS_DIR.
unset PBXSTATE_REPORTS_DIR
work="$dest/work"
mkdir -p "$work"
cd "$work"
"$root/bin/pbxstate" run "$root/share/pbxstate/scenarios/lan-3-mystate.yaml" --out run --quiet ||
  fail "the installed pbxstate run failed"
[ -s run/report.html ] || fail "the installed pbxstate drew no report.html (report scripts not found)"
# The other pages the report scripts draw: the index of runs and a comparison of two runs.
"$root/bin/pbxstate" run "$root/share/pbxstate/scenarios/lan-3-mystate.yaml" --out runs/b --seed 2 --quiet ||
  fail "the installed pbxstate run (a second run) failed"
cp -r run runs/a
"$root/bin/pbxstate" report index runs > /dev/null || fail "the installed pbxstate report index failed"
[ -s runs/index.html ] || fail "pbxstate report index drew no index.html"
"$root/bin/pbxstate" report compare runs/a runs/b --out compare.html > /dev/null ||
  fail "the installed pbxstate report compare failed"
[ -s compare.html ] || fail "pbxstate report compare drew no page"
echo "installed pbxstate: ran lan-3-mystate.yaml and drew its report, an index and a comparison"

pydir="$(find "$root" -name 'pbxstate.cpython-*.so' -printf '%h\n' | head -1)"
if [ -n "$pydir" ]; then
  [ -d "$(ls -d "$pydir"/pbxstate-*.dist-info | head -1)" ] || fail "no .dist-info beside the installed module"
  PYTHONPATH="$pydir" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$root/share/pbxstate/scenarios/lan-3-mystate.yaml" <<'EOF' ||
import os, sys, pathlib, pbxstate
assert pbxstate.__file__.startswith(os.environ["PYTHONPATH"]), pbxstate.__file__  # the installed one
run = pbxstate.Scenario.load(sys.argv[1]).run(out="pyrun")
page = run.write_report("pyrun")
assert pathlib.Path(page).is_file(), page
print("installed module: ran the scenario and drew", page)
EOF
    fail "the installed Python module"
  cp "$source/tests/packaging/plugin_fixtures_test.py" "$work/"
  PYTHONPATH="$pydir" PYTHONDONTWRITEBYTECODE=1 \
    PBXSTATE_TEST_SCENARIO="$root/share/pbxstate/scenarios/lan-3-mystate.yaml" \
    /usr/bin/python3 -m pytest -p no:cacheprovider -q --rootdir "$work" "$work/plugin_fixtures_test.py" ||
    fail "pytest with the installed plugin"
fi
echo "cmake --install: installed programs work from their installed files"
