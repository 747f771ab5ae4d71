#include "pbxstate/corosync/addressed_frame.h"

#include "pbxstate/check.h"

namespace pbxstate::corosync {

namespace {
constexpr std::uint8_t kMagic0 = 0x50;  // 'P'
constexpr std::uint8_t kMagic1 = 0x43;  // 'C'
}  // namespace

std::string_view EnvelopeErrorName(EnvelopeError error) {
  switch (error) {
    case EnvelopeError::kNone: return "none";
    case EnvelopeError::kTruncated: return "truncated";
    case EnvelopeError::kBadMagic: return "bad_magic";
    case EnvelopeError::kBadVersion: return "bad_version";
    case EnvelopeError::kBadKind: return "bad_kind";
    case EnvelopeError::kBadDestination: return "bad_destination";
  }
  return "?";
}

std::array<std::uint8_t, kAddressedHeaderBytes> EncodeAddressedHeader(const AddressedHeader& header) {
  PBXSTATE_CHECK_EQ(header.kind == FrameKind::kBroadcast, header.destination == kNoNode);
  const NodeId d = header.destination;
  return {kMagic0,
          kMagic1,
          kAddressedFrameVersion,
          static_cast<std::uint8_t>(header.kind),
          static_cast<std::uint8_t>(d & 0xFFu),
          static_cast<std::uint8_t>((d >> 8) & 0xFFu),
          static_cast<std::uint8_t>((d >> 16) & 0xFFu),
          static_cast<std::uint8_t>((d >> 24) & 0xFFu)};
}

EnvelopeError DecodeAddressedHeader(std::span<const std::uint8_t> message, AddressedHeader* header,
                                    std::span<const std::uint8_t>* payload) {
  if (message.size() < kAddressedHeaderBytes) return EnvelopeError::kTruncated;
  if (message[0] != kMagic0 || message[1] != kMagic1) return EnvelopeError::kBadMagic;
  if (message[2] != kAddressedFrameVersion) return EnvelopeError::kBadVersion;
  if (message[3] > static_cast<std::uint8_t>(FrameKind::kUnicast)) return EnvelopeError::kBadKind;
  const auto kind = static_cast<FrameKind>(message[3]);
  const NodeId destination = static_cast<NodeId>(message[4]) | (static_cast<NodeId>(message[5]) << 8) |
                             (static_cast<NodeId>(message[6]) << 16) | (static_cast<NodeId>(message[7]) << 24);
  if ((kind == FrameKind::kBroadcast) != (destination == kNoNode)) return EnvelopeError::kBadDestination;
  header->kind = kind;
  header->destination = destination;
  *payload = message.subspan(kAddressedHeaderBytes);
  return EnvelopeError::kNone;
}

}  // namespace pbxstate::corosync
