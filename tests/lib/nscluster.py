"""What the live tests and the CPG benchmark share on top of a namespace cluster.

The cluster is not built here: pbxstate.netns.Cluster (the Python module, pybind/) is sim/netns's
NetnsCluster, the same code as `pbxstate run --backend netns` (sim/netns/README.md): one network
namespace per node on a bridge in the host's namespace, addresses 198.18.0.<node>/24, a corosync
per node in a private mount namespace (its own /run, /var/lib/corosync), processes started on top,
nftables cuts, and a teardown that stops everything and can prove it (leftovers()). pbxstated is
talked to through pbxstate.control, the control library the daemon itself uses (control/).

This module adds the tests' conventions: finding the module, SKIP (77) and FAIL lines, waiting
with a named condition, a subscriber thread, run_checked, which always tears down and checks, a
cluster with one pbxstated per node (DaemonCluster), and live_test_main, the command line and the
end every live test of a DaemonCluster shares.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77  # CTest's SKIP_RETURN_CODE for the live tests


class TestFailure(Exception):
    pass


def import_pbxstate(near=None):
    """The pbxstate module, or None. Looks on PYTHONPATH (CTest sets it), then in
    <build>/pybind/python for a build-tree binary `near` (<build>/daemon/pbxstated)."""
    try:
        import pbxstate  # noqa: F401
    except ImportError:
        if near is None:
            return None
        build = os.path.dirname(os.path.dirname(os.path.abspath(near)))
        sys.path.insert(0, os.path.join(build, "pybind", "python"))
        try:
            import pbxstate  # noqa: F401,F811
        except ImportError:
            return None
    import pbxstate
    return pbxstate if hasattr(pbxstate, "netns") else None


def sh(args, check=True, timeout=20, **kw):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise TestFailure(f"command failed ({r.returncode}): {' '.join(args)}\n{r.stderr.strip()}")
    return r


def mono_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def wait_until(what, fn, timeout, interval=0.05):
    """Polls fn() every `interval` s until it returns a truthy value; fails naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (OSError, RuntimeError, TestFailure) as e:
            last = f"error: {e}"
        else:
            if last:
                return last
        time.sleep(interval)
    raise TestFailure(f"timed out after {timeout:.1f} s waiting for {what}; last seen: {last!r}")


class Control:
    """One pbxstated control connection (pbxstate.control.Client): request(op=..., fields) returns the
    response dict (a refusal too), ok(...) the reply or a TestFailure, request_line(text) sends text as
    it is (for the daemon's own refusals of malformed requests)."""

    def __init__(self, path, timeout=5.0):
        import pbxstate
        self.client = pbxstate.control.Client(path, timeout=timeout)

    def request(self, op, **fields):
        return self.client.request(op, **fields)

    def ok(self, op, **fields):
        r = self.client.request(op, **fields)
        if not r.get("ok"):
            raise TestFailure(f"request {op} {fields} refused: {r}")
        return r

    def request_line(self, line):
        return self.client.request_line(line)

    def pipeline(self, requests, timeout=60.0):
        return self.client.pipeline(requests, timeout)

    def close(self):
        self.client.close()


class Subscriber(threading.Thread):
    """A pbxstated `subscribe` connection (pbxstate.control.EventStream) read on a thread; keeps
    every event (decoded by the control library, as dicts)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        import pbxstate
        self.stream = pbxstate.control.EventStream(path)
        self.events = []
        self.closed = False
        self.error = None
        self.stopping = False
        self.lock = threading.Lock()
        self.start()

    def run(self):
        try:
            while not self.stopping and not self.stream.closed:
                events = self.stream.read(0.1)
                with self.lock:
                    self.events += events
        except (RuntimeError, ValueError) as e:
            self.error = e
        self.closed = True

    def close(self):
        """Stops reading and closes the connection (the daemon sees its subscriber go)."""
        self.stopping = True
        self.join(timeout=5)
        self.stream.close()

    def find(self, pred):
        with self.lock:
            for e in self.events:
                if pred(e):
                    return e
        return None

    def snapshot(self):
        with self.lock:
            return list(self.events)


def check_preconditions(pbxstated=None, tools=("corosync-cpgtool",)):
    """None when this machine can run a namespace cluster with the module, else the reason (SKIP)."""
    pbxstate = import_pbxstate(pbxstated)
    if pbxstate is None:
        return ("the Python module pbxstate with pbxstate.netns is not built (pybind/: python3-dev and "
                "pybind11-dev), or not on PYTHONPATH")
    why = pbxstate.netns.check_host()
    if why:
        return why
    for tool in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def skip(why):
    """Ends a live test as skipped (SKIP), saying why on stderr."""
    print(f"SKIPPED: {why}", file=sys.stderr)
    sys.exit(SKIP)


def fail(why):
    """Ends a live test as failed, saying why on stderr."""
    print(f"FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def require_run_host(pbxstated):
    """Skips (SKIP) unless this machine can run `pbxstate run` on namespaces (netns, emu): the
    preconditions of a namespace cluster and a built pbxstated."""
    why = check_preconditions(pbxstated, tools=())
    if why:
        skip(why)
    if not (os.path.isfile(pbxstated) and os.access(pbxstated, os.X_OK)):
        skip(f"pbxstated is not built ({pbxstated}): the build found no libcpg")


def ms(value):
    return None if value is None else value / 1000.0


class NamespaceCluster:
    """A test's view of a pbxstate.netns.Cluster: nodes 1..N, their corosyncs and processes.

    token_ms: corosync's totem token. 3000 (corosync's default) keeps a frozen node's ring stalled
    for seconds even on a busy machine; crashes are process deaths, which corosync sees at once.
    None leaves the key out (corosync's default applies). token_coefficient_ms and consensus_ms:
    the totem keys of the same names; None leaves them to corosync (650 ms per node above two;
    1.2 x token). See `man corosync.conf`.
    """

    def __init__(self, nodes, workdir, token_ms=3000, token_coefficient_ms=None, consensus_ms=None):
        self.nodes = tuple(nodes)
        if self.nodes != tuple(range(1, len(self.nodes) + 1)):
            raise ValueError(f"nodes must be 1..N, not {self.nodes}")
        self.workdir = workdir
        self.token_ms = token_ms
        self.token_coefficient_ms = token_coefficient_ms
        self.consensus_ms = consensus_ms
        self.net = None      # the pbxstate.netns.Cluster, once setup_network() built it
        self.dir = None      # its run folder: <workdir>/pbxst-<pid>
        self.corosync = {}   # node -> Process
        self.processes = {}  # (node, name) -> Process

    # ---- network ----
    def setup_network(self):
        import pbxstate
        self.net = pbxstate.netns.Cluster(nodes=len(self.nodes), work_dir=self.workdir, token=ms(self.token_ms),
                                          token_coefficient=ms(self.token_coefficient_ms),
                                          consensus=ms(self.consensus_ms))
        self.dir = self.net.run_dir

    def ns(self, node):
        return self.net.namespace(node)

    def addr(self, node):
        return self.net.address(node)

    def node_dir(self, node):
        return self.net.node_dir(node)

    def exec(self, node, argv, timeout=10):
        """Runs argv in the node's namespace; its output (TestFailure unless it exits 0)."""
        try:
            return self.net.exec(node, list(argv), timeout)
        except (RuntimeError, ValueError) as e:
            raise TestFailure(str(e))

    # ---- corosync ----
    def set_totem(self, token_ms, token_coefficient_ms, consensus_ms=None):
        """Totem timings for the corosyncs started from now on."""
        self.token_ms, self.token_coefficient_ms, self.consensus_ms = token_ms, token_coefficient_ms, consensus_ms
        self.net.set_totem(ms(token_ms), ms(token_coefficient_ms), ms(consensus_ms))

    def start_corosync(self, node):
        self.net.start_corosync(node)
        self.corosync[node] = self.net.corosync(node)

    def wait_corosync_ring(self, nodes=None, timeout=30):
        """Until every node of `nodes` (default: all) sees exactly `nodes` in its corosync membership."""
        nodes = list(self.nodes if nodes is None else nodes)
        try:
            self.net.wait_corosync_members(nodes, timeout)
        except RuntimeError as e:
            raise TestFailure(str(e))

    # ---- processes on top ----
    def spawn(self, node, name, argv, env=None):
        """Starts argv in node's namespace, output to <node dir>/<name>.out; kept as (node, name)."""
        p = self.net.spawn(node, name, list(argv), env)
        self.processes[(node, name)] = p
        return p

    def start_pbxstated(self, node, binary, conf, socket_path, timeout=20):
        """Starts pbxstated -c conf in node's namespace and waits until it answers `hello` on
        socket_path; fails at once, naming its output, if it exits. Returns (Process, hello)."""
        try:
            p, hello = self.net.start_pbxstated(node, binary, conf, socket_path, timeout)
        except RuntimeError as e:
            raise TestFailure(f"{e} (its log: {self.node_dir(node)}/pbxstated.log)")
        self.processes[(node, "pbxstated")] = p
        return p, hello

    # ---- teardown ----
    def teardown(self, grace_s=5):
        """SIGTERM to everything, SIGKILL after grace_s, namespaces and bridge deleted, libqb files removed."""
        if self.net is not None:
            self.net.teardown(grace_s)

    def leftovers(self):
        """What teardown left behind (namespaces, links, processes, /dev/shm files); [] when clean."""
        return [] if self.net is None else self.net.leftovers()


class DaemonCluster(NamespaceCluster):
    """A NamespaceCluster whose nodes run pbxstated (the binary `pbxstated`) in the CPG group
    `group`: each node's control socket, log and configuration in its node directory."""

    def __init__(self, nodes, workdir, pbxstated, group="pbxstate", **totem):
        super().__init__(nodes, workdir, **totem)
        self.pbxstated = pbxstated
        self.group = group
        self.daemons = {}  # node -> Process of its pbxstated

    def socket_path(self, node):
        return os.path.join(self.node_dir(node), "control.sock")

    def log_path(self, node):
        return os.path.join(self.node_dir(node), "pbxstated.log")

    def write_daemon_conf(self, node, corosync="", engine="", sections=""):
        """Writes node's pbxstated.yaml: its socket and log (level info), the group, engine.label
        n<node>; `corosync` and `engine` are more lines of those sections (indented, each ending in
        a newline), `sections` more top-level sections. Returns its path."""
        path = os.path.join(self.node_dir(node), "pbxstated.yaml")
        with open(path, "w") as f:
            f.write(f"control:\n  socket: {self.socket_path(node)}\n"
                    f"log:\n  file: {self.log_path(node)}\n  level: info\n"
                    f"corosync:\n  group: {self.group}\n{corosync}{sections}"
                    f"engine:\n  label: n{node}\n{engine}")
        return path

    def start_daemon(self, node, **conf):
        """Starts node's pbxstated on a new configuration (write_daemon_conf's `conf`) and waits for
        its `hello`, which it returns."""
        path = self.write_daemon_conf(node, **conf)
        self.daemons[node], hello = self.start_pbxstated(node, self.pbxstated, path, self.socket_path(node))
        return hello

    def ctl(self, node):
        """A new control connection to node's pbxstated; the caller closes it."""
        return Control(self.socket_path(node))

    def call(self, node, **req):
        """One request on a connection of its own: the reply, or a TestFailure when refused."""
        c = self.ctl(node)
        try:
            return c.ok(**req)
        finally:
            c.close()


def run_checked(cluster, body, teardown_grace_s=5):
    """Runs body() on a set-up-by-body cluster, then always tears the cluster down and checks that
    nothing is left. SIGINT and SIGTERM interrupt body; teardown still runs. Prints a FAIL line for
    a TestFailure, an unexpected exception or leftovers. Returns 0 when body returned and teardown
    was clean, else 1."""
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = 1
    try:
        body()
        code = 0
    except TestFailure as e:
        print(f"FAIL: {e}")
    except KeyboardInterrupt as e:
        print(f"interrupted ({e})")
    except Exception as e:  # an unexpected error is a failure too, and teardown still runs
        print(f"FAIL: unexpected {type(e).__name__}: {e}")
        import traceback
        traceback.print_exc()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.teardown(grace_s=teardown_grace_s)
        left = cluster.leftovers()
        if left:
            print(f"FAIL: teardown left {left}")
            code = 1
        else:
            print("ok: teardown left no namespace, link, process or libqb file")
    return code


def keep_or_remove(workdir, code, keep):
    """Keeps the run's directory (logs) after a failure or when asked; removes it otherwise."""
    if code != 0 or keep:
        print(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def live_test_main(prefix, make_cluster, body, add_arguments=None):
    """The whole main() of a live test of pbxstated on a namespace cluster: parses --pbxstated and
    --keep-dir (and what add_arguments(parser) adds), returns SKIP saying why when this machine
    cannot run it, else builds make_cluster(pbxstated, workdir) in a new <prefix>-* folder, runs
    body(cluster, args, report) under run_checked, prints what the test put in `report` (a dict)
    with the run's wall time as run_s, keeps or removes the folder, and returns the exit status."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pbxstated", required=True)
    parser.add_argument("--keep-dir", action="store_true", help="keep the temp dir (logs) after success")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    why = check_preconditions(args.pbxstated)
    if why:
        print(f"SKIP: {why}")
        return SKIP
    workdir = tempfile.mkdtemp(prefix=f"{prefix}-")
    cluster = make_cluster(os.path.abspath(args.pbxstated), workdir)
    report = {}
    t0 = time.monotonic()
    code = run_checked(cluster, lambda: body(cluster, args, report))
    report["run_s"] = round(time.monotonic() - t0, 1)
    print("measured: " + json.dumps(report))
    keep_or_remove(workdir, code, args.keep_dir)
    return code
