#!/usr/bin/env python3
"""Splits one change's path into stages from the stamps of a res_pbxstate built with
-DPBXSTATE_LATENCY_TRACE=ON (engine/include/pbxstate/latency_trace.h), as asterisk_bench.py
--latency-trace saves them: per server, the lines of `pbxstate show trace` ("<ns> <thread> <stage>").

Receiver paths: from rx_cpg_dispatch to rx_cpg_returned on one thread, those that published a
change (rx_publish), with the rx_poll and rx_locked just before. Origin paths: from tx_stasis to
tx_done on one thread, those that reached cpg_mcast_joined (tx_mcast). asterisk_bench.py runs 60
device changes, then 60 MWI updates to new mailboxes, then 60 to existing ones: with 3n paths of
a side, the thirds are labelled so. Prints, per side and series, the median and 10th percentile
of each step between consecutive stamps and of the spans named in SPANS, in microseconds.

    trace_stages.py TRACE.json [TRACE.json ...] [--json OUT]
"""
import argparse
import json
import statistics
import sys

SERIES = ("device", "mwi_new", "mwi_existing")
# (name, first stage, last stage): the spans compared with res_corosync's path.
SPANS = (("deliver_to_publish", "rx_deliver", "rx_publish"),
         ("cpg_dispatch_to_publish", "rx_cpg_dispatch", "rx_publish"),
         ("poll_to_publish", "rx_poll", "rx_publish"),
         ("stasis_to_mcast", "tx_stasis", "tx_mcast"),
         ("locked_to_mcast", "tx_locked", "tx_mcast"))


def parse(text):
    """Per thread, its stamps (ns, stage) in ring order. Lines that are not stamps are skipped."""
    threads = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        threads.setdefault(parts[1], []).append((int(parts[0]), parts[2]))
    return threads


def paths(threads, first, last, needed, lead=()):
    """Stamp lists from `first` to `last` on one thread that hold `needed`, each with the stamps
    of `lead` stages right before it; in time order."""
    out = []
    for stamps in threads.values():
        i = 0
        while i < len(stamps):
            if stamps[i][1] != first:
                i += 1
                continue
            j = i + 1
            while j < len(stamps) and stamps[j][1] not in (first, last):
                j += 1
            end = j + 1 if j < len(stamps) and stamps[j][1] == last else j
            path = stamps[i:end]
            k = i
            while k > 0 and stamps[k - 1][1] in lead and stamps[k - 1][1] not in [s for _, s in path]:
                k -= 1
                path.insert(0, stamps[k])
            if any(s == needed for _, s in path):
                out.append(path)
            i = j
    return sorted(out, key=lambda p: p[0][0])


def label(found):
    n = len(found)
    if n % 3:
        return {"all": found}
    return {name: found[k * n // 3:(k + 1) * n // 3] for k, name in enumerate(SERIES)}


def quantiles(values):
    values = sorted(values)
    return {"n": len(values), "median_us": round(statistics.median(values) / 1000, 2),
            "p10_us": round(values[len(values) // 10] / 1000, 2)}


def summarise(group):
    steps, spans = {}, {}
    for path in group:
        for (t0, s0), (t1, s1) in zip(path, path[1:]):
            steps.setdefault(f"{s0} -> {s1}", []).append(t1 - t0)
        at = {}
        for t, s in path:
            at.setdefault(s, t)
        for name, a, b in SPANS:
            if a in at and b in at:
                spans.setdefault(name, []).append(at[b] - at[a])
    return {"steps": {k: quantiles(v) for k, v in steps.items()}, "spans": {k: quantiles(v) for k, v in spans.items()}}


def analyse(traces):
    rx, tx = [], []
    for trace in traces:
        for text in trace.values():
            threads = parse(text)
            rx += label(paths(threads, "rx_cpg_dispatch", "rx_cpg_returned", "rx_publish", ("rx_poll", "rx_locked"))).items()
            tx += label(paths(threads, "tx_stasis", "tx_done", "tx_mcast")).items()
    out = {}
    for side, groups in (("receiver", rx), ("origin", tx)):
        merged = {}
        for name, group in groups:
            merged.setdefault(name, []).extend(group)
        out[side] = {name: summarise(group) for name, group in merged.items() if group}
    return out


def show(result):
    for side, series in result.items():
        for name, s in series.items():
            print(f"\n{side}, {name}: median / p10 us (n)")
            for k, q in list(s["steps"].items()) + list(s["spans"].items()):
                print(f"  {k:42s} {q['median_us']:8.2f} / {q['p10_us']:8.2f} ({q['n']})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("traces", nargs="+")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    traces = []
    for path in args.traces:
        with open(path) as f:
            traces.append(json.load(f))
    result = analyse(traces)
    show(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
