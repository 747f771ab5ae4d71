"""The Python suite: the pbxstate module's bindings and the engine's behaviour through them.

Run it with scripts/pytest.sh BUILD_DIR (Debian's /usr/bin/python3, the build tree's module on
PYTHONPATH). The plugin under test is the project's own pytest plugin.
"""
import pathlib

import pytest

pytest_plugins = ["pbxstate_pytest", "pytester"]

REPO = pathlib.Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
BAD_CORPUS = REPO / "tests" / "scenario" / "bad"


@pytest.fixture
def repo():
    return REPO


def small_scenario(**overrides):
    """A three-node scenario as a dict (runs in a few hundredths of a second)."""
    d = {
        "name": "small",
        "seed": 1,
        "duration": "5s",
        "quiet": "2s",
        "cluster": {"nodes": 3},
        "workload": {
            "changes": [
                {"at": "1s", "node": 1, "device": "Custom:mystate", "state": "INUSE"},
                {"at": "2s", "node": 2, "mailbox": "1000@default", "new": 3, "old": 1},
            ]
        },
        "checks": ["lost == 0", "stale == 0"],
    }
    d.update(overrides)
    return d
