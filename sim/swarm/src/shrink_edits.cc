#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "fault_timeline.h"
#include "shrink_impl.h"

namespace pbxstate::swarm::detail {
namespace {

using scenario::Fault;
using scenario::Scenario;

// Whether `node` is down at `t` by `faults` (faults at an instant come before changes).
bool DownAt(const std::vector<Fault>& faults, NodeId node, Duration t) {
  bool down = false;
  for (const Fault& f : faults) {
    if (f.at > t) break;
    if (const auto* c = std::get_if<scenario::Crash>(&f.what); c != nullptr && c->node == node) down = true;
    if (const auto* r = std::get_if<scenario::Restart>(&f.what); r != nullptr && r->node == node) down = false;
  }
  return down;
}

bool KeepPartition(scenario::Partition& p) {
  p.sides.erase(std::remove_if(p.sides.begin(), p.sides.end(), [](const auto& side) { return side.empty(); }),
                p.sides.end());
  return p.one_way ? p.sides.size() == 2 : p.sides.size() >= 2;
}

// The generator's envelope for faults (generator.h): no degradation left in force at the end (a
// degrade whose restore is gone goes too), no one-way partition in force at the end.
void KeepInsideTheEnvelope(Scenario* s) {
  std::vector<Fault> out;
  for (std::size_t i = 0; i < s->faults.size(); ++i) {
    const Fault& f = s->faults[i];
    if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
      // Kept only when a restore of its target follows it.
      const bool restored_later = std::any_of(s->faults.begin() + static_cast<std::ptrdiff_t>(i) + 1, s->faults.end(),
                                              [&](const Fault& g) {
                                                const auto* r = std::get_if<scenario::Restore>(&g.what);
                                                return r != nullptr && r->target == d->target;
                                              });
      if (!restored_later) continue;
    }
    out.push_back(f);
  }
  // The cut in force at the end: a one-way partition goes (its heal, if any, is then orphaned
  // and goes in RepairFaults).
  for (auto it = out.rbegin(); it != out.rend(); ++it) {
    if (std::holds_alternative<scenario::Heal>(it->what) || std::holds_alternative<scenario::Isolate>(it->what)) break;
    if (const auto* p = std::get_if<scenario::Partition>(&it->what)) {
      if (p->one_way) out.erase(std::next(it).base());
      break;
    }
  }
  s->faults = std::move(out);
}

void RepairFaults(Scenario* s) { s->faults = KeepTimeline(std::move(s->faults), KeepPartition); }

void RepairWorkload(Scenario* s) {
  scenario::Workload& w = s->workload;
  std::erase_if(w.changes, [&](const scenario::TimedChange& c) { return DownAt(s->faults, c.node, c.at); });
  std::erase_if(w.bursts, [&](const scenario::Burst& b) {
    if (const auto* r = std::get_if<scenario::RegistrationStorm>(&b.what)) {
      return w.aors == 0 || w.churn.has_value() || DownAt(s->faults, r->node, b.at);
    }
    return w.devices == 0;
  });
  if (w.aors == 0) w.churn.reset();
  if (w.aors == 0 && s->calls) s->calls.reset();
}

// Node `n` as numbered once node `k` is gone; kNoNode for `k` itself.
NodeId Renumber(NodeId n, NodeId k) { return n == k ? kNoNode : n > k ? n - 1 : n; }

std::vector<NodeId> RenumberAll(const std::vector<NodeId>& nodes, NodeId k) {
  std::vector<NodeId> out;
  for (NodeId n : nodes) {
    if (n != k) out.push_back(Renumber(n, k));
  }
  return out;
}

// The site index `i` once site `gone` is removed.
std::size_t SiteAfter(std::size_t i, std::size_t gone) { return i > gone ? i - 1 : i; }

bool RemoveSite(Scenario* s, std::size_t gone) {
  scenario::Topology& t = s->topology;
  t.sites.erase(t.sites.begin() + static_cast<std::ptrdiff_t>(gone));
  std::erase_if(t.links, [&](const scenario::SiteLink& l) { return l.a == gone || l.b == gone; });
  for (scenario::SiteLink& l : t.links) {
    l.a = SiteAfter(l.a, gone);
    l.b = SiteAfter(l.b, gone);
  }
  std::erase_if(s->faults, [&](Fault& f) {
    scenario::NetworkTarget* target = nullptr;
    if (auto* d = std::get_if<scenario::Degrade>(&f.what)) target = &d->target;
    if (auto* r = std::get_if<scenario::Restore>(&f.what)) target = &r->target;
    if (target == nullptr) return false;
    if (target->kind == scenario::NetworkTarget::Kind::kLan) {
      if (target->site == gone) return true;
      target->site = SiteAfter(target->site, gone);
    } else {
      if (target->a == gone || target->b == gone) return true;
      target->a = SiteAfter(target->a, gone);
      target->b = SiteAfter(target->b, gone);
    }
    return false;
  });
  return true;
}

void RenumberFaults(Scenario* s, NodeId k) {
  std::erase_if(s->faults, [&](Fault& f) {
    if (auto* p = std::get_if<scenario::Partition>(&f.what)) {
      for (auto& side : p->sides) side = RenumberAll(side, k);
      return false;  // Repair drops it when fewer sides are left
    }
    if (auto* i = std::get_if<scenario::Isolate>(&f.what)) return (i->node = Renumber(i->node, k)) == kNoNode;
    if (auto* c = std::get_if<scenario::Crash>(&f.what)) return (c->node = Renumber(c->node, k)) == kNoNode;
    if (auto* r = std::get_if<scenario::Restart>(&f.what)) return (r->node = Renumber(r->node, k)) == kNoNode;
    return false;
  });
}

void RenumberWorkload(Scenario* s, NodeId k, std::uint32_t nodes_left) {
  scenario::Workload& w = s->workload;
  std::erase_if(w.changes, [&](scenario::TimedChange& c) { return (c.node = Renumber(c.node, k)) == kNoNode; });
  std::erase_if(w.bursts, [&](scenario::Burst& b) {
    if (auto* c = std::get_if<scenario::CallStorm>(&b.what)) {
      const bool had = !c->nodes.empty();
      c->nodes = RenumberAll(c->nodes, k);
      return had && c->nodes.empty();
    }
    auto& r = std::get<scenario::RegistrationStorm>(b.what);
    return (r.node = Renumber(r.node, k)) == kNoNode;
  });
  auto all_if_empty = [&](std::vector<NodeId>& nodes) {
    nodes = RenumberAll(nodes, k);
    if (nodes.empty()) {
      nodes.resize(nodes_left);
      std::iota(nodes.begin(), nodes.end(), NodeId{1});
    }
  };
  all_if_empty(w.nodes);
  if (s->calls) {
    all_if_empty(s->calls->nodes);
    s->calls->hop_limit = std::min(s->calls->hop_limit, nodes_left);
    if (nodes_left < 2) s->calls.reset();
  }
}

}  // namespace

void Repair(Scenario* s) {
  RepairFaults(s);
  KeepInsideTheEnvelope(s);
  RepairFaults(s);
  RepairWorkload(s);
}

std::optional<Scenario> WithoutNode(const Scenario& in, NodeId k) {
  const std::uint32_t count = in.topology.node_count();
  if (count <= 1 || k < 1 || k > count) return std::nullopt;
  Scenario s = in;
  scenario::Topology& t = s.topology;
  const std::size_t site = t.SiteOf(k);
  if (--t.sites[site].node_count == 0) RemoveSite(&s, site);
  NodeId next = 1;
  for (scenario::Site& st : t.sites) {
    st.first_node = next;
    next += st.node_count;
  }
  if (t.sites.size() == 1 && t.named_sites) t.links.clear();
  RenumberFaults(&s, k);
  RenumberWorkload(&s, k, count - 1);
  Repair(&s);
  return s;
}

}  // namespace pbxstate::swarm::detail
