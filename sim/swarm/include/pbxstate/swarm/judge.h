// Running one scenario for the swarm and saying whether, and how, it failed.
//
// A failure has classes: "run failed: <why>" when the run could not complete (an engine
// livelock, an error), and "check failed: <metric>" for every failing check, with the kind of
// each discrepancy the oracle found for lost and stale ("check failed: stale (stale mailbox)").
// The first class is the failure's primary class; the shrinker keeps a smaller scenario only
// while its run still shows that class.
#pragma once

#include <string>
#include <vector>

#include "pbxstate/runner/run.h"
#include "pbxstate/scenario/scenario.h"
#include "pbxstate/status.h"

namespace pbxstate::swarm {

enum class Backend { kInproc, kNs3 };
std::string_view BackendName(Backend backend);  // "inproc", "ns3"

struct Verdict {
  // Empty when the run completed and every check passed. Primary class first, no repeats.
  std::vector<std::string> classes;
  // One line per failing check (metric, observed, threshold) and per discrepancy (at most 20),
  // or the run's error, for people.
  std::vector<std::string> details;
  bool failed() const { return !classes.empty(); }
  const std::string& primary() const { return classes.front(); }
  bool Shows(const std::string& cls) const;
};

// The verdict of a finished run (`run` is what the runner returned).
Verdict Judge(const Status& run, const runner::RunOutcome& outcome);

// Runs `s` on `backend` (no output folder, no progress) and judges it.
Verdict RunAndJudge(const scenario::Scenario& s, Backend backend);

}  // namespace pbxstate::swarm
