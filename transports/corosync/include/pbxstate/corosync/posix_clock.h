// The host clocks a real pbxstate node runs on: CLOCK_MONOTONIC for the engine's Now() and every
// timer, CLOCK_REALTIME for its WallNow(). One place, so the daemon's `t_mono_ns` and the engine's
// Now() are the same clock (and comparable across processes of one host).
#pragma once

#include <cstdint>

#include "pbxstate/types.h"

namespace pbxstate::corosync {

MonoTime PosixMonoNow();
WallTime PosixWallNow();
// CLOCK_MONOTONIC in nanoseconds (the control protocol's t_mono_ns).
std::int64_t PosixMonoNs();

}  // namespace pbxstate::corosync
