#!/usr/bin/python3
"""junit.xml from real runs: one test case per check, a failing check carries its measured value
and its limit, and the file parses as XML with consistent counts.

    junit_test.py PBXSTATE SOURCE_DIR WORK_DIR
"""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import script_main  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli_contract import exit_status  # noqa: E402


def main(pbxstate, source, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    problems = []
    status = exit_status(pbxstate)
    # A passing run: every check of the scenario is a passing case.
    scenario = os.path.join(source, "scenarios", "crash-restart.yaml")
    rc = subprocess.run([pbxstate, "run", scenario, "--out", f"{work}/pass", "-q", "--no-report"]).returncode
    if rc != status.ok:
        problems.append(f"crash-restart exited {rc}")
    root = ET.parse(f"{work}/pass/junit.xml").getroot()
    cases = list(root.iter("testcase"))
    checks = [line.strip()[2:] for line in open(scenario, encoding="utf-8") if line.startswith("  - ")
              and ("<" in line or "==" in line)]
    if [c.get("name") for c in cases] != checks:
        problems.append(f"cases {[c.get('name') for c in cases]} are not the scenario's checks {checks}")
    if any(c.find("failure") is not None for c in cases) or root.get("failures") != "0":
        problems.append("a passing run has failures in junit.xml")

    # A failing run: a check made impossible fails with observed value and limit.
    text = open(scenario, encoding="utf-8").read()
    strict = os.path.join(work, "strict.yaml")
    with open(strict, "w", encoding="utf-8") as f:
        f.write(text.replace("convergence.after_restart.max < 3s", "convergence.after_restart.max < 1ms"))
    rc = subprocess.run([pbxstate, "run", strict, "--out", f"{work}/fail", "-q", "--no-report"]).returncode
    if rc != status.check_failed:
        problems.append(f"a run with an impossible check exited {rc}, expected {status.check_failed}")
    root = ET.parse(f"{work}/fail/junit.xml").getroot()
    failed = [c for c in root.iter("testcase") if c.find("failure") is not None]
    if len(failed) != 1 or root.get("failures") != "1":
        problems.append(f"expected exactly one failed case, found {len(failed)} (failures={root.get('failures')})")
    else:
        msg = failed[0].find("failure").get("message")
        if not (msg.startswith("observed ") and "limit < 1ms" in msg):
            problems.append(f"the failure message must give observed value and limit, got {msg!r}")
        if failed[0].get("classname") != "pbxstate.crash-restart.checks":
            problems.append(f"classname {failed[0].get('classname')!r}")
    return script_main.verdict(problems)


if __name__ == "__main__":
    script_main.run(main, __doc__, 3)
