// The inproc backend's network mapping (sim/runner/src/inproc_network.h) and its runs.
#include <gtest/gtest.h>

#include "pbxstate/runner/inproc_runner.h"
#include "pbxstate/scenario/loader.h"
#include "scenario_yaml.h"
#include "inproc_network.h"

namespace pbxstate::runner {
namespace {

using namespace std::chrono_literals;

using test_support::LoadYaml;

constexpr const char* kTwoSites = R"(
name: t
duration: 10s
cluster:
  sites: [{name: a, nodes: 2}, {name: b, nodes: 1}]
network:
  lan: {delay: 1ms, loss: 10%, bandwidth: 10Mbps, duplicate: 10%}
  sites:
    b: {delay: 2ms, reorder: 50%, reorder_delay: 7ms}
  wan: {delay: 40ms, jitter: 5ms, loss: 20%, bandwidth: 5Mbps, reorder: 10%, reorder_delay: 30ms}
)";

TEST(InprocNetwork, PathsAddUpTheirParts) {
  const scenario::Scenario s = LoadYaml(kTwoSites);
  InprocNetwork net(s.topology);
  const inproc::LinkFaults lan = net.Path(0, 0);
  EXPECT_EQ(lan.delay, 1ms);
  EXPECT_EQ(lan.jitter, 0ms);
  EXPECT_DOUBLE_EQ(lan.loss, 0.1);
  EXPECT_EQ(lan.bandwidth_bps, 10'000'000u);
  EXPECT_DOUBLE_EQ(lan.duplicate, 0.1);
  EXPECT_DOUBLE_EQ(lan.reorder, 0.0);
  const inproc::LinkFaults wan = net.Path(0, 1);
  EXPECT_EQ(wan.delay, 1ms + 40ms - 5ms + 2ms);  // delay +- jitter as delay - jitter + [0, 2 jitter]
  EXPECT_EQ(wan.jitter, 10ms);
  EXPECT_NEAR(wan.loss, 1 - 0.9 * 0.8 * 0.9, 1e-12);
  EXPECT_EQ(wan.bandwidth_bps, 5'000'000u);
  EXPECT_NEAR(wan.duplicate, 1 - 0.9 * 0.9, 1e-12);  // both LANs duplicate 10%
  EXPECT_NEAR(wan.reorder, 1 - 0.9 * 0.5, 1e-12);
  EXPECT_EQ(wan.reorder_delay, 30ms);  // the longest hold of the parts that reorder
  EXPECT_EQ(net.Path(1, 0), wan);
}

TEST(InprocNetwork, DegradeReplacesAndRestoreGoesBack) {
  const scenario::Scenario s = LoadYaml(kTwoSites);
  InprocNetwork net(s.topology);
  const inproc::LinkFaults before = net.Path(0, 1), lan_before = net.Path(0, 0);
  scenario::Degrade d;
  d.target = {scenario::NetworkTarget::Kind::kLink, 0, 0, 1};
  d.loss = 0.5;
  d.delay = 100ms;
  net.Degrade(d);
  EXPECT_NEAR(net.Path(0, 1).loss, 1 - 0.9 * 0.5 * 0.9, 1e-12);
  EXPECT_EQ(net.Path(0, 1).delay, 1ms + 100ms - 5ms + 2ms);
  EXPECT_EQ(net.Path(0, 0), lan_before) << "a link's degrade leaves the LAN alone";
  net.Restore(d.target);
  EXPECT_EQ(net.Path(0, 1), before);
}

// Transport membership on inproc: views come from the cluster, and a one-way partition with
// per-node views and a view delay still converges once healed.
TEST(InprocRunner, TransportMembershipRunsAndPasses) {
  const scenario::Scenario s = LoadYaml(R"(
name: t
duration: 10s
quiet: 10s
cluster:
  nodes: 4
  membership: transport
  views: per_node
  view_delay: 200ms
network:
  lan: {delay: 1ms, duplicate: 5%, reorder: 10%}
workload:
  devices: 20
  mailboxes: 2
  rate: 50/s
  mix: {device: 80%, mwi: 20%}
faults:
  - {at: 2s, partition: [[1, 2]], one_way: true}
  - {at: 4s, heal: {}}
  - {at: 5s, crash: 3}
  - {at: 6s, restart: 3}
checks:
  - lost == 0
  - stale == 0
  - disagreeing_nodes == 0
  - engine.membership_changes > 8
)");
  RunOutcome o;
  const Status st = RunInproc(s, {}, &o);
  ASSERT_TRUE(st.ok()) << st.message();
  for (const auto& v : o.verdicts) EXPECT_TRUE(v.pass) << v.check.text << " observed " << v.observed;
  EXPECT_EQ(o.info.backend, "inproc");
}

}  // namespace
}  // namespace pbxstate::runner
