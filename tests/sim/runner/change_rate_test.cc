// The namespace backends' refusal of a workload the driver cannot issue on time
// (sim/runner/src/netns_checks.cc, CheckChangeRate): the plan served as a queue at the measured
// rate, every source of changes summed over time.
#include <gtest/gtest.h>

#include "netns_run.h"
#include "pbxstate/scenario/loader.h"

namespace pbxstate::runner::netns_run {
namespace {

using namespace std::chrono_literals;

std::vector<harness::PlannedChange> Evenly(std::size_t n, Duration from, Duration gap) {
  std::vector<harness::PlannedChange> plan(n);
  for (std::size_t i = 0; i < n; ++i) plan[i].at = from + static_cast<Duration::rep>(i) * gap;
  return plan;
}

TEST(PredictedLateness, AStreamBelowTheRateIsNeverLate) {
  Duration at{}, since{};
  EXPECT_EQ(PredictedLateness(Evenly(1000, 0s, 1ms), 2000, &at, &since), Duration{});
}

TEST(PredictedLateness, ABurstAtOneInstantWaitsForTheRate) {
  Duration at{}, since{};
  // 1,000 changes at 5 s, issued 1 ms apart: the last 999 ms late.
  EXPECT_EQ(PredictedLateness(Evenly(1000, 5s, Duration{}), 1000, &at, &since), 999ms);
  EXPECT_EQ(at, 5s);
  EXPECT_EQ(since, 5s);
}

TEST(PredictedLateness, SourcesAtTheSameInstantAreSummed) {
  // Two streams of 600/s over the same second, each below 1,000/s, together 1,200/s: 200
  // changes over what a second takes, the last about 200 ms late.
  std::vector<harness::PlannedChange> plan = Evenly(600, 0s, Duration(1'000'000'000 / 600));
  const std::vector<harness::PlannedChange> other = Evenly(600, 0s, Duration(1'000'000'000 / 600));
  plan.insert(plan.end(), other.begin(), other.end());
  std::stable_sort(plan.begin(), plan.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  Duration at{}, since{};
  const Duration late = PredictedLateness(plan, 1000, &at, &since);
  EXPECT_GT(late, 195ms);
  EXPECT_LT(late, 205ms);
}

// 4 nodes, a steady 100 changes/s, and 10,000 registrations on node 1 at `storm` a second from 1 s.
Status CheckStorm(const std::string& storm) {
  const scenario::LoadResult r = scenario::LoadScenarioString(
      "name: t\nduration: 10s\ncluster: {nodes: 4}\nnetwork: {lan: {delay: 1ms}}\ntransport: multicast\n"
      "workload:\n  aors: 40000\n  devices: 100\n  rate: 100/s\n  bursts:\n"
      "    - {at: 1s, registration_storm: {node: 1, rate: " + storm + "}}\n",
      "t.yaml");
  if (!r.ok()) return Status::InvalidArgument(r.errors.front().ToString());
  return CheckChangeRate(*r.scenario, "emu");
}

TEST(CheckChangeRate, TheRateComesFromTheClusterSize) {
  EXPECT_EQ(SustainedChangeRate(20), kSustainedDeliveriesPerSecond / 20);
  EXPECT_GT(SustainedChangeRate(3), SustainedChangeRate(20));
}

TEST(CheckChangeRate, ABurstOverTheRateIsRefusedAtItsLine) {
  // At 20,000/s the storm is half a second of plan and 2 s of the driver's (5,000/s on 4 nodes).
  const Status refused = CheckStorm("20000/s");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("t.yaml:11:7: workload.bursts: the emu backend"), std::string::npos)
      << refused.message();
  // At 1,000/s it is within the rate, the steady 100/s beside it.
  EXPECT_TRUE(CheckStorm("1000/s").ok()) << CheckStorm("1000/s").message();
}

}  // namespace
}  // namespace pbxstate::runner::netns_run
