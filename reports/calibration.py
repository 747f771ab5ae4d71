#!/usr/bin/python3
"""Calibration of a simulated run against repeated real runs of the same scenario: per metric,
the simulated value, the real median and spread (min to max), the ratio sim / real median, and
whether the simulation is within the target (README.md, "Calibration").

    /usr/bin/python3 reports/calibration.py SIM_RUN REAL_RUN... [--check] [--json FILE]
        [--convergence-share S] [--convergence-floor-ms F] [--latency-factor K]

Targets (defaults from issue 15): convergence after each fault within max(S x real median,
F ms) of the real median (S 0.25, F 300); delivery latency p50 within a factor K (2) of the real
median. Other rows are shown without a target. Prints the table; with --check, exits 1 when a row
with a target misses it (the calibration test, tests/sim/ns3/calibration_test.py, uses these). --json
writes the rows. Real runs that are not measurements are left out and named, with why (LEFT_OUT:
the emulator's lag, the driver's lateness, the daemons' wait for a CPU, each over its bound).
"""

import json
import statistics
import sys

from runrecord import NS_PER_MS, ReportError, fmt_ns, fmt_value, load_run

DEFAULT_CONVERGENCE_SHARE = 0.25
DEFAULT_CONVERGENCE_FLOOR_MS = 300.0
DEFAULT_LATENCY_FACTOR = 2.0

# Shown for every calibration, with a target or without.
LATENCY_TARGET = "delivery_latency.p50"
INFORMATIONAL = ("delivery_latency.p95", "delivery_latency.p99", "stable_latency.p50", "messages_per_change")


class Targets:
    def __init__(self, convergence_share=DEFAULT_CONVERGENCE_SHARE, convergence_floor_ms=DEFAULT_CONVERGENCE_FLOOR_MS,
                 latency_factor=DEFAULT_LATENCY_FACTOR):
        self.convergence_share = convergence_share
        self.convergence_floor_ns = convergence_floor_ms * NS_PER_MS
        self.latency_factor = latency_factor

    def convergence(self, sim, real):
        band = max(self.convergence_share * real, self.convergence_floor_ns)
        text = f"±{fmt_ns(band)}"
        return text, abs(sim - real) <= band

    def describe(self):
        """The targets in words, for a page."""
        return (f"convergence after each fault within ±{self.convergence_share * 100:g} % or "
                f"±{fmt_ns(self.convergence_floor_ns)} (the larger) of the real median; delivery latency p50 "
                f"within a factor {self.latency_factor:g}")

    def latency(self, sim, real):
        k = self.latency_factor
        text = f"×{k:g}"
        return text, real / k <= sim <= real * k


def fault_convergence(run):
    """One (label, took_ns or None, interrupted) per fault that has a convergence measurement, in
    fault order. None: never converged, or interrupted by the next fault (runrecord.py
    convergence_text), which measures nothing and is left out of the figures."""
    out = []
    for c in run.get("convergence", []):
        out.append((f"convergence after {c['fault']} at {fmt_ns(c['fault_at_ns'])}",
                    c["took_ns"] if c["converged"] else None, bool(c.get("interrupted"))))
    return out


def row(metric, label, sim, reals, target):
    """One calibration row: sim value, real median/min/max over the runs that measured it."""
    reals = [v for v in reals if v is not None]
    r = {"metric": metric, "label": label, "sim": sim, "real_runs": len(reals), "real_median": None,
         "real_min": None, "real_max": None, "ratio": None, "target": None, "within": None}
    if not reals:
        return r
    median = statistics.median(reals)
    r.update(real_median=median, real_min=min(reals), real_max=max(reals))
    if sim is not None and median:
        r["ratio"] = sim / median
    if target is not None and sim is not None:
        r["target"], r["within"] = target(sim, median)
    elif target is not None:
        r["target"], r["within"] = "sim never", False  # the real runs converged, the model did not
    return r


# Why a real run is not a measurement, with the run.json field that says it (true: a measurement;
# absent: a record from before the field, kept). The first two make the run invalid (exit 2); the
# daemons' wait does not (sim/ns3/README.md, "Calibration against real corosync": CI runs live
# tests on a loaded machine), but its timings are the host's all the same.
LEFT_OUT = (("realtime", "valid", "over its real-time lag bound"),
            ("driver", "valid", "its driver over its lateness bound"),
            ("daemon_wait", "within_bound", "its daemons waited for a CPU longer than their bound"))


def why_left_out(run):
    """The reasons (LEFT_OUT's words) `run` is not a measurement; empty when it is one."""
    return [why for record, field, why in LEFT_OUT if not (run.get(record) or {}).get(field, True)]


def measured(runs):
    """The runs that are measurements: an emulated run whose real-time lag exceeded its bound, a
    run whose driver issued changes later than its bound, or whose daemons waited for a CPU longer
    than theirs (the bound is the C++'s, kMaxDaemonWait, written into each run.json and exported by
    `pbxstate describe-metrics`) is recorded but is not one (sim/ns3/README.md, "Emulation")."""
    return [r for r in runs if not why_left_out(r)]


def calibrate(sim_run, real_runs, targets=None):
    """Rows comparing `sim_run` with the measurements among `real_runs` (run.json dicts of the
    same scenario; invalid emulated runs are left out)."""
    targets = targets or Targets()
    real_runs = measured(real_runs)
    rows = []
    sim_faults = fault_convergence(sim_run)
    real_faults = [fault_convergence(r) for r in real_runs]
    for i, (label, sim, sim_interrupted) in enumerate(sim_faults):
        reals = [f[i][1] if i < len(f) else None for f in real_faults]
        if sim_interrupted:  # nothing to judge: the simulation's sample was cut short
            rows.append(row(f"convergence.{i + 1}", label + " (interrupted in the simulation)", None, reals, None))
        else:
            rows.append(row(f"convergence.{i + 1}", label, sim, reals, targets.convergence))
    for metric in (LATENCY_TARGET,) + INFORMATIONAL:
        sim = sim_run["metrics"].get(metric)
        reals = [r["metrics"].get(metric) for r in real_runs]
        if sim is None and not any(v is not None for v in reals):
            continue
        rows.append(row(metric, metric, sim, reals, targets.latency if metric == LATENCY_TARGET else None))
    return rows


def shown(metric, value):
    if value is None:
        return "-"
    return fmt_value(metric, value)


def cells(r):
    """The row's cells as text: what, sim, real median, spread, ratio, target, verdict."""
    m = r["metric"]
    spread = "-" if r["real_min"] is None else f"{shown(m, r['real_min'])} .. {shown(m, r['real_max'])}"
    ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
    verdict = "" if r["within"] is None else ("within" if r["within"] else "OUTSIDE")
    return [r["label"], shown(m, r["sim"]), shown(m, r["real_median"]), spread, f"{r['real_runs']}", ratio,
            r["target"] or "-", verdict]


HEADER = ["metric", "simulated", "real median", "real min .. max", "real runs", "sim / real", "target", ""]


def text_table(rows):
    table = [HEADER] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in table)


def left_out_text(reals, dirs):
    """" (N left out, not measurements: DIR: why; ...)" for the runs left out, "" when none is."""
    out = [f"{d}: {', '.join(why_left_out(r))}" for r, d in zip(reals, dirs) if why_left_out(r)]
    return f" ({len(out)} left out, not measurements: {'; '.join(out)})" if out else ""


def load_all(paths):
    return [load_run(p) for p in paths]


def parse(args):
    opts = {"check": False, "json": None, "share": DEFAULT_CONVERGENCE_SHARE, "floor": DEFAULT_CONVERGENCE_FLOOR_MS,
            "factor": DEFAULT_LATENCY_FACTOR}
    rest = []
    valued = {"--json": ("json", str), "--convergence-share": ("share", float),
              "--convergence-floor-ms": ("floor", float), "--latency-factor": ("factor", float)}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--check":
            opts["check"] = True
        elif a in valued:
            if i + 1 >= len(args):
                raise ValueError(f"{a} needs a value")
            key, conv = valued[a]
            opts[key] = conv(args[i + 1])
            i += 1
        else:
            rest.append(a)
        i += 1
    if len(rest) < 2:
        raise ValueError("expected a simulated run and at least one real run")
    return opts, rest


def main(argv):
    try:
        opts, dirs = parse(argv[1:])
    except ValueError as err:
        print(f"calibration: {err}\n\n{__doc__.strip()}", file=sys.stderr)
        return 2
    try:
        sim, reals = load_run(dirs[0]), load_all(dirs[1:])
    except ReportError as err:
        print(f"calibration: {err}", file=sys.stderr)
        return 2
    names = {sim["scenario"]["name"]} | {r["scenario"]["name"] for r in reals}
    if len(names) != 1:
        print(f"calibration: the runs are of different scenarios: {', '.join(sorted(names))}", file=sys.stderr)
        return 2
    rows = calibrate(sim, reals, Targets(opts["share"], opts["floor"], opts["factor"]))
    print(f"{sim['scenario']['name']}: {sim['backend']} against {len(measured(reals))} {reals[0]['backend']} run(s)" +
          left_out_text(reals, dirs[1:]))
    print(text_table(rows))
    if opts["json"]:
        with open(opts["json"], "w", encoding="utf-8") as f:
            json.dump({"scenario": sim["scenario"]["name"], "rows": rows}, f, indent=1)
    missed = [r for r in rows if r["within"] is False]
    if opts["check"] and missed:
        print(f"calibration: {len(missed)} row(s) outside the target", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
