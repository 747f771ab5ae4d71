// Overheard mailbox entries (engine/README.md, "Mailbox repair", "Overheard entries"): where a
// unicast reaches every node (CPG), the MAILBOX_ENTRIES of one range exchange repair every node
// that lacks them, so a heal moves fewer repair frames; and an overheard frame is checked as any
// frame is (MAC naming its addressee, replay window), only its mailbox records used.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "codec.h"
#include "mini_net.h"

namespace pbxstate {
namespace {

using namespace testing_mini_net;

std::optional<codec::FrameType> TypeOf(std::span<const std::uint8_t> b) {
  codec::FrameHeader h;
  std::span<const std::uint8_t> body;
  if (codec::DecodeHeader(b, {1400, 255, 512}, &h, &body)) return std::nullopt;
  return h.type;
}

bool IsRepairFrame(std::span<const std::uint8_t> b) {
  const std::optional<codec::FrameType> t = TypeOf(b);
  return t == codec::FrameType::kMailboxRanges || t == codec::FrameType::kMailboxEntries;
}

std::string Box(int i) { return std::to_string(1000 + i) + "@default"; }

struct HealFigures {
  int frames = 0;         // MAILBOX_RANGES and MAILBOX_ENTRIES sent from the heal on
  std::size_t bytes = 0;  // their bytes
  std::optional<Duration> agreement;  // from the heal until every node's view digest is node 1's
};

// What the cut changes: `mailboxes` written before it, `writes` in it to `distinct` mailboxes
// `stride` apart (so some on both sides).
struct HealShape {
  int mailboxes = 4000;
  int writes = 200;
  int distinct = 150;
  int stride = 13;
};

// 10 servers on a CPG-like network (every unicast reaches every node when `overhear`) whose
// frames take `trip` each, the mailboxes of `shape` written before a 5/5 cut, its writes in the
// cut, the heal; 3 s after it.
HealFigures Heal(bool overhear, Duration trip = 1ms, HealShape shape = {}) {
  constexpr int kServers = 10;
  const int kMailboxes = shape.mailboxes, kWrites = shape.writes, kDistinct = shape.distinct;
  MiniNet net(kServers, MembershipSource::kTransport, nullptr, /*unicast_reaches_everyone=*/true);
  net.deliver_overheard = overhear;
  net.delay = trip;
  for (int i = 0; i < kMailboxes; ++i) {
    EXPECT_TRUE(net.engines[static_cast<NodeId>(1 + i % kServers)]->SetMailbox(Box(i), {1, 0, 0}).ok());
  }
  net.Run(2s);
  const auto side = [](NodeId n) { return n <= kServers / 2 ? 0 : 1; };
  net.cut = [&](NodeId from, NodeId to) { return side(from) != side(to); };
  net.SetView({1, 2, 3, 4, 5});
  net.SetView({6, 7, 8, 9, 10});
  for (int w = 0; w < kWrites; ++w) {
    const auto writer = static_cast<NodeId>(1 + (w + w / kDistinct) % kServers);
    const int box = (w % kDistinct) * shape.stride;
    EXPECT_TRUE(net.engines[writer]->SetMailbox(Box(box), {static_cast<std::uint32_t>(w + 2), 0, 0}).ok());
  }
  net.Run(2s);
  HealFigures f;
  net.drop = [&f](NodeId, NodeId, std::span<const std::uint8_t> b) {
    if (IsRepairFrame(b)) {
      ++f.frames;
      f.bytes += b.size();
    }
    return false;
  };
  net.cut = nullptr;
  net.SetView(net.AllIds());
  const MonoTime heal = net.now;
  while (net.now < heal + 3s) {
    net.Run(5ms);
    bool agree = true;
    for (NodeId n = 2; n <= kServers; ++n) agree = agree && net.engines[n]->Digest() == net.engines[1]->Digest();
    if (!agree) f.agreement.reset();
    if (agree && !f.agreement) f.agreement = net.now - heal;
  }
  return f;
}

void Print(const char* what, const HealFigures& f) {
  std::printf("%s: %d repair frames, %zu bytes, agreement %lld us\n", what, f.frames, f.bytes,
              f.agreement ? static_cast<long long>(f.agreement->count() / 1000) : -1LL);
}

// Before, each node's exchanges moved what differs between it and one peer at a time, and every
// node of a side needed its own; overheard, the entries of the first exchanges across the cut
// reach both sides whole and the others' walks find equal ranges.
TEST(MailboxOverhear, AHealMovesFewerRepairFrames) {
  const HealFigures addressed = Heal(false);
  const HealFigures overheard = Heal(true);
  Print("addressed only", addressed);
  Print("overheard too", overheard);
  ASSERT_TRUE(addressed.agreement);
  ASSERT_TRUE(overheard.agreement);
  EXPECT_LE(*overheard.agreement, *addressed.agreement);
  EXPECT_LT(overheard.frames, addressed.frames);
  EXPECT_LT(overheard.bytes, addressed.bytes);
}

// A ring whose trips are 40 ms, longer than half of MailboxRepairQuiet (50 ms): the gaps inside
// the first exchange let the nodes it held back open beside it (309 repair frames, 35,190 B,
// agreement 660 ms after the heal); held for two of the trips seen, they open once it is over,
// and mostly find equal roots: 256 frames, 33,282 B, 660 ms. MiniNet's network does not slow
// down under the extra exchanges as emu's ring does, so the agreement stayed. (Since probes below
// level 5 carry four moments, MailboxIndex::Differences: 224 frames, 32,320 B, 580 ms.)
TEST(MailboxOverhear, OpeningsWaitForTwoTripsOfASlowRing) {
  const HealFigures f = Heal(true, 40ms);
  Print("overheard, 40 ms trips", f);
  ASSERT_TRUE(f.agreement);
  EXPECT_LE(*f.agreement, 660ms);
  EXPECT_LT(f.frames, 309);
}

// The density of mailbox-heal-100k's heal (1,000 mailboxes changed among 100,000: about one
// difference per level-5 range): 20,000 mailboxes, 1,200 writes in the cut to 1,000 of them, on a
// ring of 40 ms trips. With probes of two moments, a quarter of the level-5 ranges held two or
// more differences, and each such walk went on down one level per two trips, to level 11: 768
// repair frames, 176,936 B, agreement 940 ms after the heal. Four moments place two differences
// (MailboxIndex::Differences), so the walk ends by level 7 or 8: 510 frames, 163,426 B, 660 ms.
TEST(MailboxOverhear, DenseDifferencesEndTheWalkSooner) {
  const HealFigures f = Heal(true, 40ms, {20000, 1200, 1000, 19});
  Print("overheard, 40 ms trips, dense", f);
  ASSERT_TRUE(f.agreement);
  EXPECT_LE(*f.agreement, 700ms);
  EXPECT_LT(f.frames, 600);
  EXPECT_LT(f.bytes, 176936u);
}

// A frame from `from` of `type` whose body `encode` writes.
template <typename Encode>
std::vector<std::uint8_t> FrameOf(codec::FrameType type, NodeId from, Encode encode) {
  std::vector<std::uint8_t> frame;
  codec::BeginFrame(&frame, type, from, 1);
  codec::Writer w(&frame);
  encode(w);
  codec::EndFrame(&frame);
  return frame;
}

// After a view change a node ignores overheard openings until its first differing digest
// (stagger_due): the openings of the view before, which Corosync holds over the change, are no
// exchange running. A node whose sets were equal at the view change has no differing digest, so
// before, it ignored every overheard opening until the next view change, and on a later
// difference opened its own exchange at once beside one it had heard open (duplicate walks). Now
// only openings within join_digest_holdoff + sync_retransmit of the view change are ignored.
// Node 1 (rank 0: the stagger holds nothing) overhears node 2 open with node 3, 5 s after the
// view; a differing digest of node 2's comes 1 ms later. Before, node 1 opened with node 2 at
// once; now it waits until the overheard exchange has been quiet for MailboxRepairQuiet (50 ms).
TEST(MailboxOverhear, OpeningsLongAfterAViewChangeHoldThisNodesOwn) {
  MiniNet net(3, MembershipSource::kTransport, nullptr, /*unicast_reaches_everyone=*/true);
  net.deliver_overheard = true;
  net.Run(5s);  // sets equal (empty): no digest differs at node 1 after the view
  std::optional<MonoTime> opened;  // node 1's first opening
  net.drop = [&](NodeId from, NodeId, std::span<const std::uint8_t> b) {
    if (from == 1 && TypeOf(b) == codec::FrameType::kMailboxRanges && !opened) opened = net.now;
    return false;
  };
  codec::MailboxRanges opening;
  opening.mode = codec::RangesMode::kCompare;
  opening.level = 0;
  opening.salt = 0x5eed;
  opening.ranges = {{0, 0x1234}};
  const MonoTime overheard = net.now;
  net.engines[1]->OnOverheard(
      2, 3, FrameOf(codec::FrameType::kMailboxRanges, 2, [&](codec::Writer& w) { codec::EncodeMailboxRanges(w, opening); }));
  net.Run(1ms);
  codec::Digest digest;  // node 2's set, differing from node 1's; a join digest asks no answer
  digest.mode = codec::DigestMode::kJoin;
  digest.mailbox_hash = 0x5151;
  digest.lo = 1;
  digest.hi = codec::kMailboxOrigin - 1;
  net.engines[1]->OnFrame(2, FrameOf(codec::FrameType::kDigest, 2, [&](codec::Writer& w) { codec::EncodeDigest(w, digest); }));
  net.Run(200ms);
  ASSERT_TRUE(opened);  // queued, not dropped
  EXPECT_GE(*opened - overheard, 50ms);
}

// An overheard frame passes the checks of any frame: with keys its MAC must name the node the
// transport says it was addressed to, and its counter is then seen (a second copy is a replay).
// Only MAILBOX_ENTRIES are used; any other overheard frame is ignored, not counted as dropped.
TEST(MailboxOverhear, OverheardFramesAreCheckedAndOnlyEntriesUsed) {
  MiniNet net(3, MembershipSource::kTransport, [](EngineConfig& c) { c.cluster_keys = {std::string(32, 'k')}; },
              /*unicast_reaches_everyone=*/true);
  net.Run(1s);
  // Node 1's UPDATES to node 2 are lost, so node 2's digest starts an exchange whose entries
  // node 1 sends to node 2; node 3 hears nothing from the others meanwhile.
  std::vector<std::uint8_t> entries, digest;
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> b) {
    const std::optional<codec::FrameType> t = TypeOf(b);
    if (from == 1 && to == 2 && t == codec::FrameType::kMailboxEntries && entries.empty()) entries.assign(b.begin(), b.end());
    if (from == 1 && to == 2 && t == codec::FrameType::kDigest && digest.empty()) digest.assign(b.begin(), b.end());
    return from == 1 && to == 2 && t == codec::FrameType::kUpdates;
  };
  net.cut = [](NodeId from, NodeId to) { return from == 3 || to == 3; };
  ASSERT_TRUE(net.engines[1]->SetMailbox("a@default", {5, 0, 0}).ok());
  net.Run(3s);
  ASSERT_FALSE(entries.empty());
  ASSERT_FALSE(digest.empty());
  ASSERT_TRUE(net.engines[2]->Mailbox("a@default"));
  Engine& e3 = *net.engines[3];
  ASSERT_FALSE(e3.Mailbox("a@default"));
  const EngineStats before = e3.stats();

  e3.OnOverheard(1, 2, digest);  // not entries: ignored
  EXPECT_EQ(e3.stats().total_dropped(), before.total_dropped());
  e3.OnOverheard(1, 4, entries);  // its MAC names node 2: a replay aimed elsewhere
  EXPECT_EQ(e3.stats().dropped[static_cast<int>(DropReason::kReplayed)], before.dropped[static_cast<int>(DropReason::kReplayed)] + 1);
  EXPECT_FALSE(e3.Mailbox("a@default"));

  e3.OnOverheard(1, 2, entries);
  ASSERT_TRUE(e3.Mailbox("a@default"));
  EXPECT_EQ(e3.Mailbox("a@default")->counts.new_messages, 5u);
  EXPECT_EQ(e3.stats().records_applied, before.records_applied + 1);
  EXPECT_EQ(e3.stats().frames_out, before.frames_out);  // nothing answered
  e3.OnOverheard(1, 2, entries);  // the same counter again
  EXPECT_EQ(e3.stats().dropped[static_cast<int>(DropReason::kReplayed)], before.dropped[static_cast<int>(DropReason::kReplayed)] + 2);
}

}  // namespace
}  // namespace pbxstate
