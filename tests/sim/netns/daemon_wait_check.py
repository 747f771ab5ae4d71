"""run.json's "daemon_wait" of a run of real daemons (netns, emu) is there and plausible: the
bound, interval and thread bound are the C++'s (`pbxstate describe-metrics`), every node has both
daemons with threads read, never more than the bound and the threads left unread only past it,
each figure is consistent with the others and with the run's length, and the summary names the
daemon that waited most. Nothing here depends on how loaded the machine is: a
wait is checked against what a thread could have waited at all (the wall time), never against a
figure the host must reach.
"""
DAEMONS = ("corosync", "pbxstated")


def problems(run, contract, wall_s):
    """What is wrong with `run`'s daemon_wait (run.json dict), one line each; `wall_s` is the run's
    wall time (timing.json), which no thread can have waited longer than."""
    w = run.get("daemon_wait")
    if not w:
        return ["run.json has no daemon_wait record (the kernel keeps schedstat here: " +
                "; ".join(run.get("backend_notes", [])) + ")"]
    out = []
    for field in ("interval_ns", "bound_ns", "max_threads"):
        if w.get(field) != contract[field]:
            out.append(f"daemon_wait.{field} {w.get(field)} is not describe-metrics' {contract[field]}")
    end_ns = run["scenario"]["duration_ns"] + run["scenario"]["quiet_ns"]
    # One base at time 0, then at most one sample per interval up to the end (and one past it).
    if not 2 <= w["samples"] <= end_ns // w["interval_ns"] + 2:
        out.append(f"daemon_wait.samples {w['samples']}: outside 2 .. {end_ns // w['interval_ns'] + 2}")
    if w["longest_interval_ns"] < w["interval_ns"]:
        out.append(f"daemon_wait.longest_interval_ns {w['longest_interval_ns']} is under the interval")
    nodes = {n["node"]: n for n in w.get("nodes", [])}
    if sorted(nodes) != list(range(1, run["scenario"]["nodes"] + 1)):
        out.append(f"daemon_wait.nodes lists {sorted(nodes)}, not every node")
    most = (-1, None, None)
    for node, n in sorted(nodes.items()):
        for daemon in DAEMONS:
            d = n.get(daemon) or {}
            where = f"daemon_wait node {node} {daemon}"
            if d.get("threads", 0) < 1:
                out.append(f"{where}: no thread read")
                continue
            if d["threads"] > w["max_threads"] or (d["threads_unread"] > 0 and d["threads"] != w["max_threads"]):
                out.append(f"{where}: {d['threads']} threads read, {d['threads_unread']} unread, bound {w['max_threads']}")
            if not 0 <= d["worst_wait_ns"] <= d["total_wait_ns"]:
                out.append(f"{where}: worst {d['worst_wait_ns']} outside 0 .. total {d['total_wait_ns']}")
            # A thread waits at most the wall time; a restarted daemon's threads are new ones.
            if d["total_wait_ns"] > 2 * d["threads"] * wall_s * 1e9:
                out.append(f"{where}: total {d['total_wait_ns']} ns beyond 2 x {d['threads']} threads x {wall_s:.1f} s")
            if d["worst_wait_ns"] > 0 and not 0 < d["worst_wait_at_ns"] <= end_ns + w["longest_interval_ns"]:
                out.append(f"{where}: worst at {d['worst_wait_at_ns']} ns, outside the run")
            most = max(most, (d["worst_wait_ns"], node, daemon))
    named = (nodes.get(w.get("worst_node")) or {}).get(w.get("worst_daemon")) or {}
    if most[1] is not None and not w.get("worst_wait_ns") == named.get("worst_wait_ns") == most[0]:
        out.append(f"daemon_wait's worst {w.get('worst_wait_ns')} (node {w.get('worst_node')} "
                   f"{w.get('worst_daemon')}) is not the daemons' worst {most}")
    if w["within_bound"] != (w.get("worst_wait_ns", 0) <= w["bound_ns"]):
        out.append(f"daemon_wait.within_bound {w['within_bound']} against worst {w.get('worst_wait_ns')}")
    return out
