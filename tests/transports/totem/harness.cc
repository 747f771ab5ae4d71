#include "harness.h"

#include <algorithm>

namespace pbxstate::totem::testing {

Member::Member(Net* net, NodeId id, const TotemConfig& config, const std::vector<NodeId>& nodelist)
    : timer_generation(kNodeTimerCount, 0), net_(net), id_(id), rng_(id) {
  node_ = std::make_unique<TotemNode>(id, config, nodelist, this, this);
}

MonoTime Member::Now() { return MonoTime(net_->now_); }

void Member::SetTimer(std::size_t timer, Duration delay) {
  const std::uint64_t gen = ++timer_generation.at(timer);
  net_->Schedule(net_->now_ + delay, [this, timer, gen] {
    if (!retired && timer_generation[timer] == gen && net_->dead_.count(id_) == 0) node_->OnTimer(timer);
  });
}

void Member::CancelTimer(std::size_t timer) { ++timer_generation.at(timer); }

void Member::SendDatagram(NodeId to, std::span<const std::uint8_t> bytes) {
  net_->Deliver(id_, to, std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
}

void Member::MulticastDatagram(std::span<const std::uint8_t> bytes) {
  for (NodeId n : net_->nodelist_) {
    if (n != id_) net_->Deliver(id_, n, std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  }
}

void Member::OnRingFormed(const RingId& /*ring*/, const std::vector<NodeId>& members) {
  rings.push_back({net_->now_, members});
}

Net::Net(std::size_t nodes, const TotemConfig& config, Duration delay) : config_(config), delay_(delay) {
  for (NodeId id = 1; id <= nodes; ++id) nodelist_.push_back(id);
  for (NodeId id : nodelist_) members_.push_back(std::make_unique<Member>(this, id, config, nodelist_));
}

void Net::StartFormed() {
  for (auto& m : members_) m->node().StartFormed(RingId{1, 4}, true);
}

void Net::Schedule(Duration at, std::function<void()> fn) { events_.push(Event{at, order_++, std::move(fn)}); }

void Net::At(Duration at, std::function<void()> fn) { Schedule(at, std::move(fn)); }

void Net::RunUntil(Duration until) {
  while (!events_.empty() && events_.top().at <= until) {
    Event e = events_.top();
    events_.pop();
    now_ = e.at;
    e.fn();
  }
  now_ = until;
}

bool Net::Cut(NodeId a, NodeId b) const {
  auto ga = group_.find(a), gb = group_.find(b);
  const int x = ga == group_.end() ? 0 : ga->second, y = gb == group_.end() ? 0 : gb->second;
  return x != y;
}

void Net::Partition(const std::vector<std::set<NodeId>>& groups) {
  group_.clear();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (NodeId n : groups[g]) group_[n] = static_cast<int>(g + 1);
  }
}

void Net::Deliver(NodeId from, NodeId to, std::vector<std::uint8_t> bytes) {
  if (from != to && (Cut(from, to) || (drop && drop(from, to, bytes)))) return;
  Schedule(now_ + delay_, [this, from, to, bytes = std::move(bytes)] {
    if (dead_.count(to) != 0 || dead_.count(from) != 0) return;
    if (from != to) ++datagrams;
    member(to).node().OnDatagram(from, bytes);
  });
}

void Net::Kill(NodeId id) { dead_.insert(id); }

void Net::Boot(NodeId id, std::uint64_t last_ring_seq) {
  dead_.erase(id);
  members_[id - 1]->retired = true;
  retired_.push_back(std::move(members_[id - 1]));
  members_[id - 1] = std::make_unique<Member>(this, id, config_, nodelist_);
  member(id).node().StartBoot(last_ring_seq);
  member(id).node().ProcessJoin();
}

}  // namespace pbxstate::totem::testing
