"""A corosync cluster on one host, in network namespaces, for the live tests and benchmarks.

Every live test (pbxstated, the forger, the benchmarks, two Asterisks with res_pbxstate) needs the
same ground: N network namespaces joined by veth pairs to a bridge that lives in one more
namespace (nothing is added to the host's own network namespace), addresses from 198.18.0.0/15,
one corosync per node in its own mount namespace with a private /run and /var/lib/corosync
(corosync's lock file and state dir are fixed paths), and a teardown that leaves nothing behind
and can prove it. This module is that ground; what runs on top (pbxstated, asterisk) is started
with NamespaceCluster.spawn and is killed and checked by the same teardown.

Names: namespaces <prefix>-<node> and <prefix>-br; addresses 198.18.<run>.<node>. Pick the prefix
from the test's pid so that parallel runs cannot collide.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

SKIP = 77  # CTest's SKIP_RETURN_CODE for the live tests


class TestFailure(Exception):
    pass


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
        except (OSError, TestFailure) as e:
            last = f"error: {e}"
        else:
            if last:
                return last
        time.sleep(interval)
    raise TestFailure(f"timed out after {timeout:.1f} s waiting for {what}; last seen: {last!r}")


class Control:
    """One pbxstated control connection: request/response lines (daemon/CONTROL.md)."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise TestFailure("control connection closed by pbxstated")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, **req):
        self.sock.sendall((json.dumps(req) + "\n").encode())
        return self.readline()

    def ok(self, **req):
        r = self.request(**req)
        if not r.get("ok"):
            raise TestFailure(f"request {req} refused: {r}")
        return r

    def close(self):
        self.sock.close()


class Subscriber(threading.Thread):
    """A pbxstated `subscribe` connection read on a thread; keeps every event line."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.control = Control(path)
        self.control.ok(op="subscribe")
        self.control.sock.settimeout(None)
        self.events = []
        self.closed = False
        self.lock = threading.Lock()
        self.start()

    def run(self):
        try:
            while True:
                e = self.control.readline()
                with self.lock:
                    self.events.append(e)
        except (TestFailure, OSError, ValueError):
            pass
        self.closed = True

    def find(self, pred):
        with self.lock:
            for e in self.events:
                if pred(e):
                    return e
        return None

    def snapshot(self):
        with self.lock:
            return list(self.events)


def check_preconditions(prefix, tools=("ip", "unshare", "corosync", "corosync-cpgtool")):
    """None when this machine can run a NamespaceCluster, else the reason (for a SKIP line)."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = f"{prefix}-probe"
    r = subprocess.run(["ip", "netns", "add", probe], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    try:
        r = subprocess.run(["ip", "netns", "exec", probe, "unshare", "--mount", "--propagation", "private",
                            "sh", "-c", "mount -t tmpfs tmpfs /run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode != 0:
            return f"cannot create a mount namespace with a private /run: {r.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe])
    return None


class NamespaceCluster:
    """Namespaces, a bridge and one corosync per node; processes started on top; a checked teardown.

    token_ms: corosync's totem token. 3000 (corosync's default) keeps a frozen node's ring stalled
    for seconds even on a busy machine; crashes are process deaths, which corosync sees at once.
    None leaves the key out (corosync's default applies). token_coefficient_ms and consensus_ms:
    the totem keys of the same names, left out (corosync's defaults: 650 ms per node above two;
    1.2 * token) when None. See `man corosync.conf`.
    """

    def __init__(self, prefix, run, nodes, workdir, token_ms=3000, cluster_name=None, token_coefficient_ms=None,
                 consensus_ms=None):
        self.prefix = prefix
        self.run = run
        self.nodes = tuple(nodes)
        self.dir = workdir
        self.token_ms = token_ms
        self.token_coefficient_ms = token_coefficient_ms
        self.consensus_ms = consensus_ms
        self.cluster_name = cluster_name or prefix
        self.namespaces = []
        self.corosync = {}   # node -> Popen
        self.processes = {}  # (node, name) -> Popen, started with spawn()
        self.all_pids = set()
        self.corosync_pids = set()

    # ---- network ----
    def ns(self, node):
        return f"{self.prefix}-{node}"

    def addr(self, node):
        return f"198.18.{self.run}.{node}"

    def setup_network(self):
        br_ns = f"{self.prefix}-br"
        sh(["ip", "netns", "add", br_ns])
        self.namespaces.append(br_ns)
        sh(["ip", "-n", br_ns, "link", "add", "br0", "type", "bridge"])
        sh(["ip", "-n", br_ns, "link", "set", "lo", "up"])
        sh(["ip", "-n", br_ns, "link", "set", "br0", "up"])
        for n in self.nodes:
            ns = self.ns(n)
            sh(["ip", "netns", "add", ns])
            self.namespaces.append(ns)
            sh(["ip", "-n", br_ns, "link", "add", f"v{n}", "type", "veth", "peer", "name", "eth0", "netns", ns])
            sh(["ip", "-n", br_ns, "link", "set", f"v{n}", "master", "br0", "up"])
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
            sh(["ip", "-n", ns, "addr", "add", f"{self.addr(n)}/24", "dev", "eth0"])
            sh(["ip", "-n", ns, "link", "set", "eth0", "up"])

    # ---- corosync ----
    def node_dir(self, node):
        d = os.path.join(self.dir, f"n{node}")
        os.makedirs(d, exist_ok=True)
        return d

    def write_corosync_conf(self, node):
        nodelist = "".join(
            f"  node {{\n    ring0_addr: {self.addr(n)}\n    nodeid: {n}\n    name: n{n}\n  }}\n" for n in self.nodes)
        conf = (
            "totem {\n  version: 2\n  cluster_name: " + self.cluster_name + "\n  transport: knet\n"
            "  crypto_cipher: none\n  crypto_hash: none\n"
            + self.totem_timeouts() + "  join: 50\n}\n"
            "nodelist {\n" + nodelist + "}\n"
            "logging {\n  to_logfile: yes\n  logfile: " + os.path.join(self.node_dir(node), "corosync.log") + "\n"
            "  to_stderr: no\n  to_syslog: no\n  timestamp: on\n"
            # The blackbox is an 8 MiB file per corosync in the host's /dev/shm, left at exit.
            "  blackbox: off\n}\n")
        path = os.path.join(self.node_dir(node), "corosync.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def totem_timeouts(self):
        """The totem timeout lines of corosync.conf; a key whose value is None is left to corosync."""
        keys = (("token", self.token_ms), ("token_coefficient", self.token_coefficient_ms),
                ("consensus", self.consensus_ms))
        return "".join(f"  {k}: {v}\n" for k, v in keys if v is not None)

    def start_corosync(self, node):
        conf = self.write_corosync_conf(node)
        script = ("mount -t tmpfs tmpfs /run && mkdir -p /run/corosync && "
                  "mount -t tmpfs tmpfs /var/lib/corosync && exec corosync -f -c " + conf)
        out = open(os.path.join(self.node_dir(node), "corosync.stdout"), "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(node), "unshare", "--mount", "--propagation", "private",
                              "sh", "-c", script], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.corosync[node] = p
        self.all_pids.add(p.pid)
        self.corosync_pids.add(p.pid)  # ip netns exec, unshare and sh exec: this is corosync's pid

    def wait_corosync_ring(self, nodes=None, timeout=30):
        nodes = self.nodes if nodes is None else nodes

        def ring_ok():
            for n in nodes:
                r = sh(["ip", "netns", "exec", self.ns(n), "corosync-cpgtool", "-e"], check=False)
                if r.returncode != 0:
                    return False
            return True
        wait_until(f"corosync answering on nodes {list(nodes)}", ring_ok, timeout)

    # ---- processes on top ----
    def spawn(self, node, name, argv, env=None):
        """Starts argv in node's network namespace, output to <node dir>/<name>.out; kept as (node, name)."""
        out = open(os.path.join(self.node_dir(node), f"{name}.out"), "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(node)] + list(argv), stdout=out,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        self.processes[(node, name)] = p
        self.all_pids.add(p.pid)
        return p

    def start_pbxstated(self, node, binary, conf, socket_path, timeout=20):
        """Starts pbxstated -c conf in node's namespace and waits until it answers `hello` on
        socket_path (daemon/CONTROL.md); fails at once, naming its log, if it exits. Returns
        (Popen, hello response)."""
        p = self.spawn(node, "pbxstated", [binary, "-c", conf])

        def hello():
            if p.poll() is not None:
                raise TestFailure(f"pbxstated on node {node} exited with {p.returncode} "
                                  f"(see {self.node_dir(node)}/pbxstated.log and pbxstated.out)")
            if not os.path.exists(socket_path):
                return None
            c = Control(socket_path)
            try:
                return c.ok(op="hello")
            finally:
                c.close()
        return p, wait_until(f"pbxstated on node {node} answering hello", hello, timeout)

    # ---- teardown ----
    def _all_popens(self):
        return list(self.processes.values()) + list(self.corosync.values())

    def teardown(self, grace_s=5):
        """SIGTERM to everything, SIGKILL after grace_s, namespaces deleted, libqb files removed."""
        for p in self._all_popens():
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace_s
        for p in self._all_popens():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        for ns in reversed(self.namespaces):
            sh(["ip", "netns", "del", ns], check=False)
        # libqb files of our corosyncs in the host's /dev/shm: blackboxes (none with the blackbox
        # off) and IPC directories qb-<server pid>-<client pid>-... (removed by a clean stop).
        for pid in self.corosync_pids:
            for name in os.listdir("/dev/shm"):
                if name.startswith(f"qb-corosync-{pid}-") or name.startswith(f"qb-{pid}-"):
                    path = os.path.join("/dev/shm", name)
                    if os.path.isdir(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        try:
                            os.unlink(path)
                        except OSError:
                            pass

    def leftovers(self):
        """What teardown left behind (namespaces, links, /dev/shm files, live processes); [] when clean."""
        left = []
        names = sh(["ip", "netns", "list"], check=False).stdout
        left += [f"namespace {line.split()[0]}" for line in names.splitlines() if line.startswith(self.prefix)]
        links = sh(["ip", "-o", "link"], check=False).stdout
        left += [f"link {line.split(':')[1].strip()}" for line in links.splitlines() if self.prefix in line]
        for pid in self.corosync_pids:
            left += [f"/dev/shm/{name}" for name in os.listdir("/dev/shm")
                     if name.startswith(f"qb-corosync-{pid}-") or name.startswith(f"qb-{pid}-")]
        for pid in self.all_pids:
            if os.path.exists(f"/proc/{pid}"):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        if f.read().split(")")[-1].split()[0] != "Z":
                            left.append(f"process {pid}")
                except OSError:
                    pass
        return left


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
            print("ok: teardown left no namespace, link or process")
    return code


def keep_or_remove(workdir, code, keep):
    """Keeps the run's directory (logs) after a failure or when asked; removes it otherwise."""
    if code != 0 or keep:
        print(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
