// The scenario's corosync: section: every key onto totem::TotemConfig, Corosync's defaults when
// absent, and Corosync's own refusals reported at the key. The loader as a host of the table of
// totem settings (totem::TotemSettings()): every row is a key with the row's range, and
// scenarios/README.md's corosync table is generated from the rows and checked here.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doc_block.h"
#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario {
namespace {

using namespace std::chrono_literals;

constexpr const char* kHead = "name: t\nduration: 10s\ncluster: {nodes: 3}\n";

Scenario MustLoad(const std::string& yaml) {
  LoadResult r = LoadScenarioString(yaml, "t.yaml");
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.scenario.value_or(Scenario{});
}

std::vector<std::string> Errors(const std::string& yaml) {
  LoadResult r = LoadScenarioString(yaml, "t.yaml");
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.ToString());
  return out;
}

TEST(CorosyncSection, AbsentMeansNone) { EXPECT_FALSE(MustLoad(kHead).corosync.has_value()); }

TEST(CorosyncSection, EmptyMeansCorosyncsDefaults) {
  const Scenario s = MustLoad(std::string(kHead) + "corosync: {}\n");
  ASSERT_TRUE(s.corosync.has_value());
  const totem::TotemConfig defaults;
  EXPECT_EQ(s.corosync->totem.token, defaults.token);
  EXPECT_EQ(s.corosync->totem.token, 3000ms);
  EXPECT_EQ(s.corosync->totem.token_coefficient, 650ms);
  EXPECT_FALSE(s.corosync->totem.consensus.has_value());
  EXPECT_EQ(s.corosync->totem.transport, totem::Transport::kKnet);
  EXPECT_EQ(s.corosync->crash, CrashKills::kProcess);
}

TEST(CorosyncSection, EveryKeyMapsOntoTheTotemSettings) {
  const Scenario s = MustLoad(std::string(kHead) +
                              "corosync:\n  transport: udp\n  token: 1000ms\n  token_coefficient: 0ms\n"
                              "  consensus: 1500ms\n  join: 60ms\n  merge: 300ms\n  send_join: 80ms\n"
                              "  max_messages: 10\n  window_size: 40\n  crash: node\n");
  ASSERT_TRUE(s.corosync.has_value());
  const auto& t = s.corosync->totem;
  EXPECT_EQ(t.transport, totem::Transport::kUdp);
  EXPECT_EQ(t.token, 1000ms);
  EXPECT_EQ(t.token_coefficient, 0ms);
  EXPECT_EQ(t.consensus, 1500ms);
  EXPECT_EQ(t.join, 60ms);
  EXPECT_EQ(t.merge, 300ms);
  EXPECT_EQ(t.send_join, 80ms);
  EXPECT_EQ(t.max_messages, 10u);
  EXPECT_EQ(t.window_size, 40u);
  EXPECT_EQ(s.corosync->crash, CrashKills::kNode);
  EXPECT_EQ(s.corosync->line, 5);  // the mapping, below its key
}

TEST(CorosyncSection, WanKeysMapOntoTheTotemSettings) {
  const Scenario s = MustLoad(std::string(kHead) +
                              "corosync:\n  token_retransmits_before_loss_const: 15\n  miss_count_const: 2\n"
                              "  knet_ping_interval: 200ms\n  knet_ping_timeout: 3s\n  knet_pong_count: 3\n");
  ASSERT_TRUE(s.corosync.has_value());
  const auto& t = s.corosync->totem;
  EXPECT_EQ(t.token_retransmits_before_loss_const, 15u);
  EXPECT_EQ(t.miss_count_const, 2u);
  EXPECT_EQ(t.knet_ping_interval, 200ms);
  EXPECT_EQ(t.knet_ping_timeout, 3000ms);
  EXPECT_EQ(t.knet_pong_count, 3u);
  // What the model and corosync derive from them: 3000 + 650 ms effective token at 3 nodes.
  const totem::TotemTimeouts d = totem::DeriveTimeouts(t, 3);
  EXPECT_EQ(d.token_retransmit, 240ms);  // (int)(3650 / 15.2)
  EXPECT_EQ(d.hold, 182ms);              // (int)(240 x 0.8 - 10)
  EXPECT_EQ(d.knet_ping_interval, 200ms);
  EXPECT_EQ(d.knet_ping_timeout, 3000ms);
  // Unset, knet's timers follow the token as Corosync derives them.
  const totem::TotemTimeouts defaults = totem::DeriveTimeouts(totem::TotemConfig{}, 3);
  EXPECT_EQ(defaults.knet_ping_interval, 912ms);
  EXPECT_EQ(defaults.knet_ping_timeout, 1825ms);
  EXPECT_EQ(defaults.token_retransmit, 869ms);
}

TEST(CorosyncSection, RefusalsNameTheKey) {
  EXPECT_EQ(Errors(std::string(kHead) + "corosync: {token: 2500us}\n"),
            (std::vector<std::string>{"t.yaml:4:19: corosync.token: expected a duration from 30ms to 10min, got 2500us"}));
  EXPECT_EQ(Errors(std::string(kHead) + "corosync: {join: 50500us}\n"),
            (std::vector<std::string>{"t.yaml:4:18: corosync.join: expected a whole number of milliseconds (corosync.conf's "
                                      "unit), got 50500us"}));
  EXPECT_EQ(Errors(std::string(kHead) + "corosync: {consensus: 40ms}\n"),
            (std::vector<std::string>{"t.yaml:4:23: corosync.consensus: 40 ms may not be less than join (50 ms) "
                                      "(Corosync refuses it for 3 nodes)"}));
  EXPECT_EQ(Errors(std::string(kHead) + "corosync: {knet_ping_interval: 500ms, knet_ping_timeout: 400ms}\n"),
            (std::vector<std::string>{"t.yaml:4:58: corosync.knet_ping_timeout: 400 ms may not be less than "
                                      "knet_ping_interval (500 ms): a link would go down between two pings "
                                      "(Corosync refuses it for 3 nodes)"}));
  EXPECT_EQ(Errors(std::string(kHead) + "corosync: {token: 400ms, token_coefficient: 0ms, token_retransmits_before_loss_const: 20}\n"),
            (std::vector<std::string>{"t.yaml:4:19: corosync.token: token / (token_retransmits_before_loss_const + "
                                      "0.2) (the token retransmit timeout) must be at least 30 ms, is 19 ms "
                                      "(Corosync refuses it for 3 nodes)"}));
  EXPECT_EQ(Errors(std::string(kHead) + "corosync: {crash: host}\n"),
            (std::vector<std::string>{"t.yaml:4:19: corosync.crash: expected one of: process, node; got 'host'"}));
}

// `value` (in the row's unit) as a scenario writes it.
std::string Yaml(const totem::TotemSetting& row, std::int64_t value) {
  return std::to_string(value) + (row.is_duration() ? "ms" : "");
}

TEST(CorosyncSection, EveryRowIsAKeyWithTheRowsRange) {
  for (const totem::TotemSetting& row : totem::TotemSettings()) {
    const std::string key(row.key);
    for (std::int64_t v : {static_cast<std::int64_t>(row.min) - 1, static_cast<std::int64_t>(row.max) + 1}) {
      const std::vector<std::string> errors = Errors(std::string(kHead) + "corosync:\n  " + key + ": " + Yaml(row, v) + "\n");
      ASSERT_EQ(errors.size(), 1u) << key << " = " << v;
      EXPECT_NE(errors[0].find("corosync." + key + ": expected"), std::string::npos) << errors[0];
      // The same refusal where no loader stands in front: TotemConfig::Validate.
      if (v >= 0) {
        totem::TotemConfig c;
        row.Set(&c, static_cast<std::uint64_t>(v));
        const Status st = c.Validate(3);
        EXPECT_FALSE(st.ok()) << key << " = " << v;
        EXPECT_EQ(st.message().rfind(key + ":", 0), 0u) << st.message();
      }
    }
    for (std::uint64_t v : {row.min, row.max}) {
      // Within the range the loader takes the value; a rule between keys may still refuse it,
      // but never as out of the row's range.
      const LoadResult r = LoadScenarioString(std::string(kHead) + "corosync:\n  " + key + ": " +
                                                  Yaml(row, static_cast<std::int64_t>(v)) + "\n",
                                              "t.yaml");
      for (const auto& e : r.errors) EXPECT_EQ(e.message.find("expected"), std::string::npos) << key << ": " << e.ToString();
      if (r.ok()) {
        EXPECT_EQ(row.Get(r.scenario->corosync->totem), v) << key;
      }
    }
  }
}

TEST(CorosyncSection, EveryTotemConfigMemberHasOneRow) {
  // The rows name distinct keys, and FindTotemSetting finds each.
  for (const totem::TotemSetting& row : totem::TotemSettings()) EXPECT_EQ(totem::FindTotemSetting(row.key), &row);
  EXPECT_EQ(totem::FindTotemSetting("transport"), nullptr);
}

// scenarios/README.md's corosync table: one row per setting, in the table's order.
std::string ReadmeTable() {
  const totem::TotemConfig defaults;
  auto shown = [](const totem::TotemSetting& row, std::uint64_t v) {
    return row.is_duration() ? FormatDuration(std::chrono::milliseconds(v)) : std::to_string(v);
  };
  std::string t = "| key | type | default | bounds | meaning (corosync.conf(5)) |\n|---|---|---|---|---|\n";
  for (const totem::TotemSetting& row : totem::TotemSettings()) {
    const std::optional<std::uint64_t> d = row.Get(defaults);
    const std::string def = d ? (row.is_duration() ? "`" + shown(row, *d) + "`" : shown(row, *d)) : std::string(row.unset);
    t += "| `" + std::string(row.key) + "` | " + (row.is_duration() ? "duration" : "integer") + " | " + def + " | " +
         shown(row, row.min) + ".." + shown(row, row.max) + (row.is_duration() ? ", whole ms" : "") + " | " +
         std::string(row.doc) +
         (row.section == totem::TotemSetting::Section::kKnetInterface ? " (knet: link 0's interface section)"
          : row.section == totem::TotemSetting::Section::kKnetTotem    ? " (knet only)"
                                                                       : "") +
         " |\n";
  }
  return t;
}

TEST(CorosyncSection, TheReadmeTableIsTheTable) {
  EXPECT_TRUE(testing::DocBlockIs(std::string(PBXSTATE_SCENARIOS_DIR) + "/README.md",
                                  "<!-- corosync-settings:begin (generated; tests/sim/scenario/corosync_section_test.cc) -->",
                                  "<!-- corosync-settings:end -->", ReadmeTable()));
}

}  // namespace
}  // namespace pbxstate::scenario
