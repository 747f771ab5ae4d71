// Which memory sample instant a read of the engines' held_bytes stands for
// (sim/runner/src/run_steps.h, MemorySampleInstant): every multiple of memory.sample_every and
// the end on the simulated clock; on the wall clock (netns, emu) a read after one or more
// instants, the end and the baseline first.
#include <gtest/gtest.h>

#include "run_steps.h"
#include "pbxstate/scenario/loader.h"

namespace pbxstate::runner {
namespace {

using namespace std::chrono_literals;

// 14 s active, 2 s quiet (the end at 16 s); a sample every 2 s, the baseline at 4 s.
scenario::Scenario Sampled(const std::string& memory) {
  const scenario::LoadResult r = scenario::LoadScenarioString(
      "name: t\nduration: 14s\nquiet: 2s\ncluster: {nodes: 3}\nnetwork: {lan: {delay: 1ms}}\n" + memory, "t.yaml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.errors.front().ToString());
  return *r.scenario;
}

TEST(MemorySampleInstant, EachInstantOnceOnTheSimulatedClock) {
  const scenario::Scenario s = Sampled("memory: {sample_every: 2s, baseline: 4s}\n");
  std::vector<Duration> instants;
  for (Duration t = 1s; t <= 16s; t += 1s) {
    if (auto at = MemorySampleInstant(s, t - 1ns, t)) instants.push_back(*at);
  }
  EXPECT_EQ(instants, (std::vector<Duration>{2s, 4s, 6s, 8s, 10s, 12s, 14s, 16s}));
}

TEST(MemorySampleInstant, ALateReadStandsForTheEndThenTheBaselineThenTheLatest) {
  const scenario::Scenario s = Sampled("memory: {sample_every: 2s, baseline: 4s}\n");
  EXPECT_EQ(MemorySampleInstant(s, 0s, 1500ms), std::nullopt);
  EXPECT_EQ(MemorySampleInstant(s, 1500ms, 2100ms), 2s);
  EXPECT_EQ(MemorySampleInstant(s, 2100ms, 6500ms), 4s);    // passed 4 s and 6 s: the baseline
  EXPECT_EQ(MemorySampleInstant(s, 6500ms, 10200ms), 10s);  // passed 8 s and 10 s: the latest
  EXPECT_EQ(MemorySampleInstant(s, 10200ms, 16s), 16s);     // passed 12 s, 14 s and the end
  EXPECT_EQ(MemorySampleInstant(s, 16s, 16s), std::nullopt);
  EXPECT_EQ(MemorySampleInstant(Sampled(""), 0s, 16s), std::nullopt);  // no memory section
}

}  // namespace
}  // namespace pbxstate::runner
