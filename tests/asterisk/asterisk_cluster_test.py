#!/usr/bin/python3
"""Integration test of res_pbxstate in two real Asterisk servers over real corosync.

Two network namespaces (built by sim/netns through pbxstate.netns, as --backend netns builds them;
tests/lib/nscluster.py: bridge, 198.18.0.1-2, one corosync each in a private mount namespace), one Asterisk per namespace with its own directories, Entity ID and
modules directory (the installed modules plus the res_pbxstate.so under test, symlinked), and:

  0b. with --module-docs, `core show function PBXSTATE_LOCATION` shows the module's XML
     documentation (read by Asterisk from its astdatadir's documentation/thirdparty/);
  1. both servers list each other in `pbxstate show members`;
  2. the distributed device state guide's test: `dialplan set global DEVICE_STATE(Custom:mystate)
     INUSE` on server 1 makes `core show hints` on server 2 show InUse for a hint on
     Custom:mystate, and NOT_INUSE brings it back to Idle (latency measured);
  3. MWI: AMI MWIUpdate 1000@default 2 new 1 old (res_mwi_external_ami) on server 1 reaches server 2's
     Asterisk: res_mwi_devstate turns the MWI it receives into the device MWI:1000@default, whose
     hint on server 2 goes InUse; then 0 new messages bring it back to Idle; 3b. the later of two
     servers' writes holds; 3c. AMI MWIDelete of a mailbox on server 1 removes it from both
     servers' cluster view and from server 2's MWI cache; 3d. res_pbxstate unloaded on server 2
     removes server 1's MWI from server 2's MWI cache (the prune at unload) and republishes it
     when loaded again; 3e. a mailbox deleted and written again at once on server 1 (one AMI
     write) holds the new value on both servers (the delete does not withdraw it);
  4. RINGING on server 1 and INUSE on server 2 for Custom:ring aggregate to InUse&Ringing (Asterisk's
     RINGINUSE) on both servers;
  5. server 2's Asterisk killed (SIGKILL): after departure_grace_ms its contribution is cleared on
     server 1 (the hint goes back to Ringing), time measured; server 2 restarted, it catches up and
     shares again what its astdb kept: both servers agree;
  6. when this Asterisk has chan_pjsip and sipp is installed: a sipp phone registers alice on
     server 1 (with a Path and a User-Agent); server 2's PBXSTATE_LOCATION(alice) (AMI Getvar)
     becomes pbx1, its path field is the REGISTER's Path, and `pbxstate show registrations` lists
     the contact with its user agent and path; res_pbxstate is unloaded on server 1 (alice leaves
     server 2's table with it) and loaded again: server 2 sees alice again without a new REGISTER
     (read from res_pjsip's contact objects at load); a sipp call from server 2's phone reaches
     alice's sipp through server 1 with the shipped asterisk/extensions.conf.sample (the hops
     checked in both servers' logs); alice unregisters and the count goes to 0; bob registers a
     contact with a 600-byte User-Agent (shared, cut to the 511-byte bound of URI, path and user
     agent together) and one with a 520-byte Path (not shared);
  7. 100 cycles of `module unload` / `module load` / `module reload` of res_pbxstate on server 1
     while both servers change device states in a stream (with SIP, alice registered again before,
     so that every load reads her contact): Asterisk never crashes, its thread and descriptor
     counts come back to where they were and its memory stays bounded, and the cluster converges
     afterwards (server 2 holds alice again); then alice's contact is deleted from server 1's
     astdb (it leaves res_pjsip with no Removed event) and a periodic re-read removes her.
  8. the site map (node_sites): a bad one in pbxstate.conf is refused at reload, naming the line,
     the option and the item, and the running configuration stays; then `relays_per_site = 1` and
     `node_sites = 1-2:0` on both servers (one site, server 1 its relay): on CPG every frame
     reaches every server, so the engine relays nothing (relays are for UDP; engine/README.md,
     "Sites and relays"): `pbxstate show status` counts 0 frames passed on ("Sites: N frames of
     others passed on") on both, and the changes arrive both ways. (Until res_pbxstate's engine
     was told that a CPG unicast reaches everyone, it relayed here, and died at the first unicast
     between two other servers in a cluster of three.)

Teardown always runs and is checked (no namespace, link or process left). Exits 77 (CTest skip)
with the reason when there is no root, no namespaces, no corosync, or no Asterisk.

usage: asterisk_cluster_test.py --asterisk BIN --module res_pbxstate.so --modules-dir DIR [--module-docs XML]
                                [--cycles N] [--keep-dir]
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nscluster import (SKIP, TestFailure, check_preconditions, keep_or_remove, run_checked, sh,  # noqa: E402
                       wait_until)
from asterisk_servers import AsteriskServers, eid  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_DIALPLAN = os.path.join(HERE, "..", "..", "asterisk", "extensions.conf.sample")
PID = os.getpid()
PREFIX = f"pbxast-{PID}"
NODES = (1, 2)
GRACE_MS = 1000
MODULES = ("res_pbxstate.so", "func_devstate.so", "pbx_config.so", "res_sorcery_astdb.so",
           "res_mwi_external.so", "res_mwi_external_ami.so", "res_mwi_devstate.so")
# For the registration and call-routing step (7): a real SIP channel driver, run when present.
PJSIP_MODULES = ("res_pjproject.so", "res_sorcery_config.so", "res_sorcery_memory.so", "res_pjsip.so",
                 "res_pjsip_session.so", "res_pjsip_pubsub.so", "chan_pjsip.so", "res_pjsip_registrar.so",
                 "res_pjsip_endpoint_identifier_ip.so", "res_pjsip_endpoint_identifier_user.so",
                 "res_pjsip_sdp_rtp.so", "res_rtp_asterisk.so", "res_timing_timerfd.so", "bridge_simple.so",
                 "bridge_native_rtp.so", "app_dial.so", "func_channel.so")
SIP_PORT = 5060
AMI_PORT = 5038  # on each namespace's own loopback
AMI_SECRET = "pbxstate-test"
MWI_AGAIN_BOXES = 20  # step 3e: mailboxes deleted and written again, in one AMI write


class AsteriskCluster(AsteriskServers):
    def __init__(self, asterisk, module, modules_dir, workdir, with_sip=False, module_docs=None):
        super().__init__(NODES, workdir, asterisk, modules_dir, {"res_pbxstate.so": module},
                         extra_docs=(module_docs,) if module_docs else ())
        self.module_docs = module_docs
        self.module = module
        self.with_sip = with_sip

    def key_file(self):
        """The cluster key both servers share: 64 hex digits, mode 0600 (the module refuses looser)."""
        path = os.path.join(self.dir, "pbxstate.key")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(32).hex() + "\n")
        return path

    def write_pbxstate_conf(self, node, extra=""):
        with open(os.path.join(self.node_dir(node), "etc", "pbxstate.conf"), "w") as f:
            f.write("[general]\n"
                    f"group = {PREFIX}\n"
                    f"cluster_key_file = {self.key_file()}\n"
                    "device_filter = ^Custom:\n"
                    f"departure_grace_ms = {GRACE_MS}\n"
                    "batch_window_ms = 5\n" + extra)

    def write_asterisk_tree(self, node):
        super().write_asterisk_tree(node, MODULES + (PJSIP_MODULES if self.with_sip else ()))
        etc = self.etc(node)
        with open(os.path.join(etc, "extensions.conf"), "w") as f:
            f.write("[general]\n[globals]\n[default]\n"
                    "exten => 100,hint,Custom:mystate\n"
                    "exten => 101,hint,Custom:ring\n"
                    "exten => 102,hint,Custom:stream\n"
                    "exten => 1000,hint,MWI:1000@default\n")
            # The shipped routing dialplan (PBXSTATE_LOCATION with its loop guard), as a user would.
            with open(SAMPLE_DIALPLAN) as sample:
                f.write(sample.read())
        if self.with_sip:
            self.write_pjsip_conf(node)
        with open(os.path.join(etc, "manager.conf"), "w") as f:
            f.write(f"[general]\nenabled = yes\nport = {AMI_PORT}\nbindaddr = 127.0.0.1\n"
                    f"[test]\nsecret = {AMI_SECRET}\nread = all\nwrite = all\n")
        self.write_pbxstate_conf(node)

    def write_pjsip_conf(self, node):
        """Phones register on their server; each server has an endpoint for the other, named after its route."""
        other = 3 - node
        conf = (f"[transport-udp]\ntype = transport\nprotocol = udp\nbind = {self.addr(node)}:{SIP_PORT}\n\n"
                "[alice]\ntype = endpoint\ncontext = from-phones\ndisallow = all\nallow = ulaw\ndirect_media = no\naors = alice\n"
                "[alice]\ntype = aor\nmax_contacts = 1\nremove_existing = yes\nsupport_path = yes\n\n"
                "[bob]\ntype = endpoint\ncontext = from-phones\ndisallow = all\nallow = ulaw\naors = bob\n"
                "[bob]\ntype = aor\nmax_contacts = 2\nsupport_path = yes\n\n"
                f"[caller]\ntype = endpoint\ncontext = from-phones\ndisallow = all\nallow = ulaw\ndirect_media = no\n"
                f"[caller]\ntype = identify\nendpoint = caller\nmatch = {self.phone_addr(node, 'caller')}\n\n"
                f"[pbx{other}]\ntype = endpoint\ncontext = from-cluster\ndisallow = all\nallow = ulaw\ndirect_media = no\n"
                f"aors = pbx{other}\n"
                f"[pbx{other}]\ntype = aor\ncontact = sip:{self.addr(other)}:{SIP_PORT}\n"
                f"[pbx{other}]\ntype = identify\nendpoint = pbx{other}\nmatch = {self.addr(other)}\n")
        with open(os.path.join(self.node_dir(node), "etc", "pjsip.conf"), "w") as f:
            f.write(conf)
        with open(os.path.join(self.node_dir(node), "etc", "rtp.conf"), "w") as f:
            f.write("[general]\nrtpstart = 20000\nrtpend = 20100\n")

    def phone_addr(self, node, phone):
        """Phones get addresses of their own next to their server's (identify matches by address)."""
        subnet = self.addr(node).rsplit(".", 1)[0]
        return f"{subnet}.{100 + 10 * node + {'alice': 1, 'caller': 2}[phone]}"

    def add_phone_addresses(self):
        for n in self.nodes:
            for phone in ("alice", "caller"):
                sh(["ip", "-n", self.ns(n), "addr", "add", f"{self.phone_addr(n, phone)}/24", "dev", "eth0"])

    def sipp(self, node, name, args):
        """A sipp of the test's own in server `node`'s namespace (bounded by -timeout)."""
        return self.spawn(node, name, ["sipp"] + args)

    def start_asterisk(self, node):
        self.write_asterisk_tree(node)
        return super().start_asterisk(node)

    def ami(self, node, action, **headers):
        """One AMI action on the server's own loopback (this script re-run inside its namespace)."""
        return self.ami_actions(node, [(action, headers)])

    def ami_actions(self, node, actions):
        """AMI actions [(action, headers)] sent in one write on one session, so that the server's
        manager thread runs them back to back."""
        args = ["ip", "netns", "exec", self.ns(node), sys.executable, os.path.abspath(__file__), "--ami"]
        for i, (action, headers) in enumerate(actions):
            args += (["--then"] if i else []) + [action] + [f"{k}={v}" for k, v in headers.items()]
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20)
        if r.returncode != 0 or r.stdout.count("Response: Success") != len(actions):
            raise TestFailure(f"server {node}: AMI {actions} failed: {r.stdout.strip()}")
        return r.stdout

    def hint_state(self, node, exten):
        out = self.cli(node, "core show hints")
        m = re.search(rf"^\s*{re.escape(exten)}@default\s*:\s*\S+\s+State:(\S+)", out, re.M)
        return m.group(1) if m else None



def proc_counts(pid):
    threads = len(os.listdir(f"/proc/{pid}/task"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return {"threads": threads, "fds": fds, "rss_kib": rss}


def wait_hint(c, node, exten, want, timeout=10):
    t0 = time.monotonic()
    wait_until(f"server {node}: hint {exten} state {want}", lambda: c.hint_state(node, exten) == want, timeout,
               interval=0.02)
    return time.monotonic() - t0


def status_count(c, node, pattern):
    """A counter of `pbxstate show status`, by a regex whose group is the number."""
    out = c.cli(node, "pbxstate show status")
    m = re.search(pattern, out)
    if not m:
        raise TestFailure(f"server {node}: 'pbxstate show status' lacks /{pattern}/:\n{out}")
    return int(m.group(1))


def cleared_entries(c, node):
    return status_count(c, node, r"(\d+) cache entries cleared")


def local_removals(c, node):
    return status_count(c, node, r"(\d+) removals \(")


def run(c, report, cycles):
    c.setup_network()
    for n in NODES:
        c.start_corosync(n)
    c.wait_corosync_ring()
    for n in NODES:
        c.start_asterisk(n)
    version = c.cli(1, "core show version").strip()
    report["asterisk"] = version
    print(f"ok 0: {version}")

    if c.module_docs:
        function = c.cli(1, "core show function PBXSTATE_LOCATION")
        if "The cluster server that holds a live registration of an AOR." not in function:
            raise TestFailure(f"'core show function PBXSTATE_LOCATION' lacks the module's synopsis "
                              f"({c.module_docs} in thirdparty/):\n{function}")
        print("ok 0b: 'core show function PBXSTATE_LOCATION' shows the module's documentation")

    # 1. members
    def both_members():
        return all(c.cli(n, "pbxstate show members").count(eid(m)) >= 1 for n in NODES for m in NODES)
    wait_until("both servers listing each other in 'pbxstate show members'", both_members, 20)
    for n in NODES:
        if "Authenticated:        yes" not in c.cli(n, "pbxstate show status"):
            raise TestFailure(f"server {n} does not say it authenticates with the cluster key")
    print("ok 1: 'pbxstate show members' on each server lists both EIDs (frames authenticated with the "
          "cluster key)\n" +
          "    " + c.cli(1, "pbxstate show members").strip().replace("\n", "\n    "))

    # 2. the guide's test
    t0 = time.monotonic()
    c.cli(1, "dialplan set global DEVICE_STATE(Custom:mystate) INUSE")
    wait_hint(c, 2, "100", "InUse")
    up = time.monotonic() - t0
    t0 = time.monotonic()
    c.cli(1, "dialplan set global DEVICE_STATE(Custom:mystate) NOT_INUSE")
    wait_hint(c, 2, "100", "Idle")
    down = time.monotonic() - t0
    report["devstate_cli_to_hint_s"] = [round(up, 3), round(down, 3)]
    line = [ln for ln in c.cli(2, "core show hints").splitlines() if "Custom:mystate" in ln]
    print(f"ok 2: DEVICE_STATE(Custom:mystate) INUSE on server 1 -> server 2 hint InUse in {up:.3f} s, "
          f"NOT_INUSE -> Idle in {down:.3f} s (CLI round trip included)\n    server 2: {line[0].strip()}")

    # 3. MWI
    t0 = time.monotonic()
    c.ami(1, "MWIUpdate", Mailbox="1000@default", NewMessages=2, OldMessages=1)
    wait_hint(c, 2, "1000", "InUse")
    mwi_up = time.monotonic() - t0
    boxes = c.cli(2, "pbxstate show mailboxes")
    if not re.search(r"^1000@default\s+2\s+1\s", boxes, re.M):
        raise TestFailure(f"server 2's pbxstate show mailboxes lacks 1000@default 2/1:\n{boxes}")
    c.ami(1, "MWIUpdate", Mailbox="1000@default", NewMessages=0, OldMessages=3)
    wait_hint(c, 2, "1000", "Idle")
    report["mwi_cli_to_hint_s"] = round(mwi_up, 3)
    print(f"ok 3: AMI MWIUpdate 1000@default new 2 old 1 on server 1 -> server 2's MWI:1000@default hint InUse "
          f"in {mwi_up:.3f} s, 0 new -> Idle\n    server 2: " +
          [ln for ln in boxes.splitlines() if ln.startswith("1000@")][0])

    # 3b. A mailbox is one cluster-wide value, the latest write wins: server 2's later write must
    # hold on both servers through a periodic re-read of local state (10 s after joining, then at
    # doubling intervals). (The module's re-read only re-applies a cached local MWI published after
    # the cluster's value; in this Asterisk the remote publication also leaves nothing older in the
    # local cache to re-apply.)
    c.ami(1, "MWIUpdate", Mailbox="2000@default", NewMessages=1, OldMessages=0)
    wait_until("server 2 sees 2000@default 1/0",
               lambda: re.search(r"^2000@default\s+1\s+0\s", c.cli(2, "pbxstate show mailboxes"), re.M), 10)
    c.ami(2, "MWIUpdate", Mailbox="2000@default", NewMessages=4, OldMessages=1)
    for n in NODES:
        wait_until(f"server {n} sees 2000@default 4/1",
                   lambda n=n: re.search(r"^2000@default\s+4\s+1\s", c.cli(n, "pbxstate show mailboxes"), re.M), 10)
    time.sleep(11)
    for n in NODES:
        line = re.search(r"^2000@default.*$", c.cli(n, "pbxstate show mailboxes"), re.M)
        if not line or not re.match(r"2000@default\s+4\s+1\s+0\s+" + re.escape(eid(2)), line.group(0)):
            raise TestFailure(f"server {n}: the later write (4/1 by server 2) did not survive 11 s: "
                              f"{line.group(0) if line else 'no 2000@default'}")
    print(f"ok 3b: 2000@default written 1/0 by server 1, then 4/1 by server 2: both servers still hold 4/1 by "
          f"{eid(2)} 11 s later (a periodic re-read of local state included)")

    # 3c. A mailbox deleted on server 1 (AMI MWIDelete: res_mwi_external's ast_delete_mwi_state,
    # whose cache clear the module shares as a removal) leaves server 2: its cluster view, and
    # Asterisk's MWI cache there (the module deletes the entry it published, counted as cleared).
    # Without the module's removal, 3000@default stays in both servers' views and this step fails.
    c.ami(1, "MWIUpdate", Mailbox="3000@default", NewMessages=3, OldMessages=0)
    wait_until("server 2 sees 3000@default 3/0",
               lambda: re.search(r"^3000@default\s+3\s+0\s", c.cli(2, "pbxstate show mailboxes"), re.M), 10)
    cleared_before = cleared_entries(c, 2)
    t0 = time.monotonic()
    c.ami(1, "MWIDelete", Mailbox="3000@default")
    for n in NODES:
        wait_until(f"server {n} to drop 3000@default",
                   lambda n=n: not re.search(r"^3000@default\s", c.cli(n, "pbxstate show mailboxes"), re.M), 10,
                   interval=0.02)
    gone = time.monotonic() - t0
    wait_until("server 2 to delete 3000@default from Asterisk's MWI cache",
               lambda: cleared_entries(c, 2) == cleared_before + 1, 10)
    removals = local_removals(c, 1)
    if removals < 1:
        raise TestFailure(f"server 1 counts {removals} local removals after MWIDelete")
    report["mwi_delete_to_gone_s"] = round(gone, 3)
    print(f"ok 3c: AMI MWIDelete 3000@default on server 1 -> gone from both servers' cluster view in {gone:.3f} s "
          f"and deleted from server 2's MWI cache (server 1: {removals} local removal(s) shared)")

    # 3d. Unload prunes what the module published for other servers from Asterisk's MWI cache
    # (pbxstate_publisher_prune). Observed through res_mwi_devstate, which at its load publishes a
    # device state for every mailbox in that cache: with it unloaded on server 2, server 1 writes
    # 1000@default 2/0 (into server 2's MWI cache only; its hint stays Idle), res_pbxstate is
    # unloaded on server 2, then res_mwi_devstate is loaded again. A cache still holding the value
    # turns the hint InUse; the fence after it (Custom:mystate, published after it on the same
    # path, through the same queues) shows it would have arrived by then. Without the prune this
    # step fails. Loaded again, res_pbxstate republishes the cluster's value (the hint goes InUse).
    c.cli(2, "module unload res_mwi_devstate.so")
    c.ami(1, "MWIUpdate", Mailbox="1000@default", NewMessages=2, OldMessages=0)
    wait_until("server 2 sees 1000@default 2/0",
               lambda: re.search(r"^1000@default\s+2\s+0\s", c.cli(2, "pbxstate show mailboxes"), re.M), 10)
    c.cli(2, "module unload res_pbxstate.so")
    c.cli(2, "module load res_mwi_devstate.so")
    c.cli(2, "dialplan set global DEVICE_STATE(Custom:mystate) INUSE")
    wait_hint(c, 2, "100", "InUse")
    if c.hint_state(2, "1000") != "Idle":
        raise TestFailure(f"server 2: hint MWI:1000@default is {c.hint_state(2, '1000')} after res_pbxstate's unload: "
                          "server 1's 1000@default 2/0 was left in server 2's MWI cache")
    c.cli(2, "dialplan set global DEVICE_STATE(Custom:mystate) NOT_INUSE")
    wait_hint(c, 2, "100", "Idle")
    c.cli(2, "module load res_pbxstate.so")
    wait_until("both servers listing each other after res_pbxstate's load on server 2", both_members, 20)
    wait_hint(c, 2, "1000", "InUse")
    c.ami(1, "MWIUpdate", Mailbox="1000@default", NewMessages=0, OldMessages=3)
    wait_hint(c, 2, "1000", "Idle")
    print("ok 3d: res_pbxstate unloaded on server 2 pruned server 1's 1000@default 2/0 from its MWI cache "
          "(res_mwi_devstate, loaded after, found nothing to turn the hint InUse); loaded again, it republished it")

    # 3e. Mailboxes deleted and written again back to back (one AMI write). A new value goes out at
    # once through the module's MWI tap; the delete's clear comes later through its subscription and
    # must not withdraw it (asterisk/README.md, "The MWI tap"). After a fence (a later update of
    # another mailbox) both servers must hold every new value. Clears overtaken by their new value
    # are not shared as removals: how many depends on the threads' timing (reported).
    boxes = [f"{4000 + i}@default" for i in range(MWI_AGAIN_BOXES)]
    for box in boxes:
        c.ami(1, "MWIUpdate", Mailbox=box, NewMessages=5, OldMessages=0)
    wait_until(f"server 2 sees {len(boxes)} mailboxes 5/0", lambda: len(re.findall(
        r"^4\d{3}@default\s+5\s+0\s", c.cli(2, "pbxstate show mailboxes"), re.M)) == len(boxes), 10)
    removals_before = local_removals(c, 1)
    c.ami_actions(1, [(action, {"Mailbox": box, **counts}) for box in boxes for action, counts in
                      (("MWIDelete", {}), ("MWIUpdate", {"NewMessages": 6, "OldMessages": 1}))])
    c.ami(1, "MWIUpdate", Mailbox="4999@default", NewMessages=1, OldMessages=0)
    for n in NODES:
        wait_until(f"server {n} sees the fence 4999@default 1/0",
                   lambda n=n: re.search(r"^4999@default\s+1\s+0\s", c.cli(n, "pbxstate show mailboxes"), re.M), 10)
    for n in NODES:
        view = c.cli(n, "pbxstate show mailboxes")
        for box in boxes:
            line = re.search(rf"^{re.escape(box)}.*$", view, re.M)
            if not line or not re.match(rf"{re.escape(box)}\s+6\s+1\s+0\s+{re.escape(eid(1))}", line.group(0)):
                raise TestFailure(f"server {n}: {box} deleted and written 6/1 at once on server 1, then a fence: "
                                  f"{line.group(0) if line else 'gone (a delete withdrew the newer value)'}")
    shared = local_removals(c, 1) - removals_before
    report["mwi_again_clears_overtaken"] = len(boxes) - shared
    print(f"ok 3e: {len(boxes)} mailboxes each deleted and written 6/1 back to back in one AMI write on server 1: "
          f"both servers hold every 6/1 by {eid(1)} past a fence ({shared} clears shared first, "
          f"{len(boxes) - shared} overtaken by their new value and dropped)")

    # 4. aggregation
    c.cli(1, "dialplan set global DEVICE_STATE(Custom:ring) RINGING")
    c.cli(2, "dialplan set global DEVICE_STATE(Custom:ring) INUSE")
    for n in NODES:
        wait_hint(c, n, "101", "InUse&Ringing")
    devs = c.cli(1, "pbxstate show devices like Custom:ring")
    if "RINGINUSE" not in devs:
        raise TestFailure(f"server 1's pbxstate show devices does not aggregate to RINGINUSE:\n{devs}")
    print("ok 4: RINGING on server 1 + INUSE on server 2 -> hint InUse&Ringing on both\n    server 1: " +
          [ln for ln in devs.splitlines() if ln.startswith("Custom:ring")][0])

    # 5. server 2 killed: its INUSE clears after the grace
    os.kill(c.pid(2), signal.SIGKILL)
    c.processes[(2, "asterisk")].wait(timeout=10)
    t0 = time.monotonic()
    wait_hint(c, 1, "101", "Ringing", timeout=GRACE_MS / 1000 + 10)
    cleared = time.monotonic() - t0
    report["kill_to_cleared_s"] = round(cleared, 3)
    if cleared < GRACE_MS / 1000 * 0.9:
        raise TestFailure(f"server 2's contribution cleared after {cleared:.3f} s, before the {GRACE_MS} ms grace")
    # Restarted, server 2 gets server 1's RINGING by catch-up. func_devstate reloads server 2's own
    # Custom:ring from its astdb, if the INUSE reached the disk before the kill (Asterisk commits
    # astdb about once a second), and res_pbxstate shares it again: both servers must agree.
    c.start_asterisk(2)
    wait_until("server 2 back in the cluster", both_members, 20)
    own = re.search(r"Name: 'Custom:ring'\s+State: '(\w+)'", c.cli(2, "devstate list"))
    expected = "InUse&Ringing" if own and own.group(1) == "INUSE" else "Ringing"
    for n in NODES:
        wait_hint(c, n, "101", expected, timeout=10)
    print(f"ok 5: server 2's Asterisk SIGKILLed -> its INUSE cleared on server 1 after {cleared:.3f} s "
          f"(grace {GRACE_MS} ms); restarted with {own.group(1) if own else 'nothing'} in its astdb, it caught "
          f"up and both servers show {expected}")

    # 6. Registrations and calls (before the cycles).
    if c.with_sip:
        sip_step(c, report)
        contact_bound_step(c, report)
    else:
        print("skip 6: registrations and call routing need chan_pjsip (this Asterisk was built without "
              "pjproject) and sipp (Debian's sip-tester)")

    # 7. unload/load/reload cycles under a stream of changes; with SIP, alice registered again
    # first, so that every load reads her contact from res_pjsip (and server 2 holds her after).
    if c.with_sip:
        register_alice(c, "sipp-register-cycles", 5074)
        wait_until("server 2: PBXSTATE_LOCATION(alice) = pbx1 before the cycles", lambda: alice_located(c), 10)
    stop = threading.Event()
    errors = []
    sent = {1: 0, 2: 0}

    def stream(node, device):
        states = ("INUSE", "NOT_INUSE")
        i = 0
        deadline = time.monotonic() + 600
        while not stop.is_set() and time.monotonic() < deadline and i < 100000:
            r = c.cli_raw(node, f"dialplan set global DEVICE_STATE({device}) {states[i % 2]}")
            if r.returncode != 0:
                errors.append(f"server {node}: {r.stdout.strip()}")
                return
            i += 1
            sent[node] = i
    threads = [threading.Thread(target=stream, args=(1, "Custom:stream"), daemon=True),
               threading.Thread(target=stream, args=(2, "Custom:stream2"), daemon=True)]
    for t in threads:
        t.start()
    ast_pid = c.pid(1)
    # Warm-up cycles first: Asterisk's own caches (CLI, config) grow once, then stay.
    def cycle(i):
        if i % 10 == 5:   # a live change: the filter
            c.write_pbxstate_conf(1, "device_filter = ^Custom:(mystate|ring|stream|stream2|final)$\n")
        elif i % 25 == 0:  # a restart: the batch window
            c.write_pbxstate_conf(1, f"batch_window_ms = {1 + i % 7}\n")  # the later line wins
        for cmd in ("module unload res_pbxstate.so", "module load res_pbxstate.so", "module reload res_pbxstate.so"):
            out = c.cli(1, cmd)
            if c.processes[(1, "asterisk")].poll() is not None:
                raise TestFailure(f"Asterisk on server 1 died during cycle {i} at '{cmd}'")
            if "Unable" in out or "failed" in out.lower() or "Error" in out:
                raise TestFailure(f"cycle {i}: '{cmd}' printed: {out.strip()}")
    t0 = time.monotonic()
    for i in range(5):
        cycle(i)
    before = proc_counts(ast_pid)
    for i in range(5, cycles):
        cycle(i)
    cycle_s = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join(timeout=30)
    if errors:
        raise TestFailure(f"the change stream failed: {errors[0]}")
    c.write_pbxstate_conf(1)
    c.cli(1, "module reload res_pbxstate.so")
    time.sleep(1)
    after = proc_counts(ast_pid)
    report["cycles"] = {"count": cycles, "seconds": round(cycle_s, 1), "changes_sent": dict(sent),
                        "before": before, "after": after}
    if after["threads"] > before["threads"] or after["fds"] > before["fds"]:
        raise TestFailure(f"threads or descriptors grew over {cycles} cycles: {before} -> {after}")
    if after["rss_kib"] - before["rss_kib"] > 4 * 1024:
        raise TestFailure(f"resident memory grew by more than 4 MiB over {cycles} cycles: {before} -> {after}")
    # Converged afterwards: a final change each way, and the stream devices agree on both servers.
    c.cli(1, "dialplan set global DEVICE_STATE(Custom:mystate) BUSY")
    wait_hint(c, 2, "100", "Busy")
    c.cli(2, "dialplan set global DEVICE_STATE(Custom:mystate) INUSE")
    wait_until("Custom:stream hints equal on both servers",
               lambda: c.hint_state(1, "102") == c.hint_state(2, "102") and c.hint_state(1, "102") is not None, 10)
    members = c.cli(2, "pbxstate show members")
    if members.count("02:00:5e") != 2:
        raise TestFailure(f"server 2 does not list both servers after the cycles:\n{members}")
    if c.with_sip:
        wait_until("server 2: PBXSTATE_LOCATION(alice) = pbx1 after the cycles", lambda: alice_located(c), 10)
    print(f"ok 7: {cycles} cycles of module unload/load/reload on server 1 in {cycle_s:.1f} s under "
          f"{sent[1]} + {sent[2]} streamed changes: no crash; threads {before['threads']}->{after['threads']}, "
          f"fds {before['fds']}->{after['fds']}, RSS {before['rss_kib']}->{after['rss_kib']} KiB; converged after" +
          (" (alice registered throughout: read from res_pjsip at every load, held by server 2 after)"
           if c.with_sip else ""))
    print("    " + c.cli(1, "pbxstate show status").strip().replace("\n", "\n    "))
    if c.with_sip:
        contact_gone_step(c, report)
    site_map_step(c, report)


def relayed(c, node):
    m = re.search(r"^Sites:\s+(\d+) frames of others passed on", c.cli(node, "pbxstate show status"), re.M)
    if not m:
        raise TestFailure(f"server {node}: no 'Sites:' line in pbxstate show status")
    return int(m.group(1))


def site_map_step(c, report):
    """8. node_sites in pbxstate.conf: refused with line, option and item; then in force."""
    c.write_pbxstate_conf(1, "relays_per_site = 1\nnode_sites = 1:0, 2:x\n")
    c.cli(1, "module reload res_pbxstate.so")
    want = "option 'node_sites' = '1:0, 2:x': item 2 ('2:x'): a site is a number from 0 to 4294967295"
    wait_until("the bad node_sites refused in server 1's log", lambda: want in c.messages_log(1), 10)
    if not re.search(r"pbxstate\.conf line \d+: " + re.escape(want), c.messages_log(1)):
        raise TestFailure("server 1's log does not name the line of the bad node_sites")
    for node in (1, 2):
        c.write_pbxstate_conf(node, "relays_per_site = 1\nnode_sites = 1-2:0\n")
        c.cli(node, "module reload res_pbxstate.so")  # an engine option: the node restarts
    wait_until("both servers members again", lambda: c.cli(2, "pbxstate show members").count("02:00:5e") == 2 and
               c.cli(1, "pbxstate show members").count("02:00:5e") == 2, 30)
    def seen(node, device, state):
        out = c.cli(node, f"pbxstate show devices like {device}")
        return re.search(r"^" + re.escape(device) + r"\s+" + state + r"\s", out, re.M) is not None

    before = relayed(c, 1)
    c.cli(2, "dialplan set global DEVICE_STATE(Custom:sites2) RINGING")
    wait_until("server 2's Custom:sites2 RINGING on server 1", lambda: seen(1, "Custom:sites2", "RINGING"), 10)
    c.cli(1, "dialplan set global DEVICE_STATE(Custom:sites1) ONHOLD")
    wait_until("server 1's Custom:sites1 ONHOLD on server 2", lambda: seen(2, "Custom:sites1", "ONHOLD"), 10)
    after = relayed(c, 1)
    if after != before or relayed(c, 2) != 0:
        raise TestFailure(f"with node_sites = 1-2:0 on CPG server 1 passed on {after - before} frames of "
                          f"server 2, server 2 {relayed(c, 2)}: wanted 0 and 0 (every frame reaches every server)")
    report["site_map"] = {"relayed_by_server_1": after - before}
    print("ok 8: a bad node_sites is refused at reload naming line, option and item; with node_sites = 1-2:0 "
          "on CPG nothing is relayed (0 and 0) and the changes arrived both ways")


def ami_message(lines):
    return ("".join(f"{line}\r\n" for line in lines) + "\r\n").encode()


def ami_action(argv):
    """--ami mode: log in to 127.0.0.1:AMI_PORT, send the actions (ACTION [KEY=VALUE ...], separated
    by --then) in one write, print their responses."""
    actions, words = [], []
    for word in argv + ["--then"]:
        if word == "--then":
            actions.append(words)
            words = []
        else:
            words.append(word)
    import socket
    with socket.create_connection(("127.0.0.1", AMI_PORT), timeout=10) as s:
        f = s.makefile("rwb")

        def send(*messages):
            f.write(b"".join(ami_message(lines) for lines in messages))
            f.flush()

        def response():
            lines = []
            while True:
                line = f.readline().decode().rstrip("\r\n")
                if line == "":
                    if lines and lines[0].startswith("Response:"):
                        return lines
                    lines = []  # an event or the banner: skip it
                    continue
                lines.append(line)
        f.readline()  # banner
        send(["Action: Login", "Username: test", f"Secret: {AMI_SECRET}"])
        login = response()
        if "Response: Success" not in login:
            print("\n".join(login))
            return 1
        send(*([f"Action: {action}"] + [f"{k}: {v}" for k, v in (h.split("=", 1) for h in headers)]
               for action, *headers in actions))
        for _ in actions:
            print("\n".join(response()))
        send(["Action: Logoff"])
    return 0


def sipp_register(c, name, aor, port, contact_port, expires, path=None, user_agent="pbxstate-test"):
    """sipp REGISTERs `aor` on server 1 from the alice phone's address, its contact at
    `contact_port`, for `expires` s (0 unregisters). The Path's one hop is the phone's own address
    by default, so that a call routed along it still reaches the phone."""
    phone = c.phone_addr(1, "alice")
    reg = c.sipp(1, name, [f"{c.addr(1)}:{SIP_PORT}", "-sf", os.path.join(HERE, "sipp", "register.xml"), "-s", aor,
                           "-i", phone, "-p", str(port), "-m", "1", "-key", "contact_port", str(contact_port),
                           "-key", "expires", str(expires), "-key", "path", path or f"<sip:{phone}:{contact_port};lr>",
                           "-key", "user_agent", user_agent, "-timeout", "20s", "-timeout_error", "-nostdin"])
    if reg.wait(timeout=30) != 0:
        raise TestFailure(f"sipp REGISTER of {aor} ({name}) on server 1 failed ({reg.returncode}); see {c.node_dir(1)}")


def register_alice(c, name, port):
    """sipp REGISTERs alice on server 1 for 300 s (its phone's contact at port 5070)."""
    sipp_register(c, name, "alice", port, 5070, 300)


def contact_bound_step(c, report):
    """The 511-byte bound of a contact's URI, path and user agent together (asterisk/README.md):
    bob registers one contact with a 600-byte User-Agent (shared, the user agent cut to what the
    bound leaves) and one with a 520-byte Path (not shared: it could not be routed to)."""
    phone = c.phone_addr(1, "alice")
    sipp_register(c, "sipp-register-bob-ua", "bob", 5075, 5080, 300, user_agent="U" * 600)
    sipp_register(c, "sipp-register-bob-path", "bob", 5076, 5081, 300, path=f"<sip:{phone}:5081;lr;x={'p' * 490}>")
    uri, path = f"sip:bob@{phone}:5080", f"<sip:{phone}:5080;lr>"
    cut = 511 - len(uri) - len(path)

    def bob_lines():
        return [ln for ln in c.cli(2, "pbxstate show registrations like bob").splitlines() if ln.startswith("bob ")]
    wait_until("server 2: bob's contact with the long User-Agent", lambda: any(uri in ln for ln in bob_lines()), 10)
    time.sleep(1)  # the other REGISTER came first: were it shared, it would be here by now
    lines = bob_lines()
    if len(lines) != 1 or f" {uri} ua='{'U' * cut}' path={path}" not in lines[0] + "\n":
        raise TestFailure(f"server 2 should hold bob's first contact alone, its user agent cut to {cut} bytes:\n"
                          + "\n".join(lines))
    if "contact and path of bob longer together than 511 bytes" not in c.messages_log(1):
        raise TestFailure("server 1's log does not say why bob's contact with the long Path was not shared")
    for contact_port, port in ((5080, 5077), (5081, 5078)):
        sipp_register(c, f"sipp-unregister-bob-{contact_port}", "bob", port, contact_port, 0)
    wait_until("server 2: bob gone", lambda: not bob_lines(), 10)
    report["contact_bound_user_agent_bytes"] = cut
    print(f"ok 6d: bob's contact with a 600-byte User-Agent is shared with it cut to {cut} bytes (URI, path and user "
          f"agent 511 together); its contact with a 520-byte Path is not shared")


def alice_located(c):
    return c.ami(2, "Getvar", Variable="PBXSTATE_LOCATION(alice)").find("Value: pbx1") >= 0


def alice_line(c, path):
    """Server 2's `pbxstate show registrations` line of alice: on pbx1, with sipp's User-Agent and
    the REGISTER's Path."""
    regs = c.cli(2, "pbxstate show registrations")
    line = [ln for ln in regs.splitlines() if ln.startswith("alice")]
    if not line or "pbx1" not in line[0] or "sip:alice@" not in line[0]:
        raise TestFailure(f"server 2's pbxstate show registrations lacks alice on pbx1:\n{regs}")
    if "ua='pbxstate-test'" not in line[0] or f"path={path}" not in line[0]:
        raise TestFailure(f"server 2's pbxstate show registrations lacks alice's user agent or path {path}:\n{regs}")
    return line[0]


def contact_gone_step(c, report):
    """A contact that leaves res_pjsip without a Removed event (as one lost to an inbox overflow
    would): alice's row deleted from server 1's astdb, where res_pjsip keeps its contact objects.
    The module's next periodic re-read (10 s after the node started, then at doubling intervals)
    no longer finds her and removes her from the cluster."""
    c.cli(1, "database deltree registrar")
    t0 = time.monotonic()
    wait_until("server 2: alice gone after her contact left res_pjsip without an event",
               lambda: c.ami(2, "Getvar", Variable="PBXSTATE_LOCATION(alice,count)").find("Value: 0") >= 0, 45)
    gone = re.search(r"(\d+) gone from it", c.cli(1, "pbxstate show status"))
    if not gone or int(gone.group(1)) != 1:
        raise TestFailure("server 1's module does not count alice's contact as gone from res_pjsip")
    report["contact_gone_to_removed_s"] = round(time.monotonic() - t0, 3)
    print(f"ok 7b: alice's contact deleted from server 1's astdb (no Removed event): a re-read of res_pjsip's "
          f"contacts removed her, server 2's count 0 after {report['contact_gone_to_removed_s']:.1f} s")


def routed_call(c, report, uas, caller):
    """A sipp call from server 2's phone `caller` to alice, whose sipp `uas` answers on server 1:
    server 2 routes it to pbx1 by PBXSTATE_LOCATION with the shipped dialplan."""
    t0 = time.monotonic()
    uac = c.sipp(2, "sipp-uac", [f"{c.addr(2)}:{SIP_PORT}", "-sn", "uac", "-s", "alice", "-i", caller, "-p", "5072",
                                 "-m", "1", "-d", "500", "-timeout", "30s", "-timeout_error", "-nostdin"])
    if uac.wait(timeout=45) != 0:
        raise TestFailure(f"the call from server 2's phone to alice failed (sipp exit {uac.returncode}); "
                          f"see {c.node_dir(2)}/sipp-uac.out and the Asterisk logs")
    # The caller's sipp exits at the 200 to its BYE; alice's (sipp's uas scenario) waits 4 s more
    # after it (its timewait, for a lost 200), so the call is timed here.
    call_s = time.monotonic() - t0
    if uas.wait(timeout=15) != 0:
        raise TestFailure(f"alice's sipp on server 1 did not complete the call (exit {uas.returncode})")
    # The route, from the two servers' dialplan logs: server 2 dialled alice at pbx1, which took
    # the call as one from the cluster (its loop guard set) and dialled her contact.
    hops = ((2, '"PJSIP/alice@pbx1,30"'), (1, "Executing [alice@from-cluster:1]"), (1, '"PJSIP/alice,30"'))
    missing = [f"server {n}: {text}" for n, text in hops if text not in c.messages_log(n)]
    if missing:
        raise TestFailure(f"the call reached alice but not by the shared location; not in the logs: {missing}")
    report["call_via_location_s"] = round(call_s, 3)
    print(f"ok 6b: a call from server 2's phone to alice went server 2 -> pbx1 (PBXSTATE_LOCATION) -> alice's "
          f"sipp on server 1 (both dialplans in the logs), answered, held 0.5 s and hung up in {call_s:.2f} s")


def sip_step(c, report):
    """A phone (sipp) registers alice on server 1; server 2 learns where alice is and routes a call
    from its own phone (sipp) straight there with the shipped dialplan; then alice unregisters."""
    c.add_phone_addresses()
    alice, caller = c.phone_addr(1, "alice"), c.phone_addr(2, "caller")
    uas = c.sipp(1, "sipp-uas", ["-sn", "uas", "-i", alice, "-p", "5070", "-m", "1", "-timeout", "60s",
                                 "-timeout_error", "-nostdin"])
    t0 = time.monotonic()
    register_alice(c, "sipp-register", 5071)

    def located():
        return alice_located(c)
    wait_until("server 2: PBXSTATE_LOCATION(alice) = pbx1", located, 10)
    learned = time.monotonic() - t0
    path = f"<sip:{alice}:5070;lr>"
    line = alice_line(c, path)
    getvar = c.ami(2, "Getvar", Variable="PBXSTATE_LOCATION(alice,path)")
    if f"Value: {path}" not in getvar:
        raise TestFailure(f"server 2's PBXSTATE_LOCATION(alice,path) is not {path}:\n{getvar}")
    report["register_to_location_s"] = round(learned, 3)
    print(f"ok 6a: sipp registered alice on server 1; {learned:.3f} s later server 2's "
          f"PBXSTATE_LOCATION(alice) = pbx1, path {path}\n    server 2: {line}")

    # Contacts registered before the module loads: unload it on server 1 (it leaves the cluster,
    # alice with it), load it again. No REGISTER, no qualify: no contact-state event announces alice
    # again; the module reads res_pjsip's contact objects at load.
    c.cli(1, "module unload res_pbxstate.so")
    wait_until("server 2: alice gone with server 1's module",
               lambda: c.ami(2, "Getvar", Variable="PBXSTATE_LOCATION(alice,count)").find("Value: 0") >= 0, 10)
    t0 = time.monotonic()
    c.cli(1, "module load res_pbxstate.so")
    wait_until("server 2: PBXSTATE_LOCATION(alice) = pbx1 again, without a REGISTER", located, 20)
    reloaded = time.monotonic() - t0
    line = alice_line(c, path)
    status = c.cli(1, "pbxstate show status")
    read = re.search(r"(\d+) contact\(s\) read from res_pjsip", status)
    if not read or int(read.group(1)) < 1:
        raise TestFailure(f"server 1's module does not say it read alice from res_pjsip:\n{status}")
    report["load_to_location_s"] = round(reloaded, 3)
    print(f"ok 6a': res_pbxstate unloaded on server 1 (alice left server 2's table) and loaded again: "
          f"{reloaded:.3f} s later server 2 holds alice again, with no REGISTER since ({read.group(1)} contact "
          f"read from res_pjsip's contact objects)\n    server 2: {line}")

    routed_call(c, report, uas, caller)

    sipp_register(c, "sipp-unregister", "alice", 5073, 5070, 0)
    wait_until("server 2: PBXSTATE_LOCATION(alice) empty after the unregistration",
               lambda: c.ami(2, "Getvar", Variable="PBXSTATE_LOCATION(alice,count)").find("Value: 0") >= 0, 10)
    print("ok 6c: alice unregistered on server 1 -> no server holds alice on server 2 (count 0)")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--ami":
        return ami_action(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--asterisk", default="")
    ap.add_argument("--module", default="")
    ap.add_argument("--modules-dir", default="")
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--keep-dir", action="store_true")
    ap.add_argument("--module-docs", default="", help="the module's pbxstate-en_US.xml (asterisk/module_docs.cmake)")
    args = ap.parse_args()
    if not args.module or not args.asterisk or not os.access(args.asterisk, os.X_OK):
        print("SKIP: res_pbxstate.so was not built or no Asterisk binary was found: configure with "
              "-DASTERISK_INCLUDE_DIR=<prefix>/include of an Asterisk 22 installed with 'make install-headers' "
              "(scripts/test.sh passes $ASTERISK_PREFIX/include); its <prefix>/sbin/asterisk runs the test")
        return SKIP
    if not os.path.isdir(args.modules_dir) or not all(
            os.path.exists(os.path.join(args.modules_dir, m)) for m in MODULES if m != "res_pbxstate.so"):
        print(f"SKIP: {args.modules_dir} lacks one of {', '.join(m for m in MODULES if m != 'res_pbxstate.so')} "
              "(res_mwi_external is off by default in menuselect)")
        return SKIP
    why = check_preconditions(args.module)  # pbxstate.netns: on PYTHONPATH or next to the build's module
    if why:
        print(f"SKIP: {why}")
        return SKIP
    with_sip = shutil.which("sipp") is not None and all(
        os.path.exists(os.path.join(args.modules_dir, m)) for m in PJSIP_MODULES)
    workdir = tempfile.mkdtemp(prefix=f"{PREFIX}-")
    c = AsteriskCluster(os.path.abspath(args.asterisk), os.path.abspath(args.module), args.modules_dir, workdir,
                        with_sip=with_sip, module_docs=os.path.abspath(args.module_docs) if args.module_docs else None)

    report = {}
    code = run_checked(c, lambda: run(c, report, args.cycles), teardown_grace_s=10)
    print("measured: " + json.dumps(report))
    keep_or_remove(workdir, code, args.keep_dir)
    return code


if __name__ == "__main__":
    sys.exit(main())
