// The oracle at the edges where it used to be wrong (issue 14), each on a small history written
// by hand: same-instant MWI writes (the HLC decides), one-way cuts in force at the end,
// departures within the grace at the end, a write that can never arrive, convergence through
// later faults, and a restarted node's views under transport membership.
#include <cmath>
#include <memory>

#include "hand_run.h"

namespace pbxstate::harness::testing {
namespace {

// Heartbeats every 250 ms, suspicion after 1 s; LAN 1 ms. So inflight = 12 ms, max_silence =
// 562 ms, settle = 5.524 s (OracleTiming::Of).
const std::string kThreeNodes = HandScenario("edges");
// Departure grace 5 s.
const std::string kThreeNodesGrace = HandScenario("edges-grace", 3, 30, false, 5);

const MailboxCounts kOne{1, 0, 0}, kTwo{2, 0, 0}, kThree{3, 0, 0}, kNine{9, 0, 0};
const std::vector<NodeId> kAll{1, 2, 3};

// The same final mailbox on every listed node.
std::map<NodeId, FinalView> MailboxEverywhere(const std::vector<NodeId>& nodes, MailboxCounts c, HlcTimestamp hlc,
                                              NodeId writer) {
  std::map<NodeId, FinalView> views;
  for (NodeId n : nodes) AddMailbox(&views[n], "m@d", c, hlc, writer);
  return views;
}

// ---- 1. Same-instant MWI writes: the HLC logical counter, then the writer ----

std::unique_ptr<HandRun> TwoWritesAtOneInstant() {
  auto run = std::make_unique<HandRun>(kThreeNodes);
  run->StartAll();
  run->Mailbox(1s, 1, "m@d", kOne, Hlc(1s, 0));
  run->Mailbox(1s, 1, "m@d", kTwo, Hlc(1s, 1));  // its second write at that instant: logical 1
  run->Mailbox(1s, 3, "m@d", kThree, Hlc(1s, 0));
  return run;
}

TEST(OracleEdges, SameInstantSecondWriteBeatsALargerNodeId) {
  const RunResult ok = TwoWritesAtOneInstant()->Finish(20s, MailboxEverywhere(kAll, kTwo, Hlc(1s, 1), 1));
  EXPECT_EQ(Metric(ok, "stale"), 0) << Discrepancies(ok);
  EXPECT_EQ(Metric(ok, "lost"), 0) << Discrepancies(ok);
  // The old rule (at one instant the larger node id) picked node 3's write: now that is stale.
  const RunResult old = TwoWritesAtOneInstant()->Finish(20s, MailboxEverywhere(kAll, kThree, Hlc(1s, 0), 3));
  EXPECT_EQ(Metric(old, "stale"), 3) << Discrepancies(old);
  EXPECT_TRUE(Mentions(old, 1, "stale mailbox m@d: shows 3/0/0 by node 3")) << Discrepancies(old);
  EXPECT_TRUE(Mentions(old, 1, "expected 2/0/0 by node 1")) << Discrepancies(old);
}

TEST(OracleEdges, AWriteMadeAfterReceivingOneAtTheSameInstantCarriesLogicalOne) {
  // Node 2 received node 1's write (zero delay) before writing at the same instant: its clock
  // observed (1s, 0), so its write is stamped (1s, 1) and beats node 3's (1s, 0).
  auto make = [] {
    auto run = std::make_unique<HandRun>(kThreeNodes);
    run->StartAll();
    run->Mailbox(1s, 1, "m@d", kOne, Hlc(1s, 0));
    run->Mailbox(1s, 2, "m@d", kTwo, Hlc(1s, 1));
    run->Mailbox(1s, 3, "m@d", kThree, Hlc(1s, 0));
    return run;
  };
  const RunResult ok = make()->Finish(20s, MailboxEverywhere(kAll, kTwo, Hlc(1s, 1), 2));
  EXPECT_EQ(Metric(ok, "stale") + Metric(ok, "lost"), 0) << Discrepancies(ok);
  const RunResult by_id = make()->Finish(20s, MailboxEverywhere(kAll, kThree, Hlc(1s, 0), 3));
  EXPECT_EQ(Metric(by_id, "stale"), 3) << Discrepancies(by_id);
  // The right counts with the wrong HLC are a different write: caught too.
  const RunResult wrong_hlc = make()->Finish(20s, MailboxEverywhere(kAll, kTwo, Hlc(1s, 0), 2));
  EXPECT_EQ(Metric(wrong_hlc, "stale"), 3) << Discrepancies(wrong_hlc);
}

TEST(OracleEdges, AnUnreportedWriteGetsTheModelsClockTick) {
  auto run = std::make_unique<HandRun>(kThreeNodes);
  run->StartAll();
  run->Mailbox(1s, 1, "m@d", kOne, {}, /*report=*/false);
  run->Mailbox(1s, 1, "m@d", kTwo, {}, /*report=*/false);  // the model: (1s, 1)
  run->Mailbox(1s, 3, "m@d", kThree, Hlc(1s, 0));
  const RunResult r = run->Finish(20s, MailboxEverywhere(kAll, kTwo, Hlc(1s, 1), 1));
  EXPECT_EQ(Metric(r, "stale") + Metric(r, "lost"), 0) << Discrepancies(r);
}

TEST(OracleEdges, AStampThatDoesNotGrowIsAnEngineFault) {
  auto run = std::make_unique<HandRun>(kThreeNodes);
  run->StartAll();
  run->Mailbox(1s, 1, "m@d", kOne, Hlc(1s, 5));
  run->Mailbox(1s, 1, "m@d", kTwo, Hlc(1s, 2));
  const RunResult r = run->Finish(20s, MailboxEverywhere(kAll, kOne, Hlc(1s, 5), 1));
  EXPECT_GE(Metric(r, "stale"), 1);
  EXPECT_TRUE(Mentions(r, 1, "HLC not greater than its previous write's")) << Discrepancies(r);
}

// A removed device (Engine::RemoveDevice) is absent everywhere once heard: showing none is
// right, showing the withdrawn contribution is stale (workload.name_churn relies on it).
std::unique_ptr<HandRun> DeviceSetThenRemoved() {
  auto run = std::make_unique<HandRun>(kThreeNodes);
  run->StartAll();
  run->Device(1s, 1, "D", DeviceState::kInUse);
  run->Device(1s, 2, "E", DeviceState::kBusy);
  run->RemoveDevice(3s, 1, "D");
  return run;
}

TEST(OracleEdges, ARemovedDeviceIsAbsentEverywhere) {
  std::map<NodeId, FinalView> views;
  for (NodeId n : kAll) AddDevice(&views[n], "E", 2, DeviceState::kBusy);
  const RunResult r = DeviceSetThenRemoved()->Finish(20s, views);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
}

TEST(OracleEdges, ARemovedDeviceStillShownIsStale) {
  std::map<NodeId, FinalView> views;
  for (NodeId n : kAll) AddDevice(&views[n], "E", 2, DeviceState::kBusy);
  AddDevice(&views[3], "D", 1, DeviceState::kInUse);  // node 3 missed the removal
  const RunResult r = DeviceSetThenRemoved()->Finish(20s, views);
  EXPECT_EQ(Metric(r, "lost"), 0) << Discrepancies(r);
  EXPECT_EQ(Metric(r, "stale"), 1) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 3, "device D from node 1")) << Discrepancies(r);
}

// ---- 2. A one-way cut in force at the end: per direction, who hears whom ----

std::unique_ptr<HandRun> OneWayCutAtTheEnd(const std::string& yaml = kThreeNodes) {
  auto run = std::make_unique<HandRun>(yaml);
  run->StartAll();
  run->Device(1s, 1, "D", DeviceState::kInUse);
  run->Device(1s, 2, "E", DeviceState::kBusy);
  run->Partition(5s, {{1}, {2, 3}}, /*one_way=*/true);  // node 1 cannot send to 2 and 3
  return run;
}

std::map<NodeId, FinalView> OneWayViews() {
  std::map<NodeId, FinalView> v;
  AddDevice(&v[1], "D", 1, DeviceState::kInUse);
  AddDevice(&v[1], "E", 2, DeviceState::kBusy);  // node 1 still hears node 2: E stays live
  v[1].members = std::vector<NodeId>{1, 2, 3};
  for (NodeId n : {2, 3}) {
    AddDevice(&v[n], "E", 2, DeviceState::kBusy);  // node 1's D is gone: they do not hear it
    v[n].members = std::vector<NodeId>{2, 3};
  }
  return v;
}

TEST(OracleEdges, OneWayCutKeepsEntriesLiveWhereFramesStillArrive) {
  const RunResult r = OneWayCutAtTheEnd()->Finish(20s, OneWayViews());
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
}

TEST(OracleEdges, OneWayCutCatchesEachDirectionsMistakes) {
  auto views = OneWayViews();
  views[1].devices.erase(views[1].devices.begin() + 1);  // node 1 dropped E: it hears node 2
  AddDevice(&views[2], "D", 1, DeviceState::kInUse);     // node 2 kept D: it does not hear node 1
  views[3].members = std::vector<NodeId>{1, 2, 3};      // node 3 still counts node 1
  const RunResult r = OneWayCutAtTheEnd()->Finish(20s, views);
  EXPECT_EQ(Metric(r, "lost"), 1) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 1, "lost device E from node 2")) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 2, "shows device D from node 1, which it should not")) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 3, "members list node 1, which it must not count")) << Discrepancies(r);
  EXPECT_EQ(Metric(r, "stale"), 2) << Discrepancies(r);
}

TEST(OracleEdges, WithTransportMembershipTheBackendsViewsDecide) {
  scenario::Scenario s = LoadOrDie(kThreeNodesGrace);
  s.engine.membership = MembershipSource::kTransport;
  auto make = [&] {
    auto run = std::make_unique<HandRun>(s, true);
    run->StartAll();
    for (NodeId n : kAll) run->View(Duration{}, n, kAll);
    run->Device(1s, 1, "D", DeviceState::kInUse);
    run->Device(1s, 2, "E", DeviceState::kBusy);
    run->Partition(5s, {{1}, {2, 3}}, /*one_way=*/true);
    // Views of every node it reaches both ways: node 1 alone, nodes 2 and 3 together.
    run->View(6s, 1, {1});
    run->View(6s, 2, {2, 3});
    run->View(6s, 3, {2, 3});
    return run;
  };
  // At 8 s node 1 left the views 2 s ago, within the 5 s grace: its D still counts, frozen.
  std::map<NodeId, FinalView> within;
  AddDevice(&within[1], "D", 1, DeviceState::kInUse);
  AddDevice(&within[1], "E", 2, DeviceState::kBusy);
  within[1].members = kAll;
  for (NodeId n : {2, 3}) {
    AddDevice(&within[n], "D", 1, DeviceState::kInUse);
    AddDevice(&within[n], "E", 2, DeviceState::kBusy);
    within[n].members = kAll;
  }
  const RunResult r1 = make()->Finish(8s, within);
  EXPECT_EQ(Metric(r1, "lost") + Metric(r1, "stale"), 0) << Discrepancies(r1);
  // At 20 s the grace is over: each side shows only its own (node 1 no longer takes E either).
  std::map<NodeId, FinalView> after;
  AddDevice(&after[1], "D", 1, DeviceState::kInUse);
  after[1].members = std::vector<NodeId>{1};
  for (NodeId n : {2, 3}) {
    AddDevice(&after[n], "E", 2, DeviceState::kBusy);
    after[n].members = std::vector<NodeId>{2, 3};
  }
  const RunResult r2 = make()->Finish(20s, after);
  EXPECT_EQ(Metric(r2, "lost") + Metric(r2, "stale"), 0) << Discrepancies(r2);
  const RunResult r3 = make()->Finish(20s, within);
  EXPECT_TRUE(Mentions(r3, 1, "shows device E from node 2, which it should not")) << Discrepancies(r3);
  EXPECT_TRUE(Mentions(r3, 2, "members list node 1")) << Discrepancies(r3);
}

TEST(OracleEdges, ARestartedNodeHasNoViewUntilTheTransportGivesItOne) {
  // Found by the swarm (seed 12114): the oracle took the view of node 2's earlier life, which held
  // node 1, and required node 1's write there. The restarted engine has no view until its first
  // one comes and refuses every frame before it (kNotMember); cut off before that, it never
  // gets the write.
  scenario::Scenario s = LoadOrDie(kThreeNodes);
  s.engine.membership = MembershipSource::kTransport;
  auto make = [&] {
    auto run = std::make_unique<HandRun>(s, true);
    run->StartAll();
    for (NodeId n : kAll) run->View(Duration{}, n, kAll);
    run->Crash(2s, 2);
    run->View(2s, 1, {1, 3});
    run->View(2s, 3, {1, 3});
    run->Restart(10s, 2, 2);
    run->Mailbox(10100ms, 1, "m@d", kNine, Hlc(10100ms));
    run->Isolate(10200ms, 2);  // before a view with node 2 in it reached anyone
    run->View(10200ms, 2, {2});
    return run;
  };
  std::map<NodeId, FinalView> views = MailboxEverywhere({1, 3}, kNine, Hlc(10100ms), 1);
  views[2];
  const RunResult r = make()->Finish(20s, views);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  // It may not be shown there either: no frame of node 1 was taken by node 2's new life.
  const RunResult ghost = make()->Finish(20s, MailboxEverywhere({1, 2, 3}, kNine, Hlc(10100ms), 1));
  EXPECT_EQ(Metric(ghost, "stale"), 1) << Discrepancies(ghost);
}

TEST(OracleEdges, WithTransportMembershipAndNoViewsAOneWayCutSeparatesBothWays) {
  // CPG delivers only within a configuration: frames pass where links pass both ways.
  scenario::Scenario s = LoadOrDie(kThreeNodes);
  s.engine.membership = MembershipSource::kTransport;
  auto run = std::make_unique<HandRun>(s, true);
  run->StartAll();
  run->Device(1s, 1, "D", DeviceState::kInUse);
  run->Device(1s, 2, "E", DeviceState::kBusy);
  run->Partition(5s, {{1}, {2, 3}}, /*one_way=*/true);
  std::map<NodeId, FinalView> v;
  AddDevice(&v[1], "D", 1, DeviceState::kInUse);
  AddDevice(&v[1], "E", 2, DeviceState::kBusy);  // as with heartbeats: wrong here
  v[1].members = kAll;
  for (NodeId n : {2, 3}) {
    AddDevice(&v[n], "E", 2, DeviceState::kBusy);
    v[n].members = std::vector<NodeId>{2, 3};
  }
  const RunResult r = run->Finish(20s, v);
  EXPECT_TRUE(Mentions(r, 1, "shows device E from node 2, which it should not")) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 1, "members list node 2")) << Discrepancies(r);
  EXPECT_EQ(r.discrepancy_count, 3u) << Discrepancies(r);  // E, members 2 and 3: nothing else
}

TEST(OracleEdges, WithTransportMembershipAOneWayCutStopsDeliveriesBeforeTheViewsChange) {
  // Found by the swarm (seed 4508): node 2 cannot send to 1 and 3 from 5 s; node 1 writes at
  // 5.05 s, while every view still holds everyone (they change at 5.138 s). CPG's ring is broken
  // since 5 s, so node 1's UPDATES need not reach node 2: its own older write is right there.
  scenario::Scenario s = LoadOrDie(kThreeNodes);
  s.engine.membership = MembershipSource::kTransport;
  auto make = [&] {
    auto run = std::make_unique<HandRun>(s, true);
    run->StartAll();
    for (NodeId n : kAll) run->View(Duration{}, n, kAll);
    run->Mailbox(1s, 2, "m@d", kOne, Hlc(1s));
    run->Partition(5s, {{2}, {1, 3}}, /*one_way=*/true);
    run->Mailbox(5050ms, 1, "m@d", kNine, Hlc(5050ms));
    run->View(5138ms, 2, {2});
    run->View(5138ms, 1, {1, 3});
    run->View(5138ms, 3, {1, 3});
    run->Partition(6s, {{2}, {1, 3}});
    return run;
  };
  std::map<NodeId, FinalView> old = MailboxEverywhere({1, 3}, kNine, Hlc(5050ms), 1);
  AddMailbox(&old[2], "m@d", kOne, Hlc(1s), 2);
  const RunResult r = make()->Finish(20s, old);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  // The later write may have crossed before the ring broke (frames in flight): accepted too.
  const RunResult got = make()->Finish(20s, MailboxEverywhere(kAll, kNine, Hlc(5050ms), 1));
  EXPECT_EQ(Metric(got, "lost") + Metric(got, "stale"), 0) << Discrepancies(got);
  // Nodes 1 and 3 hear each other both ways: the later write is required there.
  std::map<NodeId, FinalView> behind = MailboxEverywhere({1, 2}, kNine, Hlc(5050ms), 1);
  AddMailbox(&behind[3], "m@d", kOne, Hlc(1s), 2);
  const RunResult r3 = make()->Finish(20s, behind);
  EXPECT_EQ(Metric(r3, "stale"), 1) << Discrepancies(r3);
}

TEST(OracleEdges, AReorderedFrameMayArriveAfterTheViewsChange) {
  // Found by the swarm (seed 99440): 3% of the LAN's frames are held back 91 ms. Node 1 writes at
  // 5 s, and at 5.05 s every node is cut off from the others for good (views change at once).
  // Node 1's UPDATES, held back, reach node 2 after its view dropped node 1 (the engine refuses
  // them, kNotMember): node 2 keeps the older write. The oracle's inflight left the hold out and
  // required the later write there.
  auto make = [](const std::string& lan) {
    scenario::Scenario s = LoadOrDie("name: reorder\nduration: 30s\nquiet: 0ms\ncluster: {nodes: 3}\n"
                                     "network:\n  lan: " + lan + "\n");
    s.engine.membership = MembershipSource::kTransport;
    auto run = std::make_unique<HandRun>(s, true);
    run->StartAll();
    for (NodeId n : kAll) run->View(Duration{}, n, kAll);
    run->Mailbox(1s, 1, "m@d", kOne, Hlc(1s));
    run->Mailbox(5s, 1, "m@d", kNine, Hlc(5s));
    run->Partition(5050ms, {{1}, {2}, {3}});
    for (NodeId n : kAll) run->View(5050ms, n, {n});
    return run;
  };
  std::map<NodeId, FinalView> behind = MailboxEverywhere({1, 3}, kNine, Hlc(5s), 1);
  AddMailbox(&behind[2], "m@d", kOne, Hlc(1s), 1);
  const std::string reordering = "{delay: 1ms, reorder: 3%, reorder_delay: 91ms}";
  const RunResult r = make(reordering)->Finish(20s, behind);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  const RunResult got = make(reordering)->Finish(20s, MailboxEverywhere(kAll, kNine, Hlc(5s), 1));
  EXPECT_EQ(Metric(got, "lost") + Metric(got, "stale"), 0) << Discrepancies(got);
  // Without reordering the 50 ms before the cut are more than inflight (12 ms): required.
  const RunResult plain = make("{delay: 1ms}")->Finish(20s, behind);
  EXPECT_EQ(Metric(plain, "stale"), 1) << Discrepancies(plain);
}

// ---- 3. Departure within the grace at the end: frozen as of the lost contact ----

std::unique_ptr<HandRun> CrashWithinGrace() {
  auto run = std::make_unique<HandRun>(kThreeNodesGrace);
  run->StartAll();
  run->Device(1s, 3, "D", DeviceState::kBusy);
  run->Device(7s, 3, "D", DeviceState::kInUse);
  run->Crash(8s, 3);
  return run;
}

TEST(OracleEdges, ACrashedNodeStillCountsWithinDetectionAndGraceFrozenAtTheCrash) {
  // Detection at 9 s (suspect_after 1 s), grace 5 s: until 14 s node 3's D still counts.
  const RunResult r = CrashWithinGrace()->Finish(10s, SurvivorsShow(DeviceState::kInUse));
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  const RunResult gone = CrashWithinGrace()->Finish(10s, SurvivorsShow(std::nullopt));
  EXPECT_EQ(Metric(gone, "lost"), 2) << Discrepancies(gone);
  EXPECT_TRUE(Mentions(gone, 1, "lost device D from node 3: shows none, expected INUSE (incarnation 1)"))
      << Discrepancies(gone);
  const RunResult older = CrashWithinGrace()->Finish(10s, SurvivorsShow(DeviceState::kBusy));
  EXPECT_EQ(Metric(older, "stale"), 2) << Discrepancies(older);
}

TEST(OracleEdges, AfterDetectionAndGraceTheEntriesMustBeGone) {
  const RunResult r = CrashWithinGrace()->Finish(16s, SurvivorsShow(std::nullopt));
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  const RunResult kept = CrashWithinGrace()->Finish(16s, SurvivorsShow(DeviceState::kInUse));
  EXPECT_EQ(Metric(kept, "stale"), 2) << Discrepancies(kept);
  EXPECT_TRUE(Mentions(kept, 2, "shows device D from node 3, which it should not")) << Discrepancies(kept);
}

TEST(OracleEdges, AroundTheDetectionInstantBothAnswersAreRight) {
  // The last heartbeat may have come up to 562 ms before the crash, or the check may lag: the
  // drop falls between 13.438 s and 14.138 s.
  for (auto d : {std::optional<DeviceState>(DeviceState::kInUse), std::optional<DeviceState>()}) {
    const RunResult r = CrashWithinGrace()->Finish(13800ms, SurvivorsShow(d));
    EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  }
  EXPECT_EQ(Metric(CrashWithinGrace()->Finish(13300ms, SurvivorsShow(std::nullopt)), "lost"), 2);
  EXPECT_EQ(Metric(CrashWithinGrace()->Finish(14200ms, SurvivorsShow(DeviceState::kInUse)), "stale"), 2);
}

TEST(OracleEdges, AnIsolatedNodeIsFrozenAsOfTheCutElsewhereAndLiveAtHome) {
  auto run = std::make_unique<HandRun>(kThreeNodesGrace);
  run->StartAll();
  run->Device(1s, 3, "D", DeviceState::kBusy);
  run->Isolate(8s, 3);
  run->Device(9s, 3, "D", DeviceState::kNotInUse);  // nobody hears this one
  std::map<NodeId, FinalView> v = SurvivorsShow(DeviceState::kBusy);
  AddDevice(&v[3], "D", 3, DeviceState::kNotInUse);
  const RunResult r = run->Finish(10s, v);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
}

TEST(OracleEdges, LossOnlyLoosensTheCheckWhileItIsInForce) {
  // 30% loss from 2 s to 4 s: a detector may suspect a live peer then (0.3^3 per window), and
  // with no grace drop its entries for a while. Long after the restore that is over.
  const std::string yaml = std::string(kThreeNodes) + R"(faults:
  - {at: 2s, degrade: {loss: 30%}}
  - {at: 4s, restore: {}}
)";
  auto make = [&] {
    auto run = std::make_unique<HandRun>(yaml);
    run->StartAll();
    run->Device(1s, 1, "D", DeviceState::kInUse);
    run->Degrade(2s);
    run->Restore(4s);
    return run;
  };
  std::map<NodeId, FinalView> v;
  AddDevice(&v[1], "D", 1, DeviceState::kInUse);
  v[2] = v[3] = FinalView{};  // nodes 2 and 3 lack node 1's D
  EXPECT_EQ(Metric(make()->Finish(20s, v), "lost"), 2);
  EXPECT_EQ(Metric(make()->Finish(5s, v), "lost"), 0);  // just after the loss: accepted
}

// ---- 4. A write that can never arrive is not required ----

std::unique_ptr<HandRun> IsolatedWriterDies(const std::string& yaml = kThreeNodes, bool isolate = true) {
  auto run = std::make_unique<HandRun>(yaml);
  run->StartAll();
  run->Mailbox(1s, 1, "m@d", kOne, Hlc(1s));
  if (isolate) run->Isolate(5s, 3);
  run->Mailbox(6s, 3, "m@d", kNine, Hlc(6s));
  run->Crash(7s, 3);
  if (isolate) run->Heal(8s);
  return run;
}

TEST(OracleEdges, AWriteNobodyAliveReceivedIsNotRequired) {
  const RunResult r = IsolatedWriterDies()->Finish(20s, MailboxEverywhere({1, 2}, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  // It cannot be shown either: no live node could have got it.
  const RunResult ghost = IsolatedWriterDies()->Finish(20s, MailboxEverywhere({1, 2}, kNine, Hlc(6s), 3));
  EXPECT_EQ(Metric(ghost, "stale"), 2) << Discrepancies(ghost);
}

TEST(OracleEdges, AWriteThatReachedOthersBeforeTheCrashIsRequired) {
  // Connected and without loss: node 3's UPDATES reached everyone within 12 ms.
  const auto make = [] { return IsolatedWriterDies(kThreeNodes, /*isolate=*/false); };
  const RunResult r = make()->Finish(20s, MailboxEverywhere({1, 2}, kNine, Hlc(6s), 3));
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  const RunResult old = make()->Finish(20s, MailboxEverywhere({1, 2}, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(old, "stale"), 2) << Discrepancies(old);
}

TEST(OracleEdges, AWriteThatMayHaveArrivedIsAcceptedEitherWay) {
  // With 10% loss its UPDATES may have been lost, and 1 s is too short for a repair.
  std::string yaml = kThreeNodes;
  yaml.replace(yaml.find("{delay: 1ms}"), 12, "{delay: 1ms, loss: 10%}");
  for (const auto& [c, hlc, w] : {std::tuple(kNine, Hlc(6s), NodeId{3}), std::tuple(kOne, Hlc(1s), NodeId{1})}) {
    const RunResult r = IsolatedWriterDies(yaml, false)->Finish(20s, MailboxEverywhere({1, 2}, c, hlc, w));
    EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  }
  const RunResult none = IsolatedWriterDies(yaml, false)->Finish(20s, {{1, FinalView{}}, {2, FinalView{}}});
  EXPECT_EQ(Metric(none, "lost"), 2) << Discrepancies(none);
}

// ---- 5. Convergence through later faults: interrupted, not slow ----

std::unique_ptr<HandRun> TwoPartitions(bool catch_up) {
  auto run = std::make_unique<HandRun>(kThreeNodes);
  run->StartAll();
  run->Device(1s, 1, "D", DeviceState::kInUse);
  for (NodeId n : {2, 3}) run->ShowsDevice(1010ms, n, "D", 1, DeviceState::kInUse, 1, 1);
  run->Partition(2s, {{1}, {2, 3}});
  for (NodeId n : {2, 3}) run->ShowsDevice(3100ms, n, "D", 1, std::nullopt);  // node 1 departed
  run->Device(3500ms, 1, "D", DeviceState::kBusy);
  run->Heal(5s);
  run->Partition(6s, {{1}, {2, 3}});  // before nodes 2 and 3 caught up
  run->Heal(9s);
  if (catch_up) {
    for (NodeId n : {2, 3}) run->ShowsDevice(10800ms, n, "D", 1, DeviceState::kBusy, 1, 2);
  }
  return run;
}

std::map<NodeId, FinalView> EveryoneShowsBusy() {
  std::map<NodeId, FinalView> v;
  for (NodeId n : kAll) AddDevice(&v[n], "D", 1, DeviceState::kBusy);
  return v;
}

TEST(OracleEdges, AConvergenceTheNextFaultCutsShortIsInterruptedNotSlow) {
  const RunResult r = TwoPartitions(true)->Finish(20s, EveryoneShowsBusy());
  ASSERT_EQ(r.convergence.size(), 2u);
  const ConvergenceSample& first = r.convergence[0];
  EXPECT_FALSE(first.converged);
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.until, 6s);
  EXPECT_EQ(first.interrupted_by, "partition [1] [2,3]");
  const ConvergenceSample& second = r.convergence[1];
  EXPECT_TRUE(second.converged);
  EXPECT_FALSE(second.interrupted);
  EXPECT_EQ(second.took, 1800ms);
  // The figures hold only the second heal; the first is counted apart.
  EXPECT_EQ(Metric(r, "convergence.after_heal.max"), 1.8e9);
  EXPECT_EQ(Metric(r, "convergence.after_heal.min"), 1.8e9);
  EXPECT_EQ(Metric(r, "convergence.interrupted"), 1);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
}

TEST(OracleEdges, AConvergenceThatNeverCameAndWasNotInterruptedIsInfinitelySlow) {
  std::map<NodeId, FinalView> v;
  AddDevice(&v[1], "D", 1, DeviceState::kBusy);
  v[2] = v[3] = FinalView{};
  const RunResult r = TwoPartitions(false)->Finish(20s, v);
  ASSERT_EQ(r.convergence.size(), 2u);
  EXPECT_TRUE(r.convergence[0].interrupted);
  EXPECT_FALSE(r.convergence[1].converged);
  EXPECT_FALSE(r.convergence[1].interrupted);
  EXPECT_TRUE(std::isinf(Metric(r, "convergence.after_heal.max")));
  EXPECT_EQ(Metric(r, "convergence.interrupted"), 1);
  EXPECT_EQ(Metric(r, "lost"), 2) << Discrepancies(r);
}


// ---- The in-flight window: a frame held back by a reordering LAN arrives reorder_delay late ----

TEST(OracleEdges, TheInflightWindowHoldsTheLongestReorderDelay) {
  std::string yaml = kThreeNodes;
  yaml.replace(yaml.find("{delay: 1ms}"), 12, "{delay: 1ms, reorder: 5%, reorder_delay: 200ms}");
  const scenario::Scenario s = LoadOrDie(yaml);
  EXPECT_EQ(OracleTiming::Of(LoadOrDie(kThreeNodes)).inflight, 12ms);
  EXPECT_EQ(OracleTiming::Of(s).inflight, 212ms);
  // A degradation that makes a link reorder counts too, with its own hold.
  std::string degraded = kThreeNodes;
  degraded += "faults:\n  - {at: 2s, degrade: {reorder: 1%, reorder_delay: 300ms}}\n";
  EXPECT_EQ(OracleTiming::Of(LoadOrDie(degraded)).inflight, 312ms);
  // Node 1 changes D 100 ms before the end; a node still showing the value before is within the
  // window only when the hold counts; 300 ms before the end it is stale either way.
  auto make = [&](Duration before_end) {
    auto run = std::make_unique<HandRun>(s, true);
    run->StartAll();
    run->Device(1s, 1, "D", DeviceState::kInUse);
    for (NodeId n : {2, 3}) run->ShowsDevice(1010ms, n, "D", 1, DeviceState::kInUse, 1, 1);
    run->Device(20s - before_end, 1, "D", DeviceState::kBusy);
    std::map<NodeId, FinalView> v;
    AddDevice(&v[1], "D", 1, DeviceState::kBusy);
    for (NodeId n : {2, 3}) AddDevice(&v[n], "D", 1, DeviceState::kInUse, 1);
    return run->Finish(20s, v);
  };
  const RunResult held = make(100ms);
  EXPECT_EQ(Metric(held, "lost") + Metric(held, "stale"), 0) << Discrepancies(held);
  const RunResult late = make(300ms);
  EXPECT_EQ(Metric(late, "stale"), 2) << Discrepancies(late);
}

}  // namespace
}  // namespace pbxstate::harness::testing
