#include "pbxstate/gate/gate_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pbxstate::gate {
namespace {

std::string ShowSeconds(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g s", static_cast<double>(d.count()) / 1e9);
  return buf;
}

}  // namespace

const std::vector<GatedRunMetric>& GatedRunMetrics() {
  static const std::vector<GatedRunMetric> gated = [] {
    std::vector<GatedRunMetric> g;
    auto lower = [&g](std::string name, GateUnit unit, std::string only_with = {}) {
      g.push_back(GatedRunMetric{name, name, unit, false, std::move(only_with)});
    };
    for (const char* q : {"p50", "p99"}) lower(std::string("delivery_latency.") + q, GateUnit::kDuration);
    for (const char* q : {"p50", "p95", "p99", "max"}) lower(std::string("stable_latency.") + q, GateUnit::kDuration);
    lower("messages_per_change", GateUnit::kNumber);
    lower("bytes_per_change", GateUnit::kNumber);
    lower("lost", GateUnit::kCount);
    lower("stale", GateUnit::kCount);
    // Calls, per strategy the run measured (it has a completion ratio): the share of routable
    // calls that did not complete (lower is better, unlike the completion ratio it comes from),
    // extra hops, loops.
    for (int i = 0; i < scenario::kRoutingStrategyCount; ++i) {
      const std::string p = "calls." + std::string(scenario::RoutingStrategyMetricName(static_cast<scenario::RoutingStrategy>(i)));
      g.push_back(GatedRunMetric{p + ".completion_ratio", p + ".incomplete_ratio", GateUnit::kNumber, true, {}});
      lower(p + ".extra_hops.mean", GateUnit::kNumber, p + ".completion_ratio");
      lower(p + ".looped", GateUnit::kCount, p + ".completion_ratio");
    }
    return g;
  }();
  return gated;
}

std::vector<GateMetric> ExtractGateMetrics(const harness::RunResult& result) {
  std::vector<GateMetric> out;
  for (std::size_t i = 0; i < result.convergence.size(); ++i) {
    const harness::ConvergenceSample& c = result.convergence[i];
    GateMetric m;
    m.name = "convergence." + std::to_string(i + 1) + ".after_" + c.after;
    m.unit = GateUnit::kDuration;
    m.value = c.converged ? static_cast<double>(c.took.count()) : c.interrupted ? kInterrupted : kNever;
    m.note = c.fault + " at " + ShowSeconds(c.fault_at);
    if (c.interrupted) m.note += ", interrupted by " + c.interrupted_by + " at " + ShowSeconds(c.until);
    out.push_back(std::move(m));
  }
  for (const GatedRunMetric& g : GatedRunMetrics()) {
    auto it = result.metrics.find(g.run_metric);
    if (it == result.metrics.end()) continue;
    if (!g.only_with.empty() && !result.metrics.contains(g.only_with)) continue;
    out.push_back(GateMetric{g.gated_as, g.unit, g.complement ? 1.0 - it->second : it->second, {}});
  }
  return out;
}

}  // namespace pbxstate::gate

namespace pbxstate::gate {

std::vector<GateMetric> MedianOverSeeds(const std::vector<std::vector<GateMetric>>& runs) {
  std::vector<GateMetric> out;
  if (runs.empty()) return out;
  // Times first, then interrupted, then never (the order CompareWithBaseline judges them by).
  const auto rank = [](double v) { return IsInterrupted(v) ? 1 : std::isinf(v) ? 2 : 0; };
  const auto less = [&](double a, double b) { return rank(a) != rank(b) ? rank(a) < rank(b) : rank(a) == 0 && a < b; };
  for (const GateMetric& first : runs.front()) {
    std::vector<double> values;
    for (const auto& run : runs) {
      auto it = std::find_if(run.begin(), run.end(), [&](const GateMetric& m) { return m.name == first.name; });
      if (it == run.end()) break;
      values.push_back(it->value);
    }
    if (values.size() != runs.size()) continue;
    std::sort(values.begin(), values.end(), less);
    GateMetric m = first;
    m.value = values[(values.size() - 1) / 2];
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace pbxstate::gate
