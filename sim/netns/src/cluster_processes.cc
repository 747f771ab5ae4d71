// NetnsCluster's processes (cluster.h): a corosync per node in its own mount namespace, and the
// processes started on top (the node's daemon, a test's tools), each in its own process group.
#include <signal.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <string>
#include <sstream>
#include <thread>

#include "pbxstate/netns/cluster.h"
#include "pbxstate/netns/command.h"
#include "pbxstate/netns/interrupt.h"

namespace pbxstate::netns {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string l;
  while (std::getline(ss, l)) out.push_back(l);
  return out;
}

}  // namespace

Status NetnsCluster::WriteCorosyncConfs() {
  CorosyncSpec cs;
  cs.cluster_name = names_.Tag();
  cs.totem = spec_.totem;
  cs.sched_rr = spec_.corosync_sched_rr;
  for (NodeId n = 1; n <= spec_.nodes; ++n) cs.addresses.push_back(Address(n));
  std::string conf;
  if (Status st = CorosyncConf(cs, &conf); !st.ok()) return st;
  for (NodeId n = 1; n <= spec_.nodes; ++n) {
    std::ofstream f(NodeDir(n) / "corosync.conf", std::ios::trunc);
    f << conf;
    if (!f) return Status::FailedPrecondition((NodeDir(n) / "corosync.conf").string() + ": cannot write");
  }
  return Status::Ok();
}

Status NetnsCluster::SetTotem(std::optional<Duration> token, std::optional<Duration> token_coefficient,
                              std::optional<Duration> consensus) {
  const ClusterSpec before = spec_;
  const totem::TotemConfig defaults;
  spec_.totem.token = token.value_or(defaults.token);
  spec_.totem.token_coefficient = token_coefficient.value_or(defaults.token_coefficient);
  spec_.totem.consensus = consensus;
  Status st = WriteCorosyncConfs();
  if (!st.ok()) {
    spec_ = before;
    (void)WriteCorosyncConfs();
  }
  return st;
}

ChildProcess& NetnsCluster::corosync(NodeId node) {
  assert(node >= 1 && node <= spec_.nodes);
  return *corosync_[node - 1];
}

Status NetnsCluster::StopCorosync(NodeId node, Duration timeout) {
  ChildProcess& c = corosync(node);
  if (!c.Running()) return Status::Ok();
  c.Signal(SIGTERM);
  if (c.WaitExit(timeout)) return Status::Ok();
  return c.Kill(5s);
}

Status NetnsCluster::StartCorosync(NodeId node) {
  assert(node >= 1 && node <= spec_.nodes);
  ChildProcess& c = *corosync_[node - 1];
  if (c.Running()) return Status::FailedPrecondition("corosync of node " + std::to_string(node) + " is running already");
  const std::string conf = (NodeDir(node) / "corosync.conf").string();
  // A private mount namespace: corosync's pid file and lock (/run), ring id files
  // (/var/lib/corosync) and logs (/var/log/corosync) are its own, not the host's nor another
  // node's. `exec` keeps one pid from ip to corosync, so the pid we hold is corosync's.
  const std::string script =
      "mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/lib/corosync && "
      "mkdir -p /var/log/corosync && mount -t tmpfs tmpfs /var/log/corosync && exec corosync -f -c " + conf;
  Status st = c.Spawn({"ip", "netns", "exec", names_.Namespace(node), "unshare", "--mount", "--propagation", "private",
                       "sh", "-c", script},
                      NodeDir(node) / "corosync.log");
  if (st.ok()) corosync_pids_.push_back(c.pid());
  return st;
}

Status NetnsCluster::KillCorosync(NodeId node) {
  assert(node >= 1 && node <= spec_.nodes);
  return corosync_[node - 1]->Kill(5s);
}

bool NetnsCluster::CorosyncRunning(NodeId node) { return corosync_[node - 1]->Running(); }

Status NetnsCluster::Exec(NodeId node, const std::vector<std::string>& argv, Duration timeout, std::string* output) {
  std::vector<std::string> full = {"ip", "netns", "exec", names_.Namespace(node)};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunChecked(full, timeout, output);
}

Status NetnsCluster::CorosyncMembers(NodeId node, std::vector<NodeId>* members) {
  std::string text;
  CommandResult r;
  std::vector<std::string> argv = {"ip", "netns", "exec", names_.Namespace(node), "corosync-quorumtool", "-l"};
  if (Status st = RunCommand(argv, 5s, &r); !st.ok()) return st;
  // corosync-quorumtool exits non-zero without quorum but still lists the members.
  members->clear();
  bool table = false;
  for (const std::string& l : Lines(r.output)) {
    std::stringstream ss(l);
    std::string first;
    if (!(ss >> first)) continue;
    if (first == "Nodeid") {
      table = true;
      continue;
    }
    if (!table) continue;
    char* end = nullptr;
    const unsigned long id = std::strtoul(first.c_str(), &end, 10);
    if (end != nullptr && *end == '\0' && id >= 1 && id <= spec_.nodes) members->push_back(static_cast<NodeId>(id));
  }
  if (!table) return Status::FailedPrecondition("corosync of node " + std::to_string(node) + " does not answer: " + r.output);
  std::sort(members->begin(), members->end());
  return Status::Ok();
}

// Why a membership did not form is rarely visible from one node: say what every node sees,
// whether its corosync still runs, and the end of its log (bounded: kLogTailBytes a node).
std::string NetnsCluster::DescribeCorosyncs(const std::vector<NodeId>& nodes) {
  constexpr std::uintmax_t kLogTailBytes = 1024;
  std::string out;
  for (NodeId n : nodes) {
    std::vector<NodeId> got;
    const Status st = CorosyncMembers(n, &got);
    out += "node " + std::to_string(n) + (CorosyncRunning(n) ? " (corosync running)" : " (corosync exited)") + ": ";
    if (st.ok()) {
      out += "members";
      for (NodeId m : got) out += " " + std::to_string(m);
    } else {
      out += st.message();
    }
    const std::filesystem::path log = NodeDir(n) / "corosync.log";
    std::ifstream in(log, std::ios::binary);
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(log, ec);
    if (in && !ec) {
      const std::uintmax_t from = size > kLogTailBytes ? size - kLogTailBytes : 0;
      in.seekg(static_cast<std::streamoff>(from));
      std::string tail(static_cast<std::size_t>(size - from), '\0');
      in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
      out += "\n  end of " + log.string() + ":\n" + tail;
    }
    out += "\n";
  }
  return out;
}

// Whether node's corosync ended on one of its own assertions (its log says "Assertion ...
// failed"): corosync 3.1's totemsrp can abort while a ring forms among nodes started together
// (`orf_token_rtr: Assertion 'range < QUEUE_RTR_ITEMS_SIZE_MAX' failed`, seen once in this
// project's CI on UDP multicast; upstream corosync/corosync#4 is the same assertion at a start).
bool NetnsCluster::CorosyncAborted(NodeId node) {
  if (CorosyncRunning(node)) return false;
  constexpr std::uintmax_t kMaxLogBytes = 1 << 20;
  const std::filesystem::path log = NodeDir(node) / "corosync.log";
  std::error_code ec;
  if (std::filesystem::file_size(log, ec) > kMaxLogBytes || ec) return false;
  std::ifstream in(log, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.find("Assertion `") != std::string::npos && text.find("' failed.") != std::string::npos;
}

Status NetnsCluster::WaitCorosyncMembers(const std::vector<NodeId>& nodes, Duration timeout) {
  std::vector<NodeId> want = nodes;
  std::sort(want.begin(), want.end());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  std::set<NodeId> restarted;  // at most once a node: a second abort is not the rare one above
  for (;;) {
    for (NodeId n : want) {
      if (restarted.count(n) != 0 || !CorosyncAborted(n)) continue;
      std::cerr << "netns: corosync of node " << n << " aborted on an assertion while the ring formed ("
                << (NodeDir(n) / "corosync.log").string() << "); started again once, as its service manager would\n";
      std::filesystem::rename(NodeDir(n) / "corosync.log", NodeDir(n) / "corosync.aborted.log");
      restarted.insert(n);
      if (Status st = StartCorosync(n); !st.ok()) return st;
    }
    bool all = true;
    for (NodeId n : want) {
      std::vector<NodeId> got;
      Status st = CorosyncMembers(n, &got);
      if (!st.ok() || got != want) {
        all = false;
        last = st.ok() ? "node " + std::to_string(n) + " sees " + std::to_string(got.size()) + " members" : st.message();
        break;
      }
    }
    if (all) return Status::Ok();
    if (InterruptRequested()) return Status::FailedPrecondition("interrupted while waiting for corosync membership");
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::FailedPrecondition("corosync membership did not form within " +
                                        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                                        " s: " + last + "\n" + DescribeCorosyncs(want));
    }
    std::this_thread::sleep_for(100ms);
  }
}

Status NetnsCluster::Spawn(NodeId node, const std::string& name, const std::vector<std::string>& argv,
                           const std::string& log_name, const std::vector<std::string>& env) {
  assert(node >= 1 && node <= spec_.nodes);
  if (argv.empty()) return Status::InvalidArgument("spawn " + name + " on node " + std::to_string(node) + ": no command");
  auto& slot = processes_[{node, name}];
  if (slot == nullptr) slot = std::make_unique<ChildProcess>();
  if (slot->Running()) {
    return Status::FailedPrecondition(name + " of node " + std::to_string(node) + " is running already");
  }
  std::vector<std::string> full = {"ip", "netns", "exec", names_.Namespace(node)};
  full.insert(full.end(), argv.begin(), argv.end());
  return slot->Spawn(full, NodeDir(node) / log_name, env);
}

ChildProcess* NetnsCluster::Process(NodeId node, const std::string& name) {
  auto it = processes_.find({node, name});
  return it == processes_.end() ? nullptr : it->second.get();
}

Status NetnsCluster::StartDaemon(NodeId node, const std::vector<std::string>& argv, const std::string& log_name) {
  return Spawn(node, kDaemonProcess, argv, log_name);
}

Status NetnsCluster::KillDaemon(NodeId node) {
  ChildProcess* d = Process(node, kDaemonProcess);
  return d != nullptr ? d->Kill(5s) : Status::Ok();
}

bool NetnsCluster::DaemonRunning(NodeId node) {
  ChildProcess* d = Process(node, kDaemonProcess);
  return d != nullptr && d->Running();
}

ChildProcess& NetnsCluster::daemon(NodeId node) {
  ChildProcess* d = Process(node, kDaemonProcess);
  assert(d != nullptr && "no daemon was started on this node");
  return *d;
}

}  // namespace pbxstate::netns
