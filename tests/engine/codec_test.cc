// Round trips of every frame type and every class of malformed frame.
#include "codec.h"

#include <gtest/gtest.h>

#include "pbxstate/engine.h"

namespace pbxstate::codec {
namespace {

const DecodeLimits kLimits{1400, 255, 512};

std::vector<std::uint8_t> UpdatesFrame(const std::vector<Record>& recs, std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint8_t> f;
  BeginFrame(&f, FrameType::kUpdates, 7, 3);
  Writer w(&f);
  EncodeUpdatesPrefix(w, from, to, static_cast<std::uint32_t>(recs.size()));
  for (const Record& r : recs) EncodeRecord(w, r);
  EndFrame(&f);
  return f;
}

Record Device(std::string_view key, std::uint64_t seq, DeviceState s) {
  Record r;
  r.kind = static_cast<std::uint8_t>(EntryKind::kDevice);
  r.key = key;
  r.seq = seq;
  r.state = s;
  return r;
}

std::optional<DropReason> DecodeAll(std::span<const std::uint8_t> f) {
  FrameHeader h{};
  std::span<const std::uint8_t> body;
  if (auto e = DecodeHeader(f, kLimits, &h, &body)) return e;
  Updates u;
  return DecodeUpdates(body, kLimits, &u);
}

TEST(Codec, UpdatesRoundTrip) {
  Record reg;
  reg.kind = static_cast<std::uint8_t>(EntryKind::kRegistration);
  reg.key = "alice";
  reg.seq = 9;
  reg.expires_ns = 1'700'000'000'000'000'000;
  reg.horizon_ns = reg.expires_ns + 5;
  reg.status = ContactStatus::kUnreachable;
  reg.rtt_us = 1234;
  reg.contact = "sip:alice@198.18.0.2:5060";
  reg.path = "<sip:edge1.example.net;lr>";
  reg.user_agent = "Yealink SIP-T46U";
  Record mbx;
  mbx.kind = static_cast<std::uint8_t>(EntryKind::kMailbox);
  mbx.key = "1000@default";
  mbx.counts = {3, 4, 1};
  mbx.hlc = {1'700'000'000'123'456'789, 17};
  mbx.writer = 2;
  const auto f = UpdatesFrame({Device("PJSIP/alice", 8, DeviceState::kRingInUse), reg, mbx}, 7, 9);
  FrameHeader h{};
  std::span<const std::uint8_t> body;
  ASSERT_FALSE(DecodeHeader(f, kLimits, &h, &body));
  EXPECT_EQ(h.type, FrameType::kUpdates);
  EXPECT_EQ(h.sender, 7u);
  EXPECT_EQ(h.incarnation, 3u);
  Updates u;
  ASSERT_FALSE(DecodeUpdates(body, kLimits, &u));
  EXPECT_EQ(u.from_seq, 7u);
  EXPECT_EQ(u.to_seq, 9u);
  ASSERT_EQ(u.records.size(), 3u);
  EXPECT_EQ(u.records[0].key, "PJSIP/alice");
  EXPECT_EQ(u.records[0].state, DeviceState::kRingInUse);
  EXPECT_EQ(u.records[1].contact, reg.contact);
  EXPECT_EQ(u.records[1].expires_ns, reg.expires_ns);
  EXPECT_EQ(u.records[1].horizon_ns, reg.horizon_ns);
  EXPECT_EQ(u.records[1].status, ContactStatus::kUnreachable);
  EXPECT_EQ(u.records[1].rtt_us, 1234u);
  EXPECT_EQ(u.records[1].path, reg.path);
  EXPECT_EQ(u.records[1].user_agent, reg.user_agent);
  EXPECT_EQ(u.records[2].counts, (MailboxCounts{3, 4, 1}));
  EXPECT_EQ(u.records[2].hlc, mbx.hlc);
  EXPECT_EQ(u.records[2].writer, 2u);
  for (const Record& r : {u.records[0], u.records[1], u.records[2]}) {
    EXPECT_LE(EncodedRecordBytes(r), MaxRecordBytes(r.key.size(), r.contact.size() + r.path.size() + r.user_agent.size()));
  }
}

// A registration record names its contact, removed too; contact, path and user agent share
// max_contact_bytes; a removal carries no path or user agent.
TEST(Codec, DeviceRemovalRoundTripsAndOtherStateBytesAreMalformed) {
  Record removed = Device("PJSIP/gone", 12, DeviceState::kUnknown);
  removed.removed = true;
  const auto f = UpdatesFrame({removed, Device("PJSIP/here", 13, DeviceState::kBusy)}, 11, 13);
  FrameHeader h{};
  std::span<const std::uint8_t> body;
  ASSERT_FALSE(DecodeHeader(f, kLimits, &h, &body));
  Updates u;
  ASSERT_FALSE(DecodeUpdates(body, kLimits, &u));
  ASSERT_EQ(u.records.size(), 2u);
  EXPECT_TRUE(u.records[0].removed);
  EXPECT_EQ(u.records[0].key, "PJSIP/gone");
  EXPECT_EQ(u.records[0].seq, 12u);
  EXPECT_EQ(u.records[0].state, DeviceState::kUnknown);
  EXPECT_FALSE(u.records[1].removed);
  EXPECT_EQ(u.records[1].state, DeviceState::kBusy);
  EXPECT_EQ(EncodedRecordBytes(removed), EncodedRecordBytes(Device("PJSIP/gone", 12, DeviceState::kBusy)));
  // The state byte is its last; the removal marker with any other bit, or a state past the
  // last, is malformed.
  for (std::uint8_t bad : {std::uint8_t{0x81}, std::uint8_t{0xC0}, static_cast<std::uint8_t>(kDeviceStateCount)}) {
    auto g = UpdatesFrame({Device("PJSIP/x", 1, DeviceState::kBusy)}, 0, 1);
    g[g.size() - 1] = bad;
    EXPECT_EQ(DecodeAll(g), DropReason::kMalformed) << int{bad};
  }
}

// A mailbox removal is a mailbox record whose new-messages count is one past the largest count
// (old and urgent 0): a write with a timestamp and a writer like any other, no counts.
TEST(Codec, MailboxRemovalRoundTripsAndCountsWithItAreMalformed) {
  Record removal;
  removal.kind = static_cast<std::uint8_t>(EntryKind::kMailbox);
  removal.key = "1000@default";
  removal.removed = true;
  removal.hlc = {1'700'000'000'123'456'789, 3};
  removal.writer = 2;
  Record live = removal;
  live.removed = false;
  live.counts = {0xFFFFFFFFu, 0, 0};  // the largest count is still a count
  const auto f = UpdatesFrame({removal, live}, 0, 0);
  FrameHeader h{};
  std::span<const std::uint8_t> body;
  ASSERT_FALSE(DecodeHeader(f, kLimits, &h, &body));
  Updates u;
  ASSERT_FALSE(DecodeUpdates(body, kLimits, &u));
  ASSERT_EQ(u.records.size(), 2u);
  EXPECT_TRUE(u.records[0].removed);
  EXPECT_EQ(u.records[0].key, "1000@default");
  EXPECT_EQ(u.records[0].counts, (MailboxCounts{}));
  EXPECT_EQ(u.records[0].hlc, removal.hlc);
  EXPECT_EQ(u.records[0].writer, 2u);
  EXPECT_FALSE(u.records[1].removed);
  EXPECT_EQ(u.records[1].counts.new_messages, 0xFFFFFFFFu);
  EXPECT_LE(EncodedRecordBytes(removal), MaxRecordBytes(removal.key.size(), 0));
  // Hand-made records: the marker with an old or urgent count, or a count past the marker.
  auto frame = [](std::uint64_t new_messages, std::uint64_t old_messages, std::uint64_t urgent) {
    std::vector<std::uint8_t> g;
    BeginFrame(&g, FrameType::kUpdates, 7, 3);
    Writer w(&g);
    EncodeUpdatesPrefix(w, 0, 0, 1);
    w.U8(static_cast<std::uint8_t>(EntryKind::kMailbox));
    w.Bytes("1000@default");
    for (std::uint64_t v : {new_messages, old_messages, urgent, std::uint64_t{1'700'000'000'000'000'000}, std::uint64_t{0},
                            std::uint64_t{2}}) {
      w.Varint(v);
    }
    EndFrame(&g);
    return g;
  };
  constexpr std::uint64_t kMarker = std::uint64_t{1} << 32;
  EXPECT_FALSE(DecodeAll(frame(kMarker, 0, 0)));
  EXPECT_EQ(DecodeAll(frame(kMarker, 1, 0)), DropReason::kMalformed);
  EXPECT_EQ(DecodeAll(frame(kMarker, 0, 1)), DropReason::kMalformed);
  EXPECT_EQ(DecodeAll(frame(kMarker + 1, 0, 0)), DropReason::kMalformed);
}

TEST(Codec, RegistrationRecordRules) {
  Record reg;
  reg.kind = static_cast<std::uint8_t>(EntryKind::kRegistration);
  reg.key = "alice";
  reg.seq = 3;
  reg.expires_ns = 10;
  reg.horizon_ns = 10;
  reg.contact = "sip:alice@198.18.0.2";
  reg.removed = true;
  Updates u;
  // The decoded records view the frame's bytes: the frame outlives each decode.
  std::vector<std::uint8_t> f;
  auto decode = [&](const Record& r) {
    f = UpdatesFrame({r}, 0, 3);
    FrameHeader h{};
    std::span<const std::uint8_t> body;
    EXPECT_FALSE(DecodeHeader(f, kLimits, &h, &body));
    return DecodeUpdates(body, kLimits, &u);
  };
  ASSERT_FALSE(decode(reg));  // a removal of a named contact
  EXPECT_EQ(u.records[0].contact, reg.contact);
  Record no_contact = reg;
  no_contact.contact = "";
  EXPECT_EQ(decode(no_contact), DropReason::kMalformed);
  Record removed_with_path = reg;
  removed_with_path.path = "<sip:edge;lr>";
  EXPECT_EQ(decode(removed_with_path), DropReason::kMalformed);
  Record too_long = reg;
  too_long.removed = false;
  const std::string half(kLimits.max_contact_bytes / 2 + 1, 'x');
  too_long.path = half;
  too_long.user_agent = half;
  EXPECT_EQ(decode(too_long), DropReason::kMalformed);
  too_long.user_agent = "";
  EXPECT_FALSE(decode(too_long));
}

TEST(Codec, ControlFramesRoundTrip) {
  std::vector<std::uint8_t> f;
  Writer w(&f);
  Digest d;
  d.mode = DigestMode::kReply;
  d.mailbox_hash = 0xabcdef;
  d.lo = 1;
  d.hi = 100;
  d.entries = {{2, 5, 77, 0x1234}, {9, 1, 0, 0}};
  EncodeDigest(w, d);
  Digest d2;
  ASSERT_FALSE(DecodeDigest(f, &d2));
  EXPECT_EQ(d2.mode, DigestMode::kReply);
  EXPECT_EQ(d2.mailbox_hash, 0xabcdefu);
  ASSERT_EQ(d2.entries.size(), 2u);
  EXPECT_EQ(d2.entries[0].watermark, 77u);
  EXPECT_EQ(d2.entries[1].origin, 9u);

  f.clear();
  EncodeSyncRequest(w, {42, 3, 8, 1000});
  SyncRequest rq{};
  ASSERT_FALSE(DecodeSyncRequest(f, &rq));
  EXPECT_EQ(rq.session, 42u);
  EXPECT_EQ(rq.since, 1000u);

  f.clear();
  EncodeSyncAck(w, {42, 17});
  SyncAck ack{};
  ASSERT_FALSE(DecodeSyncAck(f, &ack));
  EXPECT_EQ(ack.next_page, 17u);

  f.clear();
  EncodeHeartbeat(w, {99, "00:11:22:33:44:55", {}});
  Heartbeat hb;
  ASSERT_FALSE(DecodeHeartbeat(f, &hb));
  EXPECT_EQ(hb.summary, 99u);
  EXPECT_EQ(hb.label, "00:11:22:33:44:55");
  EXPECT_TRUE(hb.site_mates.empty());
}

// A speaker's heartbeat: the site-mates it heard, after the label; a count its body cannot hold,
// or a zero count, is malformed.
TEST(Codec, HeartbeatWithSiteMates) {
  std::vector<std::uint8_t> f;
  Writer w(&f);
  EncodeHeartbeat(w, {7, "a", {{2, 0}, {3, 1999}, {70000, 250}}});
  Heartbeat hb;
  ASSERT_FALSE(DecodeHeartbeat(f, &hb));
  ASSERT_EQ(hb.site_mates.size(), 3u);
  EXPECT_EQ(hb.site_mates[1].node, 3u);
  EXPECT_EQ(hb.site_mates[1].age_ms, 1999u);
  EXPECT_EQ(hb.site_mates[2].node, 70000u);
  EXPECT_EQ(hb.site_mates[2].age_ms, 250u);
  for (std::size_t n = 0; n < f.size(); ++n) {
    // Cut after the label, a heartbeat is one without site-mates; anywhere else, it is refused.
    const std::vector<std::uint8_t> cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
    const bool ok = !DecodeHeartbeat(cut, &hb).has_value();
    EXPECT_EQ(ok, n == 8 + 1 + 1) << "cut at " << n;
  }
  std::vector<std::uint8_t> g;
  Writer wg(&g);
  EncodeHeartbeat(wg, {7, "a", {}});
  wg.Varint(0);
  EXPECT_EQ(DecodeHeartbeat(g, &hb), DropReason::kMalformed);
  g.back() = 100;  // a hundred pairs announced, none there
  EXPECT_EQ(DecodeHeartbeat(g, &hb), DropReason::kMalformed);
}

TEST(Codec, TruncatedAtEveryLengthIsRefused) {
  const auto f = UpdatesFrame({Device("Custom:mystate", 1, DeviceState::kInUse)}, 0, 1);
  for (std::size_t n = 0; n < f.size(); ++n) {
    std::vector<std::uint8_t> cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_TRUE(DecodeAll(cut).has_value()) << "prefix of " << n << " bytes was accepted";
  }
  EXPECT_FALSE(DecodeAll(f).has_value());
}

TEST(Codec, EachMalformedClassHasItsReason) {
  const auto good = UpdatesFrame({Device("Custom:mystate", 1, DeviceState::kInUse)}, 0, 1);
  auto bad = good;
  bad[0] = 'Q';
  EXPECT_EQ(DecodeAll(bad), DropReason::kBadMagic);
  bad = good;
  bad[2] = 9;
  EXPECT_EQ(DecodeAll(bad), DropReason::kBadVersion);
  bad = good;
  bad[3] = 77;
  EXPECT_EQ(DecodeAll(bad), DropReason::kUnknownType);
  bad = good;
  bad.push_back(0);  // body longer than the header says
  EXPECT_EQ(DecodeAll(bad), DropReason::kMalformed);
  bad = good;
  bad[16] = static_cast<std::uint8_t>(bad[16] + 5);  // header claims more body than there is
  EXPECT_EQ(DecodeAll(bad), DropReason::kTruncated);
  bad = std::vector<std::uint8_t>(1401, 0);
  EXPECT_EQ(DecodeAll(bad), DropReason::kOversize);
  bad = good;
  bad.back() = 9;  // device state 9 does not exist
  EXPECT_EQ(DecodeAll(bad), DropReason::kMalformed);
  // A record outside the frame's declared range.
  EXPECT_EQ(DecodeAll(UpdatesFrame({Device("d", 5, DeviceState::kInUse)}, 0, 4)), DropReason::kMalformed);
  // An empty key.
  EXPECT_EQ(DecodeAll(UpdatesFrame({Device("", 1, DeviceState::kInUse)}, 0, 1)), DropReason::kMalformed);
  // A key longer than the receiver's bound.
  const std::string long_key(300, 'k');
  EXPECT_EQ(DecodeAll(UpdatesFrame({Device(long_key, 1, DeviceState::kInUse)}, 0, 1)), DropReason::kOversize);
  // Sender id 0.
  bad = good;
  bad[4] = bad[5] = bad[6] = bad[7] = 0;
  EXPECT_EQ(DecodeAll(bad), DropReason::kMalformed);
}

TEST(Codec, LyingCountIsRefusedBeforeAllocating) {
  std::vector<std::uint8_t> f;
  BeginFrame(&f, FrameType::kUpdates, 7, 3);
  Writer w(&f);
  EncodeUpdatesPrefix(w, 0, 1, 200000);  // 200k records promised, none present
  EndFrame(&f);
  EXPECT_EQ(DecodeAll(f), DropReason::kTruncated);
}

TEST(Codec, OverlongVarintIsRefused) {
  std::vector<std::uint8_t> f;
  BeginFrame(&f, FrameType::kUpdates, 7, 3);
  for (int i = 0; i < 11; ++i) f.push_back(0xff);
  EndFrame(&f);
  EXPECT_EQ(DecodeAll(f), DropReason::kMalformed);
}

TEST(Codec, DigestOutOfOrderEntriesRefused) {
  std::vector<std::uint8_t> f;
  Writer w(&f);
  Digest d;
  d.lo = 1;
  d.hi = 100;
  d.entries = {{9, 1, 0, 0}, {2, 5, 77, 0x1234}};
  EncodeDigest(w, d);
  Digest out;
  EXPECT_EQ(DecodeDigest(f, &out), DropReason::kMalformed);
}

TEST(Codec, MailboxRangesRoundTrip) {
  MailboxRanges m;
  m.mode = RangesMode::kAfterEntries;
  m.level = 3;
  m.salt = 0x0123456789abcdefULL;
  m.ranges = {{0, 0}, {5, 0xdeadbeef}, {63, 1}};
  std::vector<std::uint8_t> f;
  Writer w(&f);
  EncodeMailboxRanges(w, m);
  MailboxRanges out;
  ASSERT_FALSE(DecodeMailboxRanges(f, &out));
  EXPECT_EQ(out.mode, m.mode);
  EXPECT_EQ(out.level, 3);
  EXPECT_EQ(out.salt, m.salt);
  ASSERT_EQ(out.ranges.size(), 3u);
  EXPECT_EQ(out.ranges[1].prefix, 5u);
  EXPECT_EQ(out.ranges[1].fingerprint, 0xdeadbeefu);
  EXPECT_EQ(out.ranges[2].prefix, 63u);
  // The deepest level spans every u32 prefix.
  m.level = static_cast<std::uint8_t>(kMailboxMaxLevel);
  m.ranges = {{0xfffffffeu, 7}, {0xffffffffu, 8}};
  f.clear();
  EncodeMailboxRanges(w, m);
  ASSERT_FALSE(DecodeMailboxRanges(f, &out));
  EXPECT_EQ(out.ranges[1].prefix, 0xffffffffu);
}

// Every rule of a MAILBOX_RANGES body, each refused as malformed (or truncated).
TEST(Codec, MalformedMailboxRangesRefused) {
  auto body = [](std::uint8_t mode, std::uint8_t level, std::vector<std::pair<std::uint64_t, std::uint32_t>> items,
                 std::optional<std::uint64_t> count = std::nullopt) {
    std::vector<std::uint8_t> f;
    Writer w(&f);
    w.U8(mode);
    w.U8(level);
    w.U64(1);
    w.Varint(count.value_or(items.size()));
    for (auto [delta, fp] : items) {
      w.Varint(delta);
      w.U32(fp);
    }
    return f;
  };
  MailboxRanges out;
  EXPECT_FALSE(DecodeMailboxRanges(body(0, 1, {{0, 1}, {3, 2}}), &out));
  EXPECT_EQ(DecodeMailboxRanges(body(4, 1, {{0, 1}}), &out), DropReason::kMalformed);            // mode
  EXPECT_EQ(DecodeMailboxRanges(body(0, 17, {{0, 1}}), &out), DropReason::kMalformed);           // level
  EXPECT_EQ(DecodeMailboxRanges(body(0, 1, {{4, 1}}), &out), DropReason::kMalformed);            // prefix
  EXPECT_EQ(DecodeMailboxRanges(body(0, 1, {{1, 1}, {3, 1}}), &out), DropReason::kMalformed);    // past the level
  EXPECT_EQ(DecodeMailboxRanges(body(0, 2, {{1, 1}, {0, 1}}), &out), DropReason::kMalformed);    // repeated
  EXPECT_EQ(DecodeMailboxRanges(body(0, 0, {{0, 1}, {1, 1}}), &out), DropReason::kMalformed);    // more than 4^0
  EXPECT_EQ(DecodeMailboxRanges(body(0, 1, {{0, 1}}, 1000), &out), DropReason::kTruncated);      // lying count
  std::vector<std::uint8_t> f = body(0, 1, {{0, 1}});
  f.push_back(0);
  EXPECT_EQ(DecodeMailboxRanges(f, &out), DropReason::kMalformed);  // trailing bytes
  for (std::size_t n = 0; n + 1 < body(0, 1, {{0, 1}}).size(); ++n) {
    std::vector<std::uint8_t> cut = body(0, 1, {{0, 1}});
    cut.resize(n);
    EXPECT_EQ(DecodeMailboxRanges(cut, &out), DropReason::kTruncated) << n;
  }
}

// A probe carries two moments of kMailboxMomentBytes per range instead of a fingerprint, a pair
// probe four.
TEST(Codec, MailboxProbeRoundTrip) {
  for (const RangesMode mode : {RangesMode::kProbe, RangesMode::kPairProbe}) {
    const std::size_t n = MailboxMoments(mode);
    MailboxRanges m;
    m.mode = mode;
    m.level = static_cast<std::uint8_t>(kMailboxProbeMinLevel);
    m.salt = 9;
    m.ranges = {{3, 0, 0, kMailboxMomentPrime - 1, 0, 0}, {1023, 0, 0x123456789abcULL, 1, 0, 0}};
    if (n == 4) m.ranges[1].s3 = 2, m.ranges[1].s4 = kMailboxMomentPrime - 2;
    std::vector<std::uint8_t> f;
    Writer w(&f);
    EncodeMailboxRanges(w, m);
    EXPECT_EQ(f.size(), 1 + 1 + 8 + 1 + (1 + n * kMailboxMomentBytes) + (2 + n * kMailboxMomentBytes));
    EXPECT_LE(f.size() - 1 - 1 - 8 - 1, 2 * MailboxRangeMaxBytes(mode));
    MailboxRanges out;
    ASSERT_FALSE(DecodeMailboxRanges(f, &out));
    EXPECT_EQ(out.mode, mode);
    ASSERT_EQ(out.ranges.size(), 2u);
    EXPECT_EQ(out.ranges[0].s2, kMailboxMomentPrime - 1);
    EXPECT_EQ(out.ranges[1].prefix, 1023u);
    EXPECT_EQ(out.ranges[1].s1, 0x123456789abcULL);
    EXPECT_EQ(out.ranges[1].s2, 1u);
    EXPECT_EQ(out.ranges[1].s3, m.ranges[1].s3);
    EXPECT_EQ(out.ranges[1].s4, m.ranges[1].s4);
  }
}

// A probe above its deepest bucket level, or with a moment (any of them, the last one here) that
// is not a residue of the prime, is refused; so is one cut short anywhere.
TEST(Codec, MalformedMailboxProbeRefused) {
  for (const RangesMode mode : {RangesMode::kProbe, RangesMode::kPairProbe}) {
    auto body = [mode](std::uint8_t level, std::uint64_t last) {
      std::vector<std::uint8_t> f;
      Writer w(&f);
      w.U8(static_cast<std::uint8_t>(mode));
      w.U8(level);
      w.U64(1);
      w.Varint(1);
      w.Varint(0);
      for (std::size_t k = 0; k < MailboxMoments(mode); ++k) {
        const std::uint64_t v = k + 1 == MailboxMoments(mode) ? last : 5;
        for (std::size_t i = 0; i < kMailboxMomentBytes; ++i) w.U8(static_cast<std::uint8_t>(v >> (8 * i)));
      }
      return f;
    };
    MailboxRanges out;
    const auto min_level = static_cast<std::uint8_t>(kMailboxProbeMinLevel);
    EXPECT_FALSE(DecodeMailboxRanges(body(min_level, 7), &out));
    EXPECT_EQ(DecodeMailboxRanges(body(min_level - 1, 7), &out), DropReason::kMalformed);              // level
    EXPECT_EQ(DecodeMailboxRanges(body(min_level, kMailboxMomentPrime), &out), DropReason::kMalformed);  // moment
    for (std::size_t n = 0; n + 1 < body(min_level, 7).size(); ++n) {
      std::vector<std::uint8_t> cut = body(min_level, 7);
      cut.resize(n);
      EXPECT_EQ(DecodeMailboxRanges(cut, &out), DropReason::kTruncated) << n;
    }
  }
}

TEST(Codec, MailboxEntriesCarryMailboxesOnly) {
  Record box;
  box.kind = static_cast<std::uint8_t>(EntryKind::kMailbox);
  box.key = "100@default";
  box.counts = {1, 2, 3};
  box.hlc = {5, 0};
  box.writer = 2;
  std::vector<std::uint8_t> f;
  Writer w(&f);
  EncodeMailboxEntriesPrefix(w, 1);
  EncodeRecord(w, box);
  MailboxEntries out;
  ASSERT_FALSE(DecodeMailboxEntries(f, kLimits, &out));
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].key, "100@default");
  EXPECT_EQ(out.records[0].counts.urgent_messages, 3u);
  f.clear();
  EncodeMailboxEntriesPrefix(w, 1);
  EncodeRecord(w, Device("PJSIP/a", 1, DeviceState::kBusy));
  EXPECT_EQ(DecodeMailboxEntries(f, kLimits, &out), DropReason::kMalformed);
}

// SYNC_PAGE: a plain page (one addressee, its receiver) and a shared one naming its pullers, each
// within its prefix bound; a shared page with too many addressees, one node twice or an unknown
// addressee flag is malformed.
TEST(Codec, SyncPagePlainAndShared) {
  const std::vector<Record> recs = {Device("PJSIP/a", 4, DeviceState::kBusy), Device("PJSIP/b", 5, DeviceState::kRinging)};
  const auto encode = [&](const std::vector<SyncPageAddressee>& to, std::size_t* prefix) {
    std::vector<std::uint8_t> f;
    Writer w(&f);
    SyncPage p;
    p.to = to;
    p.origin = 3;
    p.incarnation = 9;
    p.donor_watermark = 1000;
    EncodeSyncPagePrefix(w, p, static_cast<std::uint32_t>(recs.size()));
    *prefix = f.size();
    for (const Record& r : recs) EncodeRecord(w, r);
    return f;
  };
  std::size_t prefix = 0;
  SyncPage out;
  const auto plain = encode({{kNoNode, 42, 7, true}}, &prefix);
  EXPECT_LE(prefix, SyncPagePrefixMaxBytes(1));
  ASSERT_FALSE(DecodeSyncPage(plain, kLimits, &out));
  ASSERT_EQ(out.to.size(), 1u);
  EXPECT_EQ(out.to[0].node, kNoNode);
  EXPECT_EQ(out.to[0].session, 42u);
  EXPECT_EQ(out.to[0].page, 7u);
  EXPECT_TRUE(out.to[0].last);
  EXPECT_EQ(out.records.size(), 2u);

  const std::vector<SyncPageAddressee> to = {{4, 5, 3, false}, {6, 9, 0, true}, {7, 2, 11, false}};
  const auto shared = encode(to, &prefix);
  EXPECT_LE(prefix, SyncPagePrefixMaxBytes(3));
  ASSERT_FALSE(DecodeSyncPage(shared, kLimits, &out));
  ASSERT_EQ(out.to.size(), 3u);
  for (std::size_t i = 0; i < to.size(); ++i) {
    EXPECT_EQ(out.to[i].node, to[i].node);
    EXPECT_EQ(out.to[i].session, to[i].session);
    EXPECT_EQ(out.to[i].page, to[i].page);
    EXPECT_EQ(out.to[i].last, to[i].last);
  }
  EXPECT_EQ(out.origin, 3u);
  EXPECT_EQ(out.donor_watermark, 1000u);
  EXPECT_EQ(out.records.size(), 2u);

  // By hand: the shared prefix up to its first addressee's node, then `more` others.
  const auto shared_prefix = [](std::uint8_t more, NodeId second, std::uint8_t second_flags) {
    std::vector<std::uint8_t> f;
    Writer w(&f);
    w.Varint(5);
    w.Varint(3);
    w.U8(2);  // shared, not last
    w.Varint(3);
    w.Varint(9);
    w.Varint(1000);
    w.Varint(4);
    w.U8(more);
    for (std::uint8_t i = 0; i < more; ++i) {
      w.Varint(i == 0 ? second : 10 + i);
      w.Varint(1);
      w.Varint(0);
      w.U8(i == 0 ? second_flags : 0);
    }
    w.Varint(0);  // no records
    return f;
  };
  EXPECT_FALSE(DecodeSyncPage(shared_prefix(1, 6, 0), kLimits, &out));
  EXPECT_EQ(DecodeSyncPage(shared_prefix(kMaxSyncPageAddressees, 6, 0), kLimits, &out), DropReason::kMalformed);
  EXPECT_EQ(DecodeSyncPage(shared_prefix(1, 4, 0), kLimits, &out), DropReason::kMalformed);  // node 4 twice
  EXPECT_EQ(DecodeSyncPage(shared_prefix(1, 6, 2), kLimits, &out), DropReason::kMalformed);  // unknown flag
}

}  // namespace
}  // namespace pbxstate::codec
