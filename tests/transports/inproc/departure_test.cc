// Stale BUSY (ASTERISK-28888): a server dies holding BUSY for a phone. After the departure grace
// its contribution must stop counting everywhere, and must not come back with a restart.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>

#include "util.h"

namespace pbxstate::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kDev = "PJSIP/bob";

class StaleBusy : public ::testing::TestWithParam<std::tuple<MembershipSource, Duration>> {
 protected:
  void SetUp() override {
    auto [membership, grace] = GetParam();
    opt_.nodes = 3;
    opt_.seed = 7;
    opt_.membership = membership;
    opt_.engine.departure_grace = grace;
    c_ = MakeCluster(opt_);
    ASSERT_TRUE(c_);
    c_->SetTraceHook([this](const inproc::TraceEvent& te) {
      if (te.kind == inproc::TraceKind::kViewChange && te.change->kind == EntryKind::kDevice &&
          te.change->key == kDev && te.change->cause == ChangeCause::kDeparture) {
        departures_[te.node]++;
      }
    });
    PBX_ASSERT_OK(c_->Advance(seconds(3)));
    ASSERT_TRUE(c_->Converged());
    PBX_ASSERT_OK(c_->SetDeviceState(2, kDev, DeviceState::kBusy));
    PBX_ASSERT_OK(c_->SetDeviceState(0, kDev, DeviceState::kNotInUse));
    PBX_ASSERT_OK(c_->Advance(milliseconds(100)));
    for (std::size_t i = 0; i < 3; ++i) ASSERT_EQ(ToString(c_->DeviceStateAt(i, kDev)), "BUSY") << "node " << i;
  }

  // Earliest and latest instants, after node 2 vanishes, at which its contribution may stop
  // counting. Transport: CPG says so at once (membership_delay 0), then the grace. Heartbeat: the
  // last frame from it was at most one heartbeat interval (plus timer jitter) before it vanished,
  // and it is suspected suspect_after after that frame; allow one more interval for timers.
  Duration EarliestGone() const {
    Duration grace = opt_.engine.departure_grace;
    if (opt_.membership == MembershipSource::kTransport) return grace;
    return grace + opt_.engine.suspect_after - 2 * opt_.engine.heartbeat_interval;
  }
  Duration LatestGone() const {
    Duration grace = opt_.engine.departure_grace;
    if (opt_.membership == MembershipSource::kTransport) return grace + milliseconds(100);
    return grace + opt_.engine.suspect_after + 2 * opt_.engine.heartbeat_interval;
  }

  void ExpectSurvivors(const std::string& state, std::size_t contributors, const std::string& when) {
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(ToString(c_->DeviceStateAt(i, kDev)), state) << "node " << i << " " << when;
      EXPECT_EQ(c_->engine(i)->DeviceContributions(kDev).size(), contributors) << "node " << i << " " << when;
    }
  }

  inproc::ClusterOptions opt_;
  std::unique_ptr<inproc::Cluster> c_;
  std::map<std::size_t, int> departures_;
};

TEST_P(StaleBusy, DeadNodesBusyStopsCountingAfterGrace) {
  MonoTime crash_at = c_->now();
  PBX_ASSERT_OK(c_->Crash(2));
  if (EarliestGone() > milliseconds(0)) {
    PBX_ASSERT_OK(c_->RunUntil(crash_at + EarliestGone() - milliseconds(10)));
    ExpectSurvivors("BUSY", 2, "inside the grace");
    EXPECT_EQ(departures_[0] + departures_[1], 0);
  }
  PBX_ASSERT_OK(c_->RunUntil(crash_at + LatestGone()));
  ExpectSurvivors("NOT_INUSE", 1, "after the grace");
  EXPECT_EQ(departures_[0], 1) << "listener cause kDeparture on node 0";
  EXPECT_EQ(departures_[1], 1) << "listener cause kDeparture on node 1";
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(c_->engine(i)->Members(), (std::vector<NodeId>{1, 2})) << "node " << i;
  }

  // A restart brings back nothing of the old incarnation; its new state counts at once.
  PBX_ASSERT_OK(c_->Restart(2));
  PBX_ASSERT_OK(c_->Advance(seconds(5)));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ToString(c_->DeviceStateAt(i, kDev)), "NOT_INUSE") << "node " << i << " after restart";
    EXPECT_EQ(c_->engine(i)->Members(), (std::vector<NodeId>{1, 2, 3})) << "node " << i;
  }
  PBX_ASSERT_OK(c_->SetDeviceState(2, kDev, DeviceState::kBusy));
  PBX_ASSERT_OK(c_->Advance(milliseconds(100)));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ToString(c_->DeviceStateAt(i, kDev)), "BUSY") << "node " << i << " after restart and BUSY";
    auto contributions = c_->engine(i)->DeviceContributions(kDev);
    ASSERT_EQ(contributions.size(), 2u);
    EXPECT_EQ(contributions[1].version.incarnation, c_->incarnation(2));
  }
}

// A node cut off by a partition departs the same way, and re-announces itself after the heal.
TEST_P(StaleBusy, PartitionedNodeDepartsAndReannounces) {
  MonoTime cut_at = c_->now();
  PBX_ASSERT_OK(c_->Partition({{0, 1}, {2}}));
  PBX_ASSERT_OK(c_->RunUntil(cut_at + LatestGone()));
  ExpectSurvivors("NOT_INUSE", 1, "after the grace");
  // Node 2 sees the others depart in turn: only its own BUSY is left.
  EXPECT_EQ(ToString(c_->DeviceStateAt(2, kDev)), "BUSY");
  EXPECT_EQ(c_->engine(2)->DeviceContributions(kDev).size(), 1u);

  c_->Heal();
  PBX_ASSERT_OK(c_->Advance(seconds(5)));
  EXPECT_TRUE(c_->Converged());
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ToString(c_->DeviceStateAt(i, kDev)), "BUSY") << "node " << i << " after heal";
    EXPECT_EQ(c_->engine(i)->DeviceContributions(kDev).size(), 2u) << "node " << i << " after heal";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, StaleBusy,
    ::testing::Combine(::testing::Values(MembershipSource::kHeartbeat, MembershipSource::kTransport),
                       ::testing::Values(Duration(milliseconds(0)), Duration(seconds(3)))),
    [](const auto& p) {
      return ModeName(std::get<0>(p.param)) + "_grace" +
             std::to_string(std::chrono::duration_cast<milliseconds>(std::get<1>(p.param)).count()) + "ms";
    });

}  // namespace
}  // namespace pbxstate::testing
