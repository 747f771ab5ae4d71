// The keys the in-process backend brought to the schema: cluster.membership, views and
// view_delay; duplicate, reorder and reorder_delay on LANs, links and degrades.
#include <gtest/gtest.h>

#include <string>

#include "pbxstate/scenario/loader.h"
#include "scenario_yaml.h"

namespace pbxstate::scenario {
namespace {

using test_support::LoadErrors;

LoadResult Load(const std::string& cluster_extra, const std::string& network, const std::string& faults = "") {
  return LoadScenarioString("name: k\nduration: 10s\ncluster:\n  sites: [{name: a, nodes: 2}, {name: b, nodes: 1}]\n" +
                                cluster_extra + "network:\n" + network + faults,
                            "k.yaml");
}

TEST(NetworkKeys, MembershipAndViews) {
  LoadResult r = Load("", "  lan: {delay: 1ms}\n");
  ASSERT_TRUE(r.ok()) << LoadErrors(r);
  EXPECT_FALSE(r.scenario->membership.source.has_value()) << "unset: the backend's own";
  r = Load("  membership: transport\n  views: per_node\n  view_delay: 250ms\n", "  lan: {delay: 1ms}\n");
  ASSERT_TRUE(r.ok()) << LoadErrors(r);
  EXPECT_EQ(r.scenario->membership.source, MembershipSource::kTransport);
  EXPECT_EQ(r.scenario->membership.views, ViewModel::kPerNode);
  EXPECT_EQ(r.scenario->membership.view_delay, std::chrono::milliseconds(250));
  EXPECT_EQ(r.scenario->membership.pos.line, 5);
  r = Load("  membership: heartbeat\n", "  lan: {delay: 1ms}\n");
  ASSERT_TRUE(r.ok()) << LoadErrors(r);
  EXPECT_EQ(r.scenario->membership.source, MembershipSource::kHeartbeat);
}

TEST(NetworkKeys, ViewsNeedTransportMembership) {
  LoadResult r = Load("  membership: heartbeat\n  views: per_node\n  view_delay: 1s\n", "  lan: {delay: 1ms}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(LoadErrors(r),
            "k.yaml:6:10: cluster.views: views are formed by a membership service; expected membership: transport "
            "beside it\n"
            "k.yaml:7:15: cluster.view_delay: views are formed by a membership service; expected membership: "
            "transport beside it\n");
  r = Load("  membership: cpg\n", "  lan: {delay: 1ms}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(LoadErrors(r).find("k.yaml:5:15: cluster.membership: "), std::string::npos) << LoadErrors(r);
}

TEST(NetworkKeys, DuplicateAndReorderOnLansLinksAndDegrades) {
  LoadResult r = Load("",
                      "  lan: {duplicate: 2%}\n  sites:\n    b: {reorder: 10%, reorder_delay: 5ms}\n"
                      "  wan: {delay: 30ms, reorder: 1%}\n",
                      "faults:\n  - {at: 1s, degrade: {link: [a, b], duplicate: 50%}}\n");
  ASSERT_TRUE(r.ok()) << LoadErrors(r);
  const Scenario& s = *r.scenario;
  EXPECT_DOUBLE_EQ(s.topology.sites[0].lan.frames.duplicate, 0.02);
  EXPECT_EQ(s.topology.sites[0].lan.frames.pos.line, 6);
  EXPECT_DOUBLE_EQ(s.topology.sites[1].lan.frames.duplicate, 0.02) << "inherited from lan";
  EXPECT_DOUBLE_EQ(s.topology.sites[1].lan.frames.reorder, 0.10);
  EXPECT_EQ(s.topology.sites[1].lan.frames.reorder_delay, std::chrono::milliseconds(5));
  EXPECT_EQ(s.topology.sites[0].lan.frames.reorder_delay, std::chrono::milliseconds(20)) << "the default";
  EXPECT_DOUBLE_EQ(s.topology.links[0].params.frames.reorder, 0.01);
  const auto& d = std::get<Degrade>(s.faults[0].what);
  EXPECT_TRUE(d.frame_faults());
  EXPECT_DOUBLE_EQ(*d.duplicate, 0.5);
  // A degrade of reorder_delay alone is a change too.
  r = Load("", "  lan: {delay: 1ms}\n", "faults:\n  - {at: 1s, degrade: {site: a, reorder_delay: 1ms}}\n");
  ASSERT_TRUE(r.ok()) << LoadErrors(r);
}

TEST(NetworkKeys, OutOfRangeIsRefusedWithItsPlace) {
  LoadResult r = Load("", "  lan: {duplicate: 120%, reorder_delay: 11s}\n");
  ASSERT_FALSE(r.ok());
  const std::string e = LoadErrors(r);
  EXPECT_NE(e.find("k.yaml:6:20: network.lan.duplicate: expected a duplication share from 0% to 100%"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("network.lan.reorder_delay: "), std::string::npos) << e;
}

}  // namespace
}  // namespace pbxstate::scenario
