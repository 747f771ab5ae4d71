// Sites and relays (engine/README.md, "Sites and relays"), over the minimal network: one frame
// per remote site per change, the fan-out inside a site, a relay that dies replaced without
// anyone else departing, what it dropped repaired, what a RELAY frame may not carry, and no relays
// at all where the transport's unicast reaches every node anyway.
#include <gtest/gtest.h>

#include "codec.h"
#include "mini_net.h"
#include "three_sites.h"
#include "pbxstate/engine.h"

namespace pbxstate {
namespace {

using namespace std::chrono_literals;
using namespace testing_mini_net;
using namespace testing_three_sites;  // nine nodes, sites of three

struct FrameLog {
  std::vector<std::pair<NodeId, NodeId>> updates;  // UPDATES frames, (from, to)
  std::vector<std::pair<NodeId, NodeId>> relays;   // RELAY frames
  void Watch(MiniNet& net) {
    net.drop = [this](NodeId from, NodeId to, std::span<const std::uint8_t> f) {
      if (TypeOf(f) == codec::FrameType::kUpdates) updates.emplace_back(from, to);
      if (TypeOf(f) == codec::FrameType::kRelay) relays.emplace_back(from, to);
      return false;
    };
  }
};

TEST(Relay, OneFramePerRemoteSiteThenFanOutInside) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);  // everyone hears everyone through the relays
  for (NodeId n = 1; n <= 9; ++n) EXPECT_EQ(net.engines[n]->Members().size(), 9u) << "node " << n;
  FrameLog log;
  log.Watch(net);
  const std::uint64_t relayed_before = net.engines[4]->stats().frames_relayed;
  ASSERT_TRUE(net.engines[2]->SetDeviceState("PJSIP/alice", DeviceState::kInUse).ok());
  net.Run(50ms);
  // Node 2's change leaves once per site: to node 1 (its own site's relay), 4 and 7.
  const std::vector<std::pair<NodeId, NodeId>> expected = {{2, 1}, {2, 4}, {2, 7}};
  EXPECT_EQ(log.updates, expected);
  std::size_t across = 0;
  for (const auto& [from, to] : log.updates) across += SiteOf(from) != SiteOf(to) ? 1 : 0;
  for (const auto& [from, to] : log.relays) {
    EXPECT_EQ(SiteOf(from), SiteOf(to)) << from << " -> " << to;  // relays pass on inside their site
    EXPECT_NE(to, 2u);                                            // never back to the origin
  }
  EXPECT_EQ(across, 2u);
  EXPECT_EQ(log.relays.size(), 1u + 2u + 2u);  // 1 -> 3; 4 -> 5, 6; 7 -> 8, 9
  for (NodeId n = 1; n <= 9; ++n) {
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/alice"), DeviceState::kInUse) << "node " << n;
  }
  EXPECT_EQ(net.engines[4]->stats().frames_relayed, relayed_before + 1);
}

TEST(Relay, RelayWindowBundlesFrames) {
  MiniNet net(9, MembershipSource::kHeartbeat, [](EngineConfig& c) {
    ThreeSites(c);
    c.relay_window = 100ms;
  });
  net.Run(3s);
  FrameLog log;
  log.Watch(net);
  ASSERT_TRUE(net.engines[2]->SetDeviceState("PJSIP/a", DeviceState::kInUse).ok());
  ASSERT_TRUE(net.engines[3]->SetDeviceState("PJSIP/b", DeviceState::kBusy).ok());
  net.Run(50ms);
  EXPECT_EQ(net.engines[5]->ClusterDeviceState("PJSIP/a"), std::nullopt);  // held at relay 4
  net.Run(100ms);
  for (NodeId n = 1; n <= 9; ++n) {
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/a"), DeviceState::kInUse) << "node " << n;
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/b"), DeviceState::kBusy) << "node " << n;
  }
  // Both changes reach 5 and 6 in one RELAY frame each.
  std::size_t to_site_1 = 0;
  for (const auto& [from, to] : log.relays) to_site_1 += from == 4 ? 1 : 0;
  EXPECT_EQ(to_site_1, 2u);
}

TEST(Relay, DeadRelayIsReplacedAndWhatItDroppedRepaired) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  net.engines.erase(4);  // site 1's relay dies: frames to it are lost from now on
  ASSERT_TRUE(net.engines[1]->SetDeviceState("PJSIP/lost-with-4", DeviceState::kBusy).ok());
  net.Run(4s);  // 4 is suspected after 2 s; senders move to 5
  ASSERT_TRUE(net.engines[1]->SetDeviceState("PJSIP/through-5", DeviceState::kRinging).ok());
  net.Run(3s);  // anti-entropy brings what 4 took with it
  for (NodeId n : {1u, 2u, 3u, 5u, 6u, 7u, 8u, 9u}) {
    EXPECT_EQ(net.engines[n]->Members().size(), 8u) << "node " << n << ": only node 4 departed";
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/lost-with-4"), DeviceState::kBusy) << "node " << n;
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/through-5"), DeviceState::kRinging) << "node " << n;
  }
  EXPECT_GT(net.engines[5]->stats().frames_relayed, 0u);
}

TEST(Relay, SitesMustIncludeThisNodeAndAntiEntropyMustRun) {
  MiniNet net(1);
  EngineConfig c;
  c.node_id = 1;
  c.incarnation = 1;
  c.relays_per_site = 1;
  std::unique_ptr<Engine> e;
  ASSERT_TRUE(Engine::Create(c, net.envs[1].get(), &e).ok());  // no sites: a site of one each
  c.node_sites = {{2, 0}, {3, 0}};
  Status st = Engine::Create(c, net.envs[1].get(), &e);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("EngineConfig.node_sites"), std::string::npos) << st.message();
  c.node_sites[1] = 0;
  c.anti_entropy_interval = 0ms;
  st = Engine::Create(c, net.envs[1].get(), &e);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("EngineConfig.anti_entropy_interval"), std::string::npos) << st.message();
}

// A RELAY frame carrying anything but UPDATES or HEARTBEAT (a RELAY, a DIGEST) is refused.
TEST(Relay, RelayCarriesOnlyFramesForEveryone) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(1s);
  std::vector<std::uint8_t> inner;
  codec::BeginFrame(&inner, codec::FrameType::kRelay, 2, 1);
  {
    codec::Writer w(&inner);
    std::vector<std::uint8_t> hb;
    codec::BeginFrame(&hb, codec::FrameType::kHeartbeat, 2, 1);
    codec::Writer hw(&hb);
    codec::EncodeHeartbeat(hw, {0, "", {}});
    codec::EndFrame(&hb);
    codec::EncodeRelay(w, {std::span<const std::uint8_t>(hb)});
  }
  codec::EndFrame(&inner);
  std::vector<std::uint8_t> outer;
  codec::BeginFrame(&outer, codec::FrameType::kRelay, 1, 1);
  codec::Writer w(&outer);
  codec::EncodeRelay(w, {std::span<const std::uint8_t>(inner)});
  codec::EndFrame(&outer);
  const std::uint64_t before = net.engines[3]->stats().dropped[static_cast<std::size_t>(DropReason::kMalformed)];
  net.engines[3]->OnFrame(1, outer);
  EXPECT_EQ(net.engines[3]->stats().dropped[static_cast<std::size_t>(DropReason::kMalformed)], before + 1);
}

// The same sites over a CPG-like host (transport membership, Env::UnicastReachesEveryone), one
// engine change each way: only the capability differs between the two runs.
struct ChangeOverTransport {
  std::vector<std::pair<NodeId, NodeId>> updates;  // UPDATES frames, (from, to)
  std::size_t relay_frames = 0;
  int broadcasts = 0, unicasts = 0;  // node 2's Env calls for the change
  std::uint64_t relayed = 0;         // frames_relayed during the change, summed over the nodes
};

ChangeOverTransport RunOneChange(bool unicast_reaches_everyone) {
  MiniNet net(9, MembershipSource::kTransport, ThreeSites, unicast_reaches_everyone);
  net.Run(3s);
  ChangeOverTransport out;
  net.drop = [&out](NodeId from, NodeId to, std::span<const std::uint8_t> f) {
    if (TypeOf(f) == codec::FrameType::kUpdates) out.updates.emplace_back(from, to);
    if (TypeOf(f) == codec::FrameType::kRelay) ++out.relay_frames;
    return false;
  };
  for (NodeId n = 1; n <= 9; ++n) out.relayed -= net.engines[n]->stats().frames_relayed;
  MiniEnv& env = *net.envs[2];
  const int broadcasts_before = env.broadcast_calls, unicasts_before = env.unicast_calls;
  EXPECT_TRUE(net.engines[2]->SetDeviceState("PJSIP/alice", DeviceState::kInUse).ok());
  net.Run(50ms);
  out.broadcasts = env.broadcast_calls - broadcasts_before;
  out.unicasts = env.unicast_calls - unicasts_before;
  for (NodeId n = 1; n <= 9; ++n) {
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/alice"), DeviceState::kInUse) << "node " << n;
    out.relayed += net.engines[n]->stats().frames_relayed;
  }
  return out;
}

TEST(Relay, NoneWhereUnicastReachesEveryone) {
  const ChangeOverTransport run = RunOneChange(true);
  // One broadcast (a single ring message on CPG), no frame to a relay, nothing passed on.
  EXPECT_EQ(run.broadcasts, 1);
  EXPECT_EQ(run.unicasts, 0);
  EXPECT_EQ(run.relay_frames, 0u);
  EXPECT_EQ(run.relayed, 0u);
  EXPECT_EQ(run.updates.size(), 8u);  // the minimal network's broadcast: one copy per peer
}

TEST(Relay, ThroughRelaysWhereUnicastIsPointToPoint) {
  const ChangeOverTransport run = RunOneChange(false);
  const std::vector<std::pair<NodeId, NodeId>> expected = {{2, 1}, {2, 4}, {2, 7}};
  EXPECT_EQ(run.updates, expected);
  EXPECT_EQ(run.broadcasts, 0);
  EXPECT_EQ(run.unicasts, 3);
  EXPECT_EQ(run.relay_frames, 1u + 2u + 2u);  // 1 -> 3; 4 -> 5, 6; 7 -> 8, 9
  EXPECT_EQ(run.relayed, 3u);
}

}  // namespace
}  // namespace pbxstate
