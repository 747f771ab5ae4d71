#!/usr/bin/python3
"""Re-derives the regression gate's tolerances from the seeds' spread (reports/README.md,
"Tolerances follow the seeds' spread").

    tolerances.py BASELINE... --seeds FIRST-LAST [--pbxstate PATH] [--work DIR] [--reuse] [--write]

For each baseline file it runs the file's scenario once per seed of --seeds (one run at a time,
`pbxstate baseline update` into a one-seed baseline under WORK/<scenario>/seed-<N>/, so every
metric is exactly what the gate measures), then for every metric of the file:

  whole median   the gate's median (MedianOverSeeds) over all the seeds' values
  subsets        SUBSET_COUNT random subsets of K distinct seeds (K the baseline's seed count;
                 one draw per file from random.Random(RNG_SEED)) and the gate's median of each
  spread         the larger distance of the subsets' 1st and 99th percentile (linear
                 interpolation between ranks) from the whole median, relative to it
  tolerance      1.5 x spread rounded up to a multiple of 5 % (at least 5 %), or 2 % when no
                 subset's median differs from the whole median; at most 100 %; 0 for lost,
                 stale and looped; 10 % when a seed's sample is `interrupted` or `never`.
                 A spread relative to a whole median of 0 is infinite (so 100 %) when a subset
                 moves it.

It prints one line per metric (the table for the commit that sets them) and, with --write, sets
every metric's tolerance in the baseline file; values, floors, notes and layout are kept.
--reuse reads the one-seed baselines already in WORK instead of running (they must come from the
same build). Exit 0; 2 on bad input (FILE:LINE: FIELD: message) or a run that fails.

What the C++ defines is read from it, not written again here: the most seeds a baseline holds and
the duration units come from `pbxstate describe-metrics` (the same --pbxstate, also with
--reuse), and a metric is a duration when the gate wrote its value with a unit.
"""
import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile

import yaml

SUBSET_COUNT = 2000
RNG_SEED = 15
SPREAD_FACTOR = 1.5
STEP_PERCENT = 5
UNMOVED_PERCENT = 2
MAX_PERCENT = 100
UNSETTLED_PERCENT = 10  # a seed's sample is `interrupted` or `never`
PERCENTILES = (1, 99)
# A spread of exactly 10 % is 15 %, not 20 %: 1.5 x 10 in floating point can land a hair above 3 steps.
ROUNDING_SLACK = 1e-9
RUN_TIMEOUT_S = 3600  # one scenario run; the longest gated one takes well under a minute
DESCRIBE_TIMEOUT_S = 60  # `pbxstate describe-metrics` prints a constant table
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTERRUPTED = float("nan")
NEVER = float("inf")
METRIC_LINE = re.compile(r"^  (?P<name>[A-Za-z0-9_.]+): \{value: (?P<value>[^,}]+), "
                         r"tolerance: (?P<tolerance>[0-9.]+)%(?P<rest>.*)$")


class BadInput(Exception):
    """A message naming the file, line and field."""


class GateContract:
    """What the C++ defines and this script needs, as `pbxstate describe-metrics` prints it:
    max_seeds (gate::kMaxBaselineSeeds) and units_ns ({unit: nanoseconds}, scenario::DurationUnits)."""

    def __init__(self, described):
        self.max_seeds = described["baseline"]["max_seeds"]
        self.units_ns = {u["name"]: u["ns"] for u in described["duration_units"]}


def load_contract(pbxstate):
    """The GateContract of the pbxstate at `pbxstate`; BadInput when it cannot say."""
    cmd = [pbxstate, "describe-metrics"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=DESCRIBE_TIMEOUT_S)
        if done.returncode != 0:
            raise BadInput(f"`{' '.join(cmd)}` exited {done.returncode}: {done.stderr.strip()}")
        return GateContract(json.loads(done.stdout))
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError) as e:
        raise BadInput(f"--pbxstate: `{' '.join(cmd)}` did not describe the gate ({e}); build pbxstate "
                       f"(with ns-3) or name it with --pbxstate") from None


def parse_value(text, where, units_ns):
    """A gate value as written in a baseline file: (value, whether it is a duration). A number as
    it is; a duration (the gate writes one with a unit from `units_ns`, or never, or interrupted)
    in ns, NEVER or INTERRUPTED."""
    text = str(text)
    if text == "never":
        return NEVER, True
    if text == "interrupted":
        return INTERRUPTED, True
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([a-z]*)", text)
    if not m or (m.group(2) and m.group(2) not in units_ns):
        raise BadInput(f"{where}: expected a number, a duration ({', '.join(units_ns)}), never or interrupted, "
                       f"found \"{text}\"")
    return float(m.group(1)) * (units_ns[m.group(2)] if m.group(2) else 1.0), bool(m.group(2))


def order_key(v):
    """The gate's order: a time < interrupted < never."""
    if math.isnan(v):
        return (1, 0.0)
    return (2, 0.0) if math.isinf(v) else (0, v)


def gate_median(values):
    """MedianOverSeeds: the middle value in the gate's order; with an even count the lower one."""
    ordered = sorted(values, key=order_key)
    return ordered[(len(ordered) - 1) // 2]


def percentile(ordered, p):
    """The p-th percentile of finite sorted values, linear between ranks (numpy's default)."""
    pos = p / 100 * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def draw_subsets(n, k, count=SUBSET_COUNT, rng_seed=RNG_SEED):
    """`count` random subsets of k distinct indices out of range(n), the same for every metric."""
    rng = random.Random(rng_seed)
    return [rng.sample(range(n), k) for _ in range(count)]


def relative(distance, whole):
    if distance == 0:
        return 0.0
    return math.inf if whole == 0 else distance / whole


def derive(name, values, subsets):
    """(tolerance in percent, spread as a fraction or None, why) for one metric's per-seed values;
    why is "count", "unsettled" (interrupted or never on a seed), "unmoved" (no subset moves the
    median) or "spread"."""
    assert values and all(0 <= max(s) < len(values) for s in subsets)
    if name in ("lost", "stale") or name.endswith(".looped"):
        return 0, None, "count"
    if any(math.isnan(v) or math.isinf(v) for v in values):
        return UNSETTLED_PERCENT, None, "unsettled"
    whole = gate_median(values)
    medians = sorted(gate_median([values[i] for i in s]) for s in subsets)
    if all(m == whole for m in medians):
        return UNMOVED_PERCENT, 0.0, "unmoved"
    spread = max(relative(abs(percentile(medians, p) - whole), whole) for p in PERCENTILES)
    steps = math.ceil(SPREAD_FACTOR * spread * 100 / STEP_PERCENT - ROUNDING_SLACK) if spread < math.inf else math.inf
    return min(max(steps, 1) * STEP_PERCENT, MAX_PERCENT), spread, "spread"


def parse_seeds(text, max_seeds):
    """'1-12' or '1,2,3' -> distinct seeds in order, at most `max_seeds` (the gate's bound)."""
    try:
        if re.fullmatch(r"[0-9]+-[0-9]+", text):
            first, last = (int(x) for x in text.split("-"))
            seeds = list(range(first, last + 1))
        else:
            seeds = [int(x) for x in text.split(",")]
    except ValueError:
        raise BadInput(f"--seeds: expected FIRST-LAST or a comma-separated list, found \"{text}\"") from None
    if not 1 <= len(seeds) <= max_seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise BadInput(f"--seeds: expected 1 to {max_seeds} distinct seeds, found \"{text}\"")
    return seeds


def read_baseline(path):
    """(scenario name, scenario file, seed count, lines, {metric: line index}) of a baseline file."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
        doc = yaml.load("".join(lines), Loader=yaml.BaseLoader)  # every scalar as written
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise BadInput(f"{path}: {e}") from None
    for field in ("scenario", "file", "metrics"):
        if not isinstance(doc, dict) or field not in doc:
            raise BadInput(f"{path}:1: {field}: missing")
    seeds = doc.get("seeds", [doc["seed"]] if "seed" in doc else None)
    if not isinstance(seeds, list) or not seeds:
        raise BadInput(f"{path}:1: seeds: missing or not a list of seeds")
    where = {}
    for i, line in enumerate(lines):
        if line.startswith("  ") and not line.startswith("   "):
            m = METRIC_LINE.match(line)
            if not m:
                raise BadInput(f"{path}:{i + 1}: metrics: expected \"  NAME: {{value: V, tolerance: T%...}}\"")
            where[m.group("name")] = i
    if sorted(where) != sorted(doc["metrics"] or {}):
        raise BadInput(f"{path}: metrics: not one metric per line as `baseline update` writes them")
    return doc["scenario"], doc["file"], len(seeds), lines, where


def seed_baseline_path(work, scenario, seed):
    return os.path.join(work, scenario, f"seed-{seed}", f"{scenario}.yaml")


def run_seed(pbxstate, scenario_file, work, scenario, seed):
    """One run of the scenario with `seed`, written by the gate's own tool as a one-seed baseline."""
    out = os.path.dirname(seed_baseline_path(work, scenario, seed))
    cmd = [pbxstate, "baseline", "update", os.path.join(REPO, scenario_file), "--baseline", out, "--seeds", str(seed)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BadInput(f"{scenario} seed {seed}: {e}") from None
    if done.returncode != 0:
        raise BadInput(f"{scenario} seed {seed}: `{' '.join(cmd)}` exited {done.returncode}: {done.stderr.strip()}")


def read_seed_metrics(path, units_ns):
    """{metric: (value, whether it is a duration)} of a one-seed baseline file."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.load(f, Loader=yaml.BaseLoader)  # every scalar as written
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise BadInput(f"{path}: {e}") from None
    metrics = doc.get("metrics") if isinstance(doc, dict) else None
    if not isinstance(metrics, dict):
        raise BadInput(f"{path}:1: metrics: missing")
    bad = [name for name, m in metrics.items() if not isinstance(m, dict) or "value" not in m]
    if bad:
        raise BadInput(f"{path}: metrics.{bad[0]}: expected {{value: ...}}")
    return {name: parse_value(m["value"], f"{path}: {name}.value", units_ns) for name, m in metrics.items()}


def per_seed_values(path, names, seed_metrics, seeds):
    """({metric: [value per seed]}, the metrics that are durations) for the baseline's metrics; each
    must be measured on every seed."""
    values, durations = {}, set()
    for name in names:
        missing = [s for s, m in zip(seeds, seed_metrics) if name not in m]
        if missing:
            raise BadInput(f"{path}: {name}: not measured on seed(s) {', '.join(map(str, missing))}")
        values[name] = [m[name][0] for m in seed_metrics]
        if any(m[name][1] for m in seed_metrics):
            durations.add(name)
    return values, durations


def show(v, duration):
    """A value for people: durations in ms or s."""
    if math.isnan(v):
        return "interrupted"
    if math.isinf(v):
        return "never"
    if not duration:
        return f"{v:.4g}"
    return f"{v / 1e9:.4g}s" if v >= 1e9 else f"{v / 1e6:.4g}ms"


def table_line(scenario, name, values, duration, k, old, derived):
    """One metric's line: per-seed range, whole median, spread (or why there is none), old -> new."""
    new, spread, why = derived
    lo, hi = min(values, key=order_key), max(values, key=order_key)
    if why != "spread":
        sp = f"({why})"
    else:
        sp = "inf" if math.isinf(spread) else f"{spread * 100:.3g}%"
    return (f"{scenario:24} {name:34} N={len(values):2} K={k:2} per-seed {show(lo, duration)}..{show(hi, duration)} "
            f"median {show(gate_median(values), duration)} spread {sp} tolerance {old:g}% -> {new}%")


def set_tolerances(path, lines, where, tolerances):
    """Writes the file with each metric's tolerance replaced and every other byte kept."""
    for name, i in where.items():
        m = METRIC_LINE.match(lines[i])
        lines[i] = (lines[i][:m.start("tolerance")] + str(tolerances[name]) + lines[i][m.end("tolerance"):])
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(lines))
    os.replace(tmp, path)


def rederive(path, args, seeds):
    scenario, scenario_file, k, lines, where = read_baseline(path)
    if k > len(seeds):
        raise BadInput(f"{path}: seeds: {k} seeds, more than the {len(seeds)} of --seeds")
    if not args.reuse:
        for seed in seeds:
            run_seed(args.pbxstate, scenario_file, args.work, scenario, seed)
    units_ns = args.contract.units_ns
    seed_metrics = [read_seed_metrics(seed_baseline_path(args.work, scenario, s), units_ns) for s in seeds]
    values, durations = per_seed_values(path, where, seed_metrics, seeds)
    subsets = draw_subsets(len(seeds), k)
    tolerances = {}
    for name in where:
        derived = derive(name, values[name], subsets)
        tolerances[name] = derived[0]
        old = float(METRIC_LINE.match(lines[where[name]]).group("tolerance"))
        print(table_line(scenario, name, values[name], name in durations, k, old, derived))
    if args.write:
        set_tolerances(path, lines, where, tolerances)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("baselines", nargs="+", metavar="BASELINE")
    p.add_argument("--seeds", required=True, help="the seeds the spread is measured over: 1-12 or 1,2,3")
    p.add_argument("--pbxstate", default=os.path.join(REPO, "build", "sim", "cli", "pbxstate"))
    p.add_argument("--work", help="folder for the one-seed baselines (default: a new temporary folder)")
    p.add_argument("--reuse", action="store_true", help="read the one-seed baselines in --work, run nothing")
    p.add_argument("--write", action="store_true", help="set the tolerances in the baseline files")
    args = p.parse_args(argv[1:])
    try:
        if args.reuse and not args.work:
            raise BadInput("--reuse: needs --work")
        args.contract = load_contract(args.pbxstate)
        seeds = parse_seeds(args.seeds, args.contract.max_seeds)
        args.work = args.work or tempfile.mkdtemp(prefix="pbxstate-tolerances-")
        for path in args.baselines:
            rederive(path, args, seeds)
    except BadInput as e:
        print(f"tolerances.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
