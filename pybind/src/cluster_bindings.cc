#include "cluster_bindings.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster_values.h"
#include "convert.h"
#include "device_state.h"
#include "engine_settings.h"
#include "errors.h"
#include "interrupt.h"
#include "pbxstate/inproc/cluster.h"

namespace pbxstate::python {
namespace {

using inproc::Cluster;
using inproc::LinkFaults;

// advance() runs in steps of this much virtual time, polling for Ctrl-C between steps. Advancing
// in steps gives the same run as one Advance (events run in time order either way).
constexpr Duration kAdvanceStep = std::chrono::milliseconds(100);

// The Python object's state. advance() releases the GIL, so another Python thread may call in
// meanwhile: every use of `cluster` holds `mu`, and nobody waits for `mu` while holding the GIL
// (Guard releases it first), so the two locks cannot deadlock.
struct PyCluster {
  std::mutex mu;
  std::unique_ptr<Cluster> cluster;  // null once closed
};

// Holds PyCluster::mu for one call; raises RuntimeError when the cluster is closed.
class Guard {
 public:
  explicit Guard(PyCluster& pc) : lock_(pc.mu, std::try_to_lock) {
    if (!lock_.owns_lock()) {
      py::gil_scoped_release release;
      lock_.lock();
    }
    if (!pc.cluster) throw std::runtime_error("the cluster is closed");
    cluster_ = pc.cluster.get();
  }
  Cluster& operator*() const { return *cluster_; }
  Cluster* operator->() const { return cluster_; }

 private:
  std::unique_lock<std::mutex> lock_;
  Cluster* cluster_ = nullptr;
};

std::string IndexText(long long i) { return std::to_string(i); }

// Node index `i` of `c`, or IndexError.
std::size_t NodeIndex(const Cluster& c, long long i) {
  if (i < 0 || static_cast<unsigned long long>(i) >= c.size()) {
    throw py::index_error("node " + IndexText(i) + " out of range: the cluster has " + std::to_string(c.size()) +
                          " nodes (0 to " + std::to_string(c.size() - 1) + ")");
  }
  return static_cast<std::size_t>(i);
}

// Node index `i` of `c`, which must be up: IndexError or NodeDownError.
std::size_t UpNode(const Cluster& c, long long i) {
  const std::size_t n = NodeIndex(c, i);
  if (!c.up(n)) RaiseNodeDown("node " + IndexText(i) + " is down (crashed); restart(" + IndexText(i) + ") brings it back");
  return n;
}

void Check(const Status& st) {
  if (!st.ok()) ThrowStatus(st);
}

std::size_t IndexOf(NodeId id) { return static_cast<std::size_t>(id) - 1; }

MembershipSource MembershipArg(const std::string& v) {
  if (v == "heartbeat") return MembershipSource::kHeartbeat;
  if (v == "transport") return MembershipSource::kTransport;
  throw py::value_error("membership: expected 'heartbeat' or 'transport', got '" + v + "'");
}

inproc::TransportViews ViewsArg(const std::string& v) {
  if (v == "per_node") return inproc::TransportViews::kPerNode;
  if (v == "consistent") return inproc::TransportViews::kConsistent;
  throw py::value_error("transport_views: expected 'per_node' or 'consistent', got '" + v + "'");
}

std::unique_ptr<PyCluster> MakeCluster(long long nodes, const py::object& network, std::uint64_t seed,
                                       const std::string& membership, const py::object& engine,
                                       const std::string& transport_views, double membership_delay) {
  if (nodes < 1) throw py::value_error("nodes: expected at least 1, got " + std::to_string(nodes));
  inproc::ClusterOptions options;
  options.nodes = static_cast<std::size_t>(nodes);
  options.seed = seed;
  options.link = NetworkArg(network);
  options.membership = MembershipArg(membership);
  options.engine = EngineArg(engine);
  options.transport_views = ViewsArg(transport_views);
  options.membership_delay = FromSeconds(membership_delay, "membership_delay");
  auto pc = std::make_unique<PyCluster>();
  Check(Cluster::Create(options, &pc->cluster));
  return pc;
}

void Advance(PyCluster& pc, double seconds) {
  const Duration total = FromSeconds(seconds, "advance");
  InterruptWatch watch;
  Status st;
  bool closed = false;
  {
    py::gil_scoped_release release;
    Duration left = total;
    while (left > Duration::zero()) {
      const Duration step = std::min(left, kAdvanceStep);
      {
        std::lock_guard<std::mutex> lock(pc.mu);
        if (!pc.cluster) {
          closed = true;
          break;
        }
        st = pc.cluster->Advance(step);
      }
      if (!st.ok()) break;
      left -= step;
      if (left > Duration::zero() && watch.Poll()) break;
    }
  }
  watch.RethrowIfRaised();
  if (closed) throw std::runtime_error("the cluster is closed");
  Check(st);
}

// Frees the cluster (close() and leaving a `with`). The cluster is destroyed after the lock is
// released, and the GIL is let go while waiting for a call running on another thread.
void CloseCluster(PyCluster& pc) {
  std::unique_ptr<Cluster> doomed;
  std::unique_lock<std::mutex> lock(pc.mu, std::try_to_lock);
  if (!lock.owns_lock()) {
    py::gil_scoped_release release;
    lock.lock();
  }
  doomed = std::move(pc.cluster);
  lock.unlock();
}

// Cluster's local changes: one node writes, as a host of its engine would.
void BindClusterChanges(py::class_<PyCluster>& c) {
  c.def("set_device_state", [](PyCluster& pc, long long node, const std::string& device, const py::object& state) {
    const DeviceState s = DeviceStateArg(state);
    Guard g(pc);
    Check(g->SetDeviceState(UpNode(*g, node), device, s));
  }, py::arg("node"), py::arg("device"), py::arg("state"),
        "Sets node's contribution to `device` (a DeviceState or its name).");
  c.def("set_mwi", [](PyCluster& pc, long long node, const std::string& mailbox, std::uint32_t new_messages,
                      std::uint32_t old_messages, std::uint32_t urgent) {
    Guard g(pc);
    Check(g->SetMailbox(UpNode(*g, node), mailbox, MailboxCounts{new_messages, old_messages, urgent}));
  }, py::arg("node"), py::arg("mailbox"), py::arg("new") = 0, py::arg("old") = 0, py::arg("urgent") = 0,
        "Writes mailbox@context's counts on node; the latest write wins cluster-wide.");
  c.def("register", [](PyCluster& pc, long long node, const std::string& aor, const std::string& contact, double expires,
                       const std::string& path, const std::string& user_agent) {
    const Duration d = FromSeconds(expires, "expires");
    Guard g(pc);
    RegistrationInfo info;
    info.contact = contact;
    info.expires = g->wall_now() + d;
    info.path = path;
    info.user_agent = user_agent;
    Check(g->SetRegistration(UpNode(*g, node), aor, info));
  }, py::arg("node"), py::arg("aor"), py::arg("contact"), py::arg("expires") = 3600.0, py::arg("path") = "",
        py::arg("user_agent") = "",
        "Adds or refreshes node's contact `contact` of `aor` (its other contacts stay), expiring `expires`\n"
        "seconds from now, with the REGISTER's Path and User-Agent; ValueError beyond max_contact_bytes.");
  c.def("remove_contact", [](PyCluster& pc, long long node, const std::string& aor, const std::string& contact) {
    Guard g(pc);
    Check(g->RemoveContact(UpNode(*g, node), aor, contact));
  }, py::arg("node"), py::arg("aor"), py::arg("contact"),
        "Removes node's contact `contact` of `aor`; its other contacts stay. Not an error when not held.");
  c.def("unregister", [](PyCluster& pc, long long node, const std::string& aor) {
    Guard g(pc);
    Check(g->RemoveRegistration(UpNode(*g, node), aor));
  }, py::arg("node"), py::arg("aor"));
}

// Cluster's queries: what one node's engine shows, and the run's fingerprints.
void BindClusterQueries(py::class_<PyCluster>& c) {
  c.def("device_state", [](PyCluster& pc, long long node, const std::string& device) {
    Guard g(pc);
    return g->DeviceStateAt(UpNode(*g, node), device);
  }, py::arg("node"), py::arg("device"),
        "Asterisk's aggregate of the device as `node` shows it; None when no live node contributes.");
  c.def("contributions", [](PyCluster& pc, long long node, const std::string& device) {
    Guard g(pc);
    const Engine* e = g->engine(UpNode(*g, node));
    py::dict out;
    for (const DeviceContribution& dc : e->DeviceContributions(device)) out[py::int_(IndexOf(dc.node))] = dc.state;
    return out;
  }, py::arg("node"), py::arg("device"), "Every live node's contribution as `node` shows it: {node index: DeviceState}.");
  c.def("mwi", [](PyCluster& pc, long long node, const std::string& mailbox) -> std::optional<Mailbox> {
    Guard g(pc);
    auto v = g->MailboxAt(UpNode(*g, node), mailbox);
    if (!v) return std::nullopt;
    return Mailbox{v->counts.new_messages, v->counts.old_messages, v->counts.urgent_messages, IndexOf(v->writer)};
  }, py::arg("node"), py::arg("mailbox"), "The mailbox as `node` shows it, or None.");
  c.def("registrations", [](PyCluster& pc, long long node, const std::string& aor) {
    Guard g(pc);
    std::vector<Registration> out;
    for (const RegistrationView& r : g->RegistrationsAt(UpNode(*g, node), aor)) {
      out.push_back(Registration{IndexOf(r.node), r.info.contact, ToSeconds(r.info.expires - g->wall_now()),
                                 r.info.status == ContactStatus::kReachable, r.info.path, r.info.user_agent});
    }
    return out;
  }, py::arg("node"), py::arg("aor"), "The live contacts of `aor` as `node` shows them (one per contact per node).");
  c.def("members", [](PyCluster& pc, long long node) {
    Guard g(pc);
    std::vector<std::size_t> out;
    for (NodeId id : g->engine(UpNode(*g, node))->Members()) out.push_back(IndexOf(id));
    return out;
  }, py::arg("node"), "Indices of the nodes `node` counts as live (itself included).");
  c.def("converged", [](PyCluster& pc) { return Guard(pc)->Converged(); },
        "Every up node holds the same view and counts exactly the up nodes as members.");
  c.def("stats", [](PyCluster& pc, long long node) {
    Guard g(pc);
    return g->stats(UpNode(*g, node));
  }, py::arg("node"), "Node's engine counters (EngineStats).");
  c.def_property_readonly("trace_hash", [](PyCluster& pc) { return Guard(pc)->TraceHash(); },
                          "A hash of every frame, view change and fault so far: equal for equal runs.");
  c.def_property_readonly("frames_in_flight", [](PyCluster& pc) { return Guard(pc)->frames_in_flight(); });
}

// Cluster's faults: partitions, cuts, link faults, crashes, restarts, new nodes.
void BindClusterFaults(py::class_<PyCluster>& c) {
  c.def("partition", [](PyCluster& pc, const std::vector<std::vector<long long>>& groups) {
    Guard g(pc);
    std::vector<std::vector<std::size_t>> idx;
    for (const auto& group : groups) {
      idx.emplace_back();
      for (long long i : group) idx.back().push_back(NodeIndex(*g, i));
    }
    Check(g->Partition(idx));
  }, py::arg("groups"),
        "Splits the nodes into groups, e.g. [[0, 1], [2]]: frames cross no group boundary. A node listed\n"
        "nowhere is alone. Replaces an earlier partition.");
  c.def("heal", [](PyCluster& pc) { Guard(pc)->Heal(); }, "Removes every partition and cut.");
  c.def("cut", [](PyCluster& pc, long long src, long long dst) {
    Guard g(pc);
    Check(g->CutLink(NodeIndex(*g, src), NodeIndex(*g, dst)));
  }, py::arg("src"), py::arg("dst"), "Drops every frame from src to dst (one way).");
  c.def("restore", [](PyCluster& pc, long long src, long long dst) {
    Guard g(pc);
    Check(g->RestoreLink(NodeIndex(*g, src), NodeIndex(*g, dst)));
  }, py::arg("src"), py::arg("dst"));
  c.def("set_network", [](PyCluster& pc, const py::object& network, std::optional<long long> src, std::optional<long long> dst) {
    const LinkFaults f = NetworkArg(network);
    Guard g(pc);
    if (src.has_value() != dst.has_value()) throw py::value_error("set_network: give both src and dst, or neither");
    if (src) {
      Check(g->SetLinkFaults(NodeIndex(*g, *src), NodeIndex(*g, *dst), f));
    } else {
      Check(g->SetAllLinkFaults(f));
    }
  }, py::arg("network"), py::arg("src") = py::none(), py::arg("dst") = py::none(),
        "Sets every link's faults, or one directed link's.");
  c.def("crash", [](PyCluster& pc, long long node) {
    Guard g(pc);
    Check(g->Crash(UpNode(*g, node)));
  }, py::arg("node"), "Destroys node's engine (memory lost); frames to it are dropped.");
  c.def("restart", [](PyCluster& pc, long long node) {
    Guard g(pc);
    const std::size_t n = NodeIndex(*g, node);
    if (g->up(n)) throw std::runtime_error("restart: node " + IndexText(node) + " is up; crash it first");
    Check(g->Restart(n));
  }, py::arg("node"), "Starts a crashed node again, empty, with a greater incarnation.");
  c.def("add_node", [](PyCluster& pc) {
    Guard g(pc);
    std::size_t index = 0;
    Check(g->AddNode(&index));
    return index;
  }, "Adds and starts a node; returns its index.");
  c.def("incarnation", [](PyCluster& pc, long long node) {
    Guard g(pc);
    return g->incarnation(NodeIndex(*g, node));
  }, py::arg("node"), "The incarnation of node's last start.");
}

// Cluster's lifetime: close, the context manager, repr.
void BindClusterLifetime(py::class_<PyCluster>& c) {
  c.def("close", &CloseCluster,
        "Frees the cluster now; later calls raise RuntimeError. Closing twice is harmless.");
  c.def_property_readonly("closed", [](PyCluster& pc) {
    std::lock_guard<std::mutex> lock(pc.mu);
    return pc.cluster == nullptr;
  });
  c.def("__enter__", [](py::object self) { return self; });
  c.def("__exit__", [](PyCluster& pc, const py::object&, const py::object&, const py::object&) {
    CloseCluster(pc);
    return false;
  });
  c.def("__repr__", [](PyCluster& pc) {
    std::unique_lock<std::mutex> lock(pc.mu, std::try_to_lock);
    if (!lock.owns_lock()) return std::string("<pbxstate.Cluster (busy in another thread)>");
    if (!pc.cluster) return std::string("<pbxstate.Cluster closed>");
    const Cluster& cl = *pc.cluster;
    std::string up;
    for (std::size_t i : cl.UpNodes()) up += (up.empty() ? "" : ", ") + std::to_string(i);
    char now[32];
    std::snprintf(now, sizeof now, "%.3f", ToSeconds(cl.now() - MonoTime{}));
    return "<pbxstate.Cluster nodes=" + std::to_string(cl.size()) + " up=[" + up + "] now=" + now + "s seed=" +
           std::to_string(cl.options().seed) + ">";
  });
}

}  // namespace

void BindCluster(py::module_& m) {
  BindClusterValues(m);

  py::class_<PyCluster> c(m, "Cluster",
                          "An in-process, deterministic cluster of engines on a virtual clock (transports/inproc).\n"
                          "Nodes are indices 0..size-1. Time moves only in advance(). The same arguments and calls give\n"
                          "the same run (trace_hash). Use as a context manager, or close(), to free it at once.");
  c.def(py::init(&MakeCluster), py::kw_only(), py::arg("nodes") = 3, py::arg("network") = py::none(), py::arg("seed") = 1,
        py::arg("membership") = "heartbeat", py::arg("engine") = py::none(), py::arg("transport_views") = "per_node",
        py::arg("membership_delay") = 0.0,
        "nodes: started at time 0. network: a Network or dict (every link). membership: 'heartbeat' (the\n"
        "engines' failure detector) or 'transport' (the network plays CPG). engine: settings by EngineConfig\n"
        "name, durations in seconds, e.g. {'departure_grace': 0, 'batch_window': 0.005}.");

  c.def("advance", &Advance, py::arg("seconds"),
        "Runs the cluster for `seconds` of virtual time. Releases the GIL; Ctrl-C stops it between steps\n"
        "(the clock stays where it got to) and raises KeyboardInterrupt.");
  c.def_property_readonly("now", [](PyCluster& pc) {
    Guard g(pc);
    return ToSeconds(g->now() - MonoTime{});
  }, "Virtual seconds since the cluster was created.");
  c.def_property_readonly("size", [](PyCluster& pc) { return Guard(pc)->size(); });
  c.def("__len__", [](PyCluster& pc) { return Guard(pc)->size(); });
  c.def("is_up", [](PyCluster& pc, long long i) {
    Guard g(pc);
    return g->up(NodeIndex(*g, i));
  }, py::arg("node"));
  c.def_property_readonly("up_nodes", [](PyCluster& pc) { return Guard(pc)->UpNodes(); });

  BindClusterChanges(c);
  BindClusterQueries(c);
  BindClusterFaults(c);
  BindClusterLifetime(c);
}

}  // namespace pbxstate::python
