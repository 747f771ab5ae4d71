#include "pbxstate/inproc/cluster.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <queue>
#include <set>
#include <span>
#include <tuple>
#include <utility>

#include "pbxstate/random.h"

// Invariant checks stay on in release builds: a broken invariant in the test network would make
// every test result meaningless, and the checks are cheap.
#define INPROC_CHECK(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: inproc invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace pbxstate::inproc {

std::string_view DropCauseName(DropCause cause) {
  switch (cause) {
    case DropCause::kLoss: return "loss";
    case DropCause::kPartition: return "partition";
    case DropCause::kDeadNode: return "dead_node";
    case DropCause::kQueueFull: return "queue_full";
    case DropCause::kTooLarge: return "too_large";
    case DropCause::kCount: break;
  }
  return "?";
}

std::string_view TraceKindName(TraceKind kind) {
  switch (kind) {
    case TraceKind::kDelivered: return "delivered";
    case TraceKind::kDropped: return "dropped";
    case TraceKind::kViewChange: return "view_change";
    case TraceKind::kMembersChanged: return "members_changed";
    case TraceKind::kMembership: return "membership";
    case TraceKind::kCrash: return "crash";
    case TraceKind::kStart: return "start";
  }
  return "?";
}

namespace {

// Seed streams: the network's fault draws and every (node, life) get their own.
constexpr std::uint64_t kNetworkStream = 0xFFFFFFFFFFFFFFFFULL;

std::uint64_t HashBytes(std::span<const std::uint8_t> bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then a finaliser for avalanche
  for (std::uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return Mix64(h ^ bytes.size());
}

std::uint64_t HashString(std::string_view s) {
  return HashBytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

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

std::int64_t Ns(MonoTime t) { return t.time_since_epoch().count(); }

}  // namespace

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
  Status RunUntil(MonoTime target, bool inclusive = true) {
    INPROC_CHECK(!in_callback_);
    if (target < now_) return Status::InvalidArgument("RunUntil: target is before now()");
    std::int64_t instant = Ns(now_);
    std::size_t at_instant = 0;
    for (;;) {
      bool have_event = !queue_.empty();
      bool have_wakeup = !wakeups_.empty();
      if (!have_event && !have_wakeup) break;
      bool take_wakeup;
      if (have_event && have_wakeup) {
        const auto& w = *wakeups_.begin();
        take_wakeup = std::tie(std::get<0>(w), std::get<1>(w)) < std::tie(queue_.top().at, queue_.top().seq);
      } else {
        take_wakeup = have_wakeup;
      }
      std::int64_t at = take_wakeup ? std::get<0>(*wakeups_.begin()) : queue_.top().at;
      if (at > Ns(target) || (!inclusive && at == Ns(target))) break;
      INPROC_CHECK(at >= Ns(now_));
      if (at != instant) {
        instant = at;
        at_instant = 0;
      }
      if (++at_instant > options_.max_events_per_instant) {
        std::string what = take_wakeup ? "a wakeup of node " + std::to_string(std::get<2>(*wakeups_.begin()))
                                       : "a frame or view for node " + std::to_string(queue_.top().to);
        return Status::FailedPrecondition("livelock: more than " +
                                          std::to_string(options_.max_events_per_instant) +
                                          " events at virtual instant " + std::to_string(at) + " ns (next: " +
                                          what + ")");
      }
      now_ = MonoTime(Duration(at));
      if (take_wakeup) {
        std::size_t i = std::get<2>(*wakeups_.begin());
        wakeups_.erase(wakeups_.begin());
        nodes_[i].wakeup.reset();
        INPROC_CHECK(nodes_[i].engine != nullptr);  // Crash removes the wakeup
        nodes_[i].engine->OnTimer();
      } else {
        Event ev = queue_.top();
        queue_.pop();
        if (ev.is_frame) {
          Deliver(ev);
          ConfirmSends(ev.from);
        } else {
          DeliverMembership(ev);
        }
      }
    }
    now_ = target;
    return Status::Ok();
  }

  void ScheduleWakeup(std::size_t i, MonoTime at) {
    Node& n = nodes_[i];
    // An engine being destroyed (Crash) has no future: its requests are void.
    if (n.engine == nullptr && starting_ != i) return;
    if (n.wakeup) wakeups_.erase(*n.wakeup);
    // A wakeup in the past is due now; the queue never runs backwards.
    std::int64_t when = std::max(Ns(at), Ns(now_));
    n.wakeup = std::make_tuple(when, seq_++, i);
    wakeups_.insert(*n.wakeup);
  }

  // ---- frames ----

  SendStatus Send(std::size_t from, std::optional<std::size_t> to, std::span<const std::uint8_t> bytes) {
    Node& sender = nodes_[from];
    // Only an engine being destroyed (Crash) sends while down: a dead node puts nothing on the wire.
    if (sender.engine == nullptr && starting_ != from) return SendStatus::kOk;
    std::uint64_t hash = HashBytes(bytes);
    if (bytes.size() > options_.max_frame_bytes) {
      if (to) {
        Drop(from, *to, bytes, hash, DropCause::kTooLarge);
      } else {
        for (std::size_t j = 0; j < nodes_.size(); ++j) {
          if (j != from && nodes_[j].engine) Drop(from, j, bytes, hash, DropCause::kTooLarge);
        }
      }
      return SendStatus::kTooLarge;
    }
    sender.counters.frames_sent++;
    sender.counters.bytes_sent += bytes.size();
    auto frame = std::make_shared<const std::vector<std::uint8_t>>(bytes.begin(), bytes.end());
    if (to) {
      sender.counters.unicasts++;
      sender.counters.copies_addressed++;
      sender.counters.bytes_addressed += bytes.size();
      Route(from, *to, frame, hash);
    } else {
      sender.counters.broadcasts++;
      // A broadcast reaches the members of the medium: nodes that are down are not on it.
      for (std::size_t j = 0; j < nodes_.size(); ++j) {
        if (j == from || !nodes_[j].engine) continue;
        sender.counters.copies_addressed++;
        sender.counters.bytes_addressed += bytes.size();
        Route(from, j, frame, hash);
      }
    }
    return SendStatus::kOk;
  }

  void Route(std::size_t from, std::size_t to, const std::shared_ptr<const std::vector<std::uint8_t>>& frame,
             std::uint64_t hash) {
    std::span<const std::uint8_t> bytes(*frame);
    if (!nodes_[to].engine) return Drop(from, to, bytes, hash, DropCause::kDeadNode);
    if (!Connected(from, to) || !SameView(from, to)) return Drop(from, to, bytes, hash, DropCause::kPartition);
    const LinkFaults& f = links_[from][to];
    if (net_rng_.Chance(f.loss)) return Drop(from, to, bytes, hash, DropCause::kLoss);
    int copies = net_rng_.Chance(f.duplicate) ? 2 : 1;
    if (copies == 2) nodes_[from].counters.duplicates_made++;
    for (int c = 0; c < copies; ++c) {
      std::int64_t delay = f.delay.count() + net_rng_.Between(0, f.jitter.count());
      // kConsistent: a frame sent in a view reaches a member after that member has the view (its
      // install may wait for the old view's frames): CPG's agreed order of views and messages.
      if (options_.membership == MembershipSource::kTransport &&
          options_.transport_views == TransportViews::kConsistent) {
        delay = std::max(delay, nodes_[to].view_due - Ns(now_));
      }
      if (f.bandwidth_bps != 0) {
        // The copy waits for the link to finish the frames ahead of it, then takes its own
        // transmission time; only then does its delay start.
        std::int64_t& free_at = free_at_[from][to];
        const auto transmit = static_cast<std::int64_t>(
            (static_cast<Uint128>(bytes.size()) * 8 * 1'000'000'000 + f.bandwidth_bps - 1) / f.bandwidth_bps);
        free_at = std::max(free_at, Ns(now_)) + transmit;
        delay += free_at - Ns(now_);
      }
      if (net_rng_.Chance(f.reorder)) {
        delay += f.reorder_delay.count();
        nodes_[from].counters.reordered++;
      }
      if (frames_queued_ >= options_.max_queued_frames) {
        Drop(from, to, bytes, hash, DropCause::kQueueFull);
        continue;
      }
      Event ev{Ns(now_) + delay, seq_++, true, from, to, nodes_[to].generation, frame, hash, nullptr};
      nodes_[to].last_arrival = std::max(nodes_[to].last_arrival, ev.at);
      queue_.push(std::move(ev));
      frames_queued_++;
      nodes_[from].frames_in_flight++;
      nodes_[from].counters.copies_sent++;
      LinkCounters& lc = link_counters_[from][to];
      lc.in_flight++;
      lc.max_in_flight = std::max(lc.max_in_flight, lc.in_flight);
    }
  }

  void Deliver(const Event& ev) {
    INPROC_CHECK(frames_queued_ > 0);
    frames_queued_--;
    LinkCounters& lc = link_counters_[ev.from][ev.to];
    INPROC_CHECK(lc.in_flight > 0);
    lc.in_flight--;
    INPROC_CHECK(nodes_[ev.from].frames_in_flight > 0);
    nodes_[ev.from].frames_in_flight--;
    Node& n = nodes_[ev.to];
    if (!n.engine || n.generation != ev.to_generation) {
      return Drop(ev.from, ev.to, std::span<const std::uint8_t>(*ev.frame), ev.frame_hash, DropCause::kDeadNode);
    }
    lc.delivered++;
    lc.bytes_delivered += ev.frame->size();
    n.counters.frames_received++;
    n.counters.bytes_received += ev.frame->size();
    TraceEvent te = MakeTrace(TraceKind::kDelivered, ev.to);
    te.peer = ev.from;
    te.bytes = ev.frame->size();
    te.frame_hash = ev.frame_hash;
    te.frame = std::span<const std::uint8_t>(*ev.frame);
    Trace(te);
    n.engine->OnFrame(IdOf(ev.from), std::span<const std::uint8_t>(*ev.frame));
  }

  // After a frame of node i left the links: when it was the last one, node i's transport is
  // through with everything it accepted (kTransport only; env.h, SendBacklog).
  void ConfirmSends(std::size_t i) {
    Node& n = nodes_[i];
    if (options_.membership != MembershipSource::kTransport || n.frames_in_flight != 0 || !n.engine) return;
    n.engine->OnSendReady();
  }

  void Drop(std::size_t from, std::size_t to, std::span<const std::uint8_t> bytes, std::uint64_t hash,
            DropCause cause) {
    nodes_[to].counters.dropped_to[static_cast<int>(cause)]++;
    TraceEvent te = MakeTrace(TraceKind::kDropped, to);
    te.peer = from;
    te.bytes = bytes.size();
    te.frame_hash = hash;
    te.drop_cause = cause;
    te.frame = bytes;
    Trace(te);
  }

  // ---- topology ----

  bool Connected(std::size_t from, std::size_t to) const {
    return nodes_[from].group == nodes_[to].group && !cut_[from][to];
  }

  bool MutuallyConnected(std::size_t a, std::size_t b) const { return Connected(a, b) && Connected(b, a); }

  bool SameView(std::size_t from, std::size_t to) const {
    if (options_.membership != MembershipSource::kTransport ||
        options_.transport_views != TransportViews::kConsistent) {
      return true;
    }
    return nodes_[from].view_group == nodes_[to].view_group;
  }

  // The members of node i's view under the configured TransportViews, sorted by id.
  std::vector<std::vector<NodeId>> ComputeViews() {
    std::vector<std::vector<NodeId>> views(nodes_.size());
    if (options_.transport_views == TransportViews::kPerNode) {
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (!nodes_[i].engine) continue;
        for (std::size_t j = 0; j < nodes_.size(); ++j) {
          if (j == i || (nodes_[j].engine && MutuallyConnected(i, j))) views[i].push_back(IdOf(j));
        }
      }
      return views;
    }
    std::vector<std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (!nodes_[i].engine) continue;
      std::size_t g = 0;
      for (; g < groups.size(); ++g) {
        if (std::all_of(groups[g].begin(), groups[g].end(), [&](std::size_t m) { return MutuallyConnected(i, m); })) break;
      }
      if (g == groups.size()) groups.emplace_back();
      groups[g].push_back(i);
      nodes_[i].view_group = g;
    }
    for (const auto& group : groups) {
      std::vector<NodeId> ids;
      for (std::size_t m : group) ids.push_back(IdOf(m));
      for (std::size_t m : group) views[m] = ids;
    }
    return views;
  }

  // kTransport: CPG tells each node who it can talk to (see TransportViews). A one-way cut breaks
  // the totem ring, so it counts as a disconnection. Only nodes whose view changed get a new one,
  // like a CPG configuration change.
  void RecomputeViews() {
    if (options_.membership != MembershipSource::kTransport) return;
    if (in_topology_change_) {
      views_due_ = true;  // EndTopologyChange computes them once
      return;
    }
    std::vector<std::vector<NodeId>> views = ComputeViews();
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      Node& n = nodes_[i];
      if (!n.engine) continue;
      std::vector<NodeId>& members = views[i];
      INPROC_CHECK(std::binary_search(members.begin(), members.end(), IdOf(i)));
      if (members == n.last_view) continue;
      n.last_view = members;
      auto view = std::make_shared<MembershipView>();
      view->view_id = ++view_counter_;
      view->members = std::move(members);
      // kConsistent keeps CPG's virtual synchrony: a node gets its new view only after every frame
      // already on its way to it (all sent in the old view), so the members that move to a view
      // together have delivered the same frames of the old one.
      std::int64_t at = Ns(now_) + options_.membership_delay.count();
      if (options_.transport_views == TransportViews::kConsistent) at = std::max(at, n.last_arrival);
      n.view_due = at;
      Event ev{at, seq_++, false, i, i, n.generation, nullptr, 0,
               std::move(view)};
      queue_.push(std::move(ev));
    }
  }

  void DeliverMembership(const Event& ev) {
    Node& n = nodes_[ev.to];
    if (!n.engine || n.generation != ev.to_generation) return;  // the view died with the node
    TraceMembers(TraceKind::kMembership, ev.to, ev.view->members);
    n.engine->OnMembership(*ev.view);
  }

  Status StartNode(std::size_t i) {
    Node& n = nodes_[i];
    INPROC_CHECK(!n.engine);
    EngineConfig config = options_.engine;
    config.node_id = IdOf(i);
    config.membership = options_.membership;
    // Like a real host: the wall clock in microseconds, forced above the previous incarnation.
    auto wall_us = static_cast<std::uint64_t>(WallNow().time_since_epoch().count() / 1000);
    config.incarnation = std::max(n.incarnation + 1, wall_us);
    std::unique_ptr<Engine> engine;
    // Each life of each node draws from its own stream, so one node's restart does not shift
    // anyone else's randomness.
    n.rng = SplitMix64(SplitMix64::Derive(options_.seed, (static_cast<std::uint64_t>(i) << 32) | (n.lives + 1)));
    // The engine may ask for a wakeup before it is ours (inside Create or Start).
    starting_ = i;
    Status s = Engine::Create(config, n.env.get(), &engine);
    if (!s.ok()) {
      starting_ = kNone;
      if (n.wakeup) {
        wakeups_.erase(*n.wakeup);
        n.wakeup.reset();
      }
      return s;
    }
    n.generation++;
    n.incarnation = config.incarnation;
    n.lives++;
    if (n.lives > 1) n.counters.restarts++;
    n.last_view.clear();
    n.engine = std::move(engine);
    n.engine->SetListener(n.listener.get());
    TraceEvent te = MakeTrace(TraceKind::kStart, i);
    Trace(te);
    // The views first, as CPG joins a process before it sends: what Start() sends is sent in the
    // view that holds the new node (and, kConsistent, waits for no frame of the old views).
    RecomputeViews();
    n.engine->Start();
    starting_ = kNone;
    return Status::Ok();
  }

  Status AddNode(std::size_t* index) {
    std::size_t i = nodes_.size();
    nodes_.emplace_back();
    Node& n = nodes_.back();
    n.env = std::make_unique<NodeEnv>(this, i);
    n.listener = std::make_unique<Listener>(this, i);
    n.group = next_group_++;  // alone until the next Partition or Heal
    // Until a partition says otherwise a new node is connected to everyone: joining the group 0
    // that Heal() uses when no partition is in force.
    if (!partitioned_) n.group = 0;
    for (auto& row : links_) row.push_back(options_.link);
    links_.emplace_back(nodes_.size(), options_.link);
    for (auto& row : cut_) row.push_back(false);
    cut_.emplace_back(nodes_.size(), false);
    for (auto& row : link_counters_) row.emplace_back();
    link_counters_.emplace_back(nodes_.size());
    for (auto& row : free_at_) row.push_back(0);
    free_at_.emplace_back(nodes_.size(), 0);
    Status s = StartNode(i);
    if (!s.ok()) {
      // Undo: the node never existed.
      nodes_.pop_back();
      links_.pop_back();
      for (auto& row : links_) row.pop_back();
      cut_.pop_back();
      for (auto& row : cut_) row.pop_back();
      link_counters_.pop_back();
      for (auto& row : link_counters_) row.pop_back();
      free_at_.pop_back();
      for (auto& row : free_at_) row.pop_back();
      return s;
    }
    if (index) *index = i;
    return Status::Ok();
  }

  Status Crash(std::size_t i) {
    if (i >= nodes_.size()) return Status::InvalidArgument("Crash: no node " + std::to_string(i));
    Node& n = nodes_[i];
    if (!n.engine) return Status::FailedPrecondition("Crash: node " + std::to_string(i) + " is down");
    // Marked down before it is destroyed, so nothing its destructor might send or schedule counts.
    std::unique_ptr<Engine> dying = std::move(n.engine);
    n.generation++;
    dying.reset();
    if (n.wakeup) {
      wakeups_.erase(*n.wakeup);
      n.wakeup.reset();
    }
    n.last_view.clear();
    TraceEvent te = MakeTrace(TraceKind::kCrash, i);
    Trace(te);
    RecomputeViews();
    return Status::Ok();
  }

  // ---- tracing ----

  TraceEvent MakeTrace(TraceKind kind, std::size_t node) const {
    TraceEvent te;
    te.kind = kind;
    te.at = now_;
    te.node = node;
    return te;
  }

  void Trace(const TraceEvent& te) {
    hasher_.Add(static_cast<std::uint64_t>(te.kind));
    hasher_.Add(static_cast<std::uint64_t>(Ns(te.at)));
    hasher_.Add(te.node);
    hasher_.Add(te.peer);
    hasher_.Add(te.bytes);
    hasher_.Add(te.frame_hash);
    hasher_.Add(static_cast<std::uint64_t>(te.drop_cause));
    if (te.change) {
      const ViewChange& c = *te.change;
      hasher_.Add(static_cast<std::uint64_t>(c.kind));
      hasher_.Add(static_cast<std::uint64_t>(c.cause));
      hasher_.Add(HashString(c.key));
      hasher_.Add(c.origin);
      hasher_.Add(c.version.incarnation);
      hasher_.Add(c.version.sequence);
      hasher_.AddOpt(c.old_contribution);
      hasher_.AddOpt(c.new_contribution);
      hasher_.AddOpt(c.old_aggregate);
      hasher_.AddOpt(c.new_aggregate);
      hasher_.AddMailbox(c.old_mailbox);
      hasher_.AddMailbox(c.new_mailbox);
      hasher_.AddRegistration(c.old_registration);
      hasher_.AddRegistration(c.new_registration);
    }
    if (te.members) {
      hasher_.Add(te.members->size());
      for (NodeId m : *te.members) hasher_.Add(m);
    }
    if (trace_hook_) {
      const bool outer = in_callback_;
      in_callback_ = true;
      trace_hook_(te);
      in_callback_ = outer;
    }
  }

  void TraceViewChange(std::size_t i, const ViewChange& change) {
    TraceEvent te = MakeTrace(TraceKind::kViewChange, i);
    te.change = &change;
    Trace(te);
  }

  void TraceMembers(TraceKind kind, std::size_t i, const std::vector<NodeId>& members) {
    TraceEvent te = MakeTrace(kind, i);
    te.members = &members;
    Trace(te);
  }

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

// ---------------------------------------------------------------------------------------------

Status Cluster::Create(const ClusterOptions& options, std::unique_ptr<Cluster>* out) {
  if (out == nullptr) return Status::InvalidArgument("Cluster::Create: out is null");
  if (options.max_events_per_instant == 0) return Status::InvalidArgument("max_events_per_instant is 0");
  auto valid_faults = [](const LinkFaults& f) {
    auto prob = [](double p) { return p >= 0.0 && p <= 1.0; };
    return f.delay >= Duration::zero() && f.jitter >= Duration::zero() &&
           f.reorder_delay >= Duration::zero() && prob(f.loss) && prob(f.duplicate) && prob(f.reorder);
  };
  if (!valid_faults(options.link)) return Status::InvalidArgument("link faults out of range");
  if (options.membership_delay < Duration::zero()) return Status::InvalidArgument("membership_delay < 0");
  auto impl = std::make_unique<Impl>(options);
  for (std::size_t i = 0; i < options.nodes; ++i) {
    Status s = impl->AddNode(nullptr);
    if (!s.ok()) return s;
  }
  out->reset(new Cluster(std::move(impl)));
  return Status::Ok();
}

Cluster::Cluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Cluster::~Cluster() {
  // Engines first: an engine must not outlive its env.
  for (auto& n : impl_->nodes_) n.engine.reset();
}

Status Cluster::Advance(Duration d) {
  if (d < Duration::zero()) return Status::InvalidArgument("Advance: negative duration");
  return impl_->RunUntil(impl_->now_ + d);
}

Status Cluster::RunUntil(MonoTime at) { return impl_->RunUntil(at); }
Status Cluster::RunBefore(MonoTime at) { return impl_->RunUntil(at, /*inclusive=*/false); }
MonoTime Cluster::now() const { return impl_->now_; }
WallTime Cluster::wall_now() const { return impl_->WallNow(); }
WallTime Cluster::Epoch() { return kSimEpoch; }

Status Cluster::Partition(const std::vector<std::vector<std::size_t>>& groups) {
  INPROC_CHECK(!impl_->in_callback_);
  std::size_t n = impl_->nodes_.size();
  std::vector<std::size_t> group(n, Impl::kNone);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (std::size_t i : groups[g]) {
      if (i >= n) return Status::InvalidArgument("Partition: no node " + std::to_string(i));
      if (group[i] != Impl::kNone) return Status::InvalidArgument("Partition: node " + std::to_string(i) + " listed twice");
      group[i] = g;
    }
  }
  // Unlisted nodes each get a group of their own, numbered after the listed ones.
  std::size_t next = groups.size();
  for (std::size_t i = 0; i < n; ++i) {
    impl_->nodes_[i].group = group[i] != Impl::kNone ? group[i] : next++;
  }
  impl_->next_group_ = next;
  impl_->partitioned_ = true;
  impl_->RecomputeViews();
  return Status::Ok();
}

Status Cluster::CutLink(std::size_t from, std::size_t to) {
  INPROC_CHECK(!impl_->in_callback_);
  if (from >= size() || to >= size() || from == to) return Status::InvalidArgument("CutLink: bad link");
  impl_->cut_[from][to] = true;
  impl_->RecomputeViews();
  return Status::Ok();
}

Status Cluster::CutLinks(const std::vector<std::size_t>& from, const std::vector<std::size_t>& to) {
  INPROC_CHECK(!impl_->in_callback_);
  for (const auto* side : {&from, &to}) {
    for (std::size_t i : *side) {
      if (i >= size()) return Status::InvalidArgument("CutLinks: no node " + std::to_string(i));
    }
  }
  for (std::size_t a : from) {
    for (std::size_t b : to) {
      if (a != b) impl_->cut_[a][b] = true;
    }
  }
  impl_->RecomputeViews();
  return Status::Ok();
}

Status Cluster::RestoreLink(std::size_t from, std::size_t to) {
  INPROC_CHECK(!impl_->in_callback_);
  if (from >= size() || to >= size() || from == to) return Status::InvalidArgument("RestoreLink: bad link");
  impl_->cut_[from][to] = false;
  impl_->RecomputeViews();
  return Status::Ok();
}

void Cluster::BeginTopologyChange() {
  INPROC_CHECK(!impl_->in_callback_ && !impl_->in_topology_change_);
  impl_->in_topology_change_ = true;
  impl_->views_due_ = false;
}

void Cluster::EndTopologyChange() {
  INPROC_CHECK(impl_->in_topology_change_);
  impl_->in_topology_change_ = false;
  if (impl_->views_due_) impl_->RecomputeViews();
  impl_->views_due_ = false;
}

void Cluster::Heal() {
  INPROC_CHECK(!impl_->in_callback_);
  for (auto& n : impl_->nodes_) n.group = 0;
  for (auto& row : impl_->cut_) std::fill(row.begin(), row.end(), false);
  impl_->next_group_ = 1;
  impl_->partitioned_ = false;
  impl_->RecomputeViews();
}

Status Cluster::SetLinkFaults(std::size_t from, std::size_t to, const LinkFaults& faults) {
  INPROC_CHECK(!impl_->in_callback_);
  if (from >= size() || to >= size() || from == to) return Status::InvalidArgument("SetLinkFaults: bad link");
  auto prob = [](double p) { return p >= 0.0 && p <= 1.0; };
  if (faults.delay < Duration::zero() || faults.jitter < Duration::zero() ||
      faults.reorder_delay < Duration::zero() || !prob(faults.loss) || !prob(faults.duplicate) ||
      !prob(faults.reorder)) {
    return Status::InvalidArgument("SetLinkFaults: value out of range");
  }
  impl_->links_[from][to] = faults;
  return Status::Ok();
}

Status Cluster::SetAllLinkFaults(const LinkFaults& faults) {
  for (std::size_t i = 0; i < size(); ++i) {
    for (std::size_t j = 0; j < size(); ++j) {
      if (i == j) continue;
      Status s = SetLinkFaults(i, j, faults);
      if (!s.ok()) return s;
    }
  }
  impl_->options_.link = faults;  // for nodes added later
  return Status::Ok();
}

bool Cluster::Reachable(std::size_t from, std::size_t to) const {
  if (from >= size() || to >= size() || from == to) return false;
  return up(from) && up(to) && impl_->Connected(from, to) && impl_->SameView(from, to);
}

Status Cluster::Crash(std::size_t i) {
  INPROC_CHECK(!impl_->in_callback_);
  return impl_->Crash(i);
}

Status Cluster::Restart(std::size_t i) {
  INPROC_CHECK(!impl_->in_callback_);
  if (i >= size()) return Status::InvalidArgument("Restart: no node " + std::to_string(i));
  if (impl_->nodes_[i].engine) return Status::FailedPrecondition("Restart: node " + std::to_string(i) + " is up");
  return impl_->StartNode(i);
}

Status Cluster::AddNode(std::size_t* index) {
  INPROC_CHECK(!impl_->in_callback_);
  return impl_->AddNode(index);
}

std::size_t Cluster::size() const { return impl_->nodes_.size(); }
bool Cluster::up(std::size_t i) const { return i < size() && impl_->nodes_[i].engine != nullptr; }

std::vector<std::size_t> Cluster::UpNodes() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < size(); ++i) {
    if (up(i)) out.push_back(i);
  }
  return out;
}

Engine* Cluster::engine(std::size_t i) { return i < size() ? impl_->nodes_[i].engine.get() : nullptr; }
const Engine* Cluster::engine(std::size_t i) const {
  return i < size() ? impl_->nodes_[i].engine.get() : nullptr;
}
std::uint64_t Cluster::incarnation(std::size_t i) const { return i < size() ? impl_->nodes_[i].incarnation : 0; }

namespace {
Status Down(std::size_t i) { return Status::FailedPrecondition("node " + std::to_string(i) + " is down"); }
}  // namespace

Status Cluster::SetDeviceState(std::size_t i, std::string_view device, DeviceState state) {
  INPROC_CHECK(!impl_->in_callback_);
  Engine* e = engine(i);
  return e ? e->SetDeviceState(device, state) : Down(i);
}

Status Cluster::SetMailbox(std::size_t i, std::string_view mailbox, const MailboxCounts& counts) {
  INPROC_CHECK(!impl_->in_callback_);
  Engine* e = engine(i);
  return e ? e->SetMailbox(mailbox, counts) : Down(i);
}

Status Cluster::SetRegistration(std::size_t i, std::string_view aor, std::string_view contact,
                                Duration expires_in) {
  RegistrationInfo info;
  info.contact = std::string(contact);
  info.expires = wall_now() + expires_in;
  return SetRegistration(i, aor, info);
}

Status Cluster::SetRegistration(std::size_t i, std::string_view aor, const RegistrationInfo& info) {
  INPROC_CHECK(!impl_->in_callback_);
  Engine* e = engine(i);
  return e ? e->SetRegistration(aor, info) : Down(i);
}

Status Cluster::RemoveRegistration(std::size_t i, std::string_view aor) {
  INPROC_CHECK(!impl_->in_callback_);
  Engine* e = engine(i);
  return e ? e->RemoveRegistration(aor) : Down(i);
}

std::optional<DeviceState> Cluster::DeviceStateAt(std::size_t i, std::string_view device) const {
  const Engine* e = engine(i);
  return e ? e->ClusterDeviceState(device) : std::nullopt;
}

std::optional<MailboxValue> Cluster::MailboxAt(std::size_t i, std::string_view mailbox) const {
  const Engine* e = engine(i);
  return e ? e->Mailbox(mailbox) : std::nullopt;
}

std::vector<RegistrationView> Cluster::RegistrationsAt(std::size_t i, std::string_view aor) const {
  const Engine* e = engine(i);
  return e ? e->Registrations(aor) : std::vector<RegistrationView>{};
}

bool Cluster::Converged() const {
  std::vector<NodeId> live;
  for (std::size_t i : UpNodes()) live.push_back(IdOf(i));
  std::optional<ViewDigest> first;
  for (std::size_t i : UpNodes()) {
    const Engine* e = engine(i);
    if (e->Members() != live) return false;
    ViewDigest d = e->Digest();
    if (!first) {
      first = d;
    } else if (d != *first) {
      return false;
    }
  }
  return true;
}

EngineStats Cluster::stats(std::size_t i) const {
  const Engine* e = engine(i);
  return e ? e->stats() : EngineStats{};
}

const NodeCounters& Cluster::counters(std::size_t i) const {
  INPROC_CHECK(i < size());
  return impl_->nodes_[i].counters;
}

const LinkCounters& Cluster::link_counters(std::size_t from, std::size_t to) const {
  INPROC_CHECK(from < size() && to < size());
  return impl_->link_counters_[from][to];
}

void Cluster::ResetLinkMaxima() {
  for (auto& row : impl_->link_counters_) {
    for (auto& lc : row) lc.max_in_flight = lc.in_flight;
  }
}

std::size_t Cluster::frames_in_flight() const { return impl_->frames_queued_; }

void Cluster::SetTraceHook(std::function<void(const TraceEvent&)> hook) { impl_->trace_hook_ = std::move(hook); }
std::uint64_t Cluster::TraceHash() const { return impl_->hasher_.value(); }
void Cluster::SetLogHook(std::function<void(std::size_t, LogLevel, std::string_view)> hook) {
  impl_->log_hook_ = std::move(hook);
}
const ClusterOptions& Cluster::options() const { return impl_->options_; }

}  // namespace pbxstate::inproc
