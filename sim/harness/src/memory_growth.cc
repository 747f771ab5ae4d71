// memory_growth_pct: how much a node's engine memory grew from the scenario's baseline
// to the end (issue 18: "engine memory at the end within 10 % of its value after the first
// hour"), from the samples the runner took (RunRecorder::EngineMemorySampled).
#include <algorithm>
#include <map>
#include <utility>

#include "pbxstate/check.h"
#include "pbxstate/harness/recorder.h"

namespace pbxstate::harness {

std::optional<double> MemoryGrowthPct(const std::vector<MemorySample>& samples, Duration baseline, Duration end) {
  std::map<NodeId, std::uint64_t> at_baseline, at_end;
  for (const MemorySample& s : samples) {
    // One sample per (node, instant) (recorder.h): a second one is a runner's mistake.
    for (auto [instant, taken] : {std::pair{baseline, &at_baseline}, std::pair{end, &at_end}}) {
      if (s.t != instant) continue;
      const bool one_per_instant = taken->emplace(s.node, s.held_bytes).second;
      PBXSTATE_CHECK(one_per_instant);
    }
  }
  std::optional<double> growth;
  for (const auto& [node, base] : at_baseline) {
    auto e = at_end.find(node);
    if (e == at_end.end() || base == 0) continue;
    const double pct = 100.0 * (static_cast<double>(e->second) - static_cast<double>(base)) / static_cast<double>(base);
    growth = std::max(growth.value_or(pct), pct);
  }
  return growth;
}

}  // namespace pbxstate::harness
