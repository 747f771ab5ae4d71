// The oracle's model of a mailbox removal (Engine::RemoveMailbox; oracle.h, "Mailbox removals"),
// on small histories written by hand: a removal is a write without counts that wins by HLC, a
// later write brings the mailbox back, a removal its engine did not report was not made, and a
// removal made while a node is cut off survives the heal however long the cut lasted.
#include <memory>
#include <optional>

#include "hand_run.h"

namespace pbxstate::harness::testing {
namespace {

// Three nodes on a 1 ms LAN, heartbeats every 250 ms, suspicion after 1 s: a removal certainly
// reaches a node it hears within inflight (12 ms).
scenario::Scenario ThreeNodes() {
  return LoadOrDie("{name: mailbox-removal, duration: 300s, quiet: 0ms, cluster: {nodes: 3}, "
                   "network: {lan: {delay: 1ms}}, engine: {heartbeat_interval: 250ms, suspect_after: 1s}}");
}

const MailboxCounts kOne{1, 0, 0}, kTwo{2, 0, 0};
const std::vector<NodeId> kAll{1, 2, 3};

std::map<NodeId, FinalView> Showing(const std::vector<NodeId>& nodes, MailboxCounts c, HlcTimestamp hlc, NodeId writer) {
  std::map<NodeId, FinalView> views;
  for (NodeId n : kAll) views[n];
  for (NodeId n : nodes) AddMailbox(&views[n], "m@d", c, hlc, writer);
  return views;
}

std::unique_ptr<HandRun> WrittenThenRemoved(bool report_removal = true) {
  auto run = std::make_unique<HandRun>(ThreeNodes(), true);
  run->StartAll();
  run->Mailbox(1s, 1, "m@d", kOne, Hlc(1s));
  run->RemoveMailbox(3s, 1, "m@d", report_removal);
  return run;
}

TEST(MailboxRemoval, ARemovedMailboxIsAbsentEverywhere) {
  const RunResult r = WrittenThenRemoved()->Finish(20s, Showing({}, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
}

TEST(MailboxRemoval, ARemovedMailboxStillShownIsStale) {
  const RunResult r = WrittenThenRemoved()->Finish(20s, Showing({3}, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(r, "lost"), 0) << Discrepancies(r);
  EXPECT_EQ(Metric(r, "stale"), 1) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 3, "m@d")) << Discrepancies(r);
}

TEST(MailboxRemoval, ALaterWriteOnAnyNodeBringsItBack) {
  auto make = [] {
    auto run = WrittenThenRemoved();
    run->Mailbox(5s, 2, "m@d", kTwo, Hlc(5s));
    return run;
  };
  const RunResult back = make()->Finish(20s, Showing(kAll, kTwo, Hlc(5s), 2));
  EXPECT_EQ(Metric(back, "lost") + Metric(back, "stale"), 0) << Discrepancies(back);
  const RunResult gone = make()->Finish(20s, Showing({}, kTwo, Hlc(5s), 2));
  EXPECT_EQ(Metric(gone, "lost"), 3) << Discrepancies(gone);
}

TEST(MailboxRemoval, AnEarlierStampedWriteNeverBringsItBack) {
  // Node 2 writes before the removal (its HLC lower): the removal still wins everywhere.
  auto run = std::make_unique<HandRun>(ThreeNodes(), true);
  run->StartAll();
  run->Mailbox(1s, 1, "m@d", kOne, Hlc(1s));
  run->Mailbox(2s, 2, "m@d", kTwo, Hlc(2s));
  run->RemoveMailbox(3s, 1, "m@d");
  const RunResult r = run->Finish(20s, Showing({2}, kTwo, Hlc(2s), 2));
  EXPECT_EQ(Metric(r, "stale"), 1) << Discrepancies(r);
}

TEST(MailboxRemoval, ARemovalItsEngineDidNotReportWasNotMade) {
  // Engine::RemoveMailbox makes nothing where the remover holds no value: no report, no removal.
  const RunResult kept = WrittenThenRemoved(/*report_removal=*/false)->Finish(20s, Showing(kAll, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(kept, "lost") + Metric(kept, "stale"), 0) << Discrepancies(kept);
  const RunResult gone = WrittenThenRemoved(/*report_removal=*/false)->Finish(20s, Showing({}, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(gone, "lost"), 3) << Discrepancies(gone);
}

// Node 3 is cut off from 2 s, after the write reached it; node 1 removes the mailbox at 3 s. A
// heal that repairs node 3 must leave the removal everywhere, whether it comes within the
// tombstone's keep or long after it (engine/README.md, "Removing a mailbox": the hold).
std::unique_ptr<HandRun> RemovedWhileNodeThreeIsCutOff(std::optional<Duration> heal_at) {
  auto run = std::make_unique<HandRun>(ThreeNodes(), true);
  run->StartAll();
  run->Mailbox(1s, 1, "m@d", kOne, Hlc(1s));
  run->Isolate(2s, 3);
  run->RemoveMailbox(3s, 1, "m@d");
  if (heal_at) run->Heal(*heal_at);
  return run;
}

TEST(MailboxRemoval, AHealWithinTheKeepLeavesTheRemovalEverywhere) {
  // Healed early enough that the repair (settle) brings node 3 the removal before its keep ends.
  const scenario::Scenario s = WrittenThenRemoved()->scenario;
  const Duration keep = TombstoneKeep(s.engine), settle = OracleTiming::Of(s).settle;
  ASSERT_GT(keep, settle + 2s);
  const Duration heal = 3s + keep - settle - 1s;
  const Duration end = heal + 60s;
  const RunResult removed = RemovedWhileNodeThreeIsCutOff(heal)->Finish(end, Showing({}, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(removed, "lost") + Metric(removed, "stale"), 0) << Discrepancies(removed);
  const RunResult back = RemovedWhileNodeThreeIsCutOff(heal)->Finish(end, Showing(kAll, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(back, "stale"), 3) << Discrepancies(back);
}

TEST(MailboxRemoval, AHealPastTheKeepStillLeavesTheRemovalEverywhere) {
  // Cut off for three minutes, far past the keep: the tombstones are held until the heal and the
  // keep after it, so the repair brings node 3 the removal and the old value may not come back.
  const Duration keep = TombstoneKeep(WrittenThenRemoved()->scenario.engine);
  const Duration heal = 3s + 180s;
  ASSERT_GT(heal, 3s + keep);
  const Duration end = heal + 60s;
  const RunResult removed = RemovedWhileNodeThreeIsCutOff(heal)->Finish(end, Showing({}, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(removed, "lost") + Metric(removed, "stale"), 0) << Discrepancies(removed);
  const RunResult back = RemovedWhileNodeThreeIsCutOff(heal)->Finish(end, Showing(kAll, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(back, "stale"), 3) << Discrepancies(back);
  const RunResult only_three = RemovedWhileNodeThreeIsCutOff(heal)->Finish(end, Showing({3}, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(only_three, "stale"), 1) << Discrepancies(only_three);
}

// Node 3 never comes back: its peers hold the removal to the end, and node 3 keeps the old value
// it never heard was removed.
TEST(MailboxRemoval, ANodeCutOffToTheEndKeepsTheOldValueAndTheOthersTheRemoval) {
  const RunResult run = RemovedWhileNodeThreeIsCutOff(std::nullopt)->Finish(240s, Showing({3}, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(run, "lost") + Metric(run, "stale"), 0) << Discrepancies(run);
  const RunResult back = RemovedWhileNodeThreeIsCutOff(std::nullopt)->Finish(240s, Showing(kAll, kOne, Hlc(1s), 1));
  EXPECT_EQ(Metric(back, "stale"), 2) << Discrepancies(back);
}

}  // namespace
}  // namespace pbxstate::harness::testing
