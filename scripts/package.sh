#!/usr/bin/env bash
# Builds the Debian packages from this tree without touching it: copies the tree's files (tracked
# ones and new ones git does not ignore) to OUT/src/pbxstate-VERSION, runs
# `dpkg-buildpackage -us -uc -b` there (debian/rules), and leaves the .deb files (with their
# -dbgsym, .buildinfo and .changes) in OUT. packaging/README.md says what each package holds.
#
#   scripts/package.sh [OUT]        OUT defaults to build/packages
#
# Environment, passed on to debian/rules:
#   PBXSTATE_WERROR=ON   warnings are errors (the test command's package build)
#   PBXSTATE_CCACHE=1    compile through ccache (repeated builds of the test command)
#   ASTERISK_PREFIX=DIR  also build asterisk-pbxstate, for the Asterisk installed under DIR
# Build dependencies (debian/control's Build-Depends) must be installed: scripts/deps.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-build/packages}"
version="$(sed -n 's/^project(pbxstate VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
src="$out/src/pbxstate-$version"

# A fresh copy of the sources, always at the same path (so ccache finds its earlier compiles).
rm -rf "$src"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
  done |
  tar --null --files-from=- -cf - | tar -xf - -C "$src"

if [ -n "${PBXSTATE_CCACHE:-}" ] && command -v ccache >/dev/null; then
  source scripts/ccache-env.sh  # the settings of scripts/test.sh's build, so its objects are found
fi

profiles=()
[ -n "${ASTERISK_PREFIX:-}" ] && profiles=(-Ppkg.pbxstate.asterisk)
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
(cd "$src" && dpkg-buildpackage -us -uc -b -j"${PBXSTATE_JOBS:-$(nproc)}" "${profiles[@]}")
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
shopt -s nullglob
ddebs=("$out"/src/*.ddeb)
[ ${#ddebs[@]} -eq 0 ] || mv "${ddebs[@]}" "$out"/
echo "packages in $out:"
ls -1 "$out"/*.deb
