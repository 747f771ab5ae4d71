#!/usr/bin/env bash
# The Debian packages as a user gets them: installed with apt into a fresh Debian root, used there
# under systemd, removed, purged. Needs root, debootstrap and systemd-nspawn (systemd-container);
# exits 77 (CTest: skipped) with the reason when one is missing.
#
#   tests/packaging/chroot_test.sh DEBS_DIR WORK_DIR
#
# 1. Base root: `debootstrap --variant=minbase` of the host's Debian release plus systemd, built
#    once and kept in $PBXSTATE_CHROOT_CACHE (default /var/cache/pbxstate-chroot) with apt's
#    downloaded archives; a fresh machine builds it from nothing (the time is printed).
# 2. A fresh copy of it. apt installs what the packages depend on, from Debian's mirror, plus
#    the test's tools (pytest, man-db): snapshot S0. Then apt installs pbxstate, pbxstated and
#    python3-pbxstate: the user, the cluster key (0600, the daemon's user), the enabled unit.
# 3. The root boots under systemd-nspawn (own network namespace: corosync's IPC sockets are
#    abstract, per namespace) and runs tests/packaging/in_container.sh as a unit: corosync and
#    pbxstated started by systemd, the control socket, a restart after SIGKILL,
#    `systemd-analyze verify` and `security`, `pbxstate run` of a shipped scenario with its report,
#    the man pages, the Python module and a pytest file that uses the plugin's fixtures without
#    naming it.
# 4. apt-get remove: every file of the packages is gone but the configuration (conffiles, the key,
#    corosync's uidgid.d file). apt-get purge: compared with S0 nothing is left but the system user
#    (Debian keeps system users).
#
# PBXSTATE_KEEP_ROOT=1 leaves WORK_DIR/root for inspection.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
debs="${1:?DEBS_DIR}"
work="${2:?WORK_DIR}"
. "$here/chroot_lib.sh"

packages=(pbxstate pbxstated python3-pbxstate)
debfiles=()
for p in "${packages[@]}"; do
  f=("$debs/${p}"_*.deb)
  [ -e "${f[0]}" ] || fail "no ${p}_*.deb in $debs"
  debfiles+=("/debs/$(basename "${f[0]}")")
done

# --- 2. a fresh root, dependencies, then the packages -------------------------------------------
fresh_root
mapfile -t deps < <(dependencies_of "${debfiles[@]}")
# The packages' dependencies, and the test's tools (pytest, man-db).
install_from_debian packages "${deps[@]}" python3-pytest man-db
snapshot > "$work/s0.txt"

step "installing ${debfiles[*]}"
in_root apt-get install -y -q --no-install-recommends "${debfiles[@]}" 2>&1 | tee "$work/install.log"
grep -q "^0 upgraded, 3 newly installed, 0 to remove" "$work/install.log" ||
  fail "apt installed more than the three packages (a dependency S0's resolution missed)"
user="$(sed -n 's/^u \([^ ]*\) .*/\1/p' "$root/usr/lib/sysusers.d/pbxstated.conf")"
key_stat="$(in_root stat -c '%a %U:%G %s' /etc/pbxstate/cluster.key)"  # names as the root resolves them
[ "$key_stat" = "600 $user:$user 32" ] || fail "cluster key is '$key_stat', expected 600 $user:$user, 32 bytes"
step "cluster key made: mode 0600, owner $user, 32 bytes"
# Every scenario of the tree is installed, those in subfolders (adversarial/, calibration/, long/) too.
expected="$(cd "$here/../../scenarios" && find . -name '*.yaml' | LC_ALL=C sort)"
installed="$(cd "$root/usr/share/pbxstate/scenarios" && find . -name '*.yaml' | LC_ALL=C sort)"
if [ "$expected" != "$installed" ]; then
  diff <(echo "$expected") <(echo "$installed") >&2
  fail "the installed scenarios differ from the tree's (< only in the tree, > only installed)"
fi
step "all $(echo "$installed" | wc -l) scenarios of the tree installed in /usr/share/pbxstate/scenarios"

# --- 3. boot: the packages in use ---------------------------------------------------------------
boot_and_run "$here/in_container.sh" "$here/plugin_fixtures_test.py"
[ -s "$work/from-container/security.txt" ] && grep -i "overall exposure" "$work/from-container/security.txt"

# --- 4. remove, then purge ---------------------------------------------------------------------
# Booting leaves systemd's own state (machine id, random seed, timers' stamps) and corosync's (its
# ring id: corosync stays installed); none of it is the packages'.
boot_state='^\./(etc/machine-id|var/lib/corosync/ringid_[0-9]+|var/lib/systemd/(random-seed|timers|timesync|linger|coredump|pstore|catalog)(/.*)?|var/lib/dbus/machine-id|etc/systemd/system/timers\.target\.wants.*)$'
mapfile -t conffiles < <(in_root dpkg-query -W -f='${Conffiles}\n' "${packages[@]}" | awk 'NF {print $1}')
step "apt-get remove ${packages[*]}"
in_root apt-get remove -y -q "${packages[@]}" >/dev/null
# Configuration: the conffiles, and what postinst made (the key, corosync's uidgid.d file).
config=("${conffiles[@]}" /etc/pbxstate/cluster.key /etc/corosync/uidgid.d/pbxstated)
for f in "${config[@]}"; do
  [ -e "$root$f" ] || fail "remove took the configuration $f (only purge may)"
done
# Compared with S0, remove may leave the configuration and the folders holding it, the unit's
# enablement (masked until purge, as dh_installsystemd's postrm does) and the boot's own state.
# Anything else is a leftover, also a file dpkg never knew of (a __pycache__ Python wrote next to
# the packages' scripts).
unit_state='^\./(etc/systemd/system|var/lib/systemd/deb-systemd-helper-(enabled|masked))/(.*/)?pbxstated\.service(\.dsh-also)?$'
snapshot > "$work/s-removed.txt"
allowed="$(for f in "${config[@]}"; do
  while [ "$f" != / ]; do printf '.%s\n' "$f"; f="$(dirname "$f")"; done
done | LC_ALL=C sort -u)"
diff "$work/s0.txt" "$work/s-removed.txt" | sed -n 's/^[<>] //p' | grep -Ev "$boot_state" |
  grep -Ev "$unit_state" | grep -vxF "$allowed" > "$work/left-after-remove.txt" || true
if [ -s "$work/left-after-remove.txt" ]; then
  cat "$work/left-after-remove.txt" >&2
  fail "left after remove (not configuration): the paths above"
fi
step "after remove: only the configuration is left (${config[*]})"

# Purge what remove left known to dpkg (state rc: packages with configuration); a package without
# any (python3-pbxstate) is gone already, and apt would not know its name any more.
mapfile -t with_config < <(in_root dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>/dev/null |
  awk '$1 == "rc" {print $2}')
step "apt-get purge ${with_config[*]}"
in_root apt-get purge -y -q "${with_config[@]}" >/dev/null
snapshot > "$work/s1.txt"
# After purge, anything else that differs from S0, and any path that names pbxstate, is a leftover.
diff "$work/s0.txt" "$work/s1.txt" | sed -n 's/^[<>] //p' | grep -Ev "$boot_state" > "$work/leftovers.txt" || true
if [ -s "$work/leftovers.txt" ] || grep -qi pbxstate "$work/s1.txt"; then
  cat "$work/leftovers.txt" >&2
  grep -i pbxstate "$work/s1.txt" >&2 || true
  fail "after purge, the paths above differ from before the packages were installed"
fi
grep -q "^$user:" "$root/etc/passwd" || fail "purge removed the system user $user (Debian keeps system users)"
step "after purge: nothing is left but the system user $user"
[ -n "${PBXSTATE_KEEP_ROOT:-}" ] || rm -rf "$root"
step "packages installed, used, removed and purged in $((SECONDS - t0))s"
