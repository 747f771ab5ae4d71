#!/usr/bin/python3
"""Runs lan-3-mystate with --dump-state and checks state.jsonl from the outside: one view per
node, each showing Custom:mystate back at NOT_INUSE from node 1, and the two changes logged.

    check_state_dump.py PBXSTATE SCENARIO OUT_DIR
"""
import json
import os
import subprocess
import sys

# The end and command line of a script test, shared with the reports' script tests.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reports"))
import script_main  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from cli_contract import unexpected_exit  # noqa: E402


def main(pbxstate, scenario, out):
    rc = subprocess.run([pbxstate, "run", scenario, "--out", out, "--quiet", "--no-report", "--dump-state"]).returncode
    if why := unexpected_exit(pbxstate, rc, "ok"):
        print(f"pbxstate run {why}")
        return 1
    lines = [json.loads(l) for l in open(f"{out}/state.jsonl", encoding="utf-8")]
    views = [l for l in lines if l["type"] == "node_view"]
    changes = [l for l in lines if l["type"] == "change"]
    problems = []
    if sorted(v["node"] for v in views) != [1, 2, 3]:
        problems.append(f"expected views of nodes 1-3, found {[v['node'] for v in views]}")
    for v in views:
        dev = {d["device"]: d for d in v["devices"]}.get("Custom:mystate")
        if dev is None or dev["aggregate"] != "NOT_INUSE":
            problems.append(f"node {v['node']}: Custom:mystate is {dev and dev['aggregate']}, expected NOT_INUSE")
        elif [(c["node"], c["state"]) for c in dev["contributions"]] != [(1, "NOT_INUSE")]:
            problems.append(f"node {v['node']}: contributions {dev['contributions']}")
    if [(c["origin"], c["key"]) for c in changes] != [(1, "Custom:mystate"), (1, "Custom:mystate")]:
        problems.append(f"change log: {changes}")
    return script_main.verdict([f"state.jsonl: {p}" for p in problems])


if __name__ == "__main__":
    script_main.run(main, __doc__, 3)
