"""bench/asterisk/paired_verdict.py on fixed inputs: the round pairing, the interval, the verdicts,
the invocation files it reads and the errors it names."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "asterisk"))
sys.dont_write_bytecode = True
import paired_verdict as pv  # noqa: E402


def run(round_no, single, mwi_new, mwi_existing):
    return {"round": round_no, "latency_ms": {"median": single}, "mwi_new_ms": {"median": mwi_new},
            "mwi_existing_ms": {"median": mwi_existing}}


def runs_with(ratios, theirs=1.2):
    """Theirs at `theirs` ms in every round, ours at theirs times each ratio (all three measures)."""
    return {"theirs": [run(k + 1, theirs, theirs, theirs) for k in range(len(ratios))],
            "ours": [run(k + 1, theirs * r, theirs * r, theirs * r) for k, r in enumerate(ratios)]}


def test_rounds_are_paired_by_number_and_unpaired_ones_left_out():
    runs = {"theirs": [run(1, 1.0, 1.0, 1.0), run(2, 2.0, 2.0, 2.0), run(4, 1.0, 1.0, 1.0)],
            "ours": [run(2, 1.0, 1.0, 1.0), run(1, 1.5, 1.5, 1.5), run(3, 9.0, 9.0, 9.0)]}
    assert pv.round_ratios(runs, "ours", "theirs", "latency_ms") == {1: 1.5, 2: 0.5}


def test_all_rounds_under_is_no_worse():
    result = pv.analyse(runs_with([0.90, 0.92, 0.95, 0.93, 0.97, 0.91, 0.94, 0.96]), "ours", "theirs")
    for v in result.values():
        assert v["verdict"] == "no worse"
        assert v["at_or_under"] == 8 and v["rounds"] == 8
        assert v["median_ratio"] == 0.935
        assert v["interval_95"][1] <= 1.0


def test_all_rounds_over_is_worse():
    result = pv.analyse(runs_with([1.06, 1.08, 1.05, 1.10, 1.07, 1.09, 1.04, 1.12]), "ours", "theirs")
    assert {v["verdict"] for v in result.values()} == {"worse"}
    assert all(v["interval_95"][0] > 1.0 and v["at_or_under"] == 0 for v in result.values())


def test_rounds_on_both_sides_cannot_tell():
    result = pv.analyse(runs_with([0.95, 1.05, 0.97, 1.04, 0.99, 1.02, 0.96, 1.06]), "ours", "theirs")
    assert {v["verdict"] for v in result.values()} == {"cannot tell"}
    low, high = result["latency_ms"]["interval_95"]
    assert low < 1.0 < high


def test_a_margin_moves_the_line():
    runs = runs_with([1.01, 1.02, 1.015, 1.03, 1.01, 1.02, 1.025, 1.02])
    assert pv.analyse(runs, "ours", "theirs")["latency_ms"]["verdict"] == "worse"
    assert pv.analyse(runs, "ours", "theirs", margin=0.05)["latency_ms"]["verdict"] == "no worse"


def test_the_interval_is_the_seeds_and_holds_the_median():
    values = [0.9, 1.1, 1.0, 1.2, 0.95, 1.05, 1.15, 0.85, 1.3, 0.8]
    first = pv.bootstrap_interval(values)
    assert first == pv.bootstrap_interval(values)
    assert first[0] <= sorted(values)[len(values) // 2] <= first[1]
    assert min(values) <= first[0] and first[1] <= max(values)
    # Another seed draws other resamples: the interval may move, the function stays deterministic.
    assert pv.bootstrap_interval(values, seed=1) == pv.bootstrap_interval(values, seed=1)


def test_too_few_rounds_cannot_tell():
    result = pv.analyse(runs_with([0.5, 0.5, 0.5, 0.5, 0.5]), "ours", "theirs")
    assert {v["verdict"] for v in result.values()} == {"cannot tell"}


def test_sign_test():
    assert pv.sign_test_p([0.9] * 8) == 2.0 / 256
    assert pv.sign_test_p([0.9, 1.1]) == 1.0
    assert pv.sign_test_p([1.0, 1.0]) == 1.0
    assert abs(pv.sign_test_p([0.9] * 9 + [1.1] * 2) - 2.0 * (1 + 11 + 55) / 2048) < 1e-12


def test_verdict_edges():
    assert pv.verdict(0.9, 1.0, 0.0) == "no worse"
    assert pv.verdict(1.0001, 1.2, 0.0) == "worse"
    assert pv.verdict(1.0, 1.2, 0.0) == "cannot tell"


def write_invocation(path, mode, single, mwi_new, mwi_existing, drop=None):
    r = {"latency_ms": {"median": single}, "mwi_latency_ms": {"median": mwi_new},
         "mwi_existing_latency_ms": {"median": mwi_existing}, "loadavg_at_latency": [1.5, 1.0, 1.0]}
    if drop:
        del r[drop]
    path.write_text(json.dumps({"modes": {mode: r}, "loadavg": [2.0, 1.0, 1.0]}))
    return str(path)


def test_invocation_files_and_the_json_written(tmp_path, capsys):
    args = []
    for k in range(1, 7):
        args.append("corosync:%d:%s" % (k, write_invocation(tmp_path / f"c{k}.json", "corosync", 1.2, 1.1, 1.1)))
        args.append("mine:%d:%s" % (k, write_invocation(tmp_path / f"m{k}.json", "pbxstate", 1.1, 1.2, 1.1)))
    out = tmp_path / "out.json"
    assert pv.main(["--ours", "mine", "--json", str(out)] + args) == 0
    written = json.loads(out.read_text())
    assert written["runs"]["mine"][0]["loadavg_at_latency"] == 1.5
    assert written["verdicts"]["latency_ms"]["verdict"] == "no worse"
    assert written["verdicts"]["mwi_new_ms"]["verdict"] == "worse"
    # equal medians: a ratio of 1 is not above 1, so no worse with no margin
    assert written["verdicts"]["mwi_existing_ms"]["verdict"] == "no worse"
    assert written["verdicts"]["mwi_existing_ms"]["sign_test_p"] == 1.0
    assert "| single change | 6 |" in capsys.readouterr().out
    # --runs reads it back to the same verdicts
    assert pv.main(["--ours", "mine", "--runs", str(out)]) == 0


def test_bad_input_names_file_and_field(tmp_path, capsys):
    bad = write_invocation(tmp_path / "bad.json", "pbxstate", 1.0, 1.0, 1.0, drop="mwi_latency_ms")
    good = write_invocation(tmp_path / "good.json", "corosync", 1.0, 1.0, 1.0)
    assert pv.main(["--ours", "mine", f"mine:1:{bad}", f"corosync:1:{good}"]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "modes.pbxstate.mwi_latency_ms.median" in err
    assert pv.main(["--ours", "mine", f"mine:1:{good}", f"mine:1:{good}"]) == 2
    assert "round given twice" in capsys.readouterr().err
    assert pv.main(["--ours", "mine", f"mine:1:{good}", f"corosync:1:{good}"]) == 2
    assert "at least 2 needed" in capsys.readouterr().err
    assert pv.main(["--ours", "mine", f"mine-one-{good}"]) == 2
    assert "MODULE:ROUND:PATH expected" in capsys.readouterr().err


def test_a_runs_file_without_medians_exits_2_naming_it(tmp_path, capsys):
    bad = tmp_path / "runs.json"
    bad.write_text(json.dumps({"runs": {"mine": [{"round": 1}], "corosync": [{"round": 1}]}}))
    assert pv.main(["--ours", "mine", "--runs", str(bad)]) == 2
    assert "runs.json: field runs" in capsys.readouterr().err
