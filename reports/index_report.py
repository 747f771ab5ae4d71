#!/usr/bin/python3
"""Writes DIR/index.html: every run record under DIR (folders holding run.json, up to two levels
down), one row each with its verdict and main figures, linked to its report and JUnit file.

    /usr/bin/python3 reports/index_report.py DIR
"""

import html
import os
import sys

from runrecord import ReportError, check_status, convergence_worst, find_runs, fmt_ns, load_run, page, script_main

MAX_RUNS = 1000


def row(root, run_dir):
    e = html.escape
    rel = os.path.relpath(run_dir, root)
    try:
        run = load_run(run_dir)
    except ReportError as err:
        return f"<tr class='fail'><td>{e(rel)}</td><td colspan='11'>unreadable: {e(str(err))}</td></tr>"
    m = run["metrics"]
    sc = run["scenario"]
    checks = run["checks"]
    applicable = [c for c in checks if check_status(c) != "na"]  # not applicable: neither passed nor failed
    passed = sum(1 for c in applicable if check_status(c) == "pass")
    slowest = convergence_worst(run)  # interrupted samples are neither fast nor slow
    worst = "never" if slowest is None else (slowest if slowest == "-" else fmt_ns(slowest))
    link = (f"<a href='{e(rel)}/report.html'>{e(rel)}</a>" if os.path.exists(os.path.join(run_dir, "report.html"))
            else e(rel))
    junit = f" <a href='{e(rel)}/junit.xml'>junit</a>" if os.path.exists(os.path.join(run_dir, "junit.xml")) else ""
    verdict = run["verdict"]
    return (f"<tr class='{'pass' if verdict == 'pass' else 'fail'}'><td>{verdict.upper()}</td><td>{link}{junit}</td>"
            f"<td>{e(sc['name'])}</td><td>{e(run['backend'])}</td><td>{run['seed']}</td><td>{sc['nodes']}</td>"
            f"<td>{passed}/{len(applicable)}</td><td>{int(m.get('changes', 0))}</td>"
            f"<td>{fmt_ns(m.get('stable_latency.p50'))}</td><td>{fmt_ns(m.get('stable_latency.p99'))}</td>"
            f"<td>{worst}</td><td>{int(m.get('lost', 0))} / {int(m.get('stale', 0))}</td></tr>")


def write_index(root):
    if not os.path.isdir(root):
        raise ReportError(f"{root}: not a folder")
    runs, left_out = find_runs(root, MAX_RUNS)
    rows = "".join(row(root, r) for r in runs)
    more = f"<p>{left_out} more runs were found and not listed (at most {MAX_RUNS}).</p>" if left_out else ""
    body = f"""<h1>Runs in {html.escape(os.path.abspath(root))}</h1>
<p>{len(runs)} runs. Open a run's report from its folder name; compare two with
<code>pbxstate report compare RUN_A RUN_B</code>.</p>
<table>
<tr><th>verdict</th><th>run</th><th>scenario</th><th>backend</th><th>seed</th><th>nodes</th><th>checks</th>
<th>changes</th><th>stable p50</th><th>stable p99</th><th>slowest convergence</th><th>lost / stale</th></tr>
{rows or "<tr><td colspan='12'>no run records (folders with run.json) here</td></tr>"}
</table>
{more}"""
    out = os.path.join(root, "index.html")
    with open(out, "w", encoding="utf-8") as f:
        f.write(page(f"pbxstate runs: {os.path.basename(os.path.abspath(root))}", body))
    return out


if __name__ == "__main__":
    sys.exit(script_main(sys.argv, __doc__, "index_report", write_index))
