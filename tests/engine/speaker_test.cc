// Site speakers (engine/README.md, "Sites and relays", "Speakers"), over the minimal network: only
// a site's speaker sends heartbeats and anti-entropy to other sites; remote nodes stay members on
// its word alone, a dead one departs, a dead speaker is replaced without anyone else departing
// (its standby repairing its site before that), a site cut off comes back, also when every
// site's lowest-id node is down, and after a heal only speakers pull across sites (the others
// from a site-mate, each its share of that site-mate's serves at a time among the site-mates
// present, still from it when it is busy, or across after a bounded wait when their speaker
// cannot fetch), and a speaker asks other sites in a stable order while nothing is measured;
// and the donor order of a want list after a busy refusal (DonorOrder).
#include <gtest/gtest.h>

#include <set>

#include "codec.h"
#include "engine_impl.h"  // the donor order, read where it is kept
#include "mini_net.h"
#include "three_sites.h"
#include "pbxstate/engine.h"

namespace pbxstate {
namespace {

using namespace std::chrono_literals;
using namespace testing_mini_net;
using namespace testing_three_sites;  // nine nodes, sites of three

// Frames between sites, by type: (from, to).
struct WanLog {
  std::map<codec::FrameType, std::vector<std::pair<NodeId, NodeId>>> frames;
  void Watch(MiniNet& net) {
    net.drop = [this](NodeId from, NodeId to, std::span<const std::uint8_t> f) {
      if (SiteOf(from) != SiteOf(to)) frames[TypeOf(f)].emplace_back(from, to);
      return false;
    };
  }
  std::set<NodeId> Senders() const {
    std::set<NodeId> s;
    for (const auto& [type, list] : frames) {
      if (type == codec::FrameType::kUpdates) continue;  // a change leaves its origin once per site
      for (const auto& [from, to] : list) s.insert(from);
    }
    return s;
  }
};

std::size_t MembersOf(MiniNet& net, NodeId n) { return net.engines[n]->Members().size(); }

TEST(Speaker, OnlySpeakersCrossAndIdleRemoteNodesStayMembers) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  WanLog log;
  log.Watch(net);
  // Changes on non-speakers too: anti-entropy has something to compare.
  for (int i = 0; i < 20; ++i) {
    const NodeId origin = static_cast<NodeId>(1 + i % 9);
    ASSERT_TRUE(net.engines[origin]->SetDeviceState("PJSIP/d" + std::to_string(i), DeviceState::kInUse).ok());
    net.Run(100ms);
  }
  // Then idle for five suspect_afters: non-speakers send nothing across, yet nobody departs.
  net.Run(10s);
  EXPECT_EQ(log.Senders(), (std::set<NodeId>{1, 4, 7}));
  ASSERT_FALSE(log.frames[codec::FrameType::kHeartbeat].empty());
  for (const auto& [from, to] : log.frames[codec::FrameType::kHeartbeat]) {
    EXPECT_TRUE(from == 1 || from == 4 || from == 7) << from << " -> " << to;
  }
  for (NodeId n = 1; n <= 9; ++n) {
    EXPECT_EQ(MembersOf(net, n), 9u) << "node " << n;
    EXPECT_EQ(net.engines[n]->stats().departures, 0u) << "node " << n;
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/d" + std::to_string(i)), DeviceState::kInUse) << "node " << n;
    }
  }
}

TEST(Speaker, DeadNonSpeakerDepartsEverywhere) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  net.engines.erase(5);  // not its site's speaker: the other sites heard it through node 4 alone
  net.Run(4s);           // node 4 stops naming it after suspect_after; the others follow
  for (NodeId n : {1u, 2u, 3u, 4u, 6u, 7u, 8u, 9u}) EXPECT_EQ(MembersOf(net, n), 8u) << "node " << n;
}

TEST(Speaker, DeadSpeakerIsReplacedWithoutOtherDepartures) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  net.engines.erase(4);  // site 1's speaker (and relay)
  ASSERT_TRUE(net.engines[1]->SetDeviceState("PJSIP/lost-with-4", DeviceState::kBusy).ok());
  WanLog log;
  log.Watch(net);
  net.Run(6s);
  for (NodeId n : {1u, 2u, 3u, 5u, 6u, 7u, 8u, 9u}) {
    EXPECT_EQ(MembersOf(net, n), 8u) << "node " << n << ": only node 4 departed";
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/lost-with-4"), DeviceState::kBusy) << "node " << n;
  }
  // Node 5 took over: its heartbeats cross now, node 6's never do.
  bool five_spoke = false;
  for (const auto& [from, to] : log.frames[codec::FrameType::kHeartbeat]) {
    EXPECT_NE(from, 6u);
    five_spoke = five_spoke || from == 5;
  }
  EXPECT_TRUE(five_spoke);
}

TEST(Speaker, SiteCutOffComesBack) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  bool cut = true;
  net.cut = [&](NodeId from, NodeId to) { return cut && (SiteOf(from) == 2) != (SiteOf(to) == 2); };
  ASSERT_TRUE(net.engines[8]->SetDeviceState("PJSIP/in-c", DeviceState::kRinging).ok());
  ASSERT_TRUE(net.engines[2]->SetDeviceState("PJSIP/in-a", DeviceState::kBusy).ok());
  // The other side's speaker departs after suspect_after; its site-mates, heard through it, get
  // a fresh one then (as after a relay): two suspect_afters and a round of the detector.
  net.Run(4500ms);
  EXPECT_EQ(MembersOf(net, 9), 3u);
  EXPECT_EQ(MembersOf(net, 5), 6u);
  cut = false;
  net.Run(4s);
  for (NodeId n = 1; n <= 9; ++n) {
    EXPECT_EQ(MembersOf(net, n), 9u) << "node " << n;
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/in-c"), DeviceState::kRinging) << "node " << n;
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/in-a"), DeviceState::kBusy) << "node " << n;
  }
}

// Cuts site 2 off after 3 s, and 4.5 s later nodes 1 to `last` each change a device
// "PJSIP/cut-<node>"; returns 500 ms after that, still cut (net.cut = nullptr heals).
void ChangeWhileSiteTwoIsCut(MiniNet& net, NodeId last) {
  net.Run(3s);
  net.cut = [](NodeId from, NodeId to) { return (SiteOf(from) == 2) != (SiteOf(to) == 2); };
  net.Run(4500ms);
  for (NodeId n = 1; n <= last; ++n) {
    ASSERT_TRUE(net.engines[n]->SetDeviceState("PJSIP/cut-" + std::to_string(n), DeviceState::kBusy).ok());
  }
  net.Run(500ms);
}

// After ChangeWhileSiteTwoIsCut(net, 6) and the heal: each of `nodes` holds the six changes.
void ExpectSiteTwoHoldsCutChanges(MiniNet& net, std::initializer_list<NodeId> nodes) {
  for (NodeId n : nodes) {
    for (NodeId origin = 1; origin <= 6; ++origin) {
      EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/cut-" + std::to_string(origin)), DeviceState::kBusy)
          << "node " << n << ", origin " << origin;
    }
  }
}

TEST(Speaker, AfterAHealOnlySpeakersPullAcrossSites) {
  // Every node changes a device while site 2 is cut off. At the heal the join helpers of every
  // site offer their digests to the nodes coming back, across the WAN; a node that does not speak
  // for its site waits for its speaker, which fetches across once for the whole site and offers
  // it to its site-mates, and pulls from a site-mate (engine/README.md, "Catch-up sessions").
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  ChangeWhileSiteTwoIsCut(net, 9);
  WanLog wan;
  wan.Watch(net);
  net.cut = nullptr;
  net.Run(5s);
  std::set<NodeId> pullers;
  for (const auto& [from, to] : wan.frames[codec::FrameType::kSyncRequest]) pullers.insert(from);
  EXPECT_FALSE(pullers.empty()) << "nothing was pulled across: the cut repaired nothing";
  for (NodeId n : pullers) EXPECT_EQ((n - 1) % 3, 0u) << "node " << n << " pulled across sites";
  for (NodeId n = 1; n <= 9; ++n) {
    EXPECT_EQ(MembersOf(net, n), 9u) << "node " << n;
    for (NodeId origin = 1; origin <= 9; ++origin) {
      EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/cut-" + std::to_string(origin)), DeviceState::kBusy)
          << "node " << n << ", origin " << origin;
    }
  }
}

TEST(Speaker, SiteMatesTakeTurnsAtTheirSpeakerAfterAHeal) {
  // Sites 0 and 1 change six origins while site 2 is cut off. At the heal node 7 fetches them
  // across and offers them to nodes 8 and 9, who pull all six from it. Each pulls at most its
  // share of node 7's max_sync_serves (2 / 2 pullers: one session at a time), so node 7 refuses
  // none of them as busy: four at once each would be refused and back off for sync_retransmit.
  MiniNet net(9, MembershipSource::kHeartbeat, [](EngineConfig& c) {
    ThreeSites(c);
    c.max_sync_serves = 2;
  });
  ChangeWhileSiteTwoIsCut(net, 6);
  std::size_t requests = 0;
  std::size_t refusals = 0;
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> f) {
    const bool mates = SiteOf(from) == 2 && SiteOf(to) == 2;
    if (mates && to == 7 && TypeOf(f) == codec::FrameType::kSyncRequest) ++requests;
    if (mates && from == 7 && TypeOf(f) == codec::FrameType::kSyncRefuse) ++refusals;
    return false;
  };
  net.cut = nullptr;
  net.Run(5s);
  EXPECT_GE(requests, 6u) << "nodes 8 and 9 did not pull from their speaker";
  EXPECT_EQ(refusals, 0u);
  ExpectSiteTwoHoldsCutChanges(net, {7, 8, 9});
}

TEST(Speaker, BusySpeakerStaysAheadOfOtherSitesDonors) {
  // As above with max_sync_serves 1: nodes 8 and 9 each pull their share (one session) from node
  // 7 at once, so one of them is refused as busy. Other sites' join helpers offered it the same
  // origins at the heal; a busy site-mate goes behind its site-mates only, never behind those far
  // donors, so the refused node waits for node 7 instead of pulling across the WAN.
  MiniNet net(9, MembershipSource::kHeartbeat, [](EngineConfig& c) {
    ThreeSites(c);
    c.max_sync_serves = 1;
    c.sync_window_pages = 1;
  });
  ChangeWhileSiteTwoIsCut(net, 6);
  // Sessions of many pages (one page window each): a one-page session is sending no more the
  // moment it starts, and does not count against max_sync_serves.
  for (NodeId n = 1; n <= 6; ++n) {
    for (int d = 0; d < 200; ++d) {
      const std::string name = "PJSIP/many-" + std::to_string(n) + "-" + std::to_string(d);
      ASSERT_TRUE(net.engines[n]->SetDeviceState(name, DeviceState::kInUse).ok());
    }
  }
  net.Run(500ms);
  std::size_t refusals = 0;
  std::vector<std::pair<NodeId, NodeId>> far_pulls;
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> f) {
    if (from == 7 && (to == 8 || to == 9) && TypeOf(f) == codec::FrameType::kSyncRefuse) ++refusals;
    if ((from == 8 || from == 9) && SiteOf(to) != 2 && TypeOf(f) == codec::FrameType::kSyncRequest) {
      far_pulls.emplace_back(from, to);
    }
    return false;
  };
  net.cut = nullptr;
  net.Run(5s);
  EXPECT_GT(refusals, 0u) << "node 7 was never busy: the situation under test did not arise";
  for (const auto& [from, to] : far_pulls) ADD_FAILURE() << "node " << from << " pulled from node " << to << " across";
  ExpectSiteTwoHoldsCutChanges(net, {7, 8, 9});
}

TEST(Speaker, ShareOfSiteMateCountsTheSiteMatesPresent) {
  // Node 9 is down: node 8 is its speaker's only puller and may use all of node 7's
  // max_sync_serves (2), where a share by the configured site (two pullers) gave it one session.
  MiniNet net(9, MembershipSource::kHeartbeat, [](EngineConfig& c) {
    ThreeSites(c);
    c.max_sync_serves = 2;
  });
  net.engines.erase(9);
  ChangeWhileSiteTwoIsCut(net, 6);
  std::set<std::uint32_t> open;
  std::size_t most_open = 0;
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> f) {
    const auto body = f.subspan(codec::kFrameHeaderBytes);
    if (from == 8 && to == 7 && TypeOf(f) == codec::FrameType::kSyncRequest) {
      codec::SyncRequest r;
      EXPECT_FALSE(codec::DecodeSyncRequest(body, &r).has_value());
      open.insert(r.session);
      most_open = std::max(most_open, open.size());
    } else if (from == 7 && to == 8 && TypeOf(f) == codec::FrameType::kSyncPage) {
      codec::SyncPage p;
      EXPECT_FALSE(codec::DecodeSyncPage(body, {1400, 255, 1024}, &p).has_value());
      for (const codec::SyncPageAddressee& a : p.to) {
        if ((a.node == kNoNode || a.node == 8) && a.last) open.erase(a.session);
      }
    } else if (from == 7 && to == 8 && TypeOf(f) == codec::FrameType::kSyncRefuse) {
      codec::SyncRefuse r;
      EXPECT_FALSE(codec::DecodeSyncRefuse(body, &r).has_value());
      open.erase(r.session);
    }
    return false;
  };
  net.cut = nullptr;
  net.Run(5s);
  EXPECT_EQ(most_open, 2u) << "node 8 did not pull max_sync_serves sessions from node 7 at once";
  ExpectSiteTwoHoldsCutChanges(net, {8});
}

TEST(Speaker, SpeakerAsksTheSameOtherSiteWhileNothingIsMeasured) {
  // Every site's summary differs from every other's (each node changes a device in turn), so
  // node 7's rounds across may go to node 1 or node 4. Nothing tells the two sites apart here
  // (every link has the same delay, all measured alike), so it asks by a stable order, node 1
  // each time, instead of a random pick (engine/README.md, "Speakers").
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  std::map<NodeId, std::size_t> asked;
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> f) {
    if (from == 7 && SiteOf(to) != 2 && TypeOf(f) == codec::FrameType::kSummary) ++asked[to];
    return false;
  };
  for (int round = 0; round < 40; ++round) {
    const NodeId n = static_cast<NodeId>(1 + round % 9);
    ASSERT_TRUE(net.engines[n]->SetDeviceState("PJSIP/turn-" + std::to_string(round), DeviceState::kBusy).ok());
    net.Run(250ms);
  }
  EXPECT_GT(asked[1], 2u) << "node 7 hardly asked across";
  EXPECT_EQ(asked.size(), 1u) << "node 7 asked node 4 too (" << asked[4] << " times)";
}

TEST(DonorOrder, BusyDonorGoesBehindItsGroupAndAFullListDropsItsWorst) {
  // Node 1 (site 0) wants origin 4 (site 1). Ranks: node 2 a site-mate (1), node 4 the owner in
  // another site (2), nodes 5 and 7 other sites' nodes (3).
  MiniNet net(0);
  MiniEnv env(&net, 1);
  EngineConfig c;
  c.node_id = 1;
  c.incarnation = 1;
  ThreeSites(c);
  EngineImpl e(c, &env);
  const auto pull_refused_by = [&](NodeId donor, std::vector<NodeId> others) {
    e.wants_.clear();
    PullSession s{};
    s.id = 1;
    s.donor = donor;
    s.origin = 4;
    s.incarnation = 1;
    s.target = 10;
    s.other_donors = std::move(others);
    e.BackOffFromBusyDonor(e.pulls_.emplace(s.id, s).first);
    return e.wants_.at(4);
  };
  // A busy site-mate stays ahead of the far donors, and with no other site-mate it is asked
  // again after a pause rather than a far donor at once.
  Want w = pull_refused_by(2, {4, 5});
  EXPECT_EQ(w.donors, (std::vector<NodeId>{2, 4, 5}));
  EXPECT_GT(w.not_before, env.Now());
  // A busy far donor goes last; another is asked first, without a pause.
  w = pull_refused_by(4, {5, 2});
  EXPECT_EQ(w.donors, (std::vector<NodeId>{2, 5, 4}));
  EXPECT_EQ(w.not_before, MonoTime{});
  // The owner, busy, went behind nodes 5, 6 and 7: a site-mate's offer to the full list displaces
  // the last of the worst rank (node 7), not the last one (the owner).
  w = pull_refused_by(4, {5, 6, 7});
  ASSERT_EQ(w.donors, (std::vector<NodeId>{5, 6, 7, 4}));
  e.AddWant(4, 1, 10, false, 2);
  EXPECT_EQ(e.wants_.at(4).donors, (std::vector<NodeId>{2, 5, 6, 4}));
  // An offer no better than the worst of a full list is not kept.
  e.AddWant(4, 1, 10, false, 8);
  EXPECT_EQ(e.wants_.at(4).donors, (std::vector<NodeId>{2, 5, 6, 4}));
}

TEST(Speaker, NodeWhoseSpeakerCannotFetchPullsAcrossAfterAWait) {
  // Node 7, site 2's speaker, loses the other sites (its site-mates still hear it, so it stays
  // their speaker). A change made then reaches site 2 through node 7, their relay until they
  // suspect it, and is lost there. Nodes 8 and 9 hear of it from the other sites' speakers,
  // who now take node 8 for site 2's; they wait for node 7 to bring it (anti_entropy_interval),
  // and it cannot, so they pull across after all, and node 7 from them.
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  net.cut = [](NodeId from, NodeId to) { return (from == 7 && SiteOf(to) != 2) || (to == 7 && SiteOf(from) != 2); };
  ASSERT_TRUE(net.engines[2]->SetDeviceState("PJSIP/lost-at-7", DeviceState::kBusy).ok());
  WanLog wan;
  wan.Watch(net);
  net.Run(8s);
  std::set<NodeId> pullers;
  for (const auto& [from, to] : wan.frames[codec::FrameType::kSyncRequest]) pullers.insert(from);
  EXPECT_TRUE(pullers.count(8) != 0 || pullers.count(9) != 0) << "site 2 pulled nothing across";
  for (NodeId n = 1; n <= 9; ++n) {
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/lost-at-7"), DeviceState::kBusy) << "node " << n;
  }
}

TEST(Speaker, StandbyRepairsBeforeTheSilentSpeakerDeparts) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  net.engines.erase(4);  // site 1's speaker and relay: node 1's change goes to it and is lost
  ASSERT_TRUE(net.engines[1]->SetDeviceState("PJSIP/lost-with-4", DeviceState::kBusy).ok());
  // Before suspect_after (2 s) runs out anywhere: node 5, the standby, stood in after two
  // heartbeat intervals of silence and pulled it from another site's speaker, then node 6 from it.
  net.Run(1600ms);
  for (NodeId n : {5u, 6u}) {
    EXPECT_EQ(MembersOf(net, n), 9u) << "node " << n << ": node 4 has not departed yet";
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/lost-with-4"), DeviceState::kBusy) << "node " << n;
  }
  net.Run(3s);
  for (NodeId n : {1u, 2u, 3u, 5u, 6u, 7u, 8u, 9u}) EXPECT_EQ(MembersOf(net, n), 8u) << "node " << n;
}

TEST(Speaker, NodesHeardThroughADeadSpeakersRelayStayMembers) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  // Node 4 is site 1's relay: nodes 5 and 6 heard the other sites' speakers through it and
  // their site-mates through those speakers' heartbeats. When node 4 departs, the speakers get
  // a fresh suspect_after to be heard through site 1's next relay (node 5), and so must the nodes
  // heard through them (their news came through node 4 too). Idle nodes (no change for a
  // while) last heard earlier than node 4 must not depart before it either.
  ASSERT_TRUE(net.engines[2]->SetDeviceState("PJSIP/idle-2", DeviceState::kBusy).ok());
  net.Run(700ms);
  net.engines.erase(4);
  net.Run(6s);
  for (NodeId n : {5u, 6u}) {
    EXPECT_EQ(MembersOf(net, n), 8u) << "node " << n;
    EXPECT_EQ(net.engines[n]->stats().departures, 1u) << "node " << n << ": only node 4 departed";
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/idle-2"), DeviceState::kBusy) << "node " << n;
  }
}

TEST(Speaker, CutHealsWhenEverySitesLowestIdNodeIsDown) {
  MiniNet net(9, MembershipSource::kHeartbeat, ThreeSites);
  net.Run(3s);
  bool cut = true;
  net.cut = [&](NodeId from, NodeId to) { return cut && (SiteOf(from) == 2) != (SiteOf(to) == 2); };
  // The lowest-id node of every site dies as site 2 is cut off: probes that always went to a
  // down site's lowest-id node would reach nobody from either side after the heal.
  for (NodeId n : {1u, 4u, 7u}) net.engines.erase(n);
  net.Run(6s);
  EXPECT_EQ(MembersOf(net, 8), 2u);
  EXPECT_EQ(MembersOf(net, 2), 4u);
  ASSERT_TRUE(net.engines[8]->SetDeviceState("PJSIP/in-c", DeviceState::kRinging).ok());
  ASSERT_TRUE(net.engines[2]->SetDeviceState("PJSIP/in-a", DeviceState::kBusy).ok());
  cut = false;
  net.Run(6s);
  for (NodeId n : {2u, 3u, 5u, 6u, 8u, 9u}) {
    EXPECT_EQ(MembersOf(net, n), 6u) << "node " << n;
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/in-c"), DeviceState::kRinging) << "node " << n;
    EXPECT_EQ(net.engines[n]->ClusterDeviceState("PJSIP/in-a"), DeviceState::kBusy) << "node " << n;
  }
}

}  // namespace
}  // namespace pbxstate
