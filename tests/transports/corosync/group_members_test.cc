#include "pbxstate/corosync/group_members.h"

#include <gtest/gtest.h>

#include <vector>

namespace pbxstate::corosync {
namespace {

using Nodes = std::vector<NodeId>;

TEST(GroupMembers, ViewIsTheSortedNodeIdsAndAlwaysHoldsSelf) {
  GroupMembers g({2, 200});
  EXPECT_EQ(g.Nodes(), Nodes({2}));
  auto u = g.Apply(std::vector<CpgMember>{{3, 300}, {2, 200}, {1, 100}});
  EXPECT_TRUE(u.nodes_changed);
  EXPECT_FALSE(u.self_is_duplicate);
  EXPECT_TRUE(u.newly_ignored.empty());
  EXPECT_EQ(g.Nodes(), Nodes({1, 2, 3}));
  EXPECT_TRUE(g.Accepts(3, 300));
  EXPECT_FALSE(g.Accepts(3, 301));
  u = g.Apply(std::vector<CpgMember>{{2, 200}, {1, 100}});
  EXPECT_TRUE(u.nodes_changed);
  EXPECT_EQ(g.Nodes(), Nodes({1, 2}));
  EXPECT_FALSE(g.HasNode(3));
  u = g.Apply(std::vector<CpgMember>{{2, 200}, {1, 100}});
  EXPECT_FALSE(u.nodes_changed);
}

TEST(GroupMembers, SecondProcessOfANodeIsIgnoredOnceReportedAndTheFirstKept) {
  GroupMembers g({1, 100});
  g.Apply(std::vector<CpgMember>{{1, 100}, {2, 200}});
  // A second process on node 2 joins; CPG may list it first.
  auto u = g.Apply(std::vector<CpgMember>{{2, 201}, {1, 100}, {2, 200}});
  EXPECT_FALSE(u.nodes_changed);
  ASSERT_EQ(u.newly_ignored.size(), 1u);
  EXPECT_EQ(u.newly_ignored[0].pid, 201u);
  EXPECT_TRUE(g.Accepts(2, 200));
  EXPECT_FALSE(g.Accepts(2, 201));
  // Reported once only.
  u = g.Apply(std::vector<CpgMember>{{2, 201}, {1, 100}, {2, 200}});
  EXPECT_TRUE(u.newly_ignored.empty());
  // The accepted one leaves: the other takes over node 2 (the node stays in the view).
  u = g.Apply(std::vector<CpgMember>{{2, 201}, {1, 100}});
  EXPECT_FALSE(u.nodes_changed);
  EXPECT_TRUE(g.Accepts(2, 201));
}

TEST(GroupMembers, ANewcomerNextToAnOlderProcessOfItsNodeIsTheDuplicate) {
  GroupMembers g({1, 150});
  auto u = g.Apply(std::vector<CpgMember>{{1, 100}, {2, 200}, {1, 150}});
  EXPECT_TRUE(u.self_is_duplicate);
  // Once established, a later second process of our node is the one ignored.
  GroupMembers h({1, 100});
  h.Apply(std::vector<CpgMember>{{1, 100}});
  u = h.Apply(std::vector<CpgMember>{{1, 100}, {1, 150}});
  EXPECT_FALSE(u.self_is_duplicate);
  ASSERT_EQ(u.newly_ignored.size(), 1u);
  EXPECT_EQ(u.newly_ignored[0].pid, 150u);
  EXPECT_TRUE(h.Accepts(1, 100));
}

TEST(GroupMembers, ResetToSelfForgetsEveryoneAndStartsOver) {
  GroupMembers g({1, 100});
  g.Apply(std::vector<CpgMember>{{1, 100}, {2, 200}});
  g.ResetToSelf();
  EXPECT_EQ(g.Nodes(), Nodes({1}));
  EXPECT_FALSE(g.Accepts(2, 200));
  // After a reconnect the first configuration change is our first appearance again.
  auto u = g.Apply(std::vector<CpgMember>{{1, 100}, {2, 200}});
  EXPECT_TRUE(u.nodes_changed);
  EXPECT_FALSE(u.self_is_duplicate);
}

}  // namespace
}  // namespace pbxstate::corosync
