// Every runner's support check holds the scenario's engine settings to the engine's own rules
// through one function (sim/runner/src/run_steps.h, CheckEngineSettings), with the membership
// source that backend runs the engines with.
#include <gtest/gtest.h>

#include "run_steps.h"
#include "pbxstate/runner/emu_runner.h"
#include "pbxstate/runner/inproc_runner.h"
#include "pbxstate/runner/netns_runner.h"
#include "pbxstate/runner/ns3_runner.h"
#include "pbxstate/scenario/loader.h"

namespace pbxstate::runner {
namespace {

using namespace std::chrono_literals;

scenario::Scenario Loaded() {
  const scenario::LoadResult r = scenario::LoadScenarioString(
      "name: t\nduration: 10s\ncluster: {nodes: 3}\nnetwork: {lan: {delay: 1ms}}\ntransport: multicast\n"
      "workload: {devices: 10, rate: 10/s}\n",
      "t.yaml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.errors.front().ToString());
  return *r.scenario;
}

TEST(CheckEngineSettings, TheMembershipSourceDecidesTheHeartbeatRule) {
  scenario::Scenario s = Loaded();
  EXPECT_TRUE(CheckEngineSettings(s, MembershipSource::kHeartbeat).ok());
  // A suspicion no longer than a heartbeat is wrong for the engines' own detector only.
  s.engine.suspect_after = s.engine.heartbeat_interval;
  const Status heartbeat = CheckEngineSettings(s, MembershipSource::kHeartbeat);
  EXPECT_EQ(heartbeat.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(heartbeat.message(), "t.yaml: engine: EngineConfig.suspect_after: must be longer than heartbeat_interval");
  EXPECT_TRUE(CheckEngineSettings(s, MembershipSource::kTransport).ok());
}

TEST(CheckEngineSettings, EveryBackendRefusesABrokenSettingAlike) {
  scenario::Scenario s = Loaded();
  s.engine.sync_timeout = s.engine.sync_retransmit;
  const std::string expected = "t.yaml: engine: EngineConfig.sync_timeout: must be longer than sync_retransmit";
  EXPECT_EQ(CheckInprocSupport(s).message(), expected);
  EXPECT_EQ(CheckNs3Support(s).message(), expected);
  EXPECT_EQ(CheckNetnsSupport(s).message(), expected);
  EXPECT_EQ(CheckEmuSupport(s, EmuOptions{}).message(), expected);
}

TEST(CheckEngineSettings, TheRealClustersJudgeByTransportMembership) {
  // netns and emu run the engines on corosync's views: the heartbeat rule is not theirs, and
  // what they refuse of the scenario is the rest (here nothing).
  scenario::Scenario s = Loaded();
  s.engine.suspect_after = s.engine.heartbeat_interval;
  EXPECT_EQ(CheckInprocSupport(s).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(CheckNetnsSupport(s).ok()) << CheckNetnsSupport(s).message();
}

}  // namespace
}  // namespace pbxstate::runner
