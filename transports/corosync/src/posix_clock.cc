#include "pbxstate/corosync/posix_clock.h"

#include <time.h>

#include <cassert>

namespace pbxstate::corosync {

namespace {
std::int64_t ReadNs(clockid_t clock) {
  timespec ts{};
  const int rc = clock_gettime(clock, &ts);
  assert(rc == 0);
  (void)rc;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

MonoTime PosixMonoNow() { return MonoTime(Duration(ReadNs(CLOCK_MONOTONIC))); }
WallTime PosixWallNow() { return WallTime(Duration(ReadNs(CLOCK_REALTIME))); }
std::int64_t PosixMonoNs() { return ReadNs(CLOCK_MONOTONIC); }

}  // namespace pbxstate::corosync
