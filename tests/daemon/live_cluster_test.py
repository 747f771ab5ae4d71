#!/usr/bin/python3
"""Live test of pbxstated over real corosync: a 3-node cluster on this host.

The cluster is built by sim/netns through the Python module (pbxstate.netns.Cluster, the code of
`pbxstate run --backend netns`): three network namespaces (pbxst-<pid>-1..3) on a bridge, addresses
198.18.0.1-3, one corosync per node (knet, generated corosync.conf, its log in the test's temp dir)
in its own mount namespace with private /run and /var/lib/corosync, and one pbxstated per node; the
test drives the daemons through their control sockets with the control library (pbxstate.control,
daemon/CONTROL.md) and checks:

  1. all three see members [1, 2, 3];
 1b. a second pbxstated for node 1 exits 1 and is ignored (counted) by the others;
  2. Custom:mystate INUSE on node 1 is seen as INUSE on 2 and 3, then NOT_INUSE (latency measured
     from the set_device response's t_mono_ns to each receiver's view event, same host clock);
  3. an MWI change on node 2 reaches 1 and 3; 3a. a registration on node 3 reaches 1 and 2, then
     its removal; 3a'. a device on node 3 reaches 1 and 2, then remove_device withdraws it;
 3a''. a mailbox written on node 1 reaches 2 and 3, then remove_mailbox on node 2 removes it
     everywhere;
 3a'''. two contacts of one AOR with path and user agent registered on node 1 are located on 2
     (locate, dump), remove_contact removes one everywhere;
 3b. flow control: a burst of registrations on node 1 while node 3's corosync is frozen meets
     CS_ERR_TRY_AGAIN and the bounded send queue, and still converges;
  4. kill -9 of node 3's pbxstated: 1 and 2 drop its contribution after the departure grace;
  5. restarting it: it rejoins with a greater incarnation and catches up (equal digests);
  6. restarting node 2's corosync: node 2's pbxstated reconnects and everyone converges;
  7. SIGTERM (and the `stop` request): every pbxstated exits 0, its subscribers get `stopping` as
     the last line, and its socket file is gone.

Teardown always runs (exit, error, SIGINT, SIGTERM) and is checked: no namespace, link or process
of this run is left. Without root or network namespaces it exits 77 (CTest skip) saying why.

usage: live_cluster_test.py --pbxstated PATH [--keep-dir]
"""

import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from nscluster import DaemonCluster, Subscriber, TestFailure, live_test_main, mono_ns, wait_until  # noqa: E402

PREFIX = f"pbxst-{os.getpid()}"
NODES = (1, 2, 3)
GROUP = "pbxstate"
DEPARTURE_GRACE_MS = 500
BURST = 5000
QUEUE_FRAMES = 64  # small on purpose: the burst must meet the bound


class Cluster(DaemonCluster):
    """The 3-node namespace cluster with one pbxstated per node."""

    def __init__(self, pbxstated, workdir):
        super().__init__(NODES, workdir, pbxstated, group=GROUP, token_ms=3000)

    def start_daemon(self, node):
        return super().start_daemon(
            node, corosync=f"  reconnect_min_ms: 100\n  reconnect_max_ms: 1000\n  max_queue_frames: {QUEUE_FRAMES}\n",
            engine=f"  departure_grace_ms: {DEPARTURE_GRACE_MS}\n  max_contact_bytes: 2048\n")


def burst(cluster, node, requests):
    """Sends every request on one connection without waiting for answers (pipelined by the control
    library, which reads answers while it sends), then checks every answer."""
    c = cluster.ctl(node)
    try:
        # Generous: sanitizer builds of pbxstated are ~20 times slower.
        for i, r in enumerate(c.pipeline(requests, timeout=180)):
            if not r.get("ok"):
                raise TestFailure(f"burst request {i} refused: {r}")
    finally:
        c.close()


def members_are(cluster, node, expected):
    r = cluster.call(node, op="members")
    return r if r["members"] == expected else None


def device_view(cluster, node, device):
    return cluster.call(node, op="device", device=device)


def digests(cluster, nodes):
    return {n: cluster.call(n, op="dump")["digest"] for n in nodes}


def contacts(cluster, expires):
    desk = {"contact": "sip:bob@198.18.9.10:5060", "path": "<sip:edge1.example.net;lr>",
            "user_agent": "Yealink SIP-T54W"}
    soft = {"contact": "sip:bob@198.18.9.11:5062;transport=tls",
            "path": "<sip:edge2.example.net;lr>,<sip:core.example.net;lr>", "user_agent": "Linphone/5.2"}
    for c in (desk, soft):
        cluster.call(1, op="register", aor="bob", expires_unix_ns=expires, **c)

    def located(n):
        locs = cluster.call(n, op="locate", aor="bob")["locations"]
        return sorted((l["node"], l["contact"], l["path"], l["user_agent"]) for l in locs)
    both = sorted((1, c["contact"], c["path"], c["user_agent"]) for c in (desk, soft))
    wait_until("node 2 to locate both of bob's contacts on node 1 with path and user agent",
               lambda: located(2) == both, 10)
    dumped = sorted((r["node"], r["contact"], r["path"], r["user_agent"])
                    for r in cluster.call(2, op="dump")["registrations"] if r["aor"] == "bob")
    if dumped != both:
        raise TestFailure(f"node 2's dump of bob: {dumped}, expected {both}")
    # The engine's bound (max_contact_bytes 2048 here) is the answer to an oversized one; nothing changes.
    c = cluster.ctl(1)
    try:
        r = c.request("register", aor="bob", contact="sip:bob@198.18.9.12", expires_unix_ns=expires,
                      user_agent="x" * 2048)
    finally:
        c.close()
    if r.get("ok") or r.get("code") != "invalid_argument" or "user agent" not in r.get("error", ""):
        raise TestFailure(f"an oversized user agent was not refused by the engine's bound: {r}")
    cluster.call(1, op="remove_contact", aor="bob", contact=desk["contact"])
    one = [(1, soft["contact"], soft["path"], soft["user_agent"])]
    for n in (1, 2, 3):
        wait_until(f"node {n} to locate only bob's softphone", lambda n=n: located(n) == one, 10)
    cluster.call(1, op="unregister", aor="bob")
    for n in (1, 2, 3):
        wait_until(f"node {n} to locate bob nowhere", lambda n=n: located(n) == [], 10)
    print("ok 3a''': two contacts of bob with path and user agent registered on node 1 located on 2 "
          "(locate and dump), an oversized user agent refused, remove_contact removed one everywhere")


def run(cluster, report):
    cluster.setup_network()
    for n in NODES:
        cluster.start_corosync(n)
    cluster.wait_corosync_ring(NODES)
    hellos = {n: cluster.start_daemon(n) for n in NODES}
    for n, h in hellos.items():
        if h["node"] != n:
            raise TestFailure(f"pbxstated in namespace of node {n} says it is node {h['node']}")
    t0 = time.monotonic()
    for n in NODES:
        wait_until(f"node {n} to see members [1, 2, 3]", lambda n=n: members_are(cluster, n, [1, 2, 3]), 30)
    report["members_converged_s"] = round(time.monotonic() - t0, 3)
    print(f"ok 1: all three see members [1, 2, 3] ({report['members_converged_s']} s after the last start)")

    # 1b. a second pbxstated on node 1 (same corosync node id, other pid) is refused: it exits 1
    # naming the reason, and the others count and ignore it.
    dup_dir = os.path.join(cluster.dir, "dup")
    os.makedirs(dup_dir, exist_ok=True)
    dup_conf = os.path.join(dup_dir, "pbxstated.yaml")
    with open(dup_conf, "w") as f:
        f.write(f"control:\n  socket: {dup_dir}/control.sock\nlog:\n  file: {dup_dir}/pbxstated.log\n"
                f"corosync:\n  group: {GROUP}\n")
    dup = cluster.spawn(1, "dup", [cluster.pbxstated, "-c", dup_conf])
    try:
        dup_code = dup.wait(timeout=15)
    except TimeoutError:
        raise TestFailure("a second pbxstated on node 1 kept running")
    with open(os.path.join(dup_dir, "pbxstated.log")) as f:
        dup_log = f.read()
    if dup_code != 1 or "another process already serves corosync node 1" not in dup_log:
        raise TestFailure(f"second pbxstated on node 1 exited {dup_code}; log:\n{dup_log}")
    wait_until("node 2 to count the duplicate member",
               lambda: cluster.call(2, op="stats")["transport"]["duplicate_members"] >= 1, 10)
    for n in NODES:
        if members_are(cluster, n, [1, 2, 3]) is None:
            raise TestFailure(f"node {n}'s members changed because of the duplicate")
    print("ok 1b: a second pbxstated for node 1 exited 1 (duplicate), node 2 counted and ignored it")

    # 2. device state both ways, latency from the origin's t_mono_ns to each receiver's event.
    subs = {n: Subscriber(cluster.socket_path(n)) for n in (2, 3)}
    for state in ("INUSE", "NOT_INUSE"):
        t_set = cluster.call(1, op="set_device", device="Custom:mystate", state=state)["t_mono_ns"]
        for n in (2, 3):
            ev = wait_until(f"node {n} view event Custom:mystate -> {state}", lambda n=n: subs[n].find(
                lambda e: e.get("event") == "view" and e.get("key") == "Custom:mystate"
                and e.get("new_aggregate") == state and e["t_mono_ns"] >= t_set), 10)
            if ev["cause"] != "remote" or ev["origin"] != 1 or ev["new_contribution"] != state:
                raise TestFailure(f"node {n}: unexpected event {ev}")
            d = device_view(cluster, n, "Custom:mystate")
            if d["aggregate"] != state or [c["node"] for c in d["contributions"]] != [1]:
                raise TestFailure(f"node {n}: device query says {d}")
            report.setdefault("device_latency_ms", []).append(round((ev["t_mono_ns"] - t_set) / 1e6, 3))
    # Refusals come back as errors on the same connection, which stays usable.
    c = cluster.ctl(1)
    try:
        r = c.request(op="set_device", device="", state="INUSE")
        if r.get("ok") or r.get("code") != "invalid_argument":
            raise TestFailure(f"empty device name: expected invalid_argument, got {r}")
        r = c.request_line(json.dumps({"op": "set_device", "device": "Custom:x", "state": "SLEEPY"}))
        if r.get("ok") or r.get("code") != "bad_request" or "state" not in r.get("error", ""):
            raise TestFailure(f"bad state name: expected bad_request naming 'state', got {r}")
        c.ok(op="hello")
    finally:
        c.close()
    print(f"ok 2: Custom:mystate INUSE then NOT_INUSE from node 1 seen on 2 and 3 "
          f"(latencies ms: {report['device_latency_ms']})")

    # 3. MWI.
    cluster.call(2, op="set_mailbox", mailbox="100@default", new=2, old=1, urgent=1)
    for n in (1, 3):
        def mwi(n=n):
            for m in cluster.call(n, op="dump")["mailboxes"]:
                if m["mailbox"] == "100@default" and (m["new"], m["old"], m["urgent"], m["writer"]) == (2, 1, 1, 2):
                    return m
            return None
        wait_until(f"node {n} to show mailbox 100@default 2/1/1 written by node 2", mwi, 10)
    print("ok 3: MWI 100@default new=2 old=1 urgent=1 from node 2 seen on 1 and 3")

    # 3a. a registration on node 3 appears on 1 and 2, then its removal.
    expires = time.clock_gettime_ns(time.CLOCK_REALTIME) + 60 * 10**9
    cluster.call(3, op="register", aor="alice", contact="sip:alice@198.18.9.9:5060", expires_unix_ns=expires,
                 rtt_us=1200)
    def registration(n, present):
        regs = [r for r in cluster.call(n, op="dump")["registrations"] if r["aor"] == "alice"]
        if not present:
            return not regs
        return any(r["node"] == 3 and r["contact"] == "sip:alice@198.18.9.9:5060" and r["expires_unix_ns"] == expires
                   and r["reachable"] and r["rtt_us"] == 1200 for r in regs)
    for n in (1, 2):
        wait_until(f"node {n} to show alice registered on node 3", lambda n=n: registration(n, True), 10)
    cluster.call(3, op="unregister", aor="alice")
    for n in (1, 2):
        wait_until(f"node {n} to drop alice's registration", lambda n=n: registration(n, False), 10)
    print("ok 3a: registration of alice on node 3 seen on 1 and 2, then its removal")

    # 3a'''. several contacts of one AOR with path and user agent (issue 18): two registered on
    # node 1, both located on node 2 with their path and user agent, remove_contact removes one.
    contacts(cluster, expires)

    # 3a'. a device deprovisioned on node 3 (remove_device): its contribution leaves 1 and 2.
    cluster.call(3, op="set_device", device="PJSIP/hotdesk", state="INUSE")
    def hotdesk(n):
        return cluster.call(n, op="device", device="PJSIP/hotdesk")["aggregate"]
    for n in (1, 2):
        wait_until(f"node {n} to show PJSIP/hotdesk INUSE", lambda n=n: hotdesk(n) == "INUSE", 10)
    cluster.call(3, op="remove_device", device="PJSIP/hotdesk")
    for n in (1, 2, 3):
        wait_until(f"node {n} to drop PJSIP/hotdesk", lambda n=n: hotdesk(n) is None, 10)
    print("ok 3a': PJSIP/hotdesk set on node 3 seen on 1 and 2, then withdrawn everywhere by remove_device")

    # 3a''. a mailbox deleted from voicemail.conf (remove_mailbox) on another node than its writer.
    cluster.call(1, op="set_mailbox", mailbox="200@default", new=4, old=0)
    def has_box(n):
        return any(m["mailbox"] == "200@default" for m in cluster.call(n, op="dump")["mailboxes"])
    for n in (2, 3):
        wait_until(f"node {n} to show mailbox 200@default", lambda n=n: has_box(n), 10)
    cluster.call(2, op="remove_mailbox", mailbox="200@default")
    for n in (1, 2, 3):
        wait_until(f"node {n} to drop mailbox 200@default", lambda n=n: not has_box(n), 10)
    print("ok 3a'': mailbox 200@default written on node 1 seen on 2 and 3, then removed everywhere by remove_mailbox")

    # 3b. flow control. Node 3's corosync is frozen (SIGSTOP): the totem ring stalls (for up to
    # token + consensus, ~6.6 s with corosync's default token of 3 s) while node 1 takes a burst of
    # pipelined registrations with 1.5 KB contacts (two totem queue slots each). corosync's queue
    # fills, CPG answers CS_ERR_TRY_AGAIN, the transport's send queue fills to its bound and drops
    # its oldest message at each further send (queue_full; the transport alone owns flow control).
    # As soon as that has happened node 3 is thawed; the cluster must still converge on every
    # registration (anti-entropy and catch-up repair what the queue dropped).
    contact = "sip:burst@198.18.9.9:5060;x=" + "y" * 1470
    expires = time.clock_gettime_ns(time.CLOCK_REALTIME) + 600 * 10**9
    requests = [{"op": "register", "aor": f"burst{i}", "contact": contact, "expires_unix_ns": expires}
                for i in range(BURST)]
    os.kill(cluster.corosync[3].pid, signal.SIGSTOP)
    t_burst = time.monotonic()
    done = threading.Event()
    burst_errors = []
    def run_burst():
        try:
            burst(cluster, 1, requests)
        except Exception as e:  # reported below, on the main thread
            burst_errors.append(e)
        finally:
            done.set()
    sender = threading.Thread(target=run_burst, daemon=True)
    sender.start()
    try:
        while not done.is_set() and time.monotonic() - t_burst < 120:
            tr = cluster.call(1, op="stats")["transport"]
            if tr["try_again"] > 0 and tr["queue_full"] > 0:
                break
            time.sleep(0.1)
    finally:
        os.kill(cluster.corosync[3].pid, signal.SIGCONT)
    report["burst_stall_s"] = round(time.monotonic() - t_burst, 3)
    sender.join(timeout=180)
    report["burst_send_s"] = round(time.monotonic() - t_burst, 3)
    if burst_errors:
        raise TestFailure(f"burst failed: {burst_errors[0]}")
    if sender.is_alive():
        raise TestFailure("the burst did not finish within 180 s of the thaw")
    def burst_seen():
        counts = [cluster.call(n, op="stats")["engine"]["registration_entries"] for n in NODES]
        return counts if counts == [BURST] * len(NODES) else None
    wait_until(f"all nodes to hold the {BURST} burst registrations", burst_seen, 120)
    wait_until("equal digests after the burst",
               lambda: len({json.dumps(d, sort_keys=True) for d in digests(cluster, NODES).values()}) == 1, 30)
    report["burst_converge_s"] = round(time.monotonic() - t_burst, 3)
    st = cluster.call(1, op="stats")
    tr, en = st["transport"], st["engine"]
    report["burst_flow_control"] = {k: tr[k] for k in ("try_again", "queued", "queue_full", "queue_peak_frames",
                                                       "queue_max_frames")}
    report["burst_flow_control"]["engine_send_try_again"] = en["send_try_again"]
    report["burst_flow_control"]["engine_send_queue_overflow"] = en["send_queue_overflow"]
    if tr["queue_peak_frames"] > tr["queue_max_frames"]:
        raise TestFailure(f"send queue exceeded its bound: {tr}")
    if tr["try_again"] == 0 or tr["queue_full"] == 0:
        raise TestFailure(f"the stalled ring never made CPG answer TRY_AGAIN and fill the queue: {tr}")
    for n in NODES:
        wait_until(f"node {n} to see members [1, 2, 3] after the stall",
                   lambda n=n: members_are(cluster, n, [1, 2, 3]), 30)
    print(f"ok 3b: {BURST} pipelined registrations on node 1 during a ring stall of {report['burst_stall_s']} s "
          f"(all answered after {report['burst_send_s']} s) reached 2 and 3, equal digests "
          f"{report['burst_converge_s']} s after the burst began "
          f"(flow control: {report['burst_flow_control']})")

    # 4. kill -9 node 3's pbxstated; 1 and 2 drop its contribution after the grace.
    cluster.call(3, op="set_device", device="PJSIP/carol", state="BUSY")
    for n in (1, 2):
        wait_until(f"node {n} to see PJSIP/carol BUSY from node 3",
                   lambda n=n: device_view(cluster, n, "PJSIP/carol")["aggregate"] == "BUSY", 10)
    old_incarnation = hellos[3]["incarnation"]
    subs[3].close()
    t_kill = mono_ns()
    os.kill(cluster.daemons[3].pid, signal.SIGKILL)
    cluster.daemons[3].wait(timeout=5)
    for n in (1, 2):
        wait_until(f"node {n} to drop node 3's PJSIP/carol",
                   lambda n=n: device_view(cluster, n, "PJSIP/carol")["aggregate"] is None, 10)
    ev = subs[2].find(lambda e: e.get("event") == "view" and e.get("key") == "PJSIP/carol"
                      and e.get("cause") == "departure")
    if ev is None:
        raise TestFailure("node 2 showed no departure event for PJSIP/carol")
    drop_ms = (ev["t_mono_ns"] - t_kill) / 1e6
    if drop_ms < DEPARTURE_GRACE_MS:
        raise TestFailure(f"node 2 dropped node 3's contribution {drop_ms:.0f} ms after the kill, "
                          f"before the {DEPARTURE_GRACE_MS} ms grace")
    report["failover_ms"] = round(drop_ms, 1)
    for n in (1, 2):
        wait_until(f"node {n} to see members [1, 2]", lambda n=n: members_are(cluster, n, [1, 2]), 10)
    print(f"ok 4: kill -9 of node 3's pbxstated: its BUSY dropped on node 2 {drop_ms:.0f} ms after the kill "
          f"(grace {DEPARTURE_GRACE_MS} ms)")

    # 5. restart it: rejoin, greater incarnation, catch up.
    cluster.call(1, op="set_device", device="PJSIP/alice", state="RINGING")
    t_restart = time.monotonic()
    h3 = cluster.start_daemon(3)
    if h3["incarnation"] <= old_incarnation:
        raise TestFailure(f"restarted node 3 has incarnation {h3['incarnation']} <= {old_incarnation}")
    for n in NODES:
        wait_until(f"node {n} to see members [1, 2, 3] again", lambda n=n: members_are(cluster, n, [1, 2, 3]), 20)
    wait_until("restarted node 3 to catch up PJSIP/alice RINGING and the mailbox",
               lambda: device_view(cluster, 3, "PJSIP/alice")["aggregate"] == "RINGING"
               and any(m["mailbox"] == "100@default" for m in cluster.call(3, op="dump")["mailboxes"]), 10)
    wait_until("equal digests on 1, 2, 3 after node 3's restart",
               lambda: len({json.dumps(d, sort_keys=True) for d in digests(cluster, NODES).values()}) == 1, 10)
    report["restart_catchup_s"] = round(time.monotonic() - t_restart, 3)
    if device_view(cluster, 1, "PJSIP/carol")["aggregate"] is not None:
        raise TestFailure("node 3's pre-crash PJSIP/carol came back after its restart")
    print(f"ok 5: restarted node 3 (incarnation {h3['incarnation']}) rejoined and caught up "
          f"({report['restart_catchup_s']} s from start to equal digests)")

    # 6. restart node 2's corosync.
    subs[3] = Subscriber(cluster.socket_path(3))
    before = cluster.call(2, op="stats")["transport"]
    p = cluster.corosync[2]
    t_cs = time.monotonic()
    os.kill(p.pid, signal.SIGTERM)
    p.wait(timeout=15)
    wait_until("node 2's pbxstated to notice corosync is gone",
               lambda: cluster.call(2, op="stats")["transport"]["disconnects"] > before["disconnects"], 10)
    cluster.call(1, op="set_device", device="PJSIP/bob", state="ONHOLD")  # made while node 2 is cut off
    cluster.start_corosync(2)
    for n in NODES:
        wait_until(f"node {n} to see members [1, 2, 3] after node 2's corosync restart",
                   lambda n=n: members_are(cluster, n, [1, 2, 3]), 30)
    wait_until("node 2 to catch up PJSIP/bob ONHOLD", lambda: device_view(cluster, 2, "PJSIP/bob")["aggregate"] == "ONHOLD", 10)
    cluster.call(2, op="set_device", device="PJSIP/dave", state="INUSE")
    for n in (1, 3):
        wait_until(f"node {n} to see node 2's PJSIP/dave after the reconnect",
                   lambda n=n: device_view(cluster, n, "PJSIP/dave")["aggregate"] == "INUSE", 10)
    wait_until("equal digests after node 2's corosync restart",
               lambda: len({json.dumps(d, sort_keys=True) for d in digests(cluster, NODES).values()}) == 1, 10)
    after = cluster.call(2, op="stats")["transport"]
    if cluster.daemons[2].poll() is not None:
        raise TestFailure("node 2's pbxstated exited during its corosync restart")
    if after["connects"] < before["connects"] + 1:
        raise TestFailure(f"node 2's transport did not reconnect: {after}")
    report["corosync_restart_converge_s"] = round(time.monotonic() - t_cs, 3)
    print(f"ok 6: node 2's corosync restarted; its pbxstated reconnected ({after['connects'] - 1} reconnects, "
          f"{after['connect_failures']} failed attempts) and all converged "
          f"({report['corosync_restart_converge_s']} s from the stop)")

    # Cost of addressed frames on the group, per node: envelope bytes, and unicasts for other
    # nodes that each node received and discarded (node 3's catch-up pages, above all).
    report["envelope_overhead"] = {}
    for n in NODES:
        t = cluster.call(n, op="stats")["transport"]
        report["envelope_overhead"][n] = {k: t[k] for k in (
            "bytes_sent", "envelope_bytes_sent", "broadcasts_sent", "unicasts_sent", "bytes_received",
            "unicast_not_for_us", "unicast_not_for_us_bytes")}

    # 7. SIGTERM (nodes 2, 3) and the `stop` request (node 1): exit 0, `stopping` last.
    subs[1] = Subscriber(cluster.socket_path(1))
    for n in (2, 3):
        os.kill(cluster.daemons[n].pid, signal.SIGTERM)
    cluster.call(1, op="stop")
    for n in NODES:
        try:
            code = cluster.daemons[n].wait(timeout=10)
        except TimeoutError:
            raise TestFailure(f"node {n}'s pbxstated did not exit within 10 s of SIGTERM")
        if code != 0:
            raise TestFailure(f"node {n}'s pbxstated exited {code} after SIGTERM")
        wait_until(f"node {n}'s subscriber to reach end of stream", lambda n=n: subs[n].closed, 5)
        events = subs[n].snapshot()
        if not events or events[-1].get("event") != "stopping":
            raise TestFailure(f"node {n}'s last event is {events[-1] if events else None}, not stopping")
        if os.path.exists(cluster.socket_path(n)):
            raise TestFailure(f"node {n}'s control socket file was not removed")
    print("ok 7: SIGTERM (2, 3) and stop (1): all three pbxstated exited 0, `stopping` was each subscriber's "
          "last line, socket files removed")


def main():
    return live_test_main(PREFIX, Cluster, lambda cluster, _args, report: run(cluster, report))


if __name__ == "__main__":
    sys.exit(main())
