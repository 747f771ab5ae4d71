#include "pbxstate/corosync/posix_clock.h"

#include <time.h>

#include <cerrno>

#include "pbxstate/check.h"

namespace pbxstate::corosync {

namespace {
// clock_gettime fails only for an unknown clock or a bad pointer; neither can happen here, so a
// failure is a broken invariant (checked, errno shown), not an operating-system condition.
std::int64_t ReadNs(clockid_t clock) {
  timespec ts{};
  const int err = clock_gettime(clock, &ts) == 0 ? 0 : errno;
  PBXSTATE_CHECK_EQ(err, 0);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

MonoTime PosixMonoNow() { return MonoTime(Duration(ReadNs(CLOCK_MONOTONIC))); }
WallTime PosixWallNow() { return WallTime(Duration(ReadNs(CLOCK_REALTIME))); }
std::int64_t PosixMonoNs() { return ReadNs(CLOCK_MONOTONIC); }

}  // namespace pbxstate::corosync
