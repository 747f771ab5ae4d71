// The scenario writer: every scenario the loader gives back is written as a file that loads
// back the same (SameScenario), and writing that again gives the same text.
#include "pbxstate/scenario/writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "pbxstate/scenario/loader.h"
#include "scenario_yaml.h"

namespace pbxstate::scenario {
namespace {

using test_support::LoadErrors;

// Writes `s`, loads the text back and requires the same scenario and the same text again.
void ExpectRoundTrip(const Scenario& s) {
  std::string text;
  const Status st = WriteScenario(s, &text);
  ASSERT_TRUE(st.ok()) << s.file << ": " << st.message();
  const LoadResult back = LoadScenarioString(text, s.file + " (written)");
  ASSERT_TRUE(back.ok()) << LoadErrors(back) << "---\n" << text;
  EXPECT_TRUE(SameScenario(s, *back.scenario)) << s.file << " written as:\n" << text;
  std::string again;
  ASSERT_TRUE(WriteScenario(*back.scenario, &again).ok());
  EXPECT_EQ(text, again);
}

TEST(Writer, EveryShippedScenarioRoundTrips) {
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(PBXSTATE_SCENARIOS_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const LoadResult r = LoadScenarioFile(entry.path());
    ASSERT_TRUE(r.ok()) << LoadErrors(r);
    ExpectRoundTrip(*r.scenario);
    ++files;
  }
  EXPECT_GE(files, 10u);
}

// Every key of the schema away from its default, and names that need quoting.
constexpr const char* kEverything = R"(
name: every-key
description: "a line with: colons, \"quotes\" and café"
seed: 18446744073709551615
duration: 40s
quiet: 1500ms
cluster:
  sites:
    - {name: paris, nodes: 3}
    - {name: lyon, nodes: 2}
    - {name: nyc, nodes: 1}
  auth: true
  membership: transport
  views: per_node
  view_delay: 120ms
network:
  lan: {delay: 250us, bandwidth: 10Gbps, loss: 0.1%, duplicate: 1%}
  sites:
    lyon: {loss: 2%, delay: 1ms, reorder: 5%, reorder_delay: 3ms}
  wan: {delay: 40ms, jitter: 5ms, loss: 1%, bandwidth: 50Mbps, reorder: 0.5%}
  links:
    - {between: [lyon, nyc], delay: 90ms, jitter: 90ms, duplicate: 2%, reorder: 0%}
transport: unicast
engine:
  batch_window: 20ms
  max_batch_changes: 100
  max_frame_bytes: 4000
  send_retry_interval: 5ms
  max_send_queue_frames: 64
  anti_entropy_interval: 0ms
  sync_window_pages: 3
  max_sync_pulls: 2
  max_sync_serves: 3
  sync_retransmit: 100ms
  sync_timeout: 2s
  departure_grace: 1500ms
  heartbeat_interval: 200ms
  suspect_after: 900ms
  max_key_bytes: 100
  max_contact_bytes: 200
  max_nodes: 50
  max_entries: 100000
  max_registration_ttl: 48h
  max_received_ranges: 8
workload:
  devices: 10
  mailboxes: 4
  aors: 30
  spread: random
  nodes: [1, 2, 3, 5]
  rate: 100/min
  start: 1s
  stop: 30s
  mix: {device: 70%, mwi: 10%, registration: 20%}
  device_states: [busy, INUSE, RINGINUSE, UNKNOWN]
  registration_expiry: 90s
  bursts:
    - {at: 2s, call_storm: {for: 1s, rate: 33.5/s, nodes: [paris]}}
    - {at: 3s, registration_storm: {node: 4, rate: 1000/s, count: 5}}
    - {at: 3s, registration_storm: {node: 2, rate: 7/s}}
  changes:
    - {at: 0ms, node: 1, device: "Custom:mystate", state: ringing}
    - {at: 1ns, node: 2, device: "PJSIP/a,b\"c", state: ONHOLD}
    - {at: 2s, node: 6, mailbox: 1000@default, new: 3, urgent: 1}
    - {at: 2s, node: 5, mailbox: "box@ctx", old: 7}
    - {at: 4s, node: 3, aor: alice, contact: "sip:alice@198.18.0.7:5060", expires: 2h, status: unreachable}
    - {at: 5s, node: 3, aor: alice, contact: "sips:alice@h", expires: 90s}
    - {at: 6s, node: 3, aor: alice, remove: true}
calls:
  rate: 20/s
  start: 2s
  stop: 35s
  nodes: [2, 4, 6]
  bursts:
    - {at: 10s, length: 2s, rate: 100/s}
  strategies: [location]
  hop_limit: 3
faults:
  - {at: 1s, degrade: {link: [paris, lyon], loss: 15%, delay: 150ms}}
  - {at: 1s, degrade: {site: nyc, bandwidth: 1Mbps, duplicate: 10%, reorder: 20%, reorder_delay: 1s}}
  - {at: 2s, partition: [[1, 2], [lyon]]}
  - {at: 3s, partition: [[6, 4]], one_way: true}
  - {at: 4s, partition: [[3], [1, 2, 4, 5, 6]]}
  - {at: 5s, heal: {}}
  - {at: 6s, isolate: 2}
  - {at: 7s, heal: {}}
  - {at: 8s, crash: 5}
  - {at: 9s, restore: {link: [lyon, paris]}}
  - {at: 9s, restore: {site: nyc}}
  - {at: 12s, restart: 5}
checks:
  - lost == 0
  - "stable_latency.p50 < 400ms"
  - convergence.after_restore.max <= 2.5s
memory: {sample_every: 2s, baseline: 4s}
)";

TEST(Writer, EveryKeyRoundTrips) {
  const LoadResult r = LoadScenarioString(kEverything, "every-key.yaml");
  ASSERT_TRUE(r.ok()) << LoadErrors(r);
  ExpectRoundTrip(*r.scenario);
}

TEST(Writer, OneLanFormAndDefaultsRoundTrip) {
  const LoadResult r = LoadScenarioString(R"(
name: "12"
duration: 3s
quiet: 0ms
cluster: {nodes: 1000}
network:
  lan: {loss: 0.333333}
workload:
  churn: {}
  aors: 1
calls: {}
faults:
  - {at: 1ms, degrade: {loss: 100%}}
  - {at: 3s, restore: {}}
)",
                                          "one-lan.yaml");
  ASSERT_TRUE(r.ok()) << LoadErrors(r);
  ExpectRoundTrip(*r.scenario);
}

// The equality the round trip relies on sees a change anywhere, and ignores positions.
TEST(Writer, SameScenarioSeesEveryPart) {
  const LoadResult r = LoadScenarioString(kEverything, "every-key.yaml");
  ASSERT_TRUE(r.ok()) << LoadErrors(r);
  const Scenario& s = *r.scenario;
  EXPECT_TRUE(SameScenario(s, s));
  std::vector<std::function<void(Scenario&)>> changes = {
      [](Scenario& x) { x.seed = 2; },
      [](Scenario& x) { x.quiet = DetectionRelative{1s}; },
      [](Scenario& x) { x.quiet.plus_detection = !x.quiet.plus_detection; },
      [](Scenario& x) { x.topology.sites[1].lan.loss = 0.5; },
      [](Scenario& x) { x.topology.links[2].params.jitter = 1ms; },
      [](Scenario& x) { x.topology.sites[0].lan.frames.duplicate = 0.5; },
      [](Scenario& x) { x.topology.links[0].params.frames.reorder_delay = 1ms; },
      [](Scenario& x) { x.membership.views = ViewModel::kConsistent; },
      [](Scenario& x) { x.membership.view_delay = 1ms; },
      [](Scenario& x) { x.membership.source.reset(); },
      [](Scenario& x) { std::get<Degrade>(x.faults[1].what).reorder.reset(); },
      [](Scenario& x) { x.engine.max_received_ranges = 9; },
      [](Scenario& x) { x.engine.join_digest_fanout = 9; },
      [](Scenario& x) { x.workload.mix.mwi = 0.2; },
      [](Scenario& x) { std::get<MailboxChange>(x.workload.changes[2].what).counts.urgent_messages = 2; },
      [](Scenario& x) { x.calls->hop_limit = 2; },
      [](Scenario& x) { std::get<Partition>(x.faults[3].what).one_way = false; },
      [](Scenario& x) { x.checks.pop_back(); },
      [](Scenario& x) { x.memory->baseline = 0s; },
      [](Scenario& x) { x.memory.reset(); },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    Scenario other = s;
    changes[i](other);
    EXPECT_FALSE(SameScenario(s, other)) << "change " << i;
  }
  Scenario moved = s;
  moved.file = "elsewhere.yaml";
  moved.faults[0].pos = {99, 3};
  moved.checks[0].line = 77;
  moved.membership.pos = {5, 5};
  moved.topology.sites[2].lan.frames.pos = {1, 1};
  moved.memory->pos = {3, 3};
  EXPECT_TRUE(SameScenario(s, moved));
}

TEST(Writer, RefusesWhatNoFileCanSay) {
  const LoadResult r = LoadScenarioString("name: x\nduration: 1s\ncluster: {nodes: 2}\n", "x.yaml");
  ASSERT_TRUE(r.ok()) << LoadErrors(r);
  Scenario s = *r.scenario;
  s.engine.max_clock_skew = 1s;
  std::string text = "untouched";
  const Status st = WriteScenario(s, &text);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("engine"), std::string::npos) << st.message();
  EXPECT_EQ(text, "untouched");
}

}  // namespace
}  // namespace pbxstate::scenario
