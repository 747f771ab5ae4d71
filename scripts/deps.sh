#!/usr/bin/env bash
# Installs the Debian packages pbxstate needs to build, test and run scenarios.
# Idempotent: packages already installed are skipped, and apt-get is not called at all
# when nothing is missing. Needs root (or sudo) only when something must be installed.
set -euo pipefail

packages=(
  # toolchain and build
  build-essential cmake ninja-build pkg-config git
  # the test command compiles each object once for its test build and the Debian packages
  ccache
  # engine tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # scenario runner and command line
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  # ns-3 backend: the CMake package loads only with ns3 and libgsl-dev present
  libns3-dev ns3 libgsl-dev
  # python side: bindings, tests, plots (Debian's /usr/bin/python3)
  python3 python3-dev pybind11-dev python3-pybind11 python3-pytest python3-yaml python3-matplotlib
  # real clusters: corosync and its CPG library, network namespaces, netem, partitions
  corosync libcpg-dev libcfg-dev libquorum-dev iproute2 nftables
  # frame authentication, and libFuzzer (clang's runtime) for the fuzz targets
  libsodium-dev clang libclang-rt-14-dev
  # pbxstated tells systemd it is ready (sd_notify; its unit is Type=notify)
  libsystemd-dev
  # reports opened as a person sees them (headless screenshot test)
  chromium fonts-dejavu-core
  # SIP phones for res_pbxstate's registration test (run when an Asterisk with chan_pjsip is found)
  sip-tester
  # res_pbxstate's XML documentation checked against Asterisk's DTD (asterisk.module_docs)
  libxml2-utils
  # Debian packages (debian/, tests/packaging): building them, lintian, the man pages' checks
  # (man, groff), and the test root they are installed into (debootstrap, systemd-nspawn)
  debhelper dh-python lintian man-db groff-base debootstrap systemd-container
  # the size rules' test (docs.sizes, tests/docs/sizes_check.py) measures functions by ctags' end lines
  universal-ctags
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
install() {
  echo "deps: installing $*"
  # One update per machine is enough; refresh only when the lists are missing or older than a day.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
    $SUDO apt-get update -q
  fi
  $SUDO apt-get install -y -q --no-install-recommends "$@"
}
[ ${#missing[@]} -eq 0 ] || install "${missing[@]}"

# The Debian package build's own dependencies are debian/control's Build-Depends (their one
# definition, which dpkg-buildpackage checks): whatever of them is not met is installed too, so a
# Build-Depends added there needs no line here. dpkg-checkbuilddeps (dpkg-dev, part of
# build-essential above) names them; versions, architectures and profiles are dropped, of
# alternatives the first is taken.
control="$(dirname "$0")/../debian/control"
unmet="$(dpkg-checkbuilddeps "$control" 2>&1 >/dev/null | sed -n 's/^.*Unmet build dependencies: //p' |
  sed -E 's/ \([^)]*\)//g; s/ \[[^]]*\]//g; s/ <[^>]*>//g; s/ \| [^ ]+//g')"
if [ -n "$unmet" ]; then
  read -r -a unmet_packages <<< "$unmet"
  install "${unmet_packages[@]}"
  dpkg-checkbuilddeps "$control"
elif [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages and debian/control's Build-Depends present"
fi
