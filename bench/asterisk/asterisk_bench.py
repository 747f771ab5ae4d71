#!/usr/bin/python3
"""The Asterisk benchmark: res_pbxstate against res_corosync and against no clustering module.

Two Asterisk servers in network namespaces on this host, each with its own corosync (knet, token
1000 ms; sim/netns's builder through tests/lib/nscluster.py), and the load module res_pbxbench.so (res_pbxbench.c here) in
both: server 1 publishes device states straight into stasis (ast_publish_device_state, as a
channel driver does), server 2 counts what arrives on Asterisk's own device state and MWI topics
under server 1's EID, with CLOCK_MONOTONIC times (one host: arrival minus publish is the
end-to-end latency). For each mode:

  pbxstate  res_pbxstate.so with its defaults (a cluster key; batch_window_ms 20, the pacing
            growing to batch_window_max_ms 100 under sustained load)
  corosync  res_corosync.so publishing and subscribing device_state and mwi (when this Asterisk
            has it)
  floor     no clustering module: server 1's own subscription counts its own publications, so
            the figures are Asterisk's stasis alone, the least any clustering module can cost
            on the origin
  remote_floor
            no clustering module: server 1 publishes every change under server 2's EID (res_pbxbench
            `as`), the way a clustering module publishes a remote change on the server that
            receives it (the least work: res_pbxstate's receive path), and counts them: what one
            remote change costs the receiving Asterisk at the least. floor + remote_floor is the
            CPU per change no clustering module can go under (it must publish the change on the
            origin and again on the receiver); the table shows it next to each module's
  pair_floor
            no clustering module, both at once: server 1 publishes as in floor while server 2
            publishes the same changes under server 1's EID as in remote_floor, each counting its
            own; the end to end time is until both markers arrived. Under a module both Asterisks
            run at the same time on the host's cores; floor and remote_floor each had them alone

it measures, in this order:
  - single-change latency: --pings changes 50 ms apart, published by a thread of the load module
    (no console process of the harness runs while they travel; min / median / p99);
  - MWI latency: --mwi updates 50 ms apart (min / median / p99), first to new mailboxes, then
    the same mailboxes again with other counts (existing mailboxes);
  - 20,000 changes of new devices, 100,000 changes to 1,000 existing devices (after creating
    them), and 100,000 changes of new devices, in this order, on the same two servers: end-to-end changes/s from the first publish to the arrival of a marker
    published after the last change (per origin, both modules keep publish order), arrivals
    (res_pbxstate coalesces repeated changes of one device; the final states are verified in
    server 2's cache), the CPU seconds each process (both Asterisks, both corosyncs) spent per
    change, and the taskprocessors that reached their high-water mark: the module's own
    subscriptions (found by loading the module after start-up and diffing `core show
    taskprocessors`) and any other, with the WARNING lines Asterisk logged; and what the
    corosyncs did (`corosync-cmapctl -m stats`: totem multicasts sent, i.e. messages on the
    ring, and tokens received, per change and per second).

Prints a table, writes --json. Exit 0 when every change arrived and verified, 1 otherwise, 77
without root, namespaces, corosync or the binaries. It reports figures, it does not judge them.
Run it under the shared lock of the live tests (`flock LOCKFILE ...`), one mode per invocation if
the lock must be held less than 15 minutes.

usage: bench/asterisk/asterisk_bench.py --asterisk BIN --modules-dir DIR --pbxstate-module SO
          --pbxbench-module SO [--modes pbxstate,corosync,floor,remote_floor,pair_floor] [--json out.json] [--quick]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "asterisk"))
from nscluster import SKIP, TestFailure, check_preconditions, keep_or_remove, run_checked, wait_until  # noqa: E402
from asterisk_servers import AsteriskServers, eid, proc_cpu_s  # noqa: E402
import thread_stats  # noqa: E402

NODES = (1, 2)
ORIGIN, RECEIVER = 1, 2
MODULE_FILES = {"pbxstate": "res_pbxstate.so", "corosync": "res_corosync.so", "floor": None, "remote_floor": None,
                "pair_floor": None}
FLOOR_MODES = ("floor", "remote_floor")  # no clustering module: server 1 alone, watching itself
# No clustering module, both servers at once: server 1 publishes each change (the floor) while
# server 2 publishes the same changes under server 1's EID (the remote floor), each watching its
# own. floor + remote_floor are measured one Asterisk at a time, with the host's cores to itself;
# under a module both Asterisks run at once and share the cores and their caches.
PAIR_FLOOR = "pair_floor"
# corosync's totem counters (`corosync-cmapctl -m stats`): multicast messages this node put on the
# ring and tokens it received (orf_token_tx stayed at 2 on a ring passing tokens in a test here).
TOTEM_STATS = {"stats.srp.mcast_tx": "mcast_tx", "stats.srp.orf_token_rx": "token_rx"}
TOTEM_ROW = re.compile(r"^(stats\.srp\.\w+) \(u64\) = (\d+)\s*$")
# core show taskprocessors: name, processed, in queue, max depth, low water, high water (Asterisk 22
# adds the lowest and highest task times).
TP_ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+-?\d+\s+-?\d+)?\s*$")
HIGH_WATER_LOG = re.compile(r"Taskprocessor '([^']+)' queue reached (\d+) scheduled tasks")


def quantiles(values):
    s = sorted(values)
    return {"min": round(s[0], 3), "median": round(statistics.median(s), 3),
            "p99": round(s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))], 3), "max": round(s[-1], 3),
            "n": len(s)}


def kv(text):
    """'a 1 b 2' -> {'a': '1', 'b': '2'} (the load module's answers)."""
    words = text.split()
    return dict(zip(words[0::2], words[1::2]))


class BenchServers(AsteriskServers):
    def __init__(self, args, workdir, mode):
        extra = {"res_pbxbench.so": os.path.abspath(args.pbxbench_module)}
        if mode == "pbxstate":
            extra["res_pbxstate.so"] = os.path.abspath(args.pbxstate_module)
        super().__init__(NODES, workdir, os.path.abspath(args.asterisk), args.modules_dir, extra)
        self.mode = mode
        self.module = MODULE_FILES[mode]
        self.pbxstate_options = args.pbxstate_option
        self.module_tids = {n: set() for n in NODES}  # the threads that appeared at the module's load

    def key_file(self):
        path = os.path.join(self.dir, "pbxstate.key")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(32).hex() + "\n")
        return path

    def start(self, node):
        # The clustering module is loaded after start-up, so that its own taskprocessors can be
        # told from Asterisk's (see module_taskprocessors).
        self.write_asterisk_tree(node, ["res_pbxbench.so"])
        self.write_file(node, "pbxstate.conf", f"[general]\ngroup = pbxbench\ncluster_key_file = {self.key_file()}\n"
                        + "".join(line + "\n" for line in self.pbxstate_options))
        self.write_file(node, "res_corosync.conf", "[general]\npublish_event = mwi\nsubscribe_event = mwi\n"
                        "publish_event = device_state\nsubscribe_event = device_state\n")
        self.start_asterisk(node)

    def taskprocessors(self, node):
        """name -> (processed, in queue, max depth, low water, high water)."""
        rows = {}
        for line in self.cli(node, "core show taskprocessors").splitlines():
            m = TP_ROW.match(line.strip())
            if m:
                rows[m.group(1)] = tuple(int(m.group(i)) for i in range(2, 7))
        return rows

    def load_module(self, node):
        before = set(self.taskprocessors(node))
        threads_before = set(thread_stats.snapshot(self.pid(node))["threads"])
        if self.module:
            out = self.cli(node, f"module load {self.module}")
            if "Loaded" not in out:
                raise TestFailure(f"server {node}: module load {self.module}: {out.strip()}")
        self.module_tids[node] = set(thread_stats.snapshot(self.pid(node))["threads"]) - threads_before
        return set(self.taskprocessors(node)) - before

    def threads(self):
        """asterisk<n> -> its threads' snapshot (thread_stats.snapshot)."""
        return {n: thread_stats.snapshot(self.pid(n)) for n in NODES}

    def threads_per_change(self, before, after, count):
        """asterisk<n> -> per thread label, CPU and switches per change (thread_stats.per_change)."""
        return {f"asterisk{n}": thread_stats.per_change(before[n], after[n],
                                                         thread_stats.listed_threads(self.cli(n, "core show threads")),
                                                         self.module_tids[n], count) for n in NODES}

    def cpu(self):
        pids = {f"asterisk{n}": self.pid(n) for n in NODES}
        pids.update({f"corosync{n}": self.corosync[n].pid for n in NODES})
        return {name: proc_cpu_s(pid) for name, pid in pids.items()}

    def bench(self, node, command, timeout=600):
        return kv(self.cli(node, "pbxbench " + command, timeout=timeout))

    def totem(self):
        """corosync<n> -> {mcast_tx, token_tx} (TOTEM_STATS) of each node's corosync."""
        out = {}
        for n in NODES:
            rows = {}
            for line in self.exec(n, ["corosync-cmapctl", "-m", "stats", "stats.srp."]).splitlines():
                m = TOTEM_ROW.match(line.strip())
                if m and m.group(1) in TOTEM_STATS:
                    rows[TOTEM_STATS[m.group(1)]] = int(m.group(2))
            out[f"corosync{n}"] = rows
        return out


def watch_node(c):
    return ORIGIN if c.mode in FLOOR_MODES + (PAIR_FLOOR,) else RECEIVER


def watched_eid(c):
    return {"floor": "local", PAIR_FLOOR: "local", "remote_floor": eid(RECEIVER)}.get(c.mode, eid(ORIGIN))


def burst_loads(c):
    """(publishing node, watching node, EID watched) of each load of a burst: server 1's, and in
    PAIR_FLOOR server 2's too (publishing under server 1's EID: `pbxbench as`, set at start)."""
    loads = [(ORIGIN, watch_node(c), watched_eid(c))]
    if c.mode == PAIR_FLOOR:
        loads.append((RECEIVER, RECEIVER, eid(ORIGIN)))
    return loads


def wait_cluster(c):
    """Until a probe change made on the origin arrives at the receiver (or, floor, at itself)."""
    c.bench(watch_node(c), f"watch probe {watched_eid(c)}")
    k = [0]

    def arrived():
        k[0] += 1
        c.bench(ORIGIN, f"ping probe/x{k[0]} INUSE")
        time.sleep(0.2)
        return c.bench(watch_node(c), f"arrival probe/x{k[0]}").get("arrived_ns", "-") != "-"
    wait_until(f"{c.mode}: a change on server 1 arriving at server {watch_node(c)}", arrived, 60, interval=0.5)


SERIES_INTERVAL_MS = 50


def lines_kv(text):
    """'name value' lines -> {name: value} (the load module's listings)."""
    out = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2:
            out[words[0]] = words[1]
    return out


def latencies(c, kind, prefix, count):
    """`count` single changes SERIES_INTERVAL_MS apart, published by a thread of the load module on
    the origin; ms from publish to arrival. The harness looks only once the series is over: a
    console process (`asterisk -rx`, several ms of CPU) running while a change travels would
    compete with it for the two cores and measure the harness."""
    c.bench(watch_node(c), f"watch {prefix} {watched_eid(c)}")
    c.bench(ORIGIN, f"series {kind} {prefix} {count} {SERIES_INTERVAL_MS}")
    time.sleep(count * SERIES_INTERVAL_MS / 1000 + 0.2)
    published = {}

    def over():
        published.clear()
        published.update(lines_kv(c.cli(ORIGIN, "pbxbench series_times")))
        return published.get("running") == "0"
    wait_until(f"{c.mode}: the {kind} series on server 1 ending", over, 60, interval=0.2)
    del published["running"]
    arrived = {}

    def all_arrived():
        arrived.clear()
        arrived.update(lines_kv(c.cli(watch_node(c), "pbxbench arrivals")))
        return all(name in arrived for name in published)
    wait_until(f"{c.mode}: every change of the {kind} series arriving", all_arrived, 10, interval=0.2)
    return quantiles([(int(arrived[name]) - int(at)) / 1e6 for name, at in published.items()])


def device_latency(c, count):
    return latencies(c, "device", "lat", count)


def mwi_latency(c, count):
    """MWI on new mailboxes: each update names a mailbox no server held before."""
    return latencies(c, "mwi", "bench", count)


def mwi_existing_latency(c, count):
    """MWI on existing mailboxes, the realistic case: the same mailboxes as mwi_latency's (run
    first), each with other counts (the load module's series generation)."""
    return latencies(c, "mwi", "bench", count)


def high_water(c, node, names, log_before):
    """Taskprocessors of `node` whose max depth reached their high water, and the WARNINGs since."""
    rows = c.taskprocessors(node)
    reached = {n: r[2] for n, r in rows.items() if r[2] >= r[4]}
    module = {n: {"max_depth": rows[n][2], "high_water": rows[n][4]} for n in names if n in rows}
    warnings = {}
    for m in HIGH_WATER_LOG.finditer(c.messages_log(node)[log_before:]):
        warnings[m.group(1)] = warnings.get(m.group(1), 0) + 1
    return {"reached_high_water": reached, "module_subscriptions": module, "warnings": warnings,
            "module_warnings": sum(v for k, v in warnings.items() if k in names)}


def burst(c, name, count, devices, first_round, module_tps):
    """`count` changes on the origin; end to end until the marker arrives; CPU; high water."""
    loads = burst_loads(c)
    for _, watcher, watched in loads:
        c.bench(watcher, f"watch {name} {watched}")
    logs = {n: len(c.messages_log(n)) for n in NODES}
    totem0 = c.totem()
    threads0 = c.threads()
    cpu0 = c.cpu()
    for publisher, _, _ in loads:
        c.bench(publisher, f"publish {name} {count} {devices} {first_round}")
    seen = {watcher: {} for _, watcher, _ in loads}

    def done():
        for watcher, report in seen.items():
            report.update(c.bench(watcher, "report"))
        return all(int(report.get("marker_ns", 0)) > 0 for report in seen.values())
    wait_until(f"{c.mode}: the marker of {name} arriving", done, 900, interval=0.2)
    pubs = [c.bench(publisher, "published") for publisher, _, _ in loads]
    if any(pub["running"] != "0" for pub in pubs):
        raise TestFailure(f"{c.mode} {name}: the marker arrived before the publishing run ended: {pubs}")
    time.sleep(0.5)  # what the arrival set off (caches, aggregates) is part of the cost
    cpu1 = c.cpu()
    threads1 = c.threads()
    totem1 = c.totem()
    start_ns = min(int(pub["start_ns"]) for pub in pubs)
    e2e_s = (max(int(report["marker_ns"]) for report in seen.values()) - start_ns) / 1e9
    final_round = first_round + (count - 1) // devices
    state = "INUSE" if final_round % 2 == 0 else "NOT_INUSE"
    verify = [c.bench(watcher, f"verify {name} {min(count, devices)} {state} {watched}") for _, watcher, watched in loads]
    cpu = {k: round((cpu1[k] - cpu0[k]) * 1e6 / count, 2) for k in cpu1}  # us per change
    result = {"changes": count, "devices": devices, "end_to_end_s": round(e2e_s, 3),
              "changes_per_s": round(count / e2e_s),
              "publish_s": round((max(int(pub["end_ns"]) for pub in pubs) - start_ns) / 1e9, 3),
              "arrivals": int(seen[loads[0][1]]["arrivals"]) - 1,
              "missing": sum(int(v["missing"]) for v in verify), "wrong": sum(int(v["wrong"]) for v in verify),
              "cpu_us_per_change": cpu, "cpu_us_per_change_total": round(sum(cpu.values()), 2),
              "totem": totem_figures(totem0, totem1, count, e2e_s),
              "threads": c.threads_per_change(threads0, threads1, count),
              "taskprocessors": {f"server{n}": high_water(c, n, module_tps.get(n, set()), logs[n]) for n in NODES}}
    for n in NODES:
        print(f"{c.mode} {name}: server {n}'s busiest threads, per change:", flush=True)
        print("\n".join(thread_stats.summary_lines(result["threads"][f"asterisk{n}"])), flush=True)
    if result["missing"] or result["wrong"]:
        raise TestFailure(f"{c.mode} {name}: {result['missing']} devices missing and {result['wrong']} in the wrong "
                          f"state in the watching servers' caches")
    return result


def totem_figures(before, after, count, e2e_s):
    """What the corosyncs did in a burst: multicasts (ring messages) and tokens, in all, per change
    and per second of the burst."""
    out = {}
    for what in TOTEM_STATS.values():
        total = sum(after[k].get(what, 0) - before[k].get(what, 0) for k in after)
        out[what] = {"count": total, "per_change": round(total / count, 4), "per_s": round(total / e2e_s)}
    return out


def run_mode(c, args, report):
    c.setup_network()
    for n in NODES:
        c.start_corosync(n)
    c.wait_corosync_ring()
    for n in NODES:
        c.start(n)
    module_tps = {n: c.load_module(n) for n in NODES}
    if c.mode == "remote_floor":
        c.bench(ORIGIN, f"as {eid(RECEIVER)}")
    if c.mode == PAIR_FLOOR:
        c.bench(RECEIVER, f"as {eid(ORIGIN)}")
    wait_cluster(c)
    if args.latency_trace and c.mode == "pbxstate":
        for n in NODES:
            c.cli(n, "pbxstate show trace clear")
    r = {"module": c.module, "module_taskprocessors": {f"server{n}": sorted(v) for n, v in module_tps.items()}}
    r["loadavg_at_latency"] = os.getloadavg()  # the host lock held: the load the series ran under
    r["latency_ms"] = device_latency(c, args.pings)
    r["mwi_latency_ms"] = mwi_latency(c, args.mwi)
    r["mwi_existing_latency_ms"] = mwi_existing_latency(c, args.mwi)
    if args.latency_trace and c.mode == "pbxstate":
        # A module built with -DPBXSTATE_LATENCY_TRACE=ON: its stamps of the three series, per
        # server, for trace_stages.py (taken before the bursts overwrite the ring).
        with open(args.latency_trace, "w") as f:
            json.dump({f"server{n}": c.cli(n, "pbxstate show trace") for n in NODES}, f)
    print(f"{c.mode}: latency {r['latency_ms']}, MWI new {r['mwi_latency_ms']}, "
          f"MWI existing {r['mwi_existing_latency_ms']}", flush=True)
    sizes = (2000, 10000, 500) if args.quick else (20000, 100000, 1000)
    bursts = args.bursts.split(",")
    if "new_20k" in bursts:
        r["new_20k"] = burst(c, "n20k", sizes[0], sizes[0], 0, module_tps)
        print(f"{c.mode}: {sizes[0]} new devices: {r['new_20k']['changes_per_s']}/s", flush=True)
    # The changes to existing devices before the 100,000 new ones: Asterisk's own cost per change
    # grows with the devices it holds (its device state topic pool has 57 buckets), and this
    # burst is about changes, not about that.
    if "existing_100k" in bursts:
        burst(c, "e1k", sizes[2], sizes[2], 0, module_tps)  # creates the devices
        r["existing_100k"] = burst(c, "e1k", sizes[1], sizes[2], 1, module_tps)
        print(f"{c.mode}: {sizes[1]} changes to {sizes[2]} devices: {r['existing_100k']['changes_per_s']}/s",
              flush=True)
    if "new_100k" in bursts:
        r["new_100k"] = burst(c, "n100k", sizes[1], sizes[1], 0, module_tps)
        print(f"{c.mode}: {sizes[1]} new devices: {r['new_100k']['changes_per_s']}/s", flush=True)
    if c.mode == "pbxstate":
        r["pbxstate_status"] = c.cli(ORIGIN, "pbxstate show status")
    report["modes"][c.mode] = r


def bounds(report, key):
    """What no clustering module can beat in burst `key`, from the floors measured in this run: CPU
    per change at least the floor's (all four processes: the change published on the origin, the
    corosyncs idling) plus remote_floor's Asterisk (the change published again on the receiver),
    and, the harness being CPU-bound, changes/s at most the host's cores over that CPU. None
    without both floors."""
    modes = report["modes"]
    if not all(key in modes.get(m, {}) for m in FLOOR_MODES):
        return None
    floor = modes["floor"][key]["cpu_us_per_change_total"]
    least = round(floor + modes["remote_floor"][key]["cpu_us_per_change"][f"asterisk{ORIGIN}"], 2)
    out = {"floor_cpu_us": floor, "least_module_cpu_us": least, "least_over_floor": round(least / floor, 2),
           "max_changes_per_s": round(report["nproc"] * 1e6 / least)}
    if key in modes.get("corosync", {}):
        out["max_over_corosync"] = round(out["max_changes_per_s"] / modes["corosync"][key]["changes_per_s"], 1)
    if key in modes.get(PAIR_FLOOR, {}):
        # Both Asterisks at once: the least a module can cost with them sharing the cores, and the
        # rate both reached together.
        pair = modes[PAIR_FLOOR][key]
        out["pair_floor_cpu_us"] = pair["cpu_us_per_change_total"]
        out["pair_floor_over_floor"] = round(pair["cpu_us_per_change_total"] / floor, 2)
        out["pair_floor_changes_per_s"] = pair["changes_per_s"]
    return out


def table(report):
    modes = [m for m in ("corosync", "pbxstate", "floor", "remote_floor", PAIR_FLOOR) if m in report["modes"]]
    rows = [("single change latency, median (min / p99) ms", lambda r: "{median} ({min} / {p99})".format(**r["latency_ms"])),
            ("MWI latency, new mailboxes, median (min / p99) ms",
             lambda r: "{median} ({min} / {p99})".format(**r["mwi_latency_ms"])),
            ("MWI latency, existing mailboxes, median (min / p99) ms",
             lambda r: "{median} ({min} / {p99})".format(**r["mwi_existing_latency_ms"]))]
    bursts = [b for b in ("new_20k", "new_100k", "existing_100k") if all(b in report["modes"][m] for m in modes)]
    labels = {"new_20k": "new devices", "new_100k": "new devices", "existing_100k": "changes to existing"}
    for key, label in ((b, labels[b]) for b in bursts):
        rows.append((f"{label}, {{n}} changes/s", key))
        rows.append(("  CPU us per change (2 Asterisks + 2 corosyncs)", key + ":cpu"))
        rows.append(("  ... server 1 / server 2 / corosyncs", key + ":split"))
        rows.append(("  totem multicasts per change / per s (both corosyncs)", key + ":totem"))
        rows.append(("  module subscription taskprocessor max depth / high-water warnings", key + ":tp"))
    lines = ["| measure | " + " | ".join(modes) + " |", "|---" * (len(modes) + 1) + "|"]
    for label, how in rows:
        cells = []
        for m in modes:
            r = report["modes"][m]
            if callable(how):
                cells.append(how(r))
                continue
            key, _, what = how.partition(":")
            b = r[key]
            label = label.replace("{n}", f"{b['changes']:,}")
            cells.append(burst_cell(b, what))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key in bursts:
        bound = bounds(report, key)
        if bound:
            lines.append(f"\n{key}: any clustering module costs at least {bound['least_module_cpu_us']} us per change "
                         f"({bound['least_over_floor']} x the floor's {bound['floor_cpu_us']}), so at most "
                         f"{bound['max_changes_per_s']:,} changes/s on {report['nproc']} cores"
                         + (f" ({bound['max_over_corosync']} x res_corosync's)" if "max_over_corosync" in bound else "")
                         + (f"; both Asterisks at once ({PAIR_FLOOR}): {bound['pair_floor_cpu_us']} us per change "
                            f"({bound['pair_floor_over_floor']} x the floor's), {bound['pair_floor_changes_per_s']:,} changes/s"
                            if "pair_floor_cpu_us" in bound else ""))
    return "\n".join(lines)


def burst_cell(b, what):
    if what == "cpu":
        return f"{b['cpu_us_per_change_total']}"
    if what == "split":
        cpu = b["cpu_us_per_change"]
        return f"{cpu['asterisk1']} / {cpu['asterisk2']} / {round(cpu['corosync1'] + cpu['corosync2'], 2)}"
    if what == "totem":
        return f"{b['totem']['mcast_tx']['per_change']} / {b['totem']['mcast_tx']['per_s']:,}"
    if what == "tp":
        depths = [v["max_depth"] for s in b["taskprocessors"].values() for v in s["module_subscriptions"].values()]
        warns = sum(s["module_warnings"] for s in b["taskprocessors"].values())
        return f"{max(depths) if depths else '-'} / {warns}"
    return f"{b['changes_per_s']:,} ({b['end_to_end_s']} s)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--asterisk", default="")
    ap.add_argument("--modules-dir", default="")
    ap.add_argument("--pbxstate-module", default="")
    ap.add_argument("--pbxbench-module", default="")
    ap.add_argument("--modes", default="pbxstate,corosync,floor,remote_floor")
    ap.add_argument("--pings", type=int, default=60)
    ap.add_argument("--mwi", type=int, default=60)
    ap.add_argument("--quick", action="store_true", help="small bursts (a smoke run)")
    ap.add_argument("--bursts", default="new_20k,new_100k,existing_100k",
                    help="which bursts to run (a subset keeps one hold of the shared lock short)")
    ap.add_argument("--pbxstate-option", action="append", default=[],
                    help="a line added to pbxstate.conf (default: none, the module's defaults), e.g. 'batch_window_ms = 20'")
    ap.add_argument("--json", default="")
    ap.add_argument("--latency-trace", default="",
                    help="write the stamps of a module built with -DPBXSTATE_LATENCY_TRACE=ON here (JSON)")
    ap.add_argument("--keep-dir", action="store_true")
    args = ap.parse_args()
    for path, what in ((args.asterisk, "--asterisk"), (args.pbxstate_module, "--pbxstate-module"),
                       (args.pbxbench_module, "--pbxbench-module")):
        if not path or not os.path.exists(path):
            print(f"SKIP: {what} not given or missing (an Asterisk 22 and res_pbxstate built against it)")
            return SKIP
    why = check_preconditions(args.pbxstate_module)  # pbxstate.netns next to the build's module
    if why:
        print(f"SKIP: {why}")
        return SKIP
    report = {"modes": {}, "host": os.uname().nodename, "nproc": os.cpu_count(), "loadavg": os.getloadavg(),
              "pbxstate_options": args.pbxstate_option}
    code = 0
    for mode in args.modes.split(","):
        if mode == "corosync" and not os.path.exists(os.path.join(args.modules_dir, "res_corosync.so")):
            print("corosync: this Asterisk has no res_corosync.so; skipped")
            continue
        workdir = tempfile.mkdtemp(prefix=f"pbxbench-{mode}-")
        c = BenchServers(args, workdir, mode)
        rc = run_checked(c, lambda c=c: run_mode(c, args, report), teardown_grace_s=10)
        keep_or_remove(workdir, rc, args.keep_dir)
        code = code or rc
    report["asterisk"] = asterisk_version(args.asterisk)
    report["bounds"] = {k: v for k in ("new_20k", "new_100k", "existing_100k") if (v := bounds(report, k))}
    report["loadavg_end"] = os.getloadavg()
    print(table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
    return code


def asterisk_version(binary):
    """What `asterisk -V` says (the JSON names the version, not where this machine keeps it)."""
    try:
        return subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({e.__class__.__name__})"


if __name__ == "__main__":
    sys.exit(main())
