#!/usr/bin/python3
"""End-to-end test of `pbxstate run --backend emu` (real corosync + pbxstated per namespace, their
network cards TAP devices of the scenario's ns-3 world in real time).

  emu_run_test.py PBXSTATE PBXSTATED SCENARIO OUT [bound]
      runs SCENARIO with --backend emu. Passes when run.json says backend emu, carries the
      real-time lag ("realtime": probes counted, worst lag, the bound, valid) and the driver's
      lateness ("driver": changes counted, worst, the bound, valid) and every node's host counters
      ("hosts": UDP datagrams in, with the emulator's refusals), lost and stale are 0, the exit
      status agrees with the record (0: valid and every check passed; 2: the lag or the lateness
      exceeded its bound, the record says invalid, and JUnit has the failing "valid measurement" case), and
      nothing of the run is left on the host. A run made invalid by the lag still must lose nothing:
      only its timing checks are not judged (on two busy cores the emulator may fall behind).
      With `bound`, the same scenario again with --max-lag 1ns must exit 2 (no run keeps within a
      nanosecond) and say why. With calls, every strategy routed calls.

Exits 77 (CTest: skipped) after printing why when this machine cannot run namespaces (not root,
no `ip netns`), has no /dev/net/tun, or pbxstated is not built. Never passes without having run.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from cli_contract import exit_status  # noqa: E402
from nscluster import fail, import_pbxstate, require_run_host, skip  # noqa: E402


def check_host(pbxstated):
    require_run_host(pbxstated)
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        skip("no /dev/net/tun: TAP devices cannot be made here")


def check_clean(pid):
    for _ in range(20):
        left = import_pbxstate().netns.leftovers(pid)
        if not left:
            return
        time.sleep(0.1)
    fail("left behind by the run:\n  " + "\n  ".join(left))


def run(pbxstate, pbxstated, scenario, out, *extra):
    env = dict(os.environ, PBXSTATED=pbxstated)
    proc = subprocess.Popen([pbxstate, "run", scenario, "--backend", "emu", "--no-report", "--out", out, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        output, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        print(output)
        fail("the run did not finish within 240 s")
    print(output)
    check_clean(proc.pid)
    status = exit_status(pbxstate)
    if proc.returncode not in (status.ok, status.invalid):
        fail(f"pbxstate run --backend emu exited {proc.returncode}")
    with open(os.path.join(out, "run.json")) as f:
        record = json.load(f)
    if record.get("backend") != "emu":
        fail(f"run.json backend is {record.get('backend')!r}, not 'emu'")
    lag = record.get("realtime")
    if not lag or lag.get("probes", 0) == 0 or "worst_lag_ns" not in lag or "bound_ns" not in lag:
        fail(f"run.json has no real-time lag measured: {lag!r}")
    if lag["valid"] != (lag["worst_lag_ns"] <= lag["bound_ns"]):
        fail(f"run.json realtime.valid disagrees with its own figures: {lag}")
    driver = record.get("driver")
    if not driver or driver.get("changes", 0) == 0 or "worst_lateness_ns" not in driver or "bound_ns" not in driver:
        fail(f"run.json has no driver lateness measured: {driver!r}")
    if driver["valid"] != (driver["worst_lateness_ns"] <= driver["bound_ns"]):
        fail(f"run.json driver.valid disagrees with its own figures: {driver}")
    hosts = record.get("hosts") or []
    if sorted(h["node"] for h in hosts) != list(range(1, record["scenario"]["nodes"] + 1)):
        fail(f"run.json has not every node's host counters: {hosts!r}")
    if any("emu_refused" not in h or h["udp_in_datagrams"] == 0 for h in hosts):
        fail(f"a node's host counters without the emulator's refusals or with no UDP datagram in: {hosts!r}")
    valid = lag["valid"] and driver["valid"]
    with open(os.path.join(out, "junit.xml")) as f:
        junit = f.read()
    if (proc.returncode == status.invalid) != (not valid):
        fail(f"exit {proc.returncode} but realtime.valid is {lag['valid']} and driver.valid {driver['valid']}")
    if not valid and "valid measurement" not in junit:
        fail("an invalid run without the failing 'valid measurement' JUnit case")
    return proc.returncode, record, output


def check_memory(record):
    """A scenario with a memory section: every node has its engine's held_bytes sampled at the
    baseline and at the end (from pbxstated's stats replies), and memory_growth_pct is measured."""
    memory = record["memory"]
    end = record["scenario"]["duration_ns"] + record["scenario"]["quiet_ns"]
    for node, samples in sorted(memory["held_bytes"].items()):
        times = {t for t, _ in samples}
        if memory["baseline_ns"] not in times or end not in times:
            fail(f"node {node}: memory samples at {sorted(times)}, none at the baseline or the end")
        if any(b <= 0 for _, b in samples):
            fail(f"node {node}: an engine holding no bytes: {samples}")
    if record["metrics"].get("memory_growth_pct") is None:
        fail("a memory section, but memory_growth_pct is not measured")
    print(f"memory sampled on {len(memory['held_bytes'])} nodes, growth {record['metrics']['memory_growth_pct']:.1f} %")


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[5:] not in ([], ["bound"]):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    pbxstate, pbxstated, scenario, out = sys.argv[1:5]
    check_host(pbxstated)
    rc, record, output = run(pbxstate, pbxstated, scenario, os.path.join(out, "run"))
    metrics = record["metrics"]
    for name in ("lost", "stale"):
        if metrics.get(name) != 0:
            fail(f"{name} is {metrics.get(name)}, expected 0")
    if "calls" in record:
        routed = {k: v for k, v in metrics.items() if k.startswith("calls.") and k.endswith(".completion_ratio")}
        if metrics.get("calls.total", 0) == 0 or not routed or not all(v > 0 for v in routed.values()):
            fail(f"a scenario with calls, but {metrics.get('calls.total')} calls, completion by strategy {routed}")
        print(f"{metrics['calls.total']:.0f} calls, completion by strategy {routed}")
    if "memory" in record:
        check_memory(record)
    lag = record["realtime"]
    status = exit_status(pbxstate)
    if rc == status.ok:
        if any(c["pass"] is False for c in record["checks"]):  # null: not applicable on this backend
            fail(f"exit 0 with a failing check: {record['checks']}")
        print(f"valid run, worst lag {lag['worst_lag_ns'] / 1e6:.2f} ms (bound {lag['bound_ns'] / 1e6:.0f} ms)")
    else:
        driver = record["driver"]
        print(f"run invalid (lag worst {lag['worst_lag_ns'] / 1e6:.2f} ms, bound {lag['bound_ns'] / 1e6:.0f} ms; "
              f"driver lateness worst {driver['worst_lateness_ns'] / 1e6:.1f} ms, bound "
              f"{driver['bound_ns'] / 1e6:.0f} ms): lost and stale judged, timing checks not")
    if sys.argv[5:] != ["bound"]:
        print("PASS")
        return
    rc, record, output = run(pbxstate, pbxstated, scenario, os.path.join(out, "bound"), "--max-lag", "1ns")
    if rc != status.invalid or "invalid run" not in output:
        fail(f"--max-lag 1ns: exit {rc}, expected {status.invalid} and the sentence saying the run is invalid")
    print("PASS")


if __name__ == "__main__":
    main()
