#!/usr/bin/env bash
# asterisk-pbxstate as a user gets it: apt refuses it without the Asterisk it was built for and
# next to an Asterisk built with other build options, installs it next to that Asterisk, and that
# Asterisk loads the module, which joins corosync's CPG group. Then remove and purge. Needs what
# chroot_test.sh needs (skipped otherwise) and the Asterisk under ASTERISK_PREFIX that the package
# was built against (Asterisk is not in Debian 12: this one was built from source; it is copied
# into the test root with the Debian packages of the libraries it loads).
#
#   tests/packaging/asterisk_chroot_test.sh DEBS_DIR WORK_DIR ASTERISK_PREFIX
# An empty ASTERISK_PREFIX (the build found no Asterisk headers) skips the test (exit 77).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
debs="${1:?DEBS_DIR}"
work="${2:?WORK_DIR}"
prefix="${3-}"
if [ -z "$prefix" ]; then
  echo "SKIPPED: no Asterisk configured, so asterisk-pbxstate was not built: configure the build with an Asterisk 22 installed with its headers (scripts/test.sh: ASTERISK_PREFIX=DIR; cmake: -DASTERISK_INCLUDE_DIR=DIR/include)"
  exit 77
fi
. "$here/chroot_lib.sh"

deb=("$debs"/asterisk-pbxstate_*.deb)
[ -e "${deb[0]}" ] || fail "no asterisk-pbxstate_*.deb in $debs (scripts/package.sh builds it when ASTERISK_PREFIX is set)"
debfile="/debs/$(basename "${deb[0]}")"
binary="$prefix/sbin/asterisk"
[ -x "$binary" ] || fail "no Asterisk at $binary"

# The Debian packages that hold the libraries Asterisk's binary, its own libraries and modules load
# (dpkg knows a library of a merged /usr under /lib or under /usr/lib, as its package shipped it).
asterisk_library_packages() {
  find "$prefix/sbin/asterisk" "$prefix/lib" -name '*.so*' -o -path "$prefix/sbin/asterisk" | while read -r f; do
    ldd "$f" 2>/dev/null | awk '/=> \// {print $3}'
  done | grep -v "^$prefix/" | sort -u | while read -r lib; do
    real="$(readlink -f "$lib")"
    { dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null; } | cut -d: -f1
  done | sort -u
}

fresh_root
mapfile -t deps < <(dependencies_of "$debfile")
mapfile -t libs < <(asterisk_library_packages)
# The package's dependencies, corosync, and the libraries of Asterisk's binaries.
install_from_debian asterisk "${deps[@]}" "${libs[@]}" corosync

step "no Asterisk in the root: apt must refuse the package"
if out="$(in_root apt-get install -y -q "$debfile" 2>&1)"; then fail "installed without any Asterisk at $binary"; fi
grep -q "no Asterisk at $binary" <<<"$out" || { echo "$out" >&2; fail "refused, but not by the build-option check"; }
in_root dpkg --purge asterisk-pbxstate >/dev/null 2>&1 || true

step "an Asterisk built with other build options: apt must refuse the package"
# That Asterisk's binary with another build-option checksum in place of its own: what a build of
# the same sources with other menuselect options carries.
sum="$(sed -n 's/^#define AST_BUILDOPT_SUM "\([0-9a-f]*\)"$/\1/p' "$prefix/include/asterisk/buildopts.h")"
[ ${#sum} -eq 32 ] || fail "no AST_BUILDOPT_SUM in $prefix/include/asterisk/buildopts.h"
grep -qaF "$sum" "$binary" || fail "$binary does not carry its headers' AST_BUILDOPT_SUM $sum"
other="$(printf '%s' "$sum" | tr '0-9a-f' '1-9a-f0')"
mkdir -p "$(dirname "$root$binary")"
SUM="$sum" OTHER="$other" perl -pe 's/\Q$ENV{SUM}\E/$ENV{OTHER}/g' "$binary" > "$root$binary"
chmod +x "$root$binary"
grep -qaF "$other" "$root$binary" && ! grep -qaF "$sum" "$root$binary" || fail "could not make the other build's binary"
if out="$(in_root apt-get install -y -q "$debfile" 2>&1)"; then fail "installed next to an Asterisk of other build options"; fi
grep -q "other build options" <<<"$out" || { echo "$out" >&2; fail "refused, but not by the build-option check"; }
in_root dpkg --purge asterisk-pbxstate >/dev/null 2>&1 || true

step "the Asterisk it was built for (copied from $prefix, without a module or pbxstate.conf of its own)"
rm -rf "${root:?}$prefix"
mkdir -p "$(dirname "$root$prefix")"
cp -a "$prefix" "$root$prefix"
rm -f "$root$prefix"/lib/asterisk/modules/res_pbxstate.so "$root$prefix"/etc/asterisk/pbxstate.conf* \
  "$root$prefix"/var/lib/asterisk/documentation/thirdparty/pbxstate-en_US.xml
in_root apt-get install -y -q --no-install-recommends "$debfile" 2>&1 | tee "$work/install.log"
grep -q "^0 upgraded, 1 newly installed" "$work/install.log" || fail "apt did not install asterisk-pbxstate alone"
mapfile -t owned < <(in_root dpkg -L asterisk-pbxstate)
module="$(printf '%s\n' "${owned[@]}" | grep '/res_pbxstate\.so$')"
[ "$module" = "$prefix/lib/asterisk/modules/res_pbxstate.so" ] || fail "res_pbxstate.so installed at '$module'"
step "installed: $module"
docs="$(printf '%s\n' "${owned[@]}" | grep '/pbxstate-en_US\.xml$')"
[ "$docs" = "$prefix/var/lib/asterisk/documentation/thirdparty/pbxstate-en_US.xml" ] ||
  fail "the module's XML documentation installed at '$docs' (Asterisk reads documentation/thirdparty/)"

# The user's part: Asterisk's own configuration (an entity id, the modules to load).
etc="$root$prefix/etc/asterisk"
printf '[options]\nentityid = 02:00:5e:00:00:01\nsystemname = pbx1\n' > "$etc/asterisk.conf"
printf '[modules]\nautoload = no\nload => res_pbxstate.so\nload => func_devstate.so\nload => pbx_config.so\n' > "$etc/modules.conf"
printf '[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose\n' > "$etc/logger.conf"
printf '[general]\n[globals]\n[default]\n' > "$etc/extensions.conf"
echo "ASTERISK_PREFIX=$prefix" > "$work/env"
boot_and_run "$here/in_container_asterisk.sh" "$work/env"

step "apt-get remove, then purge asterisk-pbxstate"
in_root apt-get remove -y -q asterisk-pbxstate >/dev/null
[ ! -e "$root$module" ] || fail "remove left $module"
[ ! -e "$root$docs" ] || fail "remove left $docs"
[ -e "$root$prefix/etc/asterisk/pbxstate.conf" ] || fail "remove took pbxstate.conf (only purge may)"
in_root apt-get purge -y -q asterisk-pbxstate >/dev/null
[ ! -e "$root$prefix/etc/asterisk/pbxstate.conf" ] || fail "purge left pbxstate.conf"
[ -n "${PBXSTATE_KEEP_ROOT:-}" ] || rm -rf "$root"
step "asterisk-pbxstate refused twice, installed, loaded by Asterisk, removed and purged in $((SECONDS - t0))s"
