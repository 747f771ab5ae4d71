#include "pbxstate/corosync/addressed_frame.h"

#include <gtest/gtest.h>

#include <vector>

namespace pbxstate::corosync {
namespace {

std::vector<std::uint8_t> Message(const AddressedHeader& h, std::vector<std::uint8_t> payload) {
  std::vector<std::uint8_t> m;
  m.reserve(kAddressedHeaderBytes + payload.size());
  for (std::uint8_t b : EncodeAddressedHeader(h)) m.push_back(b);
  for (std::uint8_t b : payload) m.push_back(b);  // (vector::insert trips GCC 12's -Warray-bounds here)
  return m;
}

TEST(AddressedFrame, UnicastRoundTripKeepsDestinationAndPayload) {
  const auto m = Message({FrameKind::kUnicast, 0x01020304}, {'P', 'X', 9});
  ASSERT_EQ(m.size(), kAddressedHeaderBytes + 3);
  // Little-endian destination at offset 4.
  EXPECT_EQ(m[4], 0x04);
  EXPECT_EQ(m[7], 0x01);
  AddressedHeader h;
  std::span<const std::uint8_t> payload;
  ASSERT_EQ(DecodeAddressedHeader(m, &h, &payload), EnvelopeError::kNone);
  EXPECT_EQ(h.kind, FrameKind::kUnicast);
  EXPECT_EQ(h.destination, 0x01020304u);
  ASSERT_EQ(payload.size(), 3u);
  EXPECT_EQ(payload[0], 'P');
  EXPECT_EQ(payload[2], 9);
}

TEST(AddressedFrame, BroadcastHasNoDestinationAndMayBeEmpty) {
  const auto m = Message({FrameKind::kBroadcast, kNoNode}, {});
  AddressedHeader h{FrameKind::kUnicast, 7};
  std::span<const std::uint8_t> payload;
  ASSERT_EQ(DecodeAddressedHeader(m, &h, &payload), EnvelopeError::kNone);
  EXPECT_EQ(h.kind, FrameKind::kBroadcast);
  EXPECT_EQ(h.destination, kNoNode);
  EXPECT_TRUE(payload.empty());
}

TEST(AddressedFrame, RejectsEveryMalformedHeaderAndLeavesOutputsUntouched) {
  const auto good = Message({FrameKind::kUnicast, 2}, {1, 2, 3});
  struct Case {
    const char* what;
    std::vector<std::uint8_t> bytes;
    EnvelopeError want;
  };
  std::vector<Case> cases;
  cases.push_back({"empty", {}, EnvelopeError::kTruncated});
  cases.push_back({"7 bytes", std::vector<std::uint8_t>(good.begin(), good.begin() + 7), EnvelopeError::kTruncated});
  auto m = good;
  m[0] = 'X';
  cases.push_back({"magic", m, EnvelopeError::kBadMagic});
  m = good;
  m[2] = 2;
  cases.push_back({"version", m, EnvelopeError::kBadVersion});
  m = good;
  m[3] = 2;
  cases.push_back({"kind", m, EnvelopeError::kBadKind});
  m = good;
  m[4] = m[5] = m[6] = m[7] = 0;
  cases.push_back({"unicast to 0", m, EnvelopeError::kBadDestination});
  m = good;
  m[3] = 0;
  cases.push_back({"broadcast with destination", m, EnvelopeError::kBadDestination});
  for (const Case& c : cases) {
    AddressedHeader h{FrameKind::kUnicast, 99};
    std::span<const std::uint8_t> payload;
    EXPECT_EQ(DecodeAddressedHeader(c.bytes, &h, &payload), c.want) << c.what;
    EXPECT_EQ(h.destination, 99u) << c.what;
    EXPECT_TRUE(payload.empty()) << c.what;
  }
  EXPECT_EQ(EnvelopeErrorName(EnvelopeError::kBadDestination), "bad_destination");
}

}  // namespace
}  // namespace pbxstate::corosync
