#!/usr/bin/python3
"""A check that names the backends it applies to is, on a run of another backend, reported "not
applicable" with the reason everywhere a person or a CI system reads it, and counts in no
verdict: run.json (pass null, not_applicable, backends), junit.xml (a skipped case with the
reason), report.html and index.html (N/A), and the summary `pbxstate run` prints. The same
check on its own backend is held to its bound (here it fails, so the run fails).

    not_applicable_test.py PBXSTATE OUT_DIR
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import script_main  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli_contract import exit_status  # noqa: E402

SCENARIO = """name: not-applicable
seed: 1
duration: 3s
quiet: 1s
cluster: {nodes: 3}
network:
  lan: {delay: 200us}
engine: {batch_window: 0ms}
workload:
  changes:
    - {at: 1s, node: 1, device: D, state: INUSE}
checks:
  - lost == 0
  - {check: "changes == 7", backends: [ns3, emu]}
"""
REASON = "not applicable on inproc (the check is for ns3, emu)"


def run(pbxstate, scenario, out, backend):
    return subprocess.run([pbxstate, "run", scenario, "--backend", backend, "--out", out],
                          capture_output=True, text=True)


def check_inproc(pbxstate, scenario, out):
    problems = []
    r = run(pbxstate, scenario, os.path.join(out, "inproc"), "inproc")
    if r.returncode != exit_status(pbxstate).ok:
        return [f"inproc run exited {r.returncode} (the check that does not apply must not fail it): {r.stderr}"]
    if not any("N/A" in line and "changes == 7" in line and REASON in line for line in r.stdout.splitlines()):
        problems.append(f"the summary does not say the check is not applicable:\n{r.stdout}")
    record = json.load(open(os.path.join(out, "inproc", "run.json"), encoding="utf-8"))
    na = [c for c in record["checks"] if c["check"] == "changes == 7"]
    if len(na) != 1 or na[0]["pass"] is not None or na[0].get("not_applicable") != REASON or \
            na[0].get("backends") != ["ns3", "emu"]:
        problems.append(f"run.json: {na}")
    if record["verdict"] != "pass":
        problems.append(f"run.json verdict {record['verdict']}")
    cases = ET.parse(os.path.join(out, "inproc", "junit.xml")).getroot().iter("testcase")
    skipped = [c.find("skipped") for c in cases if c.get("name") == "changes == 7"]
    if len(skipped) != 1 or skipped[0] is None or skipped[0].get("message") != REASON:
        problems.append("junit.xml: the check is not a skipped case with the reason")
    page = open(os.path.join(out, "inproc", "report.html"), encoding="utf-8").read()
    if "<td>N/A</td>" not in page or REASON not in page:
        problems.append("report.html does not show the check as N/A with the reason")
    return problems


def main(pbxstate, out):
    os.makedirs(out, exist_ok=True)
    scenario = os.path.join(out, "not-applicable.yaml")
    with open(scenario, "w", encoding="utf-8") as f:
        f.write(SCENARIO)
    problems = check_inproc(pbxstate, scenario, out)
    index_rc = subprocess.run([pbxstate, "report", "index", out]).returncode
    index = open(os.path.join(out, "index.html"), encoding="utf-8").read() if index_rc == 0 else ""
    if "<td>1/1</td>" not in index:
        problems.append(f"index.html does not count 1 of 1 applicable checks passed (report index exit {index_rc})")
    # On a backend it names, the check holds the run: one change was made, not 7.
    ns3 = run(pbxstate, scenario, os.path.join(out, "ns3"), "ns3")
    if ns3.returncode != exit_status(pbxstate).check_failed:
        problems.append(f"ns3 run exited {ns3.returncode}, expected {exit_status(pbxstate).check_failed} "
                        "(changes == 7 fails there)")
    return script_main.verdict(problems)


if __name__ == "__main__":
    script_main.run(main, __doc__, 2)
