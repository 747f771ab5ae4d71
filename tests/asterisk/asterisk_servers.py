"""Asterisk servers in network namespaces, one per node of a NamespaceCluster (tests/lib/nscluster.py,
sim/netns underneath):
the pieces the integration test (asterisk_cluster_test.py) and the benchmark (bench/asterisk/)
share.

Each server gets its own directories under its node's directory, an asterisk.conf pointing at them,
its Entity ID (02:00:5e:00:00:<node>), systemname pbx<node>, and a modules directory of its own:
symlinks to the installed modules, plus the modules under test (res_pbxstate.so, res_pbxbench.so)
symlinked from the build tree. modules.conf loads exactly the list the caller gives.
"""

import os
import subprocess

from nscluster import NamespaceCluster, TestFailure, wait_until


def eid(node):
    return f"02:00:5e:00:00:{node:02x}"


def proc_cpu_s(pid):
    """User + system CPU seconds of process `pid` (all its threads) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class AsteriskServers(NamespaceCluster):
    """`asterisk` is <prefix>/sbin/asterisk; `extra_modules` maps a module file name to the path of a
    module built outside Asterisk (symlinked into every server's modules directory)."""

    def __init__(self, nodes, workdir, asterisk, modules_dir, extra_modules, token_ms=1000, extra_docs=()):
        # Process deaths are seen by CPG at once; the token only matters for lost nodes.
        super().__init__(nodes, workdir, token_ms=token_ms)
        self.asterisk = asterisk
        self.modules_dir = modules_dir
        self.extra_modules = dict(extra_modules)
        # Read-only: the XML documentation Asterisk's config framework needs at start; with
        # `extra_docs` (modules' own *-en_US.xml), a private copy of it that has them in thirdparty/.
        installed = os.path.join(os.path.dirname(os.path.dirname(asterisk)), "var", "lib", "asterisk")
        self.data_dir = self.data_dir_with(installed, extra_docs) if extra_docs else installed

    def data_dir_with(self, installed, extra_docs):
        """A data directory of symlinks to `installed`'s entries whose documentation/thirdparty also
        links each of `extra_docs`: Asterisk reads thirdparty documentation from there at start."""
        data = os.path.join(self.workdir, "asterisk-data")
        third = os.path.join(data, "documentation", "thirdparty")
        os.makedirs(third)
        for sub, into in (("", data), ("documentation", os.path.dirname(third)), ("documentation/thirdparty", third)):
            src = os.path.join(installed, sub)
            for name in os.listdir(src) if os.path.isdir(src) else ():
                if not os.path.lexists(os.path.join(into, name)):
                    os.symlink(os.path.join(src, name), os.path.join(into, name))
        for path in extra_docs:
            os.symlink(os.path.abspath(path), os.path.join(third, os.path.basename(path)))
        return data

    def conf_path(self, node):
        return os.path.join(self.node_dir(node), "etc", "asterisk.conf")

    def etc(self, node):
        return os.path.join(self.node_dir(node), "etc")

    def write_file(self, node, name, text):
        with open(os.path.join(self.etc(node), name), "w") as f:
            f.write(text)

    def write_asterisk_tree(self, node, modules):
        """Directories, asterisk.conf, modules.conf (autoload off, `modules` loaded) and logger.conf."""
        d = self.node_dir(node)
        for sub in ("etc", "lib", "db", "spool", "run", "log", "keys", "modules"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        mods = os.path.join(d, "modules")
        for name in os.listdir(self.modules_dir):
            dst = os.path.join(mods, name)
            if name not in self.extra_modules and not os.path.lexists(dst):
                os.symlink(os.path.join(self.modules_dir, name), dst)
        for name, path in self.extra_modules.items():
            dst = os.path.join(mods, name)
            if os.path.lexists(dst):
                os.unlink(dst)
            os.symlink(path, dst)
        etc = self.etc(node)
        self.write_file(node, "asterisk.conf",
                        "[directories]\n"
                        f"astetcdir => {etc}\nastmoddir => {mods}\nastvarlibdir => {d}/lib\n"
                        f"astdbdir => {d}/db\nastkeydir => {d}/keys\nastdatadir => {self.data_dir}\n"
                        f"astagidir => {d}/lib/agi-bin\nastspooldir => {d}/spool\nastrundir => {d}/run\n"
                        f"astlogdir => {d}/log\nastsbindir => {os.path.dirname(self.asterisk)}\n"
                        "[options]\n"
                        f"entityid = {eid(node)}\n"
                        "verbose = 3\ndebug = 0\n"
                        f"systemname = pbx{node}\n")
        self.write_file(node, "modules.conf", "[modules]\nautoload = no\n" + "".join(f"load => {m}\n" for m in modules))
        self.write_file(node, "logger.conf", "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose\n")

    def start_asterisk(self, node):
        """Starts the server (its tree must be written) and waits until it is fully booted."""
        # One malloc arena: glibc otherwise gives new threads (the module's, at every load) arenas
        # of their own, up to 8 per core, whose retained pages look like a leak until they are all
        # in use (measured: RSS flat at about +16 MB after 40 cycles). With one, RSS is exact.
        env = dict(os.environ, MALLOC_ARENA_MAX="1")
        p = self.spawn(node, "asterisk", [self.asterisk, "-C", self.conf_path(node), "-f"], env=env)

        def up():
            if p.poll() is not None:
                raise TestFailure(f"asterisk on server {node} exited with {p.returncode} "
                                  f"(see {self.node_dir(node)}/asterisk.out and log/messages.log)")
            r = self.cli_raw(node, "core waitfullybooted", timeout=10)
            return r.returncode == 0
        wait_until(f"asterisk on server {node} fully booted", up, 60, interval=0.2)
        return p

    def stop_asterisk(self, node, timeout=20):
        """`core stop now`, then waits for the process; SIGKILL if it lingers."""
        p = self.processes.pop((node, "asterisk"))
        self.cli_raw(node, "core stop now", timeout=timeout)
        try:
            p.wait(timeout=timeout)
        except (TimeoutError, subprocess.TimeoutExpired):
            p.kill()

    def cli_raw(self, node, command, timeout=20):
        return subprocess.run([self.asterisk, "-C", self.conf_path(node), "-rx", command], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)

    def cli(self, node, command, timeout=20):
        r = self.cli_raw(node, command, timeout=timeout)
        if r.returncode != 0:
            raise TestFailure(f"server {node}: '{command}' failed ({r.returncode}): {r.stdout.strip()}")
        return r.stdout

    def pid(self, node):
        return self.processes[(node, "asterisk")].pid

    def messages_log(self, node):
        path = os.path.join(self.node_dir(node), "log", "messages.log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()
