// Private to transports/inproc/src: the in-process network's state (Cluster::Impl) and what its
// files share. cluster.cc is the public API of cluster.h over it; cluster_network.cc runs virtual
// time (the event queue, wakeups) and carries frames over the links (faults, bandwidth, drops);
// cluster_topology.cc keeps who reaches whom, the transport's views and the nodes' lives (start,
// add, crash); cluster_trace.cc hashes and reports every event.
//
// Invariants are PBXSTATE_CHECKs, live in release builds: a broken invariant in the test network
// would make every result meaningless, and the checks are cheap.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <span>
#include <string_view>
#include <tuple>
#include <vector>

#include "pbxstate/check.h"
#include "pbxstate/inproc/cluster.h"
#include "pbxstate/random.h"

namespace pbxstate::inproc {

// Seed streams: the network's fault draws and every (node, life) get their own.
inline constexpr std::uint64_t kNetworkStream = 0xFFFFFFFFFFFFFFFFULL;

// A well-mixed 64-bit hash of a frame's bytes (FNV-1a, then Mix64), and of a string.
std::uint64_t HashBytes(std::span<const std::uint8_t> bytes);
std::uint64_t HashString(std::string_view s);

// Folds every trace event into one 64-bit value (Cluster::TraceHash): two runs with equal hashes
// saw the same events in the same order.
class TraceHasher {
 public:
  void Add(std::uint64_t v) { h_ = Mix64(h_ ^ v) + kGoldenGamma; }
  template <typename T>
  void AddOpt(const std::optional<T>& v) {
    Add(v.has_value() ? 1 : 0);
    if (v) Add(static_cast<std::uint64_t>(*v));
  }
  void AddMailbox(const std::optional<MailboxValue>& v) {
    Add(v.has_value() ? 1 : 0);
    if (!v) return;
    Add(v->counts.new_messages);
    Add(v->counts.old_messages);
    Add(v->counts.urgent_messages);
    Add(static_cast<std::uint64_t>(v->hlc.physical_ns));
    Add(v->hlc.logical);
    Add(v->writer);
  }
  void AddRegistration(const RegistrationInfo* r) {
    Add(r != nullptr ? 1 : 0);
    if (r == nullptr) return;
    Add(HashString(r->contact));
    Add(static_cast<std::uint64_t>(r->expires.time_since_epoch().count()));
    Add(static_cast<std::uint64_t>(r->status));
    Add(r->rtt_us);
  }
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0x243f6a8885a308d3ULL;
};

inline std::int64_t Ns(MonoTime t) { return t.time_since_epoch().count(); }

class Cluster::Impl {
 public:
  // The Env one node's engine sees. It lives as long as the node slot (across restarts), so an
  // engine never outlives its env.
  class NodeEnv final : public Env {
   public:
    NodeEnv(Impl* impl, std::size_t index) : impl_(impl), index_(index) {}
    MonoTime Now() override { return impl_->now_; }
    WallTime WallNow() override { return impl_->WallNow(); }
    void ScheduleWakeup(MonoTime at) override { impl_->ScheduleWakeup(index_, at); }
    SendStatus Broadcast(std::span<const std::uint8_t> frame) override {
      return impl_->Send(index_, std::nullopt, frame);
    }
    SendStatus Unicast(NodeId to, std::span<const std::uint8_t> frame) override {
      if (to == kNoNode || to > impl_->nodes_.size() || to - 1 == index_) return SendStatus::kUnreachable;
      return impl_->Send(index_, static_cast<std::size_t>(to - 1), frame);
    }
    // Playing CPG (kTransport), the network confirms a frame once it has reached every member
    // it was sent to, as CPG does by delivering a message back to its sender; playing UDP
    // (kHeartbeat) it confirms nothing, like a socket (env.h).
    std::optional<std::size_t> SendBacklog() override {
      if (impl_->options_.membership != MembershipSource::kTransport) return std::nullopt;
      return impl_->nodes_[index_].frames_in_flight;
    }
    std::uint64_t Random() override { return impl_->nodes_[index_].rng.Next(); }
    void Log(LogLevel level, std::string_view message) override {
      if (!impl_->log_hook_) return;
      const bool outer = impl_->in_callback_;
      impl_->in_callback_ = true;
      impl_->log_hook_(index_, level, message);
      impl_->in_callback_ = outer;
    }

   private:
    Impl* impl_;
    std::size_t index_;
  };

  class Listener final : public ViewListener {
   public:
    Listener(Impl* impl, std::size_t index) : impl_(impl), index_(index) {}
    void OnViewChange(const ViewChange& change) override { impl_->TraceViewChange(index_, change); }
    void OnMembersChanged(const std::vector<NodeId>& members) override {
      impl_->TraceMembers(TraceKind::kMembersChanged, index_, members);
    }

   private:
    Impl* impl_;
    std::size_t index_;
  };

  // A frame sent while its sender's view is pending: to one node, or a broadcast.
  struct HeldFrame {
    std::optional<std::size_t> to;
    std::shared_ptr<const std::vector<std::uint8_t>> frame;
    std::uint64_t hash = 0;
  };

  struct Node {
    std::unique_ptr<NodeEnv> env;
    std::unique_ptr<Listener> listener;
    std::unique_ptr<Engine> engine;
    // Grows at every crash and start; a queued event for an older generation is void.
    std::uint64_t generation = 0;
    std::uint64_t incarnation = 0;
    std::uint64_t lives = 0;
    SplitMix64 rng;
    // The pending wakeup's key in wakeups_, if any.
    std::optional<std::tuple<std::int64_t, std::uint64_t, std::size_t>> wakeup;
    NodeCounters counters;
    std::size_t frames_in_flight = 0;  // copies of its frames queued on links (its send backlog)
    std::size_t group = 0;
    std::vector<NodeId> last_view;  // kTransport: the view last queued for this node
    std::size_t view_group = 0;     // TransportViews::kConsistent: index of its group
    std::int64_t last_arrival = 0;  // the latest arrival (ns) of any frame queued to it
    std::int64_t view_due = 0;      // kTransport: when the view last queued for it is installed
    // kConsistent: frames it sent while a view of its own was pending (HoldsSends), in order;
    // each counts in frames_in_flight and against max_queued_frames until it leaves.
    std::vector<HeldFrame> held;
  };

  struct Event {
    std::int64_t at;
    std::uint64_t seq;
    bool is_frame;
    std::size_t from, to;
    std::uint64_t to_generation;
    std::shared_ptr<const std::vector<std::uint8_t>> frame;
    std::uint64_t frame_hash = 0;
    std::shared_ptr<const MembershipView> view;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return std::tie(a.at, a.seq) > std::tie(b.at, b.seq);
    }
  };

  explicit Impl(const ClusterOptions& options)
      : options_(options), net_rng_(SplitMix64::Derive(options.seed, kNetworkStream)) {}

  // ---- time ----

  WallTime WallNow() const { return Epoch() + (now_ - MonoTime{}); }

  // Runs the events due at or before `target` (`inclusive`) or strictly before it, then sets
  // now to `target`.
  Status RunUntil(MonoTime target, bool inclusive = true);

  void ScheduleWakeup(std::size_t i, MonoTime at);

  // ---- frames ----

  // Node `from` sends `bytes` to `to`, or to every other node that is up (a broadcast); frames over
  // max_frame_bytes are dropped as too large.
  SendStatus Send(std::size_t from, std::optional<std::size_t> to, std::span<const std::uint8_t> bytes);

  // kConsistent: whether what node i sends now waits for its pending view (totem sends a
  // message only in an installed ring; TransportViews::kConsistent).
  bool HoldsSends(std::size_t i) const;

  // Sends `frame` now: to `to`, or a copy to every other up node.
  void Transmit(std::size_t from, std::optional<std::size_t> to,
                const std::shared_ptr<const std::vector<std::uint8_t>>& frame, std::uint64_t hash);

  // Node i's newest view is installed: its held frames leave, in order (RouteHeld), or, when it
  // died (`dead`), are dropped.
  void ReleaseHeld(std::size_t i, bool dead);

  // Puts one copy of `frame` on the link from -> to with its faults (loss, duplication, delay,
  // jitter, bandwidth, reordering), or drops it (dead node, partition, full queue).
  void Route(std::size_t from, std::size_t to, const std::shared_ptr<const std::vector<std::uint8_t>>& frame,
             std::uint64_t hash);

  // A frame event is due: hands the frame to its receiver, unless the receiver died meanwhile.
  void Deliver(const Event& ev);

  // After a frame of node i left the links: when it was the last one, node i's transport is
  // through with everything it accepted (kTransport only; env.h, SendBacklog).
  void ConfirmSends(std::size_t i);

  // Counts and traces a frame that did not arrive, with its cause.
  void Drop(std::size_t from, std::size_t to, std::span<const std::uint8_t> bytes, std::uint64_t hash,
            DropCause cause);

  // ---- topology ----

  bool Connected(std::size_t from, std::size_t to) const;

  bool MutuallyConnected(std::size_t a, std::size_t b) const { return Connected(a, b) && Connected(b, a); }

  bool SameView(std::size_t from, std::size_t to) const;

  // The members of node i's view under the configured TransportViews, sorted by id.
  std::vector<std::vector<NodeId>> ComputeViews();

  // kTransport: CPG tells each node who it can talk to (see TransportViews). A one-way cut breaks
  // the totem ring, so it counts as a disconnection. Only nodes whose view changed get a new one,
  // like a CPG configuration change.
  void RecomputeViews();

  // A view event is due: installs it at its node, unless the node died meanwhile.
  void DeliverMembership(const Event& ev);

  // Starts a new life of node i (a down slot): a new engine, incarnation and random stream.
  Status StartNode(std::size_t i);

  // Adds a slot (connected to everyone unless a partition is in force) and starts it; undone when
  // the start fails.
  Status AddNode(std::size_t* index);

  // Destroys node i's engine; its queued frames, views and wakeup die with it.
  Status Crash(std::size_t i);

  // ---- tracing ----

  TraceEvent MakeTrace(TraceKind kind, std::size_t node) const;

  // Folds `te` into the trace hash and hands it to the trace hook, if any.
  void Trace(const TraceEvent& te);

  void TraceViewChange(std::size_t i, const ViewChange& change);

  void TraceMembers(TraceKind kind, std::size_t i, const std::vector<NodeId>& members);

  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  ClusterOptions options_;
  MonoTime now_{};
  std::uint64_t seq_ = 0;
  SplitMix64 net_rng_;
  std::vector<Node> nodes_;
  std::vector<std::vector<LinkFaults>> links_;
  std::vector<std::vector<bool>> cut_;
  std::vector<std::vector<LinkCounters>> link_counters_;
  // Per directed link with a bandwidth: the instant (ns) it has sent every frame queued on it.
  std::vector<std::vector<std::int64_t>> free_at_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::set<std::tuple<std::int64_t, std::uint64_t, std::size_t>> wakeups_;
  std::size_t frames_queued_ = 0;
  std::size_t frames_held_ = 0;  // HeldFrame entries over all nodes
  std::uint64_t view_counter_ = 0;
  std::size_t next_group_ = 1;
  bool partitioned_ = false;
  bool in_topology_change_ = false;  // Begin/EndTopologyChange: views wait for the end
  bool views_due_ = false;           // a topology call asked for views during the change
  std::size_t starting_ = kNone;  // the node inside Engine::Start (its engine is not yet ours)
  bool in_callback_ = false;
  TraceHasher hasher_;
  std::function<void(const TraceEvent&)> trace_hook_;
  std::function<void(std::size_t, LogLevel, std::string_view)> log_hook_;
};

}  // namespace pbxstate::inproc
