#!/usr/bin/python3
"""Writes report.html for a run folder (run.json, latencies.csv, changes.csv).

The page is self-contained: plots are drawn by matplotlib and embedded as PNG data, so it opens
offline and can be mailed or archived as one file.

    /usr/bin/python3 reports/html_report.py OUT_DIR
"""

import html
import os
import sys

from runrecord import (CHECK_LABEL, NS_PER_MS, NS_PER_S, check_seen, check_status, convergence_text, draw_cdf,
                       fault_windows, field_names, figure_png, finish_cdf, flatten, fmt_field, fmt_ns, fmt_value,
                       latency_samples_ms, left_out, load_run, page, plot_figure, plt, quantile, read_csv, script_main, shade)


def plot_latency_over_time(run, deliveries, changes, windows):
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    series = [("delivery latency", [(int(r["at_ns"]), int(r["latency_ns"])) for r in deliveries]),
              ("stable latency", [(int(r["at_ns"]), int(r["stable_ns"])) for r in changes if r["stable_ns"]])]
    for ax, (title, points) in zip(axes, series):
        buckets = {}
        for at, lat in points:
            buckets.setdefault(int(at // NS_PER_S), []).append(lat / NS_PER_MS)
        xs = sorted(buckets)
        for q, style in ((0.5, "-"), (0.95, "--"), (0.99, "-."), (1.0, ":")):
            ys = [quantile(sorted(buckets[x]), q) for x in xs]
            ax.plot([x + 0.5 for x in xs], ys, style, label=f"p{int(q * 100)}" if q < 1 else "max")
        shade(ax, windows)
        ax.set_ylabel(f"{title} (ms)")
        ax.set_title(f"{title} by the second the change was made")
        if xs:
            ax.legend(loc="upper right", fontsize="small")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("simulated time (s)")
    return figure_png(fig)


def plot_cdf(run, deliveries, changes):
    fig, ax = plt.subplots(figsize=(10, 4))
    for label, values in latency_samples_ms(deliveries, changes):
        if values:
            draw_cdf(ax, values, f"{label} ({len(values)} samples)")
    finish_cdf(ax, f"latency distribution, {run['backend']} backend")
    ax.legend(loc="lower right")
    return figure_png(fig)


def plot_convergence(run, windows):
    """Per node: when it agreed with the oracle again after each fault (x), faults marked."""
    nodes = run["nodes"]
    fig, ax = plt.subplots(figsize=(10, max(3, min(12, 0.25 * len(nodes) + 1.5))))
    shade(ax, windows)
    for f in run.get("faults", []):
        ax.axvline(f["at_ns"] / NS_PER_S, color="tab:red", lw=0.8)
    end = (run["scenario"]["duration_ns"] + run["scenario"]["quiet_ns"]) / NS_PER_S
    markers = "os^Dv<>p*h"
    for i, c in enumerate(run.get("convergence", [])):
        start = c["fault_at_ns"] / NS_PER_S
        agreed = [(b["node"], start + b["took_ns"] / NS_PER_S) for b in c.get("by_node", []) if b["took_ns"] is not None]
        never = [b["node"] for b in c.get("by_node", []) if b["took_ns"] is None]
        cut_short = c.get("interrupted")
        stop = c.get("until_ns", end * NS_PER_S) / NS_PER_S if cut_short else end
        if agreed:
            ax.scatter([t for _, t in agreed], [n for n, _ in agreed], s=18, marker=markers[i % len(markers)],
                       label=f"agreed after {c['fault']} at {fmt_ns(c['fault_at_ns'])}")
            ax.hlines([n for n, _ in agreed], start, [t for _, t in agreed], lw=0.6, alpha=0.5)
        if never and cut_short:
            ax.scatter([stop] * len(never), never, s=30, marker="|", color="tab:purple",
                       label=f"interrupted after {c['fault']} by {c.get('interrupted_by')}")
        elif never:
            ax.scatter([end] * len(never), never, s=30, marker="x", color="black",
                       label=f"never agreed after {c['fault']}")
    down = [n["node"] for n in nodes if not n["up_at_end"]]
    if down:
        ax.scatter([end] * len(down), down, s=30, marker="_", color="tab:gray", label="down at the end")
    ax.set_xlim(0, end)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("node")
    ax.set_title("per node: agreement with the oracle after each fault (faults in red)")
    if run.get("convergence") or down:
        ax.legend(loc="upper left", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no faults in this scenario", transform=ax.transAxes, ha="center")
    if len(nodes) > 40:
        ax.set_yticks([])
    ax.grid(alpha=0.3)
    return figure_png(fig)


def plot_network(run, windows):
    series = run.get("series", [])
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    ts = [p["t_ns"] / NS_PER_S for p in series]
    ax = axes[0]
    ax.plot(ts, [p["frames"] for p in series], label="frames/s")
    ax2 = ax.twinx()
    ax2.plot(ts, [p["bytes"] / 1024 for p in series], color="tab:orange", label="KiB/s")
    ax.set_ylabel("frames per second")
    ax2.set_ylabel("KiB per second")
    shade(ax, windows)
    ax.set_title("traffic on the network, whole cluster")
    ax.grid(alpha=0.3)
    ax = axes[1]
    if series and series[0].get("frames_by_node"):
        grid = [[p["frames_by_node"][i] for p in series] for i in range(len(series[0]["frames_by_node"]))]
        im = ax.imshow(grid, aspect="auto", origin="lower", interpolation="nearest",
                       extent=(0, ts[-1] if ts else 1, 0.5, len(grid) + 0.5), cmap="viridis")
        # On both panels, so the two time axes stay the same width.
        fig.colorbar(im, ax=list(axes), label="frames per second")
    ax.set_ylabel("node")
    ax.set_xlabel("simulated time (s)")
    ax.set_title("frames sent per node and second")
    return figure_png(fig)


def strategy_table(head, rows):
    """A table of one column per routing strategy: `head` the strategies' names, `rows` (name, cells)."""
    e = html.escape
    return (f"<table><tr><th></th>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr>"
            + "".join(f"<tr><td><code>{e(name)}</code></td>{''.join(f'<td>{e(c)}</td>' for c in cells)}</tr>"
                      for name, cells in rows) + "</table>")


def calls_section(run):
    """The routing strategies side by side over the same calls: every metric run.json names
    calls.<strategy>.<what> (the names checks use), then every count of run.json's "calls" record.
    Both come from the record itself, so a figure added there appears here."""
    calls = run.get("calls")
    if not calls:
        return ""
    by_strategy = {}
    for name, value in run["metrics"].items():
        parts = name.split(".", 2)
        if parts[0] == "calls" and len(parts) == 3:
            by_strategy.setdefault(parts[1], {})[parts[2]] = (name, value)
    strategies = list(by_strategy)
    whats = field_names(by_strategy.values())
    metric_rows = [(what, [fmt_value(*by_strategy[st][what]) if what in by_strategy[st] else "-"
                           for st in strategies]) for what in whats]
    counts = [flatten(c) for c in calls["strategies"]]
    count_rows = [(name, [fmt_field(name, c.get(name)) for c in counts])
                  for name in field_names(counts, leave_out=("strategy",))]
    return (f"<h2>Calls</h2><p>{calls['total']} calls placed; {calls['unroutable']} were for a phone no live server "
            f"held and are left out. Each call was routed by every strategy over the same servers and views. "
            f"Metrics (calls.&lt;strategy&gt;.&lt;name&gt;, as checks name them; scenarios/README.md, \"checks\"):</p>"
            f"{strategy_table(strategies, metric_rows)}<p>Counts per strategy (run.json <code>calls</code>):</p>"
            f"{strategy_table([c['strategy'] for c in counts], count_rows)}")


def fields_text(record, leave_out=()):
    """Every plain field of a run.json record, "name value; ...", but `leave_out` and what is in them."""
    return "; ".join(f"{name} {fmt_field(name, v)}" for name, v in flatten(record).items()
                     if not left_out(name, leave_out))


def bound_row(label, worst, p99, p50, over, bound, valid, exceeded):
    """One row of a harness figure against its bound (times in ns); `exceeded` says what it means."""
    return (f"<tr><td>{label}</td><td>worst {worst}, p99 {fmt_ns(p99)}, p50 {fmt_ns(p50)} over {over}; "
            f"bound {fmt_ns(bound)}{'' if valid else ': exceeded, ' + exceeded}</td></tr>")


def record_row(label, record, leave_out=()):
    """A summary row showing every field of a run.json record (none when the record is absent)."""
    return f"<tr><td>{label}</td><td>{html.escape(fields_text(record, leave_out))}</td></tr>" if record else ""


def lag_rows(run):
    """The rows of a run of real processes saying how late the harness ran, and whether it stayed
    within its bounds: the emulator behind the wall clock (run.json "realtime", emu) and the
    workload driver behind its plan ("driver", netns and emu). Over a bound, no measurement."""
    rows, valid = "", True
    lag = run.get("realtime")
    if lag:
        valid = valid and lag["valid"]
        rows += bound_row("real-time lag", fmt_ns(lag["worst_lag_ns"]), lag["p99_lag_ns"], lag["p50_lag_ns"],
                          f"{lag['probes']} probes", lag["bound_ns"], lag["valid"], "the timings are not a measurement")
        if lag["valid"] and lag["worst_lag_ns"] > lag["bound_ns"]:
            rows += (f"<tr><td>real-time lag over its bound</td><td>{lag['stalls_over_bound']} stalls, each one in "
                     "which the whole machine stopped (the hypervisor's, or no CPU ran a lifeguard nor the "
                     f"simulation) for at most {fmt_ns(lag['machine_pause_bound_ns'])}: the daemons, the driver "
                     "and the network stopped together, so the run stays a measurement (sim/emu/README.md)</td></tr>")
    driver = run.get("driver")
    if driver:
        valid = valid and driver["valid"]
        worst = f"{fmt_ns(driver['worst_lateness_ns'])} (the change planned at {fmt_ns(driver['worst_lateness_at_ns'])})"
        rows += bound_row("driver lateness", worst, driver["p99_lateness_ns"], driver["p50_lateness_ns"],
                          f"{driver['changes']} changes", driver["bound_ns"], driver["valid"],
                          "the workload was not run on time")
    rows += record_row("real-time lag, all figures", lag, leave_out=("stalls_over_1ms",)) + record_row("driver lateness, all figures", driver)
    return rows, valid


def records_table(records, key=None):
    """A table with one row per record (dicts) and one column per field any of them holds, nested
    fields flattened with dots; `key` (a field every record has) first."""
    e = html.escape
    names = field_names(records, leave_out=(key,) if key else ())
    columns = ([key] if key else []) + names
    rows = "".join("<tr>" + "".join(f"<td>{e(fmt_field(n, flatten(r).get(n)))}</td>" for n in columns) + "</tr>"
                   for r in records)
    return ("<div class='scroll'><table><tr>" + "".join(f"<th>{e(n)}</th>" for n in columns)
            + f"</tr>{rows}</table></div>")


def node_section(title, intro, records):
    """A section with one row per node's record (dicts with "node"); "" without records."""
    if not records:
        return ""
    return f"<h2>{title}</h2><p>{intro}</p>" + records_table(records, key="node")


def stalls_section(run, shown=20):
    """The emulator's longest stalls (run.json realtime.stalls_over_1ms, emu) with the cause the
    host gave for each: the longest `shown` of them, so a reader sees first what decided the run."""
    stalls = (run.get("realtime") or {}).get("stalls_over_1ms")
    if not stalls:
        return ""
    longest = sorted(stalls, key=lambda s: -s["lag_ns"])[:shown]
    return ("<h2>The emulator's longest stalls</h2><p>Each time the simulation fell more than 1 ms behind "
            "the wall clock, with what the host said for that interval: the hypervisor's steal on every CPU "
            "and how long no CPU ran a lifeguard (sim/emu/README.md). The longest "
            f"{len(longest)} of the {len(stalls)} listed in run.json.</p>" + records_table(longest))


def hosts_section(run):
    """What each node's host dropped on its own side of the wire (run.json "hosts", netns and emu):
    a frame the network delivered and the host lost is not the network's loss. One column per
    counter the record holds."""
    return node_section(
        "Loss inside the hosts", "Read in each node's namespace at the end of the run: UDP datagrams delivered to a "
        "socket and dropped on receive (receive buffer full among them), sent and dropped on the way out (a full "
        "send buffer or interface queue), the frames its interfaces dropped, and on emu what the emulator's port of "
        "the node refused (a full queue).", run.get("hosts"))


def daemon_wait_section(run):
    """How long each node's real daemons waited for a CPU they were ready to run on (run.json
    "daemon_wait", netns and emu): a daemon that waited was late whatever the network did. One
    column per figure the record holds for a node."""
    return node_section(
        "The daemons' wait for a CPU", "Per node and daemon, from the scenario's time 0 to its end: the most its "
        "threads together waited, runnable, for a CPU between two samples, when (the sample that ended that interval), "
        "the total, the most threads one sample read (Linux's schedstat) and the most it left unread (a daemon with "
        "more threads than the record's max_threads: their wait is in no figure).",
        (run.get("daemon_wait") or {}).get("nodes"))


def nodes_section(run):
    """Per node, every field and engine counter run.json holds for it, drops by reason last."""
    e = html.escape
    nodes = run["nodes"]
    fields = field_names(nodes, leave_out=("node", "up_at_end"))
    stats = [n for n in fields if n.startswith("stats.") and not n.startswith("stats.dropped.")]
    drops = [n for n in fields if n.startswith("stats.dropped.")]
    columns = [n for n in fields if not n.startswith("stats.")] + stats + drops
    rows = ""
    for n in nodes:
        flat = flatten(n)
        rows += (f"<tr><td>{n['node']}</td><td>{'up' if n['up_at_end'] else 'down'}</td>"
                 + "".join(f"<td>{e(fmt_field(c, flat.get(c)))}</td>" for c in columns) + "</tr>")
    head = "".join(f"<th>{e(c.removeprefix('stats.').replace('dropped.', 'drop: '))}</th>" for c in columns)
    return (f"<h2>Per node</h2><p>Each node's record: what the harness counted it sending, its last "
            f"disagreement with the oracle, then its engine's counters at the end, drops by reason last.</p>"
            f"<div class=\"scroll\"><table><tr><th>node</th><th>at end</th>{head}</tr>{rows}</table></div>")


def windows_section(run):
    """run.json's fault windows: each fault from when the runner applied it to what ended it."""
    e = html.escape
    rows = "".join(f"<tr><td>{e(w['kind'])}</td><td>{fmt_ns(w['start_ns'])}</td><td>{fmt_ns(w['end_ns'])}</td>"
                   f"<td>{e(','.join(str(n) for n in w['nodes']))}</td><td>{e(w['opened_by'])}</td>"
                   f"<td>{e(w['closed_by'] or 'the end of the run')}</td></tr>" for w in run.get("fault_windows", []))
    return ("<h2>Fault windows</h2>\n<table><tr><th>kind</th><th>from</th><th>until</th><th>nodes</th><th>opened by</th>"
            f"<th>closed by</th></tr>{rows or '<tr><td colspan=6>no faults</td></tr>'}</table>")


def metrics_rows(run, engine):
    """Every metric of run.json: the engine's counters (engine.*) or all the others."""
    e = html.escape
    return "".join(f"<tr><td>{e(k)}</td><td>{e(fmt_value(k, v))}</td></tr>"
                   for k, v in run["metrics"].items() if k.startswith("engine.") == engine)


def render(run, images):
    e = html.escape
    sc = run["scenario"]
    checks = "".join(
        f"<tr class='{check_status(c)}'><td>{CHECK_LABEL[check_status(c)]}</td>"
        f"<td><code>{e(c['check'])}</code>"
        + (f" (bound {e(fmt_value(c['metric'], c['threshold']))}, detection {e(fmt_ns(c['detection_ns']))})"
           if "detection_ns" in c else "")
        + "</td>"
        f"<td>{e(check_seen(c))}</td></tr>"
        for c in run["checks"])
    conv = "".join(
        f"<tr><td>{e(c['fault'])}</td><td>{fmt_ns(c['fault_at_ns'])}</td>"
        f"<td>{e(convergence_text(c))}</td>"
        + (f"<td>{c['bytes']} bytes sent until agreement, {c['differing_bytes']} differing</td>" if "bytes" in c else "")
        + "</tr>"
        for c in run.get("convergence", []))
    disc = "".join(f"<li>node {d['node']}: {e(d['what'])}</li>" for d in run.get("discrepancies", []))
    calls = calls_section(run)
    figs = "".join(plot_figure(t, img, plot_id) for plot_id, t, img in images)
    verdict = run["verdict"].upper()
    lag_row, valid = lag_rows(run)
    if not valid:
        verdict = "INVALID"
    notes = "".join(f"<tr><td>backend note</td><td>{e(n)}</td></tr>" for n in run.get("backend_notes", []))
    verdict_style = f".verdict {{ font-size: 140%; font-weight: bold; color: {'#060' if verdict == 'PASS' else '#b00'}; }}"
    body = f"""<h1>{e(sc['name'])}</h1>
<p>{e(sc.get('description', ''))}</p>
<p class="verdict">{verdict}</p>
<table>
<tr><td>scenario file</td><td>{e(sc['file'])}</td></tr>
<tr><td>seed</td><td>{run['seed']}</td></tr>
<tr><td>backend</td><td>{e(run['backend'])}</td></tr>
{lag_row}{notes}
<tr><td>nodes</td><td>{sc['nodes']}</td></tr>
<tr><td>transport</td><td>{e(sc['transport'])}</td></tr>
<tr><td>simulated</td><td>{fmt_ns(sc['duration_ns'])} + {fmt_ns(sc['quiet_ns'])} quiet</td></tr>
<tr><td>build</td><td>{e(run['build'])}</td></tr>
{record_row("changes", run.get("changes"))}
{record_row("latency samples", {k: run[k] for k in ("latency_rows", "latency_rows_dropped") if k in run})}
{record_row("membership views", run.get("membership"), leave_out=("views",))}
{record_row("memory sampling", run.get("memory"), leave_out=("held_bytes",))}
{record_row("daemons' wait for a CPU", run.get("daemon_wait"), leave_out=("nodes",))}
</table>
<h2>Checks</h2>
<table><tr><th>verdict</th><th>check</th><th>observed</th></tr>{checks}</table>
<h2>Convergence after faults</h2>
<table><tr><th>fault</th><th>at</th><th>agreement after</th></tr>{conv or '<tr><td colspan=3>no faults</td></tr>'}</table>
{windows_section(run)}
{calls}
<h2>Plots</h2>
{figs}
<h2>Metrics</h2>
<p>Every metric of the run record (run.json <code>metrics</code>), named as checks name them.</p>
<table><tr><th>metric</th><th>value</th></tr>{metrics_rows(run, engine=False)}</table>
<h2>Engine counters (all nodes)</h2>
<table><tr><th>counter</th><th>value</th></tr>{metrics_rows(run, engine=True)}</table>
<h2>Differences from the oracle at the end ({run.get('discrepancy_count', 0)})</h2>
<ul>{disc or '<li>none</li>'}</ul>
{nodes_section(run)}
{hosts_section(run)}
{daemon_wait_section(run)}
{stalls_section(run)}
"""
    return page(f"{sc['name']}: {verdict}", body, verdict_style)


def write_report(run_dir):
    run = load_run(run_dir)
    deliveries = read_csv(run_dir, "latencies.csv")
    changes = read_csv(run_dir, "changes.csv")
    windows = fault_windows(run, run_dir)
    images = [
        ("latency_over_time", "Latency quantiles over time (fault windows shaded)",
         plot_latency_over_time(run, deliveries, changes, windows)),
        ("latency_cdf", "Latency distribution (CDF)", plot_cdf(run, deliveries, changes)),
        ("convergence", "Convergence timeline", plot_convergence(run, windows)),
        ("network", "Messages and bytes per second", plot_network(run, windows)),
    ]
    out = os.path.join(run_dir, "report.html")
    with open(out, "w", encoding="utf-8") as f:
        f.write(render(run, images))
    return out


if __name__ == "__main__":
    sys.exit(script_main(sys.argv, __doc__, "html_report", write_report))
