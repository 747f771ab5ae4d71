#!/usr/bin/python3
"""Writes report.html for a run folder (run.json, latencies.csv, changes.csv).

The page is self-contained: plots are drawn by matplotlib and embedded as PNG data, so it opens
offline and can be mailed or archived as one file.

    /usr/bin/python3 reports/html_report.py OUT_DIR
"""

import html
import os
import sys

from runrecord import (CHECK_LABEL, NS_PER_MS, NS_PER_S, check_seen, check_status, convergence_text, fault_windows,
                       figure_png, fmt_ns, fmt_value, load_run, page, plot_figure, plt, quantile, read_csv, script_main,
                       shade)


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
    for label, values in (("delivery", [int(r["latency_ns"]) / NS_PER_MS for r in deliveries]),
                          ("stable", [int(r["stable_ns"]) / NS_PER_MS for r in changes if r["stable_ns"]])):
        if not values:
            continue
        values.sort()
        n = len(values)
        ax.step(values, [(i + 1) / n for i in range(n)], where="post", label=f"{label} ({n} samples)")
    # Most samples sit near the link delay, a few wait out a fault: a log scale shows both.
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("latency (ms, log scale above 1 ms)")
    ax.set_ylabel("fraction of samples")
    ax.set_title(f"latency distribution, {run['backend']} backend")
    ax.grid(alpha=0.3)
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


def calls_section(run):
    """The routing strategies side by side over the same calls (run.json "calls")."""
    calls = run.get("calls")
    if not calls:
        return ""
    strategies = calls["strategies"]

    def ratio(done, routed):
        return f"{done / routed:.4%}" if routed else "-"

    rows = [
        ("calls routed", lambda c: str(c["routed"])),
        ("completed", lambda c: str(c["completed"])),
        ("completion ratio", lambda c: ratio(c["completed"], c["routed"])),
        ("outside fault windows", lambda c: ratio(c["outside_faults"]["completed"], c["outside_faults"]["routed"])),
        ("inside fault windows", lambda c: ratio(c["inside_faults"]["completed"], c["inside_faults"]["routed"])),
        ("looped", lambda c: str(c["looped"])),
        ("stopped by the hop limit", lambda c: str(c["hop_limit"])),
        ("lost on a hop to a server down or cut off", lambda c: str(c["failed_hops"])),
        ("sent to a server that no longer held the phone", lambda c: str(c["stale_sends"])),
        ("extra hops, mean", lambda c: f"{c['extra_hops_sum'] / c['completed']:.3f}" if c["completed"] else "-"),
        ("extra hops, most", lambda c: str(c["extra_hops_max"])),
    ]
    e = html.escape
    head = "".join(f"<th>{e(c['strategy'])}</th>" for c in strategies)
    body = "".join(f"<tr><td>{e(label)}</td>" + "".join(f"<td>{e(fn(c))}</td>" for c in strategies) + "</tr>"
                   for label, fn in rows)
    return (f"<h2>Calls</h2><p>{calls['total']} calls placed; {calls['unroutable']} were for a phone no live server "
            f"held and are left out. Each call was routed by every strategy over the same servers and views.</p>"
            f"<table><tr><th></th>{head}</tr>{body}</table>")


def bound_row(label, worst, p99, p50, over, bound, valid, exceeded):
    """One row of a harness figure against its bound (times in ns); `exceeded` says what it means."""
    return (f"<tr><td>{label}</td><td>worst {worst}, p99 {fmt_ns(p99)}, p50 {fmt_ns(p50)} over {over}; "
            f"bound {fmt_ns(bound)}{'' if valid else ': exceeded, ' + exceeded}</td></tr>")


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
    driver = run.get("driver")
    if driver:
        valid = valid and driver["valid"]
        worst = f"{fmt_ns(driver['worst_lateness_ns'])} (the change planned at {fmt_ns(driver['worst_lateness_at_ns'])})"
        rows += bound_row("driver lateness", worst, driver["p99_lateness_ns"], driver["p50_lateness_ns"],
                          f"{driver['changes']} changes", driver["bound_ns"], driver["valid"],
                          "the workload was not run on time")
    return rows, valid

def hosts_section(run):
    """What each node's host dropped on its own side of the wire (run.json "hosts", netns and emu):
    a frame the network delivered and the host lost is not the network's loss."""
    hosts = run.get("hosts")
    if not hosts:
        return ""
    emu = any("emu_refused" in h for h in hosts)
    rows = "".join(
        f"<tr><td>{h['node']}</td><td>{h['udp_in_datagrams']}</td><td>{h['udp_in_errors']}</td>"
        f"<td>{h['udp_rcvbuf_errors']}</td><td>{h['udp_out_datagrams']}</td><td>{h['udp_sndbuf_errors']}</td>"
        f"<td>{h['iface_rx_dropped']}</td><td>{h['iface_tx_dropped']}</td>"
        + (f"<td>{h.get('emu_refused', '')}</td>" if emu else "") + "</tr>"
        for h in hosts)
    return ("<h2>Loss inside the hosts</h2><p>Read in each node's namespace at the end of the run: UDP datagrams "
            "delivered to a socket and dropped on receive (receive buffer full among them), sent and dropped on the "
            "way out (a full send buffer or interface queue), and frames its "
            "interfaces dropped" + (", and what the emulator's port of the node refused (a full queue)" if emu else "")
            + ".</p><table><tr><th>node</th><th>UDP in</th><th>UDP in errors</th><th>UDP receive buffer full</th>"
            "<th>UDP out</th><th>UDP send dropped</th><th>interface rx dropped</th><th>interface tx dropped</th>"
            + ("<th>emulator refused</th>" if emu else "") + f"</tr>{rows}</table>")


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
        f"<td>{e(convergence_text(c))}</td></tr>"
        for c in run.get("convergence", []))
    metrics = "".join(f"<tr><td>{e(k)}</td><td>{e(fmt_value(k, v))}</td></tr>"
                      for k, v in run["metrics"].items() if not k.startswith("engine."))
    drop_names = sorted({k for n in run["nodes"] for k in n["stats"]["dropped"]})
    head = "".join(f"<th>drop: {e(d)}</th>" for d in drop_names)
    rows = ""
    for n in run["nodes"]:
        s = n["stats"]
        drops = "".join(f"<td>{s['dropped'].get(d, 0)}</td>" for d in drop_names)
        rows += (f"<tr><td>{n['node']}</td><td>{'up' if n['up_at_end'] else 'down'}</td><td>{n['frames_sent']}</td>"
                 f"<td>{n['bytes_sent']}</td><td>{s['frames_in']}</td><td>{s['bytes_in']}</td>{drops}"
                 f"<td>{s['sync_pages_sent']}</td><td>{s['sync_pages_received']}</td><td>{s['departures']}</td></tr>")
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
</table>
<h2>Checks</h2>
<table><tr><th>verdict</th><th>check</th><th>observed</th></tr>{checks}</table>
<h2>Convergence after faults</h2>
<table><tr><th>fault</th><th>at</th><th>agreement after</th></tr>{conv or '<tr><td colspan=3>no faults</td></tr>'}</table>
{calls}
<h2>Plots</h2>
{figs}
<h2>Metrics</h2>
<table><tr><th>metric</th><th>value</th></tr>{metrics}</table>
<h2>Differences from the oracle at the end ({run.get('discrepancy_count', 0)})</h2>
<ul>{disc or '<li>none</li>'}</ul>
<h2>Per node</h2>
<div class="scroll"><table>
<tr><th>node</th><th>at end</th><th>frames sent</th><th>bytes sent</th><th>frames in</th><th>bytes in</th>{head}
<th>sync pages sent</th><th>sync pages received</th><th>departures seen</th></tr>
{rows}</table></div>
{hosts_section(run)}
"""
    return page(f"{sc['name']}: {verdict}", body, verdict_style)


def write_report(run_dir):
    run = load_run(run_dir)
    deliveries = read_csv(run_dir, "latencies.csv")
    changes = read_csv(run_dir, "changes.csv")
    windows = fault_windows(run)
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
