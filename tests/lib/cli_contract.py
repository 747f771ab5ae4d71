"""What the Python tests read of the `pbxstate` command's own definitions instead of writing them
again: its hidden `describe-metrics` prints them as JSON from the C++
(engine/include/pbxstate/exit_status.h, shared with pbxstated, for the exit statuses,
sim/runner/include/pbxstate/runner/daemon_wait.h for the daemons' wait, ...).
tests/reports/contract_test.py holds the command to what it exports (each status is the one a
real command returns, and scenarios/README.md's table says the same).
"""
import collections
import functools
import json
import subprocess

DESCRIBE_TIMEOUT_S = 60  # the command prints constant tables; a hang is a failure

# The exit statuses of every `pbxstate` command: ok (every check passed), check_failed, invalid
# (bad input, a usage error, an invalid measurement) and interrupted_base (+ N for signal N).
ExitStatus = collections.namedtuple("ExitStatus", ("ok", "check_failed", "invalid", "interrupted_base"))


@functools.lru_cache(maxsize=None)
def _described_text(pbxstate):
    done = subprocess.run([pbxstate, "describe-metrics"], capture_output=True, text=True, check=True,
                          timeout=DESCRIBE_TIMEOUT_S)
    return done.stdout


def describe_metrics(pbxstate):
    """`pbxstate describe-metrics` of the command at path `pbxstate`, as a new dict (run once per
    path and process; the caller may change what it gets)."""
    return json.loads(_described_text(pbxstate))


def exit_status(pbxstate):
    """The command's exit statuses (an ExitStatus), as the C++ defines them; a field the command
    does not export, or one more than ExitStatus knows, raises KeyError naming it."""
    exported = describe_metrics(pbxstate)["exit_status"]
    unknown = set(exported) - set(ExitStatus._fields)
    if unknown:
        raise KeyError(f"{pbxstate} describe-metrics: exit_status has {sorted(unknown)}, which ExitStatus lacks")
    return ExitStatus(**{name: exported[name] for name in ExitStatus._fields})


def unexpected_exit(pbxstate, returncode, *expected):
    """None when `returncode` is one of the exit statuses named in `expected` (ExitStatus fields:
    "ok", "check_failed", "invalid"), else what to say: "exited 3, expected ok (0) or
    check_failed (1)"."""
    status = exit_status(pbxstate)
    codes = [getattr(status, name) for name in expected]
    if returncode in codes:
        return None
    return f"exited {returncode}, expected " + " or ".join(f"{n} ({c})" for n, c in zip(expected, codes))
