"""The module itself: identity, the DeviceState enum, the exception classes."""
import pickle
import re

import pytest

import pbxstate
from conftest import REPO


def test_version_is_the_projects():
    text = (REPO / "CMakeLists.txt").read_text()
    version = re.search(r"project\(pbxstate VERSION ([0-9.]+)", text).group(1)
    assert pbxstate.__version__ == version
    assert pbxstate.build_identity().startswith(f"pbxstate {version} (")


ASTERISK = {"UNKNOWN": 0, "NOT_INUSE": 1, "INUSE": 2, "BUSY": 3, "INVALID": 4, "UNAVAILABLE": 5,
            "RINGING": 6, "RINGINUSE": 7, "ONHOLD": 8}


def test_device_states_have_asterisks_names_and_numbers():
    assert {name: int(member) for name, member in pbxstate.DeviceState.__members__.items()} == ASTERISK
    assert pbxstate.DeviceState.NOT_INUSE.name == "NOT_INUSE"
    assert repr(pbxstate.DeviceState.RINGINUSE) == "<DeviceState.RINGINUSE: 7>"


@pytest.mark.parametrize("text,state", [("INUSE", "INUSE"), ("inuse", "INUSE"), ("Not_InUse", "NOT_INUSE"),
                                        ("ONHOLD", "ONHOLD")])
def test_parse_accepts_names_in_any_case(text, state):
    assert pbxstate.DeviceState.parse(text) == pbxstate.DeviceState.__members__[state]


def test_parse_refuses_unknown_names_and_other_types():
    with pytest.raises(ValueError, match=r"unknown device state 'IN_USE'; expected one of UNKNOWN, NOT_INUSE"):
        pbxstate.DeviceState.parse("IN_USE")
    with pytest.raises(TypeError, match="expected a DeviceState or a state name"):
        pbxstate.DeviceState.parse(2)


def test_exception_classes():
    assert issubclass(pbxstate.ScenarioError, ValueError)
    assert issubclass(pbxstate.NodeDownError, RuntimeError)
    assert pbxstate.ScenarioError.__module__ == "pbxstate"


def test_scenario_error_pickles_with_its_attributes():
    with pytest.raises(pbxstate.ScenarioError) as info:
        pbxstate.Scenario.from_yaml("name: x\nduration: 10\ncluster: {nodes: 3}\n", file="t.yaml")
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)
    assert (copy.file, copy.line, copy.column, copy.path, copy.message) == \
        (info.value.file, info.value.line, info.value.column, info.value.path, info.value.message)
    assert len(copy.errors) == len(info.value.errors)


@pytest.mark.skipif(pbxstate.HAVE_NS3, reason="this build has ns-3 (test_run.py runs scenarios)")
def test_run_without_ns3_says_so():
    s = pbxstate.Scenario.load(REPO / "scenarios" / "lan-3-mystate.yaml")  # loading still works
    with pytest.raises(RuntimeError, match="built without ns-3"):
        s.run()
