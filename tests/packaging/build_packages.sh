#!/usr/bin/env bash
# The Debian packages, built as a packager builds them (scripts/package.sh: a copy of the tree,
# dpkg-buildpackage, upstream's Release build with dpkg-buildflags' hardening flags) and with
# warnings as errors, through ccache: after scripts/test.sh's build (the same flags) it compiles
# only the few files whose command line names the source folder. Then lintian on every package: any error, and any
# warning not overridden (with its reason) in debian/*.lintian-overrides, fails.
#
#   tests/packaging/build_packages.sh OUT_DIR
set -euo pipefail
out="${1:?OUT_DIR}"
cd "$(dirname "$0")/../.."

for tool in dpkg-buildpackage dh lintian; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

start=$SECONDS
PBXSTATE_WERROR=ON PBXSTATE_CCACHE=1 bash scripts/package.sh "$out" > "$out.log" 2>&1 || {
  tail -60 "$out.log" >&2
  echo "FAIL: the package build failed (whole log: $out.log)" >&2
  exit 1
}
echo "packages built in $((SECONDS - start))s (log: $out.log)"
for deb in "$out"/*.deb; do
  echo "--- $(basename "$deb")"
  dpkg-deb -f "$deb" Package Version Architecture Depends Recommends Suggests | sed 's/^/  /'
done

# lintian on the .changes: every package of the build, checked together. --fail-on warning makes
# a new, unexplained warning fail; explained ones are overridden in debian/ (packaging/README.md
# lists them).
lintian --fail-on error,warning --display-info --show-overrides "$out"/*.changes | tee "$out/lintian.txt"
echo "lintian: no error, no warning that is not overridden with its reason"
