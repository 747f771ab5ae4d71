#!/usr/bin/python3
"""A convergence the next fault interrupted is reported as such everywhere a person reads it:
run.json marks it, the report's table says what interrupted it, the convergence figures leave it
out and count it, and the index's slowest convergence ignores it (never "never").

    interrupted_test.py PBXSTATE SCENARIO OUT_DIR
SCENARIO must have a fault end that the next fault interrupts (never-arriving-write.yaml: node
4's crash at 5.5 s, detected after 1 s, is interrupted by the heal at 6 s).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import script_main  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli_contract import unexpected_exit  # noqa: E402


def main(pbxstate, scenario, out):
    problems = []
    rc = subprocess.run([pbxstate, "run", scenario, "--out", os.path.join(out, "run"), "--quiet"]).returncode
    if why := unexpected_exit(pbxstate, rc, "ok"):
        return print(f"pbxstate run {why}") or 1
    run = json.load(open(os.path.join(out, "run", "run.json"), encoding="utf-8"))
    cut = [c for c in run["convergence"] if c["interrupted"]]
    if not cut:
        problems.append("run.json: no interrupted convergence sample")
    for c in cut:
        if c["converged"] or c["took_ns"] is not None or not c["interrupted_by"] or c["until_ns"] <= c["fault_at_ns"]:
            problems.append(f"run.json: inconsistent interrupted sample {c}")
    if run["metrics"].get("convergence.interrupted") != len(cut):
        problems.append(f"metric convergence.interrupted is {run['metrics'].get('convergence.interrupted')}, "
                        f"run.json marks {len(cut)}")
    # The figures hold exactly the samples that were not interrupted.
    kept = [c for c in run["convergence"] if not c["interrupted"] and c["converged"]]
    if kept and run["metrics"].get("convergence.after_fault.max") != max(c["took_ns"] for c in kept):
        problems.append("convergence.after_fault.max is not the slowest sample that was not interrupted")
    page = open(os.path.join(out, "run", "report.html"), encoding="utf-8").read()
    for c in cut:
        if f"interrupted by {c['interrupted_by']}" not in page:
            problems.append(f"report.html does not say what interrupted {c['fault']}")
    rc = subprocess.run([pbxstate, "report", "index", out]).returncode
    if why := unexpected_exit(pbxstate, rc, "ok"):
        problems.append(f"pbxstate report index {why}")
    else:
        index = open(os.path.join(out, "index.html"), encoding="utf-8").read()
        if ">never<" in index:
            problems.append("index.html calls an interrupted convergence never")
    return script_main.verdict(problems)


if __name__ == "__main__":
    script_main.run(main, __doc__, 3)
