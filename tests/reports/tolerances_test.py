"""reports/tolerances.py on hand-computed cases: the gate's median, the percentiles, the rule that
turns the seed subsets' spread into a tolerance, and the edit of a baseline file (only tolerances
change). No scenario is run: the one-seed baselines are written here and read with --reuse; the
gate's bounds and units come from the built pbxstate (describe-metrics), as the script reads them.

    PBXSTATE=build/sim/cli/pbxstate /usr/bin/python3 -m pytest tests/reports/tolerances_test.py
"""
import math
import os
import sys

import pytest

sys.dont_write_bytecode = True
sys.path.insert(0, os.environ.get("PBXSTATE_REPORTS_DIR",
                                  os.path.join(os.path.dirname(__file__), "..", "..", "reports")))
import tolerances  # noqa: E402

NAN, INF = tolerances.INTERRUPTED, tolerances.NEVER
PBXSTATE = os.environ.get("PBXSTATE", os.path.join(tolerances.REPO, "build", "sim", "cli", "pbxstate"))


@pytest.fixture(scope="module")
def contract():
    return tolerances.load_contract(PBXSTATE)


def test_values_are_read_in_the_gates_units(contract):
    units = contract.units_ns
    assert tolerances.parse_value("1.5ms", "f", units) == (1.5e6, True)
    assert tolerances.parse_value("0ms", "f", units) == (0.0, True)  # a duration of zero keeps its unit
    assert tolerances.parse_value("2", "f", units) == (2.0, False)
    assert tolerances.parse_value("never", "f", units) == (INF, True)
    assert math.isnan(tolerances.parse_value("interrupted", "f", units)[0])
    with pytest.raises(tolerances.BadInput, match="f: expected"):
        tolerances.parse_value("3 parsecs", "f", units)


def test_seeds_are_bounded_as_the_gate_bounds_them(contract):
    n = contract.max_seeds
    assert len(tolerances.parse_seeds(f"1-{n}", n)) == n
    with pytest.raises(tolerances.BadInput, match=f"1 to {n} distinct seeds"):
        tolerances.parse_seeds(f"1-{n + 1}", n)


def test_gate_median_is_the_lower_middle_in_the_gates_order():
    assert tolerances.gate_median([3, 1, 2]) == 2
    assert tolerances.gate_median([4, 1, 3, 2]) == 2  # even count: the lower middle, not 2.5
    assert math.isnan(tolerances.gate_median([INF, NAN, 5]))  # a time < interrupted < never
    assert tolerances.gate_median([INF, INF, 5]) == INF


def test_percentile_interpolates_between_ranks():
    assert tolerances.percentile([10, 20, 30, 40, 50], 50) == 30
    assert tolerances.percentile([10, 20], 1) == pytest.approx(10.1)  # 0.01 of the way
    assert tolerances.percentile([10, 20], 99) == pytest.approx(19.9)


def test_subsets_are_fixed_by_the_rng_seed():
    a = tolerances.draw_subsets(12, 5)
    assert a == tolerances.draw_subsets(12, 5) and len(a) == tolerances.SUBSET_COUNT
    assert all(len(set(s)) == 5 and max(s) < 12 for s in a)


# Four seeds, subsets of three: a subset's median is its lower pair's value, so half of the
# subsets (those holding both high seeds) give the high value. With values 100, 100, 100+x, 100+x
# the whole median is 100 (the lower middle), the 1st percentile of the subsets' medians 100 and
# the 99th 100+x: the spread is x %, the tolerance 1.5 x rounded up to 5 %.
@pytest.mark.parametrize("x, expected", [(20, 30), (10, 15), (7, 15), (1, 5), (60, 90), (67, 100), (200, 100)])
def test_tolerance_is_one_and_a_half_spreads_rounded_up(x, expected):
    subsets = tolerances.draw_subsets(4, 3)
    tol, spread, _ = tolerances.derive("stable_latency.p99", [100, 100, 100 + x, 100 + x], subsets)
    assert spread == pytest.approx(x / 100)
    assert tol == expected


def test_two_percent_when_no_subset_moves_the_median():
    # One high seed of five never reaches the middle of a three-seed subset.
    subsets = tolerances.draw_subsets(5, 3)
    assert tolerances.derive("bytes_per_change", [10, 10, 10, 10, 20], subsets)[0] == 2
    assert tolerances.derive("calls.location.incomplete_ratio", [0, 0, 0, 0], tolerances.draw_subsets(4, 3))[0] == 2


def test_five_percent_when_only_the_percentiles_stay_put():
    # Hand-made subsets: 199 of the low seeds, one of the high ones. The 99th percentile of 200
    # medians sits between ranks 198 and 199 (0-based 197.01), both low: a spread of 0, but a
    # subset did move the median, so this is not the unmoved 2 %.
    subsets = [[0, 1, 2]] * 199 + [[3, 4, 5]]
    tol, spread, _ = tolerances.derive("stable_latency.max", [100, 100, 100, 200, 200, 200], subsets)
    assert (tol, spread) == (5, 0.0)


def test_a_moved_median_of_zero_is_the_largest_tolerance():
    subsets = tolerances.draw_subsets(4, 3)
    assert tolerances.derive("calls.location.extra_hops.mean", [0, 0, 0.5, 0.5], subsets)[0] == 100


def test_counts_get_zero_and_unsettled_samples_ten():
    subsets = tolerances.draw_subsets(4, 3)
    for name in ("lost", "stale", "calls.blind_peer.looped"):
        assert tolerances.derive(name, [0, 1, 2, 3], subsets)[0] == 0
    assert tolerances.derive("convergence.2.after_restart", [NAN] * 4, subsets)[0] == 10
    assert tolerances.derive("convergence.1.after_heal", [1e9, 1e9, INF, 1e9], subsets)[0] == 10


BASELINE = """\
# a comment kept as it is
format: pbxstate-baseline/1
scenario: demo
file: scenarios/demo.yaml
seeds: [7, 8, 9]
backend: ns3
metrics:
  convergence.1.after_heal: {{value: 1s, tolerance: 50%, floor: 1ms}}  # heal at 20 s
  bytes_per_change: {{value: 0.00001, tolerance: 5%}}
  lost: {{value: 0, tolerance: 0%}}
"""


def write_seed(work, seed, heal, cost):
    d = os.path.join(work, "demo", f"seed-{seed}")
    os.makedirs(d)
    with open(os.path.join(d, "demo.yaml"), "w", encoding="utf-8") as f:
        f.write(BASELINE.format().replace("1s,", f"{heal},").replace("0.00001,", f"{cost},"))


def test_write_sets_only_the_tolerances(tmp_path, capsys):
    work = str(tmp_path / "work")
    for seed, heal, cost in [(1, "100ms", "0.00001"), (2, "100ms", "0.00001"), (3, "1.2s", "0.00001"),
                             (4, "1.2s", "0.00002")]:
        write_seed(work, seed, heal, cost)
    path = str(tmp_path / "demo.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(BASELINE.format())
    assert tolerances.main(["t", path, "--seeds", "1-4", "--work", work, "--reuse", "--write",
                           "--pbxstate", PBXSTATE]) == 0
    # heal: 100 ms, 100 ms, 1.2 s, 1.2 s -> spread 1100 %, capped; cost: one high seed of four never
    # reaches a three-seed median; lost: a count.
    expected = BASELINE.format().replace("tolerance: 50%", "tolerance: 100%").replace("tolerance: 5%", "tolerance: 2%")
    with open(path, encoding="utf-8") as f:
        assert f.read() == expected
    assert "convergence.1.after_heal" in capsys.readouterr().out


def test_bad_input_names_file_line_and_field(tmp_path, capsys):
    path = str(tmp_path / "demo.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(BASELINE.format().replace("{value: 0, tolerance: 0%}", "{value: 0}"))
    assert tolerances.main(["t", path, "--seeds", "1-4", "--work", str(tmp_path), "--reuse",
                           "--pbxstate", PBXSTATE]) == 2
    assert f"{path}:10: metrics:" in capsys.readouterr().err
    assert tolerances.main(["t", path, "--seeds", "4-1", "--work", str(tmp_path), "--reuse",
                           "--pbxstate", PBXSTATE]) == 2
    assert "--seeds" in capsys.readouterr().err
    with open(path, "w", encoding="utf-8") as f:
        f.write(BASELINE.format())
    assert tolerances.main(["t", path, "--seeds", "1-4", "--work", str(tmp_path), "--reuse",
                           "--pbxstate", PBXSTATE]) == 2
    assert "seed-1" in capsys.readouterr().err  # no one-seed baseline to reuse: named, not guessed


def test_a_pbxstate_that_cannot_describe_the_gate_is_named(tmp_path, capsys):
    path = str(tmp_path / "demo.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(BASELINE.format())
    missing = str(tmp_path / "no-pbxstate")
    args = ["t", path, "--seeds", "1-4", "--work", str(tmp_path), "--reuse", "--pbxstate", missing]
    assert tolerances.main(args) == 2
    assert f"--pbxstate: `{missing} describe-metrics`" in capsys.readouterr().err
