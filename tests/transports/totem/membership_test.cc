// The Corosync model's membership on an in-memory network (harness.h): a dead node is declared
// after the effective token plus consensus, a partition forms two rings, a heal one, knet's links
// must come up first, a booting node joins, CPG views follow the rings.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace pbxstate::totem::testing {
namespace {

TotemConfig Config(Transport transport, Duration token, Duration coefficient) {
  TotemConfig c;
  c.transport = transport;
  c.token = token;
  c.token_coefficient = coefficient;
  return c;
}

// Keeps the ring busy: node `from` sends a message every `every` in [start, stop).
void Chatter(Net& net, NodeId from, Duration start, Duration stop, Duration every) {
  for (Duration t = start; t < stop; t += every) {
    net.At(t, [&net, from, t] {
      const std::string text = "c" + std::to_string(t.count());
      net.member(from).node().Send(kNoNode, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    });
  }
}

// When `node` formed its last ring and with whom; fails the test if it formed none.
std::pair<Duration, std::vector<NodeId>> LastRing(Net& net, NodeId node) {
  const auto& rings = net.member(node).rings;
  EXPECT_FALSE(rings.empty()) << "node " << node << " formed no ring";
  return rings.empty() ? std::pair<Duration, std::vector<NodeId>>{} : rings.back();
}

struct DetectionCase {
  std::size_t nodes;
  Duration token, coefficient;
  Duration expected;  // effective token + consensus
};

class FailureDetection : public ::testing::TestWithParam<DetectionCase> {};

TEST_P(FailureDetection, ADeadNodeLeavesAfterTheEffectiveTokenPlusConsensus) {
  const DetectionCase p = GetParam();
  Net net(p.nodes, Config(Transport::kUdp, p.token, p.coefficient));
  net.StartFormed();
  Chatter(net, 1, 500ms, 20s, 5ms);  // a busy ring: the token was last seen when the node died
  const NodeId dead = static_cast<NodeId>(p.nodes);
  net.At(2s, [&net, dead] { net.Kill(dead); });
  net.RunUntil(20s);
  std::vector<NodeId> survivors;
  for (NodeId n = 1; n < dead; ++n) survivors.push_back(n);
  for (NodeId n : survivors) {
    const auto [at, members] = LastRing(net, n);
    EXPECT_EQ(members, survivors);
    // Gather, the commit token's two rotations and recovery's four take a few hops of 100 us.
    EXPECT_GE(at - 2s, p.expected) << "node " << n;
    EXPECT_LE(at - 2s, p.expected + 10ms) << "node " << n;
    ASSERT_FALSE(net.member(n).views.empty());
    EXPECT_EQ(net.member(n).views.back(), survivors);
    EXPECT_EQ(net.member(n).node().srp().counters().consensus_timeouts, 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Corosync, FailureDetection,
    ::testing::Values(DetectionCase{3, 1000ms, 0ms, 2200ms},          // the PBX-tuned token: 1000 + 1200
                      DetectionCase{3, 3000ms, 650ms, 8030ms},        // Corosync's defaults: 3650 + 4380
                      DetectionCase{5, 1000ms, 650ms, 2950ms + 3540ms}),  // 1000 + 3 x 650, 1.2 x that
    // "3nodes_token1000ms_coefficient0ms": the case in the test's name, not its bytes.
    [](const ::testing::TestParamInfo<DetectionCase>& param_info) {
      const auto ms = [](Duration d) { return std::to_string(d.count() / 1'000'000) + "ms"; };
      return std::to_string(param_info.param.nodes) + "nodes_token" + ms(param_info.param.token) + "_coefficient" +
             ms(param_info.param.coefficient);
    });

TEST(TotemMembership, APartitionFormsTwoRingsAndAHealOne) {
  Net net(5, Config(Transport::kUdp, 1000ms, 0ms));
  net.StartFormed();
  net.At(1s, [&net] { net.Partition({{1, 2}, {3, 4, 5}}); });
  net.At(6s, [&net] { net.Heal(); });
  net.RunUntil(5s);
  EXPECT_EQ(LastRing(net, 1).second, (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(LastRing(net, 4).second, (std::vector<NodeId>{3, 4, 5}));
  EXPECT_EQ(net.member(2).views.back(), (std::vector<NodeId>{1, 2}));
  net.RunUntil(10s);
  for (NodeId n = 1; n <= 5; ++n) {
    const auto [at, members] = LastRing(net, n);
    EXPECT_EQ(members, (std::vector<NodeId>{1, 2, 3, 4, 5})) << n;
    // UDP multicast: an idle representative's merge-detect within `merge` (200 ms) after a token
    // visit, then one join round (50 ms) and the ring's formation.
    EXPECT_LE(at - 6s, 500ms) << n;
    EXPECT_EQ(net.member(n).views.back(), (std::vector<NodeId>{1, 2, 3, 4, 5})) << n;
  }
}

TEST(TotemMembership, OverKnetAHealWaitsForTheLinksToComeBack) {
  Net net(3, Config(Transport::kKnet, 1000ms, 0ms));
  net.StartFormed();
  net.At(12s, [&net] { net.Partition({{1}, {2, 3}}); });
  net.At(20s, [&net] { net.Heal(); });
  net.RunUntil(19s);
  ASSERT_NE(net.member(1).node().knet(), nullptr);
  EXPECT_FALSE(net.member(1).node().knet()->Up(2));
  EXPECT_EQ(LastRing(net, 1).second, (std::vector<NodeId>{1}));
  net.RunUntil(25s);
  for (NodeId n = 1; n <= 3; ++n) {
    const auto [at, members] = LastRing(net, n);
    EXPECT_EQ(members, (std::vector<NodeId>{1, 2, 3}));
    // A ping every 400 ms (250 ms rounded up to knet's 200 ms ticks); up on the third pong.
    EXPECT_GE(at - 20s, 800ms) << n;
    EXPECT_LE(at - 20s, 1200ms + 500ms) << n;
  }
  EXPECT_TRUE(net.member(1).node().knet()->Up(3));
}

TEST(TotemMembership, ABootingNodeJoinsTheRingAndItsProcessTheGroup) {
  Net net(3, Config(Transport::kUdp, 1000ms, 0ms));
  net.StartFormed();
  net.At(1s, [&net] { net.Kill(3); });
  net.At(6s, [&net] { net.Boot(3, 4); });
  net.RunUntil(5s);
  EXPECT_EQ(LastRing(net, 1).second, (std::vector<NodeId>{1, 2}));
  net.RunUntil(8s);
  for (NodeId n = 1; n <= 3; ++n) {
    const auto [at, members] = LastRing(net, n);
    EXPECT_EQ(members, (std::vector<NodeId>{1, 2, 3})) << n;
    EXPECT_LE(at - 6s, 200ms) << n;  // its joins reach the ring at once
    ASSERT_FALSE(net.member(n).views.empty()) << n;
    EXPECT_EQ(net.member(n).views.back(), (std::vector<NodeId>{1, 2, 3})) << n;
  }
}

TEST(TotemMembership, AProcessLeavingIsSeenInOneMessageRound) {
  Net net(3, Config(Transport::kUdp, 1000ms, 0ms));
  net.StartFormed();
  net.At(1s, [&net] { net.member(3).node().ProcessLeave(); });
  net.RunUntil(1010ms);
  EXPECT_EQ(net.member(1).views.back(), (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(net.member(2).views.back(), (std::vector<NodeId>{1, 2}));
  EXPECT_TRUE(net.member(1).rings.empty());  // the ring did not change
  net.At(2s, [&net] { net.member(3).node().ProcessJoin(); });
  net.RunUntil(2010ms);
  for (NodeId n = 1; n <= 3; ++n) EXPECT_EQ(net.member(n).views.back(), (std::vector<NodeId>{1, 2, 3})) << n;
}

}  // namespace
}  // namespace pbxstate::totem::testing
