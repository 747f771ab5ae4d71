// Baseline files: the gated metrics of one scenario run, as a reviewed YAML record in
// reports/baselines/<scenario name>.yaml.
//
//   format: pbxstate-baseline/1
//   scenario: partition-heal
//   file: scenarios/partition-heal.yaml
//   seeds: [1, 2, 3, 4, 5]
//   backend: ns3
//   metrics:
//     convergence.1.after_heal: {value: 638.85904ms, tolerance: 1%, floor: 1ms}  # heal at 20 s
//     messages_per_change: {value: 1.578041, tolerance: 1%}
//     lost: {value: 0, tolerance: 0%}
//
// Each value is the median over the runs of the listed seeds (MedianOverSeeds), so one seed's
// tail cannot decide the verdict; `seed: N` is the same as `seeds: [N]`. A metric regresses when
// the median of the runs exceeds `value + max(value * tolerance, floor)`.
// Durations carry a unit and are exact to the nanosecond; "never" is a run that never
// converged; "interrupted" a convergence the next fault came before (gate_metrics.h). `pbxstate baseline update` rewrites values and keeps tolerances and floors, so a
// reviewer sees only what moved.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "pbxstate/gate/gate_metrics.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate::gate {

inline constexpr std::string_view kBaselineFormat = "pbxstate-baseline/1";
// A baseline file larger than this is refused: a real one is a few kilobytes.
inline constexpr std::uintmax_t kMaxBaselineBytes = 1 << 20;
inline constexpr std::size_t kMaxBaselineMetrics = 1000;
// Every seed is one whole run of the scenario per `check`: a handful is the point, not hundreds.
inline constexpr std::size_t kMaxBaselineSeeds = 64;

struct Tolerance {
  double relative = 0;  // fraction of the baseline value (0.01 for "1%")
  double floor = 0;     // in the metric's base unit; the allowance is never below it
  friend bool operator==(const Tolerance&, const Tolerance&) = default;
};

// The default for a newly gated metric. Simulated runs are deterministic, so the defaults are
// tight: 1% (floor 1 ms for durations, so a sub-millisecond latency does not fail on a few
// microseconds) and exactly zero for lost and stale entries.
Tolerance DefaultTolerance(const GateMetric& metric);

struct BaselineEntry {
  GateMetric metric;
  Tolerance tolerance;
  int line = 0;  // where it is written, when loaded from a file
};

struct Baseline {
  std::string scenario;  // the scenario's name; the file is <dir>/<scenario>.yaml
  std::string file;      // the scenario file the baseline was made from, as given
  std::vector<std::uint64_t> seeds;  // one or more, distinct, in the order written
  std::string backend;
  std::vector<BaselineEntry> entries;
};

std::filesystem::path BaselinePath(const std::filesystem::path& dir, const std::string& scenario_name);

// Reads a baseline. On failure returns false and sets `error` to "FILE:LINE:COLUMN: FIELD:
// message" (line and column 1-based; omitted when the file cannot be read at all).
bool LoadBaseline(const std::filesystem::path& path, Baseline* out, std::string* error);

// The file's text. Deterministic: the same baseline gives the same bytes.
std::string FormatBaseline(const Baseline& baseline);

// A baseline for `metrics` (MedianOverSeeds of the runs of `seeds`) of `s`. Tolerances come from `previous` where it has the
// metric (so hand-tuned tolerances survive an update), else DefaultTolerance.
Baseline MakeBaseline(const scenario::Scenario& s, const std::string& scenario_file, const std::string& backend,
                      const std::vector<std::uint64_t>& seeds, const std::vector<GateMetric>& metrics,
                      const Baseline* previous);

// "9.304178024s", "638.85904ms", "500.552us", "0ms", "never", "interrupted" for durations; "1.578041" for numbers; "0" for
// counts. Parsed back exactly (durations) or to 6 decimals (numbers).
std::string FormatGateValue(GateUnit unit, double value);

}  // namespace pbxstate::gate
