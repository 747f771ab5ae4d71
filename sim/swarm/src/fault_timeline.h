// The timeline rules a generated or shrunk fault list must keep (the loader's: a heal ends a cut
// in force, a node restarts only after it crashed and crashes only while up, a restore ends a
// degradation in force): one definition for the generator and the shrinker.
#pragma once

#include <functional>
#include <vector>

#include "pbxstate/scenario/scenario.h"

namespace pbxstate::swarm::detail {

// Keeps, in order, the faults of `faults` (sorted by time) that the rules allow; a partition is
// kept when `keep_partition` says so (it may narrow the partition in place).
std::vector<scenario::Fault> KeepTimeline(std::vector<scenario::Fault> faults,
                                          const std::function<bool(scenario::Partition&)>& keep_partition);

}  // namespace pbxstate::swarm::detail
