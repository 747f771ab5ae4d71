#include "pbxstate/harness/oracle.h"

#include <algorithm>
#include <cassert>
#include <limits>

namespace pbxstate::harness {
namespace {
constexpr Duration kForever = Duration::max();

int Rank(DeviceState s) {
  switch (s) {
    case DeviceState::kInvalid: return 0;
    case DeviceState::kUnknown: return 1;
    case DeviceState::kUnavailable: return 2;
    case DeviceState::kNotInUse: return 3;
    case DeviceState::kOnHold: return 4;
    case DeviceState::kRinging: return 5;
    case DeviceState::kInUse: return 6;
    case DeviceState::kBusy: return 7;
    case DeviceState::kRingInUse: return 8;
  }
  return 0;
}
}  // namespace

std::optional<DeviceState> OracleAggregate(const std::vector<DeviceState>& states) {
  if (states.empty()) return std::nullopt;
  auto has = [&](DeviceState s) { return std::find(states.begin(), states.end(), s) != states.end(); };
  if (has(DeviceState::kRingInUse)) return DeviceState::kRingInUse;
  if (has(DeviceState::kRinging) && (has(DeviceState::kInUse) || has(DeviceState::kBusy) || has(DeviceState::kOnHold))) {
    return DeviceState::kRingInUse;
  }
  return *std::max_element(states.begin(), states.end(), [](DeviceState a, DeviceState b) { return Rank(a) < Rank(b); });
}

Oracle::Oracle(SlotTable* slots, std::uint32_t node_count) : slots_(slots), node_count_(node_count), up_(node_count) {}

std::vector<Oracle::Point>& Oracle::TimelineFor(SlotId slot) {
  if (slot >= timelines_.size()) {
    timelines_.resize(slot + 1);
    valid_until_.resize(slot + 1);
  }
  return timelines_[slot];
}

void Oracle::Push(SlotId slot, Duration t, ValueHash v, Duration valid_until) {
  assert(!finished_);
  auto& tl = TimelineFor(slot);
  assert(tl.empty() || tl.back().t <= t);
  tl.push_back({t, v});
  valid_until_[slot].push_back(valid_until);
}

void Oracle::Started(Duration t, NodeId node) { up_[node - 1].emplace_back(t, true); }

void Oracle::Crashed(Duration t, NodeId node) {
  up_[node - 1].emplace_back(t, false);
  // A crashed node's entries vanish (after detection and grace; the end state has no trace).
  for (SlotId s : owned_[node]) {
    if (ValueAt(s, t) != kAbsent) Push(s, t, kAbsent, kForever);
  }
}

void Oracle::Partitioned(Duration t, std::vector<std::vector<NodeId>> sides) {
  std::vector<std::uint32_t> side_of;
  if (!sides.empty()) {
    side_of.assign(node_count_, 0);
    for (std::uint32_t i = 0; i < sides.size(); ++i) {
      for (NodeId n : sides[i]) side_of[n - 1] = i;
    }
  }
  partitions_.emplace_back(t, std::move(side_of));
}

void Oracle::Changed(Duration t, NodeId node, const PlannedChange& c) {
  switch (c.kind) {
    case EntryKind::kDevice: {
      const SlotId s = slots_->Intern(EntryKind::kDevice, c.key, node);
      if (TimelineFor(s).empty()) owned_[node].push_back(s);
      Push(s, t, DeviceValue(c.state), kForever);
      break;
    }
    case EntryKind::kRegistration: {
      const SlotId s = slots_->Intern(EntryKind::kRegistration, c.key, node);
      if (TimelineFor(s).empty()) owned_[node].push_back(s);
      if (c.remove) {
        Push(s, t, kAbsent, kForever);
      } else {
        const Duration expires = t + c.expires_in;
        Push(s, t, RegistrationValue(c.contact, expires.count(), c.status), expires);
      }
      break;
    }
    case EntryKind::kMailbox: {
      const SlotId s = slots_->Intern(EntryKind::kMailbox, c.key, kNoNode);
      // Simulated clocks are identical: the later write wins; at one instant the larger node id.
      auto it = mailbox_winner_.find(s);
      if (it != mailbox_winner_.end() && it->second.first == t && it->second.second > node) break;
      mailbox_winner_[s] = {t, node};
      Push(s, t, MailboxValueHash(c.counts, node), kForever);
      break;
    }
  }
}

void Oracle::Finish(Duration end) {
  // Registrations vanish at their expiry unless something else happened first.
  for (SlotId s = 0; s < timelines_.size(); ++s) {
    auto& tl = timelines_[s];
    const auto& until = valid_until_[s];
    std::vector<Point> out;
    out.reserve(tl.size());
    for (std::size_t i = 0; i < tl.size(); ++i) {
      out.push_back(tl[i]);
      const Duration next = i + 1 < tl.size() ? tl[i + 1].t : kForever;
      if (until[i] != kForever && until[i] < next && until[i] <= end && tl[i].value != kAbsent) {
        out.push_back({until[i], kAbsent});
      }
    }
    tl = std::move(out);
  }
  valid_until_.clear();
  finished_ = true;
}

bool Oracle::Up(NodeId node, Duration t) const {
  bool up = false;
  for (const auto& [at, state] : up_[node - 1]) {
    if (at > t) break;
    up = state;
  }
  return up;
}

bool Oracle::PartitionedAt(Duration t) const {
  const std::vector<std::uint32_t>* cur = nullptr;
  for (const auto& [at, sides] : partitions_) {
    if (at > t) break;
    cur = &sides;
  }
  return cur != nullptr && !cur->empty();
}

bool Oracle::Connected(NodeId a, NodeId b, Duration t) const {
  const std::vector<std::uint32_t>* cur = nullptr;
  for (const auto& [at, sides] : partitions_) {
    if (at > t) break;
    cur = &sides;
  }
  if (cur == nullptr || cur->empty()) return true;
  return (*cur)[a - 1] == (*cur)[b - 1];
}

const std::vector<Oracle::Point>& Oracle::Timeline(SlotId slot) const {
  static const std::vector<Point> kEmpty;
  return slot < timelines_.size() ? timelines_[slot] : kEmpty;
}

ValueHash Oracle::ValueAt(SlotId slot, Duration t) const {
  const auto& tl = Timeline(slot);
  auto it = std::upper_bound(tl.begin(), tl.end(), t, [](Duration x, const Point& p) { return x < p.t; });
  return it == tl.begin() ? kAbsent : std::prev(it)->value;
}

std::map<SlotId, ValueHash> Oracle::ExpectedView(NodeId node, Duration t) const {
  std::map<SlotId, ValueHash> out;
  const bool partitioned = PartitionedAt(t);
  for (SlotId s = 0; s < timelines_.size(); ++s) {
    if (timelines_[s].empty()) continue;
    const SlotKey& k = (*slots_)[s];
    if (k.kind == EntryKind::kMailbox) {
      if (partitioned) continue;
    } else if (!Up(k.origin, t) || !Connected(node, k.origin, t)) {
      continue;
    }
    const ValueHash v = ValueAt(s, t);
    if (v != kAbsent) out.emplace(s, v);
  }
  return out;
}

}  // namespace pbxstate::harness
