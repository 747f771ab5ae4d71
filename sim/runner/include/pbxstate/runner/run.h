// Running a scenario: the options every backend takes and what a run returns.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pbxstate/harness/recorder.h"
#include "pbxstate/harness/run_record.h"
#include "pbxstate/scenario/scenario.h"
#include "pbxstate/status.h"

namespace pbxstate::runner {

struct RunOptions {
  std::optional<std::uint64_t> seed;     // overrides the scenario's seed
  std::optional<std::filesystem::path> out;  // where the run record goes; nothing written when unset
  bool dump_state = false;               // also write state.jsonl
  bool progress = false;                 // print progress to stderr while running
  // Record every node's view over time (convergence after faults). Unset: on when the
  // scenario has faults.
  std::optional<bool> timelines;
};

struct RunOutcome {
  harness::RunResult result;
  std::vector<harness::CheckVerdict> verdicts;
  harness::RunInfo info;
  bool all_checks_pass() const {
    for (const auto& v : verdicts) {
      if (!v.pass) return false;
    }
    return true;
  }
};

}  // namespace pbxstate::runner
