// A deterministic in-process network: N engines in one process, on one virtual clock.
//
// Cluster owns every node's Env and Engine and a discrete-event queue. Nothing runs on its own:
// time moves only inside Advance()/RunUntil(), and every event (frame delivery, membership view,
// engine wakeup) happens at a virtual instant, ties broken by the order the events were queued.
// All randomness (link faults, each engine's Env::Random) comes from ClusterOptions::seed, so the
// same options, the same calls in the same order and the same build give the same run, frame for
// frame: TraceHash() proves it.
//
// Nodes are addressed by index 0..size()-1; node i has NodeId i + 1.
//
// Threading: none. A Cluster and its engines belong to the thread that uses them.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/config.h"
#include "pbxstate/engine.h"
#include "pbxstate/env.h"
#include "pbxstate/stats.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::inproc {

// What one directed link does to the frames it carries. Every probability is in [0, 1].
struct LinkFaults {
  Duration delay = std::chrono::milliseconds(1);  // base one-way latency, >= 0
  Duration jitter = Duration::zero();  // a uniform extra in [0, jitter]; reorders frames by itself
  double loss = 0.0;                   // a frame is dropped
  double duplicate = 0.0;              // a frame is delivered twice (each copy gets its own delay)
  double reorder = 0.0;                // a frame is held back by an extra reorder_delay
  Duration reorder_delay = std::chrono::milliseconds(20);
  // Bits per second, 0 for unlimited. A frame first waits for the frames queued on this link
  // ahead of it and takes size * 8 / bandwidth to send; its delay starts after that. Each
  // directed link is a pipe of its own (no medium is shared between links).
  std::uint64_t bandwidth_bps = 0;
  friend bool operator==(const LinkFaults&, const LinkFaults&) = default;
};

// How the network, playing CPG (MembershipSource::kTransport), forms views.
enum class TransportViews : std::uint8_t {
  // Each node's view is every up node it reaches both ways (a one-way cut counts as a
  // disconnection). Views need not agree: with 0-/->1 and 2 talking to both, node 2 sees {0,1,2}
  // while 0 and 1 do not see each other. Frames travel wherever links let them. Harsher than CPG.
  kPerNode,
  // Like Corosync's totem: the up nodes split into disjoint groups in which every pair reaches
  // each other both ways (greedily, in index order); every member of a group gets the same view,
  // and frames cross no group boundary (CPG delivers only within a configuration). Virtual
  // synchrony: a node's new view comes after every frame already on its way to it, so nodes
  // that move to a view together have delivered the same frames of the old one. What a node
  // sends while a view of its own is pending is held and leaves when its newest view is
  // installed, to that view's group, as totem queues a message until its node holds the token
  // of the ring that forms next (so a view superseded before it was installed carries nothing).
  kConsistent,
};

struct ClusterOptions {
  std::size_t nodes = 3;            // nodes created (and started) by Create; more with AddNode
  std::uint64_t seed = 1;           // the only source of randomness
  // Every node's engine configuration; node_id, incarnation and membership are set by the
  // Cluster (node_id = index + 1; incarnation grows with every start).
  EngineConfig engine;
  MembershipSource membership = MembershipSource::kHeartbeat;
  // kTransport only: how long after a topology change each affected node gets its new view.
  Duration membership_delay = Duration::zero();
  TransportViews transport_views = TransportViews::kPerNode;
  LinkFaults link;                  // every link's faults at creation
  // Bounds. A frame that would make the queue hold more than max_queued_frames is dropped and
  // counted (DropCause::kQueueFull); a send larger than max_frame_bytes is refused (kTooLarge).
  std::size_t max_queued_frames = 1u << 20;
  std::size_t max_frame_bytes = 64 * 1024;
  // Advance() gives up (and fails) after this many events at a single virtual instant: an engine
  // that keeps asking to be woken "now" would otherwise hang the caller.
  std::size_t max_events_per_instant = 1u << 20;
};

// Why the network did not hand a frame to its destination.
enum class DropCause : std::uint8_t {
  kLoss = 0,     // LinkFaults::loss
  kPartition,    // sender and receiver are in different groups, or the link is cut one way, or
                 // (TransportViews::kConsistent) they are in different views
  kDeadNode,     // the receiver was down when the frame was sent or when it arrived
  kQueueFull,    // ClusterOptions::max_queued_frames
  kTooLarge,     // ClusterOptions::max_frame_bytes (the sender got SendStatus::kTooLarge)
  kCount
};
inline constexpr int kDropCauseCount = static_cast<int>(DropCause::kCount);
std::string_view DropCauseName(DropCause cause);

// Per-node traffic as the network saw it. Kept across crashes and restarts of the node.
struct NodeCounters {
  std::uint64_t frames_sent = 0, bytes_sent = 0;          // one per Broadcast/Unicast accepted
  std::uint64_t broadcasts = 0, unicasts = 0;
  std::uint64_t copies_sent = 0;                          // per destination, duplicates included
  // Per destination the frame was addressed to (every up peer of a broadcast, the peer of a
  // unicast), before any fault: what a network of unicast links carries.
  std::uint64_t copies_addressed = 0, bytes_addressed = 0;
  std::uint64_t frames_received = 0, bytes_received = 0;  // handed to this node's engine
  std::uint64_t duplicates_made = 0;                      // extra copies of frames it sent
  std::uint64_t reordered = 0;                            // its frames held back by LinkFaults::reorder
  std::array<std::uint64_t, kDropCauseCount> dropped_to{};  // frames meant for it, dropped, by cause
  std::uint64_t restarts = 0;
};

// Per directed link.
struct LinkCounters {
  std::uint64_t delivered = 0, bytes_delivered = 0;
  std::uint64_t in_flight = 0;      // frames queued on the link now
  std::uint64_t max_in_flight = 0;  // the most ever queued at once (ResetLinkMaxima() restarts it)
};

enum class TraceKind : std::uint8_t {
  kDelivered = 0,   // a frame handed to Engine::OnFrame
  kDropped,         // a frame the network dropped (drop_cause says why)
  kViewChange,      // a node's ViewListener::OnViewChange
  kMembersChanged,  // a node's ViewListener::OnMembersChanged
  kMembership,      // the network called Engine::OnMembership (kTransport)
  kCrash,
  kStart,           // a node's engine was created and started (first start or restart)
};
std::string_view TraceKindName(TraceKind kind);

// One traced event. Pointers are valid only during the hook call.
struct TraceEvent {
  TraceKind kind = TraceKind::kDelivered;
  MonoTime at{};
  std::size_t node = 0;             // receiver, listening node, crashed or started node
  std::size_t peer = 0;             // frames: the sender
  std::size_t bytes = 0;            // frames: size
  std::uint64_t frame_hash = 0;     // frames: content hash
  DropCause drop_cause = DropCause::kCount;
  std::span<const std::uint8_t> frame;                // frames: the bytes
  const ViewChange* change = nullptr;                 // kViewChange
  const std::vector<NodeId>* members = nullptr;       // kMembersChanged, kMembership
};

class Cluster {
 public:
  // Creates a cluster of options.nodes started nodes, fully connected, at virtual time 0.
  // Fails (and leaves *out untouched) when the options are out of range or the engine
  // configuration does not validate. On success *out owns the cluster.
  static Status Create(const ClusterOptions& options, std::unique_ptr<Cluster>* out);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // ---- time ----

  // Runs every event due within `d` of now, then sets now to now + d. `d` must be >= 0.
  // Fails, leaving the clock at the instant that stalled, when more than max_events_per_instant
  // events happen at one instant (an engine livelock); the cluster stays usable.
  Status Advance(Duration d);
  // Advance(at - now()); `at` before now() is an error.
  Status RunUntil(MonoTime at);
  // Runs every event due strictly before `at`, then sets now to `at`: what the caller does next
  // (a fault, a local change) happens at `at` before any frame, view or wakeup due then. `at`
  // before now() is an error; failures as for Advance.
  Status RunBefore(MonoTime at);
  // Virtual monotonic time; starts at MonoTime{} (0).
  MonoTime now() const;
  // 2026-01-01T00:00:00Z + (now() - MonoTime{}): every node's Env::WallNow().
  WallTime wall_now() const;
  static WallTime Epoch();

  // ---- topology and faults; each takes effect for frames sent from now on ----

  // Splits the nodes into groups: frames cross no group boundary. Each node may appear in at most
  // one group; a node listed nowhere is alone. Replaces any earlier partition; one-way cuts stay.
  // Fails on an index out of range or listed twice (nothing changes).
  Status Partition(const std::vector<std::vector<std::size_t>>& groups);
  // Drops every frame from `from` to `to` (one way: `to` can still reach `from`).
  Status CutLink(std::size_t from, std::size_t to);
  Status RestoreLink(std::size_t from, std::size_t to);
  // CutLink for every pair (a in `from`, b in `to`, a != b) at once: one topology change (one
  // round of transport views), however many links. Fails on an index out of range (nothing
  // changes).
  Status CutLinks(const std::vector<std::size_t>& from, const std::vector<std::size_t>& to);
  // Removes every partition and cut. Link faults (loss, delay, ...) are untouched.
  void Heal();
  // Between Begin and End, topology calls (Partition, CutLink(s), RestoreLink, Heal) make one
  // change: transport views are computed once, at End, as CPG forms one configuration for what
  // happened at one instant (a partition that replaces another never shows a merged view in
  // between). Not nested; End without Begin is a programming error.
  void BeginTopologyChange();
  void EndTopologyChange();
  // Faults of one directed link / of every link (including links of nodes added later).
  Status SetLinkFaults(std::size_t from, std::size_t to, const LinkFaults& faults);
  Status SetAllLinkFaults(const LinkFaults& faults);
  // True when frames from `from` currently reach `to` (both up, same group, link not cut, and with
  // TransportViews::kConsistent the same view).
  bool Reachable(std::size_t from, std::size_t to) const;

  // Destroys node i's engine: its memory is lost, its pending wakeup and every frame queued to it
  // are dropped. Frames it already sent stay in flight. Fails when i is out of range or down.
  Status Crash(std::size_t i);
  // Creates node i's engine anew with a greater incarnation and starts it. Fails when i is out of
  // range or up, or when the engine cannot be created (the node stays down).
  Status Restart(std::size_t i);
  // Adds a node (index size()), connected to every node (partitions see it alone until the next
  // Partition/Heal), and starts it. Returns its index through *index (may be null).
  Status AddNode(std::size_t* index = nullptr);

  // ---- nodes ----

  std::size_t size() const;
  static NodeId IdOf(std::size_t i) { return static_cast<NodeId>(i + 1); }
  bool up(std::size_t i) const;
  // Indices of the nodes that are up, ascending.
  std::vector<std::size_t> UpNodes() const;
  // Node i's engine, or nullptr when i is down or out of range. Borrowed: valid until node i
  // crashes or the cluster is destroyed. Callers may drive it directly (queries, local changes);
  // they must not call its upcalls (OnFrame, OnTimer, OnMembership): the network does.
  Engine* engine(std::size_t i);
  const Engine* engine(std::size_t i) const;
  // Node i's current incarnation (of its last start), 0 if it never started.
  std::uint64_t incarnation(std::size_t i) const;

  // ---- local changes on node i; FailedPrecondition when i is down, else the engine's answer ----

  Status SetDeviceState(std::size_t i, std::string_view device, DeviceState state);
  Status SetMailbox(std::size_t i, std::string_view mailbox, const MailboxCounts& counts);
  // `expires_in` is relative to now(); the registration expires at wall_now() + expires_in.
  Status SetRegistration(std::size_t i, std::string_view aor, std::string_view contact,
                         Duration expires_in);
  Status SetRegistration(std::size_t i, std::string_view aor, const RegistrationInfo& info);
  Status RemoveRegistration(std::size_t i, std::string_view aor);

  // ---- queries on node i; empty / nullopt when i is down ----

  std::optional<DeviceState> DeviceStateAt(std::size_t i, std::string_view device) const;
  std::optional<MailboxValue> MailboxAt(std::size_t i, std::string_view mailbox) const;
  std::vector<RegistrationView> RegistrationsAt(std::size_t i, std::string_view aor) const;
  // True when every up node holds the same view (equal Engine::Digest()) and counts exactly the up
  // nodes as members. False while a partition or cut separates up nodes, by construction.
  bool Converged() const;

  // ---- measurement ----

  // Node i's engine counters, copied (zeros when i is down or out of range: they die with the
  // engine).
  EngineStats stats(std::size_t i) const;
  // The network's counters for node i / the link from -> to. Requires indices < size() (checked:
  // the process aborts otherwise). The reference stays valid until the next AddNode.
  const NodeCounters& counters(std::size_t i) const;
  const LinkCounters& link_counters(std::size_t from, std::size_t to) const;
  // Sets every link's max_in_flight to its current in_flight, to measure one phase of a run.
  void ResetLinkMaxima();
  // Frames queued now, over all links, and frames held for their senders' pending views.
  std::size_t frames_in_flight() const;

  // Called for every traced event, after it is folded into TraceHash(). The hook must not call
  // any non-const Cluster or Engine method (checked for the Cluster's: the process aborts).
  // Replaces an earlier hook; an empty function removes it.
  void SetTraceHook(std::function<void(const TraceEvent&)> hook);
  // A running hash of every traced event since Create (kind, time, nodes, frame content, view
  // changes). Equal for two runs with the same options and calls.
  std::uint64_t TraceHash() const;
  // Receives every engine's Env::Log lines with the node's index; by default they are discarded.
  // Same restrictions as the trace hook.
  void SetLogHook(std::function<void(std::size_t node, LogLevel, std::string_view)> hook);

  // The options the cluster was created with (link holds the latest SetAllLinkFaults).
  const ClusterOptions& options() const;

 private:
  class Impl;
  explicit Cluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pbxstate::inproc
