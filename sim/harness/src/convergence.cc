// Convergence after each fault's end (scenarios/README.md, "checks"): the stretch from the
// fault's end to the next fault (or the run's end) has one fixed configuration; every node up in
// it agrees on a slot from the first moment it shows a value Oracle::Settled accepts for the
// stretch, and the sample is the slowest (node, slot). A stretch that ends at the next fault
// before agreement is interrupted; one that ends with the run is never converged.
//
// Only the slots a stretch can tell anything about are walked (span_index.h): outside the
// oracle's spans a slot's truth is none and only none, outside a node's spans the node shows none
// and nothing changes, so a slot in neither at a stretch is agreed on from its start and adds
// nothing. The cost is the slots live or changing in each stretch, not every slot ever named
// (names come and go: a day of churn names hundreds of thousands). Node by node, so that one
// node's spans are in memory at a time.
#include <algorithm>
#include <cassert>

#include "pbxstate/harness/recorder.h"
#include "pbxstate/harness/span_index.h"
#include "recorder_impl.h"

namespace pbxstate::harness {
namespace {

// A node's spans: each value it showed, from when it came until the next change (open while it
// holds), and each change to none as one instant.
void AddShownSpans(const std::unordered_map<SlotId, std::vector<Shown>>& mine, SpanIndex* index) {
  for (const auto& [s, tl] : mine) {
    for (std::size_t i = 0; i < tl.size(); ++i) {
      const Duration next = i + 1 < tl.size() ? tl[i + 1].t : Duration::max();
      index->Add(s, tl[i].t, tl[i].value == kAbsent ? tl[i].t : next);
    }
  }
}

void SortUnique(std::vector<SlotId>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace

std::vector<ConvergenceSample> RunRecorder::Impl::MeasureConvergence(Duration end) const {
  std::vector<ConvergenceSample> out;
  out.reserve(fault_ends.size());
  std::vector<std::size_t> measured;  // indices into out with a stretch to measure, in time order
  for (const FaultEnd& fe : fault_ends) {
    out.push_back(StretchOf(fe, end));
    if (out.back().until > fe.t) measured.push_back(out.size() - 1);
  }
  // FaultApplied comes in time order; the index sweeps in it.
  assert(std::is_sorted(measured.begin(), measured.end(),
                        [&](std::size_t a, std::size_t b) { return fault_ends[a].t < fault_ends[b].t; }));
  std::vector<std::vector<SlotId>> truth_slots(measured.size());
  {
    SpanIndex truth;
    oracle.AddSpans(&truth);
    for (std::size_t k = 0; k < measured.size(); ++k) {
      const ConvergenceSample& cs = out[measured[k]];
      truth.Overlapping(cs.fault_at, cs.until, &truth_slots[k]);
      SortUnique(&truth_slots[k]);
    }
  }
  struct NodeOutcome {
    bool up = false;
    std::optional<Duration> took;
    std::uint64_t differing = 0;
  };
  std::vector<std::vector<NodeOutcome>> outcome(measured.size(), std::vector<NodeOutcome>(node_count));
  const ClusterHistory& h = oracle.history();
  for (NodeId n = 1; n <= node_count; ++n) {
    SpanIndex shown;
    AddShownSpans(timelines[n - 1], &shown);
    std::vector<SlotId> to_check;
    for (std::size_t k = 0; k < measured.size(); ++k) {
      const ConvergenceSample& cs = out[measured[k]];
      to_check = truth_slots[k];
      shown.Overlapping(cs.fault_at, cs.until, &to_check);
      // Nodes up through the stretch (a crash or a restart is a fault: none happens inside it).
      if (!h.Up(n, cs.fault_at)) continue;
      SortUnique(&to_check);
      NodeOutcome& o = outcome[k][n - 1];
      o.up = true;
      o.took = NodeTook(n, cs.fault_at, cs.until, to_check, &o.differing);
    }
  }
  for (std::size_t k = 0; k < measured.size(); ++k) {
    ConvergenceSample& cs = out[measured[k]];
    const FaultEnd& fe = fault_ends[measured[k]];
    bool all = true;
    Duration worst{};
    std::uint64_t differing = 0;  // record bytes of what the nodes lacked at the fault's end
    for (NodeId n = 1; n <= node_count; ++n) {
      const NodeOutcome& o = outcome[k][n - 1];
      if (!o.up) continue;
      cs.by_node.emplace_back(n, o.took);
      if (o.took) worst = std::max(worst, *o.took);
      differing += o.differing;
      all = all && o.took.has_value();
    }
    cs.converged = all;
    if (all) {
      cs.took = worst;
      cs.differing_bytes = differing;
      if (fe.heal_bytes) cs.bytes = HealBytesUntil(*fe.heal_bytes, fe.t + worst);
    } else {
      cs.interrupted = !cs.interrupted_by.empty();
    }
  }
  return out;
}

ConvergenceSample RunRecorder::Impl::StretchOf(const FaultEnd& fe, Duration end) const {
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
  if (cs.until <= fe.t) cs.interrupted = !cs.interrupted_by.empty();  // nothing to measure
  return cs;
}

std::optional<Duration> RunRecorder::Impl::NodeTook(NodeId n, Duration from, Duration until,
                                                    const std::vector<SlotId>& to_check,
                                                    std::uint64_t* differing) const {
  const auto& mine = timelines[n - 1];
  Duration took{};
  for (SlotId s : to_check) {
    const Acceptable ok = oracle.Settled(n, s, from, until);
    // What the node showed at the fault's end, then each later value inside the stretch.
    ValueHash at_fault = kAbsent;
    const std::vector<Shown>* tl = nullptr;
    std::vector<Shown>::const_iterator later;
    if (auto it = mine.find(s); it != mine.end()) {
      tl = &it->second;
      later = std::upper_bound(tl->begin(), tl->end(), from, [](Duration x, const Shown& p) { return x < p.t; });
      if (later != tl->begin()) at_fault = std::prev(later)->value;
    }
    if (ok.Contains(at_fault)) continue;
    bool caught_up = false;
    if (tl != nullptr) {
      for (auto it = later; it != tl->end() && it->t < until; ++it) {
        if (ok.Contains(it->value)) {
          took = std::max(took, it->t - from);
          *differing += it->record_bytes;
          caught_up = true;
          break;
        }
      }
    }
    if (!caught_up) return std::nullopt;
  }
  return took;
}

}  // namespace pbxstate::harness
