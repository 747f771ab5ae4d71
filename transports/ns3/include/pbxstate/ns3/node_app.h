// One pbxstate node inside ns-3: an ns3::Application that hosts one pbxstate::Engine and is its
// Env. ns-3's scheduler is the clock, a UDP socket the transport, an ns-3 RandomVariableStream the
// random source (so ns-3's seed and run number decide everything the engine draws).
//
// Framing and sender identity: a frame is sent as the UDP payload, byte for byte, with nothing
// added. The receiver learns the sender's NodeId from the datagram's source address through the
// PeerDirectory every node shares (a real UDP deployment configures the same peer list). A datagram
// from an address outside the directory is counted (frames_unknown_sender) and never reaches the
// engine.
//
// Broadcast: BroadcastMode::kLanBroadcast sends one subnet-directed UDP broadcast to the node's own
// LAN plus one unicast copy to every peer outside that LAN (ns-3 routers do not forward
// broadcasts); BroadcastMode::kUnicastFanout sends one unicast copy to every other peer. Every copy
// put on the wire is counted in NodeCounters.
//
// Jitter: ns-3's channels have a constant delay. The transport can hold each outgoing datagram for
// an extra uniformly drawn delay in [0, send_jitter] before it reaches the socket (per packet, so
// datagrams may be reordered, as with netem's jitter). That models jitter of the node's own access
// network; jitter of an inter-site link lives in the link (sim/ns3 JitterPointToPointChannel).
//
// Crash and restart: Crash() destroys the engine, closes the socket and drops every pending timer
// and delayed datagram, as a killed process would. Restart() creates a new engine with a greater
// incarnation; it remembers nothing from before.
//
// Corosync mode (NodeAppConfig::corosync set): the engine runs with MembershipSource::kTransport
// over the Corosync model (CorosyncStack, sim/ns3/COROSYNC_MODEL.md), as pbxstated runs over CPG.
// The socket carries totem datagrams; Broadcast and Unicast become CPG messages (a unicast is a
// message addressed to one node, as pbxstated's addressed frames are), delivered in agreed order;
// views come from CPG. The cluster's ring is formed when the application starts. A crash of kind
// kProcess destroys the engine only (its corosync multicasts the leave); kNode also destroys the
// node's corosync and closes the socket, and its restart boots corosync again (gather) before the
// new engine joins. knet's transmit path never drops a datagram the host cannot send yet: when the
// LAN device's transmit queue (a real host's qdisc, ns3sim::kHostTxQueuePackets) is full, knet's
// sendmsg gets ENOBUFS, sleeps KNET_THREADS_TIMERES / 16 and tries again, the datagrams after it
// waiting behind (libknet threads_tx.c: _dispatch_to_links; transport_udp.c:
// udp_transport_tx_sock_error). The model holds them in that order and retries after kKnetTxRetry.
//
// Threading: ns-3 is single-threaded; everything here runs on the simulator's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include <ns3/application.h>
#include <ns3/event-id.h>
#include <ns3/ipv4-address.h>
#include <ns3/net-device.h>
#include <ns3/nstime.h>
#include <ns3/packet.h>
#include <ns3/queue.h>
#include <ns3/ptr.h>
#include <ns3/random-variable-stream.h>
#include <ns3/socket.h>

#include "pbxstate/config.h"
#include "pbxstate/engine.h"
#include "pbxstate/ns3/corosync_stack.h"
#include "pbxstate/totem/knet.h"
#include "pbxstate/env.h"
#include "pbxstate/types.h"

namespace pbxstate::ns3t {

// Largest UDP payload on an Ethernet LAN (1500 - 20 IPv4 - 8 UDP). Larger frames get kTooLarge.
inline constexpr std::size_t kMaxUdpPayload = 1472;
// Corosync mode, knet's transmit path (see above): a refused send is tried again after
// KNET_THREADS_TIMERES (knet's heartbeat tick) / 16, and at most kMaxKnetBacklog datagrams wait,
// what knet's socket buffer holds (KNET_RING_RCVBUFF, 8 MiB, its SO_SNDBUF too) in full datagrams;
// beyond it a datagram is lost and counted (knet_tx_dropped).
inline constexpr Duration kKnetTxRetry = totem::kKnetTick / 16;
inline constexpr std::size_t kMaxKnetBacklog = 8 * 1024 * 1024 / kMaxUdpPayload;

// The transmit queue of `device` (SimpleNetDevice's and CsmaNetDevice's "TxQueue"), or nullptr
// when it has none.
ns3::Ptr<ns3::Queue<ns3::Packet>> TransmitQueue(ns3::Ptr<ns3::NetDevice> device);

// Who is who: every cluster node's IPv4 address and LAN (site) index. Shared read-only by all
// nodes of a world (one copy for 1,000 nodes, not 1,000).
class PeerDirectory {
 public:
  // Adds a node. Ids and addresses must be unique; `lan` says which broadcast domain it is on.
  // Returns false (and adds nothing) on a duplicate id or address, or id 0.
  bool Add(NodeId id, ns3::Ipv4Address address, std::uint32_t lan);

  // nullopt-like: kNoNode when the address is nobody's.
  NodeId NodeAt(ns3::Ipv4Address address) const;
  // Whether `id` is known; if so, its address and LAN.
  bool Find(NodeId id, ns3::Ipv4Address* address, std::uint32_t* lan) const;
  // Every node, in the order added.
  const std::vector<NodeId>& nodes() const { return order_; }

 private:
  struct Entry {
    ns3::Ipv4Address address;
    std::uint32_t lan;
  };
  std::unordered_map<NodeId, Entry> by_id_;
  std::unordered_map<std::uint32_t, NodeId> by_address_;
  std::vector<NodeId> order_;
};

enum class BroadcastMode : std::uint8_t {
  kLanBroadcast,   // one UDP broadcast per LAN frame, unicast copies to peers on other LANs
  kUnicastFanout,  // one UDP unicast per peer (Maelstrom-style counting; no broadcast medium)
};

// Receives every view change of every node with its simulation time, for metrics. Calls come from
// inside the engine's listener: an implementation may call the engine's const methods only.
class ViewCollector {
 public:
  virtual ~ViewCollector() = default;
  virtual void OnViewChange(NodeId node, ns3::Time at, const ViewChange& change) = 0;
  virtual void OnMembersChanged(NodeId /*node*/, ns3::Time /*at*/, const std::vector<NodeId>& /*members*/) {}
  // The node's engine started (first start or restart) with `incarnation`.
  virtual void OnNodeStarted(NodeId /*node*/, ns3::Time /*at*/, std::uint64_t /*incarnation*/) {}
  // The node crashed: its engine is gone.
  virtual void OnNodeCrashed(NodeId /*node*/, ns3::Time /*at*/) {}
  // Corosync mode: the model's CPG handed `node`'s engine this view (Engine::OnMembership), just
  // before the engine takes it. The harness's oracle judges membership by these.
  virtual void OnMembership(NodeId /*node*/, ns3::Time /*at*/, const std::vector<NodeId>& /*members*/) {}
  // Corosync mode: a new ring is operational at `node`.
  virtual void OnRingFormed(NodeId /*node*/, ns3::Time /*at*/, const std::vector<NodeId>& /*members*/) {}
};

// What a node put on and took off the wire, across restarts (the application keeps them, not
// the engine). Payload bytes are the pbxstate frame bytes (UDP payload); wire_bytes adds the
// UDP, IPv4 and Ethernet headers and trailer of each datagram (8 + 20 + 18). In Corosync mode a
// frame is a CPG message (as the netns backend counts them: handed to CPG once, whatever totem
// does with it), and the datagrams are totem's.
struct NodeCounters {
  std::uint64_t frames_sent = 0;           // UDP mode: datagrams handed to the socket, fan-out
                                           // copies included; Corosync mode: CPG messages sent
  std::uint64_t payload_bytes_sent = 0;
  std::uint64_t wire_bytes_sent = 0;
  std::uint64_t broadcast_calls = 0;       // Env::Broadcast calls from the engine
  std::uint64_t unicast_calls = 0;         // Env::Unicast calls from the engine
  std::uint64_t send_errors = 0;           // the socket refused a datagram (no route: interface down)
  std::uint64_t jitter_queue_overflow = 0; // sends refused with kTryAgain: delayed queue full
  std::uint64_t frames_received = 0;       // datagrams handed to the engine
  std::uint64_t payload_bytes_received = 0;
  std::uint64_t frames_unknown_sender = 0; // datagrams from an address not in the directory
  std::uint64_t frames_from_self = 0;      // our own broadcast echoed back (dropped)
  std::uint64_t wakeups_deferred = 0;      // engine re-asked for an instant it was just woken at
  std::uint64_t starts = 0;                // engine starts (1 + restarts)
  std::uint64_t crashes = 0;
  std::uint64_t datagrams_sent = 0;        // every datagram handed to the socket
  std::uint64_t frames_sent_to_other_sites = 0;  // UDP mode: frames_sent addressed to a node of
                                                 // another LAN (they cross a link between sites)
  std::uint64_t cpg_try_again = 0;         // Corosync mode: sends CPG refused (TRY_AGAIN)
  std::uint64_t knet_tx_waits = 0;         // Corosync mode: datagrams that waited for room on the device
  std::uint64_t knet_tx_dropped = 0;       // Corosync mode: datagrams lost on a full knet backlog
};

struct NodeAppConfig {
  // Template for the engine. node_id must be set; incarnation is chosen by the app at every start
  // (the simulated wall clock in microseconds, forced above the previous one).
  EngineConfig engine;
  std::uint16_t port = 5405;
  BroadcastMode broadcast_mode = BroadcastMode::kLanBroadcast;
  // Subnet-directed broadcast address of the node's LAN (kLanBroadcast).
  ns3::Ipv4Address lan_broadcast;
  std::shared_ptr<const PeerDirectory> peers;  // required; must contain engine.node_id
  // Extra per-datagram delay, uniform in [0, send_jitter]. 0: datagrams go to the socket at once.
  ns3::Time send_jitter = ns3::Seconds(0);
  // Datagrams held for jitter at once. Beyond it the engine's send gets kTryAgain (it retries).
  std::size_t max_delayed_datagrams = 8192;
  // ns-3 random stream numbers for this node's generators (engine randomness, jitter draws). The
  // app uses `rng_stream` and `rng_stream + 1`, so give each node two numbers of its own.
  std::int64_t rng_stream = 0;
  ViewCollector* collector = nullptr;  // borrowed; may be null
  // Corosync mode when set (engine.membership must then be kTransport); UDP with the engine's own
  // heartbeats when null. Shared by every node of a world.
  std::shared_ptr<const CorosyncModelConfig> corosync;
  std::int64_t totem_rng_stream = 0;  // Corosync mode: the model's random stream for this node
};

class NodeApp : public ns3::Application, private DatagramPort {
 public:
  static ns3::TypeId GetTypeId();
  NodeApp();
  ~NodeApp() override;

  // Must be called once before the application starts. Returns false when the config is unusable
  // (no directory, node missing from it, engine config invalid); the application then refuses to
  // start an engine.
  bool Configure(const NodeAppConfig& config);

  // Kills the node: the engine is destroyed, the socket closed, pending timer and delayed
  // datagrams dropped. No-op when already down.
  void Crash();
  // Starts a fresh engine with a greater incarnation. No-op when already up.
  void Restart();

  // The live engine, or nullptr while crashed or before start. Valid until the next Crash().
  Engine* engine() const { return engine_.get(); }
  bool up() const { return engine_ != nullptr; }
  NodeId node_id() const { return config_.engine.node_id; }
  const NodeCounters& counters() const { return counters_; }

  // Changes the per-datagram jitter from now on (datagrams already held keep their delay).
  void SetSendJitter(ns3::Time jitter) { config_.send_jitter = jitter; }

  // Corosync mode: the node's corosync, or nullptr (UDP mode, or a whole-node crash).
  const CorosyncStack* corosync() const { return corosync_.get(); }
  CorosyncStack* corosync() { return corosync_.get(); }

 protected:
  void DoDispose() override;

 private:
  class AppEnv;
  class Listener;

  void StartApplication() override;
  void StopApplication() override;

  bool StartEngine();
  void StopEngine();
  bool OpenSocket();
  void CloseSocket();  // also drops held datagrams
  void OnWakeup();
  void OnReadable(ns3::Ptr<ns3::Socket> socket);

  // Corosync mode (node_app_corosync.cc).
  bool StartCorosync(bool formed);
  void CrashCorosync();
  void DeliverCpg(NodeId from, std::span<const std::uint8_t> payload);
  void DeliverView(const std::vector<NodeId>& members);
  SendStatus SendCpg(NodeId to, std::span<const std::uint8_t> frame);
  void SendDatagramTo(NodeId to, std::span<const std::uint8_t> bytes) override;
  void MulticastDatagram(std::span<const std::uint8_t> bytes) override;
  // knet's transmit path (see the header comment).
  bool TxQueueFull() const;
  void HoldForKnet(ns3::Ptr<ns3::Packet> packet, ns3::Ipv4Address to);
  void KnetRetry();
  void DropKnetBacklog();

  // Env back ends.
  void ScheduleWakeup(MonoTime at);
  SendStatus Broadcast(std::span<const std::uint8_t> frame);
  SendStatus Unicast(NodeId to, std::span<const std::uint8_t> frame);
  std::uint64_t Random();
  // Sends one datagram now, or after a jitter delay. Counts it.
  void Emit(ns3::Ptr<ns3::Packet> packet, ns3::Ipv4Address to);
  void EmitNow(ns3::Ptr<ns3::Packet> packet, ns3::Ipv4Address to);
  void Transmit(ns3::Ptr<ns3::Packet> packet, ns3::Ipv4Address to);  // to the socket, counted
  void EmitDelayed(std::uint64_t ticket);
  // Datagrams a send will put on the wire (fan-out size), to refuse it whole when the jitter
  // queue cannot hold them.
  std::size_t DatagramsForBroadcast() const;

  NodeAppConfig config_;
  bool configured_ = false;
  bool in_wakeup_ = false;  // inside Engine::OnTimer, called from OnWakeup
  std::uint64_t last_incarnation_ = 0;
  NodeId self_ = kNoNode;
  ns3::Ipv4Address self_address_;
  std::uint32_t self_lan_ = 0;
  std::vector<ns3::Ipv4Address> remote_lan_peers_;  // kLanBroadcast: peers outside our LAN
  std::vector<ns3::Ipv4Address> all_peers_;         // kUnicastFanout: everyone but us

  std::unique_ptr<AppEnv> env_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Engine> engine_;
  ns3::Ptr<ns3::Socket> socket_;
  ns3::EventId wakeup_;
  ns3::Ptr<ns3::UniformRandomVariable> engine_rng_;
  ns3::Ptr<ns3::UniformRandomVariable> jitter_rng_;

  // Datagrams held for jitter, by ticket. Bounded by max_delayed_datagrams.
  struct Delayed {
    ns3::Ptr<ns3::Packet> packet;
    ns3::Ipv4Address to;
    ns3::EventId event;
  };
  std::unordered_map<std::uint64_t, Delayed> delayed_;
  std::uint64_t next_ticket_ = 1;

  std::vector<std::uint8_t> rx_buffer_;  // reused for every datagram (at most kMaxUdpPayload + slack)
  NodeCounters counters_;

  // Corosync mode.
  std::unique_ptr<CorosyncStack> corosync_;
  ns3::Ptr<ns3::UniformRandomVariable> totem_rng_;
  std::uint64_t last_ring_seq_ = 0;              // what corosync's ring id file would hold
  std::optional<MembershipView> pending_view_;   // a view that came before the engine existed
  ns3::Ptr<ns3::Queue<ns3::Packet>> tx_queue_;   // the LAN device's transmit queue
  std::deque<std::pair<ns3::Ptr<ns3::Packet>, ns3::Ipv4Address>> knet_backlog_;  // in send order
  ns3::EventId knet_retry_;
  std::uint64_t view_id_ = 0;
};

}  // namespace pbxstate::ns3t
