// RunRecorder's state, shared by its phases: intake and metrics (recorder.cc), the final views
// against the oracle (final_check.cc), convergence after each fault (convergence.cc).
#pragma once

#include <cassert>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pbxstate/harness/fault_windows.h"
#include "pbxstate/harness/oracle.h"
#include "pbxstate/harness/recorder.h"

namespace pbxstate::harness {

// Identity of one change: (slot, incarnation, sequence) for owned entries, (slot, hlc, writer)
// for mailboxes.
struct ChangeKey {
  SlotId slot;
  std::uint64_t a, b, c;
  friend bool operator==(const ChangeKey&, const ChangeKey&) = default;
};
struct ChangeKeyHash {
  std::size_t operator()(const ChangeKey& k) const {
    std::uint64_t h = k.slot * 0x9e3779b97f4a7c15ULL;
    for (std::uint64_t v : {k.a, k.b, k.c}) h = (h ^ v) * 0x100000001b3ULL + (h >> 29);
    return static_cast<std::size_t>(h);
  }
};

// What one node showed for one slot from `t` on.
struct Shown {
  Duration t;
  ValueHash value;
  std::uint32_t record_bytes;  // EncodedRecordBytes of the view change that set it
};

// The runner's byte count read after one heal: (time, count) each time it changed, the first
// at the heal; `covered_until` is how far the reads reach (the next fault, the window's end, or
// the run's end while open).
struct HealBytes {
  std::vector<std::pair<Duration, std::uint64_t>> samples;
  bool open = true;
  Duration covered_until{};
};

// The value a view change leaves the node showing (slots.h).
ValueHash ValueOf(const ViewChange& ch);

struct RunRecorder::Impl {
  Impl(const scenario::Scenario& s, bool keep);

  struct ChangeState {
    std::vector<std::uint64_t> received;  // bit per node
    std::uint32_t received_count = 0;
    Duration max_latency{};
  };
  struct FaultEnd {
    Duration t;
    std::string after;
    std::string text;
    std::optional<std::size_t> heal_bytes;  // index into heal_bytes, for a heal when counting
  };

  std::uint32_t node_count;
  bool keep_timelines;
  SlotTable slots;
  Oracle oracle;
  std::vector<ChangeRecord> changes;
  std::vector<ChangeState> change_state;
  std::unordered_map<ChangeKey, std::uint32_t, ChangeKeyHash> change_index;
  std::vector<DeliverySample> deliveries;
  std::vector<std::unordered_map<SlotId, std::vector<Shown>>> timelines;  // by node - 1
  std::vector<FaultEnd> fault_ends;
  std::vector<std::pair<Duration, std::string>> faults;  // every fault applied, in order
  std::vector<EngineStats> stats;
  std::vector<std::uint64_t> incarnation;
  std::vector<Duration> last_start;
  std::vector<bool> up;
  std::uint64_t skipped = 0, refused = 0;
  std::function<std::uint64_t()> network_bytes;  // CountNetworkBytes; empty: not counted
  std::vector<HealBytes> heal_bytes;
  std::vector<MembershipRecord> views;  // at most kMaxMembershipRecords
  std::uint64_t view_count = 0;
  std::optional<scenario::MemorySampling> memory;  // the scenario's
  std::vector<MemorySample> memory_samples;
  std::vector<std::optional<Duration>> memory_sampled_at;  // per node, its latest sample's instant
  FaultWindowTracker fault_windows;  // fed by FaultApplied: the windows the runner applied

  SlotId SlotOf(const ViewChange& ch) {
    if (ch.kind == EntryKind::kRegistration) {
      const RegistrationInfo* r = ch.new_registration != nullptr ? ch.new_registration : ch.old_registration;
      assert(r != nullptr);
      return slots.Intern(ch.kind, RegistrationSlotKey(ch.key, r->contact), ch.origin);
    }
    return slots.Intern(ch.kind, ch.key, ch.kind == EntryKind::kMailbox ? kNoNode : ch.origin);
  }
  static ChangeKey KeyOf(SlotId slot, const ViewChange& ch);

  // "device PJSIP/dev3 from node 2"
  std::string DescribeSlot(SlotId s) const;
  // The oracle's acceptable values as text, for discrepancies.
  std::string DescribeAcceptable(SlotId s, const Acceptable& a) const;

  // final_check.cc: compares node `n`'s final view with the oracle; counts into lost/stale and
  // notes each difference.
  void CheckFinalView(NodeId n, const FinalView& view, Duration end, std::uint64_t* lost, std::uint64_t* stale,
                      RunResult* r);
  // When node `n` last came to agree with the oracle (NodeSummary::last_disagreement).
  std::optional<Duration> LastCatchUp(NodeId n, Duration end) const;

  // convergence.cc: one sample per fault end.
  std::vector<ConvergenceSample> MeasureConvergence(Duration end) const;
  // The sample's stretch: from the fault's end to the next fault (interrupted_by) or `end`.
  ConvergenceSample StretchOf(const FaultEnd& fe, Duration end) const;
  // How long after `from` node `n` came to agree on every slot of `to_check` (sorted, unique)
  // in the stretch [from, until); nullopt when it did not. Adds the records it came to show
  // for them to `differing`.
  std::optional<Duration> NodeTook(NodeId n, Duration from, Duration until, const std::vector<SlotId>& to_check,
                                   std::uint64_t* differing) const;
  // The bytes of heal window `w` from its start to `at`; nullopt when the reads do not reach it.
  std::optional<std::uint64_t> HealBytesUntil(std::size_t w, Duration at) const;
  // recorder.cc: closes the open heal window at `t`; reads the count at a view change at `t`.
  void CloseHealBytes(Duration t);
  void ReadHealBytes(Duration t);
};

// Notes one discrepancy of node `n` in `r` (bounded by kMaxDiscrepancies).
void NoteDiscrepancy(RunResult* r, NodeId n, std::string what);

}  // namespace pbxstate::harness
