// A donor's shared stream (issue 15; engine/README.md, "Catch-up sessions"): where a unicast
// reaches every node anyway (CPG), the pullers of one origin at a heal get its pages from one
// stream, each page sent once for all of them, instead of one stream each.

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <numeric>
#include <string>

#include "codec.h"
#include "mini_net.h"

namespace pbxstate {
namespace {

using namespace testing_mini_net;
using namespace std::chrono_literals;

constexpr int kEntries = 1500;

// Five nodes, node 1 cut off from the others while it registers kEntries AORs, then the heal:
// nodes 2 to 5 pull origin 1 from node 1, its only holder (the split dropped it at the others).
struct Heal {
  explicit Heal(bool unicast_reaches_everyone)
      : net(5, MembershipSource::kTransport, [](EngineConfig& c) { c.anti_entropy_interval = 0ms; },
            unicast_reaches_everyone) {
    net.delay = 2ms;
    net.SetView({1});
    net.SetView({2, 3, 4, 5});
    const WallTime t0 = net.envs[1]->WallNow();
    for (int i = 0; i < kEntries; ++i) {
      RegistrationInfo info{"sip:p" + std::to_string(i) + "@198.18.0.9", t0 + 600s, ContactStatus::kReachable, 0, {}, {}};
      EXPECT_TRUE(net.engines[1]->SetRegistration("aor" + std::to_string(i), info).ok());
    }
    net.Run(500ms);
    before = net.engines[1]->stats();
    for (NodeId n = 2; n <= 5; ++n) dropped_before[n] = Dropped(n);
  }
  std::uint64_t Dropped(NodeId n) const {
    const auto& d = net.engines.at(n)->stats().dropped;
    return std::accumulate(d.begin(), d.end(), std::uint64_t{0});
  }
  // Heals, runs `for`, and checks that every node holds node 1's entries.
  void HealAndRun(Duration span) {
    net.SetView(net.AllIds());
    net.Run(span);
    for (NodeId n = 2; n <= 5; ++n) EXPECT_EQ(net.engines[n]->Digest(), net.engines[1]->Digest()) << "node " << n;
  }
  std::uint64_t PagesSent() const { return net.engines.at(1)->stats().sync_pages_sent - before.sync_pages_sent; }
  std::uint64_t BytesOut() const { return net.engines.at(1)->stats().bytes_out - before.bytes_out; }
  // The most pages one puller took in (a stream's length, with the pages a late joiner goes round).
  std::uint64_t PagesOfOnePuller() const {
    std::uint64_t most = 0;
    for (NodeId n = 2; n <= 5; ++n) most = std::max(most, net.engines.at(n)->stats().sync_pages_received);
    return most;
  }
  MiniNet net;
  EngineStats before;
  std::map<NodeId, std::uint64_t> dropped_before;  // node 1's updates while it was no member
};

// Four pullers of one origin: one stream's pages, each sent once, not one stream per puller.
// Before shared streams the donor sent every page four times (the figure printed).
TEST(SharedStream, PullersOfOneOriginAtAHealShareOneStream) {
  Heal heal(/*unicast_reaches_everyone=*/true);
  heal.HealAndRun(3s);
  const std::uint64_t sent = heal.PagesSent();
  const std::uint64_t one = heal.PagesOfOnePuller();
  std::printf("4 pullers of %d entries: donor sent %llu pages (%llu bytes), one puller took %llu\n", kEntries,
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(heal.BytesOut()),
              static_cast<unsigned long long>(one));
  ASSERT_GT(one, 10u);
  EXPECT_LT(sent, one + one / 2);
  EXPECT_EQ(heal.net.engines[1]->stats().sync_pages_resent, 0u);
  // Pages for the other members reach every puller, and are no drop.
  for (NodeId n = 2; n <= 5; ++n) EXPECT_EQ(heal.Dropped(n), heal.dropped_before[n]) << "node " << n;
}

// Where a unicast reaches one node, streams stay one per puller: a shared one would send a copy
// to each member anyway and move at the slowest member's pace.
TEST(SharedStream, NotSharedWhereAUnicastReachesOneNode) {
  Heal heal(/*unicast_reaches_everyone=*/false);
  heal.HealAndRun(3s);
  EXPECT_GE(heal.PagesSent(), 4 * (heal.PagesOfOnePuller() - 1));
}

// A member that acknowledges nothing while the others go on does not hold them: at the
// retransmit timeout it is refused as busy, and it pulls again afterwards.
TEST(SharedStream, AMemberThatFallsBehindIsRefusedAndPullsAgain) {
  Heal heal(/*unicast_reaches_everyone=*/true);
  int pages_dropped = 0;
  heal.net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> b) {
    const bool drop = from == 1 && to == 5 && b[3] == static_cast<std::uint8_t>(codec::FrameType::kSyncPage) &&
                      pages_dropped < 40;
    pages_dropped += drop ? 1 : 0;
    return drop;
  };
  heal.HealAndRun(10s);
  EXPECT_EQ(pages_dropped, 40);
  EXPECT_GE(heal.net.engines[1]->stats().sync_serves_refused, 1u);
  EXPECT_GE(heal.net.engines[5]->stats().sync_sessions_abandoned, 1u);
  for (NodeId n = 2; n <= 4; ++n) EXPECT_EQ(heal.net.engines[n]->stats().sync_sessions_abandoned, 0u) << "node " << n;
}

}  // namespace
}  // namespace pbxstate
