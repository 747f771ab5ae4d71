// pbxstated's configuration as a host of the table of engine settings (engine_settings.h): every
// row is a key of the engine section (name_ms for durations, whole milliseconds); min and max of
// every range are accepted, one past either is refused naming the file, line and key. The shipped
// example and daemon/README.md list exactly the table's keys (checked here, so they cannot drift).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "daemon_config.h"
#include "pbxstate/config.h"

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

// The engine keys of a YAML file's `engine:` section, in order.
std::vector<std::string> EngineKeysOf(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> keys;
  std::string line;
  bool in_engine = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ' && line[0] != '#') in_engine = line.rfind("engine:", 0) == 0;
    if (in_engine && line.rfind("  ", 0) == 0 && line.find(':') != std::string::npos && line[2] != '#') {
      keys.push_back(line.substr(2, line.find(':') - 2));
    }
  }
  return keys;
}

TEST(DaemonConfigSettings, TheExampleListsEveryEngineKeyWithTheDaemonsDefault) {
  const std::string path = std::string(PBXSTATE_SOURCE_DIR) + "/daemon/pbxstated.example.yaml";
  std::vector<std::string> expected = {"label"};
  for (const EngineSetting& s : EngineSettings()) expected.emplace_back(s.key);
  EXPECT_EQ(EngineKeysOf(path), expected) << path << ": the engine section must list the table's keys in its order";
  // And the values there are pbxstated's defaults.
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  DaemonConfig example;
  ASSERT_TRUE(ParseDaemonConfig(text.str(), path, &example).ok());
  const DaemonConfig defaults = DefaultDaemonConfig();
  for (const EngineSetting& s : EngineSettings()) EXPECT_EQ(s.Get(example.engine), s.Get(defaults.engine)) << s.key;
}

// daemon/README.md's table of engine keys, between its markers, is exactly this.
std::string ReadmeTable() {
  const DaemonConfig defaults = DefaultDaemonConfig();
  std::string t = "| key | default | range | what |\n|---|---|---|---|\n";
  for (const EngineSetting& s : EngineSettings()) {
    t += "| `" + std::string(s.key) + "` | " + std::to_string(s.Get(defaults.engine)) + " | " + std::to_string(s.min) +
         ".." + std::to_string(s.max) + " | " + std::string(s.doc) + " |\n";
  }
  return t;
}

TEST(DaemonConfigSettings, TheReadmeTableIsTheTable) {
  const std::string path = std::string(PBXSTATE_SOURCE_DIR) + "/daemon/README.md";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string begin = "<!-- engine-settings:begin (generated; tests/corosync/daemon_config_settings_test.cc) -->\n";
  const std::string end = "<!-- engine-settings:end -->";
  const std::string s = text.str();
  const auto b = s.find(begin);
  const auto e = s.find(end);
  ASSERT_NE(b, std::string::npos) << path << ": no line " << begin;
  ASSERT_NE(e, std::string::npos) << path << ": no line " << end;
  EXPECT_EQ(s.substr(b + begin.size(), e - b - begin.size()), ReadmeTable())
      << path << ": the engine table differs from engine_settings.h; put this between the markers:\n"
      << ReadmeTable();
}

}  // namespace
}  // namespace pbxstate::daemon
