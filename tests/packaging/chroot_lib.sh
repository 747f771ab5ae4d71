# Sourced by the chroot tests (chroot_test.sh, asterisk_chroot_test.sh): a fresh Debian root made
# from a cached debootstrap base, commands run in it with systemd-nspawn, and a boot that runs a
# test script as a systemd unit.
#
# Before sourcing: debs (folder of .deb files), work (scratch folder). Sets root, cache, archives.
# Environment: PBXSTATE_DEBIAN_MIRROR (default http://deb.debian.org/debian), PBXSTATE_CHROOT_CACHE
# (default /var/cache/pbxstate-chroot).

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
t0=$SECONDS
step() { echo "== [$((SECONDS - t0))s] $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, systemd-nspawn)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (scripts/deps.sh installs it)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (package systemd-container)"

. /etc/os-release
suite="$VERSION_CODENAME"
mirror="${PBXSTATE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${PBXSTATE_CHROOT_CACHE:-/var/cache/pbxstate-chroot}"
base="$cache/$suite-base"
archives="$cache/apt-archives"
mkdir -p "$cache" "$archives/partial" "$work"
work="$(cd "$work" && pwd)"
debs="$(cd "$debs" && pwd)"
root="$work/root"

# The base root: `debootstrap --variant=minbase` of the host's release plus systemd (to boot it),
# built once and kept in the cache; a fresh machine builds it from nothing.
ensure_base() {
  [ -e "$base/.complete" ] && return 0
  step "building the base root ($suite, minbase + systemd) from $mirror into $base"
  rm -rf "$base" "$base.tmp"
  local start=$SECONDS
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus --cache-dir="$archives" \
    "$suite" "$base.tmp" "$mirror"
  # The same sources as a user's system: the release and its security updates.
  printf 'deb %s %s main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
    "$mirror" "$suite" "$suite" > "$base.tmp/etc/apt/sources.list"
  touch "$base.tmp/.complete"
  mv "$base.tmp" "$base"
  step "base root built in $((SECONDS - start))s"
}

fresh_root() {
  ensure_base
  step "fresh root in $root"
  rm -rf "$root"
  cp -a "$base" "$root"
  rm -f "$root/.complete"
  step "apt-get update"
  in_root apt-get update -q
}

# install_from_debian NAME PACKAGE...: installs Debian packages (dependencies and test tools,
# never the packages under test) into the fresh root. Installing them takes minutes, so the root
# with exactly this set installed is cached under NAME (a new set replaces NAME's older one) and
# copied instead when it is there.
install_from_debian() {
  local name="$1" key cached
  shift
  key="$(printf '%s\n' "$@" | LC_ALL=C sort -u | sha256sum | cut -c1-16)"
  cached="$cache/$suite-$name-$key"
  if [ -e "$cached/.complete" ]; then
    step "the root with these $# Debian packages is cached ($cached): copying it"
    rm -rf "$root"
    cp -a "$cached" "$root"
    rm -f "$root/.complete"
    in_root apt-get update -q
    return 0
  fi
  step "installing $# Debian packages from $mirror (cached afterwards as $cached)"
  local start=$SECONDS
  in_root apt-get install -y -q --no-install-recommends "$@" >/dev/null
  step "installed in $((SECONDS - start))s"
  rm -rf "$cache/$suite-$name"-*
  cp -a "$root" "$cached.tmp"
  touch "$cached.tmp/.complete"
  mv "$cached.tmp" "$cached"
}

# Runs a command in the (not booted) root, with the host's network, apt's archive cache and the
# packages under /debs.
in_root() {
  systemd-nspawn --quiet --pipe --register=no --keep-unit --resolv-conf=copy-host -D "$root" \
    --bind="$archives:/var/cache/apt/archives" --bind-ro="$debs:/debs" \
    --setenv=DEBIAN_FRONTEND=noninteractive --setenv=LC_ALL=C.UTF-8 "$@"
}

# Every path of the root but the volatile ones and apt's and dpkg's own records.
snapshot() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp \
      -o -path ./var/tmp -o -path ./var/cache -o -path ./var/log -o -path ./var/lib/apt -o -path ./var/lib/dpkg \
      -o -path ./root -o -path ./pbxstate-test \) -prune -o -print | LC_ALL=C sort)
}

# The Debian packages apt would install with the given .deb files (paths under /debs), without
# those: their dependencies, as apt resolves them.
dependencies_of() {
  local names
  names="$(for d in "$@"; do dpkg-deb -f "$debs/$(basename "$d")" Package; done)"
  in_root apt-get install -s --no-install-recommends "$@" | sed -n 's/^Inst \([^ ]*\) .*/\1/p' |
    grep -vxF "$names"
}

# Boots the root (own network namespace) and runs SCRIPT (copied in with the other files given)
# as a systemd unit; the container's systemd exits with the script's status. The console is in
# $work/boot.log; the script's own lines (from its first "== " line) are printed.
boot_and_run() {
  local script="$1"
  shift
  rm -rf "$root/pbxstate-test"
  mkdir -p "$root/pbxstate-test"
  cp "$script" "$@" "$root/pbxstate-test/"
  cat > "$root/etc/systemd/system/pbxstate-package-test.service" <<EOF
[Unit]
Description=pbxstate packages, used as installed
After=multi-user.target
# The container's systemd exits with the script's status (systemd-nspawn returns it).
SuccessAction=exit
FailureAction=exit

[Service]
# Not oneshot: the script waits for the boot to finish (systemctl is-system-running --wait), which
# a oneshot job of the boot transaction would never let happen.
Type=exec
ExecStart=/pbxstate-test/$(basename "$script")
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
  ln -sf /etc/systemd/system/pbxstate-package-test.service \
    "$root/etc/systemd/system/multi-user.target.wants/pbxstate-package-test.service"
  step "booting the root (systemd-nspawn --boot, private network): $(basename "$script")"
  local status=0
  timeout 900 systemd-nspawn --quiet --register=no --keep-unit --private-network -D "$root" --boot \
    -- --show-status=no --log-level=warning > "$work/boot.log" 2>&1 || status=$?
  # The script's lines, as the console shows them ("NAME[PID]: line").
  sed -n "s/^.*$(basename "$script")\[[0-9]*\]: //p" "$work/boot.log" || true
  rm -f "$root/etc/systemd/system/multi-user.target.wants/pbxstate-package-test.service" \
        "$root/etc/systemd/system/pbxstate-package-test.service"
  rm -rf "$work/from-container"
  cp -r "$root/pbxstate-test" "$work/from-container" 2>/dev/null || true
  rm -rf "$root/pbxstate-test"
  [ "$status" -eq 0 ] || fail "the in-container test exited $status (the whole console: $work/boot.log)"
  # A container stopped some other way also exits 0: the script's last act is writing this file.
  [ -e "$work/from-container/passed" ] || fail "the in-container test did not finish (the whole console: $work/boot.log)"
}
