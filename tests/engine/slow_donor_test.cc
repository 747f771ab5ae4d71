// A pull whose only donor is slow, not gone (wan-loss-corosync seed 2 on ns-3: a ring working
// off a backlog carried the request and its pages 3.9 s, past sync_timeout).

#include <gtest/gtest.h>

#include <string>

#include "mini_net.h"

namespace pbxstate {
namespace {

using namespace testing_mini_net;
using namespace std::chrono_literals;

// Node 1 alone holds what node 2 lacks, and nothing of node 1 reaches node 2 for longer than
// sync_timeout while both stay in the view. The pull times out with no other donor; the repair
// round's summary to node 1 and its digest are lost in the same silence, and with anti-entropy
// off nothing asked again: node 2 stayed behind for good. The donor, still live, is asked again.
TEST(SlowDonor, APullThatTimesOutAsksItsLiveDonorAgain) {
  MiniNet net(2, MembershipSource::kTransport, [](EngineConfig& c) {
    c.anti_entropy_interval = 0ms;  // only the catch-up session may repair
    c.sync_retransmit = 100ms;
    c.sync_timeout = 1s;
  });
  net.SetView({1});
  net.engines[2]->OnMembership({99, {2}});
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(net.engines[1]->SetDeviceState("d" + std::to_string(i), DeviceState::kBusy).ok());
  net.Run(100ms);
  net.queue.clear();
  MonoTime silent_until{};
  bool asked = false;
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> b) {
    if (from == 2 && to == 1 && b[3] == 5 && !asked) {  // the first SYNC_REQUEST opens the silence
      asked = true;
      silent_until = net.now + 1500ms;
    }
    return from == 1 && asked && net.now < silent_until;
  };
  net.SetView({1, 2});
  net.Run(1200ms);
  ASSERT_TRUE(asked);
  ASSERT_EQ(net.engines[2]->stats().sync_sessions_abandoned, 1u);
  ASSERT_NE(net.engines[2]->Digest(), net.engines[1]->Digest());
  net.Run(5s);
  EXPECT_EQ(net.engines[2]->Digest(), net.engines[1]->Digest());
  EXPECT_EQ(net.engines[2]->ClusterDeviceState("d49"), DeviceState::kBusy);
  EXPECT_EQ(net.engines[2]->stats().sync_sessions_completed, 1u);
}

}  // namespace
}  // namespace pbxstate
