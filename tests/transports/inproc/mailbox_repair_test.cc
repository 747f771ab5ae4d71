// Mailbox repair (engine/README.md, "Mailbox repair"): range-digested, paged, both ways, and
// proportional to what differs. Whole clusters on the inproc network; the codec's side of the
// frames is tests/engine/codec_test.cc.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "codec.h"
#include "mailbox_index.h"
#include "pbxstate/check.h"
#include "util.h"

namespace pbxstate::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

inproc::ClusterOptions RepairOptions(std::size_t nodes) {
  inproc::ClusterOptions opt;
  opt.nodes = nodes;
  opt.seed = 18;
  opt.membership = MembershipSource::kTransport;
  opt.transport_views = inproc::TransportViews::kConsistent;
  opt.engine.max_entries = 1'000'000;
  return opt;
}

std::string Box(std::size_t i) { return std::to_string(1000 + i) + "@default"; }

std::uint64_t BytesOut(const inproc::Cluster& c) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < c.size(); ++i) sum += c.stats(i).bytes_out;
  return sum;
}

std::size_t MailboxRecordBytes(std::string_view name, const MailboxValue& v) {
  codec::Record r;
  r.kind = static_cast<std::uint8_t>(EntryKind::kMailbox);
  r.key = name;
  r.counts = v.counts;
  r.hlc = v.hlc;
  r.writer = v.writer;
  return codec::EncodedRecordBytes(r);
}

// Every node holds the same value for every one of `names` as node 0 does.
void ExpectSameMailboxes(const inproc::Cluster& c, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const auto want = c.MailboxAt(0, name);
    for (std::size_t i = 1; i < c.size(); ++i) {
      const auto got = c.MailboxAt(i, name);
      ASSERT_EQ(got.has_value(), want.has_value()) << name << " at node " << i;
      if (want) {
        EXPECT_EQ(got->hlc, want->hlc) << name << " at node " << i;
      }
    }
  }
}

// Names whose tree position lies in the first or the last range of every level (the two edges
// of the key space), found by trying names in order.
std::vector<std::string> EdgeNames(std::size_t each) {
  std::vector<std::string> low, high;
  for (std::size_t i = 0; low.size() < each || high.size() < each; ++i) {
    const std::string name = "edge" + std::to_string(i) + "@default";
    const std::uint32_t pos = MailboxIndex::Position(name);
    if (pos < (1u << 22) && low.size() < each) low.push_back(name);
    if (pos >= ~0u - (1u << 22) && high.size() < each) high.push_back(name);
  }
  low.insert(low.end(), high.begin(), high.end());
  return low;
}

// Advances `d` and returns how many mailbox repair frames were delivered or dropped meanwhile.
std::size_t RepairFramesDuring(inproc::Cluster& c, Duration d) {
  std::size_t frames = 0;
  c.SetTraceHook([&](const inproc::TraceEvent& e) {
    if (e.frame.size() < codec::kFrameHeaderBytes) return;
    const auto type = static_cast<codec::FrameType>(e.frame[3]);
    frames += type == codec::FrameType::kMailboxRanges || type == codec::FrameType::kMailboxEntries;
  });
  PBXSTATE_CHECK(c.Advance(d).ok());
  c.SetTraceHook(nullptr);
  return frames;
}

// A 2-node cluster with `common` mailboxes on both, cut apart; returns after the cut.
std::unique_ptr<inproc::Cluster> SplitPair(const inproc::ClusterOptions& opt, std::size_t common) {
  auto c = MakeCluster(opt);
  if (!c) return c;
  for (std::size_t i = 0; i < common; ++i) {
    if (!c->SetMailbox(i % c->size(), Box(i), {1, 0, 0}).ok()) return nullptr;
  }
  if (!c->Advance(seconds(2)).ok()) return nullptr;
  if (!c->Partition({{0}, {1}}).ok()) return nullptr;
  if (!c->Advance(seconds(1)).ok()) return nullptr;
  return c;
}

// The bytes a heal moves are proportional to what differs, not to the mailboxes held: 20,000
// mailboxes, 100 changed on each side of a cut. Each node needs the other's 100 records; the
// heal moves (digests, ranges and entries, both ways) a bounded multiple of their encoded size:
// 18,005 bytes for 5,707 (3.2x; 31,678 before probes, and the whole-set pull before the range
// exchange moved 1,230,522).
TEST(MailboxRepair, HealMovesWhatDiffers) {
  auto c = SplitPair(RepairOptions(2), 20'000);
  ASSERT_TRUE(c);
  std::vector<std::string> changed;
  for (std::size_t k = 0; k < 200; ++k) {
    const std::size_t box = (k * 97) % 20'000;
    PBX_ASSERT_OK(c->SetMailbox(k % 2, Box(box), {static_cast<std::uint32_t>(k % 7 + 2), 1, 0}));
    changed.push_back(Box(box));
  }
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  const std::uint64_t before = BytesOut(*c);
  c->Heal();
  PBX_ASSERT_OK(c->Advance(seconds(5)));
  EXPECT_TRUE(c->Converged());
  ExpectSameMailboxes(*c, changed);
  std::uint64_t needed = 0;
  for (const std::string& name : changed) needed += MailboxRecordBytes(name, *c->MailboxAt(0, name));
  const std::uint64_t moved = BytesOut(*c) - before;
  std::printf("heal moved %llu bytes for %llu bytes of differing records\n",
              static_cast<unsigned long long>(moved), static_cast<unsigned long long>(needed));
  EXPECT_LE(moved, 4 * needed);
}

// Differences in the first and last ranges of the key space (prefix 0 and the greatest prefix
// at every level) are found and repaired both ways.
TEST(MailboxRepair, RangesDifferingAtTheEdges) {
  auto c = SplitPair(RepairOptions(2), 2'000);
  ASSERT_TRUE(c);
  const std::vector<std::string> edges = EdgeNames(4);
  for (std::size_t k = 0; k < edges.size(); ++k) {
    PBX_ASSERT_OK(c->SetMailbox(k % 2, edges[k], {static_cast<std::uint32_t>(k + 1), 0, 0}));
  }
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  c->Heal();
  PBX_ASSERT_OK(c->Advance(seconds(5)));
  for (std::size_t k = 0; k < edges.size(); ++k) {
    for (std::size_t i = 0; i < 2; ++i) {
      const auto m = c->MailboxAt(i, edges[k]);
      ASSERT_TRUE(m.has_value()) << edges[k] << " at node " << i;
      EXPECT_EQ(m->counts.new_messages, k + 1) << edges[k] << " at node " << i;
    }
  }
  EXPECT_TRUE(c->Converged());
}

// One side holds no mailbox at all, the other 5,000: an empty range's fingerprint says so, and
// the entries go without descending to single names. Then the reverse: the full side empty.
TEST(MailboxRepair, EmptySides) {
  for (std::size_t empty_side = 0; empty_side < 2; ++empty_side) {
    auto c = MakeCluster(RepairOptions(2));
    ASSERT_TRUE(c);
    PBX_ASSERT_OK(c->Partition({{0}, {1}}));
    PBX_ASSERT_OK(c->Advance(seconds(1)));
    std::vector<std::string> names;
    for (std::size_t i = 0; i < 5'000; ++i) {
      names.push_back(Box(i));
      PBX_ASSERT_OK(c->SetMailbox(1 - empty_side, names.back(), {1, 2, 3}));
    }
    PBX_ASSERT_OK(c->Advance(seconds(1)));
    const std::uint64_t before = BytesOut(*c);
    c->Heal();
    PBX_ASSERT_OK(c->Advance(seconds(5)));
    EXPECT_TRUE(c->Converged()) << "empty side " << empty_side;
    ExpectSameMailboxes(*c, names);
    std::uint64_t needed = 0;
    for (const std::string& name : names) needed += MailboxRecordBytes(name, *c->MailboxAt(0, name));
    EXPECT_LE(BytesOut(*c) - before, 2 * needed) << "empty side " << empty_side;
  }
}

// Frames of the smallest size the engine allows: every MAILBOX_RANGES and MAILBOX_ENTRIES frame
// stays within it (the network refuses a larger one: the engine counts it in send_failed), and the repair completes.
TEST(MailboxRepair, PagesStayWithinMaxFrameBytes) {
  inproc::ClusterOptions opt = RepairOptions(2);
  opt.engine.max_frame_bytes = 256;
  opt.engine.max_key_bytes = 64;
  opt.engine.max_contact_bytes = 64;
  opt.max_frame_bytes = 256;
  auto c = SplitPair(opt, 3'000);
  ASSERT_TRUE(c);
  std::vector<std::string> changed;
  for (std::size_t k = 0; k < 600; ++k) {
    changed.push_back(Box(k * 5));
    PBX_ASSERT_OK(c->SetMailbox(k % 2, changed.back(), {9, 9, 1}));
  }
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  c->Heal();
  PBX_ASSERT_OK(c->Advance(seconds(10)));
  EXPECT_TRUE(c->Converged());
  ExpectSameMailboxes(*c, changed);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(c->stats(i).send_failed, 0u) << "node " << i;
  }
}

// Writes go on at both nodes, to the mailboxes being repaired, every millisecond while the heal's
// exchanges run: each answer is computed from the store as it is then, and the end is the same
// latest value everywhere.
TEST(MailboxRepair, ConcurrentWritesDuringRepair) {
  auto c = SplitPair(RepairOptions(3), 10'000);
  ASSERT_TRUE(c);
  PBX_ASSERT_OK(c->Partition({{0, 2}, {1}}));
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  std::vector<std::string> changed;
  for (std::size_t k = 0; k < 300; ++k) {
    changed.push_back(Box(k * 31));
    PBX_ASSERT_OK(c->SetMailbox(k % 2, changed.back(), {static_cast<std::uint32_t>(k), 0, 0}));
  }
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  c->Heal();
  for (std::size_t t = 0; t < 200; ++t) {
    PBX_ASSERT_OK(c->SetMailbox(t % 3, changed[(t * 7) % changed.size()], {static_cast<std::uint32_t>(t), 5, 0}));
    PBX_ASSERT_OK(c->Advance(milliseconds(1)));
  }
  PBX_ASSERT_OK(c->Advance(seconds(5)));
  EXPECT_TRUE(c->Converged());
  ExpectSameMailboxes(*c, changed);
}

// Both nodes hear each other's heal digest at the same instant and open exchanges with each
// other; the one node 2 opened is dropped by node 1, and node 1's goes on. With anti-entropy off
// nothing else would repair: the answers to node 1's root (level 0 too) must not be dropped as a
// crossed opening. The swarm found that bug (seeds 1238 and 747 of `pbxstate swarm --seeds 2000`,
// with a device workload around the heal); this heal without that workload was not checked to
// cross the openings the same way, so the swarm seeds are the regression check that does.
TEST(MailboxRepair, CrossedOpeningsWithoutAntiEntropy) {
  for (std::size_t writer = 0; writer < 2; ++writer) {
    inproc::ClusterOptions opt = RepairOptions(2);
    opt.engine.anti_entropy_interval = Duration::zero();
    auto c = MakeCluster(opt);
    ASSERT_TRUE(c);
    PBX_ASSERT_OK(c->Advance(seconds(1)));
    PBX_ASSERT_OK(c->Partition({{0}, {1}}));
    PBX_ASSERT_OK(c->Advance(seconds(1)));
    PBX_ASSERT_OK(c->SetMailbox(writer, "100@default", {48, 21, 0}));
    PBX_ASSERT_OK(c->Advance(seconds(1)));
    c->Heal();
    PBX_ASSERT_OK(c->Advance(seconds(5)));
    for (std::size_t i = 0; i < 2; ++i) {
      const auto m = c->MailboxAt(i, "100@default");
      ASSERT_TRUE(m.has_value()) << "writer " << writer << ", node " << i;
      EXPECT_EQ(m->counts.new_messages, 48u) << "writer " << writer << ", node " << i;
    }
  }
}

// An opening refused by a busy peer must not be lost as a crossed opening. Nodes 3 and 4 restart
// empty at a heal while nodes 1 and 2 differ in a mailbox, with anti-entropy off: at 100 us a
// link every node hears several digests at once. Node 3, busy with node 2, refuses node 1's
// opening and remembers node 1; once quiet it opens the exchange with node 1, which arrives
// within the quiet interval of node 1's own opening to node 3, so node 1 (the smaller id) took
// it for a crossed opening and dropped it: neither side opened again, and node 3 stayed without
// the mailboxes (swarm seed 5983, tests/sim/swarm/regressions/5983.yaml, is this run).
TEST(MailboxRepair, RefusedOpeningIsNotLostAsCrossed) {
  inproc::ClusterOptions opt = RepairOptions(4);
  opt.seed = 5983;
  opt.engine.anti_entropy_interval = Duration::zero();
  opt.link.delay = std::chrono::microseconds(100);
  opt.link.bandwidth_bps = 1'000'000'000;
  auto c = MakeCluster(opt);
  ASSERT_TRUE(c);
  // Each step happens at `ms` before the frames due then, as the scenario runner orders them.
  auto at = [&](int ms) { return c->RunBefore(MonoTime{} + milliseconds(ms)); };
  PBX_ASSERT_OK(at(3001));
  PBX_ASSERT_OK(c->Crash(2));
  PBX_ASSERT_OK(at(3805));
  PBX_ASSERT_OK(c->Crash(3));
  PBX_ASSERT_OK(at(10966));
  PBX_ASSERT_OK(c->SetMailbox(0, "200@default", {29, 35, 0}));
  PBX_ASSERT_OK(at(11091));
  PBX_ASSERT_OK(c->SetRegistration(0, "bob", {"sip:bob@198.51.100.21:5136", c->wall_now() + seconds(9250),
                                              ContactStatus::kUnreachable, 0, {}, {}}));
  PBX_ASSERT_OK(at(14624));
  PBX_ASSERT_OK(c->Partition({{1, 3}, {0, 2}}));
  PBX_ASSERT_OK(at(16623));
  PBX_ASSERT_OK(c->SetMailbox(0, "300@sales", {11, 7, 4}));  // node 2 misses this one
  PBX_ASSERT_OK(at(18816));
  PBX_ASSERT_OK(c->Restart(2));
  PBX_ASSERT_OK(at(18834));
  c->Heal();
  PBX_ASSERT_OK(c->Restart(3));
  PBX_ASSERT_OK(c->Advance(seconds(10)));
  for (std::size_t i = 0; i < 4; ++i) {
    for (const char* name : {"200@default", "300@sales"}) {
      EXPECT_TRUE(c->MailboxAt(i, name).has_value()) << name << " at node " << i;
    }
  }
  EXPECT_TRUE(c->Converged());
}

// With anti-entropy off no later digest comes after the heal's: frames of the exchange lost on the
// way (a fifth of those from node 1 to node 0) would leave differences. The opener opens its
// exchange again once quiet, until three openings in a row get no answer (engine/README.md,
// "Mailbox repair", "Repeats"): every difference is repaired, on five seeds (five patterns of
// loss), and the repeats end: no repair frame goes either way in the last 5 s.
TEST(MailboxRepair, LostFramesWithoutAntiEntropy) {
  for (std::uint64_t seed = 18; seed < 23; ++seed) {
    inproc::ClusterOptions opt = RepairOptions(2);
    opt.seed = seed;
    opt.engine.anti_entropy_interval = Duration::zero();
    auto c = SplitPair(opt, 5'000);
    ASSERT_TRUE(c);
    std::vector<std::string> changed;
    for (std::size_t k = 0; k < 400; ++k) {
      changed.push_back(Box(k * 11));
      PBX_ASSERT_OK(c->SetMailbox(k % 2, changed.back(), {static_cast<std::uint32_t>(k % 5 + 2), 0, 0}));
    }
    PBX_ASSERT_OK(c->Advance(seconds(1)));
    inproc::LinkFaults lossy;
    lossy.loss = 0.2;
    PBX_ASSERT_OK(c->SetLinkFaults(1, 0, lossy));
    c->Heal();
    PBX_ASSERT_OK(c->Advance(seconds(10)));
    EXPECT_TRUE(c->Converged()) << "seed " << seed;
    ExpectSameMailboxes(*c, changed);
    EXPECT_EQ(RepairFramesDuring(*c, seconds(5)), 0u) << "seed " << seed;
  }
}

// Two names at one position (a 32-bit hash: about one pair among 100,000 names), each side holding
// one the other lacks: a probe finds one differing position, and the entries sent for it must
// bring both names, not only the one the sender of the entries holds. Anti-entropy off: no later
// digest and no whole-set fallback hides a miss (with it on, the fallback repaired it after 3 s).
TEST(MailboxRepair, TwoNamesAtOnePosition) {
  std::map<std::uint32_t, std::string> seen;
  std::string first, second;
  for (std::size_t i = 0; first.empty(); ++i) {
    std::string name = "c" + std::to_string(i) + "@default";
    auto [it, fresh] = seen.emplace(MailboxIndex::Position(name), name);
    if (!fresh) {
      first = it->second;
      second = name;
    }
  }
  for (std::size_t writer = 0; writer < 2; ++writer) {
    inproc::ClusterOptions opt = RepairOptions(2);
    opt.engine.anti_entropy_interval = Duration::zero();  // no later digest, no whole-set fallback
    auto c = SplitPair(opt, 20'000);  // about 20 a level-5 range: probed
    ASSERT_TRUE(c);
    PBX_ASSERT_OK(c->SetMailbox(writer, first, {3, 0, 0}));
    PBX_ASSERT_OK(c->SetMailbox(1 - writer, second, {4, 0, 0}));
    PBX_ASSERT_OK(c->Advance(seconds(1)));
    c->Heal();
    PBX_ASSERT_OK(c->Advance(seconds(5)));
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_TRUE(c->MailboxAt(i, first).has_value()) << first << " at node " << i << ", writer " << writer;
      EXPECT_TRUE(c->MailboxAt(i, second).has_value()) << second << " at node " << i << ", writer " << writer;
    }
    EXPECT_TRUE(c->Converged()) << "writer " << writer;
    EXPECT_EQ(RepairFramesDuring(*c, seconds(5)), 0u) << "writer " << writer;  // no answer goes on
  }
}

// A MAILBOX_RANGES frame that breaks the codec's rules is refused whole: counted as malformed,
// logged with the peer and the frame, and nothing in it is answered.
TEST(MailboxRepair, MalformedRangesFrameIsRefused) {
  auto c = MakeCluster(RepairOptions(2));
  ASSERT_TRUE(c);
  PBX_ASSERT_OK(c->SetMailbox(0, Box(1), {1, 0, 0}));
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  std::vector<std::string> logs;
  c->SetLogHook([&](std::size_t node, LogLevel, std::string_view line) {
    if (node == 0) logs.emplace_back(line);
  });
  // Level 1 with a prefix of level 2 (4 is not below 4^1).
  std::vector<std::uint8_t> frame;
  codec::BeginFrame(&frame, codec::FrameType::kMailboxRanges, inproc::Cluster::IdOf(1), c->incarnation(1));
  codec::Writer w(&frame);
  w.U8(0);   // kCompare
  w.U8(1);   // level
  w.U64(7);  // salt
  w.Varint(1);
  w.Varint(4);
  w.U32(0x12345678);
  codec::EndFrame(&frame);
  const EngineStats before = c->stats(0);
  c->engine(0)->OnFrame(inproc::Cluster::IdOf(1), frame);
  const EngineStats after = c->stats(0);
  EXPECT_EQ(after.dropped[static_cast<std::size_t>(DropReason::kMalformed)],
            before.dropped[static_cast<std::size_t>(DropReason::kMalformed)] + 1);
  EXPECT_EQ(after.frames_out, before.frames_out);  // nothing answered
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("MAILBOX_RANGES"), std::string::npos) << logs[0];
  EXPECT_NE(logs[0].find("node 2"), std::string::npos) << logs[0];
  EXPECT_NE(logs[0].find("malformed"), std::string::npos) << logs[0];
}

// The heal of issue 18: `servers` servers holding `mailboxes` mailboxes (all written before the
// cut), split in two halves; `changes` mailbox writes during the cut, made by the servers in
// turn; then the heal. Prints the bytes all engines sent from the heal to agreement, the encoded
// size of the records each server lacked at the heal (summed over servers: what any repair must
// move at least), and the virtual time from the heal to agreement, on a LAN of 100 us and
// 1 Gbit/s per directed link.
struct HealFigures {
  std::uint64_t moved = 0, needed = 0;
  Duration convergence{};
};

HealFigures MeasureHeal(std::size_t servers, std::size_t mailboxes, std::size_t changes,
                        MembershipSource membership = MembershipSource::kTransport) {
  inproc::ClusterOptions opt = RepairOptions(servers);
  opt.membership = membership;
  opt.link.delay = std::chrono::microseconds(100);
  opt.link.bandwidth_bps = 1'000'000'000;
  auto c = MakeCluster(opt);
  PBXSTATE_CHECK(c != nullptr);
  for (std::size_t i = 0; i < mailboxes; ++i) {
    PBXSTATE_CHECK(c->SetMailbox(i % servers, Box(i), {1, 0, 0}).ok());
    if (i % 100 == 99) PBXSTATE_CHECK(c->Advance(milliseconds(1)).ok());
  }
  const Status settled = c->Advance(seconds(5));
  if (!settled.ok()) std::printf("%s\n", settled.ToString().c_str());
  PBXSTATE_CHECK(settled.ok());
  PBXSTATE_CHECK(c->Converged());
  std::vector<std::size_t> left, right;
  for (std::size_t i = 0; i < servers; ++i) (i < servers / 2 ? left : right).push_back(i);
  PBXSTATE_CHECK(c->Partition({left, right}).ok());
  PBXSTATE_CHECK(c->Advance(seconds(1)).ok());
  std::vector<std::string> changed;
  for (std::size_t k = 0; k < changes; ++k) {
    changed.push_back(Box((k * 7919) % mailboxes));
    PBXSTATE_CHECK(c->SetMailbox(k % servers, changed.back(), {static_cast<std::uint32_t>(k % 9 + 2), 1, 0}).ok());
    PBXSTATE_CHECK(c->Advance(milliseconds(1)).ok());
  }
  PBXSTATE_CHECK(c->Advance(seconds(2)).ok());
  // What each server lacks at the heal: every changed mailbox whose value there is not the one
  // its side of the cut cannot see (the final value, read after agreement).
  std::vector<std::vector<std::optional<MailboxValue>>> at_heal(servers);
  for (std::size_t i = 0; i < servers; ++i) {
    for (const std::string& name : changed) at_heal[i].push_back(c->MailboxAt(i, name));
  }
  HealFigures f;
  // Where the bytes go: every frame delivered from the heal on, by type, and the records that
  // arrived where a newer value was held (sent from the side of a difference that was older).
  std::uint64_t ranges_bytes = 0, entries_bytes = 0, other_bytes = 0, stale_before = 0;
  for (std::size_t i = 0; i < servers; ++i) stale_before += c->stats(i).records_stale;
  c->SetTraceHook([&](const inproc::TraceEvent& e) {
    if (e.kind != inproc::TraceKind::kDelivered || e.frame.size() < codec::kFrameHeaderBytes) return;
    const auto type = static_cast<codec::FrameType>(e.frame[3]);
    (type == codec::FrameType::kMailboxRanges    ? ranges_bytes
     : type == codec::FrameType::kMailboxEntries ? entries_bytes
                                                 : other_bytes) += e.bytes;
  });
  const std::uint64_t before = BytesOut(*c);
  const MonoTime healed = c->now();
  c->Heal();
  while (!c->Converged()) PBXSTATE_CHECK(c->Advance(milliseconds(1)).ok());
  f.convergence = c->now() - healed;
  PBXSTATE_CHECK(c->Advance(seconds(3)).ok());
  f.moved = BytesOut(*c) - before;
  c->SetTraceHook(nullptr);
  std::uint64_t stale = 0;
  for (std::size_t i = 0; i < servers; ++i) stale += c->stats(i).records_stale;
  stale -= stale_before;
  for (std::size_t i = 0; i < servers; ++i) {
    std::set<std::string> seen;
    for (std::size_t k = 0; k < changed.size(); ++k) {
      if (!seen.insert(changed[k]).second) continue;
      const auto final_value = c->MailboxAt(0, changed[k]);
      if (!at_heal[i][k] || at_heal[i][k]->hlc != final_value->hlc) {
        f.needed += MailboxRecordBytes(changed[k], *final_value);
      }
    }
  }
  std::printf("%zu servers, %zu mailboxes, %zu changes: heal moved %llu bytes, records lacking %llu bytes "
              "(%.2fx), agreement %.1f ms after the heal\n",
              servers, mailboxes, changes, static_cast<unsigned long long>(f.moved),
              static_cast<unsigned long long>(f.needed), static_cast<double>(f.moved) / static_cast<double>(f.needed),
              std::chrono::duration<double, std::milli>(f.convergence).count());
  std::printf("  delivered: MAILBOX_RANGES %llu bytes, MAILBOX_ENTRIES %llu bytes (%llu records older than the "
              "receiver's), other frames %llu bytes\n",
              static_cast<unsigned long long>(ranges_bytes), static_cast<unsigned long long>(entries_bytes),
              static_cast<unsigned long long>(stale), static_cast<unsigned long long>(other_bytes));
  return f;
}

// The smaller form of the heal of issue 18, in the test command. Measured: 31,697 bytes for
// 8,424 lacking (3.8x; 46,220 before probes), agreement 202 ms after the heal. Ten mailboxes a
// level-5 range here, where the long run has a hundred: the walk down to level 5 weighs more
// against what differs.
TEST(MailboxRepair, SixServersTenThousandMailboxes) {
  const HealFigures f = MeasureHeal(6, 10'000, 100);
  EXPECT_LE(f.moved, 4 * f.needed);
  EXPECT_LT(f.convergence, seconds(2));
}

// The same heal with heartbeat membership: each node finds the other side's servers one
// heartbeat at a time, and the nodes of a side that agree send each other no summary or digest.
// Before the whole-set fallback's clock was the peer's (stopped by its records and its
// heartbeats), the clock that the join digests of the cold start had started at every node was
// never stopped, and the first differing digest after the heal made the node pull a donor's
// whole set: 3,151,464 bytes for 57,090 lacking here (55x; engine/README.md, "Mailbox repair").
// Measured now: 190,892 bytes (3.34x, of which 63,365 are the 20 servers' heartbeats of the
// 4 s measured), agreement 999 ms after the heal.
TEST(MailboxRepair, HeartbeatMembershipHeal) {
  const HealFigures f = MeasureHeal(20, 20'000, 200, MembershipSource::kHeartbeat);
  EXPECT_LE(f.moved, 4 * f.needed);
  EXPECT_LT(f.convergence, seconds(2));
}

// The heal of issue 18 at its size (a long run, 20 s to a minute: not in the test command).
// Measured: 840,734 bytes for 289,170 lacking (2.91x; 1,576,944 before probes), agreement 583 ms
// after the heal.
//   build/tests/transports/inproc/pbxstate_cluster_tests --gtest_also_run_disabled_tests --gtest_filter=MailboxRepair.DISABLED_TwentyServersHundredThousandMailboxes
TEST(MailboxRepair, DISABLED_TwentyServersHundredThousandMailboxes) {
  const HealFigures f = MeasureHeal(20, 100'000, 1'000);
  EXPECT_LE(f.moved, 3 * f.needed);
  EXPECT_LT(f.convergence, seconds(2));
}

}  // namespace
}  // namespace pbxstate::testing
