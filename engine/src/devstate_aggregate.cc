#include "devstate_aggregate.h"

#include <array>

#include "pbxstate/check.h"

namespace pbxstate {
namespace {
// Rank of each state, indexed by Asterisk's enum value: INVALID < UNKNOWN < UNAVAILABLE <
// NOT_INUSE < ONHOLD < RINGING < INUSE < BUSY < RINGINUSE.
constexpr std::array<int, kDeviceStateCount> kOrder = {
    1,  // UNKNOWN
    3,  // NOT_INUSE
    6,  // INUSE
    7,  // BUSY
    0,  // INVALID
    2,  // UNAVAILABLE
    5,  // RINGING
    8,  // RINGINUSE
    4,  // ONHOLD
};
int Rank(DeviceState s) { return kOrder[static_cast<std::size_t>(s)]; }
}  // namespace

void DeviceStateAggregate::Add(DeviceState state) {
  PBXSTATE_CHECK_LT(static_cast<int>(state), kDeviceStateCount);
  if (state == DeviceState::kRinging) {
    ringing_ = true;
  } else if (state == DeviceState::kInUse || state == DeviceState::kOnHold || state == DeviceState::kBusy) {
    inuse_ = true;
  }
  if (ringing_ && inuse_) {
    state_ = DeviceState::kRingInUse;
  } else if (Rank(state) > Rank(state_)) {
    state_ = state;
  }
}

}  // namespace pbxstate
