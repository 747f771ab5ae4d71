// A cluster of network namespaces on one host: one namespace per node, each with a veth whose
// other end is on a bridge in the host's namespace, an address from 198.18.0.0/15, a netem root
// qdisc on its interface (the LAN's delay, loss, rate), a corosync of its own (in a private
// mount namespace: its own /run, /var/lib/corosync, /var/log/corosync), and the processes the
// caller starts on top (a pbxstated per node; a test's tools). Faults use the real mechanisms:
// netem for the link, nftables for cuts, signals for crashes.
//
// This is the one namespace-cluster builder of the project: `pbxstate run --backend netns` (the
// runner), the live Python tests and the CPG benchmark (through pbxstate.netns, pybind/) all
// build their clusters here (sim/netns/README.md).
//
// Teardown: Teardown() (and the destructor) stops every process the cluster started (their
// whole process groups; SIGTERM first when given a grace, SIGKILL after), deletes every
// namespace (which deletes its veth end, its qdiscs and its nftables tables) and the bridge. It
// is idempotent and runs on every path out of a run; the children also carry PR_SET_PDEATHSIG, so
// even a SIGKILL of their parent leaves no process (its namespaces are then removed by
// RemoveStaleRuns at the next run). Leftovers() proves it.
//
// One cluster at a time on a host: Create waits for the host's namespace lock (host_lock.h) and
// the cluster holds it until it is destroyed.
//
// Not thread-safe: one thread drives a cluster. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pbxstate/netns/child.h"
#include "pbxstate/netns/corosync_conf.h"
#include "pbxstate/netns/host_lock.h"
#include "pbxstate/netns/names.h"
#include "pbxstate/netns/netem.h"
#include "pbxstate/netns/shaping.h"
#include "pbxstate/netns/tap.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::netns {

// How a cluster's namespaces reach each other.
enum class NodeLink : std::uint8_t {
  kBridge,    // a veth on the run's bridge, 198.18.0.<node>/24, shaped by ClusterSpec::lan (netns)
  kAttached,  // only loopback at first; the caller attaches each node's interface (AttachTap)
              // and names its address in ClusterSpec::addresses (the emulation backend)
};

struct ClusterSpec {
  std::uint32_t nodes = 3;                 // 1..kMaxNodes (kBridge), 1..kMaxAttachedNodes (kAttached)
  NodeLink link = NodeLink::kBridge;
  // kAttached: node i + 1's address (corosync's nodelist), one per node. kBridge: empty.
  std::vector<std::string> addresses;
  // The run's folder (configs, nft scripts, logs) is work_dir / "pbxst-<pid>"; it is created and
  // kept after teardown (logs are evidence).
  std::filesystem::path work_dir = "/tmp";
  // Every node's corosync.conf totem section (CorosyncSpec::totem), transport included.
  totem::TotemConfig totem;
  bool corosync_sched_rr = true;           // CorosyncSpec::sched_rr of every node's corosync.conf
  NetemParams lan;                         // every node's link, from the start
  ShapingMethod shaping = ShapingMethod::kNetem;  // how `lan` and SetLink are applied
  pid_t pid = 0;                           // whose names; 0: this process
};

class NetnsCluster {
 public:
  // Checks what the cluster needs (root, ip, tc, nft, corosync), builds the network and writes
  // each node's corosync.conf; starts no process. On failure, tears down what it built.
  static Status Create(const ClusterSpec& spec, std::unique_ptr<NetnsCluster>* out);
  ~NetnsCluster();
  NetnsCluster(const NetnsCluster&) = delete;
  NetnsCluster& operator=(const NetnsCluster&) = delete;

  // Stops every process (with `grace` > 0: SIGTERM, then SIGKILL to what is left after it),
  // deletes namespaces and bridge; reports the first thing it could not remove (it still tries
  // the rest). Idempotent.
  Status Teardown(Duration grace = Duration::zero());
  // What of this cluster is still on the host: Leftovers(pid) of its names, every process it
  // started that still runs, libqb files of its corosyncs in /dev/shm. Empty after Teardown.
  std::vector<std::string> Leftovers();

  std::uint32_t size() const { return spec_.nodes; }
  const RunNames& names() const { return names_; }
  const ClusterSpec& spec() const { return spec_; }
  std::filesystem::path RunDir() const { return run_dir_; }
  std::filesystem::path NodeDir(NodeId node) const;
  // The node's address: 198.18.0.<node> on the bridge, ClusterSpec::addresses when attached.
  std::string Address(NodeId node) const;

  // ---- corosync ----
  Status StartCorosync(NodeId node);
  Status KillCorosync(NodeId node);  // SIGKILL; no-op when not running
  // SIGTERM, then SIGKILL once `timeout` has passed; no-op when not running.
  Status StopCorosync(NodeId node, Duration timeout);
  bool CorosyncRunning(NodeId node);
  // Its corosync exited on one of corosync's own assertions (its log says so); see
  // WaitCorosyncMembers, which starts such a corosync again once.
  bool CorosyncAborted(NodeId node);
  ChildProcess& corosync(NodeId node);
  // Rewrites every node's corosync.conf with these totem timings (nullopt: Corosync's default;
  // consensus nullopt: corosync derives it); a corosync started from now on uses them, a running
  // one keeps its own.
  Status SetTotem(std::optional<Duration> token, std::optional<Duration> token_coefficient,
                  std::optional<Duration> consensus);
  // The node ids in this node's corosync membership (corosync-quorumtool -l), sorted.
  Status CorosyncMembers(NodeId node, std::vector<NodeId>* members);
  // Waits until every node of `nodes` sees exactly `nodes` as its membership. A node whose
  // corosync aborted on its own assertion meanwhile (CorosyncAborted) is started again, once.
  Status WaitCorosyncMembers(const std::vector<NodeId>& nodes, Duration timeout);
  // What every node in `nodes` sees, whether its corosync runs, and the end of its log: the
  // text a failed wait reports so that the failure explains itself.
  std::string DescribeCorosyncs(const std::vector<NodeId>& nodes);

  // ---- processes on top: the node's daemon, a test's tools ----
  // Starts argv inside the node's namespace as the node's process `name` (at most one running
  // per name and node), stdout and stderr appended to NodeDir(node)/<log_name>, with `env`
  // ("NAME=value") added to this process's environment.
  Status Spawn(NodeId node, const std::string& name, const std::vector<std::string>& argv, const std::string& log_name,
               const std::vector<std::string>& env = {});
  // The node's process `name`, or nullptr when none was ever spawned.
  ChildProcess* Process(NodeId node, const std::string& name);
  // The node's daemon: the process kDaemonProcess.
  static constexpr const char* kDaemonProcess = "pbxstated";
  Status StartDaemon(NodeId node, const std::vector<std::string>& argv, const std::string& log_name);
  Status KillDaemon(NodeId node);  // SIGKILL; no-op when not running
  bool DaemonRunning(NodeId node);
  ChildProcess& daemon(NodeId node);  // a daemon must have been started

  // ---- network faults ----
  // The node's link (its egress with netem; see shaping.h for kernels without it).
  Status SetLink(NodeId node, const NetemParams& p);
  // Drops traffic between every two sides; with one_way (two sides) only from sides[0] to
  // sides[1]. Nodes in no side hear everyone. Replaces any cut in force.
  Status Cut(const std::vector<std::vector<NodeId>>& sides, bool one_way);
  Status Heal();

  // ---- attached interfaces (NodeLink::kAttached; cluster_tap.cc) ----
  // Opens a TAP in the node's namespace (tap.h), configures it as `config` says (config.address
  // must be the node's Address) and hands its descriptor to the caller, who owns it: the TAP
  // lives while the descriptor is open. The `ip -batch` file is kept in NodeDir as tap.ip.
  Status AttachTap(NodeId node, const TapConfig& config, int* fd);

  // Runs a command inside the node's namespace (ip netns exec); fails unless it exits 0.
  Status Exec(NodeId node, const std::vector<std::string>& argv, Duration timeout, std::string* output);

 private:
  explicit NetnsCluster(const ClusterSpec& spec);
  Status Build();
  Status WriteCorosyncConfs();
  // The /dev/shm files libqb left for our corosyncs (IPC rings of killed clients, recorders).
  std::vector<std::filesystem::path> QbLeftovers() const;

  // The host's namespace lock, held from before the build until after the teardown (declared
  // first: destroyed last).
  std::shared_ptr<HostLock> host_lock_;
  ClusterSpec spec_;
  RunNames names_;
  std::filesystem::path run_dir_;
  bool bridge_created_ = false;
  std::vector<std::string> namespaces_;   // created, in order
  std::vector<pid_t> corosync_pids_;      // every corosync started, for /dev/shm cleanup
  std::vector<std::unique_ptr<ChildProcess>> corosync_;  // by node - 1
  std::map<std::pair<NodeId, std::string>, std::unique_ptr<ChildProcess>> processes_;
};

// Whether this host can run a namespace cluster at all: root, the tools (ip, tc, nft, corosync,
// unshare), and a network namespace that can really be created (containers often refuse it).
// The message says what is missing.
Status CheckHostSupport();

// Namespaces and links left by earlier runs whose pbxstate process is gone (killed outright):
// deletes them and lists what it deleted. Runs of live processes are never touched.
Status RemoveStaleRuns(std::vector<std::string>* removed);

// What of run `pid` still exists: namespaces, links and processes whose command line carries
// the run's tag. Empty after a clean teardown.
std::vector<std::string> Leftovers(pid_t pid);

}  // namespace pbxstate::netns
