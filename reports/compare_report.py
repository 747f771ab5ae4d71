#!/usr/bin/python3
"""Writes a page with two runs side by side: the same scenario before and after a change, or the
same scenario on two backends. Every metric with its difference, the checks of both, convergence
after each fault, and the latency distributions and traffic of both on the same axes.

    /usr/bin/python3 reports/compare_report.py RUN_A RUN_B [RUN_B ...] [--out FILE]

The default FILE is RUN_B/compare.html (the first RUN_B). A is the reference: differences are
B - A, with the first RUN_B. When A and B ran on different backends (a simulation and real runs),
the page opens with the calibration table (calibration.py) over every RUN_B given: the simulated
value, the real median and spread, the ratio and whether it is within the target.
"""

import html
import os
import re
import sys

from calibration import HEADER as CALIBRATION_HEADER
from calibration import Targets, calibrate, cells, measured
from runrecord import CHECK_LABEL, NS_PER_MS, NS_PER_S, check_seen, check_status, convergence_text, draw_cdf, \
    figure_png, finish_cdf, fmt_ns, fmt_value, is_duration_metric, latency_samples_ms, load_run, page, plot_figure, plt, \
    read_csv, run_script

# Which way is better for the figures the regression gate holds a run to, as the gate defines
# them (gate::GatedRunMetrics(), sim/gate/include/pbxstate/gate/gate_metrics.h; `pbxstate
# describe-metrics` exports each metric's "gate"): lower, but for the call completion ratios,
# which it gates as their complement. tests/reports/contract_test.py fails when these say
# otherwise than the export for any metric. The page colours their differences and those of every
# duration (lower is better); the others (counts of changes, engine counters) are shown without
# judgement.
GATED_LOWER = re.compile(r"lost|stale|messages_per_change|bytes_per_change|calls\.[a-z_]+\.(extra_hops\.mean|looped)")
GATED_HIGHER = re.compile(r"calls\.[a-z_]+\.completion_ratio")


def better(metric):
    """"lower", "higher" or None (not judged) for a metric of run.json."""
    if GATED_HIGHER.fullmatch(metric):
        return "higher"
    return "lower" if GATED_LOWER.fullmatch(metric) or is_duration_metric(metric) else None


def label(run, run_dir):
    return f"{run['scenario']['name']} ({run['backend']}, seed {run['seed']}, {os.path.basename(os.path.normpath(run_dir))})"


def diff_cells(metric, a, b):
    if a is None or b is None:
        return "<td>-</td><td>-</td>"
    d = b - a
    if is_duration_metric(metric):
        shown = ("+" if d >= 0 else "-") + fmt_ns(abs(d))
    else:
        shown = f"{d:+.4g}"
    pct = f"{d / a * 100:+.1f}%" if a else ("+0%" if d == 0 else "from 0")
    cls, way = "", better(metric)
    if way and d != 0:
        cls = " class='worse'" if (d > 0) == (way == "lower") else " class='better'"
    return f"<td{cls}>{html.escape(shown)}</td><td{cls}>{pct}</td>"


def metrics_table(ra, rb, engine):
    keys = sorted(set(ra["metrics"]) | set(rb["metrics"]))
    rows = ""
    for k in keys:
        if k.startswith("engine.") != engine:
            continue
        a, b = ra["metrics"].get(k), rb["metrics"].get(k)
        rows += (f"<tr><td>{html.escape(k)}</td><td>{html.escape(fmt_value(k, a)) if a is not None else '-'}</td>"
                 f"<td>{html.escape(fmt_value(k, b)) if b is not None else '-'}</td>{diff_cells(k, a, b)}</tr>")
    return rows


def checks_table(ra, rb):
    by_text = {}
    for side, run in (("a", ra), ("b", rb)):
        for c in run["checks"]:
            by_text.setdefault(c["check"], {})[side] = c

    def cell(c):
        if c is None:
            return "<td>-</td>"
        status = check_status(c)
        return f"<td class='{status}'>{CHECK_LABEL[status]} ({html.escape(check_seen(c))})</td>"
    return "".join(f"<tr><td><code>{html.escape(t)}</code></td>{cell(s.get('a'))}{cell(s.get('b'))}</tr>"
                   for t, s in by_text.items())


def convergence_table(ra, rb):
    ca, cb = ra.get("convergence", []), rb.get("convergence", [])
    rows = ""
    for i in range(max(len(ca), len(cb))):
        a = ca[i] if i < len(ca) else None
        b = cb[i] if i < len(cb) else None
        ref = a or b
        took = [(c["took_ns"] if c["converged"] else None) if c else None for c in (a, b)]
        shown = [convergence_text(c) if c else "-" for c in (a, b)]
        diff = diff_cells("convergence.x", took[0], took[1])
        rows += (f"<tr><td>{html.escape(ref['fault'])} at {fmt_ns(ref['fault_at_ns'])}</td><td>{shown[0]}</td>"
                 f"<td>{shown[1]}</td>{diff}</tr>")
    return rows


def plot_cdfs(runs):
    fig, ax = plt.subplots(figsize=(10, 4.5))
    styles = ("-", "--")
    for (name, run_dir, run), style in zip(runs, styles):
        samples = latency_samples_ms(read_csv(run_dir, "latencies.csv"), read_csv(run_dir, "changes.csv"))
        for (kind, values), color in zip(samples, ("tab:blue", "tab:orange")):
            if values:
                draw_cdf(ax, values, f"{kind}: {name}", style, color=color)
    finish_cdf(ax, "latency distributions (A solid, B dashed)")
    ax.legend(loc="lower right", fontsize="small")
    return figure_png(fig)


def plot_convergence(runs):
    fig, ax = plt.subplots(figsize=(10, 4))
    faults = [c["fault"] + f" at {c['fault_at_ns'] / NS_PER_S:g} s"
              for c in max((r.get("convergence", []) for _, _, r in runs), key=len)]
    width = 0.38
    for k, ((name, _, run), color) in enumerate(zip(runs, ("tab:blue", "tab:orange"))):
        conv = run.get("convergence", [])
        xs = [i + (k - 0.5) * width for i in range(len(conv))]
        ys = [c["took_ns"] / NS_PER_MS if c["converged"] else 0 for c in conv]
        ax.bar(xs, ys, width, color=color, label=name)
        for x, c in zip(xs, conv):
            if not c["converged"]:
                ax.text(x, 0, "interrupted" if c.get("interrupted") else "never", rotation=90, ha="center",
                        va="bottom", color="tab:purple" if c.get("interrupted") else "tab:red")
    ax.set_xticks(range(len(faults)))
    ax.set_xticklabels(faults, rotation=15, ha="right", fontsize="small")
    ax.set_ylabel("time to agreement (ms)")
    ax.set_title("convergence after each fault")
    if not faults:
        ax.text(0.5, 0.5, "no faults in these runs", transform=ax.transAxes, ha="center")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3, axis="y")
    return figure_png(fig)


def plot_traffic(runs):
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for (name, _, run), style in zip(runs, ("-", "--")):
        series = run.get("series", [])
        ax.plot([p["t_ns"] / NS_PER_S for p in series], [p["frames"] for p in series], style, label=name)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frames per second")
    ax.set_title("traffic on the network, whole cluster")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    return figure_png(fig)


def calibration_section(ra, reals, dirs):
    """The calibration table of simulated run `ra` against the real runs, or "" when they are not
    a simulation and real runs of one scenario."""
    if not reals or any(r["backend"] == ra["backend"] for r in reals):
        return ""
    if any(r["scenario"]["name"] != ra["scenario"]["name"] for r in reals):
        return "<p class='fail'>Calibration needs runs of one scenario; these are of several.</p>"
    e = html.escape
    rows = ""
    for r in calibrate(ra, reals):
        c = cells(r)
        cls = "" if r["within"] is None else (" class='pass'" if r["within"] else " class='fail'")
        rows += "<tr>" + "".join(f"<td>{e(x)}</td>" for x in c[:-1]) + f"<td{cls}>{e(c[-1])}</td></tr>"
    head = "".join(f"<th>{e(h)}</th>" for h in CALIBRATION_HEADER)
    runs = ", ".join(e(os.path.basename(os.path.normpath(d))) for d in dirs)
    left_out = len(reals) - len(measured(reals))
    note = f" {left_out} of them left out: over their real-time lag bound, not a measurement." if left_out else ""
    return f"""<h2>Calibration: {e(ra['backend'])} against {len(reals) - left_out} {e(reals[0]['backend'])} run(s)</h2>
<p>Real runs: {runs}.{e(note)} Targets: {e(Targets().describe())}. Rows without a target are shown for reading.</p>
<table><tr>{head}</tr>{rows}</table>
"""


def write_compare(dir_a, dirs_b, out):
    dir_b = dirs_b[0]
    ra, rb = load_run(dir_a), load_run(dir_b)
    calibration = calibration_section(ra, [rb] + [load_run(d) for d in dirs_b[1:]], dirs_b)
    la, lb = "A: " + label(ra, dir_a), "B: " + label(rb, dir_b)
    runs = [(la, dir_a, ra), (lb, dir_b, rb)]
    e = html.escape
    same = ra["scenario"]["name"] == rb["scenario"]["name"]
    warn = "" if same else "<p class='fail'>These runs are of different scenarios; differences mix both.</p>"
    figs = "".join([
        plot_figure("Latency distributions of both runs", plot_cdfs(runs), "compare_latency_cdf"),
        plot_figure("Convergence after each fault, both runs", plot_convergence(runs), "compare_convergence"),
        plot_figure("Traffic of both runs", plot_traffic(runs), "compare_traffic"),
    ])
    body = f"""<h1>{e(ra['scenario']['name'])}{'' if same else ' vs ' + e(rb['scenario']['name'])}: two runs side by side</h1>
{warn}
<table>
<tr><th></th><th>A (reference)</th><th>B</th></tr>
<tr><td>run</td><td>{e(os.path.abspath(dir_a))}</td><td>{e(os.path.abspath(dir_b))}</td></tr>
<tr><td>verdict</td><td class='{ra['verdict']}'>{ra['verdict'].upper()}</td><td class='{rb['verdict']}'>{rb['verdict'].upper()}</td></tr>
<tr><td>backend</td><td>{e(ra['backend'])}</td><td>{e(rb['backend'])}</td></tr>
<tr><td>seed</td><td>{ra['seed']}</td><td>{rb['seed']}</td></tr>
<tr><td>nodes</td><td>{ra['scenario']['nodes']}</td><td>{rb['scenario']['nodes']}</td></tr>
<tr><td>build</td><td>{e(ra['build'])}</td><td>{e(rb['build'])}</td></tr>
</table>
{calibration}<h2>Checks</h2>
<table><tr><th>check</th><th>A</th><th>B</th></tr>{checks_table(ra, rb)}</table>
<h2>Convergence after faults</h2>
<table><tr><th>fault</th><th>A</th><th>B</th><th>B - A</th><th>change</th></tr>
{convergence_table(ra, rb) or "<tr><td colspan='5'>no faults</td></tr>"}</table>
<h2>Plots</h2>
{figs}
<h2>Metrics</h2>
<p>Differences are B - A; for durations (latency, convergence) and the figures the regression gate holds a run to (cost per change, lost, stale, call completion, extra hops and loops), green is better and red worse.</p>
<table><tr><th>metric</th><th>A</th><th>B</th><th>B - A</th><th>change</th></tr>{metrics_table(ra, rb, False)}</table>
<h2>Engine counters (all nodes)</h2>
<table><tr><th>counter</th><th>A</th><th>B</th><th>B - A</th><th>change</th></tr>{metrics_table(ra, rb, True)}</table>
"""
    with open(out, "w", encoding="utf-8") as f:
        f.write(page(f"compare: {la} / {lb}", body))
    return out


def main(argv):
    args = argv[1:]
    out = None
    if "--out" in args:
        i = args.index("--out")
        if i + 1 >= len(args):
            print(__doc__.strip(), file=sys.stderr)
            return 2
        out = args[i + 1]
        del args[i:i + 2]
    if len(args) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return run_script("compare_report",
                      lambda: print(write_compare(args[0], args[1:], out or os.path.join(args[1], "compare.html"))))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
