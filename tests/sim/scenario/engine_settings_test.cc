// The scenario loader as a host of the table of engine settings (engine_settings.h): every row is
// a key of the engine: section under its name, durations with a unit; min and max of every range
// are accepted, one below and one above refused at engine.<name>. scenarios/README.md's engine
// table is generated from the rows and checked here.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doc_block.h"
#include "pbxstate/config.h"
#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario {
namespace {

// `value` (in the row's unit) as the scenario writes it: "250ms" for durations, "8" otherwise.
std::string Yaml(const EngineSetting& s, std::int64_t value) {
  return std::to_string(value) + (s.is_duration() ? "ms" : "");
}

// A one-node scenario whose engine: sets every row to its permissive value and `name` to `value`.
std::string ScenarioWith(std::string_view name, const std::string& value) {
  const EngineConfig permissive = PermissiveEngineConfig();
  std::string t = "name: t\nduration: 10s\ncluster: {nodes: 1}\nengine:\n";
  for (const EngineSetting& s : EngineSettings()) {
    t += "  " + std::string(s.name) + ": " +
         (s.name == name ? value : Yaml(s, static_cast<std::int64_t>(s.Get(permissive)))) + "\n";
  }
  return t;
}

TEST(ScenarioEngineSettings, EveryRangeIsAcceptedAtBothEndsAndRefusedOnePastEither) {
  for (const EngineSetting& s : EngineSettings()) {
    for (std::uint64_t v : {s.min, s.max}) {
      const LoadResult r = LoadScenarioString(ScenarioWith(s.name, Yaml(s, static_cast<std::int64_t>(v))), "t.yaml");
      ASSERT_TRUE(r.ok()) << s.name << " = " << v << ": " << (r.errors.empty() ? "" : r.errors[0].ToString());
      EXPECT_EQ(s.Get(r.scenario->engine), v) << s.name;
      EXPECT_TRUE(s.IsWholeMilliseconds(r.scenario->engine)) << s.name;
    }
    for (std::int64_t v : {static_cast<std::int64_t>(s.min) - 1, static_cast<std::int64_t>(s.max) + 1}) {
      const LoadResult r = LoadScenarioString(ScenarioWith(s.name, Yaml(s, v)), "t.yaml");
      ASSERT_FALSE(r.ok()) << s.name << " = " << v;
      ASSERT_EQ(r.errors.size(), 1u) << r.errors[0].ToString();
      EXPECT_EQ(r.errors[0].path, "engine." + std::string(s.name)) << r.errors[0].ToString();
      EXPECT_EQ(r.errors[0].message.rfind("expected", 0), 0u) << r.errors[0].ToString();
    }
  }
}

TEST(ScenarioEngineSettings, DurationsTakeAnyUnitWithinTheRange) {
  // 1500us is within heartbeat_interval's [1ms, 60000ms]; 999us is below it.
  LoadResult r = LoadScenarioString(ScenarioWith("heartbeat_interval", "1500us"), "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  EXPECT_EQ(r.scenario->engine.heartbeat_interval, std::chrono::microseconds(1500));
  r = LoadScenarioString(ScenarioWith("heartbeat_interval", "999us"), "t.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].path, "engine.heartbeat_interval");
}

TEST(ScenarioEngineSettings, TheEnginesRulesBetweenSettingsAreCheckedAtLoad) {
  // A frame that cannot hold one record of the largest key: the engine would refuse the run.
  const LoadResult r = LoadScenarioString(
      "name: t\nduration: 10s\ncluster: {nodes: 1}\nengine:\n  max_frame_bytes: 300\n  max_key_bytes: 1024\n", "t.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            "t.yaml:5:20: engine.max_frame_bytes: expected max_frame_bytes of at least 1643 so that one record of "
            "max_key_bytes (1024) and max_contact_bytes (512) fits in a frame, got 300");
}

// scenarios/README.md's engine table: one row per setting, in the table's order.
std::string ReadmeTable() {
  const EngineConfig defaults;
  auto shown = [](const EngineSetting& s, std::uint64_t v) {
    return s.is_duration() ? FormatDuration(std::chrono::milliseconds(v)) : std::to_string(v);
  };
  std::string t = "| key | type | default | bounds | what |\n|---|---|---|---|---|\n";
  for (const EngineSetting& s : EngineSettings()) {
    const std::uint64_t d = s.Get(defaults);
    t += "| `" + std::string(s.name) + "` | " + (s.is_duration() ? "duration" : "integer") + " | " +
         (s.is_duration() ? "`" + shown(s, d) + "`" : shown(s, d)) + " | " + shown(s, s.min) + ".." + shown(s, s.max) +
         " | " + std::string(s.doc) + " |\n";
  }
  return t;
}

TEST(ScenarioEngineSettings, TheReadmeTableIsTheTable) {
  EXPECT_TRUE(testing::DocBlockIs(std::string(PBXSTATE_SCENARIOS_DIR) + "/README.md",
                                  "<!-- engine-settings:begin (generated; tests/sim/scenario/engine_settings_test.cc) -->",
                                  "<!-- engine-settings:end -->", ReadmeTable()));
}

}  // namespace
}  // namespace pbxstate::scenario
