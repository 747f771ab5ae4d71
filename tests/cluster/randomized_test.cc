// Randomized whole-cluster runs against the oracle, in both membership modes.
//
// 400 seeds per mode, split into shards so ctest can run them in parallel. PBXSTATE_SEED=N runs
// seed N alone (in every shard); PBXSTATE_SEED_BASE shifts the seed range for exploration.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <tuple>

#include "scenario.h"
#include "util.h"

namespace pbxstate::testing {
namespace {

constexpr std::uint64_t kSeedsPerShard = 100;
constexpr std::uint64_t kShards = 4;  // 400 seeds per membership mode

class RandomizedCluster : public ::testing::TestWithParam<std::tuple<MembershipSource, std::uint64_t>> {};

TEST_P(RandomizedCluster, MatchesOracleAfterFaultsEnd) {
  auto [membership, shard] = GetParam();
  auto seeds = SeedsToRun(shard * kSeedsPerShard, kSeedsPerShard);
  if (seeds.size() == 1 && shard != 0) GTEST_SKIP() << "PBXSTATE_SEED replays in shard 0";
  std::size_t failed = 0;
  for (std::uint64_t seed : seeds) {
    ScenarioResult r = RunRandomScenario(seed, membership);
    if (Verbose()) {
      std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed), r.summary.c_str());
      for (const auto& line : r.timeline) std::printf("  %s\n", line.c_str());
    }
    if (r.failures.empty()) continue;
    ++failed;
    std::string msg = "seed " + std::to_string(seed) + " (" + r.summary + ")\n";
    for (const auto& f : r.failures) msg += "  " + f + "\n";
    // A replayed seed runs in shard 0 only (the other shards skip it).
    msg += "replay: " + ReplayCommand(seed, "Modes/RandomizedCluster.MatchesOracleAfterFaultsEnd/" + ModeName(membership) +
                                                "_shard0");
    ADD_FAILURE() << msg;
  }
  std::printf("%zu of %zu seeds failed\n", failed, seeds.size());
}

INSTANTIATE_TEST_SUITE_P(
    Modes, RandomizedCluster,
    ::testing::Combine(::testing::Values(MembershipSource::kHeartbeat, MembershipSource::kTransport),
                       ::testing::Range<std::uint64_t>(0, kShards)),
    [](const ::testing::TestParamInfo<RandomizedCluster::ParamType>& p) {
      return ModeName(std::get<0>(p.param)) + "_shard" + std::to_string(std::get<1>(p.param));
    });

}  // namespace
}  // namespace pbxstate::testing
