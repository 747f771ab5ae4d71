#!/usr/bin/python3
"""The Corosync model against real corosync: one calibration pair in the test command.

  calibration_test.py PBXSTATE PBXSTATED REPORTS_DIR SCENARIO OUT

Runs SCENARIO (it must have a corosync: section) with `pbxstate run --backend ns3,netns` (the
ns-3 Corosync model, then a namespace cluster of real corosync and pbxstated), then
reports/calibration.py over the two with bands twice as wide as the README's targets, so a loaded
two-core machine does not fail it: convergence after each fault within ±50 % or ±600 ms of the
real run, delivery latency p50 within a factor 4. Fails when the model drifts outside them, when
a run fails its own checks (the table is printed then too), or when the ns-3 run did not use the
Corosync model.

Exits 77 (CTest: skipped) after printing why when this machine cannot run namespaces: not root,
no `ip netns`, or pbxstated not built. Never passes without having run both.
"""
import json
import os
import subprocess
import sys

SKIP = 77
BANDS = ["--convergence-share", "0.5", "--convergence-floor-ms", "600", "--latency-factor", "4"]


def skip(why):
    print(f"SKIPPED: {why}", file=sys.stderr)
    sys.exit(SKIP)


def fail(why):
    print(f"FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def host_supports_namespaces(pbxstated):
    if os.geteuid() != 0:
        skip("network namespaces need root; run the netns tests as root")
    probe = f"pbxst-{os.getpid()}-probe"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"cannot create a network namespace here: {r.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    if not (os.path.isfile(pbxstated) and os.access(pbxstated, os.X_OK)):
        skip(f"pbxstated is not built ({pbxstated}): the build found no libcpg")


def main(argv):
    if len(argv) != 6:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    pbxstate, pbxstated, reports, scenario, out = argv[1:]
    host_supports_namespaces(pbxstated)
    env = dict(os.environ, PBXSTATED=pbxstated)
    run = subprocess.run([pbxstate, "run", scenario, "--backend", "ns3,netns", "--out", out, "--no-report", "-q"],
                         env=env, capture_output=True, text=True)
    # 1: both runs completed and a check failed (a drifted model often fails the scenario's own
    # checks too); the table below still says how far off it is. Anything else: no pair to compare.
    if run.returncode not in (0, 1):
        fail(f"pbxstate run exited {run.returncode}:\n{run.stdout}{run.stderr}")
    sim_dir, real_dir = os.path.join(out, "ns3"), os.path.join(out, "netns")
    records = {}
    for backend, folder in (("ns3", sim_dir), ("netns", real_dir)):
        with open(os.path.join(folder, "run.json"), encoding="utf-8") as f:
            records[backend] = json.load(f)
    notes = records["ns3"].get("backend_notes", [])
    if not any(n.startswith("Corosync model") for n in notes):
        fail(f"the ns-3 run did not use the Corosync model (backend_notes: {notes})")
    cal = subprocess.run(["/usr/bin/python3", os.path.join(reports, "calibration.py"), sim_dir, real_dir, "--check"]
                         + BANDS, capture_output=True, text=True)
    print(cal.stdout, end="")
    failures = []
    failed_checks = [f"{backend}: {c['check']} (observed {c.get('observed')})"
                     for backend, record in records.items() for c in record.get("checks", []) if not c.get("pass")]
    if run.returncode != 0:
        failures.append(f"pbxstate run exited {run.returncode}; failed checks: {'; '.join(failed_checks) or 'none'}"
                        f"\n{run.stdout}{run.stderr}".rstrip())
    if cal.returncode != 0:
        failures.append(f"the model is outside the calibration bands:\n{cal.stderr}")
    if failures:
        fail("\n".join(failures))
    print("calibration pair within its bands")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
