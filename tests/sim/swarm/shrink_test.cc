// The shrinker: it finds the small core of a synthetic failure, stays within its budget, and
// its edits (dropping a node, repairing the timeline) keep a scenario valid.
#include "pbxstate/swarm/shrink.h"

#include <gtest/gtest.h>

#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/writer.h"
#include "pbxstate/swarm/generator.h"
#include "shrink_impl.h"

namespace pbxstate::swarm {
namespace {

using scenario::Scenario;

bool HasCrash(const Scenario& s) {
  for (const scenario::Fault& f : s.faults) {
    if (std::holds_alternative<scenario::Crash>(f.what)) return true;
  }
  return false;
}

bool ChangesDevice(const Scenario& s, const std::string& device) {
  for (const scenario::TimedChange& c : s.workload.changes) {
    if (const auto* d = std::get_if<scenario::DeviceChange>(&c.what); d != nullptr && d->device == device) return true;
  }
  return false;
}

// A seed with plenty to shrink: several faults including a crash, many changes, PJSIP/bob among
// them.
std::uint64_t BigSeed() {
  for (std::uint64_t seed = 1;; ++seed) {
    const Scenario s = GenerateScenario(seed);
    if (HasCrash(s) && ChangesDevice(s, "PJSIP/bob") && s.faults.size() >= 6 && s.topology.node_count() >= 5 &&
        s.workload.changes.size() >= 100) {
      return seed;
    }
  }
}

// "Fails" when the scenario crashes some node and changes PJSIP/bob: the smallest such scenario
// has one fault, one change and two nodes (node 1 never crashes, so the change can stay on it).
TEST(Shrink, FindsTheCoreOfASyntheticFailure) {
  const Scenario big = GenerateScenario(BigSeed());
  auto fails = [](const Scenario& s) { return HasCrash(s) && ChangesDevice(s, "PJSIP/bob"); };
  ShrinkStats stats;
  const Scenario small = Shrink(big, fails, {}, &stats);
  EXPECT_TRUE(fails(small));
  EXPECT_FALSE(stats.bounded);
  EXPECT_EQ(small.faults.size(), 1u) << SizeOf(small).ToString();
  EXPECT_EQ(small.workload.changes.size(), 1u);
  EXPECT_LE(small.topology.node_count(), 2u);
  EXPECT_EQ(small.workload.rate_per_s, 0);
  EXPECT_FALSE(small.workload.churn.has_value());
  EXPECT_FALSE(small.auth);
  EXPECT_LT(small.end(), big.end());
  EXPECT_GT(stats.accepted, 0u);
  EXPECT_LE(stats.accepted, stats.runs);
  // The result is what its file says.
  const std::optional<Scenario> again = Normalized(small);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(scenario::SameScenario(*again, small));
}

TEST(Shrink, DeterministicAndWithinItsBudget) {
  const Scenario big = GenerateScenario(BigSeed());
  auto fails = [](const Scenario& s) { return HasCrash(s); };
  ShrinkStats a, b;
  const Scenario x = Shrink(big, fails, {}, &a), y = Shrink(big, fails, {}, &b);
  EXPECT_TRUE(scenario::SameScenario(x, y));
  EXPECT_EQ(a.runs, b.runs);
  ShrinkStats bounded;
  Shrink(big, fails, ShrinkOptions{5, 300}, &bounded);
  EXPECT_LE(bounded.runs, 5u);
  EXPECT_TRUE(bounded.bounded);
}

TEST(Shrink, NothingToKeepGivesTheOriginal) {
  const Scenario big = GenerateScenario(3);
  ShrinkStats stats;
  const Scenario same = Shrink(big, [](const Scenario&) { return false; }, ShrinkOptions{50, 300}, &stats);
  EXPECT_TRUE(scenario::SameScenario(same, big));
  EXPECT_EQ(stats.accepted, 0u);
}

Scenario Load(const char* yaml) {
  scenario::LoadResult r = scenario::LoadScenarioString(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.errors.front().ToString());
  return r.ok() ? *r.scenario : Scenario{};
}

// Dropping node 2 of 4: its crash and change go, nodes 3 and 4 become 2 and 3, a partition
// keeps its other members, and a site emptied by it goes with its link, its degradation and that
// degradation's restore.
TEST(Shrink, WithoutNodeRenumbers) {
  const Scenario s = Load(R"(
name: t
duration: 10s
cluster:
  sites: [{name: a, nodes: 1}, {name: b, nodes: 1}, {name: c, nodes: 2}]
faults:
  - {at: 1s, partition: [[1, 2], [3]]}
  - {at: 2s, heal: {}}
  - {at: 3s, crash: 2}
  - {at: 4s, crash: 4}
  - {at: 5s, restart: 4}
  - {at: 6s, degrade: {link: [a, c], loss: 5%}}
  - {at: 7s, degrade: {site: b, loss: 5%}}
  - {at: 8s, restore: {link: [a, c]}}
  - {at: 9s, restore: {site: b}}
workload:
  changes:
    - {at: 1s, node: 2, device: X, state: BUSY}
    - {at: 1s, node: 3, device: Y, state: BUSY}
)");
  const std::optional<Scenario> r = detail::WithoutNode(s, 2);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->topology.node_count(), 3u);
  ASSERT_EQ(r->topology.sites.size(), 2u);
  EXPECT_EQ(r->topology.sites[1].name, "c");
  EXPECT_EQ(r->topology.sites[1].first_node, 2u);
  ASSERT_EQ(r->topology.links.size(), 1u);
  ASSERT_EQ(r->faults.size(), 6u);  // partition, heal, crash 3, restart 3, link degrade, its restore
  EXPECT_EQ(std::get<scenario::Partition>(r->faults[0].what).sides,
            (std::vector<std::vector<NodeId>>{{1}, {2}, {3}}));
  EXPECT_EQ(std::get<scenario::Crash>(r->faults[2].what).node, 3u);
  EXPECT_EQ(std::get<scenario::Degrade>(r->faults[4].what).target.b, 1u);
  EXPECT_EQ(std::get<scenario::Restore>(r->faults[5].what).target.b, 1u);
  ASSERT_EQ(r->workload.changes.size(), 1u);
  EXPECT_EQ(r->workload.changes[0].node, 2u);
  EXPECT_TRUE(Normalized(*r).has_value());
  EXPECT_FALSE(detail::WithoutNode(Load("name: t\nduration: 1s\ncluster: {nodes: 1}\n"), 1).has_value());
}

// What no longer makes sense after an edit goes: a restart whose crash was dropped, a heal with
// nothing cut, a change on a node that is now down.
TEST(Shrink, RepairKeepsTheTimelineValid) {
  Scenario s = Load(R"(
name: t
duration: 10s
cluster: {nodes: 3}
faults:
  - {at: 1s, partition: [[1]]}
  - {at: 2s, heal: {}}
  - {at: 3s, crash: 2}
  - {at: 5s, restart: 2}
workload:
  changes:
    - {at: 6s, node: 2, device: X, state: BUSY}
)");
  s.faults.erase(s.faults.begin());      // the partition: its heal is orphaned
  s.faults.erase(s.faults.begin() + 2);  // the restart: node 2 stays down, its change cannot be made
  detail::Repair(&s);
  ASSERT_EQ(s.faults.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<scenario::Crash>(s.faults[0].what));
  EXPECT_TRUE(s.workload.changes.empty());
  EXPECT_TRUE(Normalized(s).has_value());
}

}  // namespace
}  // namespace pbxstate::swarm
