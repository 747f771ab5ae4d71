// Randomized whole-cluster runs: one seed draws a cluster size, an engine configuration, link
// faults, a workload and a fault schedule; the run ends every fault, waits out a quiet period and
// checks every live node against the oracle.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pbxstate/config.h"

namespace pbxstate::testing {

struct ScenarioResult {
  std::vector<std::string> failures;  // empty: the run matched the oracle
  std::uint64_t trace_hash = 0;
  std::string summary;                // one line: size, faults, counts (printed with a failure)
  std::vector<std::string> timeline;  // every action taken, for PBXSTATE_VERBOSE replays
};

ScenarioResult RunRandomScenario(std::uint64_t seed, MembershipSource membership);

// Seeds to run: PBXSTATE_SEED=N gives just {N}; otherwise `count` seeds starting at
// PBXSTATE_SEED_BASE (default 1) + `offset`.
std::vector<std::uint64_t> SeedsToRun(std::uint64_t offset, std::uint64_t count);

// "PBXSTATE_SEED=N PBXSTATE_VERBOSE=1 <this test binary> --gtest_filter=<filter>"; an empty
// filter names the running test.
std::string ReplayCommand(std::uint64_t seed, const std::string& filter = "");

bool Verbose();

}  // namespace pbxstate::testing
