#include "hlc.h"

#include <algorithm>

#include "pbxstate/check.h"

namespace pbxstate {

HlcTimestamp HybridClock::Tick(std::int64_t wall_ns) {
  HlcTimestamp next;
  if (wall_ns > last_.physical_ns) {
    next = {wall_ns, 0};
  } else {
    next = {last_.physical_ns, last_.logical + 1};
  }
  PBXSTATE_CHECK(next > last_);
  last_ = next;
  return next;
}

void HybridClock::Observe(const HlcTimestamp& remote, std::int64_t wall_ns) {
  const std::int64_t l = std::max({last_.physical_ns, remote.physical_ns, wall_ns});
  std::uint32_t c = 0;
  if (l == last_.physical_ns && l == remote.physical_ns) {
    c = std::max(last_.logical, remote.logical) + 1;
  } else if (l == last_.physical_ns) {
    c = last_.logical + 1;
  } else if (l == remote.physical_ns) {
    c = remote.logical + 1;
  }
  last_ = {l, c};
}

}  // namespace pbxstate
