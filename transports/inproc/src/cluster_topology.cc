// The in-process network's topology (cluster_impl.h): who reaches whom, the transport's views
// (kTransport), and the nodes' lives: start, add, crash.
#include <algorithm>
#include <utility>

#include "cluster_impl.h"

namespace pbxstate::inproc {

bool Cluster::Impl::Connected(std::size_t from, std::size_t to) const {
  return nodes_[from].group == nodes_[to].group && !cut_[from][to];
}

bool Cluster::Impl::SameView(std::size_t from, std::size_t to) const {
  if (options_.membership != MembershipSource::kTransport ||
      options_.transport_views != TransportViews::kConsistent) {
    return true;
  }
  return nodes_[from].view_group == nodes_[to].view_group;
}

std::vector<std::vector<NodeId>> Cluster::Impl::ComputeViews() {
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

void Cluster::Impl::RecomputeViews() {
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
    PBXSTATE_CHECK(std::binary_search(members.begin(), members.end(), IdOf(i)));
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

void Cluster::Impl::DeliverMembership(const Event& ev) {
  Node& n = nodes_[ev.to];
  if (!n.engine || n.generation != ev.to_generation) return;  // the view died with the node
  // Its newest view (a superseded one carries nothing): what it sent meanwhile leaves now, in
  // this view, before anything it sends on hearing of the view.
  const bool release = n.view_due <= Ns(now_) && !n.held.empty();
  if (release) ReleaseHeld(ev.to, /*dead=*/false);
  TraceMembers(TraceKind::kMembership, ev.to, ev.view->members);
  n.engine->OnMembership(*ev.view);
  if (release) ConfirmSends(ev.to);  // all of them may have gone nowhere
}

Status Cluster::Impl::StartNode(std::size_t i) {
  Node& n = nodes_[i];
  PBXSTATE_CHECK(!n.engine);
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

Status Cluster::Impl::AddNode(std::size_t* index) {
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

Status Cluster::Impl::Crash(std::size_t i) {
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
  ReleaseHeld(i, /*dead=*/true);
  TraceEvent te = MakeTrace(TraceKind::kCrash, i);
  Trace(te);
  RecomputeViews();
  return Status::Ok();
}

}  // namespace pbxstate::inproc
