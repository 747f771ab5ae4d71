// Runs a scenario on the deterministic in-process cluster (transports/inproc): every node's
// engine in this process on one virtual clock, the scenario's network as per-pair links
// (sim/runner/src/inproc_network.h), its workload, faults and calls scheduled on that clock, and
// the same RunRecorder, oracle, metrics and run record as the ns-3 and netns backends. No
// simulator: a run of a few simulated minutes on a dozen nodes takes milliseconds, which is what
// the swarm (sim/swarm) needs. Deterministic: the same scenario, seed and build give the same
// run.json.
#pragma once

#include "pbxstate/runner/run.h"

namespace pbxstate::runner {

// Refuses, before anything runs, a scenario asking for what the inproc backend cannot do; the
// message names the file, line and field.
Status CheckInprocSupport(const scenario::Scenario& s);

// Runs `s`; fails (nothing run) when the scenario is not supported or the cluster cannot be
// built, and after the run when an engine livelocked (more events at one instant than the
// cluster allows) or the record cannot be written.
Status RunInproc(const scenario::Scenario& s, const RunOptions& options, RunOutcome* outcome);

}  // namespace pbxstate::runner
