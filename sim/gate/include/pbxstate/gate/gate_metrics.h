// The metrics a baseline holds: the figures a change to the engine must not make worse.
//
// Every gated metric is "lower is better": convergence time after each fault, latency
// quantiles, network cost per change, lost and stale entries, and with calls, per strategy, the
// share of routable calls that did not complete, the mean extra hops and the loops. A metric the run did not measure
// (no deliveries, no faults) is simply absent.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "pbxstate/harness/recorder.h"

namespace pbxstate::gate {

enum class GateUnit {
  kDuration,  // nanoseconds; written with a unit ("638.85904ms") in baseline files
  kNumber,    // a ratio or a count per change ("1.5783")
  kCount,     // a whole number ("0")
};

struct GateMetric {
  std::string name;   // "convergence.1.after_heal", "stable_latency.p99", "lost"
  GateUnit unit = GateUnit::kNumber;
  // In the unit's base (ns for durations). +infinity when the run never got there (a fault
  // after which the cluster never agreed); kInterrupted when the next fault came first.
  double value = 0;
  std::string note;   // for people: which fault, at what time
};

inline constexpr double kNever = std::numeric_limits<double>::infinity();
// A convergence sample the next fault interrupted before agreement (ConvergenceSample::
// interrupted): neither fast nor slow. Written "interrupted" in baseline files; compared with
// a number it regresses (the cluster no longer agrees before the next fault), and a number
// compared with it improves.
inline constexpr double kInterrupted = std::numeric_limits<double>::quiet_NaN();
inline bool IsInterrupted(double v) { return v != v; }

// A metric of run.json the gate holds a run to: the one definition of which run metrics are
// gated and which way is better (`pbxstate describe-metrics` exports it for the report pages).
// Every gated metric is lower-is-better; a run metric whose higher value is better (a call
// completion ratio) is gated as its complement, 1 - value, under another name.
struct GatedRunMetric {
  std::string run_metric;  // "stable_latency.p99", "calls.location.completion_ratio"
  std::string gated_as;    // "stable_latency.p99", "calls.location.incomplete_ratio"
  GateUnit unit = GateUnit::kNumber;
  bool complement = false;  // gated as 1 - value: in run.json, higher is better
  std::string only_with;    // gated only when the run measured this one too; empty: when measured
};
// In the order ExtractGateMetrics writes them, after the convergence samples: latencies, cost,
// correctness, then calls per strategy.
const std::vector<GatedRunMetric>& GatedRunMetrics();

// The gated metrics of one run, in a fixed order (convergence per fault in fault order, then
// GatedRunMetrics()), so baseline files diff cleanly. Convergence samples are durations, lower
// is better.
std::vector<GateMetric> ExtractGateMetrics(const harness::RunResult& result);

// The gated metrics of several runs of one scenario (one per seed), each metric the median of
// its values, ordered time < interrupted < never; with an even count the lower of the two middle
// values (never an average, so "interrupted" stays a value a run had). A metric is kept only when
// every run measured it (so a metric one seed lost is missing, which fails the gate), in the
// first run's order; its note is the first run's. One run gives that run's metrics.
std::vector<GateMetric> MedianOverSeeds(const std::vector<std::vector<GateMetric>>& runs);

}  // namespace pbxstate::gate
