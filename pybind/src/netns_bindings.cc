#include "netns_bindings.h"

#include <pybind11/stl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "convert.h"
#include "json_values.h"
#include "pbxstate/netns/cluster.h"
#include "pbxstate/netns/pbxstated.h"
#include "pbxstate/netns/shaping.h"

namespace pbxstate::python {
namespace {

using netns::NetnsCluster;

void Check(const Status& st) {
  if (!st.ok()) ThrowStatus(st);
}

std::optional<Duration> OptionalSeconds(const std::optional<double>& seconds, const std::string& what) {
  if (!seconds) return std::nullopt;
  return FromSeconds(*seconds, what);
}

// The Python object's state; Process objects share it, so a cluster outlives its processes'
// handles. Every use of `cluster` holds `mu`, taken with the GIL released.
struct PyNetnsCluster {
  std::mutex mu;
  std::unique_ptr<NetnsCluster> cluster;  // null once torn down and closed
};

class Guard {
 public:
  explicit Guard(PyNetnsCluster& pc) : lock_(pc.mu) {
    if (!pc.cluster) throw std::runtime_error("the namespace cluster is closed");
    cluster_ = pc.cluster.get();
  }
  NetnsCluster* operator->() const { return cluster_; }
  NetnsCluster& operator*() const { return *cluster_; }

 private:
  std::unique_lock<std::mutex> lock_;
  NetnsCluster* cluster_ = nullptr;
};

NodeId CheckNode(const NetnsCluster& c, NodeId node) {
  if (node < 1 || node > c.size()) {
    throw py::index_error("node " + std::to_string(node) + " out of range: the cluster has nodes 1 to " +
                          std::to_string(c.size()));
  }
  return node;
}

// A process the cluster started (a node's corosync, or one started with spawn()), with
// subprocess.Popen's vocabulary: pid, poll(), wait(timeout), send_signal(), kill(), returncode.
class PyProcess {
 public:
  PyProcess(std::shared_ptr<PyNetnsCluster> pc, NodeId node, std::string name)
      : pc_(std::move(pc)), node_(node), name_(std::move(name)) {}

  int pid() {
    py::gil_scoped_release release;
    Guard c(*pc_);
    return Child(*c).pid() > 0 ? Child(*c).pid() : last_pid_;
  }
  // None while running, else the return code (negative: killed by that signal).
  py::object Poll() {
    std::optional<int> code;
    {
      py::gil_scoped_release release;
      Guard c(*pc_);
      code = Code(Child(*c));
    }
    return code ? py::object(py::int_(*code)) : py::object(py::none());
  }
  // Waits for the exit at most `timeout` seconds (None: 1 hour); TimeoutError after it.
  int Wait(std::optional<double> timeout) {
    const Duration t = FromSeconds(timeout.value_or(3600.0), "timeout");
    std::optional<int> code;
    {
      py::gil_scoped_release release;
      Guard c(*pc_);
      ChildProcess& child = Child(*c);
      if (child.WaitExit(t)) code = Code(child);
    }
    if (!code) {
      PyErr_SetString(PyExc_TimeoutError, (name_ + " of node " + std::to_string(node_) + " still runs after " +
                                           std::to_string(timeout.value_or(3600.0)) + " s").c_str());
      throw py::error_already_set();
    }
    return *code;
  }
  // The signal to the process alone (its group is signalled by kill() and the teardown).
  void SendSignal(int sig) {
    py::gil_scoped_release release;
    Guard c(*pc_);
    ChildProcess& child = Child(*c);
    if (child.Running()) ::kill(child.pid(), sig);
  }
  void Kill() {
    Status st;
    {
      py::gil_scoped_release release;
      Guard c(*pc_);
      st = Child(*c).Kill(std::chrono::seconds(5));
    }
    Check(st);
  }
  const std::string& name() const { return name_; }
  NodeId node() const { return node_; }

 private:
  using ChildProcess = netns::ChildProcess;
  ChildProcess& Child(NetnsCluster& c) {
    ChildProcess* p = name_ == "corosync" ? &c.corosync(node_) : c.Process(node_, name_);
    if (p == nullptr) throw std::runtime_error("no process " + name_ + " on node " + std::to_string(node_));
    if (p->pid() > 0) last_pid_ = p->pid();
    return *p;
  }
  static std::optional<int> Code(ChildProcess& child) {
    if (child.Running()) return std::nullopt;
    const int ws = child.wait_status();
    return WIFSIGNALED(ws) ? -WTERMSIG(ws) : WEXITSTATUS(ws);
  }

  std::shared_ptr<PyNetnsCluster> pc_;
  NodeId node_;
  std::string name_;
  int last_pid_ = 0;  // the pid once reaped, as Popen keeps it
};

std::shared_ptr<PyNetnsCluster> Create(std::uint32_t nodes, const std::string& work_dir, std::optional<double> token,
                                       std::optional<double> token_coefficient, std::optional<double> consensus,
                                       const std::string& corosync_transport) {
  netns::ClusterSpec spec;
  spec.nodes = nodes;
  spec.work_dir = work_dir;
  spec.token = OptionalSeconds(token, "token");
  spec.token_coefficient = OptionalSeconds(token_coefficient, "token_coefficient");
  spec.consensus = OptionalSeconds(consensus, "consensus");
  if (corosync_transport == "udp") {
    spec.corosync_transport = netns::CorosyncTransport::kUdp;
  } else if (corosync_transport != "knet") {
    throw py::value_error("corosync_transport: 'knet' or 'udp', not '" + corosync_transport + "'");
  }
  auto pc = std::make_shared<PyNetnsCluster>();
  Status st;
  {
    py::gil_scoped_release release;
    spec.shaping = netns::KernelHasNetem() ? netns::ShapingMethod::kNetem : netns::ShapingMethod::kNftablesTbf;
    st = NetnsCluster::Create(spec, &pc->cluster);
  }
  Check(st);
  return pc;
}

// Runs `fn(cluster)` with the GIL released and the cluster's lock held; raises its Status.
template <typename Fn>
void Do(PyNetnsCluster& pc, Fn fn) {
  Status st;
  {
    py::gil_scoped_release release;
    Guard c(pc);
    st = fn(*c);
  }
  Check(st);
}

void BindProcess(py::module_& m) {
  py::class_<PyProcess>(m, "Process", "A process of a namespace cluster, with subprocess.Popen's vocabulary.")
      .def_property_readonly("pid", &PyProcess::pid)
      .def_property_readonly("name", &PyProcess::name)
      .def_property_readonly("node", &PyProcess::node)
      .def_property_readonly("returncode", &PyProcess::Poll)
      .def("poll", &PyProcess::Poll, "None while it runs, else its return code (-N: killed by signal N).")
      .def("wait", &PyProcess::Wait, py::arg("timeout") = py::none(), "The return code; TimeoutError after `timeout` s.")
      .def("send_signal", &PyProcess::SendSignal, py::arg("signal"))
      .def("kill", &PyProcess::Kill, "SIGKILL to its process group, then reaped.");
}

void BindClusterLife(py::class_<PyNetnsCluster, std::shared_ptr<PyNetnsCluster>>& cls) {
  cls.def(py::init(&Create), py::arg("nodes"), py::arg("work_dir"), py::arg("token") = 1.0,
          py::arg("token_coefficient") = 0.0, py::arg("consensus") = py::none(), py::arg("corosync_transport") = "knet")
      .def("teardown", [](PyNetnsCluster& pc, double grace) {
        const Duration g = FromSeconds(grace, "grace");
        Do(pc, [g](NetnsCluster& c) { return c.Teardown(g); });
      }, py::arg("grace") = 0.0, "Stops every process (SIGTERM, SIGKILL after `grace` s), deletes namespaces and bridge.")
      .def("leftovers", [](PyNetnsCluster& pc) {
        py::gil_scoped_release release;
        Guard c(pc);
        return c->Leftovers();
      }, "What of this cluster is still on the host; [] after a clean teardown.")
      .def("__enter__", [](std::shared_ptr<PyNetnsCluster> pc) { return pc; })
      .def("__exit__", [](PyNetnsCluster& pc, const py::args&) {
        Do(pc, [](NetnsCluster& c) { return c.Teardown(Duration::zero()); });
      })
      .def_property_readonly("pid", [](PyNetnsCluster& pc) { return static_cast<int>(Guard(pc)->names().pid()); })
      .def_property_readonly("size", [](PyNetnsCluster& pc) { return Guard(pc)->size(); })
      .def_property_readonly("run_dir", [](PyNetnsCluster& pc) { return Guard(pc)->RunDir().string(); })
      .def("namespace", [](PyNetnsCluster& pc, NodeId n) { Guard c(pc); return c->names().Namespace(CheckNode(*c, n)); })
      .def("address", [](PyNetnsCluster& pc, NodeId n) { Guard c(pc); return c->names().Address(CheckNode(*c, n)); })
      .def("node_dir", [](PyNetnsCluster& pc, NodeId n) { Guard c(pc); return c->NodeDir(CheckNode(*c, n)).string(); });
}

void BindClusterCorosync(py::class_<PyNetnsCluster, std::shared_ptr<PyNetnsCluster>>& cls) {
  cls.def("start_corosync", [](PyNetnsCluster& pc, NodeId n) {
        Do(pc, [n](NetnsCluster& c) { return c.StartCorosync(CheckNode(c, n)); });
      }, py::arg("node"))
      .def("stop_corosync", [](PyNetnsCluster& pc, NodeId n, double timeout) {
        const Duration t = FromSeconds(timeout, "timeout");
        Do(pc, [n, t](NetnsCluster& c) { return c.StopCorosync(CheckNode(c, n), t); });
      }, py::arg("node"), py::arg("timeout") = 15.0, "SIGTERM, SIGKILL after `timeout` s.")
      .def("kill_corosync", [](PyNetnsCluster& pc, NodeId n) {
        Do(pc, [n](NetnsCluster& c) { return c.KillCorosync(CheckNode(c, n)); });
      }, py::arg("node"))
      .def("corosync", [](std::shared_ptr<PyNetnsCluster> pc, NodeId n) {
        { Guard c(*pc); CheckNode(*c, n); }
        return PyProcess(pc, n, "corosync");
      }, py::arg("node"), "The node's corosync as a Process.")
      .def("set_totem", [](PyNetnsCluster& pc, std::optional<double> token, std::optional<double> coefficient,
                           std::optional<double> consensus) {
        const auto t = OptionalSeconds(token, "token"), k = OptionalSeconds(coefficient, "token_coefficient"),
                   s = OptionalSeconds(consensus, "consensus");
        Do(pc, [&](NetnsCluster& c) { return c.SetTotem(t, k, s); });
      }, py::arg("token"), py::arg("token_coefficient"), py::arg("consensus") = py::none(),
         "Totem timings (seconds; None: corosync's default) for corosyncs started from now on.")
      .def("wait_corosync_members", [](PyNetnsCluster& pc, std::vector<NodeId> nodes, double timeout) {
        const Duration t = FromSeconds(timeout, "timeout");
        Do(pc, [&](NetnsCluster& c) { return c.WaitCorosyncMembers(nodes, t); });
      }, py::arg("nodes"), py::arg("timeout") = 30.0, "Until each of `nodes` sees exactly `nodes` (corosync-quorumtool).");
}

void BindClusterProcesses(py::class_<PyNetnsCluster, std::shared_ptr<PyNetnsCluster>>& cls) {
  cls.def("spawn", [](std::shared_ptr<PyNetnsCluster> pc, NodeId n, const std::string& name,
                      std::vector<std::string> argv, std::optional<std::map<std::string, std::string>> env) {
        std::vector<std::string> vars;
        for (const auto& [k, v] : env.value_or(std::map<std::string, std::string>{})) vars.push_back(k + "=" + v);
        Do(*pc, [&](NetnsCluster& c) { return c.Spawn(CheckNode(c, n), name, argv, name + ".out", vars); });
        return PyProcess(pc, n, name);
      }, py::arg("node"), py::arg("name"), py::arg("argv"), py::arg("env") = py::none(),
         "Starts argv in the node's namespace as its process `name` (output: node_dir/<name>.out; env: added variables).")
      .def("process", [](std::shared_ptr<PyNetnsCluster> pc, NodeId n, const std::string& name) {
        { Guard c(*pc); if (c->Process(CheckNode(*c, n), name) == nullptr) throw py::key_error(name); }
        return PyProcess(pc, n, name);
      }, py::arg("node"), py::arg("name"))
      .def("start_pbxstated", [](std::shared_ptr<PyNetnsCluster> pc, NodeId n, const std::string& binary,
                                 const std::string& config, const std::string& socket, double timeout) {
        netns::PbxstatedLaunch launch{binary, config, socket, "pbxstated.out", FromSeconds(timeout, "timeout")};
        control::HelloReply hello;
        Do(*pc, [&](NetnsCluster& c) { return netns::StartPbxstated(&c, CheckNode(c, n), launch, &hello); });
        return py::make_tuple(PyProcess(pc, n, NetnsCluster::kDaemonProcess), ToPython(control::EncodeReply(hello)));
      }, py::arg("node"), py::arg("binary"), py::arg("config"), py::arg("socket"), py::arg("timeout") = 20.0,
         "Starts `binary -c config` as the node's pbxstated; waits for `hello` on `socket`. Returns (Process, hello dict).")
      .def("exec", [](PyNetnsCluster& pc, NodeId n, std::vector<std::string> argv, double timeout) {
        const Duration t = FromSeconds(timeout, "timeout");
        std::string output;
        Do(pc, [&](NetnsCluster& c) { return c.Exec(CheckNode(c, n), argv, t, &output); });
        return output;
      }, py::arg("node"), py::arg("argv"), py::arg("timeout") = 10.0, "Runs argv in the node's namespace; its output.")
      .def("cut", [](PyNetnsCluster& pc, std::vector<std::vector<NodeId>> sides, bool one_way) {
        if (one_way && sides.size() != 2) throw py::value_error("a one-way cut has two sides");
        Do(pc, [&](NetnsCluster& c) {
          for (const auto& side : sides) for (NodeId n : side) CheckNode(c, n);
          return c.Cut(sides, one_way);
        });
      }, py::arg("sides"), py::arg("one_way") = false, "nftables drops between the sides (one way: sides[0] to sides[1]).")
      .def("heal", [](PyNetnsCluster& pc) { Do(pc, [](NetnsCluster& c) { return c.Heal(); }); })
      .def("set_link", [](PyNetnsCluster& pc, NodeId n, double delay, double loss, std::uint64_t rate_bps) {
        netns::NetemParams p;
        p.delay = FromSeconds(delay, "delay");
        p.loss = loss;
        p.rate_bps = rate_bps;
        Do(pc, [&](NetnsCluster& c) { return c.SetLink(CheckNode(c, n), p); });
      }, py::arg("node"), py::arg("delay") = 0.0, py::arg("loss") = 0.0, py::arg("rate_bps") = 0);
}

}  // namespace

void BindNetns(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "netns",
      "Namespace clusters on this host, built by sim/netns: the same code as `pbxstate run --backend netns`\n"
      "(namespaces on a bridge, a corosync per node in a private mount namespace, processes on top, nftables\n"
      "cuts, a checked teardown). Needs root; check_host() says why not.");
  m.attr("MAX_NODES") = netns::kMaxNodes;
  m.def("check_host", [] {
    Status st;
    {
      py::gil_scoped_release release;
      st = netns::CheckHostSupport();
    }
    return st.ok() ? py::object(py::none()) : py::object(py::str(st.message()));
  }, "None when this host can build a namespace cluster, else why not.");
  m.def("leftovers", [](int pid) { return netns::Leftovers(static_cast<pid_t>(pid)); }, py::arg("pid"),
        "Namespaces, links and processes of the run of process `pid` still on the host.");
  BindProcess(m);
  py::class_<PyNetnsCluster, std::shared_ptr<PyNetnsCluster>> cls(
      m, "Cluster",
      "Cluster(nodes, work_dir, token=1.0, token_coefficient=0.0, consensus=None, corosync_transport='knet'):\n"
      "nodes 1..N in namespaces on a bridge, corosync.conf written (totem timings in seconds; None leaves a\n"
      "key to corosync's default), nothing started. Files go to work_dir/pbxst-<pid>/n<node>/.");
  BindClusterLife(cls);
  BindClusterCorosync(cls);
  BindClusterProcesses(cls);
}

}  // namespace pbxstate::python
