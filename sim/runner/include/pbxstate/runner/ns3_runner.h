// Runs a scenario in ns-3: the scenario's topology becomes an Ns3World, its workload and faults
// are scheduled on ns-3's clock, a RunRecorder watches every engine, and the run record is
// written where asked. Deterministic: the same scenario, seed and build give the same run.json.
#pragma once

#include "pbxstate/runner/run.h"

namespace pbxstate::runner {

// Refuses, before anything runs, a scenario asking for what the ns-3 backend cannot do; the
// message names the file, line and field.
Status CheckNs3Support(const scenario::Scenario& s);

// Runs `s`; fails (nothing run) when the scenario is not supported or the world cannot be
// built, or (after the run) when the record cannot be written.
Status RunNs3(const scenario::Scenario& s, const RunOptions& options, RunOutcome* outcome);

}  // namespace pbxstate::runner
