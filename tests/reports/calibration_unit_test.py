#!/usr/bin/python3
"""reports/calibration.py on made-up run records: median and spread of the real runs, the ratio,
the targets (convergence within max(25 %, 300 ms), delivery p50 within a factor 2), the runs left
out (lag, driver, the daemons' wait for a CPU) and the --check exit status.

    calibration_unit_test.py REPORTS_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

MS = 1_000_000


def run_record(backend, heal_ms, p50_ms):
    return {"format": "pbxstate-run/1", "backend": backend, "seed": 1, "scenario": {"name": "s", "nodes": 3},
            "convergence": [{"fault": "heal", "fault_at_ns": 10_000 * MS, "converged": True, "took_ns": heal_ms * MS}],
            "metrics": {"delivery_latency.p50": p50_ms * MS, "messages_per_change": 1.5}}


def write(work, name, record):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "run.json"), "w", encoding="utf-8") as f:
        json.dump(record, f)
    return d


def expect(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)


def main(argv):
    reports, work = argv[1], argv[2]
    sys.path.insert(0, reports)
    import calibration  # noqa: E402

    reals = [run_record("netns", ms, p50) for ms, p50 in ((1300, 10), (1100, 12), (1500, 11), (1250, 9), (1400, 30))]
    rows = {r["metric"]: r for r in calibration.calibrate(run_record("ns3", 1600, 21), reals)}
    heal, p50 = rows["convergence.1"], rows["delivery_latency.p50"]
    expect(heal["real_median"] == 1300 * MS and heal["real_min"] == 1100 * MS and heal["real_max"] == 1500 * MS,
           f"median and spread of the heal: {heal}")
    expect(abs(heal["ratio"] - 1600 / 1300) < 1e-9, "ratio sim / real median")
    expect(heal["within"] is True, "1.6 s is within 325 ms of 1.3 s")
    expect(p50["within"] is True, "21 ms is within a factor 2 of the 11 ms median")
    expect(rows["messages_per_change"]["within"] is None, "rows without a target have no verdict")
    # 300 ms floor: a 200 ms real convergence tolerates a 450 ms simulation, not 550 ms.
    small = [run_record("netns", 200, 10)]
    expect(calibration.calibrate(run_record("ns3", 450, 10), small)[0]["within"] is True, "within the 300 ms floor")
    expect(calibration.calibrate(run_record("ns3", 550, 10), small)[0]["within"] is False, "outside the 300 ms floor")
    # A model that never converges where the real runs did is outside, not unjudged; a sample cut
    # short by the next fault (interrupted) measures nothing on either side.
    never = run_record("ns3", 0, 10)
    never["convergence"][0].update(converged=False, took_ns=None)
    expect(calibration.calibrate(never, small)[0]["within"] is False, "a simulation that never converges fails")
    cut = run_record("ns3", 0, 10)
    cut["convergence"][0].update(converged=False, took_ns=None, interrupted=True, interrupted_by="crash")
    expect(calibration.calibrate(cut, small)[0]["within"] is None, "an interrupted simulated sample is not judged")
    cut_real = run_record("netns", 0, 10)
    cut_real["convergence"][0].update(converged=False, took_ns=None, interrupted=True, interrupted_by="crash")
    mixed = calibration.calibrate(run_record("ns3", 450, 10), small + [cut_real])[0]
    expect(mixed["real_runs"] == 1 and mixed["within"] is True, f"interrupted real samples are left out: {mixed}")
    # An emulated run over its real-time lag bound is recorded, not a measurement: left out.
    lagged = run_record("emu", 9000, 10)
    lagged["realtime"] = {"valid": False, "worst_lag_ns": 25 * MS}
    steady = run_record("emu", 200, 10)
    steady["realtime"] = {"valid": True, "worst_lag_ns": 2 * MS}
    late = run_record("netns", 7000, 10)
    late["driver"] = {"valid": False, "worst_lateness_ns": 300 * MS}
    emu_row = calibration.calibrate(run_record("ns3", 450, 10), [steady, lagged, late])[0]
    expect(emu_row["real_runs"] == 1 and emu_row["real_median"] == 200 * MS,
           f"invalid emulated runs and runs whose driver fell behind are left out of the figures: {emu_row}")
    # A run whose daemons waited for a CPU longer than their bound is valid (exit 0) but its
    # timings are the host's: left out too, and named with why; one within it, or from before
    # the record existed, is kept.
    starved = run_record("emu", 8000, 400)
    starved["daemon_wait"] = {"within_bound": False, "worst_wait_ns": 90 * MS, "bound_ns": 20 * MS}
    fed = run_record("emu", 300, 10)
    fed["daemon_wait"] = {"within_bound": True, "worst_wait_ns": 3 * MS, "bound_ns": 20 * MS}
    rows = calibration.calibrate(run_record("ns3", 450, 10), [steady, starved, fed])
    expect(rows[0]["real_runs"] == 2 and rows[0]["real_median"] == 250 * MS and rows[1]["real_median"] == 10 * MS,
           f"a run whose daemons were starved is left out, the others kept: {rows[:2]}")
    expect(calibration.why_left_out(starved) == ["its daemons waited for a CPU longer than their bound"]
           and calibration.why_left_out(steady) == [] and len(calibration.why_left_out(dict(lagged, **starved))) == 2,
           "each reason a run is left out is named")
    text = calibration.left_out_text([steady, starved, lagged], ["a", "b", "c"])
    expect(text == " (2 left out, not measurements: b: its daemons waited for a CPU longer than their bound; "
                   "c: over its real-time lag bound)", f"the left-out runs are named with why: {text!r}")

    script = os.path.join(reports, "calibration.py")
    sim_ok, sim_far = write(work, "sim-ok", run_record("ns3", 1400, 12)), write(work, "sim-far", run_record("ns3", 40, 12))
    real = [write(work, f"real-{i}", r) for i, r in enumerate(reals)]
    ok = subprocess.run(["/usr/bin/python3", script, sim_ok] + real + ["--check"], capture_output=True, text=True)
    expect(ok.returncode == 0 and "within" in ok.stdout, f"a model within its targets passes --check: {ok.stdout}{ok.stderr}")
    far = subprocess.run(["/usr/bin/python3", script, sim_far] + real + ["--check"], capture_output=True, text=True)
    expect(far.returncode == 1 and "OUTSIDE" in far.stdout, f"41 ms against 1.3 s fails --check: {far.stdout}{far.stderr}")
    wide = subprocess.run(["/usr/bin/python3", script, sim_far] + real + ["--check", "--convergence-floor-ms", "2000"],
                          capture_output=True, text=True)
    expect(wide.returncode == 0, "bands are the caller's to widen")
    print("calibration table: medians, spreads, ratios and targets as specified")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
