// A run against its baseline: which gated metrics got worse beyond their tolerance.
#pragma once

#include <string>
#include <vector>

#include "pbxstate/gate/baseline.h"
#include "pbxstate/gate/gate_metrics.h"

namespace pbxstate::gate {

enum class Outcome {
  kWithin,     // no worse than the baseline beyond its tolerance
  kImproved,   // better by more than the tolerance: passes; the baseline may be updated
  kRegressed,  // worse by more than the tolerance: fails the gate
  kMissing,    // in the baseline, not measured by the run: fails (the baseline is stale)
  kNew,        // measured by the run, not in the baseline: not gated until the next update
};
std::string_view OutcomeName(Outcome outcome);  // "ok", "improved", "REGRESSED", ...
inline bool Fails(Outcome o) { return o == Outcome::kRegressed || o == Outcome::kMissing; }

struct MetricComparison {
  std::string name;
  GateUnit unit = GateUnit::kNumber;
  // Plain values with flags rather than std::optional: GCC 12 warns (wrongly) that an
  // optional<double> moved through a vector may be read uninitialised.
  bool has_baseline = false;  // false for kNew
  double baseline = 0;
  bool has_observed = false;  // false for kMissing
  double observed = 0;
  double allowed = 0;              // the allowance above the baseline, in the base unit
  Outcome outcome = Outcome::kWithin;
  std::string note;
};

// One comparison per metric of either side: the baseline's in its order, then new ones.
std::vector<MetricComparison> CompareWithBaseline(const Baseline& baseline, const std::vector<GateMetric>& run);

// A fixed-width table for a terminal: metric, baseline, observed, change, allowed, outcome.
// With `only_notable`, rows that are within tolerance are left out (an all-ok run prints
// nothing but the header's absence).
std::string FormatComparisonTable(const std::vector<MetricComparison>& rows, bool only_notable);

// "+12.5%" / "-3.1%" / "+0.0%"; "+inf" when the run never converged; "n/a" without both sides.
std::string FormatChange(const MetricComparison& row);

}  // namespace pbxstate::gate
