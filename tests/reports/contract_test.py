"""The report scripts hold to what the C++ defines, as `pbxstate describe-metrics` prints it: which
metrics are durations (runrecord.py formats and compares them as such), the duration units and the
most seeds of a baseline (tolerances.py reads both from the command), and the gate itself refuses
one seed more than the command says and takes as many.

    PBXSTATE=build/sim/cli/pbxstate /usr/bin/python3 -m pytest tests/reports/contract_test.py
"""
import json
import os
import subprocess
import sys

import pytest

sys.dont_write_bytecode = True
REPORTS = os.environ.get("PBXSTATE_REPORTS_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "reports"))
sys.path.insert(0, REPORTS)
import runrecord  # noqa: E402
import tolerances  # noqa: E402

PBXSTATE = os.environ.get("PBXSTATE", os.path.join(tolerances.REPO, "build", "sim", "cli", "pbxstate"))
SCENARIO = os.path.join(tolerances.REPO, "scenarios", "lan-3-mystate.yaml")


@pytest.fixture(scope="module")
def described():
    done = subprocess.run([PBXSTATE, "describe-metrics"], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)


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
    rc, err = check_with_seeds(tmp_path, n + 1)
    assert rc == 2 and f"seeds: more than {n} seeds" in err, err
    rc, err = check_with_seeds(tmp_path, n)  # the seeds pass; the made-up metric stops it before a run
    assert rc == 2 and "seeds:" not in err and "not_a_gated_metric: not a gated metric" in err, err
