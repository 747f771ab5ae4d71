"""The report scripts hold to what the C++ defines, as `pbxstate describe-metrics` prints it: which
metrics are durations (runrecord.py formats and compares them as such), which way the gate holds a
gated metric (compare_report.py colours differences so), the columns of the run record's CSV files
(runrecord.py reads them), the duration units and the most seeds of a baseline (tolerances.py reads
both from the command), and the gate itself refuses one seed more than the command says and takes
as many. A real run's CSV headers are the described columns, and its run.json carries the fault
windows the runner applied, which the report reads as they are. The exit statuses the command
exports (which the Python tests read through tests/lib/cli_contract.py) are the ones real commands
return, and the ones scenarios/README.md's table lists.

    PBXSTATE=build/sim/cli/pbxstate /usr/bin/python3 -m pytest tests/reports/contract_test.py
"""
import os
import re
import subprocess
import sys

import pytest

sys.dont_write_bytecode = True
REPORTS = os.environ.get("PBXSTATE_REPORTS_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "reports"))
sys.path.insert(0, REPORTS)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cli_contract  # noqa: E402
import compare_report  # noqa: E402
import runrecord  # noqa: E402
import tolerances  # noqa: E402

PBXSTATE = os.environ.get("PBXSTATE", os.path.join(tolerances.REPO, "build", "sim", "cli", "pbxstate"))
SCENARIO = os.path.join(tolerances.REPO, "scenarios", "lan-3-mystate.yaml")


@pytest.fixture(scope="module")
def described():
    return cli_contract.describe_metrics(PBXSTATE)


def test_every_metric_is_a_duration_on_the_page_exactly_when_the_cpp_says_so(described):
    kinds = {m["name"]: m["kind"] for m in described["metrics"]}
    assert len(kinds) > 20 and "calls.location.looped_on_current_views" in kinds
    wrong = [f"{name}: {kind}" for name, kind in kinds.items()
             if runrecord.is_duration_metric(name) != (kind == "duration")]
    assert not wrong, "runrecord.DURATION_METRIC_PREFIXES disagrees with the C++ on: " + ", ".join(wrong)


def test_tolerances_reads_the_units_and_the_seed_bound_from_the_cpp(described):
    contract = tolerances.load_contract(PBXSTATE)
    assert contract.max_seeds == described["baseline"]["max_seeds"]
    assert list(contract.units_ns) == [u["name"] for u in described["duration_units"]]
    for u in described["duration_units"]:
        assert tolerances.parse_value(f"3{u['name']}", "f", contract.units_ns) == (3.0 * u["ns"], True)


def check_with_seeds(tmp_path, count):
    """`pbxstate check` of lan-3-mystate against a baseline of `count` seeds and a metric the gate
    does not know: (exit status, stderr). The baseline is read before anything runs."""
    seeds = ", ".join(str(s) for s in range(1, count + 1))
    (tmp_path / "lan-3-mystate.yaml").write_text(
        "format: pbxstate-baseline/1\nscenario: lan-3-mystate\nfile: scenarios/lan-3-mystate.yaml\n"
        f"seeds: [{seeds}]\nbackend: ns3\nmetrics:\n  not_a_gated_metric: {{value: 1, tolerance: 1%}}\n")
    done = subprocess.run([PBXSTATE, "check", SCENARIO, "--baseline", str(tmp_path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stderr


def test_the_gate_enforces_the_seed_bound_it_describes(described, tmp_path):
    n = described["baseline"]["max_seeds"]
    invalid = described["exit_status"]["invalid"]
    rc, err = check_with_seeds(tmp_path, n + 1)
    assert rc == invalid and f"seeds: more than {n} seeds" in err, err
    rc, err = check_with_seeds(tmp_path, n)  # the seeds pass; the made-up metric stops it before a run
    assert rc == invalid and "seeds:" not in err and "not_a_gated_metric: not a gated metric" in err, err


SHORT_SCENARIO = """name: contract-exit
duration: 1s
quiet: 500ms
cluster: {nodes: 3}
workload:
  changes:
    - {at: 100ms, node: 1, device: Custom:exit, state: INUSE}
checks:
  - CHECK
"""


def short_scenario(tmp_path, name, check):
    """SHORT_SCENARIO with `check` as its one check, written to tmp_path/<name>.yaml: its path."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(SHORT_SCENARIO.replace("CHECK", check))
    return str(path)


def exit_of(*args):
    """The exit status of `pbxstate ARGS`."""
    return subprocess.run([PBXSTATE, *args], capture_output=True, text=True, timeout=120).returncode


def test_the_exported_exit_statuses_are_the_ones_the_command_returns(described, tmp_path):
    status = cli_contract.exit_status(PBXSTATE)
    assert status._asdict() == described["exit_status"]
    assert len({status.ok, status.check_failed, status.invalid}) == 3
    passing, failing = short_scenario(tmp_path, "pass", "lost == 0"), short_scenario(tmp_path, "fail", "changes == 7")
    run = ["run", "--backend", "inproc", "--no-report", "-q", "--out"]
    assert exit_of(*run, str(tmp_path / "p"), passing) == status.ok
    assert exit_of(*run, str(tmp_path / "f"), failing) == status.check_failed
    assert exit_of("validate", short_scenario(tmp_path, "bad", "not_a_metric == 0")) == status.invalid
    assert exit_of("run", "--no-such-option", passing) == status.invalid


def test_the_readme_lists_the_exported_exit_statuses(described):
    """scenarios/README.md, "Exit status": one row a status, 128+N written from interrupted_base."""
    with open(os.path.join(tolerances.REPO, "scenarios", "README.md"), encoding="utf-8") as f:
        section = f.read().split("## Exit status", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| ([0-9+N]+) \|", section, re.MULTILINE)
    exported = described["exit_status"]
    assert listed == [str(exported["ok"]), str(exported["check_failed"]), str(exported["invalid"]),
                      f"{exported['interrupted_base']}+N"], listed


def test_every_gated_metric_is_judged_on_the_compare_page_the_way_the_gate_holds_it(described):
    gated = {m["name"]: m["gate"]["better"] for m in described["metrics"] if m["gate"]}
    assert gated.get("lost") == "lower" and gated.get("calls.location.completion_ratio") == "higher"
    wrong = []
    for m in described["metrics"]:
        expected = m["gate"]["better"] if m["gate"] else ("lower" if m["kind"] == "duration" else None)
        if compare_report.better(m["name"]) != expected:
            wrong.append(f"{m['name']}: page {compare_report.better(m['name'])}, gate {expected}")
    assert not wrong, "compare_report.GATED_LOWER/GATED_HIGHER disagree with the gate on: " + ", ".join(wrong)


def test_the_csv_columns_are_the_cpp_writers(described):
    exported = {f["name"]: [(c["name"], c["value"]) for c in f["columns"]] for f in described["csv_files"]}
    assert exported == runrecord.CSV_COLUMNS, "runrecord.CSV_COLUMNS differs from the C++ (harness/csv.h)"
    assert {value for columns in exported.values() for _, value in columns} <= set(runrecord.CSV_VALUES)


WINDOWS_SCENARIO = """name: contract-windows
duration: 4s
quiet: 1s
cluster: {nodes: 3}
workload: {devices: 10, rate: 20/s}
faults:
  - {at: 1s, partition: [[1], [2, 3]]}
  - {at: 2s, heal: {}}
  - {at: 2500ms, crash: 3}
  - {at: 3s, degrade: {loss: 5%}}
"""


def test_a_run_writes_the_described_csv_columns_and_the_fault_windows_it_applied(described, tmp_path):
    (tmp_path / "windows.yaml").write_text(WINDOWS_SCENARIO)
    out = tmp_path / "run"
    done = subprocess.run([PBXSTATE, "run", str(tmp_path / "windows.yaml"), "--out", str(out), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    for f in described["csv_files"]:
        with open(out / f["name"], encoding="utf-8") as csv_file:
            assert csv_file.readline().rstrip("\n").split(",") == [c["name"] for c in f["columns"]]
        assert runrecord.read_csv(str(out), f["name"]), f"{f['name']}: no rows"
    run = runrecord.load_run(str(out))
    end = run["scenario"]["duration_ns"] + run["scenario"]["quiet_ns"]
    assert run["fault_windows"] == [
        {"start_ns": 1000000000, "end_ns": 2000000000, "kind": "partition", "nodes": [1, 2, 3],
         "opened_by": "partition [1] [2,3]", "closed_by": "heal"},
        {"start_ns": 2500000000, "end_ns": end, "kind": "crash", "nodes": [3], "opened_by": "crash node 3",
         "closed_by": None},
        {"start_ns": 3000000000, "end_ns": end, "kind": "degrade", "nodes": [1, 2, 3], "opened_by": "degrade",
         "closed_by": None}]
    assert runrecord.fault_windows(run, str(out)) == [(1.0, 2.0, "partition [1] [2,3]"), (2.5, end / 1e9, "crash node 3"),
                                                      (3.0, end / 1e9, "degrade")]
    del run["fault_windows"]
    with pytest.raises(runrecord.ReportError, match="run.json: fault_windows: missing"):
        runrecord.fault_windows(run, str(out))
