// Running a scenario: the options every backend takes and what a run returns.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
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
  // Cancellation (Ctrl-C in the Python binding). When set, the runner calls it on its own thread
  // every kStopPollInterval of simulated time; once it returns true the simulation stops at that
  // instant, nothing is recorded or written, and the run returns FailedPrecondition with
  // RunOutcome::stopped set. It must not touch the simulation. When unset nothing is scheduled for
  // it, so the run is event for event what it was without this option.
  std::function<bool()> should_stop;
};

// How often RunOptions::should_stop is asked, in simulated time.
inline constexpr Duration kStopPollInterval = std::chrono::milliseconds(100);

struct RunOutcome {
  harness::RunResult result;
  std::vector<harness::CheckVerdict> verdicts;
  harness::RunInfo info;
  // Set when RunOptions::should_stop ended the run early; the rest of the outcome is then empty.
  bool stopped = false;
  // Set when the run completed and was recorded but did not measure the scenario (an emulated run
  // whose real-time lag exceeded its bound): why, in a sentence. The command exits 2.
  std::string invalid;
  bool all_checks_pass() const {
    for (const auto& v : verdicts) {
      if (v.failed()) return false;
    }
    return true;
  }
};

}  // namespace pbxstate::runner
