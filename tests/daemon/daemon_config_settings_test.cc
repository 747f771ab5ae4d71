// pbxstated's configuration as a host of the table of engine settings (engine_settings.h): every
// row is a key of the engine section (name_ms for durations, whole milliseconds); min and max of
// every range are accepted, one past either is refused naming the file, line and key. The engine
// section of the shipped example and daemon/README.md's table are generated from the rows and
// the site map's key and doc (pbxstate/site_map.h)
// (tests/common/doc_block.h: checked here; PBXSTATE_UPDATE_DOCS=1 rewrites them).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon_config.h"
#include "doc_block.h"
#include "pbxstate/config.h"
#include "pbxstate/site_map.h"

namespace pbxstate::daemon {
namespace {

// A file setting every engine key to its permissive value (any one may then take any value of its
// range), `key` to `value`; CPG messages large enough for the largest frame.
std::string FileWith(const std::string& key, const std::string& value) {
  const EngineConfig permissive = PermissiveEngineConfig();
  std::string t = "control: {socket: /s}\ncorosync: {max_message_bytes: 1048584}\nengine:\n";
  for (const EngineSetting& s : EngineSettings()) {
    t += "  " + std::string(s.key) + ": " + (s.key == key ? value : std::to_string(s.Get(permissive))) + "\n";
  }
  return t;
}

int LineOf(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.rfind("  " + key + ":", 0) == 0) return n;
  }
  return 0;
}

TEST(DaemonConfigSettings, EveryRangeIsAcceptedAtBothEndsAndRefusedOnePastEither) {
  for (const EngineSetting& s : EngineSettings()) {
    const std::string key(s.key);
    for (std::uint64_t v : {s.min, s.max}) {
      DaemonConfig c;
      const Status st = ParseDaemonConfig(FileWith(key, std::to_string(v)), "t.yaml", &c);
      ASSERT_TRUE(st.ok()) << key << " = " << v << ": " << st.message();
      EXPECT_EQ(s.Get(c.engine), v) << key;
    }
    std::vector<std::string> outside = {std::to_string(s.max + 1), s.min > 0 ? std::to_string(s.min - 1) : "-1"};
    for (const std::string& v : outside) {
      const std::string text = FileWith(key, v);
      DaemonConfig c;
      const Status st = ParseDaemonConfig(text, "t.yaml", &c);
      EXPECT_FALSE(st.ok()) << key << " = " << v;
      const std::string where = "t.yaml:" + std::to_string(LineOf(text, key)) + ": engine." + key + ": must be";
      EXPECT_EQ(st.message().rfind(where, 0), 0u) << st.message();
    }
  }
}

// The engine section of pbxstated.example.yaml: every row under its key with pbxstated's default
// and the row's range and doc.
std::string ExampleBlock() {
  const DaemonConfig defaults = DefaultDaemonConfig();
  std::string t;
  for (const EngineSetting& s : EngineSettings()) {
    t += "  " + std::string(s.key) + ": " + std::to_string(s.Get(defaults.engine)) + "  # " + std::to_string(s.min) +
         ".." + std::to_string(s.max) + ": " + std::string(s.doc) + "\n";
  }
  // The one setting that is not a number (pbxstate/site_map.h).
  t += "  " + std::string(kSiteMapKey) + ": \"" + SiteMapText(defaults.engine.node_sites) + "\"  # " +
       std::string(kSiteMapDoc) + "\n";
  return t;
}

TEST(DaemonConfigSettings, TheExampleListsEveryEngineKeyWithTheDaemonsDefault) {
  const std::string path = std::string(PBXSTATE_SOURCE_DIR) + "/daemon/pbxstated.example.yaml";
  EXPECT_TRUE(testing::DocBlockIs(path, "  # engine-settings:begin (generated; tests/daemon/daemon_config_settings_test.cc)",
                                  "  # engine-settings:end", ExampleBlock()));
  // And it is a valid file whose engine section is pbxstated's defaults.
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  DaemonConfig example;
  const Status st = ParseDaemonConfig(text.str(), path, &example);
  ASSERT_TRUE(st.ok()) << st.message();
  const DaemonConfig defaults = DefaultDaemonConfig();
  for (const EngineSetting& s : EngineSettings()) EXPECT_EQ(s.Get(example.engine), s.Get(defaults.engine)) << s.key;
  EXPECT_EQ(example.engine.node_sites, defaults.engine.node_sites);
}

// daemon/README.md's table of engine keys.
std::string ReadmeTable() {
  const DaemonConfig defaults = DefaultDaemonConfig();
  std::string t = "| key | default | range | what |\n|---|---|---|---|\n";
  for (const EngineSetting& s : EngineSettings()) {
    t += "| `" + std::string(s.key) + "` | " + std::to_string(s.Get(defaults.engine)) + " | " + std::to_string(s.min) +
         ".." + std::to_string(s.max) + " | " + std::string(s.doc) + " |\n";
  }
  t += "| `" + std::string(kSiteMapKey) + "` | \"" + SiteMapText(defaults.engine.node_sites) + "\" | text | " +
       std::string(kSiteMapDoc) + " |\n";
  return t;
}

TEST(DaemonConfigSettings, TheReadmeTableIsTheTable) {
  EXPECT_TRUE(testing::DocBlockIs(std::string(PBXSTATE_SOURCE_DIR) + "/daemon/README.md",
                                  "<!-- engine-settings:begin (generated; tests/daemon/daemon_config_settings_test.cc) -->",
                                  "<!-- engine-settings:end -->", ReadmeTable()));
}

}  // namespace
}  // namespace pbxstate::daemon
