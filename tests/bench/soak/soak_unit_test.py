#!/usr/bin/python3
"""The soak tool's own pieces without a cluster (bench/soak/): its argument errors (exit 2 naming
the argument), the workload's expected state, the final comparison and the flatness check each
catching what they exist to catch. No root needed."""

import copy
import os
import subprocess
import sys

SOAK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bench", "soak")
sys.path.insert(0, SOAK)
from soak_report import flatness  # noqa: E402
from soak_workload import Workload, compare_final  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")


def bad_arguments():
    tool = os.path.join(SOAK, "netns_soak.py")
    cases = [([], "--pbxstated"),
             (["--pbxstated", "/nonexistent/pbxstated", "--out", "/tmp/x"], "not an executable file"),
             (["--pbxstated", sys.executable, "--out", "/tmp/x", "--rate", "5000"], "--rate"),
             (["--pbxstated", sys.executable, "--out", "/tmp/x", "--duration-s", "10", "--warmup-s", "9"],
              "--warmup-s"),
             (["--pbxstated", sys.executable, "--out", "/tmp/x", "--remove-share", "0.6", "--register-share", "0.5"],
              "--register-share"),
             (["--pbxstated", sys.executable, "--out", "/tmp/x", "--ttl-min-s", "9", "--ttl-max-s", "3"], "--ttl"),
             (["--pbxstated", sys.executable, "--out", "/tmp/x", "--max-skipped-pct", "101"], "--max-skipped-pct"),
             (["--pbxstated", sys.executable, "--out", "/tmp/x", "--rate", "ten"], "--rate")]
    for argv, needle in cases:
        r = subprocess.run([sys.executable, tool] + argv, capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and needle in r.stderr, f"{argv}: expected exit 2 naming {needle}, "
              f"got {r.returncode}: {r.stderr.strip()[-200:]}")


def run_workload(n):
    w = Workload(7, (1, 2, 3), "t-", live_devices=50, remove_share=0.3, register_share=0.2,
                 ttl_min_s=1, ttl_max_s=2)
    reqs = [w.next_change(10**18) for _ in range(n)]
    return w, reqs


def workload_state():
    w, reqs = run_workload(2000)
    w2, reqs2 = run_workload(2000)
    check(reqs == reqs2, "the same seed gives the same changes")
    check(len(w.devices) <= 50, f"live devices bounded by live_devices: {len(w.devices)}")
    check(w.counts["remove"] > 0 and w.counts["set_new"] > 50, f"names churn: {w.counts}")
    # Replaying the requests into a dict per owner gives the expected devices.
    held = {}
    for node, r in reqs:
        if r["op"] == "set_device":
            held[r["device"]] = (node, r["state"])
        elif r["op"] == "remove_device":
            check(held.pop(r["device"])[0] == node, "a device is removed by its owner")
    check(held == {k: tuple(v) for k, v in w.devices.items()}, "expected devices = the replayed requests")
    names = [r.get("device") or r.get("aor") for _, r in reqs if r["op"] in ("register",)]
    check(len(names) == len(set(names)), "every AOR is fresh")
    w.forget_expired(10**18 + 3 * 10**9)
    check(not w.registrations, "registrations past their expiry are forgotten")


def fake_dump(w, node, t):
    return {"as_of_from_unix_ns": t, "as_of_to_unix_ns": t + 1000, "mailboxes": [],
            "devices": [{"device": d, "aggregate": s, "contributions": [{"node": o, "state": s, "version": [1, 1]}]}
                        for d, (o, s) in w.devices.items()]
            + [{"device": "Custom:removed", "aggregate": None, "contributions": []}],
            "registrations": [{"aor": a, "node": o, "contact": c, "expires_unix_ns": e}
                              for a, (o, c, e) in w.registrations.items() if e > t]}


def final_comparison():
    w, _ = run_workload(500)
    t = 10**18 + 10**6
    good = {n: fake_dump(w, n, t) for n in (1, 2, 3)}
    problems, figures = compare_final(w, good)
    check(problems == [], f"matching dumps pass: {problems}")
    check(figures["devices_expected"] == len(w.devices), "figures count the expected devices")
    lost = copy.deepcopy(good)
    lost[2]["devices"].pop(0)
    problems, _ = compare_final(w, lost)
    check(any("node 2 devices: 1 missing" in p for p in problems), f"a lost device is found: {problems}")
    check(any("disagree" in p for p in problems), "nodes that differ are found")
    extra = copy.deepcopy(good)
    extra[3]["registrations"].append({"aor": "t-zzz", "node": 1, "contact": "sip:x", "expires_unix_ns": t + 10**10})
    problems, _ = compare_final(w, extra)
    check(any("node 3 registrations: 1 unexpected" in p for p in problems), f"a leftover AOR is found: {problems}")
    wrong = copy.deepcopy(good)
    wrong[1]["devices"][0]["contributions"][0]["state"] = "UNKNOWN"
    problems, _ = compare_final(w, wrong)
    check(any("node 1 devices: 1 different" in p for p in problems), f"a wrong state is found: {problems}")


def flatness_check():
    def samples(fds=None, threads=None, rss=None):
        out = []
        for i in range(12):
            out.append({"t_s": float(i), "procs": {"p": {
                "fds": (fds or (lambda i: 10))(i), "threads": (threads or (lambda i: 1))(i),
                "rss_kib": (rss or (lambda i: 1000))(i), "cpu_s": 0.0}}})
        return out
    _, problems = flatness(samples(fds=lambda i: 10 if i < 2 else 11), 2.0, 10, 0)
    check(problems == [], f"a change during warm-up is not judged: {problems}")
    _, problems = flatness(samples(fds=lambda i: 10 + (i == 8)), 2.0, 10, 0)
    check(any("descriptors" in p for p in problems), f"one extra descriptor fails: {problems}")
    _, problems = flatness(samples(threads=lambda i: 1 + (i > 9)), 2.0, 10, 0)
    check(any("threads" in p for p in problems), f"one extra thread fails: {problems}")
    _, problems = flatness(samples(rss=lambda i: 1000 + 30 * i), 2.0, 10, 0)
    check(any("RSS grew" in p for p in problems), f"a steady RSS growth fails: {problems}")
    figures, problems = flatness(samples(rss=lambda i: 1000 + 5 * i), 2.0, 10, 0)
    check(problems == [], f"growth within the bound passes: {problems}")
    check(figures["p"]["rss_first_third_median_kib"] < figures["p"]["rss_last_third_median_kib"], "medians")
    _, problems = flatness(samples(), 10.0, 10, 0)
    check(any("at least 6" in p for p in problems), f"too few samples after warm-up fail: {problems}")


bad_arguments()
workload_state()
final_comparison()
flatness_check()
print("FAIL" if failures else "ok: arguments, workload, final comparison and flatness checks")
sys.exit(1 if failures else 0)
