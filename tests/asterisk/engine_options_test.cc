// res_pbxstate's engine options (asterisk/pbxstate_engine_options.c) as a host of the table of
// engine settings: every setting is an option of pbxstate.conf under its key (case-insensitive),
// min and max are accepted and make an engine the C API creates, one past either is refused with
// the range; the two settings the module fixes are refused as such. Built without Asterisk's
// headers: the options file needs only the C API.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

extern "C" {
#include "pbxstate_engine_options.h"
#include "pbxstate_settings.h"
}

namespace {

std::int64_t ZeroNs(void*) { return 0; }
void NoWakeup(void*, std::int64_t) {}
int NoBroadcast(void*, const std::uint8_t*, std::size_t) { return PBXSTATE_SEND_OK; }
int NoUnicast(void*, pbxstate_node_id, const std::uint8_t*, std::size_t) { return PBXSTATE_SEND_OK; }
std::uint64_t Four(void*) { return 4; }

// pbxstate_engine_create's verdict on `cfg` ("" when it creates an engine).
std::string CreateError(const pbxstate_config& cfg) {
  pbxstate_env env{};
  env.now_ns = ZeroNs;
  env.wall_now_ns = ZeroNs;
  env.schedule_wakeup = NoWakeup;
  env.broadcast = NoBroadcast;
  env.unicast = NoUnicast;
  env.random = Four;
  pbxstate_engine* engine = nullptr;
  char err[256] = "";
  const int rc = pbxstate_engine_create(&cfg, &env, &engine, err, sizeof err);
  pbxstate_engine_destroy(engine);
  return rc == PBXSTATE_OK ? "" : std::string(err);
}

// The permissive configuration with the module's fixed settings, as a node would start from.
pbxstate_config Base() {
  pbxstate_config cfg;
  pbxstate_config_permissive(&cfg);
  cfg.max_key_bytes = PBXSTATE_MAX_KEY_BYTES;
  cfg.max_contact_bytes = PBXSTATE_MAX_CONTACT_BYTES;
  return cfg;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

TEST(AsteriskEngineOptions, EveryRangeIsAcceptedAtBothEndsAndRefusedOnePastEither) {
  for (std::size_t i = 0; i < pbxstate_setting_count(); ++i) {
    const pbxstate_setting* s = pbxstate_setting_at(i);
    if (pbxstate_engine_option_fixed(s->key) != 0) continue;  // the next test
    for (std::uint64_t v : {s->min, s->max}) {
      pbxstate_config cfg = Base();
      char why[200] = "";
      // Option names are case-insensitive in Asterisk's configuration files.
      const std::string name = v == s->min ? std::string(s->key) : Upper(s->key);
      ASSERT_EQ(pbxstate_engine_option_parse(&cfg, name.c_str(), std::to_string(v).c_str(), why, sizeof why),
                PBXSTATE_OPTION_SET)
          << name << " = " << v << ": " << why;
      EXPECT_EQ(pbxstate_config_get(&cfg, i), v) << s->key;
      char check[256] = "";
      const int verdict = pbxstate_engine_options_check(&cfg, check, sizeof check);
      if (std::string(s->key) == "max_frame_bytes" && v == s->min) {
        // The one value of a range the module cannot take: its fixed key and contact sizes need a
        // larger frame. The engine's rule between settings says so, at load.
        EXPECT_EQ(verdict, -1);
        EXPECT_EQ(std::string(check), "EngineConfig.max_frame_bytes: too small for one record of max_key_bytes and max_contact_bytes");
        EXPECT_EQ(CreateError(cfg), check);
        continue;
      }
      EXPECT_EQ(verdict, 0) << s->key << " = " << v << ": " << check;
      EXPECT_EQ(CreateError(cfg), "") << s->key << " = " << v;
    }
    std::vector<std::string> outside = {std::to_string(s->max + 1), s->min > 0 ? std::to_string(s->min - 1) : "-1"};
    for (const std::string& v : outside) {
      pbxstate_config cfg = Base();
      const pbxstate_config before = cfg;
      char why[200] = "";
      EXPECT_EQ(pbxstate_engine_option_parse(&cfg, s->key, v.c_str(), why, sizeof why), PBXSTATE_OPTION_BAD)
          << s->key << " = " << v;
      const std::string expected = std::string("expected ") +
                                   (s->unit == PBXSTATE_UNIT_MS ? "milliseconds" : s->unit == PBXSTATE_UNIT_BYTES ? "bytes" : "a count") +
                                   " from " + std::to_string(s->min) + " to " + std::to_string(s->max);
      EXPECT_EQ(std::string(why), expected);
      EXPECT_EQ(std::memcmp(&cfg, &before, sizeof cfg), 0) << s->key << ": a refused value changes nothing";
    }
  }
}

TEST(AsteriskEngineOptions, TheFixedSettingsAreRefusedAndSetByInit) {
  pbxstate_config cfg;
  pbxstate_engine_options_init(&cfg);
  EXPECT_EQ(cfg.max_key_bytes, static_cast<std::uint64_t>(PBXSTATE_MAX_KEY_BYTES));
  EXPECT_EQ(cfg.max_contact_bytes, static_cast<std::uint64_t>(PBXSTATE_MAX_CONTACT_BYTES));
  for (const char* key : {"max_key_bytes", "max_contact_bytes"}) {
    char why[200] = "";
    EXPECT_EQ(pbxstate_engine_option_parse(&cfg, key, "100", why, sizeof why), PBXSTATE_OPTION_BAD);
    EXPECT_NE(std::string(why).find("fixed by res_pbxstate"), std::string::npos) << why;
  }
}

TEST(AsteriskEngineOptions, ModuleDefaultsOtherOptionsAndComparison) {
  pbxstate_config a, b;
  pbxstate_engine_options_init(&a);
  EXPECT_EQ(a.membership, PBXSTATE_MEMBERSHIP_TRANSPORT);
  EXPECT_EQ(a.batch_window_ms, 20u);
  EXPECT_EQ(a.anti_entropy_interval_ms, 5000u);
  a.node_id = 1;
  a.incarnation = 1;
  EXPECT_EQ(CreateError(a), "") << "the module's defaults make an engine";
  char why[200] = "";
  EXPECT_EQ(pbxstate_engine_option_parse(&a, "group", "x", why, sizeof why), PBXSTATE_OPTION_NOT_ENGINE);
  EXPECT_EQ(pbxstate_engine_option_parse(&a, "batch_window", "5", why, sizeof why), PBXSTATE_OPTION_NOT_ENGINE)
      << "durations are keyed with _ms";
  for (const char* bad : {"", " 5", "5ms", "+5", "0x10", "99999999999999999999999"}) {
    EXPECT_EQ(pbxstate_engine_option_parse(&a, "batch_window_ms", bad, why, sizeof why), PBXSTATE_OPTION_BAD) << bad;
  }
  pbxstate_engine_options_init(&b);
  EXPECT_FALSE(pbxstate_engine_options_differ(&a, &b));
  ASSERT_EQ(pbxstate_engine_option_parse(&b, "max_sync_pulls", "9", why, sizeof why), PBXSTATE_OPTION_SET);
  EXPECT_TRUE(pbxstate_engine_options_differ(&a, &b));
  pbxstate_config target;
  pbxstate_config_init(&target);
  target.node_id = 7;
  pbxstate_engine_options_apply(&b, &target);
  EXPECT_EQ(target.max_sync_pulls, 9u);
  EXPECT_EQ(target.node_id, 7u) << "apply leaves identity alone";
  EXPECT_FALSE(pbxstate_engine_options_differ(&target, &b));
}

// pbxstate.conf.sample documents the site map under the definition's key with the definition's
// doc (pbxstate/site_map.h, PBXSTATE_SITE_MAP_*): the comment lines above `;node_sites = ...`,
// joined, hold it; and the sample's value is a map the engine reads.
TEST(AsteriskEngineOptions, TheSampleDocumentsTheSiteMap) {
  std::ifstream in(PBXSTATE_SOURCE_DIR "/asterisk/pbxstate.conf.sample");
  ASSERT_TRUE(in) << "asterisk/pbxstate.conf.sample";
  std::string line, comment, value;
  bool found = false;
  while (std::getline(in, line)) {
    const std::string option = std::string(";") + PBXSTATE_SITE_MAP_KEY + " = ";
    if (line.rfind(option, 0) == 0) {
      value = line.substr(option.size());
      found = true;
      break;
    }
    if (line.rfind("; ", 0) == 0) {
      comment += (comment.empty() ? "" : " ") + line.substr(2);
    } else {
      comment.clear();
    }
  }
  ASSERT_TRUE(found) << "no ;" << PBXSTATE_SITE_MAP_KEY << " = line";
  EXPECT_NE(comment.find(PBXSTATE_SITE_MAP_DOC), std::string::npos) << comment;
  char why[256];
  EXPECT_EQ(pbxstate_site_map_check(value.c_str(), why, sizeof why), PBXSTATE_OK) << why;
}

}  // namespace
