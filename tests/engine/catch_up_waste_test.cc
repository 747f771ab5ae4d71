// A catch-up that re-sends what the puller already holds (issue 15): on real corosync, at a
// partition's heal, tens of thousands of records the pullers held (sim/emu/README.md, "The heal").

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "mini_net.h"

namespace pbxstate {
namespace {

using namespace testing_mini_net;
using namespace std::chrono_literals;

// Two nodes behind on the same origin pull it at once. A puller's hash changes with each page it
// applies while its watermark waits for the last one, so a digest of the other, composed at the
// same watermark, shows another hash mid-session (at a heal the view change has every node offer
// its digest to every other one while their pulls run). That asked for a full pull of the origin once
// the running one ended: every entry again, all already held (on emu 29 such pulls carried
// 48,933 of a heal's 50,970 stale records).
TEST(CatchUp, ADigestComparedMidPullIsNoReasonForAFullPullAfterIt) {
  MiniNet net(3, MembershipSource::kTransport, [](EngineConfig& c) { c.anti_entropy_interval = 40ms; });
  net.delay = 30ms;
  const WallTime t0 = net.envs[1]->WallNow();
  auto set_all = [&](int round) {
    for (int i = 0; i < 600; ++i) {
      RegistrationInfo info{"sip:p" + std::to_string(i) + "@198.18.0.9", t0 + 600s + round * 1s,
                            ContactStatus::kReachable, 0, {}, {}};
      ASSERT_TRUE(net.engines[1]->SetRegistration("aor" + std::to_string(i), info).ok());
    }
  };
  set_all(0);
  net.Run(2s);
  ASSERT_EQ(net.engines[2]->Digest(), net.engines[1]->Digest());
  ASSERT_EQ(net.engines[3]->Digest(), net.engines[1]->Digest());
  // Nodes 2 and 3 miss the origin's next 600 changes: both are behind at the same watermark.
  net.drop = [](NodeId from, NodeId, std::span<const std::uint8_t> b) { return from == 1 && b[3] == 1; };
  set_all(1);
  net.Run(5ms);
  // One more change reaches node 3 alone: above its watermark, in its hash (at a heal, the
  // origin's live updates reach the pullers while they wait for the pages below them).
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> b) { return from == 1 && to == 2 && b[3] == 1; };
  RegistrationInfo one{"sip:q@198.18.0.9", t0 + 900s, ContactStatus::kReachable, 0, {}, {}};
  ASSERT_TRUE(net.engines[1]->SetRegistration("aor0", one).ok());
  net.Run(5ms);
  net.drop = nullptr;
  const std::uint64_t stale_before = net.engines[2]->stats().records_stale + net.engines[3]->stats().records_stale;
  const std::uint64_t pages_before = net.engines[2]->stats().sync_pages_received + net.engines[3]->stats().sync_pages_received;
  // Mid-pull, a new view (as at a heal): each node offers its digest to every other one.
  for (int step = 0; step < 100 && net.engines[2]->stats().sync_pages_received - pages_before < 6; ++step) net.Run(5ms);
  ASSERT_GT(net.engines[2]->stats().sync_pages_received - pages_before, 5u);
  net.SetView(net.AllIds());
  net.Run(5s);
  for (NodeId n : {2u, 3u}) EXPECT_EQ(net.engines[n]->Digest(), net.engines[1]->Digest()) << "node " << n;
  const std::uint64_t stale = net.engines[2]->stats().records_stale + net.engines[3]->stats().records_stale - stale_before;
  const std::uint64_t pages = net.engines[2]->stats().sync_pages_received + net.engines[3]->stats().sync_pages_received - pages_before;
  std::printf("catch-up of 2 x 600 changes: %llu pages, %llu stale records\n", static_cast<unsigned long long>(pages),
              static_cast<unsigned long long>(stale));
  // What is needed: 600 changes to each node. A full pull after the range one re-sends all 600.
  EXPECT_LT(stale, 60u);
}

}  // namespace
}  // namespace pbxstate
