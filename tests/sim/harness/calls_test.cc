#include <set>

#include <gtest/gtest.h>

#include "pbxstate/harness/calls.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/inproc/cluster.h"
#include "pbxstate/scenario/loader.h"

namespace pbxstate::harness {
namespace {

using namespace std::chrono_literals;
using scenario::RoutingStrategy;

scenario::Scenario Load(const std::string& yaml) {
  scenario::LoadResult r = scenario::LoadScenarioString(yaml, "t.yaml");
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.ok() ? *r.scenario : scenario::Scenario{};
}

const char* kBase =
    "name: t\nduration: 10s\ncluster: {nodes: 4}\n"
    "workload: {aors: 50}\n";

TEST(ExpandCalls, SteadyAndBurstsEvenlySpacedEntriesInTurn) {
  const auto s = Load(std::string(kBase) +
                      "calls:\n  rate: 10/s\n  start: 1s\n  stop: 3s\n  nodes: [2, 3]\n"
                      "  bursts: [{at: 5s, length: 1s, rate: 4/s}]\n");
  const auto calls = ExpandCalls(s);
  ASSERT_EQ(calls.size(), 20u + 4u);
  EXPECT_EQ(calls[0].at, 1s);
  EXPECT_EQ(calls[1].at, 1100ms);
  EXPECT_EQ(calls[19].at, 2900ms);
  EXPECT_EQ(calls[20].at, 5s);
  EXPECT_EQ(calls[23].at, 5750ms);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].entry, i % 2 == 0 ? 2u : 3u);
    EXPECT_LT(calls[i].aor, 50u);
  }
  std::set<std::uint32_t> phones;
  for (const auto& c : calls) phones.insert(c.aor);
  EXPECT_GT(phones.size(), 10u);  // drawn, not one phone over and over
  const auto again = ExpandCalls(s);
  for (std::size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(again[i].aor, calls[i].aor);
  EXPECT_TRUE(ExpandCalls(Load(kBase)).empty());
}

TEST(FaultWindows, EachFaultUntilItsEnd) {
  const auto s = Load(std::string(kBase) +
                      "faults:\n  - {at: 1s, partition: [[1, 2], [3, 4]]}\n  - {at: 2s, heal: {}}\n"
                      "  - {at: 3s, crash: 4}\n  - {at: 5s, restart: 4}\n  - {at: 6s, crash: 3}\n");
  const auto w = PlannedFaultWindows(s);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0], (FaultWindow{1s, 2s, "partition", {1, 2, 3, 4}, "partition [1,2] [3,4]", "heal"}));
  EXPECT_EQ(w[1], (FaultWindow{3s, 5s, "crash", {4}, "crash node 4", "restart node 4"}));
  EXPECT_EQ(w[2], (FaultWindow{6s, s.end(), "crash", {3}, "crash node 3", ""}));  // never restarted: to the end
}

// A cut replaces the cut in force; each degraded target has its own window until its restore,
// however other targets overlap it; a second degrade of a target keeps its window.
TEST(FaultWindows, ACutEndsTheCutBeforeItAndDegradationsArePerTarget) {
  const auto s = Load(
      "name: t\nduration: 20s\ncluster:\n  sites: [{name: a, nodes: 2}, {name: b, nodes: 2}, {name: c, nodes: 1}]\n"
      "network:\n  links:\n    - {between: [a, b], delay: 10ms}\n    - {between: [a, c], delay: 10ms}\n"
      "    - {between: [b, c], delay: 10ms}\nworkload: {aors: 5}\nfaults:\n"
      "  - {at: 1s, partition: [[1, 2]]}\n  - {at: 2s, isolate: 5}\n  - {at: 3s, heal: {}}\n"
      "  - {at: 4s, degrade: {link: [a, b], loss: 5%}}\n  - {at: 5s, degrade: {site: c, delay: 5ms}}\n"
      "  - {at: 6s, degrade: {link: [a, b], loss: 9%}}\n  - {at: 7s, restore: {link: [a, b]}}\n");
  const auto w = PlannedFaultWindows(s);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0], (FaultWindow{1s, 2s, "partition", {1, 2, 3, 4, 5}, "partition [1,2] [3,4,5]", "isolate node 5"}));
  EXPECT_EQ(w[1], (FaultWindow{2s, 3s, "isolate", {5}, "isolate node 5", "heal"}));
  EXPECT_EQ(w[2], (FaultWindow{4s, 7s, "degrade", {1, 2, 3, 4}, "degrade", "restore"}));
  EXPECT_EQ(w[3], (FaultWindow{5s, s.end(), "degrade", {5}, "degrade", ""}));
}

PlannedChange Reg(NodeId node, const std::string& aor, Duration expires_in, bool remove = false) {
  PlannedChange c;
  c.node = node;
  c.kind = EntryKind::kRegistration;
  c.key = aor;
  c.expires_in = expires_in;
  c.remove = remove;
  return c;
}

TEST(PhoneTruth, RegistrationsLiveUntilRemovedExpiredOrTheirServerDies) {
  PhoneTruth t(8);
  t.ChangeAccepted(1s, Reg(2, "a", 10s));
  t.ChangeAccepted(1s, Reg(3, "b", 2s));
  EXPECT_TRUE(t.Holds("a", 2, 5s));
  EXPECT_FALSE(t.Holds("a", 3, 5s));
  EXPECT_TRUE(t.Registered("b", 2999ms));
  EXPECT_FALSE(t.Registered("b", 3s));  // expired at 1s + 2s
  t.ChangeAccepted(4s, Reg(2, "a", 0s, true));
  EXPECT_FALSE(t.Registered("a", 4s));
  t.ChangeAccepted(5s, Reg(4, "a", 10s));
  t.ServerCrashed(4);
  EXPECT_FALSE(t.Registered("a", 5s));
  EXPECT_FALSE(t.Registered("nobody", 0s));
}

TEST(ServerReach, PartitionsIsolationCrashesAndHeal) {
  const auto s = Load(std::string(kBase) +
                      "faults:\n  - {at: 1s, partition: [[1, 2], [3, 4]]}\n  - {at: 2s, isolate: 1}\n"
                      "  - {at: 3s, heal: {}}\n  - {at: 4s, crash: 2}\n  - {at: 5s, restart: 2}\n"
                      "  - {at: 6s, partition: [[1], [2, 3, 4]], one_way: true}\n");
  ServerReach r(4);
  EXPECT_TRUE(r.Reaches(1, 4));
  r.Apply(s.faults[0]);
  EXPECT_TRUE(r.Reaches(1, 2));
  EXPECT_FALSE(r.Reaches(2, 3));
  r.Apply(s.faults[1]);  // isolate replaces the partition
  EXPECT_FALSE(r.Reaches(1, 2));
  EXPECT_TRUE(r.Reaches(2, 3));
  r.Apply(s.faults[2]);
  EXPECT_TRUE(r.Reaches(1, 2));
  r.Apply(s.faults[3]);
  EXPECT_FALSE(r.Up(2));
  EXPECT_FALSE(r.Reaches(1, 2));
  EXPECT_FALSE(r.Reaches(2, 1));
  r.Apply(s.faults[4]);
  EXPECT_TRUE(r.Reaches(2, 1));
  r.Apply(s.faults[5]);  // one way: calls need both directions
  EXPECT_FALSE(r.Reaches(1, 2));
  EXPECT_FALSE(r.Reaches(2, 1));
  EXPECT_TRUE(r.Reaches(3, 4));
}

class Routing : public ::testing::Test {
 protected:
  void SetUp() override {
    inproc::ClusterOptions o;
    o.nodes = 4;
    o.seed = 3;
    ASSERT_TRUE(inproc::Cluster::Create(o, &c_).ok());
    ASSERT_TRUE(c_->Advance(3s).ok());
  }
  std::unique_ptr<inproc::Cluster> c_;
};

TEST_F(Routing, BlindPeerHandsToTheNextServerAndWraps) {
  EXPECT_EQ(NextHop(RoutingStrategy::kBlindPeer, *c_->engine(0), 1, "x", 4).to, 2u);
  EXPECT_EQ(NextHop(RoutingStrategy::kBlindPeer, *c_->engine(3), 4, "x", 4).to, 1u);
  EXPECT_FALSE(NextHop(RoutingStrategy::kBlindPeer, *c_->engine(0), 1, "x", 4).from_location);
}

TEST_F(Routing, LocationGoesStraightToTheHolderElseFallsBack) {
  ASSERT_TRUE(c_->SetRegistration(3, "alice", "sip:alice@d", 600s).ok());  // node id 4
  ASSERT_TRUE(c_->Advance(200ms).ok());
  const Hop h = NextHop(RoutingStrategy::kLocation, *c_->engine(0), 1, "alice", 4);
  EXPECT_EQ(h.to, 4u);
  EXPECT_TRUE(h.from_location);
  // No answer in the view: blind-peer's choice.
  const Hop none = NextHop(RoutingStrategy::kLocation, *c_->engine(0), 1, "bob", 4);
  EXPECT_EQ(none.to, 2u);
  EXPECT_FALSE(none.from_location);
  // The holder is gone (suspected, inside its grace): not reachable, so not chosen.
  ASSERT_TRUE(c_->Crash(3).ok());
  ASSERT_TRUE(c_->Advance(c_->options().engine.suspect_after + 1s).ok());
  const Hop gone = NextHop(RoutingStrategy::kLocation, *c_->engine(0), 1, "alice", 4);
  EXPECT_EQ(gone.to, 2u);
  EXPECT_FALSE(gone.from_location);
}

TEST(CallRecorder, RatiosInsideAndOutsideFaultsAndExtraHops) {
  const auto s = Load(std::string(kBase) +
                      "calls: {rate: 10/s}\n"
                      "faults:\n  - {at: 2s, crash: 4}\n  - {at: 4s, restart: 4}\n");
  CallRecorder r(s);
  const PlannedCall outside{1s, 1, 0}, inside{3s, 1, 0};
  for (const auto* c : {&outside, &outside, &inside, &inside}) r.Placed(*c);
  r.Placed(outside);
  r.Unroutable(outside);
  r.Finished(RoutingStrategy::kBlindPeer, outside, CallOutcome::kCompleted, 3, 1, 0);
  r.Finished(RoutingStrategy::kBlindPeer, outside, CallOutcome::kCompleted, 1, 1, 0);
  r.Finished(RoutingStrategy::kBlindPeer, inside, CallOutcome::kFailedHop, 1, 1, 0);
  r.Finished(RoutingStrategy::kBlindPeer, inside, CallOutcome::kHopLimit, 3, 1, 0);
  r.Finished(RoutingStrategy::kLocation, outside, CallOutcome::kCompleted, 1, 1, 0);
  r.Finished(RoutingStrategy::kLocation, outside, CallOutcome::kCompleted, 2, 1, 1);
  r.Finished(RoutingStrategy::kLocation, inside, CallOutcome::kCompleted, 0, 0, 0);
  r.Finished(RoutingStrategy::kLocation, inside, CallOutcome::kLooped, 2, 1, 0);
  std::map<std::string, double> m;
  r.AddMetrics(&m);
  EXPECT_EQ(m["calls.total"], 5);
  EXPECT_EQ(m["calls.unroutable"], 1);
  EXPECT_EQ(m["calls.blind_peer.completion_ratio"], 0.5);
  EXPECT_EQ(m["calls.blind_peer.completion_ratio.outside_faults"], 1.0);
  EXPECT_EQ(m["calls.blind_peer.completion_ratio.inside_faults"], 0.0);
  EXPECT_EQ(m["calls.blind_peer.failed_hops"], 1);
  EXPECT_EQ(m["calls.blind_peer.hop_limit"], 1);
  EXPECT_EQ(m["calls.blind_peer.extra_hops.mean"], 1.0);  // (2 + 0) / 2
  EXPECT_EQ(m["calls.blind_peer.extra_hops.max"], 2);
  EXPECT_EQ(m["calls.location.completion_ratio"], 0.75);
  EXPECT_EQ(m["calls.location.looped"], 1);
  EXPECT_EQ(m["calls.location.stale_sends"], 1);
  EXPECT_DOUBLE_EQ(m["calls.location.extra_hops.mean"], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m["calls.location.extra_hops_vs_blind_peer"], 1.0 / 3.0);
}

TEST(Churn, EveryPhoneRegistersThenRefreshesMovesAndLapsesNeverOnADownServer) {
  const auto s = Load(
      "name: t\nduration: 20s\ncluster: {nodes: 4}\n"
      "workload:\n  aors: 200\n  start: 2s\n"
      "  churn: {register_over: 1s, refresh: 50/s, move: 50/s, lapse: 10/s, lapse_expiry: 3s}\n"
      "faults:\n  - {at: 5s, crash: 2}\n  - {at: 12s, restart: 2}\n");
  const auto plan = ExpandWorkload(s);
  std::set<std::string> initial;
  std::size_t moves = 0, lapses = 0;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const PlannedChange& c = plan[i];
    ASSERT_EQ(c.kind, EntryKind::kRegistration);
    if (c.at < 1s) initial.insert(c.key);
    EXPECT_FALSE(c.node == 2 && c.at >= 5s && c.at < 12s) << "planned on crashed server 2 at " << c.at.count();
    if (c.remove) {
      ++moves;
      ASSERT_GT(i, 0u);  // a move: registered at the new server first, same instant
      EXPECT_EQ(plan[i - 1].key, c.key);
      EXPECT_EQ(plan[i - 1].at, c.at);
      EXPECT_NE(plan[i - 1].node, c.node);
    }
    if (!c.remove && c.expires_in == 3s) ++lapses;
  }
  EXPECT_EQ(initial.size(), 200u);
  EXPECT_GT(moves, 300u);   // about 50/s over 18 s
  EXPECT_GT(lapses, 60u);   // about 10/s
  const auto again = ExpandWorkload(s);
  ASSERT_EQ(again.size(), plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) EXPECT_EQ(again[i].node, plan[i].node);
}

// workload.name_churn: the live devices stay within the bound, a removed name never comes back,
// fresh AORs register once each, nothing is planned on a down server, and the plan replays.
TEST(NameChurn, NamesComeAndGoWithinTheBoundNeverOnADownServer) {
  const auto s = Load(
      "name: t\nduration: 60s\ncluster: {nodes: 4}\n"
      "workload:\n  name_churn: {rate: 100/s, devices: 50, remove: 30%, registrations: 25%, registration_expiry: 5s}\n"
      "faults:\n  - {at: 10s, crash: 2}\n  - {at: 30s, restart: 2}\n");
  const auto plan = ExpandWorkload(s);
  std::set<std::string> live, removed, aors;
  std::size_t removals = 0, sets = 0;
  for (const PlannedChange& c : plan) {
    EXPECT_FALSE(c.node == 2 && c.at >= 10s && c.at < 30s) << "planned on crashed server 2 at " << c.at.count();
    if (c.kind == EntryKind::kRegistration) {
      EXPECT_EQ(c.key.rfind("churn", 0), 0u) << c.key;
      EXPECT_TRUE(aors.insert(c.key).second) << c.key << " registered twice";
      EXPECT_EQ(c.expires_in, 5s);
      EXPECT_FALSE(c.remove);
      continue;
    }
    ASSERT_EQ(c.kind, EntryKind::kDevice);
    EXPECT_EQ(removed.count(c.key), 0u) << c.key << " changed after its removal";
    if (c.remove) {
      ++removals;
      removed.insert(c.key);
      EXPECT_EQ(live.erase(c.key), 1u) << c.key;
    } else {
      ++sets;
      live.insert(c.key);
    }
    // Until the crash every removal is made; after it, names whose home was down when drawn
    // for removal left the live set without a change, so only the looser bound is visible here.
    EXPECT_LE(live.size(), c.at < 10s ? 50u : 100u);
  }
  EXPECT_GT(removals, 900u);  // about 100/s x 75% x 30% over 60 s, less the crashed server's share
  EXPECT_GT(sets, 2000u);
  EXPECT_GT(aors.size(), 1200u);  // about 25/s
  const auto again = ExpandWorkload(s);
  ASSERT_EQ(again.size(), plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(again[i].key, plan[i].key);
    EXPECT_EQ(again[i].node, plan[i].node);
  }
}

// workload.mailbox_fill: every generated mailbox written once, at its home, evenly over the
// fill, before the steady writes; the same expansion from the same seed.
TEST(MailboxFill, EveryMailboxOnceAtItsHomeThenTheSteadyWrites) {
  const auto s = Load(
      "name: t\nduration: 10s\ncluster: {nodes: 4}\n"
      "workload: {mailboxes: 1000, spread: random, mailbox_fill: 2s, rate: 50/s, start: 3s, stop: 4s, mix: {mwi: 100%}}\n");
  const std::vector<PlannedChange> plan = ExpandWorkload(s);
  ASSERT_EQ(plan.size(), 1050u);
  const KeyHomes homes(s);
  std::set<std::string> filled;
  for (std::size_t i = 0; i < 1000; ++i) {
    const PlannedChange& c = plan[i];
    EXPECT_EQ(c.kind, EntryKind::kMailbox);
    EXPECT_EQ(c.key, scenario::GeneratedMailboxName(static_cast<std::uint32_t>(i)));
    EXPECT_EQ(c.node, homes.mailbox(static_cast<std::uint32_t>(i)));
    EXPECT_EQ(c.at, std::chrono::microseconds(2000) * static_cast<std::int64_t>(i));
    filled.insert(c.key);
  }
  EXPECT_EQ(filled.size(), 1000u);
  for (std::size_t i = 1000; i < plan.size(); ++i) EXPECT_GE(plan[i].at, 3s);
  const std::vector<PlannedChange> again = ExpandWorkload(s);
  ASSERT_EQ(again.size(), plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) EXPECT_TRUE(again[i].counts == plan[i].counts);
}

}  // namespace
}  // namespace pbxstate::harness
