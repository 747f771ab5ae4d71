"""Ctrl-C: a long scenario run or cluster.advance stops promptly with KeyboardInterrupt, and the
module stays usable. Each case runs in a child interpreter that gets a real SIGINT."""
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

import pbxstate
from conftest import SCENARIOS

# Python leaves SIGINT ignored when it starts with SIGINT ignored, and a launcher that starts the
# test command in the background without job control (`nohup ... &`, some CI agents) does exactly
# that; the child then never sees Ctrl-C. Ctrl-C at a terminal always reaches Python's default
# handler, so the child installs it as a terminal would have.
CHILD_PRELUDE = """
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)
"""

# A child that outlives this is hung, not slow: it is killed and the test fails.
WATCHDOG_SECONDS = 300

# A run of an hour of simulated time: minutes of wall time, far beyond the test's patience.
LONG_RUN = CHILD_PRELUDE + """
import sys, time, pbxstate
s = pbxstate.Scenario.from_dict({
    "name": "long", "seed": 1, "duration": "1h", "quiet": "1s", "cluster": {"nodes": 20},
    "workload": {"devices": 200, "rate": "20/s"}, "checks": ["lost == 0"]})
print("running", flush=True)
t0 = time.monotonic()
try:
    s.run()
    print("finished", flush=True)
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - t0:.2f} s", flush=True)
r = pbxstate.Scenario.load(sys.argv[1]).run()  # ns-3 was left clean
print("after", r.passed, flush=True)
"""

LONG_ADVANCE = CHILD_PRELUDE + """
import sys, time, pbxstate
c = pbxstate.Cluster(nodes=30)
print("running", flush=True)
try:
    c.advance(1e6)
    print("finished", flush=True)
except KeyboardInterrupt:
    print(f"interrupted at {c.now:.1f}", flush=True)
c.advance(3)
print("after", c.converged(), flush=True)
"""


def interrupt(script, *args):
    """Starts `script`, sends SIGINT one second into its long call; returns (output, seconds from
    the signal to the child's first line after it, exit status, stderr). Only the time to that
    line is a measure of promptness; what the child does after it (the module used again) may be
    slow on a busy machine, so it is bounded by a watchdog, far off, rather than measured."""
    # stderr goes to a file, so the child never blocks on it while stdout is read line by line
    # (communicate() would lose what readline() has already buffered).
    with tempfile.TemporaryFile("w+") as errors:
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
                                 stdout=subprocess.PIPE, stderr=errors, text=True)
        watchdog = threading.Timer(WATCHDOG_SECONDS, child.kill)
        watchdog.start()
        try:
            assert child.stdout.readline().strip() == "running"
            time.sleep(1.0)
            sent = time.monotonic()
            child.send_signal(signal.SIGINT)
            first = child.stdout.readline()
            took = time.monotonic() - sent
            rest = child.stdout.read()
            child.wait()
        finally:
            watchdog.cancel()
            if child.poll() is None:
                child.kill()
            child.wait()
            child.stdout.close()
        errors.seek(0)
        return first + rest, took, child.returncode, errors.read()


@pytest.mark.skipif(not pbxstate.HAVE_NS3, reason="module built without ns-3")
def test_ctrl_c_stops_a_scenario_run():
    out, took, status, err = interrupt(LONG_RUN, SCENARIOS / "lan-3-mystate.yaml")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("interrupted after "), out
    assert lines[1] == "after True"
    assert took < 10, f"{took:.1f} s from SIGINT to the run's KeyboardInterrupt"


def test_ctrl_c_stops_cluster_advance():
    out, took, status, err = interrupt(LONG_ADVANCE)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("interrupted at "), out
    now = float(lines[0].split()[-1])
    assert 0 < now < 1e6
    assert lines[1] == "after True"
    assert took < 10, f"{took:.1f} s from SIGINT to the run's KeyboardInterrupt"


@pytest.mark.skipif(not pbxstate.HAVE_NS3, reason="module built without ns-3")
def test_an_exception_from_a_signal_handler_stops_the_run_and_nested_runs_are_refused():
    # Python signal handlers run inside the run (when it looks for Ctrl-C). One that starts a run
    # itself must get an error, not a deadlock; its exception ends the outer run.
    s = pbxstate.Scenario.load(SCENARIOS / "partition-heal.yaml")

    def handler(signum, frame):
        s.run()

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        # The refusal proves the handler ran inside the run: after it, the nested run would be allowed.
        with pytest.raises(RuntimeError, match=r"called from inside a run on the same thread"):
            s.run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert s.run().passed
