#!/usr/bin/python3
"""Splits each MWI update of asterisk_bench.py's latency series into the stages that res_pbxstate
and res_corosync share, measured the same way for both: uprobes (perf) on the functions every
path goes through, stamped with CLOCK_MONOTONIC, on the two Asterisks only.

The probes (event names matter, the group is perf's; README.md here has the commands):
  mwi16_pub, mwi16_pubret   ast_publish_mwi_state_full() entry and return (asterisk): on the
                            origin the load module's publish, on the receiver the module's
  mwi16_mcast, mwi16_mcastret   cpg_mcast_joined() entry and return (libcpg)
  mwi16_dispatch            cpg_dispatch() entry (libcpg)
  mwi16_our_stasis / mwi16_cor_stasis     the module's stasis callback (res_pbxstate's MWI tap,
                            mwi_tap_fn, run inside the publish call; on_mwi before the
                            twentieth run; res_corosync's stasis_message_cb)
  mwi16_our_deliver / mwi16_cor_deliver   the module's CPG deliver callback
  mwi16_arrival             res_pbxbench's on_mwi: the receiver's subscriber sees the update

Per update, from the origin's publish: origin_to_module (Asterisk's dispatch to the module's
subscription, a thread wake-up), module_origin (the module until cpg_mcast_joined), mcast_call
(the IPC to corosync), mcast_to_dispatch (corosync and the network: from the multicast call to
libcpg's dispatch on the receiver), dispatch_to_deliver (libcpg), module_receiver (the deliver
callback until Asterisk's publish), publish_to_arrival (Asterisk's publish until the counting
subscriber runs), publish_call (the publish call itself) and total. A receiver's publish is told
from the origin's by the thread: the deliver callback ran last on it. The first half of the
updates are the series to new mailboxes, the second half to existing ones.

With sched:sched_switch recorded too (-e ...,sched:sched_switch, and `trace` in the fields), it
also counts the updates whose receiving thread was preempted (left its CPU runnable) between the
deliver callback and Asterisk's publish, and when.

    perf script -F pid,tid,time,event,trace --ns -i perf.data > perf.txt
    mwi_stages.py perf.txt [perf.txt ...] [--json OUT]
"""
import argparse
import bisect
import collections
import json
import pathlib
import re
import statistics
import sys

LINE = re.compile(r"\s*(\d+)/(\d+)\s+(\d+)\.(\d+):\s+\S+:(mwi16_[a-z_]+?)(?:__return)?:")
STAGES = ("origin_to_module", "module_origin", "mcast_call", "mcast_to_dispatch", "dispatch_to_deliver",
          "module_receiver", "publish_to_arrival", "publish_call", "total")
# perf script -F pid,tid,time,event,trace of sched:sched_switch: a thread leaving the CPU still
# runnable (prev_state R) was preempted.
PREEMPTED = re.compile(r"\s*\d+/\d+\s+(\d+)\.(\d+):\s+sched:sched_switch:.*prev_pid=(\d+) .*prev_state=R.*next_comm=(\S+)")
LOOKAHEAD = 4000  # events searched for the next stage of one update (a series has a few hundred)


def parse(text):
    """[(ns, pid, tid, event)] in time order."""
    events = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            events.append((int(m[3]) * 10**9 + int(m[4].ljust(9, "0")[:9]), int(m[1]), int(m[2]), m[5]))
    return sorted(events)


def preemptions(text):
    """[(ns, tid, next comm)] of the sched_switch lines in `text` that took a runnable thread off
    its CPU, and what ran instead."""
    out = []
    for line in text.splitlines():
        m = PREEMPTED.match(line)
        if m:
            out.append((int(m[1]) * 10**9 + int(m[2].ljust(9, "0")[:9]), int(m[3]), m[4]))
    return sorted(out)


def publishes(events):
    """Indices of the origin's and of the receiver's publishes, and the two pids."""
    last_on_thread, origin, receiver = {}, [], []
    for i, (_, _, tid, name) in enumerate(events):
        if name == "mwi16_pub":
            (receiver if last_on_thread.get(tid, "").endswith("_deliver") else origin).append(i)
        last_on_thread[tid] = name
    if not origin or not receiver:
        raise ValueError("no publish on one side: are the probes named as in this file's docstring?")
    return (origin, statistics.mode(events[i][1] for i in origin),
            statistics.mode(events[i][1] for i in receiver))


def chains(events):
    """One dict of stage durations (ns) per MWI update that went the whole way."""
    origin, p1, p2 = publishes(events)

    def after(i, ok):
        for j in range(i + 1, min(len(events), i + LOOKAHEAD)):
            if ok(events[j]):
                return j
        return None

    def before(i, ok):
        for j in range(i - 1, max(-1, i - LOOKAHEAD), -1):
            if ok(events[j]):
                return j
        return None

    def chain(i):
        s = after(i, lambda e: e[1] == p1 and e[3].endswith("_stasis"))
        if s is None:
            return None
        tid = events[s][2]
        m = after(s, lambda e: e[2] == tid and e[3] == "mwi16_mcast")
        mr = None if m is None else after(m, lambda e: e[2] == tid and e[3] == "mwi16_mcastret")
        d = None if m is None else after(m, lambda e: e[1] == p2 and e[3].endswith("_deliver"))
        if None in (mr, d):
            return None
        rx = events[d][2]
        dp = before(d, lambda e: e[2] == rx and e[3] == "mwi16_dispatch")
        p = after(d, lambda e: e[2] == rx and e[3] == "mwi16_pub")
        pr = None if p is None else after(p, lambda e: e[2] == rx and e[3] == "mwi16_pubret")
        a = None if p is None else after(p, lambda e: e[1] == p2 and e[3] == "mwi16_arrival")
        if None in (dp, pr, a):
            return None
        t = [events[k][0] for k in (i, s, m, mr, dp, d, p, pr, a)]
        row = dict(zip(STAGES, (t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[2], t[5] - t[4],
                                t[6] - t[5], t[8] - t[6], t[7] - t[6], t[8] - t[0])))
        row["receiver_window"] = (rx, t[5], t[6])  # the deliver callback to Asterisk's publish
        return row

    found = (chain(i) for i in origin if events[i][1] == p1)
    return [c for c in found if c]


def preempted_in_window(row, switches):
    """(offset in ns, what ran instead) of the first preemption of the receiving thread between
    its deliver callback and Asterisk's publish, or None."""
    tid, start, end = row["receiver_window"]
    k = bisect.bisect_left(switches, (start, -1, ""))
    while k < len(switches) and switches[k][0] <= end:
        if switches[k][1] == tid:
            return switches[k][0] - start, switches[k][2]
        k += 1
    return None


def summarise(rows, switches=()):
    """Per series, the median of each stage (us) and, with sched_switch lines, how many receiver
    windows (module_receiver) were preempted and the median offset of that preemption."""
    half = len(rows) // 2
    out = {}
    for name, part in (("mwi_new", rows[:half]), ("mwi_existing", rows[half:])):
        if not part:
            continue
        out[name] = {k: round(statistics.median(r[k] for r in part) / 1000, 1) for k in STAGES}
        out[name]["n"] = len(part)
        if switches:
            hits = [h for h in (preempted_in_window(r, switches) for r in part) if h is not None]
            out[name]["receiver_preempted"] = len(hits)
            out[name]["preempted_after_us"] = round(statistics.median(h[0] for h in hits) / 1000, 1) if hits else None
            out[name]["preempted_by"] = dict(collections.Counter(h[1] for h in hits))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("perf_texts", nargs="+")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    result = {}
    for path in args.perf_texts:
        try:
            with open(path) as f:
                text = f.read()
            result[path] = summarise(chains(parse(text)), preemptions(text))
        except (OSError, ValueError) as e:
            print(f"mwi_stages: {path}: {e}", file=sys.stderr)
            return 2
    for path, series in result.items():
        for name, s in series.items():
            preempted = (f"; receiver preempted before the publish in {s['receiver_preempted']} of {s['n']}, "
                         f"median {s['preempted_after_us']} us after the deliver callback, by {s['preempted_by']}" if "receiver_preempted" in s else "")
            print(f"{path} {name} (n {s['n']}), median us: " + ", ".join(f"{k} {s[k]}" for k in STAGES) + preempted)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
