#!/usr/bin/python3
"""report.html shows what run.json holds: every metric with its value, every count of the calls
record per strategy, every field and engine counter per node, every counter of the hosts, every
figure of the harness's own records (realtime, driver, changes, membership, memory, daemon_wait and
its per-node figures), every fault window. The page has no list of them: the test adds fields to a
real run.json that no script knows (and the ones only a run of real processes writes,
calls.location.looped_on_current_views among them) and expects them on the page too. It also
checks that its own check finds a metric taken off the page.

    run_fields_test.py PBXSTATE SCENARIO OUT_DIR      (SCENARIO: one with calls; PBXSTATE_REPORTS_DIR: reports/)
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import script_main  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli_contract import unexpected_exit  # noqa: E402

REPORTS = os.environ.get("PBXSTATE_REPORTS_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "reports"))
sys.path.insert(0, REPORTS)
from runrecord import field_names, flatten, fmt_field, fmt_value, left_out  # noqa: E402

# Records only a run of real processes writes (run_record.cc, RealtimeJson, DriverJson, HostsJson, DaemonWaitJson),
# with made-up figures, and fields that no script knows yet.
REAL_PROCESS_RECORDS = {
    "realtime": {"probe_interval_ns": 1000000, "probes": 2000, "worst_lag_ns": 800000, "worst_lag_at_ns": 7000000000,
                 "p50_lag_ns": 20000, "p99_lag_ns": 300000, "probes_over_1ms": 0, "bound_ns": 5000000, "valid": True},
    "driver": {"changes": 2509, "worst_lateness_ns": 2000000, "worst_lateness_at_ns": 6000000000,
               "p50_lateness_ns": 50000, "p99_lateness_ns": 900000, "bound_ns": 50000000, "valid": True},
    # DaemonWaitJson (netns, emu): the summary, then per node each daemon's figures.
    "daemon_wait": {"interval_ns": 100000000, "samples": 240, "longest_interval_ns": 104000000,
                    "longest_sample_ns": 300000, "bound_ns": 20000000, "within_bound": True, "max_threads": 64,
                    "worst_wait_ns": 3000000, "worst_wait_at_ns": 4100000000, "worst_node": 2,
                    "worst_daemon": "corosync", "a_wait_figure_added_later": 1,
                    "nodes": [{"node": 1, "corosync": {"worst_wait_ns": 1000000, "worst_wait_at_ns": 300000000,
                                                       "total_wait_ns": 9000000, "threads": 9,
                                                       "threads_unread": 0},
                               "pbxstated": {"worst_wait_ns": 500000, "worst_wait_at_ns": 200000000,
                                             "total_wait_ns": 4000000, "threads": 3, "threads_unread": 0,
                                             "a_thread_figure_added_later": 2}}]},
    # MembershipJson and MemoryJson, written by runs with transport views and a memory section.
    "membership": {"source": "transport", "views_delivered": 8, "views_listed": 1,
                   "views": [{"t_ns": 0, "node": 1, "members": [1, 2, 3, 4]}]},
    "memory": {"sample_every_ns": 1000000000, "baseline_ns": 5000000000,
               "held_bytes": {"1": [[0, 4096], [1000000000, 4100]]}},
}
HOST = {"udp_in_datagrams": 100, "udp_in_errors": 0, "udp_rcvbuf_errors": 0, "udp_out_datagrams": 90,
        "udp_sndbuf_errors": 0, "iface_rx_dropped": 0, "iface_tx_dropped": 0, "emu_refused": 0,
        "a_host_counter_added_later": 5}
NEW_METRIC = "a_metric_added_later.p50"


def extend(run):
    """`run` with what a netns/emu run adds and with new fields in every section the page shows."""
    run["metrics"]["calls.location.looped_on_current_views"] = 3
    run["metrics"][NEW_METRIC] = 0.25
    run["metrics"]["engine.a_counter_added_later"] = 7
    for st in run["calls"]["strategies"]:
        if st["strategy"] == "location":
            st["looped_on_current_views"] = 3
        st["a_count_added_later"] = {"inside": 1, "outside": 2}
    for n in run["nodes"]:
        n["stats"]["a_stat_added_later"] = 11
        n["stats"]["dropped"]["a_drop_reason_added_later"] = 0
    run.update(json.loads(json.dumps(REAL_PROCESS_RECORDS)))
    run["hosts"] = [dict(HOST, node=n["node"]) for n in run["nodes"]]
    run["changes"]["a_change_count_added_later"] = 4
    run["fault_windows"].append({"start_ns": 1000000000, "end_ns": 2000000000, "kind": "isolate", "nodes": [2],
                                 "opened_by": "a fault window added later", "closed_by": None})
    return run


def missing_from_page(run, page):
    """What of `run` the page does not show, one line each."""
    text = html.unescape(page)
    out = []
    for name, value in run["metrics"].items():
        if f"<td>{name}</td><td>{fmt_value(name, value)}</td>" not in text:
            out.append(f"metric {name} ({fmt_value(name, value)})")
    if run.get("calls"):
        for name in field_names(run["calls"]["strategies"], leave_out=("strategy",)):
            if f"<code>{name}</code>" not in text:
                out.append(f"calls count {name}")
        calls = text[text.find("<h2>Calls</h2>"):text.find("<h2>Plots</h2>")]
        for name in run["metrics"]:
            parts = name.split(".", 2)
            if parts[0] == "calls" and len(parts) == 3 and f"<code>{parts[2]}</code>" not in calls:
                out.append(f"calls table: {name}")
    for name in field_names(run["nodes"], leave_out=("node", "up_at_end")):
        head = name.removeprefix("stats.").replace("dropped.", "drop: ")
        if f"<th>{head}</th>" not in text:
            out.append(f"node field {name}")
    for name in field_names(run.get("hosts", []), leave_out=("node",)):
        if f"<th>{name}</th>" not in text:
            out.append(f"host counter {name}")
    for w in run["fault_windows"]:
        if f"<td>{w['opened_by']}</td>" not in text:
            out.append(f"fault window opened by {w['opened_by']}")
    for name in field_names((run.get("daemon_wait") or {}).get("nodes", []), leave_out=("node",)):
        if f"<th>{name}</th>" not in text:
            out.append(f"daemon wait figure {name}")
    for record, leave_out in (("realtime", ()), ("driver", ()), ("changes", ()), ("membership", ("views",)),
                              ("memory", ("held_bytes",)), ("daemon_wait", ("nodes",))):
        for name, value in flatten(run.get(record) or {}).items():
            if not left_out(name, leave_out) and f"{name} {fmt_field(name, value)}" not in text:
                out.append(f"{record}.{name}")
    return out


def draw(run_dir):
    done = subprocess.run(["/usr/bin/python3", os.path.join(REPORTS, "html_report.py"), run_dir],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"html_report.py {run_dir} exited {done.returncode}: {done.stderr.strip()}")
    with open(os.path.join(run_dir, "report.html"), encoding="utf-8") as f:
        return f.read()


def main(pbxstate, scenario, out):
    shutil.rmtree(out, ignore_errors=True)
    real = os.path.join(out, "run")
    rc = subprocess.run([pbxstate, "run", scenario, "--out", real, "--quiet"]).returncode
    if why := unexpected_exit(pbxstate, rc, "ok", "check_failed"):
        return print(f"FAIL: pbxstate run {why}") or 1
    with open(os.path.join(real, "run.json"), encoding="utf-8") as f:
        run = json.load(f)
    if not run.get("calls"):
        return print(f"FAIL: {scenario} has no calls; the test needs a scenario with calls") or 1
    problems = [f"real run: {m}" for m in missing_from_page(run, draw(real))]

    extended = os.path.join(out, "extended")
    shutil.copytree(real, extended)
    run = extend(run)
    with open(os.path.join(extended, "run.json"), "w", encoding="utf-8") as f:
        json.dump(run, f, indent=2)
    page = draw(extended)
    problems += [f"extended run: {m}" for m in missing_from_page(run, page)]
    if "held_bytes.1" in page or "views [" in page:
        problems.append("the summary lists the memory samples or the views, which it leaves out")
    calls = page[page.find("<h2>Calls</h2>"):page.find("<h2>Plots</h2>")]
    if not re.search(r"<code>looped_on_current_views</code></td>(<td>-</td><td>3</td>|<td>3</td><td>-</td>)", calls):
        problems.append("the calls table has no looped_on_current_views row with 3 for location alone")

    # The check itself bites: a metric taken off the page is found missing.
    row = f"<tr><td>{NEW_METRIC}</td><td>{fmt_value(NEW_METRIC, 0.25)}</td></tr>"
    if row not in page or not any(NEW_METRIC in m for m in missing_from_page(run, page.replace(row, ""))):
        problems.append(f"the check did not notice {NEW_METRIC} taken off the page")
    return script_main.verdict(problems)


if __name__ == "__main__":
    script_main.run(main, __doc__, 3)
