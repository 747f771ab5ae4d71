// Private to the shrinker: the edits it tries (shrink_edits.cc) and the repair that keeps an
// edited scenario within the loader's rules.
#pragma once

#include <optional>
#include <vector>

#include "pbxstate/scenario/scenario.h"

namespace pbxstate::swarm::detail {

// Leaves out what no longer makes sense after an edit: in the fault timeline a heal with nothing
// cut, a restore of a target not degraded, a crash of a crashed node, a restart of a running
// one, a partition left with fewer than two sides (a one-way one: not exactly two); changes and
// registration storms on a node that is down then; bursts and churn without the keys they need.
// It also keeps the scenario inside what the generator draws, where the oracle's answer is
// definite (generator.h): every degradation restored, no one-way partition in force at the end.
// Without that, a shrink can wander from a real failure to a false one at the oracle's edges.
void Repair(scenario::Scenario* s);

// `s` without node `k`: its faults and changes go, nodes above it move down by one, an emptied
// site goes with its links. nullopt when `k` is the only node.
std::optional<scenario::Scenario> WithoutNode(const scenario::Scenario& s, NodeId k);

// Copies of `s` each with one more setting back at its default (only settings away from it):
// engine settings, LAN and link parameters, sites merged into one LAN, generated load, churn,
// bursts, calls, auth, membership, transport.
std::vector<scenario::Scenario> Simplifications(const scenario::Scenario& s);

// Copies of `s` with less time: the active phase ending at its last event (the quiet phase, the
// time the cluster is given to agree, stays as it is).
std::vector<scenario::Scenario> ShorterTimes(const scenario::Scenario& s);

}  // namespace pbxstate::swarm::detail
