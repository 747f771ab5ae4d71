// The oracle over a token ring that a fault can stall without a view change (Corosync, real or
// modelled; write_spread.h, "A stalled ring"): a write the ring may have held back is not
// required at a member whose view lost the writer, while a write made in an undisturbed view, an
// owned entry kept past its owner's departure and a write the reader held before any fault are
// still caught, and a transport without stalls is judged as before.
#include <memory>

#include "hand_run.h"

namespace pbxstate::harness::testing {
namespace {

// Grace 5 s; LAN 1 ms (inflight 13 ms, settle 5.526 s: OracleTiming::Of).
const std::string kFourNodes = HandScenario("stalled-ring", 4, 20, true, 5);

const std::vector<NodeId> kAll{1, 2, 3, 4};
const MailboxCounts kOne{1, 0, 0}, kNine{9, 0, 0};

struct Story {
  bool ring_may_stall = true;       // the backend's transport is Corosync's ring
  bool stalled_before = true;       // a one-way cut from 1 to 2 s, in the view of time 0
  bool writer_crashes = false;      // node 1's engine crashes at 4 s instead of the split
  bool transport_outlives = false;  // and its corosync lives on
  bool writer_restarts = false;     // and it restarts at 6 s (incarnation 2)
  bool restarted_writer_in_views = true;  // the views of 12 s list node 1 (its new incarnation)
};

// Node 3 writes m@d at 0.5 s, before anything happens; node 1 writes it at 3 s (and sets device
// D). At 4 s the cluster splits into {1, 2} and {3, 4} (or node 1's engine crashes); the views
// follow at 12 s, as Corosync's do a token and a consensus later.
std::unique_ptr<HandRun> Tell(const Story& story) {
  auto run = std::make_unique<HandRun>(kFourNodes);
  if (story.ring_may_stall) run->rec.TransportRingMayStall();
  if (story.transport_outlives) run->rec.TransportOutlivesCrashes();
  run->StartAll();
  for (NodeId n : kAll) run->View(Duration{}, n, kAll);
  run->Mailbox(500ms, 3, "m@d", kOne, Hlc(500ms));
  if (story.stalled_before) {
    run->Partition(1s, {{3, 4}}, /*one_way=*/true);
    run->Heal(2s);
  }
  run->Mailbox(3s, 1, "m@d", kNine, Hlc(3s));
  run->Device(3s, 1, "D", DeviceState::kInUse);
  if (story.writer_restarts) {
    // Node 1 is back before the others' views changed: the configuration of 12 s is the first
    // they get after the crash and lists the new incarnation (CPG hands the old one's leave and
    // the new one's join together), or, with `restarted_writer_in_views` off, not yet.
    run->Crash(4s, 1);
    run->Restart(6s, 1, 2);
    const std::vector<NodeId> members = story.restarted_writer_in_views ? kAll : std::vector<NodeId>{2, 3, 4};
    for (NodeId n : members) run->View(12s, n, members);
  } else if (story.writer_crashes) {
    run->Crash(4s, 1);
    for (NodeId n : {2, 3, 4}) run->View(12s, n, {2, 3, 4});
  } else {
    run->Partition(4s, {{1, 2}, {3, 4}});
    for (NodeId n : {1, 2}) run->View(12s, n, {1, 2});
    for (NodeId n : {3, 4}) run->View(12s, n, {3, 4});
  }
  return run;
}

// Nodes 1 and 2 (or 2 alone, without D: its owner crashed) show node 1's write; 3 and 4 the one
// of 0.5 s (the ring never delivered node 1's), or `far_side` instead when given.
std::map<NodeId, FinalView> Shows(bool writer_up, std::optional<FinalView> far_side = std::nullopt) {
  std::map<NodeId, FinalView> views;
  for (NodeId n : {1, 2}) {
    if (n == 1 && !writer_up) continue;
    AddMailbox(&views[n], "m@d", kNine, Hlc(3s), 1);
    if (writer_up) AddDevice(&views[n], "D", 1, DeviceState::kInUse);
  }
  for (NodeId n : {3, 4}) {
    if (far_side) {
      views[n] = *far_side;
    } else {
      AddMailbox(&views[n], "m@d", kOne, Hlc(500ms), 3);
    }
  }
  return views;
}

TEST(StalledRing, AWriteTheStalledRingNeverDeliveredBeforeTheSplitIsNotRequired) {
  const RunResult r = Tell({})->Finish(20s, Shows(true));
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  // Delivered before the split is accepted too.
  std::map<NodeId, FinalView> got = Shows(true);
  for (NodeId n : {3, 4}) {
    got[n] = FinalView{};
    AddMailbox(&got[n], "m@d", kNine, Hlc(3s), 1);
  }
  const RunResult delivered = Tell({})->Finish(20s, got);
  EXPECT_EQ(Metric(delivered, "lost") + Metric(delivered, "stale"), 0) << Discrepancies(delivered);
}

TEST(StalledRing, AWriteMadeInAnUndisturbedViewIsStillRequiredAfterTheSplit) {
  // Nothing held the ring back from the start of the view to the write's due time: the ring
  // delivered it at once, and a member that lost it when its writer departed is wrong.
  const RunResult r = Tell({.stalled_before = false})->Finish(20s, Shows(true));
  EXPECT_EQ(Metric(r, "stale"), 2) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 3, "stale mailbox m@d")) << Discrepancies(r);
}

TEST(StalledRing, ATransportThatNeverStallsIsJudgedAsBefore) {
  // The inproc network and ns-3 over UDP drop frames or deliver them: after the heal at 2 s,
  // node 1's write reached 3 and 4 within inflight.
  const RunResult r = Tell({.ring_may_stall = false})->Finish(20s, Shows(true));
  EXPECT_EQ(Metric(r, "stale"), 2) << Discrepancies(r);
}

TEST(StalledRing, WhatTheReaderHeldBeforeTheStallMustStay) {
  // Node 3's write of 0.5 s, delivered before anything happened, is the least 3 and 4 must show.
  const RunResult r = Tell({})->Finish(20s, Shows(true, FinalView{}));
  EXPECT_EQ(Metric(r, "lost"), 2) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 4, "lost mailbox m@d")) << Discrepancies(r);
}

TEST(StalledRing, AnEntryOfADepartedWriterKeptPastTheGraceIsStillStale) {
  // The views dropped node 1 at 12 s, the grace ended at 17 s: 3 and 4 must no longer show D.
  FinalView keeps;
  AddMailbox(&keeps, "m@d", kOne, Hlc(500ms), 3);
  AddDevice(&keeps, "D", 1, DeviceState::kInUse);
  const RunResult r = Tell({})->Finish(20s, Shows(true, keeps));
  EXPECT_EQ(Metric(r, "stale"), 2) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 3, "shows device D from node 1, which it should not")) << Discrepancies(r);
  // Within the grace it may still show it.
  const RunResult early = Tell({})->Finish(16s, Shows(true, keeps));
  EXPECT_EQ(Metric(early, "lost") + Metric(early, "stale"), 0) << Discrepancies(early);
}

TEST(StalledRing, AWriterWhoseCorosyncDiedTakesWhatItsStalledRingHeld) {
  // --crash-corosync: node 1's corosync died with its engine at 4 s, before its stalled ring
  // delivered the write of 3 s; the others need not have it.
  const RunResult dead = Tell({.writer_crashes = true})->Finish(20s, Shows(false));
  EXPECT_EQ(Metric(dead, "lost") + Metric(dead, "stale"), 0) << Discrepancies(dead);
  // Its corosync lives on: the leave is delivered after the write, which every survivor must show.
  const RunResult alive = Tell({.writer_crashes = true, .transport_outlives = true})->Finish(20s, Shows(false));
  EXPECT_EQ(Metric(alive, "stale"), 2) << Discrepancies(alive);
}

// Every node shows node 3's write of 0.5 s: the stalled ring never delivered node 1's of 3 s,
// and node 1's new incarnation got node 3's by anti-entropy.
std::map<NodeId, FinalView> ShowTheFirstWrite(std::initializer_list<NodeId> nodes) {
  std::map<NodeId, FinalView> views;
  for (NodeId n : nodes) AddMailbox(&views[n], "m@d", kOne, Hlc(500ms), 3);
  return views;
}

TEST(StalledRing, AViewListingTheRestartedWriterHasLostTheIncarnationThatWrote) {
  // A view given after node 1 restarted lists its new incarnation: the one that wrote at 3 s
  // left the ring, taking what the stalled ring held (its corosync died with it).
  const RunResult r = Tell({.writer_restarts = true})->Finish(20s, ShowTheFirstWrite({1, 2, 3, 4}));
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
}

TEST(StalledRing, AWriterThatRestartedOnALiveCorosyncStillDeliversWhatItHadSent) {
  // Its corosync lived on: the old incarnation's leave came after its write, which every
  // survivor must show, whether or not the views of 12 s list the new incarnation yet.
  for (bool listed : {true, false}) {
    const Story story{.transport_outlives = true, .writer_restarts = true, .restarted_writer_in_views = listed};
    // Unlisted, node 1's new incarnation has no view, so no peer's frames: it shows nothing.
    std::map<NodeId, FinalView> shown = ShowTheFirstWrite({2, 3, 4});
    shown[1] = listed ? shown[2] : FinalView{};
    const RunResult r = Tell(story)->Finish(20s, shown);
    // Listed, node 1's new incarnation must have it too (anti-entropy from the others).
    EXPECT_EQ(Metric(r, "stale"), listed ? 4 : 3) << "views list node 1: " << listed << "\n" << Discrepancies(r);
    EXPECT_TRUE(Mentions(r, 2, "stale mailbox m@d")) << Discrepancies(r);
  }
}

}  // namespace
}  // namespace pbxstate::harness::testing
