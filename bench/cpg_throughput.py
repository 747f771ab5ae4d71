#!/usr/bin/python3
"""Benchmark of pbxstated over real Corosync CPG: throughput, delivery latency and failover time.

A 3-node cluster on this host, built by sim/netns through the Python module (pbxstate.netns, the
code of `pbxstate run --backend netns`; tests/lib/nscluster.py): one network namespace, corosync and
pbxstated per node, the daemons driven through the control library (pbxstate.control). Node 1's pbxstated makes device-state changes from its own event loop (the
`generate` control op, daemon/CONTROL.md); nodes 2 and 3 record when each change became visible
in their view (`watch`). All daemons share the host's CLOCK_MONOTONIC, so receive time minus send
time is the delivery latency.

Throughput and latency, for two engine configurations in one run:
  - one CPG message per change: engine.batch_window_ms 0 (every SetDeviceState flushes at once, one
    frame, one cpg_mcast_joined; the way res_corosync sends one message per event);
  - batching: engine.batch_window_ms --batch-window-ms with max_batch_changes 100000 (changes of a
    window share frames of up to max_frame_bytes, 64 KiB in pbxstated).
Each mode is measured saturated (rate_per_s 0: as fast as CPG accepts; throughput = changes /
(last delivery at the slowest node - first change)) and at a fixed moderate rate (--rate) that
both sustain. Latency p50/p99 pools both receivers.

Failover (engine.departure_grace_ms 0): time from SIGKILL to the moment both surviving nodes'
views drop the dead node's device contribution (their `departure` view event), for
  - a whole node (its corosync, then its pbxstated) with corosync's default totem timeouts,
  - the same with a PBX-tuned token (--tuned-token-ms, --tuned-token-coefficient-ms),
  - pbxstated alone (corosync on that node lives on and sees the IPC close at once),
--reps times each; medians reported.

Prints a table, writes --json. Exit 0 on success, 1 on a failure (a change not delivered
everywhere, a node never dropped), 77 without root or namespaces. Timing targets are not checked
here: it reports figures, it does not judge them.

usage: bench/cpg_throughput.py --pbxstated PATH [--json out.json] [--smoke] [--count N] [--rate R] ...
"""

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from nscluster import (SKIP, Control, NamespaceCluster, Subscriber, TestFailure,  # noqa: E402
                       check_preconditions, keep_or_remove, mono_ns, run_checked, wait_until)

PREFIX = f"pbxbn-{os.getpid()}"
NODES = (1, 2, 3)
GENERATOR = 1
RECEIVERS = (2, 3)
VICTIM = 3
GROUP = "pbxbench"
PAGE = 65536  # kMaxResultPage


class BenchCluster(NamespaceCluster):
    """The namespace cluster with one pbxstated per node, restartable with another engine config."""

    def __init__(self, pbxstated, workdir, token_ms=None, token_coefficient_ms=None):
        super().__init__(NODES, workdir, token_ms=token_ms, token_coefficient_ms=token_coefficient_ms)
        self.pbxstated = pbxstated
        self.daemons = {}  # node -> Popen
        self.engine = {}   # the engine section every daemon is started with

    def socket_path(self, node):
        return os.path.join(self.node_dir(node), "control.sock")

    def start_daemon(self, node):
        conf = os.path.join(self.node_dir(node), "pbxstated.yaml")
        engine = "".join(f"  {k}: {v}\n" for k, v in self.engine.items())
        with open(conf, "w") as f:
            f.write(f"control:\n  socket: {self.socket_path(node)}\n"
                    f"log:\n  file: {os.path.join(self.node_dir(node), 'pbxstated.log')}\n  level: info\n"
                    f"corosync:\n  group: {GROUP}\n  reconnect_min_ms: 100\n  reconnect_max_ms: 1000\n"
                    f"engine:\n  label: n{node}\n{engine}")
        self.daemons[node], _ = self.start_pbxstated(node, self.pbxstated, conf, self.socket_path(node))

    def stop_daemons(self):
        for node, p in self.daemons.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for node, p in self.daemons.items():
            if p.wait(timeout=15) != 0:
                raise TestFailure(f"pbxstated on node {node} exited {p.returncode} on SIGTERM")
        self.daemons = {}

    def restart_daemons(self, engine):
        self.stop_daemons()
        self.engine = dict(engine)
        for n in NODES:
            self.start_daemon(n)
        self.wait_members(NODES)

    def restart_corosync(self, **totem):
        """Every corosync stopped and started again with other totem timeouts (daemons stopped first)."""
        self.stop_daemons()
        for n in NODES:
            self.net.stop_corosync(n, 20)
        self.set_totem(**totem)
        for n in NODES:
            self.start_corosync(n)
        self.wait_corosync_ring(NODES)

    def wait_members(self, nodes):
        want = sorted(nodes)
        for n in nodes:
            wait_until(f"node {n} to see members {want}",
                       lambda n=n: self.call(n, op="members")["members"] == want, 60)

    def call(self, node, timeout=30.0, **req):
        c = Control(self.socket_path(node), timeout=timeout)
        try:
            return c.ok(**req)
        finally:
            c.close()

    def totem_runtime(self, node):
        """corosync's effective totem timeouts (ms) as cmap reports them."""
        out = {}
        for key in ("token", "consensus"):
            try:
                text = self.exec(node, ["corosync-cmapctl", "-g", f"runtime.config.totem.{key}"])
            except TestFailure:
                text = None
            out[key] = int(text.split("=")[-1]) if text else None
        return out


# ---- statistics ----------------------------------------------------------------------------------

def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def fetch_times(cluster, node, op, count):
    """Every time of a generate_result/watch_result, read page by page."""
    times = []
    while len(times) < count:
        r = cluster.call(node, op=op, **{"from": len(times), "limit": min(PAGE, count - len(times))})
        if not r["t_mono_ns"]:
            raise TestFailure(f"node {node} {op}: page at {len(times)} is empty (count {count})")
        times += r["t_mono_ns"]
    return times


# ---- throughput and latency -----------------------------------------------------------------------

def measure_delivery(cluster, prefix, devices, count, rate, timeout_s):
    """One generate run on node 1 watched by nodes 2 and 3; returns its figures."""
    devices = min(devices, count)
    before = cluster.call(GENERATOR, op="stats")
    for n in RECEIVERS:
        cluster.call(n, op="watch", prefix=prefix, devices=devices, count=count)
    max_ms = int(timeout_s * 1000)
    cluster.call(GENERATOR, op="generate", prefix=prefix, devices=devices, count=count, rate_per_s=rate,
                 max_duration_ms=max_ms)
    gen = wait_until("the generator to finish",
                     lambda: (lambda r: r if r["outcome"] != "running" else None)(
                         cluster.call(GENERATOR, op="generate_result", limit=1)), timeout_s + 5, interval=0.1)
    if gen["outcome"] != "done":
        raise TestFailure(f"generator stopped early: {gen['outcome']}: {gen['error']}")

    def all_complete():
        rs = {n: cluster.call(n, op="watch_result", limit=1) for n in RECEIVERS}
        return rs if all(r["complete"] for r in rs.values()) else None
    try:
        watched = wait_until(f"all {count} changes visible on nodes {list(RECEIVERS)}", all_complete, timeout_s,
                             interval=0.1)
    except TestFailure:
        seen = {n: cluster.call(n, op="watch_result", limit=1)["seen"] for n in RECEIVERS}
        raise TestFailure(f"{prefix}: not every change was delivered everywhere: seen {seen} of {count}")
    after = cluster.call(GENERATOR, op="stats")

    sent = fetch_times(cluster, GENERATOR, "generate_result", count)
    latencies = []
    per_node = {}
    for n in RECEIVERS:
        recv = fetch_times(cluster, n, "watch_result", count)
        lat = sorted((r - s) / 1e6 for r, s in zip(recv, sent))
        latencies += lat
        per_node[n] = {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "max_ms": lat[-1]}
    latencies.sort()
    start = gen["started_t_mono_ns"]
    last_delivery = max(w["last_t_mono_ns"] for w in watched.values())
    broadcasts = after["engine"]["broadcasts_out"] - before["engine"]["broadcasts_out"]
    return {
        "devices": devices,
        "count": count,
        "rate_per_s": rate,
        "generated_per_s": count / ((gen["finished_t_mono_ns"] - start) / 1e9),
        "delivered_per_s": count / ((last_delivery - start) / 1e9),
        "duration_s": (last_delivery - start) / 1e9,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1],
        "per_receiver": per_node,
        "broadcasts": broadcasts,
        "changes_per_broadcast": count / broadcasts if broadcasts else None,
        "cpg_try_again": after["transport"]["try_again"] - before["transport"]["try_again"],
        "generator_backpressure_waits": gen["backpressure_waits"],
        "generator_max_lag_ms": gen["max_lag_ns"] / 1e6,
        "engine_send_queue_overflow": after["engine"]["send_queue_overflow"] - before["engine"]["send_queue_overflow"],
        # Ring reformations during the run (a loaded ring that misses its token re-forms: a false failover).
        "totem_confchgs": after["transport"]["totem_confchgs"] - before["transport"]["totem_confchgs"],
        "views": after["transport"]["views"] - before["transport"]["views"],
    }


def run_throughput(cluster, args, report):
    """--tp-reps rounds of both modes (alternating, so load drifts hit both); medians per figure."""
    modes = {
        "one_message_per_change": {"batch_window_ms": 0},
        "batched": {"batch_window_ms": args.batch_window_ms, "max_batch_changes": 100000},
    }
    modes = {m: e for m, e in modes.items() if m in args.modes}
    runs = []
    for rep in range(args.tp_reps):
        run = {}
        for mode, engine in modes.items():
            cluster.restart_daemons({"departure_grace_ms": 0, **engine})
            sat = measure_delivery(cluster, f"Custom:sat{rep}-{mode}-", args.devices, args.count, 0, args.timeout_s)
            mod = measure_delivery(cluster, f"Custom:mod{rep}-{mode}-", args.devices, args.moderate_count, args.rate,
                                   args.timeout_s)
            run[mode] = {"engine": engine, "saturated": sat, "moderate": mod}
            print(f"  rep {rep} {mode:24s} saturated {sat['delivered_per_s']:9.0f} changes/s delivered "
                  f"(p50 {sat['p50_ms']:.2f} ms, p99 {sat['p99_ms']:.2f} ms, {sat['changes_per_broadcast']:.1f} "
                  f"changes/message, {sat['totem_confchgs']} ring changes); at {args.rate}/s: p50 {mod['p50_ms']:.2f} ms, "
                  f"p99 {mod['p99_ms']:.2f} ms", flush=True)
        if len(run) == 2:
            run["ratio"] = (run["batched"]["saturated"]["delivered_per_s"]
                            / run["one_message_per_change"]["saturated"]["delivered_per_s"])
        runs.append(run)
    report["throughput_runs"] = runs
    med = statistics.median
    report["throughput"] = {
        mode: {"engine": engine,
               **{kind: {k: med(r[mode][kind][k] for r in runs)
                         for k in ("delivered_per_s", "generated_per_s", "p50_ms", "p99_ms", "max_ms",
                                   "changes_per_broadcast")}
                  | {"rate_per_s": runs[0][mode][kind]["rate_per_s"], "count": args.count if kind == "saturated"
                     else args.moderate_count}
                  for kind in ("saturated", "moderate")}}
        for mode, engine in modes.items()}
    if len(modes) == 2:
        report["throughput_ratio"] = med(r["ratio"] for r in runs)
        report["throughput_ratio_range"] = [min(r["ratio"] for r in runs), max(r["ratio"] for r in runs)]


def check_refusals(cluster):
    """The instruments' refusals end to end (smoke only): a bad field, a second run, the deadline."""
    c = Control(cluster.socket_path(GENERATOR))
    try:
        r = c.request_line(json.dumps({"op": "generate", "prefix": "Custom:bad-", "devices": 1, "count": 0}))
        if r.get("ok") or r.get("code") != "bad_request" or "'count'" not in r.get("error", ""):
            raise TestFailure(f"generate with count 0: expected a bad_request naming 'count', got {r}")
        c.ok(op="generate", prefix="Custom:slow-", devices=10, count=1000, rate_per_s=10, max_duration_ms=300)
        r = c.request(op="generate", prefix="Custom:other-", devices=1, count=1)
        if r.get("ok") or r.get("code") != "failed_precondition":
            raise TestFailure(f"a second generate during a run: expected failed_precondition, got {r}")
        done = wait_until("the paced run to reach its max_duration_ms",
                          lambda: (lambda g: g if g["outcome"] != "running" else None)(
                              c.ok(op="generate_result", limit=1)), 10)
        if done["outcome"] != "timed_out" or not 1 <= done["generated"] < 1000:
            raise TestFailure(f"paced run past its deadline: expected timed_out after a few changes, got {done}")
    finally:
        c.close()
    print("  refusals: bad field, second run and deadline answered as documented", flush=True)


# ---- failover -------------------------------------------------------------------------------------

def kill(p):
    try:
        os.kill(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def failover_once(cluster, kind, key):
    """SIGKILLs node 3 (kind "node": corosync then pbxstated; "daemon": pbxstated alone) and returns
    the seconds until nodes 1 and 2 each dropped its contribution to `key`."""
    survivors = [n for n in NODES if n != VICTIM]
    cluster.call(VICTIM, op="set_device", device=key, state="INUSE")
    for n in survivors:
        wait_until(f"node {n} to hold node {VICTIM}'s {key}",
                   lambda n=n: [c["node"] for c in cluster.call(n, op="device", device=key)["contributions"]]
                   == [VICTIM], 10)
    subs = {n: Subscriber(cluster.socket_path(n)) for n in survivors}
    try:
        t_kill = mono_ns()
        if kind == "node":
            kill(cluster.corosync[VICTIM])  # first: a pbxstated death seen by a live corosync is a clean leave
        kill(cluster.daemons[VICTIM])
        dropped = {}
        for n in survivors:
            ev = wait_until(f"node {n} to drop node {VICTIM}'s {key}", lambda n=n: subs[n].find(
                lambda e: e.get("event") == "view" and e.get("key") == key and e.get("cause") == "departure"
                and e.get("origin") == VICTIM), 60, interval=0.01)
            dropped[n] = (ev["t_mono_ns"] - t_kill) / 1e9
    finally:
        for s in subs.values():
            s.close()
    cluster.daemons[VICTIM].wait(timeout=10)
    if kind == "node":
        cluster.corosync[VICTIM].wait(timeout=10)
        cluster.start_corosync(VICTIM)
        cluster.wait_corosync_ring(NODES)
    cluster.start_daemon(VICTIM)
    cluster.wait_members(NODES)
    return dropped


def run_failover(cluster, args, report):
    report["failover"] = {}
    settings = [("default_token", {"token_ms": None, "token_coefficient_ms": None, "consensus_ms": None}, "node"),
                ("default_token", None, "daemon"),
                ("pbx_token", {"token_ms": args.tuned_token_ms, "token_coefficient_ms": args.tuned_token_coefficient_ms,
                               "consensus_ms": None}, "node")]
    if args.smoke:  # one quick pass of each code path
        settings = [settings[2], ("pbx_token", None, "daemon")]
    for name, totem, kind in settings:
        if totem is not None:
            cluster.restart_corosync(**totem)
            cluster.restart_daemons({"departure_grace_ms": 0})
        runtime = cluster.totem_runtime(1)
        times = []
        for rep in range(args.reps):
            dropped = failover_once(cluster, kind, f"Custom:failover-{name}-{kind}-{rep}")
            times.append(max(dropped.values()))  # both survivors: the later one
            print(f"    {name} kill {kind} rep {rep}: dropped after "
                  + ", ".join(f"node {n} {t:.3f} s" for n, t in dropped.items()), flush=True)
        label = f"{kind}_kill_{name}" if kind == "node" else "daemon_kill"
        report["failover"][label] = {"totem_runtime_ms": runtime, "times_s": times,
                                     "median_s": statistics.median(times)}


# ---- main -----------------------------------------------------------------------------------------

def print_table(report):
    print("\nthroughput and latency (3 nodes, node 1 generating, nodes 2 and 3 receiving; medians of rounds)")
    print(f"  {'mode':24s} {'saturated/s':>12s} {'p50 ms':>8s} {'p99 ms':>8s} {'chg/msg':>8s} | "
          f"{'moderate/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for mode, r in report.get("throughput", {}).items():
        s, m = r["saturated"], r["moderate"]
        print(f"  {mode:24s} {s['delivered_per_s']:12.0f} {s['p50_ms']:8.2f} {s['p99_ms']:8.2f} "
              f"{s['changes_per_broadcast']:8.1f} | {m['rate_per_s']:10d} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f}")
    if "throughput_ratio" in report:
        lo, hi = report["throughput_ratio_range"]
        print(f"  batched / one message per change, saturated: {report['throughput_ratio']:.1f}x "
              f"(median of {len(report['throughput_runs'])} rounds; range {lo:.1f}-{hi:.1f}x)")
    if report.get("failover"):
        print("\nfailover: SIGKILL to both survivors dropping the dead node's contribution (departure_grace 0)")
        for label, r in report["failover"].items():
            rt = r["totem_runtime_ms"]
            print(f"  {label:26s} median {r['median_s']:.3f} s over {len(r['times_s'])} "
                  f"(token {rt['token']} ms, consensus {rt['consensus']} ms)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pbxstated", required=True)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--count", type=int, default=100000, help="changes of a saturated run")
    ap.add_argument("--devices", type=int, default=10000,
                    help="devices the changes cycle through (a PBX's extensions; each change flips one). Keep "
                         "devices / batch window far above the change rate, else a batch collapses two changes "
                         "of one device and the run fails as undelivered")
    ap.add_argument("--rate", type=int, default=2000, help="the moderate rate (changes/s) both modes sustain")
    ap.add_argument("--moderate-count", type=int, default=10000, help="changes of a moderate-rate run")
    ap.add_argument("--batch-window-ms", type=int, default=5)
    ap.add_argument("--tp-reps", type=int, default=3, help="rounds of the throughput measurement (medians)")
    ap.add_argument("--reps", type=int, default=3, help="failover repetitions per setting")
    ap.add_argument("--tuned-token-ms", type=int, default=1000)
    ap.add_argument("--tuned-token-coefficient-ms", type=int, default=0)
    ap.add_argument("--timeout-s", type=float, default=120, help="bound of each run (generation, then delivery)")
    ap.add_argument("--modes", default="one_message_per_change,batched",
                    help="comma-separated engine modes to measure (one_message_per_change, batched)")
    ap.add_argument("--token-ms", type=int, help="totem token of the throughput cluster (default: corosync's)")
    ap.add_argument("--token-coefficient-ms", type=int, help="totem token_coefficient of the throughput cluster")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-failover", action="store_true")
    ap.add_argument("--smoke", action="store_true",
                    help="small counts, one repetition, tuned token only: checks that everything runs (CTest)")
    ap.add_argument("--keep-dir", action="store_true", help="keep the temp dir (logs) after success")
    args = ap.parse_args()
    args.modes = args.modes.split(",")
    if args.smoke:
        args.count, args.moderate_count, args.rate, args.reps, args.tp_reps, args.timeout_s = 2000, 500, 1000, 1, 1, 30
    why = check_preconditions(args.pbxstated, tools=("corosync-cmapctl",))
    if why:
        print(f"SKIP: {why}")
        return SKIP
    workdir = tempfile.mkdtemp(prefix=f"{PREFIX}-")
    cluster = BenchCluster(os.path.abspath(args.pbxstated), workdir, args.token_ms, args.token_coefficient_ms)

    report = {"nodes": len(NODES), "args": vars(args), "loadavg_start": os.getloadavg()}

    def body():
        cluster.setup_network()
        for n in NODES:
            cluster.start_corosync(n)
        cluster.wait_corosync_ring(NODES)
        report["throughput_totem_runtime_ms"] = cluster.totem_runtime(1)
        if not args.skip_throughput:
            print("throughput and latency:", flush=True)
            run_throughput(cluster, args, report)
            if args.smoke:
                check_refusals(cluster)
        if not args.skip_failover:
            print("failover:", flush=True)
            run_failover(cluster, args, report)
    code = run_checked(cluster, body)
    report["loadavg_end"] = os.getloadavg()
    if code == 0:
        print_table(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"figures written to {args.json}")
    keep_or_remove(workdir, code, args.keep_dir)
    return code


if __name__ == "__main__":
    sys.exit(main())
