// The model's packets: what is encoded decodes to the same, and nothing malformed is read.
#include <gtest/gtest.h>

#include "pbxstate/totem/wire.h"

namespace pbxstate::totem {
namespace {

Packet RoundTrip(const Packet& p) {
  std::vector<std::uint8_t> bytes;
  EXPECT_TRUE(Encode(p, &bytes));
  Packet out;
  EXPECT_TRUE(Decode(bytes, &out));
  return out;
}

TEST(TotemWire, EveryPacketTypeRoundTrips) {
  Packet t;
  t.from = 3;
  t.body = Token{RingId{1, 8}, 42, 100, 97, 2, 5, 7, true, {98, 99}};
  const Packet tok_packet = RoundTrip(t);
  const Token& tok = std::get<Token>(tok_packet.body);
  EXPECT_EQ(tok.ring, (RingId{1, 8}));
  EXPECT_EQ(tok.token_seq, 42);
  EXPECT_EQ(tok.seq, 100u);
  EXPECT_EQ(tok.aru, 97u);
  EXPECT_EQ(tok.aru_addr, 2u);
  EXPECT_EQ(tok.fcc, 5u);
  EXPECT_EQ(tok.backlog, 7u);
  EXPECT_TRUE(tok.retrans_flg);
  EXPECT_EQ(tok.rtr, (std::vector<std::uint64_t>{98, 99}));

  Packet m;
  m.from = 2;
  Mcast mc;
  mc.ring = RingId{1, 8};
  mc.seq = 9;
  mc.origin = 4;
  mc.encapsulated = true;
  mc.old_ring = RingId{2, 4};
  mc.old_seq = 77;
  mc.payload = std::vector<std::uint8_t>(kMaxMcastPayload, 0xAB);
  m.body = mc;
  const Packet mo_packet = RoundTrip(m);
  const Mcast& mo = std::get<Mcast>(mo_packet.body);
  EXPECT_EQ(mo.payload.size(), kMaxMcastPayload);
  EXPECT_EQ(mo.old_seq, 77u);
  EXPECT_EQ(mo.old_ring, (RingId{2, 4}));
  EXPECT_TRUE(mo.encapsulated);

  Packet j;
  j.from = 1;
  j.body = Join{12, {1, 2, 3}, {3}};
  const Packet jo_packet = RoundTrip(j);
  const Join& jo = std::get<Join>(jo_packet.body);
  EXPECT_EQ(jo.ring_seq, 12u);
  EXPECT_EQ(jo.proc, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(jo.failed, (std::vector<NodeId>{3}));

  Packet c;
  c.from = 1;
  std::vector<NodeId> members;
  for (NodeId n = 1; n <= kMaxRingMembers; ++n) members.push_back(n);
  c.body = Commit{RingId{1, 16}, 3, 1, members, std::vector<CommitEntry>(kMaxRingMembers, CommitEntry{RingId{1, 12}, 5, 4, true})};
  const Packet co_packet = RoundTrip(c);
  const Commit& co = std::get<Commit>(co_packet.body);
  EXPECT_EQ(co.members.size(), kMaxRingMembers);
  EXPECT_EQ(co.entries.back().aru, 5u);

  Packet pong;
  pong.from = 2;
  pong.pong = true;
  pong.body = Ping{5, 123456789};
  const Packet po = RoundTrip(pong);
  EXPECT_TRUE(po.pong);
  EXPECT_EQ(std::get<Ping>(po.body).sent_ns, 123456789);
}

TEST(TotemWire, OversizedPacketsAreNotEncoded) {
  Packet m;
  m.from = 1;
  Mcast mc;
  mc.origin = 1;
  mc.payload.assign(kMaxMcastPayload + 1, 0);
  m.body = mc;
  std::vector<std::uint8_t> bytes;
  EXPECT_FALSE(Encode(m, &bytes));
  Packet t;
  t.from = 1;
  Token tok;
  tok.rtr.assign(kRetransmitEntriesMax + 1, 1);
  t.body = tok;
  EXPECT_FALSE(Encode(t, &bytes));
}

TEST(TotemWire, MalformedDatagramsAreRefused) {
  Packet j;
  j.from = 1;
  j.body = Join{12, {1, 2, 3}, {}};
  std::vector<std::uint8_t> bytes;
  ASSERT_TRUE(Encode(j, &bytes));
  Packet out;
  // Every truncation is refused.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(Decode(std::span(bytes.data(), n), &out)) << n;
  }
  // Trailing bytes, a bad magic, a bad version, an unknown type, sender 0, a count beyond the bound.
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(Decode(longer, &out));
  for (std::size_t at : {0u, 2u, 3u, 4u}) {
    auto bad = bytes;
    bad[at] = at == 4 ? 0 : 0xEE;
    if (at == 4) bad[5] = bad[6] = bad[7] = 0;
    EXPECT_FALSE(Decode(bad, &out)) << at;
  }
  auto many = bytes;
  many[8 + 8] = 0xFF;  // proc count
  EXPECT_FALSE(Decode(many, &out));
}

}  // namespace
}  // namespace pbxstate::totem
