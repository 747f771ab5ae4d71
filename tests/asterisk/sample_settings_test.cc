// asterisk/pbxstate.conf.sample against the options res_pbxstate takes from the table of engine
// settings (asterisk/pbxstate_engine_options.c): the sample is what pbxstate.conf(5) is generated
// from (packaging/man/settings.py) and what the Debian package installs as pbxstate.conf, so
// every engine option the module accepts is in it with the module's own default.
//
// The options the sample explains in its own words (`;key = value` lines above the generated
// block) must show the module's default; every other engine option is a line of the generated
// block (tests/common/doc_block.h: checked here; PBXSTATE_UPDATE_DOCS=1 rewrites it), with its
// range and doc from the table, and the fixed ones are named there with their fixed value.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "doc_block.h"

extern "C" {
#include "pbxstate_engine_options.h"
}

namespace {

const char kBegin[] = "; engine-settings:begin (generated; tests/asterisk/sample_settings_test.cc)";
const char kEnd[] = "; engine-settings:end";

std::string SamplePath() { return PBXSTATE_SOURCE_DIR "/asterisk/pbxstate.conf.sample"; }

// The `;key = value` lines of the sample outside the generated block: key -> value.
std::map<std::string, std::string> HandWrittenOptions() {
  std::ifstream in(SamplePath());
  std::map<std::string, std::string> options;
  const std::regex option(R"(^;(\w+)\s*=\s*(.*?)\s*$)");
  std::string line;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (line == kBegin) in_block = true;
    if (line == kEnd) in_block = false;
    std::smatch m;
    if (!in_block && std::regex_match(line, m, option)) options[m[1]] = m[2];
  }
  return options;
}

// The block: every engine option the sample does not explain above it, as `; MIN..MAX: doc` and
// `;key = module default`, then the fixed options with their values.
std::string SampleBlock(const std::map<std::string, std::string>& hand_written) {
  pbxstate_config defaults;
  pbxstate_engine_options_init(&defaults);
  std::string t, fixed;
  for (std::size_t i = 0; i < pbxstate_setting_count(); ++i) {
    const pbxstate_setting* s = pbxstate_setting_at(i);
    if (const std::uint64_t value = pbxstate_engine_option_fixed(s->key); value != 0) {
      fixed += std::string(fixed.empty() ? "" : ", ") + s->key + " (" + std::to_string(value) + ")";
      continue;
    }
    if (hand_written.count(s->key) != 0) continue;
    t += "; " + std::to_string(s->min) + ".." + std::to_string(s->max) + ": " + s->doc + "\n";
    t += ";" + std::string(s->key) + " = " + std::to_string(pbxstate_config_get(&defaults, i)) + "\n";
  }
  return t + "; Fixed by the module, which sizes its buffers for them (setting one is an error): " + fixed + ".\n";
}

TEST(AsteriskSample, EveryEngineOptionIsInTheSampleWithTheModulesDefault) {
  const std::map<std::string, std::string> hand_written = HandWrittenOptions();
  ASSERT_FALSE(hand_written.empty()) << SamplePath();
  EXPECT_TRUE(pbxstate::testing::DocBlockIs(SamplePath(), kBegin, kEnd, SampleBlock(hand_written)));
}

TEST(AsteriskSample, TheEngineOptionsItExplainsShowTheModulesDefault) {
  pbxstate_config defaults;
  pbxstate_engine_options_init(&defaults);
  int engine_options = 0;
  for (const auto& [key, value] : HandWrittenOptions()) {
    for (std::size_t i = 0; i < pbxstate_setting_count(); ++i) {
      if (key != pbxstate_setting_at(i)->key) continue;
      ++engine_options;
      EXPECT_EQ(pbxstate_engine_option_fixed(key.c_str()), 0u) << key << " is fixed by the module: not an option";
      EXPECT_EQ(value, std::to_string(pbxstate_config_get(&defaults, i)))
          << ";" << key << " = " << value << " in the sample is not the module's default";
    }
  }
  EXPECT_GT(engine_options, 0) << "the sample explains no engine option in its own words";
}

}  // namespace
