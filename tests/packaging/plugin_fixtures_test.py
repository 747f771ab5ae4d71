"""Tests that use the pbxstate pytest plugin's fixtures without naming the plugin: there is no
conftest.py beside this file and pytest is run without `-p`. They pass only when pytest loaded
the plugin through its pytest11 entry point (the .dist-info next to the installed module, or the
build tree's). Run by tests/packaging in the build tree and in the packages' test root.

PBXSTATE_TEST_SCENARIO names the scenario for scenario_run (default: the installed
lan-3-mystate.yaml).
"""
import os

import pbxstate

SCENARIO = os.environ.get("PBXSTATE_TEST_SCENARIO", "/usr/share/pbxstate/scenarios/lan-3-mystate.yaml")


def test_plugin_loaded_through_its_entry_point(pytestconfig):
    manager = pytestconfig.pluginmanager
    assert manager.get_plugin("pbxstate_pytest") is not None
    names = [getattr(dist, "project_name", None) or dist.metadata["name"] for _, dist in manager.list_plugin_distinfo()]
    assert "pbxstate" in names, f"plugins from distributions: {names}"


def test_cluster_fixture(pbxstate_cluster):
    pbxstate_cluster.set_device_state(0, "Custom:mystate", pbxstate.DeviceState.INUSE)
    pbxstate_cluster.advance(0.5)
    assert pbxstate_cluster.device_state(2, "Custom:mystate") == pbxstate.DeviceState.INUSE


def test_scenario_run_fixture(scenario_run):
    run = scenario_run(SCENARIO, report=True, check=True)
    assert run.passed


def test_scenario_run_fixture_with_a_dict(scenario_run):
    # A dict goes through Scenario.from_dict, which writes it out with PyYAML: the package's
    # dependencies must bring it.
    run = scenario_run({
        "name": "dict-lan-3",
        "seed": 1,
        "duration": "3s",
        "quiet": "1s",
        "cluster": {"nodes": 3},
        "network": {"lan": {"delay": "200us", "bandwidth": "1Gbps", "loss": "0%"}},
        "transport": "multicast",
        "workload": {"changes": [{"at": "1s", "node": 1, "device": "Custom:mystate", "state": "INUSE"}]},
        "checks": ["lost == 0", "stale == 0"],
    }, check=True)
    assert run.passed
