// The recorder's phases on hand-written runs: delivery and stable latency, messages per
// change, lost and stale counting, convergence after a crash and after a restart.
#include <cmath>
#include <memory>

#include "hand_run.h"
#include "pbxstate/harness/run_record.h"

namespace pbxstate::harness::testing {
namespace {

const std::string kThreeNodes = HandScenario("phases");

std::unique_ptr<HandRun> OneChangeSeenAt(std::optional<Duration> at2, std::optional<Duration> at3) {
  auto run = std::make_unique<HandRun>(kThreeNodes);
  run->StartAll();
  run->Device(1s, 1, "D", DeviceState::kInUse);
  if (at2) run->ShowsDevice(*at2, 2, "D", 1, DeviceState::kInUse);
  if (at3) run->ShowsDevice(*at3, 3, "D", 1, DeviceState::kInUse);
  return run;
}

std::map<NodeId, FinalView> AllShow(DeviceState s) {
  std::map<NodeId, FinalView> v;
  for (NodeId n : {1, 2, 3}) AddDevice(&v[n], "D", 1, s);
  return v;
}

// A check written "detection + <duration>" is held to the bound of the run's membership, and
// the verdict says which bound and which detection time.
TEST(EvaluateChecks, ADetectionCheckIsHeldToTheRunsOwnBound) {
  scenario::LoadResult loaded = scenario::LoadScenarioString(
      std::string(kThreeNodes) + "faults: [{at: 1s, partition: [[1]]}, {at: 2s, heal: {}}]\n"
                                 "checks: ['convergence.after_heal.max < detection + 2s', 'lost == 0']\n",
      "t.yaml");
  ASSERT_TRUE(loaded.scenario) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  RunResult r;
  r.metrics = {{"convergence.after_heal.max", 3.5e9}, {"lost", 0}};
  const std::vector<CheckVerdict> heartbeat = EvaluateChecks(*loaded.scenario, r, 1s, "ns3");  // bound 3 s
  ASSERT_EQ(heartbeat.size(), 2u);
  EXPECT_FALSE(heartbeat[0].pass);
  EXPECT_EQ(heartbeat[0].check.threshold, 3e9);
  EXPECT_EQ(heartbeat[0].detection, 1s);
  EXPECT_TRUE(heartbeat[1].pass);
  EXPECT_FALSE(heartbeat[1].detection.has_value());
  const std::vector<CheckVerdict> corosync = EvaluateChecks(*loaded.scenario, r, 3600ms, "emu");  // 5.6 s
  EXPECT_TRUE(corosync[0].pass);
  EXPECT_EQ(corosync[0].check.threshold, 5.6e9);
  EXPECT_EQ(corosync[0].check.text, "convergence.after_heal.max < detection + 2s");
}

// A check that names its backends holds only a run on one of them; on any other it is not
// applicable (neither passed nor failed, whatever the metric), with the reason, and the run's
// verdict does not count it.
TEST(EvaluateChecks, ACheckNamingItsBackendsIsNotApplicableOnOthers) {
  scenario::LoadResult loaded = scenario::LoadScenarioString(
      std::string(kThreeNodes) + "checks:\n  - {check: 'lost == 0', backends: [ns3, inproc]}\n"
                                 "  - {check: 'stale == 0', backends: [emu]}\n  - 'changes == 5'\n",
      "t.yaml");
  ASSERT_TRUE(loaded.scenario) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  RunResult r;
  r.metrics = {{"lost", 3}, {"stale", 0}, {"changes", 5}};
  const std::vector<CheckVerdict> emu = EvaluateChecks(*loaded.scenario, r, 1s, "emu");
  ASSERT_EQ(emu.size(), 3u);
  EXPECT_EQ(emu[0].not_applicable, "not applicable on emu (the check is for ns3, inproc)");
  EXPECT_FALSE(emu[0].failed());
  EXPECT_FALSE(emu[0].measured);
  EXPECT_TRUE(emu[1].applicable());
  EXPECT_TRUE(emu[1].pass);
  EXPECT_TRUE(emu[2].pass);
  const std::vector<CheckVerdict> ns3 = EvaluateChecks(*loaded.scenario, r, 1s, "ns3");
  EXPECT_TRUE(ns3[0].applicable());
  EXPECT_TRUE(ns3[0].failed());  // lost 3
  EXPECT_FALSE(ns3[1].applicable());
  EXPECT_EQ(ns3[1].not_applicable, "not applicable on ns3 (the check is for emu)");
}

// A check on a metric the run's backend does not measure (MetricInfo::measured_on) is not
// applicable there, with or without `backends`; where it is measured, unmeasured still fails.
TEST(EvaluateChecks, AMetricTheBackendDoesNotMeasureIsNotApplicable) {
  scenario::Scenario s;
  s.checks.push_back(std::get<scenario::Check>(scenario::ParseCheck("heal_bytes_ratio < 4")));
  s.checks.push_back(std::get<scenario::Check>(scenario::ParseCheck("wan_frames_per_change < 2")));
  RunResult r;  // nothing measured
  const std::vector<CheckVerdict> netns = EvaluateChecks(s, r, 1s, "netns");
  ASSERT_EQ(netns.size(), 2u);
  EXPECT_EQ(netns[0].not_applicable, "not applicable on netns (heal_bytes_ratio is measured on ns3, inproc)");
  EXPECT_EQ(netns[1].not_applicable, "not applicable on netns (wan_frames_per_change is measured on ns3)");
  EXPECT_FALSE(netns[0].failed());
  const std::vector<CheckVerdict> inproc = EvaluateChecks(s, r, 1s, "inproc");
  EXPECT_TRUE(inproc[0].failed());  // inproc measures it: not measured in this run is a failure
  EXPECT_FALSE(inproc[1].applicable());
}

// A view read a little after the end (a daemon's dump on real clocks) is judged at the instant it
// was read: a registration that expired by then is gone, one expiring while it was read may be
// either, one expiring later must be there. Read at the end exactly, each must be there.
// The emulator's lag bound: over it, the run is valid only when every stall over it stopped the
// whole machine (counted by the emu runner) and there was at least one such stall.
TEST(RealtimeLag, OverTheBoundOnlyWhenEveryStallOverItStoppedTheWholeMachine) {
  using namespace std::chrono_literals;
  RealtimeLag l;
  l.bound = 10ms;
  l.worst = 9ms;
  EXPECT_TRUE(l.valid());
  l.worst = 65ms;
  EXPECT_FALSE(l.valid());  // nothing counted: not excused
  l.over_bound = 3;
  l.over_bound_machine = 2;
  EXPECT_FALSE(l.valid());
  l.over_bound_machine = 3;
  EXPECT_TRUE(l.valid());
}

TEST(Recorder, RegistrationsAreJudgedAtTheInstantTheViewWasRead) {
  constexpr const char* kContacts[] = {"sip:a@198.18.0.1", "sip:b@198.18.0.1", "sip:c@198.18.0.1"};
  constexpr Duration kExpires[] = {10001ms, 10003ms, 10010ms};
  auto judge = [&](std::optional<ReadInstant> read, std::vector<int> shown) {
    HandRun run(kThreeNodes);
    run.StartAll();
    for (int i = 0; i < 3; ++i) run.Register(1s, 1, "aor", kContacts[i], kExpires[i] - 1s);
    std::map<NodeId, FinalView> views;
    for (NodeId n : {1, 2, 3}) {
      views[n] = FinalView{};
      for (int i : shown) AddRegistration(&views[n], "aor", 1, kContacts[i], kExpires[i]);
      views[n].read = read;
    }
    const RunResult r = run.Finish(10s, views);
    return std::make_pair(Metric(r, "lost"), Metric(r, "stale"));
  };
  using Counts = std::pair<double, double>;
  EXPECT_EQ(judge(std::nullopt, {0, 1, 2}), Counts(0, 0));
  EXPECT_EQ(judge(std::nullopt, {1, 2}), Counts(3, 0));  // at the end exactly, a is still live
  const ReadInstant read{10002ms, 10005ms};
  EXPECT_EQ(judge(read, {1, 2}), Counts(0, 0));
  EXPECT_EQ(judge(read, {2}), Counts(0, 0));             // b expired while it was read
  EXPECT_EQ(judge(read, {0, 1, 2}), Counts(0, 3));       // a had expired before
  EXPECT_EQ(judge(read, {1}), Counts(3, 0));             // c had not
}

// A node's counters add up over its incarnations, every one of EngineStatFields() (the sum once
// left out the update frames and the held changes); the entries held are the last incarnation's.
// A mailbox removal its writer reports (no value) is no change the delivery metrics follow.
TEST(Recorder, ANodesCountersAddUpOverItsIncarnations) {
  HandRun run(kThreeNodes);
  run.StartAll();
  EngineStats first;
  for (const EngineStatField& f : EngineStatFields()) first.*f.member = 3;
  first.dropped[0] = 1;
  run.rec.NodeCrashed(5s, 1, first);
  run.Restart(6s, 1, 2);
  ViewChange removal{};
  removal.kind = EntryKind::kMailbox;
  removal.cause = ChangeCause::kLocal;
  removal.key = "100@default";
  removal.origin = 1;
  removal.old_mailbox = MailboxValue{MailboxCounts{1, 0, 0}, Hlc(1s), 1};
  run.rec.ViewChanged(7s, 1, removal);
  std::map<NodeId, FinalView> views;
  for (NodeId n : {1, 2, 3}) views[n] = FinalView{};
  for (const EngineStatField& f : EngineStatFields()) views[1].stats.*f.member = 4;
  const RunResult r = run.Finish(10s, views);
  const EngineStats& sum = r.nodes[0].stats;
  for (const EngineStatField& f : EngineStatFields()) {
    EXPECT_EQ(sum.*f.member, f.level ? 4u : 7u) << f.name;
  }
  EXPECT_EQ(sum.dropped[0], 1u);
  EXPECT_EQ(Metric(r, "changes"), 0);
}

TEST(Recorder, DeliveryAndStableLatencyPerChange) {
  const RunResult r = OneChangeSeenAt(1010ms, 1020ms)->Finish(10s, AllShow(DeviceState::kInUse), 5);
  ASSERT_EQ(r.deliveries.size(), 2u);
  EXPECT_EQ(Metric(r, "delivery_latency.min"), 10e6);
  EXPECT_EQ(Metric(r, "delivery_latency.max"), 20e6);
  EXPECT_EQ(Metric(r, "delivery_latency.mean"), 15e6);
  ASSERT_EQ(r.changes.size(), 1u);
  ASSERT_TRUE(r.changes[0].stable.has_value());
  EXPECT_EQ(*r.changes[0].stable, 20ms);  // when the last node that should see it did
  EXPECT_EQ(Metric(r, "stable_latency.max"), 20e6);
  EXPECT_EQ(Metric(r, "changes"), 1);
  // Frames put on the network (5 per node) per local change.
  EXPECT_EQ(Metric(r, "messages_per_change"), 15);
  EXPECT_EQ(Metric(r, "bytes_per_change"), 1500);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
}

TEST(Recorder, AChangeANodeNeverShowsIsNeitherStableNorKept) {
  std::map<NodeId, FinalView> v = AllShow(DeviceState::kInUse);
  v[3] = FinalView{};
  const RunResult r = OneChangeSeenAt(1010ms, std::nullopt)->Finish(10s, v);
  EXPECT_FALSE(r.changes[0].stable.has_value());
  EXPECT_TRUE(std::isnan(Metric(r, "stable_latency.max")));
  EXPECT_EQ(Metric(r, "delivery_latency.max"), 10e6);
  EXPECT_EQ(Metric(r, "lost"), 1) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 3, "lost device D from node 1")) << Discrepancies(r);
}

TEST(Recorder, LostAndStaleAreCountedPerNodeAndSlot) {
  std::map<NodeId, FinalView> v = AllShow(DeviceState::kInUse);
  v[2] = FinalView{};                                  // lost
  v[3] = FinalView{};
  AddDevice(&v[3], "D", 1, DeviceState::kNotInUse);    // stale
  AddDevice(&v[3], "X", 2, DeviceState::kBusy);        // never set by anyone: stale
  const RunResult r = OneChangeSeenAt(1010ms, 1020ms)->Finish(10s, v);
  EXPECT_EQ(Metric(r, "lost"), 1) << Discrepancies(r);
  EXPECT_EQ(Metric(r, "stale"), 2) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 3, "stale device D from node 1: shows NOT_INUSE (incarnation 1), expected INUSE")) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 3, "shows device X from node 2, which it should not")) << Discrepancies(r);
  EXPECT_EQ(r.discrepancy_count, 3u);
}

TEST(Recorder, TheBackendsUpNodesMustBeTheHistorys) {
  std::map<NodeId, FinalView> v = AllShow(DeviceState::kInUse);
  v.erase(2);  // node 2 is up, but the backend gave no final view of it
  const RunResult r = OneChangeSeenAt(1010ms, 1020ms)->Finish(10s, v);
  EXPECT_EQ(Metric(r, "stale"), 1) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 2, "is up at the end but gave no final view")) << Discrepancies(r);
}

TEST(Recorder, AnAggregateThatDoesNotFollowItsContributionsIsCaught) {
  std::map<NodeId, FinalView> v = AllShow(DeviceState::kInUse);
  v[2].devices[0].aggregate = DeviceState::kBusy;
  const RunResult r = OneChangeSeenAt(1010ms, 1020ms)->Finish(10s, v);
  EXPECT_EQ(Metric(r, "stale"), 1) << Discrepancies(r);
  EXPECT_TRUE(Mentions(r, 2, "wrong aggregate for device D: shows BUSY, its contributions make INUSE")) << Discrepancies(r);
}

TEST(Recorder, ConvergenceAfterACrashIncludesDetection) {
  auto run = std::make_unique<HandRun>(kThreeNodes);
  run->StartAll();
  run->Device(1s, 3, "D", DeviceState::kBusy);
  for (NodeId n : {1, 2}) run->ShowsDevice(1010ms, n, "D", 3, DeviceState::kBusy);
  run->Crash(5s, 3);
  run->ShowsDevice(6100ms, 1, "D", 3, std::nullopt);
  run->ShowsDevice(6300ms, 2, "D", 3, std::nullopt);
  const RunResult r = run->Finish(10s, {{1, FinalView{}}, {2, FinalView{}}});
  ASSERT_EQ(r.convergence.size(), 1u);
  EXPECT_EQ(r.convergence[0].after, "crash");
  EXPECT_TRUE(r.convergence[0].converged);
  EXPECT_EQ(r.convergence[0].took, 1300ms);
  ASSERT_EQ(r.convergence[0].by_node.size(), 2u);  // the survivors
  EXPECT_EQ(r.convergence[0].by_node[0].second, 1100ms);
  EXPECT_EQ(Metric(r, "convergence.after_crash.max"), 1.3e9);
  EXPECT_EQ(Metric(r, "convergence.after_fault.max"), 1.3e9);
  EXPECT_EQ(Metric(r, "convergence.interrupted"), 0);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
}

TEST(Recorder, ARestartedNodesEntriesCarryItsNewIncarnation) {
  auto make = [] {
    auto run = std::make_unique<HandRun>(kThreeNodes);
    run->StartAll();
    run->Device(1s, 3, "D", DeviceState::kBusy);
    run->Device(1s, 1, "E", DeviceState::kRinging);
    for (NodeId n : {1, 2}) run->ShowsDevice(1010ms, n, "D", 3, DeviceState::kBusy);
    for (NodeId n : {2, 3}) run->ShowsDevice(1010ms, n, "E", 1, DeviceState::kRinging);
    run->Crash(5s, 3);
    for (NodeId n : {1, 2}) run->ShowsDevice(6200ms, n, "D", 3, std::nullopt);
    run->Restart(7s, 3, 2);
    run->ShowsDevice(7500ms, 3, "E", 1, DeviceState::kRinging);  // caught up on node 1's entries
    run->Device(8s, 3, "D", DeviceState::kBusy);
    for (NodeId n : {1, 2}) run->ShowsDevice(8010ms, n, "D", 3, DeviceState::kBusy, 2, 1);
    return run;
  };
  std::map<NodeId, FinalView> v;
  for (NodeId n : {1, 2, 3}) AddDevice(&v[n], "D", 3, DeviceState::kBusy, 2);
  for (NodeId n : {1, 2, 3}) AddDevice(&v[n], "E", 1, DeviceState::kRinging, 1);
  const RunResult r = make()->Finish(20s, v);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  ASSERT_EQ(r.convergence.size(), 2u);
  EXPECT_EQ(r.convergence[1].after, "restart");
  EXPECT_TRUE(r.convergence[1].converged);
  EXPECT_EQ(r.convergence[1].took, 500ms);
  // The same state under the old incarnation is another entry: caught.
  v[1].devices[0].contributions[0].version.incarnation = 1;
  const RunResult old = make()->Finish(20s, v);
  EXPECT_EQ(Metric(old, "stale"), 1) << Discrepancies(old);
  EXPECT_TRUE(Mentions(old, 1, "shows BUSY (incarnation 1), expected BUSY (incarnation 2)")) << Discrepancies(old);
}

// What a heal moved (the runner's byte count at the heal and at the view change that completed
// agreement) against what differed (each node's record of the mailbox it lacked, sized by the
// codec): traffic after agreement is not in it, and without a byte count nothing is measured.
TEST(Recorder, HealBytesRunFromTheHealToAgreement) {
  std::uint64_t bytes = 100;
  const MailboxValue v{{3, 1, 0}, {kSimEpochNs + 2'000'000'000, 0}, 1};
  auto make = [&](bool count) {
    auto run = std::make_unique<HandRun>(kThreeNodes);
    if (count) run->rec.CountNetworkBytes([&bytes] { return bytes; });
    run->StartAll();
    run->Partition(1s, {{1}});
    run->Mailbox(2s, 1, "M@d", v.counts, v.hlc);
    bytes = 1000;
    run->Heal(3s);
    bytes = 1400;
    run->ShowsMailbox(3100ms, 2, "M@d", v);
    bytes = 1900;
    run->ShowsMailbox(3200ms, 3, "M@d", v);
    bytes = 9000;
    run->Device(5s, 2, "D", DeviceState::kInUse);  // a view change after agreement
    for (NodeId n : {1, 3}) run->ShowsDevice(5010ms, n, "D", 2, DeviceState::kInUse);
    return run;
  };
  std::map<NodeId, FinalView> views;
  for (NodeId n : {1, 2, 3}) {
    AddMailbox(&views[n], "M@d", v.counts, v.hlc, 1);
    AddDevice(&views[n], "D", 2, DeviceState::kInUse);
  }
  const RunResult r = make(true)->Finish(20s, views);
  EXPECT_EQ(Metric(r, "lost") + Metric(r, "stale"), 0) << Discrepancies(r);
  ASSERT_EQ(r.convergence.size(), 1u);
  EXPECT_EQ(r.convergence[0].took, 200ms);
  ViewChange shown{};
  shown.kind = EntryKind::kMailbox;
  shown.key = "M@d";
  shown.new_mailbox = v;
  const std::size_t record = EncodedRecordBytes(shown);
  EXPECT_EQ(record, 1u + 1 + 3 + 3 + 9 + 1 + 1);  // kind, key length, key, counts, hlc, writer
  ASSERT_TRUE(r.convergence[0].bytes.has_value());
  EXPECT_EQ(*r.convergence[0].bytes, 900u);
  EXPECT_EQ(r.convergence[0].differing_bytes, 2 * record);  // nodes 2 and 3 lacked it
  EXPECT_EQ(Metric(r, "heal_bytes"), 900);
  EXPECT_EQ(Metric(r, "heal_differing_bytes"), static_cast<double>(2 * record));
  EXPECT_DOUBLE_EQ(Metric(r, "heal_bytes_ratio"), 900.0 / static_cast<double>(2 * record));

  bytes = 100;
  const RunResult uncounted = make(false)->Finish(20s, views);
  EXPECT_FALSE(uncounted.convergence[0].bytes.has_value());
  EXPECT_EQ(uncounted.metrics.count("heal_bytes"), 0u);
  EXPECT_EQ(uncounted.metrics.count("heal_bytes_ratio"), 0u);
}

}  // namespace
}  // namespace pbxstate::harness::testing
