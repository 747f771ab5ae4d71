#!/usr/bin/python3
"""Runs a scenario with its report and checks the page has what a person needs.

    check_report.py PBXSTATE SCENARIO OUT_DIR
"""
import re
import subprocess
import sys


def main(pbxstate, scenario, out):
    rc = subprocess.run([pbxstate, "run", scenario, "--out", out, "--quiet"]).returncode
    if rc not in (0, 1):
        print(f"pbxstate run exited {rc}")
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
    for p in problems:
        print("report.html:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
