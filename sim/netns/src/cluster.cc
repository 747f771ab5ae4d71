#include "pbxstate/netns/cluster.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "pbxstate/netns/command.h"
#include "pbxstate/netns/cut.h"
#include "pbxstate/netns/interrupt.h"

namespace pbxstate::netns {
namespace {

using namespace std::chrono_literals;

constexpr Duration kIpTimeout = 10s;

bool InPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  std::stringstream ss(dirs);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// A process still alive (kill(pid, 0) succeeds or is refused for permission).
bool Alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string l;
  while (std::getline(ss, l)) out.push_back(l);
  return out;
}

std::vector<std::string> ListNamespaces() {
  std::vector<std::string> out;
  std::string text;
  if (!RunChecked({"ip", "netns", "list"}, kIpTimeout, &text).ok()) return out;
  for (const std::string& l : Lines(text)) {
    std::stringstream ss(l);
    std::string name;
    if (ss >> name) out.push_back(name);
  }
  return out;
}

std::vector<std::string> ListLinks() {
  std::vector<std::string> out;
  std::string text;
  if (!RunChecked({"ip", "-o", "link", "show"}, kIpTimeout, &text).ok()) return out;
  for (const std::string& l : Lines(text)) {
    // "12: pbxv123n1@if11: <BROADCAST,...": the name is between ": " and '@' or ':'.
    const auto a = l.find(": ");
    if (a == std::string::npos) continue;
    const auto b = l.find_first_of("@:", a + 2);
    if (b == std::string::npos) continue;
    out.push_back(l.substr(a + 2, b - a - 2));
  }
  return out;
}

}  // namespace

NetnsCluster::NetnsCluster(const ClusterSpec& spec)
    : spec_(spec), names_(spec.pid != 0 ? spec.pid : getpid()), run_dir_(spec.work_dir / names_.Tag()) {
  corosync_.resize(spec.nodes);
  for (auto& c : corosync_) c = std::make_unique<ChildProcess>();
}

NetnsCluster::~NetnsCluster() { (void)Teardown(); }

std::filesystem::path NetnsCluster::NodeDir(NodeId node) const {
  assert(node >= 1 && node <= spec_.nodes);
  return run_dir_ / ("n" + std::to_string(node));
}

std::string NetnsCluster::Address(NodeId node) const {
  assert(node >= 1 && node <= spec_.nodes);
  return spec_.link == NodeLink::kAttached ? spec_.addresses[node - 1] : names_.Address(node);
}

Status CheckHostSupport() {
  if (geteuid() != 0) return Status::FailedPrecondition("network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)");
  for (const char* tool : {"ip", "tc", "nft", "corosync", "corosync-quorumtool", "unshare", "mount"}) {
    if (!InPath(tool)) return Status::FailedPrecondition(std::string(tool) + " is not installed (scripts/deps.sh installs it)");
  }
  const std::string probe = RunNames(getpid()).Tag() + "-probe";
  if (Status st = RunChecked({"ip", "netns", "add", probe}, kIpTimeout); !st.ok()) {
    return Status::FailedPrecondition("cannot create a network namespace here: " + st.message());
  }
  Status st = RunChecked({"ip", "-n", probe, "link", "add", "pbxprobe", "type", "veth"}, kIpTimeout);
  (void)RunChecked({"ip", "netns", "del", probe}, kIpTimeout);
  if (!st.ok()) return Status::FailedPrecondition("cannot create a veth pair here: " + st.message());
  return Status::Ok();
}

Status NetnsCluster::Create(const ClusterSpec& spec, std::unique_ptr<NetnsCluster>* out) {
  const bool attached = spec.link == NodeLink::kAttached;
  const std::uint32_t max = attached ? kMaxAttachedNodes : kMaxNodes;
  if (spec.nodes < 1 || spec.nodes > max) {
    return Status::InvalidArgument(std::string("a namespace cluster ") + (attached ? "with attached interfaces " : "on a bridge ") +
                                   "has 1.." + std::to_string(max) + " nodes, not " + std::to_string(spec.nodes));
  }
  if (spec.addresses.size() != (attached ? spec.nodes : 0)) {
    return Status::InvalidArgument(attached ? "a namespace cluster with attached interfaces needs one address per node"
                                            : "a namespace cluster on a bridge has its own addresses (198.18.0.<node>)");
  }
  if (Status st = CheckHostSupport(); !st.ok()) return st;
  std::shared_ptr<HostLock> lock;
  if (Status st = HostLock::Acquire(kHostLockPath, kMaxHostLockWait, &lock); !st.ok()) return st;
  std::unique_ptr<NetnsCluster> c(new NetnsCluster(spec));
  c->host_lock_ = std::move(lock);
  if (Status st = c->Build(); !st.ok()) {
    (void)c->Teardown();
    return st;
  }
  *out = std::move(c);
  return Status::Ok();
}

Status NetnsCluster::Build() {
  std::error_code ec;
  std::filesystem::create_directories(run_dir_, ec);
  if (ec) return Status::FailedPrecondition(run_dir_.string() + ": " + ec.message());
  for (NodeId n = 1; n <= spec_.nodes; ++n) {
    std::filesystem::create_directories(NodeDir(n), ec);
    if (ec) return Status::FailedPrecondition(NodeDir(n).string() + ": " + ec.message());
  }
  if (spec_.link == NodeLink::kAttached) {
    // Namespaces only: the caller attaches each node's interface (AttachTap).
    for (NodeId n = 1; n <= spec_.nodes; ++n) {
      const std::string ns = names_.Namespace(n);
      if (Status st = RunChecked({"ip", "netns", "add", ns}, kIpTimeout); !st.ok()) return st;
      namespaces_.push_back(ns);
    }
    return WriteCorosyncConfs();
  }
  const std::string br = names_.Bridge();
  // The bridge forwards everything, multicast included, and bypasses the host's firewall
  // (br_netfilter would otherwise send bridged frames through the host's iptables).
  if (Status st = RunChecked({"ip", "link", "add", br, "type", "bridge", "mcast_snooping", "0", "nf_call_iptables", "0",
                              "nf_call_ip6tables", "0", "nf_call_arptables", "0"},
                             kIpTimeout);
      !st.ok()) {
    return st;
  }
  bridge_created_ = true;
  if (Status st = RunChecked({"ip", "link", "set", br, "up"}, kIpTimeout); !st.ok()) return st;

  for (NodeId n = 1; n <= spec_.nodes; ++n) {
    const std::string ns = names_.Namespace(n);
    if (Status st = RunChecked({"ip", "netns", "add", ns}, kIpTimeout); !st.ok()) return st;
    namespaces_.push_back(ns);
    const std::string hv = names_.HostVeth(n), pv = names_.PeerVethTemp(n);
    const std::string addr = names_.Address(n) + "/" + std::to_string(kPrefixLength);
    const std::vector<std::vector<std::string>> steps = {
        {"ip", "link", "add", hv, "type", "veth", "peer", "name", pv, "netns", ns},
        {"ip", "link", "set", hv, "master", br, "up"},
        {"ip", "-n", ns, "link", "set", pv, "name", kNodeInterface},
        {"ip", "-n", ns, "addr", "add", addr, "dev", kNodeInterface},
        {"ip", "-n", ns, "link", "set", kNodeInterface, "up"},
        {"ip", "-n", ns, "link", "set", "lo", "up"},
        // corosync's udp transport sends to a multicast group: route it out of eth0.
        {"ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", kNodeInterface},
    };
    for (const auto& argv : steps) {
      if (Status st = RunChecked(argv, kIpTimeout); !st.ok()) return st;
    }
    if (Status st = ApplyShaping(ns, kNodeInterface, spec_.lan, spec_.shaping, NodeDir(n) / "loss.nft"); !st.ok()) return st;
  }
  return WriteCorosyncConfs();
}

Status NetnsCluster::Teardown(Duration grace) {
  Status first;
  auto keep = [&first](const Status& st) {
    if (!st.ok() && first.ok()) first = st;
  };
  // What runs on top first (a daemon's graceful stop may still talk to its corosync), then corosync.
  std::vector<ChildProcess*> on_top;
  for (auto& [key, p] : processes_) on_top.push_back(p.get());
  for (const std::vector<ChildProcess*>& group :
       {on_top, [this] {
          std::vector<ChildProcess*> c;
          for (auto& p : corosync_) c.push_back(p.get());
          return c;
        }()}) {
    if (grace > Duration::zero()) {
      for (ChildProcess* p : group) p->Signal(SIGTERM);
      const auto deadline = std::chrono::steady_clock::now() + grace;
      for (ChildProcess* p : group) {
        (void)p->WaitExit(std::max<Duration>(deadline - std::chrono::steady_clock::now(), Duration::zero()));
      }
    }
    for (ChildProcess* p : group) keep(p->Kill(5s));
  }
  // Delete the host ends of the veth pairs first: that removes both ends at once, whereas the
  // kernel dismantles a deleted namespace (and the veths in it) later, from a work queue, so
  // a check right after teardown could still see them. A link never made is not an error.
  if (!namespaces_.empty() && spec_.link == NodeLink::kBridge) {
    for (NodeId n = 1; n <= spec_.nodes; ++n) {
      (void)RunChecked({"ip", "link", "del", names_.HostVeth(n)}, kIpTimeout);
    }
  }
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    keep(RunChecked({"ip", "netns", "del", *it}, kIpTimeout));
  }
  namespaces_.clear();
  // libqb leaves IPC rings (qb-<server pid>-<client pid>-...) of clients that were killed, and
  // flight recorders (qb-corosync-<pid>-...), in the host's /dev/shm: remove those of our
  // corosyncs, so repeated runs do not fill it.
  for (const std::filesystem::path& path : QbLeftovers()) {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  if (bridge_created_) {
    keep(RunChecked({"ip", "link", "del", names_.Bridge()}, kIpTimeout));
    bridge_created_ = false;
  }
  return first;
}

std::vector<std::filesystem::path> NetnsCluster::QbLeftovers() const {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = entry.path().filename().string();
    for (pid_t pid : corosync_pids_) {
      const std::string p = std::to_string(pid);
      if (name.starts_with("qb-" + p + "-") || name.starts_with("qb-corosync-" + p + "-")) out.push_back(entry.path());
    }
  }
  return out;
}

std::vector<std::string> NetnsCluster::Leftovers() {
  std::vector<std::string> out = netns::Leftovers(names_.pid());
  for (auto& [key, p] : processes_) {
    if (p->Running()) out.push_back("process " + std::to_string(p->pid()) + " (" + key.second + " of node " + std::to_string(key.first) + ")");
  }
  for (NodeId n = 1; n <= spec_.nodes; ++n) {
    if (corosync_[n - 1]->Running()) out.push_back("process " + std::to_string(corosync_[n - 1]->pid()) + " (corosync of node " + std::to_string(n) + ")");
  }
  for (const std::filesystem::path& path : QbLeftovers()) out.push_back(path.string());
  return out;
}

Status NetnsCluster::SetLink(NodeId node, const NetemParams& p) {
  return ApplyShaping(names_.Namespace(node), kNodeInterface, p, spec_.shaping, NodeDir(node) / "loss.nft");
}

Status NetnsCluster::Cut(const std::vector<std::vector<NodeId>>& sides, bool one_way) {
  assert(!one_way || sides.size() == 2);
  std::vector<int> side_of(spec_.nodes + 1, -1);
  for (std::size_t i = 0; i < sides.size(); ++i) {
    for (NodeId n : sides[i]) {
      assert(n >= 1 && n <= spec_.nodes);
      side_of[n] = static_cast<int>(i);
    }
  }
  // Every node's rules at once: the cut takes one nft's time, not one per node.
  std::vector<std::vector<std::string>> commands;
  for (NodeId n = 1; n <= spec_.nodes; ++n) {
    std::vector<std::string> drop;
    for (NodeId m = 1; m <= spec_.nodes; ++m) {
      if (m == n || side_of[n] < 0 || side_of[m] < 0 || side_of[n] == side_of[m]) continue;
      // One-way: only the receivers on side 1 drop what side 0 sends.
      if (one_way && !(side_of[m] == 0 && side_of[n] == 1)) continue;
      drop.push_back(Address(m));
    }
    std::vector<std::string> command;
    if (Status st = PrepareCut(names_.Namespace(n), drop, NodeDir(n) / "cut.nft", &command); !st.ok()) return st;
    commands.push_back(std::move(command));
  }
  return RunAllChecked(commands, kIpTimeout);
}

Status NetnsCluster::Heal() { return Cut({}, false); }

Status RemoveStaleRuns(std::vector<std::string>* removed) {
  Status first;
  for (const std::string& ns : ListNamespaces()) {
    auto owner = OwnerOfNamespace(ns);
    if (!owner || Alive(*owner)) continue;
    Status st = RunChecked({"ip", "netns", "del", ns}, kIpTimeout);
    if (st.ok()) {
      removed->push_back("namespace " + ns);
    } else if (first.ok()) {
      first = st;
    }
  }
  for (const std::string& link : ListLinks()) {
    auto owner = OwnerOfLink(link);
    if (!owner || Alive(*owner)) continue;
    Status st = RunChecked({"ip", "link", "del", link}, kIpTimeout);
    if (st.ok()) {
      removed->push_back("link " + link);
    } else if (first.ok()) {
      first = st;
    }
  }
  return first;
}

std::vector<std::string> Leftovers(pid_t pid) {
  std::vector<std::string> out;
  for (const std::string& ns : ListNamespaces()) {
    if (OwnerOfNamespace(ns) == pid) out.push_back("namespace " + ns);
  }
  for (const std::string& link : ListLinks()) {
    if (OwnerOfLink(link) == pid) out.push_back("link " + link);
  }
  // Processes whose command line carries the run's tag (corosync -c .../pbxst-<pid>/...).
  const std::string tag = RunNames(pid).Tag() + "/";
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      char* end = nullptr;
      const long p = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0' || p == getpid()) continue;
      std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
      std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      std::replace(cmd.begin(), cmd.end(), '\0', ' ');
      if (cmd.find(tag) != std::string::npos) out.push_back("process " + std::to_string(p) + ": " + cmd);
    }
    closedir(d);
  }
  return out;
}

}  // namespace pbxstate::netns
