#include "pbxstate/harness/fault_windows.h"

#include <algorithm>

#include "pbxstate/check.h"
#include "pbxstate/harness/recorder.h"

namespace pbxstate::harness {

void FaultWindowTracker::Open(std::optional<FaultWindow>& slot, Duration t, const scenario::Fault& fault,
                              std::vector<NodeId> nodes) {
  std::sort(nodes.begin(), nodes.end());
  slot = FaultWindow{t, t, std::string(scenario::FaultAction(fault)), std::move(nodes), DescribeFault(fault), ""};
}

void FaultWindowTracker::Close(std::optional<FaultWindow>& slot, Duration t, const scenario::Fault& fault) {
  if (!slot) return;
  slot->end = t;
  slot->closed_by = DescribeFault(fault);
  closed_.push_back(std::move(*slot));
  slot.reset();
}

std::vector<NodeId> FaultWindowTracker::NodesOf(const scenario::NetworkTarget& target) const {
  std::vector<NodeId> nodes;
  for (std::size_t i : {target.kind == scenario::NetworkTarget::Kind::kLan ? target.site : target.a, target.b}) {
    PBXSTATE_CHECK(i < topology_.sites.size());
    const scenario::Site& site = topology_.sites[i];
    for (NodeId n = site.first_node; n < site.first_node + site.node_count; ++n) nodes.push_back(n);
    if (target.kind == scenario::NetworkTarget::Kind::kLan) break;
  }
  return nodes;
}

void FaultWindowTracker::Applied(Duration t, const scenario::Fault& fault) {
  PBXSTATE_CHECK(t >= last_);
  last_ = t;
  const auto& what = fault.what;
  if (const auto* p = std::get_if<scenario::Partition>(&what)) {
    Close(cut_, t, fault);
    std::vector<NodeId> nodes;
    for (const auto& side : p->sides) nodes.insert(nodes.end(), side.begin(), side.end());
    Open(cut_, t, fault, std::move(nodes));
  } else if (const auto* iso = std::get_if<scenario::Isolate>(&what)) {
    Close(cut_, t, fault);
    Open(cut_, t, fault, {iso->node});
  } else if (std::holds_alternative<scenario::Heal>(what)) {
    Close(cut_, t, fault);
  } else if (const auto* d = std::get_if<scenario::Degrade>(&what)) {
    std::optional<FaultWindow>& slot = degraded_[Target{d->target.kind, d->target.site, d->target.a, d->target.b}];
    if (!slot) Open(slot, t, fault, NodesOf(d->target));
  } else if (const auto* r = std::get_if<scenario::Restore>(&what)) {
    Close(degraded_[Target{r->target.kind, r->target.site, r->target.a, r->target.b}], t, fault);
  } else if (const auto* c = std::get_if<scenario::Crash>(&what)) {
    if (!down_[c->node]) Open(down_[c->node], t, fault, {c->node});
  } else if (const auto* re = std::get_if<scenario::Restart>(&what)) {
    Close(down_[re->node], t, fault);
  }
}

std::vector<FaultWindow> FaultWindowTracker::Windows(Duration end) const {
  std::vector<FaultWindow> out = closed_;
  auto add_open = [&](const std::optional<FaultWindow>& w) {
    if (!w) return;
    PBXSTATE_CHECK(end >= w->start);
    out.push_back(*w);
    out.back().end = end;
  };
  add_open(cut_);
  for (const auto& [target, w] : degraded_) add_open(w);
  for (const auto& [node, w] : down_) add_open(w);
  std::sort(out.begin(), out.end(), [](const FaultWindow& a, const FaultWindow& b) {
    return std::tie(a.start, a.end, a.kind) < std::tie(b.start, b.end, b.kind);
  });
  return out;
}

std::vector<FaultWindow> PlannedFaultWindows(const scenario::Scenario& s) {
  FaultWindowTracker tracker(s.topology);
  for (const scenario::Fault& f : s.faults) tracker.Applied(f.at, f);
  return tracker.Windows(s.end());
}

}  // namespace pbxstate::harness
