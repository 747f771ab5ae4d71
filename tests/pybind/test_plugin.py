"""The pytest plugin (pbxstate_pytest), run inside pytest's own pytester so that failures and
collection errors of the tests it drives can be checked."""
import pytest

import pbxstate
import pbxstate_pytest
from conftest import SCENARIOS


def test_scenario_files_gives_one_case_per_file():
    params = pbxstate_pytest.scenario_files(SCENARIOS)
    # Sorted by file name, as documented ("glomers-25-hub.yaml" before "glomers-25.yaml").
    assert [p.id for p in params] == [p.stem for p in sorted(SCENARIOS.glob("*.yaml"))]
    assert len(pbxstate_pytest.scenario_files(SCENARIOS, exclude=("large-1000",))) == len(params) - 1


def test_scenario_files_refuses_an_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="no scenario files"):
        pbxstate_pytest.scenario_files(tmp_path)


def test_marker_parametrizes_and_empty_folder_is_an_error(pytester):
    (pytester.path / "scen").mkdir()
    (pytester.path / "scen" / "a.yaml").write_text((SCENARIOS / "lan-3-mystate.yaml").read_text())
    (pytester.path / "scen" / "b.yaml").write_text("name: b\nduration: 10\ncluster: {nodes: 3}\n")
    (pytester.path / "empty").mkdir()
    pytester.makepyfile(test_x="""
        import pytest, pbxstate

        @pytest.mark.scenario_files("scen")
        def test_valid(scenario_file):
            pbxstate.Scenario.load(scenario_file)
    """, test_y="""
        import pytest

        @pytest.mark.scenario_files("empty")
        def test_nothing(scenario_file):
            pass
    """)
    result = pytester.runpytest("-p", "pbxstate_pytest", "test_x.py", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_valid?a? PASSED*", "*test_valid?b? FAILED*", "*b.yaml:2:11: duration: *"])
    result = pytester.runpytest("-p", "pbxstate_pytest", "test_y.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no scenario files (*.yaml) in*empty*"])


def test_cluster_fixture_and_marker(pytester):
    pytester.makepyfile("""
        import pytest

        def test_default(pbxstate_cluster):
            assert pbxstate_cluster.size == 3

        @pytest.mark.pbxstate_cluster(nodes=4, network={"loss": 0.5})
        def test_marked(pbxstate_cluster):
            assert pbxstate_cluster.size == 4
            pytest.cluster = pbxstate_cluster

        def test_closed_after():
            assert pytest.cluster.closed

        @pytest.mark.pbxstate_cluster(nodes=4, engine={"relays_per_site": 1, "node_sites": {1: 0, 2: 0, 3: 1, 4: 1}})
        def test_sites(pbxstate_cluster):
            pbxstate_cluster.register(0, "bob", "sip:bob@198.18.0.10", path="<sip:edge1;lr>", user_agent="UA/1")
            pbxstate_cluster.advance(1)
            (reg,) = pbxstate_cluster.registrations(3, "bob")
            assert (reg.path, reg.user_agent) == ("<sip:edge1;lr>", "UA/1")

        @pytest.mark.pbxstate_cluster(nodes=0)
        def test_bad_arguments(pbxstate_cluster):
            pass
    """)
    result = pytester.runpytest("-p", "pbxstate_pytest")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*ValueError: nodes: expected at least 1, got 0*"])


@pytest.mark.skipif(not pbxstate.HAVE_NS3, reason="module built without ns-3")
def test_scenario_run_fixture(pytester):
    pytester.makepyfile(f"""
        import pathlib

        def test_passing(scenario_run):
            run = scenario_run(r"{SCENARIOS / 'lan-3-mystate.yaml'}", check=True, report=True)
            assert (run.out / "run.json").exists() and (run.out / "report.html").exists()
            assert run.out.name == "01-lan-3-mystate"

        def test_failing_check(scenario_run):
            scenario_run({{"name": "f", "duration": "5s", "cluster": {{"nodes": 3}},
                          "workload": {{"changes": [{{"at": "1s", "node": 1, "device": "D:x", "state": "BUSY"}}]}},
                          "checks": ["changes > 5"]}}, check=True)
    """)
    keep = pytester.path / "kept"
    result = pytester.runpytest("-p", "pbxstate_pytest", f"--pbxstate-out={keep}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*f (seed 1): checks failed, record in*", "*FAIL changes > 5 (observed 1)*"])
    assert sorted(p.name for p in keep.iterdir()) == ["test_scenario_run_fixture.py_test_failing_check",
                                                      "test_scenario_run_fixture.py_test_passing"]
