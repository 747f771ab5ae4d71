// Ns3World: a pbxstate cluster inside one ns-3 simulation, driven from C++.
//
// Topology. Each site is one Ethernet LAN: its cluster nodes and, when there is more than one
// site, a router. Routers are joined by the inter-site links given (point-to-point, with
// per-packet jitter) and route statically along the fewest hops. A single-site world is one LAN
// of N nodes and no router.
//
// The LAN is a switch by default (LanModel::kSwitched: SimpleNetDevices on a SwitchedLanChannel):
// a broadcast is flooded to every port, a unicast goes to its one destination port, each port
// has its own full-duplex rate. LanModel::kCsmaBus is ns-3's CSMA bus: the same broadcast
// behaviour, but one shared medium on which every unicast reaches every station. Why not a
// point-to-point star with a router hub: ns-3 routers do not forward broadcasts (kLanBroadcast
// would need multicast routing) and the hub would need 1,000 interfaces. Why a switch over the
// bus: at 1,000 nodes the engine's unicasts (digests, catch-up pages) cost one event each instead
// of 1,000, and 1,000 stations sharing one 1 Gb/s medium is not a LAN anyone runs.
//
// Node ids are 1..N, numbered site by site in the order the sites are given.
//
// Faults use ns-3's own mechanisms and act at once; schedule them with At():
//   - partitions (symmetric groups, one-way): a receive error model on every cluster node's
//     device drops frames whose source a cut separates from the receiver (FaultErrorModel);
//   - isolating a node: its IPv4 interface is set down (Ipv4::SetDown), up again on Reconnect;
//   - loss: per-packet drop rate of the same receive error models (site LAN or one link
//     direction); delay: the channel's Delay attribute; jitter: the inter-site channel's own
//     jitter (JitterPointToPointChannel) or, on a LAN, per-packet delay in each node's transport;
//   - crash: the node's application destroys its engine and closes its socket; restart: a new
//     engine with a greater incarnation.
//
// ns-3 has one global simulator: only one Ns3World may exist at a time in a process; destroying
// it destroys the simulation (Simulator::Destroy) so another can be built.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ns3/net-device-container.h>
#include <ns3/net-device.h>
#include <ns3/node-container.h>
#include <ns3/ptr.h>

#include "pbxstate/config.h"
#include "pbxstate/engine.h"
#include "pbxstate/ns3/node_app.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace ns3 {
class CsmaChannel;
class InternetStackHelper;
}

namespace pbxstate::ns3sim {

class CutTable;
class FaultErrorModel;
class JitterPointToPointChannel;

using ns3t::BroadcastMode;
using ns3t::NodeCounters;
using ns3t::ViewCollector;

// Properties of a LAN or of an inter-site link.
struct LinkParams {
  Duration delay = std::chrono::microseconds(50);
  Duration jitter = Duration::zero();  // +/- on a link; [0, jitter] extra send delay on a LAN
  std::uint64_t rate_bps = 1'000'000'000;
  double loss = 0.0;                   // per packet, at each receiver
};

struct SiteSpec {
  std::string name;
  std::uint32_t nodes = 0;
  LinkParams lan;
};

struct SiteLinkSpec {
  std::string a, b;  // site names
  LinkParams link;
};

// Packets a cluster node's LAN device holds when the node stands for a real host: in Corosync
// mode and under emulation (emu.h). A real host's qdisc holds what its card cannot send yet
// (Linux's default txqueuelen, 1000) and pushes back on its sockets; knet then retries the send
// rather than drop it (libknet transport_udp.c: udp_transport_tx_sock_error). One token visit
// hands knet up to max_messages x (nodes - 1) datagrams at once (17 x 39 at 40 nodes), which the
// world's default queue, max(100, 2 x nodes), would drop (sim/ns3/COROSYNC_MODEL.md, section 5).
inline constexpr std::uint32_t kHostTxQueuePackets = 1000;
// Sets the transmit queue (SimpleNetDevice's or CsmaNetDevice's "TxQueue") of `device` to
// `packets`; false when the device has none.
bool SetTransmitQueuePackets(ns3::Ptr<ns3::NetDevice> device, std::uint32_t packets);

// How a site's LAN is built (see the header comment).
enum class LanModel : std::uint8_t {
  kSwitched,  // SwitchedLanChannel + SimpleNetDevice: unicast to one port, broadcast floods
  kCsmaBus,   // ns-3 CSMA: one shared bus; every frame reaches every station
};

struct WorldConfig {
  LanModel lan_model = LanModel::kSwitched;
  std::vector<SiteSpec> sites;      // at least one; node ids 1..N in this order
  std::vector<SiteLinkSpec> links;  // between sites; every site must be reachable from every other
  BroadcastMode broadcast_mode = BroadcastMode::kLanBroadcast;
  // Engine template: node_id, incarnation and label are filled per node (label "node-<id>" when
  // empty). membership should stay kHeartbeat: UDP has no membership service.
  EngineConfig engine;
  std::uint32_t seed = 1;           // ns-3 RngSeedManager seed (non-zero)
  std::uint64_t run = 1;            // ns-3 RngSeedManager run number
  std::uint16_t port = 5405;
  // Nodes start at uniformly drawn times in [0, start_spread] (0: all at time zero).
  Duration start_spread = Duration::zero();
  // Device transmit queue, packets. 0: max(100, 2 * nodes) so a fan-out burst fits, and in
  // Corosync mode kHostTxQueuePackets for the cluster nodes' own devices (a real host's).
  std::uint32_t device_queue_packets = 0;
  // Datagrams a node's transport may hold for LAN jitter at once.
  std::size_t max_delayed_datagrams = 8192;
  ViewCollector* collector = nullptr;  // borrowed; receives every node's view changes
  // Fill every ARP cache at build time (ns-3's NeighborCacheHelper). Off: stations ARP for each
  // other as real hosts do, one broadcast per new pair, which every station on the LAN processes.
  bool static_arp = true;
  // Corosync mode: every node's engine runs over the Corosync model (CPG over a totem ring on this
  // world's network; transports/ns3 CorosyncStack, sim/ns3/COROSYNC_MODEL.md) instead of UDP and
  // its own heartbeats. engine.membership must then be kTransport; the nodelist is filled in by
  // the world (every node); at most totem::kMaxRingMembers nodes. Unset: UDP mode.
  std::optional<ns3t::CorosyncModelConfig> corosync;

  // One LAN of `nodes` nodes.
  static WorldConfig SingleLan(std::uint32_t nodes, LinkParams lan = {});
};

// What the fault mechanisms dropped, summed over all devices.
struct FaultCounters {
  std::uint64_t dropped_by_cut = 0;
  std::uint64_t dropped_by_loss = 0;
};

class Ns3World {
 public:
  // Builds the topology and installs one application per node (engines start at their start
  // time, on the first RunUntil). Fails on a bad config or when another world exists.
  static Status Create(const WorldConfig& config, std::unique_ptr<Ns3World>* out);
  ~Ns3World();
  Ns3World(const Ns3World&) = delete;
  Ns3World& operator=(const Ns3World&) = delete;

  // ---- time ----
  Duration Now() const;
  // Runs the simulation until simulated time `until` (absolute). Events at exactly `until` run.
  void RunUntil(Duration until);
  // Runs `fn` at absolute simulated time `when` (at once, as the next event, if `when` <= Now()).
  // Faults and workload changes are scheduled this way; `fn` runs outside any engine call.
  void At(Duration when, std::function<void()> fn);

  // ---- faults; each acts now (wrap in At() to schedule). Unknown nodes/sites: InvalidArgument ----
  // Symmetric partition: nodes of different groups cannot hear each other; nodes listed in no
  // group form one more group together. Cuts accumulate until Heal().
  Status Partition(const std::vector<std::vector<NodeId>>& groups);
  // One-way partition: nodes in `deaf` stop hearing nodes in `from`; the other way still works.
  Status PartitionOneWay(const std::vector<NodeId>& from, const std::vector<NodeId>& deaf);
  // Removes every partition and reconnects every isolated node.
  void Heal();
  // Cuts one node off the network (its interface goes down) / brings it back.
  Status Isolate(NodeId node);
  Status Reconnect(NodeId node);
  // LAN of one site: per-packet loss at every device on it, propagation delay, jitter.
  Status SetSiteLoss(const std::string& site, double loss);
  Status SetSiteDelay(const std::string& site, Duration delay);
  Status SetSiteJitter(const std::string& site, Duration jitter);
  // Inter-site link between sites a and b (both directions, or only packets travelling from
  // `from` to `to` for the one-way loss; loss 1.0 cuts that direction).
  Status SetLinkLoss(const std::string& a, const std::string& b, double loss);
  Status SetLinkLossOneWay(const std::string& from, const std::string& to, double loss);
  Status SetLinkDelay(const std::string& a, const std::string& b, Duration delay);
  Status SetLinkJitter(const std::string& a, const std::string& b, Duration jitter);
  // Kills a node (engine destroyed, memory lost) / starts it again with a greater incarnation.
  Status Crash(NodeId node);
  Status Restart(NodeId node);

  // ---- emulation (pbxstate/ns3/emu.h; defined in emu_hosts.cc) ----
  // The ns-3 node standing for cluster node `node` (its application 0 is the node's engine, its
  // IPv4 interface 1 the LAN); nullptr for an unknown id.
  ns3::Ptr<ns3::Node> ClusterNode(NodeId node) const;

  // ---- reading the cluster ----
  const std::vector<NodeId>& nodes() const { return node_ids_; }
  std::vector<NodeId> SiteNodes(const std::string& site) const;  // empty when unknown
  // The node's live engine; nullptr while crashed, before its start, or for an unknown id.
  Engine* engine(NodeId node) const;
  bool up(NodeId node) const { return engine(node) != nullptr; }
  bool isolated(NodeId node) const;
  const NodeCounters* counters(NodeId node) const;  // nullptr for an unknown id
  // Corosync mode: the node's corosync (nullptr in UDP mode, after a whole-node crash, or for an
  // unknown id).
  const ns3t::CorosyncStack* corosync(NodeId node) const;
  // The same, to send CPG messages past the engine (the ring's own tests and benchmarks).
  ns3t::CorosyncStack* corosync(NodeId node);
  // Sum of every node's counters.
  NodeCounters TotalCounters() const;
  FaultCounters fault_counters() const;
  // True when every node in `group` is up and all their Engine::Digest()s are equal.
  bool Agree(const std::vector<NodeId>& group) const;
  std::uint32_t simulated_nodes() const;  // cluster nodes + routers

 private:
  struct Site;
  struct Link;
  struct BuildState;
  Ns3World() = default;

  // Building (world_build.cc), in this order. Build runs the steps; each step's contract:
  // the config's own consistency, before anything touches ns-3.
  static Status CheckConfig(const WorldConfig& config);
  static Status CheckCorosync(const WorldConfig& config, std::uint64_t nodes);
  Status Build(const WorldConfig& config);
  // Sites and links from the config, and the first hop from every site to every other.
  Status PlanSites(const WorldConfig& config, BuildState* state);
  // ns-3's global state (seed, address generator), the nodes and routers with their IP stacks.
  void CreateNodes(const WorldConfig& config, BuildState* state, ns3::InternetStackHelper* internet);
  // Every site's LAN: devices, addresses, receive error models, the peer directory.
  void BuildLans(const WorldConfig& config, BuildState* state);
  ns3::NetDeviceContainer BuildLanDevices(const WorldConfig& config, Site& site, const ns3::NodeContainer& lan,
                                          const BuildState& state, std::int64_t* csma_stream);
  // The point-to-point links between site routers.
  void BuildLinks(const WorldConfig& config, BuildState* state);
  // Default routes of the nodes and the routers' routes to every other site (several sites only).
  void AddRoutes(const BuildState& state);
  // One application per node, with its start time.
  Status InstallApps(const WorldConfig& config);
  ns3t::NodeAppConfig AppConfig(const WorldConfig& config, NodeId id) const;
  Site* FindSite(const std::string& name);
  Link* FindLink(const std::string& a, const std::string& b);
  ns3t::NodeApp* app(NodeId node) const;
  void RestoreDefaultRoute(NodeId node);

  WorldConfig config_;
  std::vector<NodeId> node_ids_;
  std::vector<std::unique_ptr<Site>> sites_;
  std::vector<std::unique_ptr<Link>> links_;
  std::unique_ptr<CutTable> cuts_;
  ns3::NodeContainer cluster_nodes_;  // index = node id - 1
  ns3::NodeContainer routers_;
  std::vector<ns3::Ptr<ns3t::NodeApp>> apps_;                  // index = node id - 1
  std::vector<ns3::Ptr<FaultErrorModel>> error_models_;        // every device's, for counters
  std::vector<std::uint32_t> site_of_;                         // index = node id - 1
  std::vector<bool> isolated_;                                 // index = node id - 1
  std::shared_ptr<ns3t::PeerDirectory> peers_;
  std::shared_ptr<const ns3t::CorosyncModelConfig> corosync_;  // Corosync mode, shared by every node
};

}  // namespace pbxstate::ns3sim
