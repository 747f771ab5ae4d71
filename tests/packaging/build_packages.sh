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

# The log sits beside OUT_DIR, whose parent a fresh build tree does not have yet.
mkdir -p "$(dirname "$out")"
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

# lintian on every package: --fail-on warning makes a new, unexplained warning fail; explained
# ones are overridden in debian/ (packaging/README.md lists them).
lint=(lintian --fail-on error,warning --display-info --show-overrides)
shopt -s nullglob
asterisk_debs=("$out"/asterisk-pbxstate_*.deb "$out"/asterisk-pbxstate-dbgsym_*.deb)
prefix="${ASTERISK_PREFIX:+$(realpath -m "$ASTERISK_PREFIX")}"
if [ ${#asterisk_debs[@]} -eq 0 ] || [ "$prefix" = /usr ]; then
  # Every package of the build, checked together (the .changes).
  "${lint[@]}" "$out"/*.changes | tee "$out/lintian.txt"
else
  # asterisk-pbxstate installs where the Asterisk it was built for keeps its modules and
  # configuration: /usr/lib/asterisk/modules and /etc/asterisk for an Asterisk under /usr
  # (Asterisk's own default prefix), checked like the others above. An Asterisk installed under
  # another prefix puts them outside Debian's folders; the tags that say only that are the
  # prefix's, not the package's, and are not counted for that package (and only for it).
  location_tags=non-standard-toplevel-dir,file-in-unusual-dir,non-etc-file-marked-as-conffile,dir-in-usr-local,file-in-usr-local
  others=()
  for deb in "$out"/*.deb; do
    case "$(basename "$deb")" in asterisk-pbxstate_*|asterisk-pbxstate-dbgsym_*) ;; *) others+=("$deb") ;; esac
  done
  "${lint[@]}" "${others[@]}" | tee "$out/lintian.txt"
  echo "lintian: asterisk-pbxstate is built for the Asterisk under $prefix, not /usr: its path tags ($location_tags) are not counted"
  "${lint[@]}" --suppress-tags "$location_tags" "${asterisk_debs[@]}" | tee -a "$out/lintian.txt"
fi
echo "lintian: no error, no warning that is not overridden with its reason"
