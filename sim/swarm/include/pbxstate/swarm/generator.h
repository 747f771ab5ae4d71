// The swarm's scenario generator: one seed draws one random scenario (scenario::Scenario, the
// same value a scenario file loads into), so a failing seed is a file anyone can replay with
// `pbxstate run --backend inproc FILE`, and a file can be shrunk by editing the value.
//
// A seed draws: a cluster of 2-12 nodes on one LAN or on 2-4 WAN sites (links with delay,
// jitter, loss); LAN and link loss, duplication and reordering; heartbeat or transport
// membership (consistent or per-node views, view delays); engine settings (batching, catch-up
// windows, small frames, anti-entropy, departure grace, detector timing); cluster keys on about a
// third of the seeds; partitions of two or three sides, one-way partitions, isolations, flapping
// partitions, crashes and restarts alone and in overlapping storms, link and LAN degradations;
// explicit changes on a few shared keys (device states from every node, same-instant bursts,
// registrations with short and long expiries, unreachable contacts, removals, MWI writes to the
// same mailbox from several nodes), and on some seeds generated load and registration churn.
//
// What it draws stays where the oracle (sim/harness) gives a definite answer today; each limit
// and the edge it keeps away from is listed in sim/swarm/README.md, "What the generator avoids".
#pragma once

#include <cstdint>
#include <optional>

#include "pbxstate/config.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate::swarm {

// Bounds of every generated scenario (the unit tests hold the generator to them).
inline constexpr std::uint32_t kMaxGeneratedNodes = 12;
inline constexpr std::size_t kMaxGeneratedChanges = 4000;
inline constexpr std::size_t kMaxGeneratedFaults = 200;
inline constexpr Duration kMaxGeneratedEnd = std::chrono::seconds(85);

struct GeneratorOptions {
  // The membership every generated scenario uses; unset: drawn from the seed, about half each.
  std::optional<MembershipSource> membership;
  // Frame duplication and reordering (LAN, link, degrade keys); off for a backend that refuses
  // them (ns-3, netns).
  bool frame_faults = true;
};

// The scenario of `seed`: a pure function of (seed, options), the same on every platform (all
// draws are SplitMix64's). Its name is "swarm-<seed>", its seed is `seed`, and its checks are
// lost == 0, stale == 0, disagreeing_nodes == 0, frames_refused_auth == 0 and
// changes_refused == 0. Valid: WriteScenario's text of it loads back equal (SameScenario).
scenario::Scenario GenerateScenario(std::uint64_t seed, const GeneratorOptions& options = {});

}  // namespace pbxstate::swarm
