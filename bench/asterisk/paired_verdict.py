#!/usr/bin/python3
"""Decides, per latency measure, whether one module is no worse than another, from a series of
alternated rounds of asterisk_bench.py (one invocation per module and round, --bursts none).

Rounds are the unit: two invocations of one round ran minutes apart under about the same load of
the shared host, invocations of different rounds did not (their medians moved by 0.1 to 0.3 ms
between rounds, ten times the difference looked for). So each round gives one ratio, ours'
median over theirs' median, and the comparison is made on those ratios alone:

  - the median of the round ratios;
  - a 95 % interval for it: percentile bootstrap over rounds (RESAMPLES resamples of the rounds
    with replacement, the median of each; a fixed seed, so the same inputs give the same interval);
  - the rounds at or under 1 and the exact two-sided sign test's p against a ratio of 1, for the
    reader (over 8 to 16 rounds the sign test alone can rarely decide at 95 %);
  - the verdict: "no worse" when the interval's upper end is at most 1 + margin, "worse" when its
    lower end is above 1 + margin, else "cannot tell"; always "cannot tell" under MIN_ROUNDS
    rounds (the bootstrap of a median over fewer has too few distinct resamples to mean
    anything). The margin is 0 unless given: "no worse" then means that a ratio above 1 is
    outside the interval.

Inputs: invocation JSONs as MODULE:ROUND:PATH (asterisk_bench.py's --json, one mode each), or
--runs FILE, the output of an earlier call (or any JSON with the same "runs"). Writes --json: the
runs (per module, per round, each measure's min/median/p99 and the load averages) and the verdicts.

    paired_verdict.py --ours mwi16 --theirs corosync [--json OUT] [--what TEXT] MODULE:ROUND:PATH...
    paired_verdict.py --ours lat16 --theirs corosync --runs results.json
"""
import argparse
import json
import math
import random
import statistics
import sys

# (name in the tables, key in the runs, key in asterisk_bench.py's report of a mode)
MEASURES = (("single change", "latency_ms", "latency_ms"),
            ("MWI new mailboxes", "mwi_new_ms", "mwi_latency_ms"),
            ("MWI existing mailboxes", "mwi_existing_ms", "mwi_existing_latency_ms"))
SEED = 16
RESAMPLES = 10000
LEVEL = 0.95
MIN_ROUNDS = 6


class InputError(Exception):
    """A file or field that cannot be read: the message names it."""


def run_from_invocation(path):
    """One invocation's figures, in the runs' form: the only mode of asterisk_bench.py's report."""
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: {e}") from e
    modes = report.get("modes") or {}
    if len(modes) != 1:
        raise InputError(f"{path}: field modes: {len(modes)} modes, one expected (one mode per invocation)")
    (mode, r), = modes.items()
    run = {"mode": mode, "loadavg_at_start": report.get("loadavg", [None])[0],
           "loadavg_at_latency": (r.get("loadavg_at_latency") or [None])[0]}
    for name, key, report_key in MEASURES:
        quantiles = r.get(report_key)
        if not isinstance(quantiles, dict) or not isinstance(quantiles.get("median"), (int, float)):
            raise InputError(f"{path}: field modes.{mode}.{report_key}.median: missing or not a number ({name})")
        run[key] = quantiles
    return run


def collect(labelled):
    """MODULE:ROUND:PATH strings -> runs {module: [run with "round", ...]}, rounds ascending."""
    runs = {}
    for item in labelled:
        parts = item.split(":", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            raise InputError(f"argument {item!r}: MODULE:ROUND:PATH expected")
        run = run_from_invocation(parts[2])
        run["round"] = int(parts[1])
        runs.setdefault(parts[0], []).append(run)
    for module, rs in runs.items():
        rounds = [r["round"] for r in rs]
        if len(set(rounds)) != len(rounds):
            raise InputError(f"module {module}: round given twice ({sorted(rounds)})")
        rs.sort(key=lambda r: r["round"])
    return runs


def round_ratios(runs, ours, theirs, key):
    """{round: ours' median / theirs' median} over the rounds both modules completed."""
    for module in (ours, theirs):
        if module not in runs:
            raise InputError(f"runs: no module {module!r} (have {sorted(runs)})")
    theirs_by_round = {r["round"]: r[key]["median"] for r in runs[theirs]}
    return {r["round"]: r[key]["median"] / theirs_by_round[r["round"]]
            for r in runs[ours] if r["round"] in theirs_by_round}


def bootstrap_interval(values, seed=SEED, resamples=RESAMPLES, level=LEVEL):
    """Percentile bootstrap interval of the median of `values`: (low, high)."""
    rng = random.Random(seed)
    n = len(values)
    medians = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(resamples))
    tail = (1.0 - level) / 2.0
    return medians[int(tail * resamples)], medians[min(resamples - 1, int((1.0 - tail) * resamples))]


def sign_test_p(values):
    """Exact two-sided sign test of a median ratio of 1 (ratios equal to 1 left out)."""
    above = sum(v > 1.0 for v in values)
    n = above + sum(v < 1.0 for v in values)
    if n == 0:
        return 1.0
    k = min(above, n - above)
    return min(1.0, 2.0 * sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n)


def verdict(low, high, margin, rounds=MIN_ROUNDS):
    """'no worse', 'worse' or 'cannot tell' for an interval of ours/theirs over `rounds` rounds."""
    if rounds < MIN_ROUNDS:
        return "cannot tell"
    if high <= 1.0 + margin:
        return "no worse"
    if low > 1.0 + margin:
        return "worse"
    return "cannot tell"


def analyse(runs, ours, theirs, margin=0.0, seed=SEED, resamples=RESAMPLES):
    """Per measure: the round ratios, their median, the interval, the rounds at or under, the verdict."""
    out = {}
    for name, key, _ in MEASURES:
        ratios = round_ratios(runs, ours, theirs, key)
        if len(ratios) < 2:
            raise InputError(f"{name}: {len(ratios)} round(s) with both {ours} and {theirs}: at least 2 needed")
        values = [ratios[k] for k in sorted(ratios)]
        low, high = bootstrap_interval(values, seed, resamples)
        out[key] = {"measure": name, "rounds": len(values), "round_ratios": {str(k): round(ratios[k], 4) for k in sorted(ratios)},
                    "median_ratio": round(statistics.median(values), 4), "interval_95": [round(low, 4), round(high, 4)],
                    "at_or_under": sum(v <= 1.0 for v in values), "sign_test_p": round(sign_test_p(values), 4),
                    "verdict": verdict(low, high, margin, len(values))}
    return out


def table(result, ours, theirs):
    lines = [f"| measure ({ours} / {theirs}, per round the ratio of medians) | rounds | median ratio | "
             "95 % interval (bootstrap over rounds) | rounds at or under 1 | sign test p | verdict |", "|---|---|---|---|---|---|---|"]
    for v in result.values():
        lines.append(f"| {v['measure']} | {v['rounds']} | {v['median_ratio']:.3f} | "
                     f"{v['interval_95'][0]:.3f} to {v['interval_95'][1]:.3f} | {v['at_or_under']} of {v['rounds']} | "
                     f"{v['sign_test_p']:.3f} | **{v['verdict']}** |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ours", required=True)
    ap.add_argument("--theirs", default="corosync")
    ap.add_argument("--runs", default="", help="a JSON with 'runs' (an earlier --json) instead of invocations")
    ap.add_argument("--margin", type=float, default=0.0)
    ap.add_argument("--json", default="")
    ap.add_argument("--what", default="", help="a sentence saying what the series is, kept in the JSON")
    ap.add_argument("invocations", nargs="*", help="MODULE:ROUND:PATH")
    args = ap.parse_args(argv)
    try:
        if args.runs:
            with open(args.runs) as f:
                runs = json.load(f).get("runs") or {}
        else:
            runs = collect(args.invocations)
        result = analyse(runs, args.ours, args.theirs, args.margin)
    except (OSError, ValueError, InputError) as e:
        print(f"paired_verdict: {e}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, AttributeError) as e:
        print(f"paired_verdict: {args.runs}: field runs: a run without a round or a measure's median ({e!r})",
              file=sys.stderr)
        return 2
    print(table(result, args.ours, args.theirs))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"what": args.what, "ours": args.ours, "theirs": args.theirs, "margin": args.margin,
                       "seed": SEED, "resamples": RESAMPLES, "runs": runs, "verdicts": result}, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
