"""Scenario.run through the module: metrics, checks, the run record, reports, determinism, and
the GIL released while ns-3 runs."""
import json
import math
import subprocess
import threading

import pytest

import pbxstate
from conftest import SCENARIOS, run_beside_this_thread, small_scenario
from test_scenario import cli

pytestmark = pytest.mark.skipif(not pbxstate.HAVE_NS3, reason="module built without ns-3")


def test_lan_3_mystate(scenario_run):
    run = scenario_run(SCENARIOS / "lan-3-mystate.yaml", check=True)
    assert run.passed
    assert (run.seed, run.backend, run.scenario.name) == (1, "ns3", "lan-3-mystate")
    assert (run.lost, run.stale, run.changes) == (0, 0, 2)
    # Two changes, each delivered to two other nodes over a 200 us LAN.
    assert run.delivery_latency.count == 4 and run.stable_latency.count == 2
    assert 0.0002 <= run.stable_latency.p50 <= run.stable_latency.p99 <= run.stable_latency.max < 0.05
    assert run.metrics["stable_latency.p99"] == run.stable_latency.p99
    assert run.metrics["lost"] == 0 and isinstance(run.metrics["lost"], int)
    assert run.messages_per_change == run.metrics["messages_per_change"] > 0
    assert [c.text for c in run.checks] == run.scenario.checks
    assert all(c.passed and c.measured and bool(c) for c in run.checks)
    lat = next(c for c in run.checks if c.metric == "stable_latency.max")
    assert (lat.op, lat.limit, lat.observed) == ("<", 0.05, run.stable_latency.max)
    assert run.convergence == []  # no faults
    assert len(run.nodes) == 3 and all(n["up_at_end"] for n in run.nodes)
    assert len({n["final_digest"] for n in run.nodes}) == 1
    assert run.discrepancies == []
    assert run.events > 0 and run.wall_seconds > 0
    assert repr(run) == "<pbxstate.Run lan-3-mystate seed=1 passed lost=0 stale=0 changes=2>"
    assert repr(run.stable_latency).startswith("<pbxstate.Latency count=2 p50=")


def test_run_record_is_the_cli_format(scenario_run):
    run = scenario_run(SCENARIOS / "lan-3-mystate.yaml", seed=9)
    record = json.loads(run.to_json())
    assert record["format"] == "pbxstate-run/1"
    assert record["seed"] == 9 and record["verdict"] == "pass"
    assert record["metrics"]["changes"] == 2
    assert record["build"] == pbxstate.build_identity()
    assert (run.out / "run.json").read_text() == run.to_json()
    assert {p.name for p in run.out.iterdir()} >= {"run.json", "timing.json", "latencies.csv", "changes.csv"}


@pytest.mark.skipif(cli() is None, reason="the pbxstate command is not built next to the module")
def test_to_json_is_byte_identical_to_pbxstate_run(tmp_path):
    path = str(SCENARIOS / "crash-restart.yaml")
    done = subprocess.run([str(cli()), "run", path, "--seed", "4", "-q", "--no-report", "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run = pbxstate.Scenario.load(path).run(seed=4)
    expected = (tmp_path / "run.json").read_text()
    # The build identity names the git commit at configure time, which may differ between the two
    # binaries of one build tree; everything else must be byte for byte the same.
    cli_build = json.loads(expected)["build"]
    expected = expected.replace(json.dumps(cli_build), json.dumps(pbxstate.build_identity()), 1)
    assert run.to_json() == expected


def test_partition_heal_converges(scenario_run):
    run = scenario_run(SCENARIOS / "partition-heal.yaml", check=True)
    assert [c["after"] for c in run.convergence] == ["heal"]
    heal = run.convergence[0]
    assert heal["fault"] == "heal" and heal["at"] == 20.0
    assert heal["took"] is not None and 0 < heal["took"] < 3
    assert run.metrics["convergence.after_heal.max"] == heal["took"]
    assert run.lost == 0 and run.stale == 0


def test_crash_restart_convergence_samples(scenario_run):
    run = scenario_run(SCENARIOS / "crash-restart.yaml")
    assert [c["after"] for c in run.convergence] == ["crash", "restart"]
    assert [c["at"] for c in run.convergence] == [8.0, 18.0]
    assert all(c["took"] is not None for c in run.convergence)


def test_same_seed_same_record_other_seed_other_run():
    s = pbxstate.Scenario.load(SCENARIOS / "crash-restart.yaml")
    a, b, c = s.run(seed=5), s.run(seed=5), s.run(seed=6)
    assert a.to_json() == b.to_json()
    assert c.seed == 6
    assert [n["final_digest"] for n in a.nodes] != [n["final_digest"] for n in c.nodes]


def test_a_failing_check_is_reported(scenario_run):
    run = scenario_run(small_scenario(checks=["lost == 0", "stable_latency.max < 1us", "changes > 5"]))
    assert not run.passed
    assert [c.passed for c in run.checks] == [True, False, False]
    assert "FAILED" in repr(run)
    from pbxstate_pytest import failed_checks
    assert failed_checks(run).splitlines() == [
        f"FAIL stable_latency.max < 1us (observed {run.stable_latency.max!r})", "FAIL changes > 5 (observed 2)"]


def test_a_check_for_other_backends_is_not_applicable(scenario_run):
    run = scenario_run(small_scenario(checks=["lost == 0", {"check": "changes > 5", "backends": ["emu", "netns"]}]))
    assert run.passed
    na = run.checks[1]
    assert (na.passed, na.measured, bool(na)) == (False, False, True)
    assert na.not_applicable == "not applicable on ns3 (the check is for emu, netns)"
    assert run.checks[0].not_applicable is None
    assert (run.checks[0].backends, na.backends) == ([], ["emu", "netns"])
    assert run.scenario.check_backends == [[], ["emu", "netns"]]
    assert "N/A" in repr(na)
    from pbxstate_pytest import failed_checks
    assert failed_checks(run) == ""


def test_a_scenario_ns3_cannot_run_raises_value_error():
    s = pbxstate.Scenario.from_dict(small_scenario(faults=[{"at": "2s", "degrade": {"bandwidth": "10Mbps"}},
                                                           {"at": "3s", "restore": {}}]))
    with pytest.raises(ValueError, match=r"^<dict>:\d+:\d+: faults.degrade.bandwidth: the ns-3 backend cannot change"):
        s.run()


def test_write_report(tmp_path):
    run = pbxstate.Scenario.load(SCENARIOS / "lan-3-mystate.yaml").run()
    page = run.write_report(tmp_path / "rep")
    assert page == tmp_path / "rep" / "report.html"
    assert "lan-3-mystate" in page.read_text()
    assert (tmp_path / "rep" / "run.json").read_text() == run.to_json()


def test_write_report_names_a_missing_script(tmp_path, monkeypatch):
    run = pbxstate.Scenario.load(SCENARIOS / "lan-3-mystate.yaml").run()
    monkeypatch.setenv("PBXSTATE_REPORTS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(RuntimeError, match="nowhere/html_report.py not found"):
        run.write_report(tmp_path / "rep")
    assert (tmp_path / "rep" / "run.json").exists()  # the record is written first


def test_run_releases_the_gil():
    s = pbxstate.Scenario.load(SCENARIOS / "partition-heal.yaml")
    # Holding the GIL through the run would stop this thread for the whole run.
    run = run_beside_this_thread(s.run, "run")
    assert run.passed


def test_runs_from_two_threads_take_turns():
    s = pbxstate.Scenario.load(SCENARIOS / "crash-restart.yaml")
    runs = [None, None]

    def work(i):
        runs[i] = s.run(seed=5)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runs[0].to_json() == runs[1].to_json()
    assert not math.isnan(runs[0].metrics["convergence.after_crash.max"])
