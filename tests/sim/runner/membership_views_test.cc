// How each backend feeds the oracle transport views (sim/harness/README.md, "Membership
// views"): the netns and emu backends' mapping of pbxstated's transport_view events onto the
// run's timeline (sim/runner/src/netns_views.h), the judging of real clusters as transport
// membership, and ns-3 runs over the Corosync model (a `corosync:` section) feeding the model's
// views.
#include <gtest/gtest.h>

#include <algorithm>

#include "netns_views.h"
#include "run_steps.h"
#include "pbxstate/harness/history.h"
#include "pbxstate/runner/ns3_runner.h"
#include "pbxstate/scenario/loader.h"
#include "scenario_yaml.h"

namespace pbxstate::runner {
namespace {

using namespace std::chrono_literals;

using test_support::LoadYaml;

TEST(MembershipViews, ATransportViewIsPlacedOnTheRunsTimeline) {
  const std::int64_t start = 5'000'000'000;
  const control::TransportViewEvent e{start + 1'250'000'000, 7, {3, 1, 2}};
  const std::optional<DeliveredView> v = HarnessMembership(e, start);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->t, 1250ms);
  EXPECT_EQ(v->members, (std::vector<NodeId>{1, 2, 3}));
}

TEST(MembershipViews, TheViewInForceAtTheStartCountsFromZero) {
  const std::int64_t start = 5'000'000'000;
  const std::optional<DeliveredView> v = HarnessMembership({start - 300'000'000, 4, {1, 2}}, start);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->t, Duration{});
  EXPECT_EQ(v->members, (std::vector<NodeId>{1, 2}));
}

TEST(MembershipViews, NoViewYetIsNoView) {
  // A daemon's first event line before CPG handed it any view: view_id 0, no members.
  EXPECT_FALSE(HarnessMembership(control::TransportViewEvent{}, 5'000'000'000).has_value());
}

constexpr const char* kThree = R"(
name: t
duration: 6s
quiet: 2s
cluster: {nodes: 3}
network:
  lan: {delay: 50us}
workload:
  changes:
    - {at: 500ms, node: 3, device: Custom:d, state: INUSE}
faults:
  - {at: 1s, crash: 3}
)";

TEST(MembershipViews, RealClustersAreJudgedAsTransportMembership) {
  scenario::Scenario s = LoadYaml(kThree);
  EXPECT_EQ(harness::OracleTiming::Of(s).membership, MembershipSource::kHeartbeat);
  JudgeByTransportMembership(&s);
  EXPECT_EQ(harness::OracleTiming::Of(s).membership, MembershipSource::kTransport);
  EXPECT_EQ(s.engine.membership, MembershipSource::kTransport);
}

TEST(MembershipViews, Ns3OverTheCorosyncModelFeedsTheModelsViews) {
  const scenario::Scenario s = LoadYaml(std::string(kThree) + "corosync: {}\n");
  RunOutcome out;
  ASSERT_TRUE(RunNs3(s, RunOptions{}, &out).ok());
  const harness::RunResult& r = out.result;
  EXPECT_EQ(r.membership, MembershipSource::kTransport);
  ASSERT_EQ(r.views.size(), r.view_count);
  // Every node's view of all three at the start; then nodes 1 and 2 see node 3 go, after the
  // crash (by the token), and its device go with it.
  for (NodeId n : {1, 2, 3}) {
    EXPECT_TRUE(std::any_of(r.views.begin(), r.views.end(), [n](const harness::MembershipRecord& v) {
      return v.node == n && v.members == std::vector<NodeId>{1, 2, 3};
    })) << "node " << n;
  }
  for (NodeId n : {1, 2}) {
    auto drop = std::find_if(r.views.begin(), r.views.end(), [n](const harness::MembershipRecord& v) {
      return v.node == n && v.members == std::vector<NodeId>{1, 2};
    });
    ASSERT_NE(drop, r.views.end()) << "node " << n;
    EXPECT_GT(drop->t, 1s);
  }
  EXPECT_EQ(r.discrepancy_count, 0u);
}

}  // namespace
}  // namespace pbxstate::runner
