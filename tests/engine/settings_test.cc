// The table of engine settings (engine_settings.h, EngineSettings()) and EngineConfig::Validate,
// the engine's own host of it: every row's range is accepted at both ends and refused one past
// either, and the table covers every numeric member of EngineConfig.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "pbxstate/config.h"

namespace pbxstate {
namespace {

std::string Described(const EngineSetting& s) { return std::string(s.name) + " " + s.RangeText(); }

// `value` in the row's unit written into `config`, past the range too (Set requires the range).
void Write(const EngineSetting& s, EngineConfig* config, std::int64_t value) {
  if (s.is_duration()) {
    config->*s.duration = std::chrono::milliseconds(value);
  } else {
    config->*s.size = static_cast<std::size_t>(value);
  }
}

TEST(EngineSettings, NamesAndKeysAreUniqueAndKeysCarryTheUnit) {
  std::set<std::string_view> names, keys;
  for (const EngineSetting& s : EngineSettings()) {
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_TRUE(keys.insert(s.key).second) << s.key;
    EXPECT_EQ(s.key, s.is_duration() ? std::string(s.name) + "_ms" : std::string(s.name));
    EXPECT_LE(s.min, s.max) << s.name;
    EXPECT_FALSE(s.doc.empty()) << s.name;
    EXPECT_EQ(s.doc.find('\n'), std::string_view::npos) << s.name << ": the doc is one line";
    EXPECT_EQ(FindEngineSettingByName(s.name), &s);
    EXPECT_EQ(FindEngineSettingByKey(s.key), &s);
  }
  EXPECT_EQ(FindEngineSettingByName("no_such_setting"), nullptr);
  EXPECT_EQ(FindEngineSettingByKey("batch_window"), nullptr) << "durations are keyed with _ms";
}

TEST(EngineSettings, DefaultsAndThePermissiveConfigAreWithinEveryRange) {
  const EngineConfig defaults;
  const EngineConfig permissive = PermissiveEngineConfig();
  for (const EngineSetting& s : EngineSettings()) {
    EXPECT_TRUE(s.AdmitsValueIn(defaults)) << Described(s) << " default " << s.Get(defaults);
    EXPECT_TRUE(s.AdmitsValueIn(permissive)) << Described(s);
  }
  EXPECT_TRUE(permissive.Validate().ok()) << permissive.Validate().message();
}

// The table lists every numeric member of EngineConfig: the members it names are 8-byte fields
// laid out back to back from the first to the last, with nothing between them. A number added to
// EngineConfig without a row leaves a gap (or lies outside) and fails here.
TEST(EngineSettings, EveryNumericMemberOfEngineConfigHasARow) {
  EngineConfig c;
  const char* base = reinterpret_cast<const char*>(&c);
  std::vector<std::ptrdiff_t> offsets;
  for (const EngineSetting& s : EngineSettings()) {
    const char* at = s.is_duration() ? reinterpret_cast<const char*>(&(c.*s.duration))
                                     : reinterpret_cast<const char*>(&(c.*s.size));
    offsets.push_back(at - base);
  }
  std::sort(offsets.begin(), offsets.end());
  for (std::size_t i = 1; i < offsets.size(); ++i) {
    EXPECT_EQ(offsets[i] - offsets[i - 1], 8) << "a member between two rows has no row";
  }
  // The first row follows `membership`, and the member after the last row is `cluster_keys`.
  const std::ptrdiff_t after_membership = reinterpret_cast<const char*>(&c.membership) - base + sizeof c.membership;
  EXPECT_EQ(offsets.front(), (after_membership + 7) / 8 * 8);
  EXPECT_EQ(offsets.back() + 8, reinterpret_cast<const char*>(&c.cluster_keys) - base);
}

// The engine's own check, row by row: min and max accepted, one below min and one above max
// refused with the setting's name, from the permissive configuration.
TEST(EngineSettings, ValidateAcceptsEachRangeAndRefusesOnePastIt) {
  for (const EngineSetting& s : EngineSettings()) {
    for (std::uint64_t v : {s.min, s.max}) {
      EngineConfig c = PermissiveEngineConfig();
      s.Set(&c, v);
      const Status st = c.Validate();
      EXPECT_TRUE(st.ok()) << Described(s) << " = " << v << ": " << st.message();
    }
    std::vector<std::int64_t> outside = {static_cast<std::int64_t>(s.max) + 1};
    if (s.min > 0) outside.push_back(static_cast<std::int64_t>(s.min) - 1);
    if (s.is_duration()) outside.push_back(-1);  // a negative duration
    for (std::int64_t v : outside) {
      EngineConfig c = PermissiveEngineConfig();
      Write(s, &c, v);
      const Status st = c.Validate();
      EXPECT_FALSE(st.ok()) << Described(s) << " = " << v;
      EXPECT_NE(st.message().find("EngineConfig." + std::string(s.name) + ": must be within"), std::string::npos)
          << st.message();
    }
  }
}

TEST(EngineSettings, DurationsAreComparedExactlyNotInWholeMilliseconds) {
  const EngineSetting& s = *FindEngineSettingByName("heartbeat_interval");
  EngineConfig c = PermissiveEngineConfig();
  c.heartbeat_interval = std::chrono::microseconds(999);  // below the 1ms minimum
  EXPECT_FALSE(s.AdmitsValueIn(c));
  EXPECT_FALSE(c.Validate().ok());
  c.heartbeat_interval = std::chrono::microseconds(1500);
  EXPECT_TRUE(s.AdmitsValueIn(c));
  EXPECT_FALSE(s.IsWholeMilliseconds(c));
  EXPECT_EQ(s.Get(c), 1u);
}

TEST(EngineSettings, CrossFieldRulesStayWithValidate) {
  EngineConfig c = PermissiveEngineConfig();
  c.sync_retransmit = std::chrono::milliseconds(5);
  c.sync_timeout = c.sync_retransmit;
  EXPECT_EQ(c.Validate().message(), "EngineConfig.sync_timeout: must be longer than sync_retransmit");
  c = PermissiveEngineConfig();
  c.heartbeat_interval = std::chrono::milliseconds(5);
  c.suspect_after = c.heartbeat_interval;
  EXPECT_EQ(c.Validate().message(), "EngineConfig.suspect_after: must be longer than heartbeat_interval");
  c.membership = MembershipSource::kTransport;  // the failure detector is off: no rule
  EXPECT_TRUE(c.Validate().ok());
  c = PermissiveEngineConfig();
  c.max_frame_bytes = 256;
  c.max_key_bytes = 1024;
  EXPECT_EQ(c.Validate().message(),
            "EngineConfig.max_frame_bytes: too small for one record of max_key_bytes and max_contact_bytes");
}

}  // namespace
}  // namespace pbxstate
