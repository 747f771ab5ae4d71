// Authenticated clusters on the inproc network: a key rotation under load and loss that never
// stops convergence, and a node with the wrong key that cannot change anyone's state.
#include <gtest/gtest.h>

#include <string>

#include "util.h"

namespace pbxstate::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Key(char fill) { return std::string(kClusterKeyBytes, fill); }

std::uint64_t Dropped(const inproc::Cluster& c, std::size_t i, DropReason r) {
  return c.stats(i).dropped[static_cast<std::size_t>(r)];
}

class AuthCluster : public ::testing::TestWithParam<MembershipSource> {};

// Every node goes from {A} to {A, B} (send A, accept both), then {B, A}, then {B}, one node at a
// time, while every node keeps changing devices on lossy links. No frame may be refused for its
// key at any step, and the cluster must converge after each step.
TEST_P(AuthCluster, KeyRotationFromAToBNeverStopsConvergence) {
  inproc::ClusterOptions opt;
  opt.nodes = 5;
  opt.seed = 7;
  opt.membership = GetParam();
  opt.engine.cluster_keys = {Key('A')};
  opt.engine.anti_entropy_interval = milliseconds(300);
  opt.link.delay = milliseconds(3);
  opt.link.jitter = milliseconds(4);
  opt.link.loss = 0.05;
  opt.link.duplicate = 0.05;
  auto c = MakeCluster(opt);
  ASSERT_TRUE(c);
  PBX_ASSERT_OK(c->Advance(seconds(3)));
  ASSERT_TRUE(c->Converged());

  const std::vector<std::vector<std::string>> steps = {
      {Key('A'), Key('B')}, {Key('B'), Key('A')}, {Key('B')}};
  int change = 0;
  for (std::size_t step = 0; step < steps.size(); ++step) {
    for (std::size_t i = 0; i < c->size(); ++i) {
      PBX_ASSERT_OK(c->engine(i)->SetClusterKeys(steps[step]));
      // Changes keep flowing from every node while the others are still on the old keys.
      for (std::size_t j = 0; j < c->size(); ++j) {
        const auto state = (change++ % 2) == 0 ? DeviceState::kInUse : DeviceState::kRinging;
        PBX_ASSERT_OK(c->SetDeviceState(j, "PJSIP/phone" + std::to_string(j), state));
      }
      PBX_ASSERT_OK(c->Advance(milliseconds(200)));
    }
    // Loss is repaired by anti-entropy, under whatever keys are in force.
    PBX_ASSERT_OK(c->Advance(seconds(5)));
    EXPECT_TRUE(c->Converged()) << "not converged after rotation step " << step;
    for (std::size_t i = 0; i < c->size(); ++i) {
      EXPECT_EQ(c->engine(i)->Members().size(), c->size()) << "node " << i << " lost members at step " << step;
      for (std::size_t j = 0; j < c->size(); ++j) {
        EXPECT_EQ(c->DeviceStateAt(i, "PJSIP/phone" + std::to_string(j)),
                  c->DeviceStateAt(j, "PJSIP/phone" + std::to_string(j)))
            << "node " << i << " on node " << j << "'s phone at step " << step;
      }
    }
  }
  for (std::size_t i = 0; i < c->size(); ++i) {
    for (DropReason r : {DropReason::kBadMac, DropReason::kUnknownKey, DropReason::kUnauthenticated}) {
      EXPECT_EQ(Dropped(*c, i, r), 0u) << "node " << i << " " << DropReasonName(r);
    }
    // The network duplicated frames: with keys those are refused as replays, not applied twice.
    EXPECT_TRUE(c->engine(i)->authenticated());
  }
  std::uint64_t replayed = 0;
  for (std::size_t i = 0; i < c->size(); ++i) replayed += Dropped(*c, i, DropReason::kReplayed);
  EXPECT_GT(replayed, 0u) << "5% duplication should have produced refused replays";

  // After the rotation, a node still on A alone is shut out.
  PBX_ASSERT_OK(c->engine(4)->SetClusterKeys({Key('A')}));
  PBX_ASSERT_OK(c->SetDeviceState(4, "PJSIP/phone4", DeviceState::kBusy));
  // Long enough for anti-entropy to send again what 5 % loss dropped: every node must have seen
  // (and refused) node 4's frames, not merely missed them.
  PBX_ASSERT_OK(c->Advance(seconds(3)));
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NE(c->DeviceStateAt(i, "PJSIP/phone4"), DeviceState::kBusy) << "node " << i;
    EXPECT_GT(Dropped(*c, i, DropReason::kUnknownKey), 0u) << "node " << i;
  }
}

// Node 2 (index 1) holds key B while the others hold A. Whatever it sets, no other node ever
// shows it, in either membership mode (with transport membership it even stays a member).
TEST_P(AuthCluster, NodeWithTheWrongKeyCannotChangeAnyonesState) {
  inproc::ClusterOptions opt;
  opt.nodes = 4;
  opt.seed = 11;
  opt.membership = GetParam();
  opt.engine.cluster_keys = {Key('A')};
  auto c = MakeCluster(opt);
  ASSERT_TRUE(c);
  // Before any frame is delivered: node 1 switches to the wrong key (its first heartbeat, sealed
  // with A at start-up, is already on its way and is the only frame of it anyone accepts).
  PBX_ASSERT_OK(c->engine(1)->SetClusterKeys({Key('B')}));
  PBX_ASSERT_OK(c->Advance(seconds(3)));
  PBX_ASSERT_OK(c->SetDeviceState(0, "PJSIP/alice", DeviceState::kNotInUse));
  PBX_ASSERT_OK(c->SetMailbox(0, "100@default", {1, 0, 0}));
  PBX_ASSERT_OK(c->Advance(seconds(1)));

  // The intruder tries everything a node can do.
  PBX_ASSERT_OK(c->SetDeviceState(1, "PJSIP/alice", DeviceState::kBusy));
  PBX_ASSERT_OK(c->SetDeviceState(1, "PJSIP/mallory", DeviceState::kInUse));
  PBX_ASSERT_OK(c->SetMailbox(1, "100@default", {99, 99, 99}));
  PBX_ASSERT_OK(c->SetRegistration(1, "alice", "sip:alice@203.0.113.66:5060", seconds(3600)));
  PBX_ASSERT_OK(c->Advance(seconds(10)));

  for (std::size_t i : {0u, 2u, 3u}) {
    EXPECT_EQ(c->DeviceStateAt(i, "PJSIP/alice"), DeviceState::kNotInUse) << "node " << i;
    EXPECT_EQ(c->DeviceStateAt(i, "PJSIP/mallory"), std::nullopt) << "node " << i;
    ASSERT_TRUE(c->MailboxAt(i, "100@default")) << "node " << i;
    EXPECT_EQ(c->MailboxAt(i, "100@default")->counts.new_messages, 1u) << "node " << i;
    EXPECT_TRUE(c->RegistrationsAt(i, "alice").empty()) << "node " << i;
    for (const auto& contribution : c->engine(i)->DeviceContributions("PJSIP/alice")) {
      EXPECT_NE(contribution.node, inproc::Cluster::IdOf(1)) << "node " << i;
    }
    EXPECT_GT(Dropped(*c, i, DropReason::kUnknownKey), 0u) << "node " << i;
    EXPECT_EQ(Dropped(*c, i, DropReason::kBadMac), 0u) << "node " << i;
  }
  // The honest nodes still agree with each other.
  EXPECT_EQ(c->engine(0)->Digest(), c->engine(2)->Digest());
  EXPECT_EQ(c->engine(0)->Digest(), c->engine(3)->Digest());
}

INSTANTIATE_TEST_SUITE_P(Modes, AuthCluster,
                         ::testing::Values(MembershipSource::kHeartbeat, MembershipSource::kTransport),
                         [](const ::testing::TestParamInfo<MembershipSource>& p) { return ModeName(p.param); });

}  // namespace
}  // namespace pbxstate::testing
