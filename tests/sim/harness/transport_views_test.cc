// The oracle with transport membership judged by the views a backend delivered
// (RunRecorder::MembershipDelivered): a crashed node's entries vanish by the real view change
// plus the grace, not by a model of detection; a view of an earlier incarnation counts for
// nothing; the views are listed in the result (run.json's "membership"), and ignored under
// heartbeat membership.
#include <memory>

#include "hand_run.h"

namespace pbxstate::harness::testing {
namespace {

// Grace 5 s; LAN 1 ms. settle is 5.524 s (OracleTiming::Of).
const std::string kThreeNodesGrace = HandScenario("views", 3, 30, true, 5);

const std::vector<NodeId> kAll{1, 2, 3};

// Node 3 sets D and crashes at 8 s; its peers' CPG views drop it at `view_drop` (a token timeout
// after the crash, as with a killed corosync).
std::unique_ptr<HandRun> CrashSeenAt(Duration view_drop) {
  auto run = std::make_unique<HandRun>(kThreeNodesGrace);
  run->StartAll();
  for (NodeId n : kAll) run->View(Duration{}, n, kAll);
  run->Device(1s, 3, "D", DeviceState::kInUse);
  run->Crash(8s, 3);
  for (NodeId n : {1, 2}) run->View(view_drop, n, {1, 2});
  return run;
}

TEST(TransportViews, ACrashedNodesEntriesVanishOnlyAfterTheRealViewChangeAndTheGrace) {
  // The view drops node 3 at 10 s: D must stay until 15 s, and be gone after.
  const RunResult kept = CrashSeenAt(10s)->Finish(14s, SurvivorsShow(DeviceState::kInUse));
  EXPECT_EQ(Metric(kept, "lost") + Metric(kept, "stale"), 0) << Discrepancies(kept);
  const RunResult early = CrashSeenAt(10s)->Finish(14s, SurvivorsShow(std::nullopt));
  EXPECT_EQ(Metric(early, "lost"), 2) << Discrepancies(early);
  EXPECT_TRUE(Mentions(early, 1, "lost device D from node 3")) << Discrepancies(early);
  const RunResult gone = CrashSeenAt(10s)->Finish(15100ms, SurvivorsShow(std::nullopt));
  EXPECT_EQ(Metric(gone, "lost") + Metric(gone, "stale"), 0) << Discrepancies(gone);
  const RunResult late = CrashSeenAt(10s)->Finish(15100ms, SurvivorsShow(DeviceState::kInUse));
  EXPECT_EQ(Metric(late, "stale"), 2) << Discrepancies(late);
  EXPECT_TRUE(Mentions(late, 2, "shows device D from node 3, which it should not")) << Discrepancies(late);
  // The same instant judged by another view: dropped at 8 s, the grace ended at 13 s.
  const RunResult other = CrashSeenAt(8s)->Finish(14s, SurvivorsShow(DeviceState::kInUse));
  EXPECT_EQ(Metric(other, "stale"), 2) << Discrepancies(other);
}

TEST(TransportViews, AViewOfAnEarlierIncarnationCountsForNothing) {
  auto make = [] {
    auto run = std::make_unique<HandRun>(kThreeNodesGrace);
    run->StartAll();
    for (NodeId n : kAll) run->View(Duration{}, n, kAll);
    run->Device(1s, 1, "D", DeviceState::kInUse);
    run->Crash(5s, 3);
    for (NodeId n : {1, 2}) run->View(5s, n, {1, 2});
    run->Restart(6s, 3, 2);
    return run;
  };
  // Restarted at 6 s and handed no view yet: node 3 counts nobody, so D is not its to show.
  std::map<NodeId, FinalView> shows;
  for (NodeId n : kAll) AddDevice(&shows[n], "D", 1, DeviceState::kInUse);
  const RunResult early = make()->Finish(8s, shows);
  EXPECT_TRUE(Mentions(early, 3, "shows device D from node 1, which it should not")) << Discrepancies(early);
  // Handed a view of all three at 9 s: once caught up (settle) it must show D.
  auto joined = make();
  joined->View(9s, 3, kAll);
  for (NodeId n : {1, 2}) joined->View(9s, n, kAll);
  std::map<NodeId, FinalView> missing = shows;
  missing[3] = FinalView{};
  const RunResult r = joined->Finish(20s, missing);
  EXPECT_TRUE(Mentions(r, 3, "lost device D from node 1")) << Discrepancies(r);
}

TEST(TransportViews, TheViewsAreListedInTheResult) {
  auto run = CrashSeenAt(10s);
  const RunResult r = run->Finish(20s, SurvivorsShow(std::nullopt));
  EXPECT_EQ(r.membership, MembershipSource::kTransport);
  ASSERT_EQ(r.view_count, 5u);
  ASSERT_EQ(r.views.size(), 5u);
  EXPECT_EQ(r.views[3].t, 10s);
  EXPECT_EQ(r.views[3].node, 1u);
  EXPECT_EQ(r.views[3].members, (std::vector<NodeId>{1, 2}));
}

TEST(TransportViews, HeartbeatMembershipIgnoresViews) {
  scenario::Scenario s = LoadOrDie(kThreeNodesGrace);
  s.membership.source = MembershipSource::kHeartbeat;
  HandRun run(s, true);
  run.StartAll();
  for (NodeId n : kAll) run.View(Duration{}, n, {n});
  std::map<NodeId, FinalView> none;
  for (NodeId n : kAll) none[n] = FinalView{};
  const RunResult r = run.Finish(10s, none);
  EXPECT_EQ(r.membership, MembershipSource::kHeartbeat);
  EXPECT_EQ(r.view_count, 0u);
  EXPECT_TRUE(r.views.empty());
}

// ---- CPG delivers in the view a write was sent in, even after its writer's engine died ----

const MailboxCounts kOne{1, 0, 0}, kNine{9, 0, 0};

std::map<NodeId, FinalView> SurvivorsShowMailbox(MailboxCounts c, HlcTimestamp hlc, NodeId writer) {
  std::map<NodeId, FinalView> views;
  for (NodeId n : {1, 2}) AddMailbox(&views[n], "m@d", c, hlc, writer);
  return views;
}

// Node 3 is cut off at 5 s, writes at 6 s and its engine crashes at 7 s; the cut heals at 8 s.
// `view_change`: the cut outlasted the token, and the views dropped node 3 at 5.5 s, before the
// write; otherwise the ring only stalled and the views drop node 3 at 8.5 s, after the heal,
// when its leave is delivered (scenarios/adversarial/never-arriving-write.yaml on emu).
std::unique_ptr<HandRun> WriterCutOffThenKilled(bool view_change, bool transport_outlives) {
  auto run = std::make_unique<HandRun>(kThreeNodesGrace);
  if (transport_outlives) run->rec.TransportOutlivesCrashes();
  run->StartAll();
  for (NodeId n : kAll) run->View(Duration{}, n, kAll);
  run->Mailbox(1s, 1, "m@d", kOne, Hlc(1s));
  run->Isolate(5s, 3);
  if (view_change) {
    for (NodeId n : {1, 2}) run->View(5500ms, n, {1, 2});
    run->View(5500ms, 3, {3});
  }
  run->Mailbox(6s, 3, "m@d", kNine, Hlc(6s));
  run->Crash(7s, 3);
  run->Heal(8s);
  if (!view_change) {
    for (NodeId n : {1, 2}) run->View(8500ms, n, {1, 2});
  }
  return run;
}

TEST(TransportViews, AWriteMadeInAViewReachesTheMembersThatKeepItsWriterInTheirView) {
  // Corosync outlives the PBX process: the write handed to CPG is delivered after the heal.
  const RunResult arrived = WriterCutOffThenKilled(false, true)->Finish(20s, SurvivorsShowMailbox(kNine, Hlc(6s), 3));
  EXPECT_EQ(Metric(arrived, "lost") + Metric(arrived, "stale"), 0) << Discrepancies(arrived);
  // Not required either: the oracle cannot tell whether CPG got it out before the process died.
  const RunResult older = WriterCutOffThenKilled(false, true)->Finish(20s, SurvivorsShowMailbox(kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(older, "lost") + Metric(older, "stale"), 0) << Discrepancies(older);
}

TEST(TransportViews, AWriteSentInAViewWithoutTheOthersOrDeadWithItsTransportCannotArrive) {
  // The views had dropped node 3 before it wrote: its ring was its own, nobody else could get it.
  const RunResult own_ring = WriterCutOffThenKilled(true, true)->Finish(20s, SurvivorsShowMailbox(kNine, Hlc(6s), 3));
  EXPECT_EQ(Metric(own_ring, "stale"), 2) << Discrepancies(own_ring);
  // A crash that takes the transport too (the inproc network, corosync.crash: node).
  const RunResult dead = WriterCutOffThenKilled(false, false)->Finish(20s, SurvivorsShowMailbox(kNine, Hlc(6s), 3));
  EXPECT_EQ(Metric(dead, "stale"), 2) << Discrepancies(dead);
  const RunResult kept = WriterCutOffThenKilled(false, false)->Finish(20s, SurvivorsShowMailbox(kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(kept, "lost") + Metric(kept, "stale"), 0) << Discrepancies(kept);
}

// ---- convergence after a heal is timed to the views the stretch ends with ----

// Node 3 is cut off at 4 s and writes at 5 s; the views split at 5.5 s, the cut heals at 7 s,
// the views merge at 8 s and nodes 1 and 2 get node 3's write at `repaired` (the engines'
// repair after the merged view; mailbox-heal-10k on emu). Before the oracle judged the floor by
// the last epoch, the split views in force at the heal made the older write the floor and the
// heal's convergence 0 (seen on emu as convergence.after_heal 0 ns).
RunResult HealedAcrossViews(Duration repaired) {
  HandRun run(kThreeNodesGrace);
  run.StartAll();
  for (NodeId n : kAll) run.View(Duration{}, n, kAll);
  run.Mailbox(1s, 1, "m@d", kOne, Hlc(1s));
  for (NodeId n : {2, 3}) run.ShowsMailbox(1001ms, n, "m@d", {kOne, Hlc(1s), 1});
  run.Isolate(4s, 3);
  run.Mailbox(5s, 3, "m@d", kNine, Hlc(5s));
  for (NodeId n : {1, 2}) run.View(5500ms, n, {1, 2});
  run.View(5500ms, 3, {3});
  run.Heal(7s);
  for (NodeId n : kAll) run.View(8s, n, kAll);
  for (NodeId n : {1, 2}) run.ShowsMailbox(repaired, n, "m@d", {kNine, Hlc(5s), 3});
  std::map<NodeId, FinalView> views;
  for (NodeId n : kAll) AddMailbox(&views[n], "m@d", kNine, Hlc(5s), 3);
  return run.Finish(20s, views);
}

TEST(TransportViews, ConvergenceAfterAHealWaitsForTheWriteMadeAcrossTheCut) {
  const RunResult r = HealedAcrossViews(8500ms);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  EXPECT_EQ(Metric(r, "convergence.after_heal.max"), 1.5e9);
  EXPECT_EQ(Metric(HealedAcrossViews(9s), "convergence.after_heal.max"), 2e9);
}

}  // namespace
}  // namespace pbxstate::harness::testing
