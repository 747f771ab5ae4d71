// The sites layout the relay and speaker tests share: nine nodes on the minimal network, sites of
// three (1-3 in site 0, 4-6 in site 1, 7-9 in site 2), one relay a site, and timers short enough
// that a departure and a repair round fit in a few simulated seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

#include "codec.h"
#include "pbxstate/engine.h"

namespace pbxstate {
namespace testing_three_sites {

using namespace std::chrono_literals;

inline std::uint32_t SiteOf(NodeId n) { return (n - 1) / 3; }

inline void ThreeSites(EngineConfig& c) {
  for (NodeId n = 1; n <= 9; ++n) c.node_sites[n] = SiteOf(n);
  c.relays_per_site = 1;
  c.heartbeat_interval = 500ms;
  c.suspect_after = 2000ms;
  c.anti_entropy_interval = 1000ms;
}

// A frame's type, read from its header as the codec lays it out.
inline codec::FrameType TypeOf(std::span<const std::uint8_t> frame) {
  return static_cast<codec::FrameType>(frame[3]);
}

}  // namespace testing_three_sites
}  // namespace pbxstate
