// The test from Asterisk's distributed device state guide ("Testing Distributed Device State"):
// set Custom:mystate on one server's CLI, read DEVICE_STATE() on the others.
#include <gtest/gtest.h>

#include "pbxstate/harness/oracle.h"
#include "util.h"

namespace pbxstate::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class Classic : public ::testing::TestWithParam<MembershipSource> {};

// Within this time of a change every node must show it. Links take 1 ms and the batch window is
// 0, so only a change that waits for a timer (anti-entropy every second) can miss it.
constexpr auto kPropagation = milliseconds(50);

TEST_P(Classic, CustomMystateAcrossThreeServers) {
  inproc::ClusterOptions opt;
  opt.nodes = 3;
  opt.seed = 42;
  opt.membership = GetParam();
  auto c = MakeCluster(opt);
  ASSERT_TRUE(c);
  PBX_ASSERT_OK(c->Advance(seconds(3)));
  ASSERT_TRUE(c->Converged()) << "three idle nodes did not agree on membership";
  const char* dev = "Custom:mystate";
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(c->DeviceStateAt(i, dev), std::nullopt) << "node " << i;

  // server1*CLI> dialplan set global DEVICE_STATE(Custom:mystate) INUSE
  PBX_ASSERT_OK(c->SetDeviceState(0, dev, DeviceState::kInUse));
  PBX_ASSERT_OK(c->Advance(kPropagation));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ToString(c->DeviceStateAt(i, dev)), "INUSE") << "node " << i;
    auto contributions = c->engine(i)->DeviceContributions(dev);
    ASSERT_EQ(contributions.size(), 1u) << "node " << i;
    EXPECT_EQ(contributions[0].node, 1u);
    EXPECT_EQ(contributions[0].version.incarnation, c->incarnation(0));
  }

  // server1: NOT_INUSE, server2: INUSE -> INUSE everywhere (NOT_INUSE < INUSE).
  PBX_ASSERT_OK(c->SetDeviceState(0, dev, DeviceState::kNotInUse));
  PBX_ASSERT_OK(c->SetDeviceState(1, dev, DeviceState::kInUse));
  PBX_ASSERT_OK(c->Advance(kPropagation));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ToString(c->DeviceStateAt(i, dev)), "INUSE") << "node " << i;
    auto contributions = c->engine(i)->DeviceContributions(dev);
    ASSERT_EQ(contributions.size(), 2u) << "node " << i;
    EXPECT_EQ(contributions[0].node, 1u);
    EXPECT_EQ(contributions[0].state, DeviceState::kNotInUse);
    EXPECT_EQ(contributions[1].node, 2u);
    EXPECT_EQ(contributions[1].state, DeviceState::kInUse);
  }

  // server2 hangs up: NOT_INUSE everywhere.
  PBX_ASSERT_OK(c->SetDeviceState(1, dev, DeviceState::kNotInUse));
  PBX_ASSERT_OK(c->Advance(kPropagation));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(ToString(c->DeviceStateAt(i, dev)), "NOT_INUSE") << "node " << i;

  // RINGING on server3 while server1 is INUSE: Asterisk says RINGINUSE.
  PBX_ASSERT_OK(c->SetDeviceState(0, dev, DeviceState::kInUse));
  PBX_ASSERT_OK(c->SetDeviceState(2, dev, DeviceState::kRinging));
  PBX_ASSERT_OK(c->Advance(kPropagation));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(ToString(c->DeviceStateAt(i, dev)), "RINGINUSE") << "node " << i;
}

INSTANTIATE_TEST_SUITE_P(Modes, Classic,
                         ::testing::Values(MembershipSource::kHeartbeat, MembershipSource::kTransport),
                         [](const auto& p) { return ModeName(p.param); });

// The harness oracle's aggregation (sim/harness, the one oracle of every backend and of the
// swarm) against Asterisk's table in main/devicestate.c, so a wrong oracle cannot pass the suite.
TEST(OracleAggregate, MatchesDevicestateC) {
  using S = DeviceState;
  const auto AsteriskAggregate = harness::OracleAggregate;
  EXPECT_EQ(AsteriskAggregate({}), std::nullopt);
  EXPECT_EQ(AsteriskAggregate({S::kInvalid}), S::kInvalid);
  EXPECT_EQ(AsteriskAggregate({S::kNotInUse, S::kInUse}), S::kInUse);
  EXPECT_EQ(AsteriskAggregate({S::kUnknown, S::kUnavailable}), S::kUnavailable);
  EXPECT_EQ(AsteriskAggregate({S::kUnavailable, S::kNotInUse}), S::kNotInUse);
  EXPECT_EQ(AsteriskAggregate({S::kOnHold, S::kNotInUse}), S::kOnHold);
  EXPECT_EQ(AsteriskAggregate({S::kRinging, S::kOnHold}), S::kRingInUse);
  EXPECT_EQ(AsteriskAggregate({S::kBusy, S::kRinging}), S::kRingInUse);
  EXPECT_EQ(AsteriskAggregate({S::kInUse, S::kBusy}), S::kBusy);
  EXPECT_EQ(AsteriskAggregate({S::kRinging, S::kNotInUse}), S::kRinging);
  EXPECT_EQ(AsteriskAggregate({S::kRingInUse, S::kNotInUse}), S::kRingInUse);
  EXPECT_EQ(AsteriskAggregate({S::kInvalid, S::kUnknown}), S::kUnknown);
}

}  // namespace
}  // namespace pbxstate::testing
