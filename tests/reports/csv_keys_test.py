#!/usr/bin/python3
"""Keys that CSV must quote, end to end, and what happens when a page cannot be drawn.

1. A scenario whose device, mailbox and AOR names hold commas, quotes and UTF-8 (all legal) runs
   and passes (exit 0), its report is drawn, and latencies.csv and changes.csv read back with
   Python's csv module give exactly the scenario's keys (RFC 4180, pbxstate/harness/csv.h).
2. A CSV file that is not what the run record writes makes html_report.py exit 2 with one line
   naming the file and line, never a traceback; a FIFO in its place is refused, not waited on.
3. A report script that fails makes `pbxstate run` exit 2 (scenarios/README.md, "Exit status")
   with a message giving the verdict, PASS or FAIL, and saying the record is complete.

    csv_keys_test.py PBXSTATE SOURCE_DIR WORK_DIR
"""

import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import script_main  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cli_contract import exit_status  # noqa: E402

KEYS = {
    "device": ['Custom:a,b', 'Custom:x",9', 'Custom:"quoted"', 'Custom:caf\u00e9', '\u65e5\u672c:\u96fb\u8a71',
               'Custom:""', 'Custom:;|\\', "Custom:'single'"],
    "mailbox": ['100,1@de"fault', '200@cr\u00e8che'],
    "aor": ['al"ice,bob', '\U0001F4DE'],
}


def yaml_quoted(text):
    return "'" + text.replace("'", "''") + "'"


def scenario_text():
    lines = ["name: csv-keys", "duration: 3s", "quiet: 1s", "cluster: {nodes: 3}", "workload:", "  changes:"]
    at = 100
    for key in KEYS["device"]:
        lines.append(f"    - {{at: {at}ms, node: 1, device: {yaml_quoted(key)}, state: INUSE}}")
        at += 100
    for key in KEYS["mailbox"]:
        lines.append(f"    - {{at: {at}ms, node: 2, mailbox: {yaml_quoted(key)}, new: 1}}")
        at += 100
    for key in KEYS["aor"]:
        lines.append(f"    - {{at: {at}ms, node: 3, aor: {yaml_quoted(key)}, contact: 'sip:a@h'}}")
        at += 100
    lines += ["checks:", "  - lost == 0", "  - stale == 0"]
    return "\n".join(lines) + "\n"


def run(pbxstate, *args, env=None):
    r = subprocess.run([pbxstate, *args], capture_output=True, text=True, timeout=600, env=env)
    return r.returncode, r.stdout, r.stderr


def main(pbxstate, source, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    problems = []
    expect = lambda cond, what: cond or problems.append(what)  # noqa: E731
    path = os.path.join(work, "csv-keys.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(scenario_text())
    everything = sorted(k for keys in KEYS.values() for k in keys)
    status = exit_status(pbxstate)

    # 1. Round trip.
    out = os.path.join(work, "run")
    rc, stdout, stderr = run(pbxstate, "run", path, "--out", out, "-q")
    expect(rc == status.ok, f"a passing run with quoted keys exited {rc}:\n{stderr}")
    expect(os.path.exists(os.path.join(out, "report.html")), "no report.html")
    for name in ("changes.csv", "latencies.csv"):
        with open(os.path.join(out, name), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, strict=True))
        keys = sorted({r["key"] for r in rows})
        expect(keys == everything, f"{name}: keys read back {keys}, expected {everything}")
        expect(all(len(r) == len(rows[0]) and None not in r for r in rows), f"{name}: a row has the wrong width")

    # 2. A CSV that is not the run record's: one line, exit 2.
    broken = os.path.join(work, "broken")
    shutil.copytree(out, broken)
    with open(os.path.join(broken, "changes.csv"), "w", encoding="utf-8") as f:
        f.write('change,origin,kind,key,at_ns,stable_ns\n0,1,device,"Custom:x",9",1000000000,100\n')
    r = subprocess.run(["/usr/bin/python3", os.path.join(source, "reports", "html_report.py"), broken],
                       capture_output=True, text=True, timeout=600)
    expect(r.returncode == 2, f"html_report.py on a bad CSV exited {r.returncode}")
    expect(r.stderr.startswith(f"html_report: {broken}/changes.csv:2: expected 6 fields")
           and "Traceback" not in r.stderr, f"html_report.py on a bad CSV said {r.stderr!r}")

    # A FIFO in place of a record file: refused, not waited on (the timeout makes a hang a failure).
    os.remove(os.path.join(broken, "changes.csv"))
    os.mkfifo(os.path.join(broken, "changes.csv"))
    r = subprocess.run(["/usr/bin/python3", os.path.join(source, "reports", "html_report.py"), broken],
                       capture_output=True, text=True, timeout=300)
    expect(r.returncode == 2 and "changes.csv: not a regular file" in r.stderr,
           f"html_report.py on a FIFO exited {r.returncode}: {r.stderr!r}")

    # 3. A page that fails: exit 2 whatever the verdict, and the message gives the verdict.
    reports = os.path.join(work, "reports")
    shutil.copytree(os.path.join(source, "reports"), reports, ignore=shutil.ignore_patterns("baselines"))
    page = os.path.join(reports, "html_report.py")
    with open(page, encoding="utf-8") as f:
        text = f.read()
    with open(page, "w", encoding="utf-8") as f:
        f.write(text.replace("def write_report(run_dir):\n", "def write_report(run_dir):\n    {}['injected']\n"))
    env = dict(os.environ, PBXSTATE_REPORTS_DIR=reports)
    failing = os.path.join(work, "failing.yaml")
    with open(failing, "w", encoding="utf-8") as f:
        f.write(scenario_text().replace("  - stale == 0", "  - stale > 0"))
    for scenario, verdict in ((path, "PASS"), (failing, "FAIL")):
        rc, stdout, stderr = run(pbxstate, "run", scenario, "--out", os.path.join(work, verdict), "-q", env=env)
        expect(rc == status.invalid, f"{verdict} run whose report failed exited {rc}, expected {status.invalid}")
        expect("html_report: could not draw the page: KeyError: 'injected'" in stderr, f"no script error: {stderr!r}")
        expect(f"the run is complete and its verdict is {verdict}" in stderr, f"no verdict in: {stderr!r}")
        expect(os.path.exists(os.path.join(work, verdict, "run.json")), f"{verdict}: no run.json")

    return script_main.verdict(problems)


if __name__ == "__main__":
    script_main.run(main, __doc__, 3)
