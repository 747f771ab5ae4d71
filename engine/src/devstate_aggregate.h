// Asterisk's device state aggregation, exactly as main/devicestate.c does it
// (ast_devstate_aggregate_init / _add / _result in Asterisk 13 and later).
#pragma once

#include "pbxstate/types.h"

namespace pbxstate {

class DeviceStateAggregate {
 public:
  void Add(DeviceState state);
  DeviceState Result() const { return state_; }

 private:
  bool ringing_ = false;
  bool inuse_ = false;
  DeviceState state_ = DeviceState::kInvalid;
};

}  // namespace pbxstate
