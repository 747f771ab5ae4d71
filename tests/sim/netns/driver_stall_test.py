#!/usr/bin/python3
"""The workload driver never waits for one daemon (sim/emu/README.md, "The driver never waits").

  driver_stall_test.py sample|crash|storm PBXSTATE PBXSTATED SCENARIO OUT
      runs SCENARIO (tests/sim/netns/scenarios/stalled-daemon.yaml; stalled-storm.yaml for
      `storm`) on netns and stops node 3's
      pbxstated (SIGSTOP) for STALL_S, timed from the run's time 0 (its "namespaces up" line):
      `sample` from 1.6 s, over the once-a-second stats reads of 2 s and 3 s (a driver that waits
      for them issues changes 1.1 s late); `crash` from 4.8 s, over the node's crash at 5.5 s (a
      crash that waits for the node's answers: 0.8 s late; and the read of 5 s, 1.3 s); `storm`
      from 1.6 s, while 2,000 registrations a second are sent to it (a driver that sends on its
      socket waits there until the stop ends, and the other nodes' changes are late; one that
      queues them goes on, and the queue must then have held more than the 1,024 unanswered
      changes the old driver allowed). The test
      passes when run.json's driver says its worst change was under MAX_LATENESS_S late (what a
      loaded host does not reach, and a waiting driver cannot stay under), the stop happened,
      every second has its stats sample, and everything `netns_run_test.py scenario` requires
      holds.

Exits 77 (skipped) as netns_run_test.py does where namespaces cannot run.
"""
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netns_run_test import daemon_pids, fail, require_run_host, run_scenario  # noqa: E402

STALLED_NODE = 3
STALL_S = 1.5
STALL_FROM_S = {"sample": 1.6, "crash": 4.8, "storm": 1.6}
# `storm`: node 3's queue must have held more than this (the old driver's bound of unanswered
# changes): the stop really held the storm back.
MIN_STORM_QUEUE = 1024
QUEUE_NOTE = re.compile(r"node (\d+) (\d+), ")
MAX_LATENESS_S = 0.5
T0_LINE = "namespaces up"


def stall_after_start(from_s, stopped):
    """on_line for run_scenario: at the run's time 0, a thread that stops node 3's daemon from
    `from_s` for STALL_S; `stopped` gets the pids it stopped."""
    def on_line(proc, line):
        if T0_LINE not in line:
            return
        t0 = time.monotonic()

        def stall():
            time.sleep(max(0.0, t0 + from_s - time.monotonic()))
            pids = daemon_pids(proc.pid, STALLED_NODE)
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            stopped.extend(pids)
            time.sleep(STALL_S)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            print(f"node {STALLED_NODE}'s pbxstated {sorted(pids)} stopped from {from_s} s for {STALL_S} s")
        threading.Thread(target=stall, daemon=True).start()
    return on_line


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in STALL_FROM_S:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mode, pbxstate, pbxstated, scenario, out = sys.argv[1:]
    require_run_host(pbxstated)
    stopped = []
    run = run_scenario(pbxstate, pbxstated, scenario, out, on_line=stall_after_start(STALL_FROM_S[mode], stopped))
    if not stopped:
        fail(f"node {STALLED_NODE}'s pbxstated was never found to stop")
    driver = run.get("driver") or {}
    worst = driver.get("worst_lateness_ns", 0) / 1e9
    at = driver.get("worst_lateness_at_ns", 0) / 1e9
    print(f"driver: worst change {worst * 1e3:.1f} ms late (planned at {at:.2f} s), "
          f"p99 {driver.get('p99_lateness_ns', 0) / 1e6:.1f} ms")
    if worst >= MAX_LATENESS_S:
        fail(f"the driver waited for the stopped daemon: a change planned at {at:.2f} s was issued "
             f"{worst * 1e3:.0f} ms late (bound of this test {MAX_LATENESS_S * 1e3:.0f} ms)")
    if mode == "storm":
        notes = [n for n in run.get("backend_notes", []) if "changes are handed to a queue per node" in n]
        if len(notes) != 1:
            fail(f"run.json backend_notes: no note of the change queues: {run.get('backend_notes')}")
        depth = {int(node): int(d) for node, d in QUEUE_NOTE.findall(notes[0])}
        print(f"change queues, most held at once by node: {depth}")
        if depth.get(STALLED_NODE, 0) <= MIN_STORM_QUEUE:
            fail(f"node {STALLED_NODE}'s queue held at most {depth.get(STALLED_NODE)} changes: the stop did not "
                 f"hold the storm back (more than {MIN_STORM_QUEUE} expected)")
    seconds = [p["t_ns"] // 1_000_000_000 for p in run.get("series", [])]
    if sorted(set(seconds)) != seconds or not seconds:
        fail(f"run.json series: {seconds}")
    print("PASS")


if __name__ == "__main__":
    main()
