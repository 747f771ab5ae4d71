"""The soak's measurements: a process's RSS, descriptors and threads from /proc, the flatness
check over the samples, and the text and HTML summaries."""

import html
import os
import statistics

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_sample(pid):
    """{rss_kib, fds, threads, cpu_s} of a live process, read from /proc (OSError when it is gone)."""
    rss = threads = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return {"rss_kib": rss, "fds": fds, "threads": threads, "cpu_s": cpu_s}


def process_comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def flatness(samples, warmup_s, rss_bound_pct, rss_slack_kib):
    """The flatness verdict of every process in `samples` (a list of {t_s, procs: {name: sample}}).

    After warm-up (t_s >= warmup_s): descriptors and threads must take one value each; the median
    RSS of the last third of the samples must not exceed the first third's median by more than
    rss_bound_pct percent plus rss_slack_kib. Returns ({name: figures}, [problems])."""
    post = [s for s in samples if s["t_s"] >= warmup_s]
    out, problems = {}, []
    if len(post) < 6:
        return out, [f"only {len(post)} samples after the {warmup_s} s warm-up; at least 6 are needed"]
    third = len(post) // 3
    for name in post[0]["procs"]:
        series = [s["procs"][name] for s in post]
        fds = sorted({x["fds"] for x in series})
        threads = sorted({x["threads"] for x in series})
        first = statistics.median(x["rss_kib"] for x in series[:third])
        last = statistics.median(x["rss_kib"] for x in series[-third:])
        limit = first * (1 + rss_bound_pct / 100.0) + rss_slack_kib
        all_rss = [x["rss_kib"] for x in series]
        out[name] = {
            "samples": len(series), "fds": fds, "threads": threads,
            "rss_first_third_median_kib": first, "rss_last_third_median_kib": last,
            "rss_change_pct": 100.0 * (last - first) / first if first else None,
            "rss_limit_kib": limit, "rss_min_kib": min(all_rss), "rss_max_kib": max(all_rss),
            "first": series[0], "last": series[-1],
        }
        if len(fds) != 1:
            problems.append(f"{name}: file descriptors not constant after warm-up: {fds}")
        if len(threads) != 1:
            problems.append(f"{name}: threads not constant after warm-up: {threads}")
        if last > limit:
            problems.append(f"{name}: RSS grew: last third's median {last} KiB > {limit:.0f} KiB "
                            f"(first third's {first} KiB + {rss_bound_pct} % + {rss_slack_kib} KiB)")
    return out, problems


def summary_text(report):
    r = report
    lines = [f"netns soak: {r['nodes']} pbxstated on real corosync, {r['duration_s']} s at "
             f"{r['rate_per_s']} changes/s (warm-up {r['warmup_s']} s)",
             f"changes made {r['changes_made']} of {r['changes_planned']} (skipped {r.get('changes_skipped', 0)}), "
             f"achieved {r['achieved_per_s']:.1f}/s, refused {r['refused']}, max lag {r['max_lag_s']:.3f} s; "
             f"{r['workload_counts']}",
             f"names used: {r['names_used']}; load average start {fmt_load(r['loadavg_start'])}, end "
             f"{fmt_load(r.get('loadavg_end'))}",
             f"RSS bound: last third's median <= first third's x (1 + {r['rss_bound_pct']} %) + "
             f"{r['rss_slack_kib']} KiB",
             f"{'process':16s} {'fds':>9s} {'threads':>9s} {'RSS first KiB':>14s} {'RSS last KiB':>13s} "
             f"{'change':>8s} {'RSS min..max KiB':>18s}"]
    for name, f in sorted(r.get("flatness", {}).items()):
        lines.append(f"{name:16s} {fmt_set(f['fds']):>9s} {fmt_set(f['threads']):>9s} "
                     f"{f['rss_first_third_median_kib']:14.0f} {f['rss_last_third_median_kib']:13.0f} "
                     f"{f['rss_change_pct']:+7.2f}% {f['rss_min_kib']:>8d}..{f['rss_max_kib']:<8d}")
    for node, e in sorted(r.get("engine_end", {}).items()):
        lines.append(f"node {node} engine at the end: {e}")
    lines.append(f"final state: {r.get('final', {})}")
    if "unanswered" in r:
        u = r["unanswered"]
        lines.append(f"node {u['node']} stopped answering: {u['error']}")
        for name, p in sorted(u["processes"].items()):
            lines.append(f"  {name}: {p.get('first')} -> {p.get('second')} {p.get('error', '')}")
            lines += [f"    {frame}" for frame in p.get("stack", [])[:20]]
    lines.append("problems: " + ("; ".join(r["problems"]) if r["problems"] else "none") + f" -> {r['verdict']}")
    return "\n".join(lines) + "\n"


def fmt_set(values):
    return "/".join(str(v) for v in values)


def fmt_load(load):
    return "-" if load is None else " ".join(f"{x:.2f}" for x in load)


def summary_html(report, text):
    """The text summary and one RSS chart per process kind (inline SVG, no script, no outside file)."""
    charts = []
    samples = report["samples"]
    for kind in ("pbxstated", "corosync"):
        names = sorted(n for n in (samples[0]["procs"] if samples else {}) if n.startswith(kind))
        if not names:
            continue
        t_max = max(s["t_s"] for s in samples) or 1
        rss = [s["procs"][n]["rss_kib"] for s in samples for n in names]
        lo, hi = min(rss), max(rss)
        span = (hi - lo) or 1
        lines = []
        for i, n in enumerate(names):
            pts = " ".join(f"{40 + 560 * s['t_s'] / t_max:.1f},{190 - 170 * (s['procs'][n]['rss_kib'] - lo) / span:.1f}"
                           for s in samples)
            lines.append(f'<polyline fill="none" stroke="{("#c00", "#070", "#00c")[i % 3]}" points="{pts}"/>')
        warm = 40 + 560 * report["warmup_s"] / t_max
        charts.append(f"<h2>{kind} RSS (KiB, {lo}..{hi}; red, green, blue: nodes 1, 2, 3)</h2>"
                      f'<svg width="620" height="210"><rect x="40" y="20" width="560" height="170" fill="none" '
                      f'stroke="#999"/><line x1="{warm:.1f}" y1="20" x2="{warm:.1f}" y2="190" stroke="#999" '
                      f'stroke-dasharray="4"/>{"".join(lines)}</svg>')
    return (f"<!doctype html><meta charset=utf-8><title>netns soak</title><h1>netns soak: {report['verdict']}</h1>"
            f"<pre>{html.escape(text)}</pre>{''.join(charts)}\n")
