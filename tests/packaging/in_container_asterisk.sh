#!/bin/bash
# Runs inside the booted test root of tests/packaging/asterisk_chroot_test.sh, as a systemd unit:
# the Asterisk that asterisk-pbxstate was built for, with the package installed, loads
# res_pbxstate.so, which joins the local corosync's CPG group and shares a device state.
set -uo pipefail
. /pbxstate-test/env                      # ASTERISK_PREFIX
asterisk="$ASTERISK_PREFIX/sbin/asterisk"
fail() { echo "FAIL: $*"; tail -30 "$ASTERISK_PREFIX/var/log/asterisk/messages.log" 2>/dev/null; exit 1; }
step() { echo "== $*"; }
cli() { "$asterisk" -rx "$1" 2>&1; }

step "in container: boot finished: $(systemctl is-system-running --wait)"
for _ in $(seq 60); do [ "$(systemctl is-active corosync)" = active ] && break; sleep 0.5; done
[ "$(systemctl is-active corosync)" = active ] || fail "corosync is not active"

"$asterisk" -g || fail "asterisk did not start"
for _ in $(seq 120); do cli "core waitfullybooted" | grep -q "fully booted" && break; sleep 0.5; done
cli "module show like pbxstate" | tee /pbxstate-test/modules.txt
grep -q "res_pbxstate.so.*Running" /pbxstate-test/modules.txt || fail "res_pbxstate.so is not running in Asterisk"
step "Asterisk loaded res_pbxstate.so from the package"

for _ in $(seq 60); do cli "pbxstate show members" | grep -q "this server" && break; sleep 0.5; done
cli "pbxstate show members"
cli "pbxstate show members" | grep -q "this server" || fail "res_pbxstate did not join the cluster"
cli "dialplan set global DEVICE_STATE(Custom:mystate) INUSE" >/dev/null
for _ in $(seq 20); do cli "pbxstate show devices like Custom:" | grep -q "Custom:mystate.*INUSE" && break; sleep 0.5; done
cli "pbxstate show devices like Custom:"
cli "pbxstate show devices like Custom:" | grep -q "Custom:mystate.*INUSE" || fail "the device state did not reach the cluster view"
step "res_pbxstate joined CPG and shares Custom:mystate"
cli "core stop now" >/dev/null
touch /pbxstate-test/passed
step "all checks passed"
