// The envelope every pbxstate message carries inside a CPG message: who it is for.
//
// CPG has one primitive, multicast to the whole group in agreed order. The engine also unicasts
// (catch-up requests, sync pages, digests to one peer). Unicast is carried as an addressed frame on
// the group: every CPG message starts with this 8-byte header, and a receiver that is not the
// destination discards the message after reading these 8 bytes, before the engine decodes
// anything. Broadcasts carry the same header with destination 0, so every message has one shape.
//
//   offset  size  field
//   0       2     magic "PC" (0x50 0x43)
//   2       1     envelope version (kAddressedFrameVersion)
//   3       1     kind: 0 broadcast, 1 unicast
//   4       4     destination node id, little-endian; 0 for a broadcast, non-zero for a unicast
//   8       ...   the engine frame, byte for byte
//
// The sender's node id is not in the header: CPG tells every receiver who sent each message.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "pbxstate/types.h"

namespace pbxstate::corosync {

inline constexpr std::size_t kAddressedHeaderBytes = 8;
inline constexpr std::uint8_t kAddressedFrameVersion = 1;

enum class FrameKind : std::uint8_t { kBroadcast = 0, kUnicast = 1 };

struct AddressedHeader {
  FrameKind kind = FrameKind::kBroadcast;
  NodeId destination = kNoNode;  // kNoNode for broadcasts
};

enum class EnvelopeError : std::uint8_t {
  kNone = 0,
  kTruncated,    // shorter than the header
  kBadMagic,     // not "PC": not a pbxstate CPG message
  kBadVersion,   // an envelope version this build does not speak
  kBadKind,      // kind byte neither broadcast nor unicast
  kBadDestination,  // broadcast with a destination, or unicast to node 0
};
std::string_view EnvelopeErrorName(EnvelopeError error);

// Writes the header for `header`. Requires: a unicast names a non-zero destination, a broadcast
// names none (checked with PBXSTATE_CHECK: the transport builds headers only from validated calls).
std::array<std::uint8_t, kAddressedHeaderBytes> EncodeAddressedHeader(const AddressedHeader& header);

// Reads the header at the front of `message`. On success fills `header` and `payload` (the engine
// frame after the header, a view into `message`) and returns kNone; otherwise returns why and
// leaves both untouched.
EnvelopeError DecodeAddressedHeader(std::span<const std::uint8_t> message, AddressedHeader* header,
                                    std::span<const std::uint8_t>* payload);

}  // namespace pbxstate::corosync
