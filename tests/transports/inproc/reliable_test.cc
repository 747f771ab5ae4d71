// CPG proper: a reliable, ordered transport with anti-entropy switched off
// (anti_entropy_interval = 0). The README promises joins and heals still exchange digests, so a
// heal must still bring every node up to date without any periodic repair.
#include <gtest/gtest.h>

#include <vector>

#include "util.h"

namespace pbxstate::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

inproc::ClusterOptions ReliableOptions(std::size_t nodes) {
  inproc::ClusterOptions opt;
  opt.nodes = nodes;
  opt.seed = 5;
  opt.membership = MembershipSource::kTransport;
  opt.transport_views = inproc::TransportViews::kConsistent;
  opt.engine.anti_entropy_interval = Duration::zero();
  return opt;
}

// More nodes pull from the healed node at once than it serves (max_sync_serves = 4): the ones
// it refuses must get the data some other way (another donor, or a later retry).
class ReliableHeal : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ReliableHeal, MorePullersThanServesConverges) {
  const std::size_t n = GetParam();
  auto c = MakeCluster(ReliableOptions(n));
  ASSERT_TRUE(c);
  const std::size_t lone = n - 1;
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  std::vector<std::size_t> rest;
  for (std::size_t i = 0; i < lone; ++i) rest.push_back(i);
  PBX_ASSERT_OK(c->Partition({rest, {lone}}));
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  PBX_ASSERT_OK(c->SetDeviceState(lone, "PJSIP/alice", DeviceState::kBusy));
  PBX_ASSERT_OK(c->SetRegistration(lone, "alice", "sip:alice@198.51.100.6:5060", std::chrono::hours(1)));
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  c->Heal();
  PBX_ASSERT_OK(c->Advance(seconds(10)));
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(ToString(c->DeviceStateAt(i, "PJSIP/alice")), "BUSY") << "node " << i;
    EXPECT_EQ(c->RegistrationsAt(i, "alice").size(), 1u) << "node " << i;
  }
  EXPECT_TRUE(c->Converged());
}

// 6 nodes: one more puller than max_sync_serves (4); 9 and 12: the refused outnumber the served.
INSTANTIATE_TEST_SUITE_P(Nodes, ReliableHeal, ::testing::Values(6, 9, 12));

// The same with a node that restarts while cut off: its new incarnation's entries reach everyone.
TEST(ReliableTransport, RestartWhileIsolatedThenHealConverges) {
  auto c = MakeCluster(ReliableOptions(6));
  ASSERT_TRUE(c);
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  PBX_ASSERT_OK(c->SetDeviceState(5, "PJSIP/bob", DeviceState::kInUse));
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  PBX_ASSERT_OK(c->Crash(5));
  PBX_ASSERT_OK(c->Partition({{0, 1, 2, 3, 4}, {5}}));
  PBX_ASSERT_OK(c->Restart(5));
  PBX_ASSERT_OK(c->SetDeviceState(5, "PJSIP/bob", DeviceState::kRinging));
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  c->Heal();
  PBX_ASSERT_OK(c->Advance(seconds(10)));
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(ToString(c->DeviceStateAt(i, "PJSIP/bob")), "RINGING") << "node " << i;
  }
  EXPECT_TRUE(c->Converged());
}

// Three sides heal at once and two of them wrote the same mailbox. The third must end with the
// later write (MWI is last-writer-wins), whichever side's digest it happens to act on first.
// max_sync_pulls = 1 makes the pulls queue up behind each other, as they do in a large cluster.
TEST(ReliableTransport, ThreeWayHealTakesTheLatestMailboxWrite) {
  inproc::ClusterOptions opt = ReliableOptions(3);
  opt.engine.max_sync_pulls = 1;
  auto c = MakeCluster(opt);
  ASSERT_TRUE(c);
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  PBX_ASSERT_OK(c->Partition({{0}, {1}, {2}}));
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  PBX_ASSERT_OK(c->SetDeviceState(0, "PJSIP/alice", DeviceState::kInUse));
  PBX_ASSERT_OK(c->SetMailbox(0, "100@default", {1, 0, 0}));
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  PBX_ASSERT_OK(c->SetDeviceState(1, "PJSIP/bob", DeviceState::kInUse));
  PBX_ASSERT_OK(c->SetMailbox(1, "100@default", {2, 0, 0}));
  const WallTime latest = c->wall_now();
  // The later writer's frames to the earlier writer are slow: node 2 acts on node 0's mailbox set
  // before node 0 has merged node 1's.
  inproc::LinkFaults slow;
  slow.delay = milliseconds(300);
  PBX_ASSERT_OK(c->SetLinkFaults(1, 0, slow));
  PBX_ASSERT_OK(c->Advance(seconds(1)));
  c->Heal();
  PBX_ASSERT_OK(c->Advance(seconds(10)));
  for (std::size_t i = 0; i < 3; ++i) {
    auto m = c->MailboxAt(i, "100@default");
    ASSERT_TRUE(m.has_value()) << "node " << i;
    EXPECT_EQ(m->counts.new_messages, 2u) << "node " << i;
    EXPECT_EQ(m->writer, 2u) << "node " << i;
    EXPECT_EQ(m->hlc.physical_ns, latest.time_since_epoch().count()) << "node " << i;
    EXPECT_EQ(ToString(c->DeviceStateAt(i, "PJSIP/alice")), "INUSE") << "node " << i;
    EXPECT_EQ(ToString(c->DeviceStateAt(i, "PJSIP/bob")), "INUSE") << "node " << i;
  }
  EXPECT_TRUE(c->Converged());
}

}  // namespace
}  // namespace pbxstate::testing
