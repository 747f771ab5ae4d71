#!/usr/bin/python3
"""Runs a scenario with its report and checks the page has what a person needs.

    check_report.py PBXSTATE SCENARIO OUT_DIR
"""
import os
import re
import subprocess
import sys

# The end and command line of a script test, shared with the reports' script tests.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reports"))
import script_main  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from cli_contract import unexpected_exit  # noqa: E402


def main(pbxstate, scenario, out):
    rc = subprocess.run([pbxstate, "run", scenario, "--out", out, "--quiet"]).returncode
    if why := unexpected_exit(pbxstate, rc, "ok", "check_failed"):
        print(f"pbxstate run {why}")
        return 1
    page = open(f"{out}/report.html", encoding="utf-8").read()
    problems = []
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    if len(images) != 4:
        problems.append(f"expected 4 embedded plots, found {len(images)}")
    if any(len(i) < 2000 for i in images):
        problems.append("an embedded plot is suspiciously small")
    for needle in ("<h2>Checks</h2>", "<h2>Per node</h2>", "convergence", "crash node 3"):
        if needle not in page:
            problems.append(f"missing {needle!r}")
    if re.search(r"https?://", page):
        problems.append("the page refers to the network; it must open offline")
    return script_main.verdict([f"report.html: {p}" for p in problems])


if __name__ == "__main__":
    script_main.run(main, __doc__, 3)
