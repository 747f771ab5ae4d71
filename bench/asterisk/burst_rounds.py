#!/usr/bin/python3
"""The burst figures of alternated rounds of asterisk_bench.py, as medians with their spread.

One burst invocation moves by 10 % and more with the load of a shared host, so a ratio of two
modules is taken within a round (their invocations ran minutes apart, interleaved with the other
rounds'), and the rounds' ratios are summarised by their median, minimum and maximum. It reports
and judges nothing.

Inputs: LABEL:ROUND:PATH, PATH an asterisk_bench.py --json (any modes; LABEL names the module or
the build that ran, e.g. b1 for one build of res_pbxstate and main for another; the mode inside is
taken by --mode-of). Per round and label: changes/s, CPU us per change (total, server 1, server 2,
the corosyncs). Then per round the ratios asked for with --ratio A/B (changes/s of A over B's and
CPU per change of A over B's), and over the rounds their median (min-max).

    burst_rounds.py --burst new_100k --ratio pbxstate/corosync --ratio pbxstate/floor \\
        pbxstate:1:r1.json corosync:1:r1.json floor:1:r1.json pbxstate:2:r2.json ...
"""
import argparse
import json
import statistics
import sys

MAX_INPUTS = 200


def figures(report, mode, burst):
    """changes/s and CPU per change of one mode's burst in one asterisk_bench.py report."""
    b = report["modes"][mode][burst]
    cpu = b["cpu_us_per_change"]
    return {"changes_per_s": b["changes_per_s"], "cpu_us": b["cpu_us_per_change_total"],
            "server1_us": cpu["asterisk1"], "server2_us": cpu["asterisk2"],
            "corosyncs_us": round(cpu["corosync1"] + cpu["corosync2"], 2),
            "loadavg": [round(x, 1) for x in report.get("loadavg", [])]}


def spread(values):
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "rounds": len(values)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--burst", default="new_100k")
    ap.add_argument("--ratio", action="append", default=[], help="LABEL/LABEL")
    ap.add_argument("--mode-of", action="append", default=[],
                    help="LABEL=MODE when the label is not the mode's name (e.g. b1=pbxstate)")
    ap.add_argument("--json", default="")
    ap.add_argument("inputs", nargs="+")
    args = ap.parse_args()
    if len(args.inputs) > MAX_INPUTS:
        print(f"at most {MAX_INPUTS} inputs", file=sys.stderr)
        return 2
    mode_of = dict(m.split("=", 1) for m in args.mode_of)
    rounds = {}
    for spec in args.inputs:
        try:
            label, rnd, path = spec.split(":", 2)
            with open(path) as f:
                report = json.load(f)
            rounds.setdefault(rnd, {})[label] = figures(report, mode_of.get(label, label), args.burst)
        except (ValueError, OSError, KeyError) as e:
            print(f"{spec}: {e.__class__.__name__}: {e}", file=sys.stderr)
            return 2
    out = {"burst": args.burst, "rounds": rounds, "ratios": {}}
    for ratio in args.ratio:
        a, b = ratio.split("/")
        both = [r for r in rounds.values() if a in r and b in r]
        if not both:
            continue
        out["ratios"][ratio] = {
            "changes_per_s": spread([r[a]["changes_per_s"] / r[b]["changes_per_s"] for r in both]),
            "cpu_us": spread([r[a]["cpu_us"] / r[b]["cpu_us"] for r in both])}
    for rnd, r in sorted(rounds.items()):
        for label, f in sorted(r.items()):
            print(f"round {rnd} {label:>10}: {f['changes_per_s']:>6,}/s  {f['cpu_us']:>8.1f} us "
                  f"({f['server1_us']} / {f['server2_us']} / {f['corosyncs_us']})  load {f['loadavg']}")
    for ratio, v in out["ratios"].items():
        c, u = v["changes_per_s"], v["cpu_us"]
        print(f"{ratio}: changes/s {c['median']} ({c['min']}-{c['max']}), CPU per change {u['median']} "
              f"({u['min']}-{u['max']}), {c['rounds']} rounds")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
