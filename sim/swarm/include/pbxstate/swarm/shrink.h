// Shrinking a failing scenario: drop faults, changes, nodes, keys and time while the failure
// still reproduces, and keep the smallest scenario found.
//
// Every candidate is repaired into a scenario the loader accepts (a restart without its crash,
// a heal with nothing cut, a change on a node that is now down are left out) and tried as it is;
// the result is written and loaded back (Normalized), so what the shrinker returns is exactly
// what its file says. The passes repeat until none makes progress or a bound is reached:
//   faults, changes    drop halves, quarters, ... down to single entries (delta debugging)
//   nodes              drop one node at a time (its faults and changes go with it; nodes above
//                      it are renumbered; an emptied site goes with its links)
//   keys               reset one setting at a time to its default: engine settings, LAN and link
//                      parameters, generated load, churn, bursts, calls, auth, membership, sites
//   time               end the active phase at its last event (the quiet phase stays: with less
//                      time to agree, any run "fails" for want of it)
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "pbxstate/scenario/scenario.h"

namespace pbxstate::swarm {

struct ShrinkOptions {
  std::size_t max_runs = 2000;  // candidates tried, at most
  double max_seconds = 300;     // wall time, at most
};

struct ShrinkStats {
  std::size_t runs = 0;       // candidates tried
  std::size_t accepted = 0;   // candidates that still failed and were kept
  bool bounded = false;       // stopped by a bound rather than by reaching a fixpoint
};

// The size people read a scenario by: nodes, faults, explicit changes, end (duration + quiet; of a
// quiet phase written "detection + X", X).
struct ScenarioSize {
  std::uint32_t nodes = 0;
  std::size_t faults = 0, changes = 0;
  Duration end{};
  std::string ToString() const;  // "8 nodes, 14 faults, 212 changes, 61 s"
};
ScenarioSize SizeOf(const scenario::Scenario& s);

// A candidate scenario in the form the loader gives back, or nullopt when `s` (after repair)
// is not a valid scenario. Exposed for tests.
std::optional<scenario::Scenario> Normalized(const scenario::Scenario& s);

// Shrinks `failing`: `still_fails` runs a scenario and says whether it fails the same way as
// `failing` did (the caller's notion: same primary class). Returns the smallest scenario for
// which it said yes (`failing` itself when none did). Deterministic when `still_fails` is.
scenario::Scenario Shrink(const scenario::Scenario& failing,
                          const std::function<bool(const scenario::Scenario&)>& still_fails,
                          const ShrinkOptions& options = {}, ShrinkStats* stats = nullptr);

}  // namespace pbxstate::swarm
