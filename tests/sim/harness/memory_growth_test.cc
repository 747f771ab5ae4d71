// Engine memory over a run (scenario `memory:` section): the samples a runner gives the recorder,
// memory_growth_pct from them, and the check on it failing when memory grows.
#include <gtest/gtest.h>

#include "hand_run.h"
#include "pbxstate/harness/run_record.h"

namespace pbxstate::harness {
namespace {

using namespace std::chrono_literals;
using testing::HandRun;

constexpr const char* kSampled = R"(
name: memory
duration: 40s
quiet: 0ms
cluster: {nodes: 3}
network:
  lan: {delay: 1ms}
memory: {sample_every: 10s, baseline: 10s}
checks: ['memory_growth_pct <= 10']
)";

// Every node sampled at 0, 10, 20, 30 and 40 s; node n holds bytes(n, t).
RunResult Sampled(const std::function<std::uint64_t(NodeId, Duration)>& bytes) {
  HandRun run(kSampled);
  run.StartAll();
  for (Duration t = 0s; t <= 40s; t += 10s) {
    for (NodeId n = 1; n <= 3; ++n) run.rec.EngineMemorySampled(t, n, bytes(n, t));
  }
  std::map<NodeId, FinalView> views;
  for (NodeId n : {1, 2, 3}) views[n] = FinalView{};
  return run.Finish(40s, views);
}

TEST(MemoryGrowth, FlatMemoryPassesTheCheck) {
  // Node 2 wobbles: 5 % over its baseline at the end; the others are flat.
  const RunResult r = Sampled([](NodeId n, Duration t) -> std::uint64_t { return n == 2 && t == 40s ? 105'000 : 100'000; });
  EXPECT_DOUBLE_EQ(r.metrics.at("memory_growth_pct"), 5.0);
  const auto verdicts = EvaluateChecks(HandRun(kSampled).scenario, r, 1s, "ns3");
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_TRUE(verdicts[0].pass);
  EXPECT_EQ(r.memory.size(), 15u);
}

TEST(MemoryGrowth, MemoryThatKeepsGrowingFailsTheCheck) {
  // Names that are never removed: node 3 grows by 10,000 bytes every 10 s after its first sample
  // (at the baseline: 110,000; at the end: 140,000, +27.3 %).
  const RunResult r = Sampled([](NodeId n, Duration t) -> std::uint64_t {
    return n == 3 ? 100'000 + static_cast<std::uint64_t>(t / 10s) * 10'000 : 100'000;
  });
  EXPECT_NEAR(r.metrics.at("memory_growth_pct"), 100.0 * 30'000 / 110'000, 1e-9);
  const auto verdicts = EvaluateChecks(HandRun(kSampled).scenario, r, 1s, "ns3");
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_TRUE(verdicts[0].measured);
  EXPECT_FALSE(verdicts[0].pass);
}

TEST(MemoryGrowth, ANodeWithoutBothSamplesIsLeftOut) {
  std::vector<MemorySample> samples = {{10s, 1, 100}, {40s, 1, 100}, {10s, 2, 100}, {40s, 3, 900}};
  EXPECT_DOUBLE_EQ(*MemoryGrowthPct(samples, 10s, 40s), 0.0);
  EXPECT_FALSE(MemoryGrowthPct({{10s, 2, 100}, {40s, 3, 900}}, 10s, 40s).has_value());
}

// held_bytes is a level: a second read of one node at one instant is refused, not added up or
// overwritten (recorder.h, EngineMemorySampled).
TEST(MemoryGrowthDeathTest, ASecondSampleOfOneNodeAtOneInstantIsRefused) {
  EXPECT_DEATH(
      {
        HandRun run(kSampled);
        run.StartAll();
        run.rec.EngineMemorySampled(10s, 1, 100);
        run.rec.EngineMemorySampled(10s, 2, 100);  // another node at the same instant is fine
        run.rec.EngineMemorySampled(10s, 1, 900);
      },
      "pbxstate check failed: \\*previous < t");
  EXPECT_DEATH(
      {
        HandRun run(kSampled);
        run.StartAll();
        run.rec.EngineMemorySampled(20s, 1, 100);
        run.rec.EngineMemorySampled(10s, 1, 100);  // out of time order
      },
      "pbxstate check failed: \\*previous < t");
  EXPECT_DEATH(MemoryGrowthPct({{10s, 1, 100}, {10s, 1, 900}, {40s, 1, 100}}, 10s, 40s),
               "pbxstate check failed: one_per_instant");
}

}  // namespace
}  // namespace pbxstate::harness
