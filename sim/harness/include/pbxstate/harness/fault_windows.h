// The stretches of a run during which a fault was in force, as the runner applied its faults:
// a cut (partition or isolate) until the heal or the next cut, which replaces it; a degradation
// of one LAN or link until that target's restore (a second degrade of it changes its parameters,
// not the window); a crash of a node until its restart. A window still open at the run's end ends
// there. run.json's "fault_windows" (the report shades them) and the calls' split into calls
// inside and outside faults (CallRecorder) are these, so no reader pairs fault texts again.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "pbxstate/scenario/scenario.h"

namespace pbxstate::harness {

struct FaultWindow {
  Duration start{};
  Duration end{};
  // The action that opened it (scenario::kFaultActions): "partition", "isolate", "degrade", "crash".
  std::string kind;
  // The nodes it acts on, ascending: every node of a partition's sides, the isolated or crashed
  // node, the nodes of a degraded LAN's site or of both sites of a degraded link.
  std::vector<NodeId> nodes;
  std::string opened_by;  // the opening fault as DescribeFault writes it
  std::string closed_by;  // the closing fault likewise; empty when the run's end closed it
  friend bool operator==(const FaultWindow&, const FaultWindow&) = default;
};

// Pairs faults into windows as they are applied. At most one window per fault: bounded by the
// scenario's faults (the loader's bound).
class FaultWindowTracker {
 public:
  explicit FaultWindowTracker(const scenario::Topology& topology) : topology_(topology) {}

  // A fault the runner applied at `t`; faults come in time order (asserted).
  void Applied(Duration t, const scenario::Fault& fault);
  // Every window, the ones still open ended at `end` (not before any start: asserted), ordered
  // by start, then end, then kind.
  std::vector<FaultWindow> Windows(Duration end) const;

 private:
  using Target = std::tuple<scenario::NetworkTarget::Kind, std::size_t, std::size_t, std::size_t>;
  void Open(std::optional<FaultWindow>& slot, Duration t, const scenario::Fault& fault, std::vector<NodeId> nodes);
  void Close(std::optional<FaultWindow>& slot, Duration t, const scenario::Fault& fault);
  std::vector<NodeId> NodesOf(const scenario::NetworkTarget& target) const;

  scenario::Topology topology_;
  Duration last_{};
  std::vector<FaultWindow> closed_;
  std::optional<FaultWindow> cut_;
  std::map<Target, std::optional<FaultWindow>> degraded_;
  std::map<NodeId, std::optional<FaultWindow>> down_;
};

// The windows of `s` as planned: every fault at its time, the open ones ended at s.end().
std::vector<FaultWindow> PlannedFaultWindows(const scenario::Scenario& s);

}  // namespace pbxstate::harness
