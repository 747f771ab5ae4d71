#!/bin/bash
# Runs inside the booted test root of tests/packaging/chroot_test.sh, as a systemd unit, with the
# packages installed the way a user installs them. Exits non-zero at the first thing that is not
# as a user would expect it.
set -uo pipefail
export LC_ALL=C.UTF-8
echo "== in container: $(. /etc/os-release; echo "$PRETTY_NAME"), systemd $(systemctl --version | sed -n '1s/systemd \([0-9]*\).*/\1/p')"
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $*"; }

step "boot finished: $(systemctl is-system-running --wait)"

# corosync and pbxstated, enabled by their packages, started by systemd at boot.
for unit in corosync pbxstated; do
  for _ in $(seq 60); do
    [ "$(systemctl is-active "$unit")" = active ] && break
    sleep 0.5
  done
  if [ "$(systemctl is-active "$unit")" != active ]; then
    systemctl status --no-pager "$unit" | cat
    journalctl -b --no-pager -u "$unit" | tail -30
    fail "$unit is not active"
  fi
done
# Type=notify: active means pbxstated itself said READY=1, so the main process is the daemon after
# exec, no longer systemd's forked child that still runs as root while it sets up the sandbox.
[ "$(systemctl show -P Type pbxstated)" = notify ] || fail "pbxstated.service is not Type=notify"
# The effective uid from /proc/PID/status (the owner of /proc/PID itself is root for a process that
# is not dumpable, which says nothing about who it runs as).
user="$(systemctl show -P User pbxstated)"
euid="$(awk '/^Uid:/ {print $3}' "/proc/$(systemctl show -P MainPID pbxstated)/status")"
[ "$euid" = "$(id -u "$user")" ] || fail "pbxstated runs as uid $euid, not $user ($(id -u "$user"))"
step "corosync and pbxstated active (READY=1 sent); pbxstated runs as $user"

# The control socket: the daemon joined CPG through corosync's IPC under the unit's sandbox, and
# uses the cluster key the package made.
control() {
  python3 - "$@" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect("/run/pbxstated/control.sock")
f = s.makefile("rw")
for request in sys.argv[1:]:
    f.write(request + "\n")
    f.flush()
    print(f.readline().strip())
EOF
}
hello=""
for _ in $(seq 40); do
  hello="$(control '{"op":"hello"}' 2>/dev/null)" && [ -n "$hello" ] && break
  sleep 0.5
done
echo "hello: $hello"
echo "$hello" | grep -Eq '"authenticated": ?true' || fail "pbxstated does not answer hello as authenticated"
answer="$(control '{"op":"set_device","device":"Custom:mystate","state":"INUSE"}' '{"op":"device","device":"Custom:mystate"}')"
echo "$answer"
echo "$answer" | tail -1 | grep -Eq '"aggregate": ?"INUSE"' || fail "a device state set through the control socket does not read back"

# Restart on failure.
pid="$(systemctl show -P MainPID pbxstated)"
systemctl kill -s KILL pbxstated
for _ in $(seq 60); do
  new="$(systemctl show -P MainPID pbxstated)"
  [ "$(systemctl is-active pbxstated)" = active ] && [ "$new" != 0 ] && [ "$new" != "$pid" ] && break
  sleep 0.5
done
[ "$(systemctl show -P NRestarts pbxstated)" -ge 1 ] || fail "pbxstated was not restarted after SIGKILL"
step "restarted after SIGKILL (NRestarts=$(systemctl show -P NRestarts pbxstated))"

# The unit, as systemd's own tools see it.
verify="$(systemd-analyze verify pbxstated.service 2>&1)"
[ -z "$verify" ] || { echo "$verify"; fail "systemd-analyze verify pbxstated.service is not silent"; }
step "systemd-analyze verify pbxstated.service: clean"
systemd-analyze security --no-pager pbxstated.service > /pbxstate-test/security.txt 2>&1
step "systemd-analyze security: $(grep -i 'overall exposure' /pbxstate-test/security.txt)"

# The command: a shipped scenario, its report drawn by the shipped report scripts.
cd /tmp
pbxstate run /usr/share/pbxstate/scenarios/lan-3-mystate.yaml --out /tmp/lan-3 || fail "pbxstate run lan-3-mystate.yaml failed"
for f in run.json junit.xml report.html; do
  [ -s "/tmp/lan-3/$f" ] || fail "pbxstate run wrote no $f"
done
step "pbxstate run: passed, run.json, junit.xml and report.html written"
# Every page the shipped report scripts draw: a comparison of two runs and the index of runs.
pbxstate run /usr/share/pbxstate/scenarios/lan-3-mystate.yaml --out /tmp/runs/b --seed 2 --quiet ||
  fail "pbxstate run lan-3-mystate.yaml --seed 2 failed"
cp -r /tmp/lan-3 /tmp/runs/a
pbxstate report compare /tmp/runs/a /tmp/runs/b --out /tmp/compare.html >/dev/null && [ -s /tmp/compare.html ] ||
  fail "pbxstate report compare drew no page"
pbxstate report index /tmp/runs >/dev/null && [ -s /tmp/runs/index.html ] || fail "pbxstate report index drew no page"
step "pbxstate report compare and report index: pages drawn"
# Every shipped scenario, subfolders included, from where it is installed.
find /usr/share/pbxstate/scenarios -name '*.yaml' -print0 | xargs -0 pbxstate validate >/dev/null ||
  fail "a shipped scenario does not validate"
step "every shipped scenario validates ($(find /usr/share/pbxstate/scenarios -name '*.yaml' | wc -l) files)"

# Completion, as bash-completion loads it.
reply="$(bash -c 'source /usr/share/bash-completion/completions/pbxstate
  COMP_WORDS=(pbxstate ru); COMP_CWORD=1; _pbxstate; echo "${COMPREPLY[*]}"')"
[ "$reply" = run ] || fail "bash completion of 'pbxstate ru' gave '$reply'"

# Debian's Python: the module, then pytest with the plugin found through its entry point.
python3 -c 'import pbxstate, pbxstate_pytest; print("import pbxstate:", pbxstate.__file__)' || fail "import pbxstate"

# The man pages, found by man.
for page in pbxstate pbxstate-scenario pbxstated pbxstated.conf; do
  man -w "$page" >/dev/null || fail "man $page: not found"
done
mkdir -p /tmp/plugin && cp /pbxstate-test/plugin_fixtures_test.py /tmp/plugin/
(cd /tmp/plugin && python3 -m pytest -p no:cacheprovider -q plugin_fixtures_test.py) || fail "pytest with the plugin's fixtures"

systemctl stop pbxstated
[ "$(systemctl show -P ExecMainStatus pbxstated)" = 0 ] || fail "pbxstated did not stop with status 0"
touch /pbxstate-test/passed
step "all checks passed"
