// A test's look inside a frame an engine sent: its header decoded with the size limits of a
// default EngineConfig, which the test networks' engines keep (they tune timers, not frame sizes).
#pragma once

#include <cstdint>
#include <span>

#include "codec.h"
#include "pbxstate/config.h"

namespace pbxstate {
namespace testing_frame_peek {

inline codec::DecodeLimits DefaultDecodeLimits() {
  const EngineConfig c;
  return {c.max_frame_bytes, c.max_key_bytes, c.max_contact_bytes};
}

// True, with `h` and `body` set, when `frame` has a valid header.
inline bool PeekHeader(std::span<const std::uint8_t> frame, codec::FrameHeader* h, std::span<const std::uint8_t>* body) {
  return !codec::DecodeHeader(frame, DefaultDecodeLimits(), h, body);
}

}  // namespace testing_frame_peek
}  // namespace pbxstate
