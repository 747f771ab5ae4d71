#!/usr/bin/python3
"""Soak of pbxstated on real corosync in network namespaces: churned names at a steady rate, memory,
descriptors and threads sampled, the final state checked.

Three nodes, each a network namespace with a real corosync and a real pbxstated, built by sim/netns
(pbxstate.netns through tests/lib/nscluster.py, the same launcher as the live tests and the CPG
benchmark). The driver makes --rate changes per second in total for --duration-s seconds through
the daemons' control sockets (pipelined, one connection per daemon): devices set on fresh names,
their states changed, devices removed, AORs registered under fresh names with an expiry
(soak_workload.py). Every --sample-s seconds it reads each pbxstated's and each corosync's RSS,
descriptor count and thread count from /proc, and each daemon's `stats`.

At the end it checks
  (a) every node's `dump` equals the driver's expected state (devices and registrations; nothing
      lost, nothing left over) and the three dumps agree;
  (b) after --warmup-s: descriptors and threads of every process take exactly one value, and the
      median RSS of the last third of the samples is within --rss-bound-pct percent (plus
      --rss-slack-kib) of the first third's;
  (c) every change was made (accepted by its daemon) within the run.
It writes OUT/soak.json (every sample and the verdict), OUT/summary.txt and OUT/summary.html.

Exit: 0 all checks passed, 1 a check failed or the run broke (teardown still runs), 2 bad
arguments, 77 without root, namespaces or the Python module, 130 interrupted (SIGINT/SIGTERM: the
cluster is torn down first).

usage: bench/soak/netns_soak.py --pbxstated PATH --out DIR [--duration-s 1800] [--rate 1000] ...
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))
sys.path.insert(0, HERE)
from nscluster import (SKIP, Control, DaemonCluster, TestFailure, check_preconditions,  # noqa: E402
                       keep_or_remove, run_checked, wait_until)
from soak_report import flatness, proc_sample, process_comm, summary_html, summary_text  # noqa: E402
from soak_workload import Workload, compare_final  # noqa: E402

NODES = (1, 2, 3)
GROUP = "pbxsoak"
REQUEST_TIMEOUT_S = 30.0
MAX_SLICE_S = 0.2        # one loop turn makes at most this many seconds' worth of changes
MAX_CATCH_UP_S = 10.0    # how long after --duration-s the driver may still make changes it owes
# A change due more than this long ago is skipped, not made late: catching up a stall in a burst
# would hold more registrations at once than the steady rate does, and the engine's peak, which
# the allocator keeps as RSS, would then be the burst's (the first 30-minute run: bench/soak/README.md).
MAX_BEHIND_S = 1.0
ENGINE_FIGURES = ("local_changes", "records_applied", "device_entries", "registration_entries",
                  "total_dropped", "send_queue_overflow", "sync_sessions_started")


class SoakCluster(DaemonCluster):
    """The namespace cluster with one pbxstated per node and one control connection to each, held
    for the whole run (so the daemons' descriptor counts include exactly these)."""

    def __init__(self, pbxstated, workdir):
        super().__init__(NODES, workdir, pbxstated, group=GROUP)
        self.controls = {}

    def start(self):
        self.setup_network()
        for n in NODES:
            self.start_corosync(n)
        self.wait_corosync_ring(NODES)
        for n in NODES:
            self.start_daemon(n)
        for n in NODES:
            self.controls[n] = Control(self.socket_path(n), timeout=REQUEST_TIMEOUT_S)
        for n in NODES:
            wait_until(f"node {n} to see members {list(NODES)}",
                       lambda n=n: self.controls[n].ok(op="members")["members"] == list(NODES), 60)

    def pids(self):
        """{'pbxstated-N': pid, 'corosync-N': pid}, each checked to be that program (not a wrapper)."""
        out = {}
        for n in NODES:
            for kind, proc in (("pbxstated", self.processes[(n, "pbxstated")]), ("corosync", self.corosync[n])):
                comm = process_comm(proc.pid)
                if comm != kind:
                    raise TestFailure(f"node {n}: pid {proc.pid} is '{comm}', expected {kind}")
                out[f"{kind}-{n}"] = proc.pid
        return out

    def close_controls(self):
        for c in self.controls.values():
            c.close()
        self.controls = {}


def unix_ns():
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


def take_sample(cluster, pids, t_s):
    sample = {"t_s": round(t_s, 3), "procs": {}, "engine": {}}
    for name, pid in pids.items():
        try:
            sample["procs"][name] = proc_sample(pid)
        except OSError as e:
            raise TestFailure(f"{name} (pid {pid}) is gone: {e}")
    for n in NODES:
        st = cluster.controls[n].ok(op="stats")
        sample["engine"][n] = {k: st["engine"].get(k) for k in ENGINE_FIGURES}
        sample["engine"][n]["cpg_try_again"] = st["transport"]["try_again"]
    return sample


def send_slice(cluster, workload, count, report):
    """Makes `count` changes: generated, grouped by node, pipelined to each daemon; refusals counted."""
    now = unix_ns()
    per_node = {n: [] for n in NODES}
    for _ in range(count):
        node, req = workload.next_change(now)
        per_node[node].append(req)
    for n, reqs in per_node.items():
        if not reqs:
            continue
        try:
            resps = cluster.controls[n].pipeline(reqs, REQUEST_TIMEOUT_S)
        except RuntimeError as e:
            report["unanswered"] = {"node": n, "error": str(e), "processes": diagnose(report["pids"])}
            raise TestFailure(f"pbxstated on node {n} did not answer: {e} (processes: soak.json 'unanswered')")
        for req, resp in zip(reqs, resps):
            if not resp.get("ok"):
                report["refused"] += 1
                if len(report["refusals"]) < 10:
                    report["refusals"].append({"node": n, "request": req, "response": resp})


def diagnose(pids):
    """What every process is doing when a daemon stopped answering: its scheduler state, kernel wait
    channel and CPU time twice one second apart (spinning or blocked), and for a pbxstated its
    stack (gdb, bounded to 60 s), before the teardown kills it."""
    def read(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read().strip()
        return {"state": fields[0], "wchan": wchan, "cpu_s": proc_sample(pid)["cpu_s"]}
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = {"first": read(pid)}
        except OSError as e:
            out[name] = {"error": str(e)}
    time.sleep(1.0)
    for name, pid in pids.items():
        try:
            out[name]["second"] = read(pid)
            if name.startswith("pbxstated"):
                r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                                   capture_output=True, text=True, timeout=60)
                out[name]["stack"] = [ln for ln in r.stdout.splitlines() if ln.startswith("#")][:60]
        except (OSError, KeyError, subprocess.SubprocessError) as e:
            out[name]["error"] = str(e)
    return out


def drive(cluster, workload, pids, args, report):
    """The rate-limited loop: change i is due at i / rate s, made at most MAX_BEHIND_S late (else
    skipped and counted); samples every --sample-s. Bounded by the planned count and by
    --duration-s + MAX_CATCH_UP_S."""
    planned = int(args.rate * args.duration_s)
    report["changes_planned"] = planned
    slice_max = max(1, int(args.rate * MAX_SLICE_S))
    t0 = time.monotonic()
    behind_max = max(1, int(args.rate * MAX_BEHIND_S))
    made, skipped, next_sample, next_forget, next_print = 0, 0, 0.0, 1.0, 60.0
    while made + skipped < planned:
        t = time.monotonic() - t0
        if t > args.duration_s + MAX_CATCH_UP_S:
            break
        if t >= next_sample:
            report["samples"].append(take_sample(cluster, pids, t))
            next_sample += args.sample_s
        if t >= next_forget:
            workload.forget_expired(unix_ns())
            next_forget += 1.0
        if t >= next_print:
            print(f"  {t:6.0f} s: {made} changes, load {os.getloadavg()[0]:.2f}", flush=True)
            next_print += 60.0
        due = min(planned, int(t * args.rate))
        report["max_lag_s"] = max(report["max_lag_s"], (due - made - skipped) / args.rate)
        if due - made - skipped > behind_max:
            skip = due - made - skipped - behind_max
            skipped += skip
            report["changes_skipped"] = skipped
            if len(report["skips"]) < 20:
                report["skips"].append({"t_s": round(t, 3), "changes": skip})
        if due > made + skipped:
            n = min(slice_max, due - made - skipped)
            send_slice(cluster, workload, n, report)
            made += n
            report["changes_made"] = made
        else:
            time.sleep(min(0.01, (made + skipped + 1) / args.rate - t, max(0.0, next_sample - t)) + 0.0005)
    elapsed = time.monotonic() - t0
    report["samples"].append(take_sample(cluster, pids, elapsed))
    report["elapsed_s"] = elapsed
    report["achieved_per_s"] = made / elapsed


def settle_and_dump(cluster, workload, args):
    """Waits (at most --settle-s) until every node's devices equal the expected ones, then reads
    the three dumps as close together as it can."""
    want = {n: tuple(v) for n, v in workload.devices.items()}

    def devices_agree():
        from soak_workload import dump_devices
        return all(dump_devices(cluster.controls[n].ok(op="dump")) == want for n in NODES)
    try:
        wait_until("every node's devices to equal the driver's expected devices", devices_agree, args.settle_s,
                   interval=0.5)
    except TestFailure as e:
        print(f"  {e}", flush=True)
    return {n: cluster.controls[n].ok(op="dump") for n in NODES}


def run(cluster, args, report):
    cluster.start()
    pids = cluster.pids()
    report["pids"] = pids
    workload = Workload(args.seed, NODES, f"s{os.getpid()}-", args.live_devices, args.remove_share,
                        args.register_share, args.ttl_min_s, args.ttl_max_s)
    print(f"cluster up ({', '.join(f'{k} pid {v}' for k, v in pids.items())}); driving {args.rate}/s for "
          f"{args.duration_s} s", flush=True)
    drive(cluster, workload, pids, args, report)
    report["workload_counts"] = workload.counts
    report["names_used"] = workload.names_used()
    dumps = settle_and_dump(cluster, workload, args)
    problems, final = compare_final(workload, dumps)
    final["digests"] = {n: d["digest"] for n, d in dumps.items()}
    report["final"] = final
    report["engine_end"] = {n: cluster.controls[n].ok(op="stats")["engine"] for n in NODES}
    report["engine_end"] = {n: {k: e.get(k) for k in ENGINE_FIGURES} for n, e in report["engine_end"].items()}
    report["problems"] += problems
    flat, flat_problems = flatness(report["samples"], args.warmup_s, args.rss_bound_pct, args.rss_slack_kib)
    report["flatness"] = flat
    report["problems"] += flat_problems
    if report["changes_made"] + report["changes_skipped"] < report["changes_planned"]:
        report["problems"].append(f"only {report['changes_made']} of {report['changes_planned']} changes made "
                                  f"within {args.duration_s} + {MAX_CATCH_UP_S} s")
    if report["changes_skipped"] > report["changes_planned"] * args.max_skipped_pct / 100.0:
        report["problems"].append(f"{report['changes_skipped']} changes skipped (more than {MAX_BEHIND_S} s late), "
                                  f"over {args.max_skipped_pct} % of {report['changes_planned']}: the driver could "
                                  f"not keep the rate (stalls: {report['skips'][:5]})")
    if report["refused"]:
        report["problems"].append(f"{report['refused']} changes refused (first: {report['refusals'][:3]})")
    cluster.close_controls()
    if report["problems"]:
        raise TestFailure("; ".join(report["problems"]))


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pbxstated", required=True, help="the pbxstated binary")
    ap.add_argument("--out", required=True, help="folder for soak.json, summary.txt, summary.html (made if missing)")
    ap.add_argument("--duration-s", type=float, default=1800.0, help="how long changes are made (1..86400)")
    ap.add_argument("--rate", type=int, default=1000, help="changes per second, all nodes together (1..2000)")
    ap.add_argument("--warmup-s", type=float, default=120.0,
                    help="samples before this are not judged (at most half the duration)")
    ap.add_argument("--sample-s", type=float, default=5.0, help="sampling period (0.5..600)")
    ap.add_argument("--live-devices", type=int, default=3000, help="devices held at once at most (1..100000)")
    ap.add_argument("--remove-share", type=float, default=0.3, help="share of changes that remove a device")
    ap.add_argument("--register-share", type=float, default=0.2, help="share of changes that register a fresh AOR")
    ap.add_argument("--ttl-min-s", type=float, default=5.0, help="shortest registration lifetime (1..3600)")
    ap.add_argument("--ttl-max-s", type=float, default=30.0, help="longest registration lifetime (ttl-min..3600)")
    ap.add_argument("--rss-bound-pct", type=float, default=10.0, help="RSS flatness bound, percent (0..1000)")
    ap.add_argument("--rss-slack-kib", type=int, default=0, help="RSS flatness bound, KiB on top (0..1048576)")
    ap.add_argument("--max-skipped-pct", type=float, default=5.0,
                    help="changes the driver may skip (due more than 1 s ago: the machine stalled it), percent of "
                         "the planned ones (0..100)")
    ap.add_argument("--settle-s", type=float, default=60.0, help="bound of the wait for agreement at the end (1..600)")
    ap.add_argument("--seed", type=int, default=1, help="the workload's random seed")
    ap.add_argument("--keep-dir", action="store_true", help="keep the cluster's folder (logs) after success")
    args = ap.parse_args(argv)
    checks = [
        (1 <= args.duration_s <= 86400, "--duration-s must be in [1, 86400]"),
        (1 <= args.rate <= 2000, "--rate must be in [1, 2000]"),
        (0 <= args.warmup_s <= args.duration_s / 2, "--warmup-s must be in [0, duration/2]"),
        (0.5 <= args.sample_s <= 600, "--sample-s must be in [0.5, 600]"),
        ((args.duration_s - args.warmup_s) / args.sample_s >= 6,
         "(--duration-s - --warmup-s) / --sample-s must be at least 6 (two samples per third)"),
        (1 <= args.live_devices <= 100000, "--live-devices must be in [1, 100000]"),
        (0 <= args.remove_share <= 1 and 0 <= args.register_share <= 1
         and args.remove_share + args.register_share < 1,
         "--remove-share and --register-share must be in [0, 1] with a sum below 1"),
        (1 <= args.ttl_min_s <= args.ttl_max_s <= 3600, "--ttl-min-s and --ttl-max-s: 1 <= min <= max <= 3600"),
        (0 <= args.rss_bound_pct <= 1000, "--rss-bound-pct must be in [0, 1000]"),
        (0 <= args.rss_slack_kib <= 1048576, "--rss-slack-kib must be in [0, 1048576]"),
        (1 <= args.settle_s <= 600, "--settle-s must be in [1, 600]"),
        (0 <= args.max_skipped_pct <= 100, "--max-skipped-pct must be in [0, 100]"),
        (os.path.isfile(args.pbxstated) and os.access(args.pbxstated, os.X_OK),
         f"--pbxstated {args.pbxstated}: not an executable file"),
    ]
    for ok, message in checks:
        if not ok:
            ap.error(message)  # exit 2 with the usage line
    return args


def main(argv):
    args = parse_args(argv)
    why = check_preconditions(args.pbxstated)
    if why:
        print(f"SKIP: {why}")
        return SKIP
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix=f"pbxsoak-{os.getpid()}-")
    cluster = SoakCluster(os.path.abspath(args.pbxstated), workdir)
    report = {"nodes": len(NODES), "args": vars(args), "duration_s": args.duration_s, "rate_per_s": args.rate,
              "warmup_s": args.warmup_s, "rss_bound_pct": args.rss_bound_pct, "rss_slack_kib": args.rss_slack_kib,
              "loadavg_start": os.getloadavg(), "samples": [], "refused": 0, "refusals": [], "problems": [],
              "max_lag_s": 0.0, "changes_made": 0, "changes_planned": 0, "achieved_per_s": 0.0,
              "changes_skipped": 0, "skips": [],
              "workload_counts": {}, "names_used": {}, "interrupted": False}

    def body():
        try:
            run(cluster, args, report)
        except KeyboardInterrupt:
            report["interrupted"] = True
            raise
    code = run_checked(cluster, body)
    report["loadavg_end"] = os.getloadavg()
    report["verdict"] = "interrupted" if report["interrupted"] else ("pass" if code == 0 else "FAIL")
    text = summary_text(report)
    with open(os.path.join(args.out, "soak.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "summary.html"), "w") as f:
        f.write(summary_html(report, text))
    print(text, end="")
    print(f"written: {args.out}/soak.json, summary.txt, summary.html", flush=True)
    keep_or_remove(workdir, code, args.keep_dir)
    return 128 + signal.SIGINT if report["interrupted"] else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
