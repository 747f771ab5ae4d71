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
  auto add = [&](const std::string& name, GateUnit unit) {
    auto it = result.metrics.find(name);
    if (it == result.metrics.end()) return;
    out.push_back(GateMetric{name, unit, it->second, {}});
  };
  for (const char* q : {"p50", "p99"}) add(std::string("delivery_latency.") + q, GateUnit::kDuration);
  for (const char* q : {"p50", "p95", "p99", "max"}) add(std::string("stable_latency.") + q, GateUnit::kDuration);
  add("messages_per_change", GateUnit::kNumber);
  add("bytes_per_change", GateUnit::kNumber);
  add("lost", GateUnit::kCount);
  add("stale", GateUnit::kCount);
  // Calls, per strategy the run measured: the share of routable calls that did not complete
  // (lower is better, unlike the completion ratio it comes from), extra hops, loops.
  for (const char* st : {"blind_peer", "location"}) {
    const std::string p = std::string("calls.") + st;
    auto ratio = result.metrics.find(p + ".completion_ratio");
    if (ratio == result.metrics.end()) continue;
    out.push_back(GateMetric{p + ".incomplete_ratio", GateUnit::kNumber, 1.0 - ratio->second, {}});
    add(p + ".extra_hops.mean", GateUnit::kNumber);
    add(p + ".looped", GateUnit::kCount);
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
