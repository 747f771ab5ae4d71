#!/usr/bin/python3
"""Live test: forged CPG traffic against three pbxstated that share a cluster key.

Four network namespaces with one corosync each, built by sim/netns through the Python module
(pbxstate.netns, the code of --backend netns; tests/lib/nscluster.py). Nodes 1-3 run pbxstated
with the same cluster key (auth.key_file, mode 0600, written by this test). Node 4 runs no
pbxstated: it is an attacker on the cluster LAN with a corosync of the ring, and runs cpg_forger
(tests/daemon/cpg_forger.cc), which joins the pbxstate CPG group and, for ~10 s, sends random
bytes, frames under a wrong key, frames without a MAC, verbatim and re-addressed replays of
genuine frames, tampered and truncated genuine frames, and broken envelopes, while a workload
(set_device, set_mailbox, register, unregister) runs through the three control sockets. Checks:

  1. the three start authenticated: `hello.authenticated` is true, the log says which key file,
     and there is no UNAUTHENTICATED warning; members [1, 2, 3];
  2. during the forging every node answers `hello` (each within the 5 s control timeout) after
     every workload round;
  3. no forged state anywhere: no Forged:* device, *@forged mailbox or forged* AOR in any dump;
     the three dumps hold exactly what the workload alone produces (computed here from the
     requests: every device's contributions, every mailbox's counts and writer, every
     registration's node and contact) and their digests are equal;
  4. every refused frame is counted, by reason, exactly as the forger's summary predicts for each
     of the three receivers (the mapping is in expected_counts below and in cpg_forger.cc);
  5. node 4 (the forger's CPG member) is in every node's CPG view and live set while it is in the
     group, changes no device aggregate, and leaves `members` when it leaves;
  6. a pbxstated on node 4 with a different key changes nobody's view: its changes never reach
     1-3 (counted there as unknown_key), theirs never reach it, and the digests of 1-3 are
     unchanged;
  7. key rotation at run time with the `set_keys` request: 1-3 go from key A to {B, A} to {B},
     changes flow at every step with no authentication drop; a key file group can read is
     refused (invalid_argument naming it); node 4's frames stay refused.

Teardown always runs and is checked (no namespace, link or process left). Without root or
network namespaces it exits 77 (CTest skip) saying why.

usage: forged_traffic_test.py --pbxstated PATH --forger PATH [--keep-dir] [--forge-ms N]
"""

import itertools
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from nscluster import DaemonCluster, TestFailure, live_test_main, wait_until  # noqa: E402

PREFIX = f"pbxfg-{os.getpid()}"
DAEMON_NODES = (1, 2, 3)
FORGER_NODE = 4
GROUP = "pbxstate"
DEPARTURE_GRACE_MS = 500
MAX_WORKLOAD_ROUNDS = 1000  # bound; the forger's run time ends the workload much earlier
STATES = ("INUSE", "NOT_INUSE", "BUSY", "RINGING", "ONHOLD")
# Drop reasons the forger drives; every other reason must not move, except the three that genuine
# traffic can produce by timing alone (a sync page arriving after its session ended; a frame
# racing a view change; a second ack of a resent page after the session closed), which are
# reported, not failed.
FORGED_REASONS = ("bad_magic", "unknown_key", "bad_mac", "unauthenticated", "from_self", "malformed", "replayed",
                  "truncated")
TIMING_REASONS = ("unexpected", "not_member", "session_closed")


class Cluster(DaemonCluster):
    """Nodes 1-3 with pbxstated and a shared key; node 4 with corosync only."""

    def __init__(self, pbxstated, workdir):
        super().__init__(DAEMON_NODES + (FORGER_NODE,), workdir, pbxstated, group=GROUP, token_ms=3000)

    def write_key(self, node, key, name="cluster.key", mode=0o600):
        path = os.path.join(self.node_dir(node), name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        os.chmod(path, mode)  # whatever the umask
        return path

    def start_daemon(self, node, key_file):
        # anti_entropy every second: digests are the unicasts the forger replays.
        return super().start_daemon(
            node, sections=f"auth:\n  key_file: {key_file}\n",
            engine=f"  departure_grace_ms: {DEPARTURE_GRACE_MS}\n  anti_entropy_interval_ms: 1000\n")


class Workload:
    """The genuine changes, and the view they alone must produce on every node."""

    def __init__(self):
        self.devices = {}        # device -> (node, state)
        self.mailboxes = {}      # mailbox -> (new, old, urgent, writer)
        self.registrations = {}  # aor -> (node, contact, expires_unix_ns, rtt_us)
        self.requests = 0
        self.expires = time.clock_gettime_ns(time.CLOCK_REALTIME) + 900 * 10**9

    def round(self, cluster, i):
        for n in DAEMON_NODES:
            device, state = f"PJSIP/w{n}-{i % 8}", STATES[(i + n) % len(STATES)]
            cluster.call(n, op="set_device", device=device, state=state)
            self.devices[device] = (n, state)
            mailbox = f"{n}{i % 4}@work"
            cluster.call(n, op="set_mailbox", mailbox=mailbox, new=i, old=n, urgent=i % 2)
            self.mailboxes[mailbox] = (i, n, i % 2, n)
            aor = f"w{n}-{i % 4}"
            # One contact per AOR, refreshed each round (rtt_us changes): registrations are per
            # contact, so a new URI each round would add contacts rather than replace one.
            contact = f"sip:{aor}@198.18.77.{n}:5060"
            cluster.call(n, op="register", aor=aor, contact=contact, expires_unix_ns=self.expires, rtt_us=i)
            self.registrations[aor] = (n, contact, self.expires, i)
            self.requests += 3
            if i % 7 == 6:
                gone = f"w{n}-{(i + 1) % 4}"
                cluster.call(n, op="unregister", aor=gone)
                self.registrations.pop(gone, None)
                self.requests += 1

    def matches(self, dump):
        """'' when the dump holds exactly the workload's view, else the first difference."""
        devices = {d["device"]: d for d in dump["devices"]}
        if set(devices) != set(self.devices):
            return f"devices {sorted(set(devices) ^ set(self.devices))} differ"
        for name, (node, state) in self.devices.items():
            d = devices[name]
            got = [(c["node"], c["state"]) for c in d["contributions"]]
            if d["aggregate"] != state or got != [(node, state)]:
                return f"device {name}: {d}, expected {state} from node {node}"
        mailboxes = {m["mailbox"]: m for m in dump["mailboxes"]}
        if set(mailboxes) != set(self.mailboxes):
            return f"mailboxes {sorted(set(mailboxes) ^ set(self.mailboxes))} differ"
        for name, want in self.mailboxes.items():
            m = mailboxes[name]
            if (m["new"], m["old"], m["urgent"], m["writer"]) != want:
                return f"mailbox {name}: {m}, expected {want}"
        regs = {r["aor"]: r for r in dump["registrations"]}
        if set(regs) != set(self.registrations):
            return f"registrations {sorted(set(regs) ^ set(self.registrations))} differ"
        for aor, want in self.registrations.items():
            r = regs[aor]
            if (r["node"], r["contact"], r["expires_unix_ns"], r["rtt_us"]) != want or not r["reachable"]:
                return f"registration {aor}: {r}, expected {want}"
        counts = dump["digest"]
        if (counts["devices"], counts["mailboxes"], counts["registrations"]) != (
                len(self.devices), len(self.mailboxes), len(self.registrations)):
            return f"digest counts {counts}"
        return ""


def forged_names(dump):
    return ([d["device"] for d in dump["devices"] if d["device"].startswith("Forged:")]
            + [m["mailbox"] for m in dump["mailboxes"] if m["mailbox"].endswith("@forged")]
            + [r["aor"] for r in dump["registrations"] if r["aor"].startswith("forged")])


def counters(cluster, node):
    st = cluster.call(node, op="stats")
    out = dict(st["engine"]["dropped"])
    for k in ("envelope_errors", "unicast_not_for_us", "from_ignored_member", "messages_received"):
        out["transport." + k] = st["transport"][k]
    return out


def expected_counts(summary, node):
    """What node `node` must count for the forger's traffic (every frame reaches all 3 engines).

    The MAC is checked before the sender, so a frame from node 4 under a wrong key is refused for
    its key, not for claiming another sender. A genuine frame resent by node 4 passes the MAC but
    its header's sender is not the CPG sender (4): `malformed`, or `from_self` at the node that
    sealed it; a genuine unicast's frame put on the group as a broadcast is refused as `replayed`
    by every node it was not addressed to (its sealed destination is another node) before that.
    Envelope faults never reach an engine: the transport counts them (`envelope_errors`), and a
    verbatim unicast reaches only its destination's engine (`unicast_not_for_us` elsewhere), but
    for the kinds other engines overhear (catch-up pages, mailbox repair), which those engines
    judge as well: `from_self` at the frame's origin, `malformed` at the others. Whether the
    captured traffic held such a frame depends on whether a catch-up ran while the forger
    listened, so the forger reports them apart ("overheard", by "origin>destination").
    """
    k = summary["kinds"]

    def by(kind, key=None):
        b = k[kind].get("by", {})
        return b.get(str(key), 0) if key is not None else sum(b.values())

    def overheard(at_origin):
        """Replayed overheard unicasts not addressed to `node`, from it (True) or another (False)."""
        total = 0
        for pair, n in k["replay_unicast"].get("overheard", {}).items():
            origin, destination = (int(x) for x in pair.split(">"))
            if destination != node and (origin == node) == at_origin:
                total += n
        return total
    return {
        "transport.envelope_errors": k["random_bytes"]["sent"] + k["broken_envelope"]["sent"],
        "bad_magic": k["random_frame"]["sent"],
        "unknown_key": k["wrong_key"]["sent"],
        "bad_mac": k["wrong_key_real_id"]["sent"] + k["tampered"]["sent"],
        "unauthenticated": k["no_mac"]["sent"],
        "truncated": k["truncated"]["sent"],
        "from_self": by("replay_broadcast", node) + overheard(True),
        "malformed": (by("replay_broadcast") - by("replay_broadcast", node) + by("replay_unicast", node)
                      + by("readdressed_unicast", node) + overheard(False)),
        "replayed": by("readdressed_unicast") - by("readdressed_unicast", node),
    }


PROBE_NUMBERS = itertools.count()  # probe key files are created once each (O_EXCL)


def key_of_another_id(cluster, key_files):
    """A random key B whose key id is not key A's (nodes 1-3's). Two random keys share a key id
    once in 256 (the engine refuses such a pair: config.cc), so the engine's own check decides:
    node 1 is asked for {A, B} (it still sends under A, so no traffic changes), then back to {A};
    a refused B is replaced. Eight refusals in a row (2^-64) fail."""
    c = cluster.ctl(1)
    try:
        for _ in range(8):
            key_b = os.urandom(32)
            probe = cluster.write_key(1, key_b, name=f"probe-{next(PROBE_NUMBERS)}.key")
            r = c.request(op="set_keys", key_file=key_files[1], previous_key_file=probe)
            if r.get("ok"):
                c.ok(op="set_keys", key_file=key_files[1])
                return key_b
            if "same key id" not in r.get("error", ""):
                raise TestFailure(f"set_keys with a new key B beside A: {r}")
    finally:
        c.close()
    raise TestFailure("eight random keys in a row shared key A's key id")


def rotation_key_files(cluster, key_files):
    """Files of a new key B on nodes 1-3 that the engine accepts beside key A."""
    key_b = key_of_another_id(cluster, key_files)
    return {n: cluster.write_key(n, key_b, name="cluster-b.key") for n in DAEMON_NODES}


def run(cluster, forger, forge_ms, report):
    cluster.setup_network()
    for n in cluster.nodes:
        cluster.start_corosync(n)
    cluster.wait_corosync_ring()
    key = os.urandom(32)
    key_files = {n: cluster.write_key(n, key) for n in DAEMON_NODES}
    for n in DAEMON_NODES:
        h = cluster.start_daemon(n, key_files[n])
        if h["node"] != n or h["authenticated"] is not True:
            raise TestFailure(f"node {n}: hello {h}; expected node {n}, authenticated true")
    for n in DAEMON_NODES:
        with open(cluster.log_path(n)) as f:
            log = f.read()
        if f"frames are authenticated with the cluster key of {key_files[n]}" not in log or "UNAUTHENTICATED" in log:
            raise TestFailure(f"node {n}'s log does not say it authenticates with {key_files[n]}:\n{log}")
        wait_until(f"node {n} to see members [1, 2, 3]",
                   lambda n=n: cluster.call(n, op="members")["members"] == [1, 2, 3], 30)
    print("ok 1: three pbxstated authenticated with the shared key (hello, log), members [1, 2, 3]")

    before = {n: counters(cluster, n) for n in DAEMON_NODES}
    workload = Workload()
    workload.round(cluster, 0)  # something genuine on the group for the forger to capture
    t_forge = time.monotonic()
    fp = cluster.spawn(FORGER_NODE, "forger", [forger, "--group", GROUP, "--duration-ms", str(forge_ms),
                                               "--max-per-kind", "150", "--interval-us", "4000"])
    members_seen = {n: set() for n in DAEMON_NODES}
    view_seen = set()
    hello_max_ms = 0.0
    rounds = 1
    while fp.poll() is None and rounds < MAX_WORKLOAD_ROUNDS:
        if time.monotonic() - t_forge > forge_ms / 1000 + 30:
            raise TestFailure("the forger did not finish within 30 s of its run time")
        workload.round(cluster, rounds)
        rounds += 1
        for n in DAEMON_NODES:
            t = time.monotonic()
            h = cluster.call(n, op="hello")
            hello_max_ms = max(hello_max_ms, (time.monotonic() - t) * 1000)
            members_seen[n].add(tuple(h["members"]))
        view_seen.add(tuple(cluster.call(1, op="members")["view_members"]))
        time.sleep(0.03)
    fp.wait(timeout=30)
    t_forged = time.monotonic()
    with open(os.path.join(cluster.node_dir(FORGER_NODE), "forger.out")) as f:
        out = f.read()
    if fp.returncode != 0:
        raise TestFailure(f"cpg_forger exited {fp.returncode}:\n{out}")
    summary = json.loads(out.strip().splitlines()[-1])
    report["forger"] = summary
    report["workload"] = {"rounds": rounds, "requests": workload.requests, "hello_max_ms": round(hello_max_ms, 1)}
    unsent = [kind for kind, c in summary["kinds"].items() if c["sent"] == 0]
    if unsent:
        raise TestFailure(f"the forger sent nothing of {unsent}: {summary}")
    print(f"ok 2: forger on node 4 sent {summary['total_sent']} messages in {summary['elapsed_ms']} ms "
          f"({ {k: c['sent'] for k, c in summary['kinds'].items()} }); {rounds} workload rounds "
          f"({workload.requests} changes); every node answered hello after every round (slowest {hello_max_ms:.0f} ms); "
          f"replayed unicasts the other engines overhear: {summary['kinds']['replay_unicast'].get('overheard', {})}")

    # 3. no forged state; exactly the workload's view; equal digests.
    def converged():
        dumps = {n: cluster.call(n, op="dump") for n in DAEMON_NODES}
        for n, d in dumps.items():
            if forged_names(d):
                raise TestFailure(f"forged state on node {n}: {forged_names(d)[:10]}")
            if workload.matches(d):
                return None
        hashes = {json.dumps(d["digest"], sort_keys=True) for d in dumps.values()}
        return dumps if len(hashes) == 1 else None
    dumps = wait_until("all three to hold exactly the workload's view with equal digests", converged, 20)
    report["converge_after_forger_s"] = round(time.monotonic() - t_forged, 3)
    print(f"ok 3: no forged state on any node; the three hold exactly the workload's view "
          f"({dumps[1]['digest']['devices']} devices, {dumps[1]['digest']['mailboxes']} mailboxes, "
          f"{dumps[1]['digest']['registrations']} registrations), equal digests "
          f"{report['converge_after_forger_s']} s after the forger exited")

    # 4. every refused frame counted by reason, exactly.
    def deltas(n):
        now = counters(cluster, n)
        return {k: now[k] - before[n][k] for k in now}
    report["counters"] = {}
    for n in DAEMON_NODES:
        want = expected_counts(summary, n)

        def settled(n=n, want=want):
            d = deltas(n)
            return d if all(d[k] == v for k, v in want.items()) else None
        try:
            d = wait_until(f"node {n}'s counters to match the forger's summary", settled, 10)
        except TestFailure:
            d = deltas(n)
            raise TestFailure(f"node {n}: counters {({k: d[k] for k in want})} != expected {want}")
        others = {k: v for k, v in d.items()
                  if not k.startswith("transport.") and k not in FORGED_REASONS + TIMING_REASONS and v}
        if others:
            raise TestFailure(f"node {n}: drop reasons the forger does not explain moved: {others}")
        not_for_us = sum(c for dest, c in summary["kinds"]["replay_unicast"].get("by", {}).items() if dest != str(n))
        if d["transport.unicast_not_for_us"] < not_for_us:
            raise TestFailure(f"node {n}: unicast_not_for_us rose by {d['transport.unicast_not_for_us']}, fewer than "
                              f"the {not_for_us} verbatim unicast replays addressed to others")
        if d["transport.from_ignored_member"] != 0:
            raise TestFailure(f"node {n}: from_ignored_member moved: {d}")
        report["counters"][n] = {k: d[k] for k in list(want) + ["transport.unicast_not_for_us"] + list(TIMING_REASONS)}
    print(f"ok 4: refused frames counted by reason exactly as predicted on each node: {report['counters']}")

    # 5. node 4 in the view while in the group, no effect on aggregates, gone afterwards.
    report["members_seen_while_forging"] = {n: sorted(members_seen[n]) for n in DAEMON_NODES}
    report["view_members_seen_while_forging"] = sorted(view_seen)
    if (1, 2, 3, 4) not in view_seen:
        raise TestFailure(f"node 1's CPG view never listed node 4: {sorted(view_seen)}")
    for n in DAEMON_NODES:
        if (1, 2, 3, 4) not in members_seen[n]:
            raise TestFailure(f"node {n}'s live set never listed the forger's node 4: {sorted(members_seen[n])}")
        wait_until(f"node {n}'s members to be [1, 2, 3] after the forger left",
                   lambda n=n: cluster.call(n, op="members")["members"] == [1, 2, 3], 10)
    print(f"ok 5: node 4 was in the CPG view and the live set while forging ({sorted(view_seen)}), changed no "
          "aggregate (3), and left `members` after it left the group")

    # 6. a pbxstated on node 4 with another key, of another key id: under the same id its frames
    # would be refused as bad_mac, not unknown_key (once in 256 random keys).
    digests_before = {n: cluster.call(n, op="dump")["digest"] for n in DAEMON_NODES}
    wrong_key_file = cluster.write_key(FORGER_NODE, key_of_another_id(cluster, key_files))
    before = {n: counters(cluster, n) for n in DAEMON_NODES}
    h4 = cluster.start_daemon(FORGER_NODE, wrong_key_file)
    if h4["authenticated"] is not True:
        raise TestFailure(f"node 4's pbxstated: hello {h4}")
    # Its changes go out once CPG has put it in the others' configuration: before that there is
    # nobody to send them to (a race this test must not depend on).
    for n in (*DAEMON_NODES, FORGER_NODE):
        wait_until(f"node {n}'s CPG view to list nodes 1-4",
                   lambda n=n: sorted(cluster.call(n, op="members")["view_members"]) == [1, 2, 3, FORGER_NODE], 10)
    cluster.call(FORGER_NODE, op="set_device", device="Forged:wrong-key", state="BUSY")
    cluster.call(FORGER_NODE, op="set_mailbox", mailbox="1@forged", new=7, old=7)
    cluster.call(1, op="set_device", device="PJSIP/after-wrong-key", state="INUSE")
    workload.devices["PJSIP/after-wrong-key"] = (1, "INUSE")
    for n in DAEMON_NODES:
        wait_until(f"node {n} to refuse node 4's frames as unknown_key",
                   lambda n=n: counters(cluster, n)["unknown_key"] > before[n]["unknown_key"], 10)
        wait_until(f"node {n} to see PJSIP/after-wrong-key",
                   lambda n=n: cluster.call(n, op="device", device="PJSIP/after-wrong-key")["aggregate"] == "INUSE", 10)
    wait_until("node 4 to refuse the others' frames as unknown_key",
               lambda: counters(cluster, FORGER_NODE)["unknown_key"] > 0, 10)
    for n in DAEMON_NODES:
        d = cluster.call(n, op="dump")
        if forged_names(d) or workload.matches(d):
            raise TestFailure(f"node {n} after node 4's wrong-key pbxstated: forged {forged_names(d)}, "
                              f"difference {workload.matches(d)}")
    d4 = cluster.call(FORGER_NODE, op="dump")
    if [x["device"] for x in d4["devices"]] != ["Forged:wrong-key"]:
        raise TestFailure(f"node 4 (wrong key) holds others' devices: {[x['device'] for x in d4['devices']]}")
    digests_after = {n: cluster.call(n, op="dump")["digest"] for n in DAEMON_NODES}
    if len({json.dumps(x, sort_keys=True) for x in digests_after.values()}) != 1 or \
            digests_after[1]["devices"] != digests_before[1]["devices"] + 1:
        raise TestFailure(f"digests after node 4's wrong-key pbxstated: {digests_after} (before {digests_before})")
    report["wrong_key_node_unknown_key"] = {n: counters(cluster, n)["unknown_key"] - before[n]["unknown_key"]
                                            for n in DAEMON_NODES}
    report["wrong_key_node_unknown_key"][FORGER_NODE] = counters(cluster, FORGER_NODE)["unknown_key"]
    print(f"ok 6: a pbxstated on node 4 with another key changed nobody's view (unknown_key counted: "
          f"{report['wrong_key_node_unknown_key']}); node 4 holds only its own Forged:wrong-key")

    # 7. key rotation at run time (set_keys): {A} -> {B, A} -> {B} on 1-3, a change from each step
    # reaches everyone, no authentication drop on the way; a key file group can read is refused
    # and changes nothing; node 4 (another key still) stays refused.
    readable = cluster.write_key(1, os.urandom(32), name="readable.key", mode=0o644)
    c = cluster.ctl(1)
    try:
        r = c.request(op="set_keys", key_file=readable)
    finally:
        c.close()
    if r.get("ok") or r.get("code") != "invalid_argument" or readable not in r.get("error", "") \
            or "mode 0644" not in r.get("error", ""):
        raise TestFailure(f"set_keys with a 0644 key file: expected invalid_argument naming it, got {r}")
    new_files = rotation_key_files(cluster, key_files)
    auth_reasons = ("bad_mac", "unknown_key", "unauthenticated", "replayed", "stale_incarnation")
    before = {n: counters(cluster, n) for n in DAEMON_NODES}
    for step, (device, files) in enumerate((("PJSIP/rotated-1", lambda n: (new_files[n], key_files[n])),
                                            ("PJSIP/rotated-2", lambda n: (new_files[n], "")))):
        for n in DAEMON_NODES:
            key_file, previous = files(n)
            req = {"key_file": key_file}
            if previous:
                req["previous_key_file"] = previous
            if cluster.call(n, op="set_keys", **req)["authenticated"] is not True:
                raise TestFailure(f"node {n}: set_keys step {step + 1} left it unauthenticated")
        origin = DAEMON_NODES[step]
        cluster.call(origin, op="set_device", device=device, state="INUSE")
        for n in DAEMON_NODES:
            wait_until(f"node {n} to see {device} after key rotation step {step + 1}",
                       lambda n=n: cluster.call(n, op="device", device=device)["aggregate"] == "INUSE", 10)
    for n in DAEMON_NODES:
        d = counters(cluster, n)
        moved = {k: d[k] - before[n][k] for k in auth_reasons if k != "unknown_key" and d[k] != before[n][k]}
        if moved:
            raise TestFailure(f"node {n}: authentication drops during the rotation: {moved}")
    cluster.call(FORGER_NODE, op="set_device", device="Forged:after-rotation", state="BUSY")
    cluster.call(3, op="set_device", device="PJSIP/rotated-3", state="INUSE")
    for n in DAEMON_NODES:
        wait_until(f"node {n} to see PJSIP/rotated-3",
                   lambda n=n: cluster.call(n, op="device", device="PJSIP/rotated-3")["aggregate"] == "INUSE", 10)
        if forged_names(cluster.call(n, op="dump")):
            raise TestFailure(f"node {n} took node 4's change after the rotation")
    print("ok 7: set_keys rotated 1-3 from key A to {B, A} to {B} with changes flowing at each step and no "
          "authentication drop; a 0644 key file was refused naming it; node 4 stayed refused")


def add_arguments(parser):
    parser.add_argument("--forger", required=True)
    parser.add_argument("--forge-ms", type=int, default=10000, help="how long the forger sends (bounded run)")


def main():
    return live_test_main(PREFIX, Cluster, lambda cluster, args, report:
                          run(cluster, os.path.abspath(args.forger), args.forge_ms, report), add_arguments)


if __name__ == "__main__":
    sys.exit(main())
