// The Corosync model's protocol on an in-memory network (harness.h): agreed order under loss,
// packing, max_messages and window_size, failure detection, partition and merge, a node booting.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "harness.h"

namespace pbxstate::totem::testing {
namespace {

TotemConfig Config(Transport transport = Transport::kUdp) {
  TotemConfig c;
  c.transport = transport;
  c.token = 1000ms;
  c.token_coefficient = 0ms;
  return c;
}

SendStatus SendText(Net& net, NodeId from, const std::string& text) {
  return net.member(from).node().Send(kNoNode, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

// What node `at` delivered from nodes other than `excluding`, in order.
std::vector<std::string> DeliveredExcept(Net& net, NodeId at, NodeId excluding) {
  std::vector<std::string> out;
  for (const auto& d : net.member(at).deliveries) {
    if (d.from != excluding) out.push_back(d.payload);
  }
  return out;
}

struct Sniffed {
  Duration at;
  NodeId from, to;
  PacketType type;
};

// Records every datagram (drops none).
std::function<bool(NodeId, NodeId, std::span<const std::uint8_t>)> Sniffer(Net& net, std::vector<Sniffed>* log) {
  return [&net, log](NodeId from, NodeId to, std::span<const std::uint8_t> bytes) {
    Packet p;
    if (Decode(bytes, &p)) {
      static const PacketType kTypes[] = {PacketType::kToken, PacketType::kMcast, PacketType::kJoin,
                                          PacketType::kCommit, PacketType::kMergeDetect, PacketType::kHoldCancel,
                                          PacketType::kPing};
      log->push_back({net.now(), from, to, kTypes[p.body.index()]});
    }
    return false;
  };
}

TEST(TotemConfig, DerivesCorosyncsTimeouts) {
  TotemConfig defaults;
  TotemTimeouts t = DeriveTimeouts(defaults, 3);
  EXPECT_EQ(t.token, 3650ms);  // 3000 + (3 - 2) x 650
  EXPECT_EQ(t.token_retransmit, 869ms);
  EXPECT_EQ(t.hold, 685ms);
  EXPECT_EQ(t.consensus, 4380ms);
  EXPECT_EQ(t.knet_ping_interval, 912ms);
  EXPECT_EQ(t.knet_ping_timeout, 1825ms);
  t = DeriveTimeouts(defaults, 2);
  EXPECT_EQ(t.token, 3000ms);  // no coefficient below three nodes
  TotemConfig pbx = Config();
  t = DeriveTimeouts(pbx, 5);
  EXPECT_EQ(t.token, 1000ms);
  EXPECT_EQ(t.token_retransmit, 238ms);
  EXPECT_EQ(t.hold, 180ms);
  EXPECT_EQ(t.consensus, 1200ms);
  EXPECT_EQ(t.knet_ping_interval, 250ms);
  pbx.consensus = 900ms;
  EXPECT_EQ(DeriveTimeouts(pbx, 5).consensus, 900ms);
  EXPECT_TRUE(defaults.Validate(16).ok());
}

TEST(TotemConfig, RefusesWhatCorosyncRefuses) {
  TotemConfig c;
  c.token = 20ms;
  EXPECT_NE(c.Validate(3).message().find("token"), std::string::npos);
  c = TotemConfig{};
  c.token = 100ms;  // token_retransmit 23 ms < 30 ms
  EXPECT_FALSE(c.Validate(2).ok());
  c = TotemConfig{};
  c.consensus = 40ms;  // below join (50 ms)
  EXPECT_NE(c.Validate(3).message().find("consensus"), std::string::npos);
  c = TotemConfig{};
  c.join = 1500us;
  EXPECT_NE(c.Validate(3).message().find("whole number"), std::string::npos);
  c = TotemConfig{};
  c.window_size = 0;
  EXPECT_NE(c.Validate(3).message().find("window_size"), std::string::npos);
  // knet_mtu: 0 (discovery) or an MTU an IPv4 interface can have, at most knet's 65535.
  c = TotemConfig{};
  c.knet_mtu = 100;
  EXPECT_NE(c.Validate(3).message().find("knet_mtu"), std::string::npos);
  c.knet_mtu = 65536;
  EXPECT_NE(c.Validate(3).message().find("knet_mtu"), std::string::npos);
  c.knet_mtu = 1500;
  EXPECT_TRUE(c.Validate(3).ok());
  c.knet_mtu = 0;
  EXPECT_TRUE(c.Validate(3).ok());
}

TEST(TotemRing, EveryNodeDeliversTheSameSequenceUnderLoss) {
  Net net(4, Config());
  std::mt19937_64 rng(7);
  net.drop = [&rng](NodeId, NodeId, std::span<const std::uint8_t>) { return rng() % 100 < 5; };  // 5% of every kind
  net.StartFormed();
  std::mt19937_64 plan(11);
  for (int i = 0; i < 400; ++i) {
    const NodeId from = static_cast<NodeId>(1 + plan() % 4);
    const Duration at = 100ms + std::chrono::microseconds(plan() % 2'000'000);
    net.At(at, [&net, from, i] {
      while (SendText(net, from, "m" + std::to_string(i)) != SendStatus::kOk) {
      }
    });
  }
  net.RunUntil(10s);
  for (NodeId n = 1; n <= 4; ++n) {
    EXPECT_EQ(net.member(n).rings.size(), 0u) << "5% loss must not break the ring";
  }
  // Every pair of nodes agrees on the order of what both delivered; nothing is lost or repeated.
  std::size_t total = 0;
  for (NodeId n = 1; n <= 4; ++n) total += net.member(n).deliveries.size();
  EXPECT_EQ(total, 400u * 3);
  for (NodeId a = 1; a <= 4; ++a) {
    for (NodeId b = a + 1; b <= 4; ++b) {
      std::vector<std::string> sa, sb;
      for (const auto& d : net.member(a).deliveries) {
        if (d.from != b) sa.push_back(d.payload);
      }
      for (const auto& d : net.member(b).deliveries) {
        if (d.from != a) sb.push_back(d.payload);
      }
      EXPECT_EQ(sa, sb) << a << " vs " << b;
    }
  }
  EXPECT_GT(net.member(1).node().srp().counters().mcast_retransmits + net.member(2).node().srp().counters().mcast_retransmits +
                net.member(3).node().srp().counters().mcast_retransmits + net.member(4).node().srp().counters().mcast_retransmits,
            0u);
}

// Sends `text` from `from`, again every 10 ms while CPG answers TRY_AGAIN (a ring change's
// synchronisation), as pbxstated does.
void SendRetrying(Net& net, NodeId from, std::string text) {
  if (SendText(net, from, text) == SendStatus::kTryAgain) {
    net.At(net.now() + 10ms, [&net, from, text] { SendRetrying(net, from, text); });
  }
}

// Totem loses no agreed message when the ring re-forms under loss: the old ring's messages that
// some member lacks are re-sent in recovery (memb_state_recovery_enter) and every member delivers
// them before the new ring's (memb_state_operational_enter). Here every datagram has a 3% chance
// of being lost, node 3 hears no message for the 200 ms before the token is lost and, for 1.5 s,
// every token is: the token-loss timeout (1 s) fires everywhere while node 3 still lacks what it
// could not ask for again, and the same six nodes form a new ring.
TEST(TotemRing, ARingReformedUnderLossLosesNoMessage) {
  constexpr NodeId kNodes = 6;
  constexpr int kMessages = 600;
  Net net(kNodes, Config(Transport::kKnet), 2ms);
  std::mt19937_64 rng(5);
  net.drop = [&net, &rng](NodeId, NodeId to, std::span<const std::uint8_t> bytes) {
    Packet p;
    const bool decoded = Decode(bytes, &p);
    if (decoded && std::holds_alternative<Token>(p.body) && net.now() >= 1500ms && net.now() < 3000ms) return true;
    if (decoded && std::holds_alternative<Mcast>(p.body) && to == 3 && net.now() >= 1300ms && net.now() < 1500ms) return true;
    return rng() % 100 < 3;
  };
  net.StartFormed();
  std::mt19937_64 plan(13);
  std::vector<NodeId> sender(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    const NodeId from = static_cast<NodeId>(1 + plan() % kNodes);
    sender[i] = from;
    const Duration at = 100ms + std::chrono::microseconds(plan() % 4'000'000);
    net.At(at, [&net, from, i] { SendRetrying(net, from, "m" + std::to_string(i)); });
  }
  net.RunUntil(30s);
  std::uint64_t retransmits = 0;
  for (NodeId n = 1; n <= kNodes; ++n) {
    const auto& rings = net.member(n).rings;
    ASSERT_FALSE(rings.empty()) << "node " << n << " kept its ring: the token loss did not happen";
    EXPECT_EQ(rings.back().second.size(), std::size_t{kNodes}) << n;
    retransmits += net.member(n).node().srp().counters().mcast_retransmits;
    // Every other node's message exactly once (CPG does not hand a node its own).
    std::set<std::string> seen;
    for (const auto& d : net.member(n).deliveries) EXPECT_TRUE(seen.insert(d.payload).second) << n << " " << d.payload;
    for (int i = 0; i < kMessages; ++i) {
      EXPECT_EQ(seen.count("m" + std::to_string(i)), sender[i] == n ? 0u : 1u) << "node " << n << " message " << i;
    }
  }
  std::size_t total = 0;
  for (NodeId n = 1; n <= kNodes; ++n) total += net.member(n).deliveries.size();
  EXPECT_EQ(total, std::size_t{kMessages} * (kNodes - 1)) << "a message lost somewhere";
  for (NodeId a = 1; a <= kNodes; ++a) {
    for (NodeId b = a + 1; b <= kNodes; ++b) EXPECT_EQ(DeliveredExcept(net, a, b), DeliveredExcept(net, b, a)) << a << " vs " << b;
  }
  EXPECT_GT(retransmits, 0u);
}

TEST(TotemRing, MessagesQueuedBetweenTokenVisitsShareOnePacket) {
  Net net(3, Config());
  net.StartFormed();
  net.RunUntil(1s);  // idle: the representative holds the token
  const std::uint64_t before = net.member(2).node().srp().counters().mcasts_sent;
  net.At(1s, [&net] {
    for (int i = 0; i < 10; ++i) ASSERT_EQ(SendText(net, 2, "small " + std::to_string(i)), SendStatus::kOk);
  });
  net.RunUntil(2s);
  EXPECT_EQ(net.member(2).node().srp().counters().mcasts_sent - before, 1u);
  EXPECT_EQ(DeliveredExcept(net, 1, 1).size(), 10u);
  EXPECT_EQ(DeliveredExcept(net, 3, 3), DeliveredExcept(net, 1, 1));
}

TEST(TotemRing, OneTokenVisitSendsAtMostMaxMessages) {
  TotemConfig c = Config();
  c.max_messages = 3;
  Net net(3, c);
  std::vector<Sniffed> log;
  net.drop = Sniffer(net, &log);
  net.StartFormed();
  net.RunUntil(1s);
  const std::string big(kMaxClientMessage, 'x');  // one packet each
  net.At(1s, [&] {
    for (int i = 0; i < 20; ++i) ASSERT_EQ(SendText(net, 2, big), SendStatus::kOk);
  });
  net.RunUntil(2s);
  // Between two tokens node 2 sends, at most max_messages multicasts of its own.
  std::size_t burst = 0, total = 0, max_burst = 0;
  for (const auto& s : log) {
    if (s.from != 2) continue;
    if (s.type == PacketType::kToken) {
      burst = 0;
    } else if (s.type == PacketType::kMcast && s.to == 1) {  // one copy per multicast
      max_burst = std::max(max_burst, ++burst);
      ++total;
    }
  }
  EXPECT_EQ(max_burst, 3u);
  EXPECT_EQ(total, 20u);
  EXPECT_EQ(DeliveredExcept(net, 3, 3).size(), 20u);
}

TEST(TotemRing, ARotationCarriesAtMostWindowSize) {
  TotemConfig c = Config();
  c.max_messages = 4;
  c.window_size = 6;
  Net net(3, c);
  std::vector<Sniffed> log;
  net.drop = Sniffer(net, &log);
  net.StartFormed();
  net.RunUntil(1s);
  const std::string big(kMaxClientMessage, 'y');
  net.At(1s, [&] {
    for (NodeId n = 1; n <= 3; ++n) {
      for (int i = 0; i < 30; ++i) ASSERT_EQ(SendText(net, n, big), SendStatus::kOk);
    }
  });
  net.RunUntil(3s);
  // Count new multicasts between two tokens sent by node 1 (one rotation), one copy each.
  std::size_t in_rotation = 0, max_rotation = 0, total = 0;
  for (const auto& s : log) {
    if (s.type == PacketType::kToken && s.from == 1) {
      max_rotation = std::max(max_rotation, in_rotation);
      in_rotation = 0;
    } else if (s.type == PacketType::kMcast && s.to == (s.from == 1 ? 2u : 1u)) {
      ++in_rotation;
      ++total;
    }
  }
  EXPECT_LE(max_rotation, 6u);
  EXPECT_GE(max_rotation, 4u);
  EXPECT_EQ(total, 90u);
}

TEST(TotemRing, AMissingPacketIsAskedForAfterMissCountVisits) {
  Net net(3, Config());
  bool dropped = false;
  std::vector<Sniffed> log;
  auto sniff = Sniffer(net, &log);
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> bytes) {
    sniff(from, to, bytes);
    Packet p;
    if (!dropped && to == 3 && Decode(bytes, &p) && std::holds_alternative<Mcast>(p.body)) {
      dropped = true;
      return true;
    }
    return false;
  };
  net.StartFormed();
  net.At(1s, [&] { ASSERT_EQ(SendText(net, 1, "first"), SendStatus::kOk); });
  net.At(1001ms, [&] { ASSERT_EQ(SendText(net, 2, "second"), SendStatus::kOk); });
  net.RunUntil(3s);
  ASSERT_TRUE(dropped);
  EXPECT_EQ(DeliveredExcept(net, 3, 3), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(DeliveredExcept(net, 2, 2), (std::vector<std::string>{"first"}));
  EXPECT_EQ(net.member(1).node().srp().counters().mcast_retransmits, 1u);
}

}  // namespace
}  // namespace pbxstate::totem::testing
