// The swarm: seeds in a row, each a generated scenario run on a backend and judged; every
// failure written as a scenario file and shrunk to a smaller one beside it.
//
// For each seed: GenerateScenario, run and judged. A failing scenario is written
// (WriteScenario), loaded back and run again from what was loaded: the file must load back
// equal (else the failure's class is "generator: ...") and fail the same way (else "replay:
// ..."), so the file is exactly what ran. A failing seed leaves, in the output folder,
// <seed>.yaml (the scenario as generated) and <seed>.min.yaml (the smallest scenario found that
// still fails with the same primary class), both replayable with
// `pbxstate run --backend <backend> FILE`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pbxstate/swarm/generator.h"
#include "pbxstate/swarm/judge.h"
#include "pbxstate/swarm/shrink.h"

namespace pbxstate::swarm {

struct SwarmOptions {
  std::uint64_t first_seed = 1;
  std::uint64_t seeds = 100;               // seeds first_seed, first_seed + 1, ...
  double max_seconds = 0;                  // wall-time bound on running seeds; 0: none
  Backend backend = Backend::kInproc;
  std::optional<MembershipSource> membership;  // unset: drawn per seed
  std::filesystem::path out;               // where failures are written; empty: not written
  bool shrink = true;                      // with `out`: also write <seed>.min.yaml
  ShrinkOptions shrink_options;
  // Test hook: when set, judged instead of the run's verdict (the run still happens); lets tests
  // make a seed fail on purpose without a broken engine.
  std::function<Verdict(const scenario::Scenario&, const Verdict&)> judge_hook;
};

struct SeedFailure {
  std::uint64_t seed = 0;
  Verdict verdict;
  ScenarioSize size;
  std::optional<ScenarioSize> shrunk;  // when shrunk
  ShrinkStats shrink_stats;
  std::filesystem::path file, min_file;  // empty when not written
};

struct SwarmReport {
  std::uint64_t seeds_run = 0;
  std::vector<SeedFailure> failures;
  double seconds = 0;           // wall time running seeds (shrinking not counted)
  double shrink_seconds = 0;
  bool stopped_by_time = false;  // max_seconds ended it before every seed ran
  double seeds_per_second() const { return seconds > 0 ? static_cast<double>(seeds_run) / seconds : 0; }
};

// Called after every seed: how many ran, how many failed, the failure if this one failed.
using SwarmProgress = std::function<void(const SwarmReport& so_far, const SeedFailure* failure)>;

// Runs the seeds. Fails only when the output folder or a file in it cannot be written.
Status RunSwarm(const SwarmOptions& options, const SwarmProgress& progress, SwarmReport* report);

// The generator options the swarm uses for a backend (ns3: heartbeats, no frame duplication or
// reordering).
GeneratorOptions GeneratorOptionsFor(Backend backend, std::optional<MembershipSource> membership);

// The file text the swarm writes for a failing scenario: a comment saying what failed and how to
// replay it, then the scenario.
std::string FailureFileText(const scenario::Scenario& s, Backend backend, const Verdict& verdict,
                            const std::string& note);

}  // namespace pbxstate::swarm
