// Convergence after each fault's end (scenarios/README.md, "checks"): the stretch from the
// fault's end to the next fault (or the run's end) has one fixed configuration; every node up in
// it agrees on a slot from the first moment it shows a value Oracle::Settled accepts for the
// stretch, and the sample is the slowest (node, slot). A stretch that ends at the next fault
// before agreement is interrupted; one that ends with the run is never converged.
#include <algorithm>
#include <cassert>

#include "pbxstate/harness/recorder.h"
#include "recorder_impl.h"

namespace pbxstate::harness {

std::vector<ConvergenceSample> RunRecorder::Impl::MeasureConvergence(Duration end) const {
  std::vector<ConvergenceSample> out;
  out.reserve(fault_ends.size());
  for (const FaultEnd& fe : fault_ends) out.push_back(MeasureOne(fe, end));
  return out;
}

ConvergenceSample RunRecorder::Impl::MeasureOne(const FaultEnd& fe, Duration end) const {
  ConvergenceSample cs;
  cs.after = fe.after;
  cs.fault_at = fe.t;
  cs.fault = fe.text;
  cs.until = end;
  for (const auto& [t, text] : faults) {
    if (t > fe.t) {
      cs.until = t;
      cs.interrupted_by = text;
      break;
    }
  }
  if (cs.until <= fe.t) {  // a fault at the very end of the run: nothing to measure
    cs.interrupted = !cs.interrupted_by.empty();
    return cs;
  }
  const ClusterHistory& h = oracle.history();
  std::vector<SlotId> known;
  for (SlotId s = 0; s < slots.size(); ++s) {
    if (oracle.Known(s)) known.push_back(s);
  }
  bool all = true;
  Duration worst{};
  std::uint64_t differing = 0;  // record bytes of what the nodes lacked at the fault's end
  for (NodeId n = 1; n <= node_count; ++n) {
    // Nodes up through the stretch (a crash or a restart is a fault: none happens inside it).
    if (!h.Up(n, fe.t)) continue;
    const auto& mine = timelines[n - 1];
    std::optional<Duration> node_took = Duration{};
    std::vector<SlotId> to_check = known;
    for (const auto& [s, shown] : mine) {
      if (!oracle.Known(s)) to_check.push_back(s);
    }
    for (SlotId s : to_check) {
      const Acceptable ok = oracle.Settled(n, s, fe.t, cs.until);
      // What the node showed at the fault's end, then each later value inside the stretch.
      ValueHash at_fault = kAbsent;
      const std::vector<Shown>* tl = nullptr;
      std::vector<Shown>::const_iterator later;
      if (auto it = mine.find(s); it != mine.end()) {
        tl = &it->second;
        later = std::upper_bound(tl->begin(), tl->end(), fe.t, [](Duration x, const Shown& p) { return x < p.t; });
        if (later != tl->begin()) at_fault = std::prev(later)->value;
      }
      if (ok.Contains(at_fault)) continue;
      bool caught_up = false;
      if (tl != nullptr) {
        for (auto it = later; it != tl->end() && it->t < cs.until; ++it) {
          if (ok.Contains(it->value)) {
            node_took = std::max(*node_took, it->t - fe.t);
            differing += it->record_bytes;
            caught_up = true;
            break;
          }
        }
      }
      if (!caught_up) {
        node_took.reset();
        break;
      }
    }
    cs.by_node.emplace_back(n, node_took);
    if (node_took) worst = std::max(worst, *node_took);
    all = all && node_took.has_value();
  }
  cs.converged = all;
  if (all) {
    cs.took = worst;
    cs.differing_bytes = differing;
    if (fe.heal_bytes) cs.bytes = HealBytesUntil(*fe.heal_bytes, fe.t + worst);
  } else {
    cs.interrupted = !cs.interrupted_by.empty();
  }
  return cs;
}

}  // namespace pbxstate::harness
