"""The Python suite: the pbxstate module's bindings and the engine's behaviour through them.

Run it with scripts/pytest.sh BUILD_DIR (Debian's /usr/bin/python3, the build tree's module on
PYTHONPATH). The plugin under test is the project's own pytest plugin.
"""
import pathlib
import threading
import time

import pytest

pytest_plugins = ["pbxstate_pytest", "pytester"]

REPO = pathlib.Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
BAD_CORPUS = REPO / "tests" / "sim" / "scenario" / "bad"


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


def run_beside_this_thread(fn, what):
    """Runs fn() on another thread while this one ticks every millisecond, and asserts that fn let
    it tick (held the GIL at no point for long): more than 50 ticks, no pause longer than a third
    of fn's wall time, which must be long enough (0.3 s) to tell. Returns fn's result."""
    done = threading.Event()
    result = {}

    def work():
        t = time.monotonic()
        result["value"] = fn()
        result["wall"] = time.monotonic() - t
        done.set()

    stamps = []
    thread = threading.Thread(target=work)
    thread.start()
    while not done.is_set():
        stamps.append(time.monotonic())
        time.sleep(0.001)
    thread.join()
    wall = result["wall"]
    assert wall > 0.3, f"the {what} was too short to tell"
    assert len(stamps) > 50, f"this thread ran {len(stamps)} times during a {wall:.3f} s {what}"
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert max(gaps) < wall / 3, f"longest pause {max(gaps):.3f} s of a {wall:.3f} s {what}"
    return result["value"]
