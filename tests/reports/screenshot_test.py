#!/usr/bin/python3
"""The reports as a person sees them: runs a scenario twice, draws its report, a comparison and
an index, opens each in headless Chromium, takes screenshots, and fails on a page error, a plot
that is missing or does not decode, or a blank page. Then proves the check bites: a copy of the
report with one plot corrupted, and one with a script error, must both be refused.

    screenshot_test.py PBXSTATE SCENARIO OUT_DIR

Screenshots are left in OUT_DIR/screenshots for a person to look at.
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import script_main  # noqa: E402
from page_check import check_page  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli_contract import unexpected_exit  # noqa: E402

REPORT_PLOTS = ["latency_over_time", "latency_cdf", "convergence", "network"]
COMPARE_PLOTS = ["compare_latency_cdf", "compare_convergence", "compare_traffic"]


def run(cmd):
    """Runs pbxstate's command `cmd`; a run may pass its checks or fail them, anything else raises."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if why := unexpected_exit(cmd[0], r.returncode, "ok", "check_failed"):
        raise RuntimeError(f"{' '.join(cmd)} {why}: {r.stderr}")
    return r


def main(pbxstate, scenario, out):
    shutil.rmtree(out, ignore_errors=True)
    shots = os.path.join(out, "screenshots")
    os.makedirs(shots)
    a, b = os.path.join(out, "runs", "a"), os.path.join(out, "runs", "b")
    run([pbxstate, "run", scenario, "--out", a, "--quiet"])
    run([pbxstate, "run", scenario, "--out", b, "--quiet", "--seed", "77"])
    run([pbxstate, "report", "compare", a, b])
    run([pbxstate, "report", "index", os.path.join(out, "runs")])

    failures = []
    pages = [(os.path.join(a, "report.html"), REPORT_PLOTS, "report.png", (1280, 4200)),
             (os.path.join(b, "compare.html"), COMPARE_PLOTS, "compare.png", (1280, 3600)),
             (os.path.join(out, "runs", "index.html"), [], "index.png", (1280, 600))]
    for page, plots, shot, size in pages:
        problems = check_page(page, plots, os.path.join(shots, shot), size)
        print(f"{page}: {'ok' if not problems else 'PROBLEMS'}; screenshot {os.path.join(shots, shot)}")
        failures += [f"{page}: {p}" for p in problems]

    # The check must bite: a corrupted plot and a script error are both caught.
    text = open(os.path.join(a, "report.html"), encoding="utf-8").read()
    broken = os.path.join(out, "broken-plot.html")
    with open(broken, "w", encoding="utf-8") as f:
        f.write(re.sub(r"base64,([A-Za-z0-9+/]{40})", "base64,!!!!notbase64", text, count=1))
    problems = check_page(broken, REPORT_PLOTS)
    if not any("did not decode" in p for p in problems):
        failures.append(f"a report with a corrupted plot passed the check: {problems}")
    scripted = os.path.join(out, "script-error.html")
    with open(scripted, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", "<script>undefinedFunction();</script></body>"))
    problems = check_page(scripted, REPORT_PLOTS)
    if not any("page errors" in p for p in problems):
        failures.append(f"a report with a script error passed the check: {problems}")

    return script_main.verdict(failures)


if __name__ == "__main__":
    script_main.run(main, __doc__, 3)
