#include "pbxstate/scenario/loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pbxstate::scenario {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kScenarios = PBXSTATE_SCENARIOS_DIR;

Scenario MustLoad(std::string_view yaml) {
  LoadResult r = LoadScenarioString(yaml, "t.yaml");
  std::string errors;
  for (const auto& e : r.errors) errors += e.ToString() + "\n";
  EXPECT_TRUE(r.ok()) << errors;
  EXPECT_EQ(r.scenario.has_value(), r.errors.empty());
  return r.scenario.value_or(Scenario{});
}

std::vector<std::string> Errors(std::string_view yaml) {
  LoadResult r = LoadScenarioString(yaml, "t.yaml");
  EXPECT_FALSE(r.ok()) << "accepted:\n" << yaml;
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.ToString());
  return out;
}

constexpr const char* kHead = "name: t\nduration: 10s\ncluster: {nodes: 3}\n";

// --- the shipped scenarios ---

const std::vector<std::string> kShipped = {
    "lan-3-mystate",       "glomers-25", "partition-heal",      "crash-restart",
    "wan-two-sites",       "registration-storm", "donor-dies-mid-sync", "large-1000",
    "call-routing-lan",    "call-routing-partition", "glomers-25-hub", "glomers-25-fast",
    "sites-three-wan",     "call-routing-fork", "mailbox-heal-10k", "mailbox-heal-100k",
    "soak-short"};

TEST(Shipped, TheDirectoryHoldsExactlyTheShippedScenarios) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(kScenarios)) {
    if (e.path().extension() == ".yaml") found.push_back(e.path().stem().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> expected = kShipped;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(found, expected);
}

class ShippedScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedScenario, LoadsAndIsNamedAfterItsFile) {
  LoadResult r = LoadScenarioFile(kScenarios / (GetParam() + ".yaml"));
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.scenario->name, GetParam());
  EXPECT_FALSE(r.scenario->checks.empty()) << "a shipped scenario must check something";
  EXPECT_FALSE(r.scenario->description.empty());
}

INSTANTIATE_TEST_SUITE_P(All, ShippedScenario, ::testing::ValuesIn(kShipped),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// The long runs of scenarios/long/ (scenarios/README.md, "Long runs") load as well.
TEST(Shipped, TheSoakLoadsWithAFaultEveryTenMinutes) {
  LoadResult r = LoadScenarioFile(kScenarios / "long" / "soak-24h.yaml");
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.scenario->name, "soak-24h");
  EXPECT_EQ(r.scenario->duration, std::chrono::hours(24));
  ASSERT_EQ(r.scenario->faults.size(), 144u);
  for (std::size_t i = 0; i < r.scenario->faults.size(); ++i) {
    EXPECT_EQ(r.scenario->faults[i].at, std::chrono::minutes(10) * static_cast<int>(i + 1));
  }
  ASSERT_TRUE(r.scenario->workload.name_churn);
}

TEST(NameChurn, ReadsEveryKeyAndDefaults) {
  const Scenario s = MustLoad(std::string(kHead) +
                              "workload:\n  name_churn: {rate: 20/s, devices: 300, remove: 40%, "
                              "registrations: 10%, registration_expiry: 2min}\n");
  ASSERT_TRUE(s.workload.name_churn);
  const NameChurn& c = *s.workload.name_churn;
  EXPECT_EQ(c.rate_per_s, 20);
  EXPECT_EQ(c.devices, 300u);
  EXPECT_DOUBLE_EQ(c.remove, 0.4);
  EXPECT_DOUBLE_EQ(c.registrations, 0.1);
  EXPECT_EQ(c.registration_expiry, std::chrono::minutes(2));
  const Scenario d = MustLoad(std::string(kHead) + "workload:\n  name_churn: {rate: 5/s, devices: 10}\n");
  EXPECT_DOUBLE_EQ(d.workload.name_churn->remove, 0.25);
  EXPECT_DOUBLE_EQ(d.workload.name_churn->registrations, 0.0);
  EXPECT_EQ(d.workload.name_churn->registration_expiry, std::chrono::seconds(60));
}

// memory: {sample_every, baseline} (scenarios/README.md, "memory"), and the check it enables.
TEST(Memory, ReadsTheSectionAndRefusesWhatARunnerCannotSample) {
  const Scenario s = MustLoad(std::string(kHead) + "memory: {baseline: 4s, sample_every: 2s}\n"
                                                   "checks: ['memory_growth_pct <= 10']\n");
  ASSERT_TRUE(s.memory);
  EXPECT_EQ(s.memory->sample_every, 2s);
  EXPECT_EQ(s.memory->baseline, 4s);
  EXPECT_EQ(MustLoad("name: t\nduration: 2min\ncluster: {nodes: 3}\nmemory: {baseline: 1min}\n").memory->sample_every, 60s);
  const std::vector<std::string> early = Errors(std::string(kHead) + "memory: {baseline: 0s, sample_every: 2s}\n");
  ASSERT_EQ(early.size(), 1u);
  EXPECT_NE(early[0].find("memory.baseline: expected at least sample_every (2s): the first sample is taken then, got 0ms"),
            std::string::npos)
      << early[0];
  const std::vector<std::string> off = Errors(std::string(kHead) + "memory: {baseline: 3s, sample_every: 2s}\n");
  ASSERT_EQ(off.size(), 1u);
  EXPECT_NE(off[0].find("t.yaml:4:"), std::string::npos) << off[0];
  EXPECT_NE(off[0].find("memory.baseline: expected a multiple of sample_every (2s) within duration, got 3s"),
            std::string::npos)
      << off[0];
  EXPECT_EQ(Errors(std::string(kHead) + "memory: {baseline: 20s, sample_every: 2s}\n").size(), 1u);
  EXPECT_EQ(Errors(std::string(kHead) + "memory: {baseline: 0s, sample_every: 1500ms}\n").size(), 1u);
  EXPECT_EQ(Errors(std::string(kHead) + "memory: {sample_every: 1s}\n").size(), 1u);
  EXPECT_EQ(Errors(std::string(kHead) + "memory: {baseline: 0s, every: 1s}\n").size(), 1u);
  // 24 h at one sample a second is more than 10,000 a node.
  EXPECT_EQ(Errors("name: t\nduration: 24h\ncluster: {nodes: 3}\nmemory: {baseline: 1h, sample_every: 1s}\n").size(),
            1u);
  const std::vector<std::string> no_section = Errors(std::string(kHead) + "checks: ['memory_growth_pct <= 10']\n");
  ASSERT_EQ(no_section.size(), 1u);
  EXPECT_NE(no_section[0].find("memory_growth_pct has no samples: expected a memory section"), std::string::npos)
      << no_section[0];
}

Scenario Shipped(const std::string& name) {
  LoadResult r = LoadScenarioFile(kScenarios / (name + ".yaml"));
  EXPECT_TRUE(r.ok()) << name;
  return r.scenario.value_or(Scenario{});
}

TEST(Shipped, LanThreeMystate) {
  Scenario s = Shipped("lan-3-mystate");
  EXPECT_EQ(s.topology.node_count(), 3u);
  EXPECT_FALSE(s.topology.named_sites);
  EXPECT_EQ(s.topology.sites[0].lan.delay, 200us);
  EXPECT_EQ(s.transport, TransportMode::kMulticast);
  ASSERT_EQ(s.workload.changes.size(), 2u);
  const TimedChange& c = s.workload.changes[0];
  EXPECT_EQ(c.at, 1s);
  EXPECT_EQ(c.node, 1u);
  const auto& dc = std::get<DeviceChange>(c.what);
  EXPECT_EQ(dc.device, "Custom:mystate");
  EXPECT_EQ(dc.state, DeviceState::kInUse);
  EXPECT_EQ(std::get<DeviceChange>(s.workload.changes[1].what).state, DeviceState::kNotInUse);
  EXPECT_EQ(s.end(), 7s);
}

TEST(Shipped, GlomersMatchesTheGossipGlomersTargets) {
  Scenario s = Shipped("glomers-25");
  EXPECT_EQ(s.topology.node_count(), 25u);
  EXPECT_EQ(s.topology.sites[0].lan.delay, 100ms);
  EXPECT_EQ(s.transport, TransportMode::kUnicast);
  EXPECT_EQ(s.workload.rate_per_s, 100.0);
  EXPECT_EQ(s.workload.stop - s.workload.start, 20s);
  EXPECT_EQ(s.engine.batch_window, 400ms);
  ASSERT_EQ(s.checks.size(), 6u);
  EXPECT_EQ(s.checks[1].metric, "messages_per_change");
  EXPECT_EQ(s.checks[1].threshold, 20);
  EXPECT_TRUE(s.checks[1].backends.empty());
  EXPECT_EQ(s.checks[2].metric, "stable_latency.p50");
  EXPECT_EQ(s.checks[2].threshold, 400e6);
  EXPECT_EQ(s.checks[2].backends, (std::vector<std::string>{"ns3", "inproc"}));
  EXPECT_TRUE(s.checks[2].AppliesTo("ns3"));
  EXPECT_FALSE(s.checks[2].AppliesTo("emu"));
  EXPECT_EQ(s.checks[3].metric, "stable_latency.max");
  EXPECT_EQ(s.checks[3].threshold, 600e6);
  // The token ring's own bounds for real Corosync (the file derives them).
  EXPECT_EQ(s.checks[4].threshold, 1940e6);
  EXPECT_EQ(s.checks[4].backends, (std::vector<std::string>{"netns", "emu"}));
  EXPECT_EQ(s.checks[5].metric, "stable_latency.max");
  EXPECT_EQ(s.checks[5].threshold, 3750e6);
  EXPECT_TRUE(s.checks[5].AppliesTo("netns"));
  EXPECT_FALSE(s.checks[5].AppliesTo("inproc"));
}

TEST(Shipped, PartitionHealSplitsSevenFive) {
  Scenario s = Shipped("partition-heal");
  ASSERT_EQ(s.faults.size(), 2u);
  const auto& p = std::get<Partition>(s.faults[0].what);
  ASSERT_EQ(p.sides.size(), 2u);
  EXPECT_EQ(p.sides[0], (std::vector<NodeId>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(p.sides[1], (std::vector<NodeId>{8, 9, 10, 11, 12}));
  EXPECT_FALSE(p.one_way);
  EXPECT_TRUE(std::holds_alternative<Heal>(s.faults[1].what));
  EXPECT_DOUBLE_EQ(s.workload.mix.registration, 0.2);
  EXPECT_EQ(s.workload.spread, Spread::kRandom);
}

// Its heal check holds each membership to its own detection time: 3 s with the heartbeat
// detector it was written for, the effective token (3 s + 10 x 650 ms) plus consensus (1.2 x)
// plus 2 s with Corosync's defaults on its 12 nodes.
TEST(Shipped, PartitionHealBoundsTheHealByTheDetectionTime) {
  Scenario s = Shipped("partition-heal");
  const Check& heal = s.checks.back();
  ASSERT_EQ(heal.metric, "convergence.after_heal.max");
  EXPECT_TRUE(heal.plus_detection);
  EXPECT_EQ(DetectionTime(s, Detector::kHeartbeat), s.engine.suspect_after);
  EXPECT_EQ(heal.Bound(DetectionTime(s, Detector::kHeartbeat)), 3e9);
  EXPECT_EQ(DetectionTime(s, Detector::kCorosync), 9500ms + 11400ms);
  EXPECT_EQ(heal.Bound(DetectionTime(s, Detector::kCorosync)), 22.9e9);
  s.corosync = CorosyncSettings{};
  s.corosync->totem.token = 1000ms;
  s.corosync->totem.token_coefficient = 0ms;
  s.corosync->totem.consensus = 1500ms;
  EXPECT_EQ(DetectionTime(s, Detector::kCorosync), 2500ms);
  s.membership.view_delay = 40ms;
  EXPECT_EQ(DetectionTime(s, Detector::kViewDelay), 40ms);
}

// Their quiet phase covers Corosync noticing the last fault: on the heartbeats they were written
// for it is the 12 s and 8 s it always was (the ns-3 runs do not change), on Corosync's defaults
// its token plus consensus for their node count more.
TEST(Shipped, QuietPhasesAtTheEndAddTheDetectionTime) {
  Scenario wan = Shipped("adversarial/wan-four-sites");
  EXPECT_EQ(wan.quiet, (DetectionRelative{10500ms, true}));
  wan.detection = DetectionTime(wan, Detector::kHeartbeat);
  EXPECT_EQ(wan.Quiet(), 12s);
  wan.detection = DetectionTime(wan, Detector::kCorosync);
  EXPECT_EQ(wan.Quiet(), 9500ms + 11400ms + 10500ms);  // 12 nodes
  Scenario one_way = Shipped("adversarial/one-way-at-end");
  EXPECT_EQ(one_way.quiet, (DetectionRelative{7s, true}));
  one_way.detection = DetectionTime(one_way, Detector::kHeartbeat);
  EXPECT_EQ(one_way.Quiet(), 8s);
  one_way.detection = DetectionTime(one_way, Detector::kCorosync);
  EXPECT_EQ(one_way.Quiet(), 6900ms + 8280ms + 7s);  // 8 nodes: 3 s + 6 x 650 ms, consensus 1.2 x
}

TEST(Shipped, WanTwoSites) {
  Scenario s = Shipped("wan-two-sites");
  ASSERT_EQ(s.topology.sites.size(), 2u);
  EXPECT_EQ(s.topology.sites[1].name, "lyon");
  EXPECT_EQ(s.topology.sites[1].first_node, 5u);
  EXPECT_EQ(s.topology.SiteOf(4), 0u);
  EXPECT_EQ(s.topology.SiteOf(5), 1u);
  const SiteLink* l = s.topology.FindLink(1, 0);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->params.delay, 80ms);
  EXPECT_EQ(l->params.jitter, 5ms);
  EXPECT_DOUBLE_EQ(l->params.loss, 0.02);
  EXPECT_EQ(l->params.bandwidth_bps, 100'000'000u);
  // The WAN settings for the real corosync; ns-3 keeps its heartbeats (the gate's baseline).
  ASSERT_TRUE(s.corosync.has_value());
  EXPECT_FALSE(s.corosync->ns3_model);
  EXPECT_EQ(s.corosync->totem.knet_ping_interval, 200ms);
  EXPECT_EQ(s.corosync->totem.knet_ping_timeout, 3000ms);
  EXPECT_EQ(s.corosync->totem.token_retransmits_before_loss_const, 15u);
  EXPECT_EQ(s.corosync->totem.miss_count_const, 2u);
  EXPECT_TRUE(Shipped("calibration/wan-two-sites-corosync").corosync->ns3_model);
  const auto& d = std::get<Degrade>(s.faults[0].what);
  EXPECT_EQ(d.target.kind, NetworkTarget::Kind::kLink);
  EXPECT_DOUBLE_EQ(d.loss.value(), 0.15);
  EXPECT_FALSE(d.delay.has_value());
  EXPECT_EQ(std::get<Restore>(s.faults[1].what).target, d.target);
}

TEST(Shipped, DonorDiesMidSyncLeavesNodeOneAsTheOnlyDonor) {
  Scenario s = Shipped("donor-dies-mid-sync");
  const auto& p = std::get<Partition>(s.faults[1].what);
  ASSERT_EQ(p.sides.size(), 2u);
  EXPECT_EQ(p.sides[0], (std::vector<NodeId>{1, 5}));
  EXPECT_EQ(p.sides[1], (std::vector<NodeId>{2, 3, 4}));
  // Node 1 dies after node 5 restarted with it as its only donor, before the heal brings others.
  EXPECT_EQ(std::get<Restart>(s.faults[2].what).node, 5u);
  EXPECT_GT(s.faults[3].at, s.faults[2].at);
  EXPECT_EQ(std::get<Crash>(s.faults[3].what).node, 1u);
  EXPECT_GE(s.faults[4].at, s.faults[3].at);
  EXPECT_TRUE(std::holds_alternative<Heal>(s.faults[4].what));
}

TEST(Shipped, RegistrationStormAndLarge) {
  Scenario r = Shipped("registration-storm");
  EXPECT_EQ(r.workload.aors, 50'000u);
  ASSERT_EQ(r.workload.bursts.size(), 7u);
  EXPECT_EQ(std::get<RegistrationStorm>(r.workload.bursts[6].what).node, 6u);
  // Node 6's phones storm back right after its restart (within a second of it).
  EXPECT_EQ(std::get<Restart>(r.faults[1].what).node, 6u);
  EXPECT_GT(r.workload.bursts[6].at, r.faults[1].at);
  EXPECT_LE(r.workload.bursts[6].at, r.faults[1].at + 1s);
  Scenario l = Shipped("large-1000");
  EXPECT_EQ(l.topology.node_count(), 1000u);
  EXPECT_EQ(l.workload.rate_per_s * 20, 10'000);
}

// --- defaults and forms ---

TEST(Loader, DefaultsOfAMinimalScenario) {
  Scenario s = MustLoad(kHead);
  EXPECT_EQ(s.file, "t.yaml");
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.quiet, DetectionRelative{10s});
  EXPECT_EQ(s.end(), 20s);
  EXPECT_EQ(s.transport, TransportMode::kMulticast);
  EXPECT_EQ(s.workload.stop, 10s);
  EXPECT_EQ(s.workload.nodes, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(s.workload.rate_per_s, 0);
  const EngineConfig defaults;
  EXPECT_EQ(s.engine.batch_window, defaults.batch_window);
  EXPECT_EQ(s.engine.anti_entropy_interval, defaults.anti_entropy_interval);
  EXPECT_EQ(s.engine.max_nodes, defaults.max_nodes);
  EXPECT_EQ(s.engine.node_id, kNoNode);  // the world sets it per node
  ASSERT_EQ(s.topology.sites.size(), 1u);
  EXPECT_EQ(s.topology.sites[0].name, "");
  EXPECT_EQ(s.topology.sites[0].lan.bandwidth_bps, 1'000'000'000u);
  EXPECT_TRUE(s.topology.links.empty());
}

TEST(Loader, ClusterAuthAndItsKey) {
  EXPECT_FALSE(MustLoad(kHead).auth);
  Scenario s = MustLoad("name: t\nduration: 10s\ncluster: {nodes: 3, auth: true}\n");
  EXPECT_TRUE(s.auth);
  EXPECT_TRUE(s.engine.cluster_keys.empty());  // the backends derive the key from the run's seed
  EXPECT_FALSE(MustLoad("name: t\nduration: 10s\ncluster: {auth: false, nodes: 3}\n").auth);
  // The key: kClusterKeyBytes bytes, the same for a seed, another for another seed (the
  // runners hand it to EngineConfig::Validate with the rest of the engine settings).
  const std::string k1 = ScenarioClusterKey(1);
  EXPECT_EQ(k1.size(), kClusterKeyBytes);
  EXPECT_EQ(k1, ScenarioClusterKey(1));
  EXPECT_NE(k1, ScenarioClusterKey(2));
  EXPECT_NE(k1.substr(0, 8), k1.substr(8, 8));  // four draws of the stream, not one repeated
}

TEST(Loader, EveryEngineSettingMapsOntoEngineConfig) {
  Scenario s = MustLoad(std::string(kHead) + R"(engine:
  batch_window: 5ms
  max_batch_changes: 100
  max_frame_bytes: 9000
  send_retry_interval: 20ms
  max_send_queue_frames: 50
  anti_entropy_interval: 0ms
  sync_window_pages: 3
  max_sync_pulls: 2
  max_sync_serves: 5
  sync_retransmit: 100ms
  sync_timeout: 2s
  departure_grace: 1500ms
  heartbeat_interval: 100ms
  suspect_after: 400ms
  max_key_bytes: 64
  max_contact_bytes: 128
  max_nodes: 16
  max_entries: 1000
  max_registration_ttl: 2h
  max_received_ranges: 8
)");
  const EngineConfig& e = s.engine;
  EXPECT_EQ(e.batch_window, 5ms);
  EXPECT_EQ(e.max_batch_changes, 100u);
  EXPECT_EQ(e.max_frame_bytes, 9000u);
  EXPECT_EQ(e.send_retry_interval, 20ms);
  EXPECT_EQ(e.max_send_queue_frames, 50u);
  EXPECT_EQ(e.anti_entropy_interval, 0ms);
  EXPECT_EQ(e.sync_window_pages, 3u);
  EXPECT_EQ(e.max_sync_pulls, 2u);
  EXPECT_EQ(e.max_sync_serves, 5u);
  EXPECT_EQ(e.sync_retransmit, 100ms);
  EXPECT_EQ(e.sync_timeout, 2s);
  EXPECT_EQ(e.departure_grace, 1500ms);
  EXPECT_EQ(e.heartbeat_interval, 100ms);
  EXPECT_EQ(e.suspect_after, 400ms);
  EXPECT_EQ(e.max_key_bytes, 64u);
  EXPECT_EQ(e.max_contact_bytes, 128u);
  EXPECT_EQ(e.max_nodes, 16u);
  EXPECT_EQ(e.max_entries, 1000u);
  EXPECT_EQ(e.max_registration_ttl, 2h);
  EXPECT_EQ(e.max_received_ranges, 8u);
}

TEST(Loader, SitesNetworkOverridesAndWanDefault) {
  Scenario s = MustLoad(R"(name: sites
duration: 10s
cluster:
  sites:
    - {name: a, nodes: 2}
    - {name: b, nodes: 3}
    - {name: c, nodes: 1}
network:
  lan: {delay: 1ms, loss: 1%}
  sites:
    b: {delay: 3ms}
  wan: {delay: 30ms, jitter: 2ms}
  links:
    - {between: [c, a], delay: 90ms, loss: 0.5}
transport: unicast
)");
  const Topology& t = s.topology;
  EXPECT_TRUE(t.named_sites);
  EXPECT_EQ(t.node_count(), 6u);
  EXPECT_EQ(t.sites[2].first_node, 6u);
  EXPECT_EQ(t.sites[0].lan.delay, 1ms);
  EXPECT_EQ(t.sites[1].lan.delay, 3ms);
  EXPECT_DOUBLE_EQ(t.sites[1].lan.loss, 0.01);  // override is per key
  ASSERT_EQ(t.links.size(), 3u);
  EXPECT_EQ(t.FindLink(0, 1)->params.delay, 30ms);
  EXPECT_EQ(t.FindLink(0, 1)->params.jitter, 2ms);
  EXPECT_EQ(t.FindLink(0, 2)->params.delay, 90ms);
  EXPECT_EQ(t.FindLink(0, 2)->params.jitter, 2ms);  // unnamed keys come from wan
  EXPECT_DOUBLE_EQ(t.FindLink(2, 0)->params.loss, 0.5);
  EXPECT_EQ(t.FindLink(1, 1), nullptr);
  EXPECT_EQ(t.FindSite("b"), 1u);
  EXPECT_EQ(t.FindSite("z"), std::nullopt);
}

TEST(Loader, NodeListsTakeNumbersRangesAndSites) {
  Scenario s = MustLoad(R"(name: sets
duration: 10s
cluster:
  sites:
    - {name: east, nodes: 3}
    - {name: west, nodes: 3}
workload:
  devices: 10
  nodes: [west, 1, "2..2"]
faults:
  - {at: 1s, partition: [[east], [4]]}
)");
  EXPECT_EQ(s.workload.nodes, (std::vector<NodeId>{4, 5, 6, 1, 2}));
  const auto& p = std::get<Partition>(s.faults[0].what);
  ASSERT_EQ(p.sides.size(), 3u);  // the rest form a side of their own
  EXPECT_EQ(p.sides[2], (std::vector<NodeId>{5, 6}));
}

TEST(Loader, RangesNeedNoQuotes) {
  Scenario s = MustLoad(R"(name: ranges
duration: 10s
cluster: {nodes: 12}
faults:
  - {at: 1s, partition: [[1..7], [8..12]]}
)");
  const auto& p = std::get<Partition>(s.faults[0].what);
  ASSERT_EQ(p.sides.size(), 2u);
  EXPECT_EQ(p.sides[0].size(), 7u);
  EXPECT_EQ(p.sides[1].front(), 8u);
}

TEST(Loader, EveryFaultKind) {
  Scenario s = MustLoad(std::string(kHead) + R"(faults:
  - {at: 1s, partition: [[1]], one_way: true}
  - {at: 2s, heal: {}}
  - {at: 3s, isolate: 2}
  - at: 4s
    heal:
  - {at: 5s, degrade: {loss: 5%, delay: 2ms, bandwidth: 10Mbps}}
  - {at: 6s, restore: {}}
  - {at: 7s, crash: 3}
  - {at: 7s, restart: 3}
)");
  ASSERT_EQ(s.faults.size(), 8u);
  const auto& p = std::get<Partition>(s.faults[0].what);
  EXPECT_TRUE(p.one_way);
  EXPECT_EQ(p.sides, (std::vector<std::vector<NodeId>>{{1}, {2, 3}}));
  EXPECT_EQ(std::get<Isolate>(s.faults[2].what).node, 2u);
  EXPECT_TRUE(std::holds_alternative<Heal>(s.faults[3].what));
  const auto& d = std::get<Degrade>(s.faults[4].what);
  EXPECT_EQ(d.target.kind, NetworkTarget::Kind::kLan);
  EXPECT_EQ(d.delay, 2ms);
  EXPECT_EQ(d.bandwidth_bps, 10'000'000u);
  EXPECT_EQ(std::get<Restore>(s.faults[5].what).target, d.target);
  EXPECT_EQ(std::get<Crash>(s.faults[6].what).node, 3u);
  EXPECT_EQ(std::get<Restart>(s.faults[7].what).node, 3u);
  EXPECT_EQ(s.faults[6].pos.line, 12);
  EXPECT_EQ(s.faults[6].pos.column, 5);
}

TEST(Loader, EveryChangeKind) {
  Scenario s = MustLoad(std::string(kHead) + R"(workload:
  registration_expiry: 600s
  changes:
    - {at: 1s, node: 1, device: PJSIP/alice, state: ringinuse}
    - {at: 2s, node: 2, mailbox: 1000@default, new: 2, old: 1, urgent: 1}
    - {at: 3s, node: 3, aor: alice, contact: "sip:alice@198.18.0.7:5060", status: unreachable}
    - {at: 4s, node: 3, aor: bob, contact: "sips:bob@example.net", expires: 30s}
    - {at: 5s, node: 3, aor: alice, remove: true}
)");
  const auto& w = s.workload;
  ASSERT_EQ(w.changes.size(), 5u);
  EXPECT_EQ(std::get<DeviceChange>(w.changes[0].what).state, DeviceState::kRingInUse);
  const auto& mb = std::get<MailboxChange>(w.changes[1].what);
  EXPECT_EQ(mb.counts, (MailboxCounts{2, 1, 1}));
  const auto& reg = std::get<RegistrationSet>(w.changes[2].what);
  EXPECT_EQ(reg.expires, 600s);  // from registration_expiry
  EXPECT_EQ(reg.status, ContactStatus::kUnreachable);
  EXPECT_EQ(std::get<RegistrationSet>(w.changes[3].what).expires, 30s);
  EXPECT_EQ(std::get<RegistrationRemove>(w.changes[4].what).aor, "alice");
}

TEST(Loader, WorkloadGenerationSettings) {
  Scenario s = MustLoad(std::string(kHead) + R"(workload:
  devices: 100
  mailboxes: 10
  aors: 50
  spread: random
  rate: 600/min
  start: 1s
  stop: 9s
  mix: {device: 0.5, mwi: 25%, registration: 25%}
  device_states: [INUSE, not_inuse]
  bursts:
    - {at: 2s, call_storm: {for: 1s, rate: 500/s, nodes: [1, 2]}}
    - {at: 3s, registration_storm: {node: 2, rate: 100/s, count: 20}}
)");
  const Workload& w = s.workload;
  EXPECT_EQ(w.rate_per_s, 10.0);
  EXPECT_EQ(w.start, 1s);
  EXPECT_EQ(w.stop, 9s);
  EXPECT_DOUBLE_EQ(w.mix.device, 0.5);
  EXPECT_DOUBLE_EQ(w.mix.mwi, 0.25);
  EXPECT_EQ(w.device_states, (std::vector<DeviceState>{DeviceState::kInUse,
                                                       DeviceState::kNotInUse}));
  const auto& call = std::get<CallStorm>(w.bursts[0].what);
  EXPECT_EQ(call.length, 1s);
  EXPECT_EQ(call.nodes, (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(std::get<RegistrationStorm>(w.bursts[1].what).count, 20u);
}

// --- timeline rules ---

TEST(Timeline, FaultsComeBeforeChangesAtTheSameInstant) {
  // A restart at 5s and a change by that node at 5s: the change is the new incarnation's.
  MustLoad(std::string(kHead) + R"(workload:
  changes:
    - {at: 5s, node: 2, device: Custom:x, state: INUSE}
faults:
  - {at: 3s, crash: 2}
  - {at: 5s, restart: 2}
)");
  // A crash at 3s and a change at 3s: the node is already down.
  EXPECT_EQ(Errors(std::string(kHead) + R"(workload:
  changes:
    - {at: 3s, node: 2, device: Custom:x, state: INUSE}
faults:
  - {at: 3s, crash: 2}
)"),
            (std::vector<std::string>{
                "t.yaml:6:22: workload.changes[0].node: node 2 is crashed at 3s (by faults[0]); "
                "expected a running node to make the change"}));
}

TEST(Timeline, APartitionReplacesTheCutAndOneHealEndsIt) {
  MustLoad(std::string(kHead) + R"(faults:
  - {at: 1s, isolate: 1}
  - {at: 2s, partition: [[1, 2]]}
  - {at: 3s, heal: {}}
  - {at: 3s, isolate: 3}
  - {at: 4s, heal: {}}
)");
  EXPECT_EQ(Errors(std::string(kHead) + R"(faults:
  - {at: 1s, isolate: 1}
  - {at: 2s, heal: {}}
  - {at: 3s, heal: {}}
)"),
            (std::vector<std::string>{
                "t.yaml:7:20: faults[2].heal: heal at 3s without a partition in force; expected "
                "an earlier partition or isolate"}));
}

TEST(Timeline, TimelineChecksWaitForAFileWithoutOtherErrors) {
  // The restart of a node that is not crashed is not reported while the file has a type error
  // elsewhere: one mistake at a time, no echoes.
  EXPECT_EQ(Errors(std::string(kHead) + R"(quiet: soon
faults:
  - {at: 3s, restart: 2}
)"),
            (std::vector<std::string>{
                "t.yaml:4:8: quiet: expected a duration with a unit (ns, us, ms, s, min, h), "
                "e.g. 250ms, got 'soon'"}));
}

// "quiet: detection + X": the spelling of a check's "detection" (detection.h); a loaded scenario
// keeps it unresolved until a runner sets the detection time it runs with.
TEST(Loader, QuietMayAddTheRunsDetectionTime) {
  for (const char* written : {"detection + 10500ms", "detection+10500ms", "\"detection  +  10500ms\""}) {
    SCOPED_TRACE(written);
    Scenario s = MustLoad(std::string(kHead) + "quiet: " + written + "\n");
    EXPECT_EQ(s.quiet, (DetectionRelative{10500ms, true}));
    EXPECT_FALSE(s.detection.has_value());
    s.detection = 1500ms;
    EXPECT_EQ(s.Quiet(), 12s);
    EXPECT_EQ(s.end(), 22s);
  }
  EXPECT_EQ(MustLoad(std::string(kHead) + "quiet: detection + 0ms\n").quiet, (DetectionRelative{0ms, true}));
  EXPECT_EQ(MustLoad(std::string(kHead) + "quiet: 3s\n").quiet, DetectionRelative{3s});
}

TEST(Errors, QuietWithDetectionNamesTheFieldAndWhatIsWrong) {
  auto quiet = [](std::string_view value) { return Errors(std::string(kHead) + "quiet: " + std::string(value) + "\n"); };
  EXPECT_EQ(quiet("detection - 2s"),
            (std::vector<std::string>{"t.yaml:4:8: quiet: expected '+ <duration>' after 'detection', e.g. 'detection + 2s'"}));
  EXPECT_EQ(quiet("detection + soon"),
            (std::vector<std::string>{"t.yaml:4:8: quiet: expected a duration with a unit (ns, us, ms, s, min, h) after "
                                      "'detection +', e.g. 'detection + 10s', got 'soon'"}));
  EXPECT_EQ(quiet("detection + 2s + 1s"),
            (std::vector<std::string>{"t.yaml:4:8: quiet: expected a duration with a unit (ns, us, ms, s, min, h) after "
                                      "'detection +', e.g. 'detection + 10s', got '2s + 1s'"}));
  EXPECT_EQ(quiet("2s + detection"),
            (std::vector<std::string>{"t.yaml:4:8: quiet: expected a duration with a unit (ns, us, ms, s, min, h) or "
                                      "'detection + <duration>', e.g. 10s, got '2s + detection'"}));
  EXPECT_EQ(quiet("detection + 61min"),
            (std::vector<std::string>{"t.yaml:4:8: quiet: expected a duration from 0ms to 1h after 'detection +', got 61min"}));
  EXPECT_EQ(quiet("[detection, 2s]"),
            (std::vector<std::string>{"t.yaml:4:8: quiet: expected a duration with a unit (ns, us, ms, s, min, h), e.g. "
                                      "250ms, got a list"}));
}

// --- errors ---

TEST(Errors, FormatWithAndWithoutPathAndPosition) {
  ScenarioError e{"f.yaml", 3, 7, "faults[2].partition[1][0]", "expected a node"};
  EXPECT_EQ(e.ToString(), "f.yaml:3:7: faults[2].partition[1][0]: expected a node");
  e.path.clear();
  EXPECT_EQ(e.ToString(), "f.yaml:3:7: expected a node");
  e.line = 0;
  EXPECT_EQ(e.ToString(), "f.yaml: expected a node");
}

TEST(Errors, AllStructuralErrorsAreCollectedInFileOrder) {
  auto errors = Errors(R"(checks: [lost == zero]
name: "bad name"
cluster: {nodes: 3, extra: 1}
duration: 10
)");
  EXPECT_EQ(errors,
            (std::vector<std::string>{
                "t.yaml:1:18: checks[0]: expected a whole number without unit after '==' for "
                "lost, got 'zero'",
                "t.yaml:2:7: name: expected a name of 1 to 64 letters, digits, '.', '_' or '-' "
                "starting with a letter or digit, got 'bad name'",
                "t.yaml:3:21: cluster.extra: unknown key; expected one of: nodes, sites, auth, membership, views, view_delay",
                "t.yaml:4:11: duration: expected a duration with a unit (ns, us, ms, s, min, h), "
                "e.g. 250ms, got '10'"}));
}

TEST(Errors, CheckColumnsPointInsideQuotedText) {
  // The column is the offending token's, inside the quotes.
  EXPECT_EQ(Errors(std::string(kHead) + "checks:\n  - \"lost ?? 0\"\n"),
            (std::vector<std::string>{
                "t.yaml:5:11: checks[0]: expected an operator (<, <=, >, >=, ==, !=) after "
                "'lost'"}));
}

TEST(Errors, EmptyValuesPointAtTheirKey) {
  EXPECT_EQ(Errors("name: t\nduration:\ncluster: {nodes: 3}\n"),
            (std::vector<std::string>{
                "t.yaml:2:1: duration: expected a duration with a unit (ns, us, ms, s, min, h), "
                "e.g. 250ms, got nothing"}));
}

TEST(Errors, AreCappedWithANoteAboutTheRest) {
  std::string yaml = kHead;
  for (int i = 0; i < 60; ++i) yaml += "k" + std::to_string(i) + ": 1\n";
  auto errors = Errors(yaml);
  ASSERT_EQ(errors.size(), kMaxErrors);
  EXPECT_EQ(errors.back(), "t.yaml:53:1: 11 more errors not shown; fix the ones above first");
}

TEST(Errors, UnreadableFileHasNoPosition) {
  LoadResult r = LoadScenarioFile("/nonexistent/x.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_EQ(r.errors[0].ToString(),
            "/nonexistent/x.yaml: cannot read the file; expected a readable scenario file");
}

TEST(Errors, ADirectoryIsNotAScenario) {
  LoadResult r = LoadScenarioFile(kScenarios);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            kScenarios.string() + ": is a directory; expected a scenario file");
}

TEST(Errors, BoundsOfTheGeneratedWorkload) {
  EXPECT_EQ(Errors("name: t\nduration: 20s\ncluster: {nodes: 3}\n"
                   "workload: {devices: 10, rate: 600000/s}\n"),
            (std::vector<std::string>{
                "t.yaml:4:31: workload.rate: the workload makes about 12000000 changes; "
                "expected at most 10000000"}));
}

}  // namespace
}  // namespace pbxstate::scenario

namespace pbxstate::scenario {
namespace {

// Every YAML example in the schema reference must load. Fragments get the context they need:
// two sites paris (1..4) and lyon (5..8), keys for storms, and faults for convergence checks.
TEST(Readme, EveryExampleLoads) {
  std::ifstream in(kScenarios / "README.md");
  ASSERT_TRUE(in);
  std::vector<std::string> blocks;
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```yaml") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  ASSERT_GE(blocks.size(), 10u);
  const std::string head =
      "name: t\nduration: 30s\ncluster:\n  sites:\n    - {name: paris, nodes: 4}\n"
      "    - {name: lyon, nodes: 4}\n";
  for (const std::string& b : blocks) {
    std::string doc;
    if (b.rfind("name:", 0) == 0) {
      doc = b;
    } else if (b.rfind("cluster:", 0) == 0) {
      doc = "name: t\nduration: 30s\n" + b;
    } else if (b.rfind("  bursts:", 0) == 0 || b.rfind("  changes:", 0) == 0 || b.rfind("  name_churn:", 0) == 0) {
      doc = head + "workload:\n  devices: 10\n  aors: 10\n" + b;
    } else if (b.rfind("calls:", 0) == 0) {
      doc = head + "workload: {aors: 100}\n" + b;
    } else if (b.rfind("checks:", 0) == 0) {
      doc = head + "workload: {devices: 10, rate: 10/s}\n"
                   "faults: [{at: 1s, isolate: 1}, {at: 2s, heal: {}}]\n" + b;
    } else {
      doc = head + b;
    }
    LoadResult r = LoadScenarioString(doc, "README.md");
    for (const auto& e : r.errors) ADD_FAILURE() << e.ToString() << "\nin:\n" << doc;
  }
}

}  // namespace
}  // namespace pbxstate::scenario
