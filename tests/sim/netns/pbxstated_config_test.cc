// The netns backend's pbxstated configuration writer as a host of the table of engine settings
// (engine_settings.h): every setting is written under pbxstated's key, min and max of every range
// go through, one past either is refused naming the field; and, where pbxstated is built, what
// the writer writes is what the daemon reads back, setting for setting.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pbxstate/config.h"
#include "pbxstate/netns/pbxstated_config.h"
#ifdef PBXSTATE_TEST_WITH_DAEMON
#include "daemon_config.h"
#endif

namespace pbxstate::netns {
namespace {

PbxstatedSpec Spec(const EngineConfig& engine) {
  PbxstatedSpec spec;
  spec.control_socket = "/run/n1.sock";
  spec.group = "pbxstate";
  spec.label = "node1";
  spec.engine = engine;
  return spec;
}

// The written file parsed by pbxstated's own reader gives back every setting.
void ExpectTheDaemonReadsItBack(const std::string& text, const EngineConfig& written) {
#ifdef PBXSTATE_TEST_WITH_DAEMON
  daemon::DaemonConfig read;
  const Status st = daemon::ParseDaemonConfig(text, "pbxstated.yaml", &read);
  ASSERT_TRUE(st.ok()) << st.message() << "\n" << text;
  for (const EngineSetting& s : EngineSettings()) EXPECT_EQ(s.Get(read.engine), s.Get(written)) << s.key;
#else
  (void)text;
  (void)written;
#endif
}

TEST(PbxstatedConfigSettings, EveryRangeIsWrittenAtBothEndsAndRefusedOnePastEither) {
  for (const EngineSetting& s : EngineSettings()) {
    for (std::uint64_t v : {s.min, s.max}) {
      EngineConfig e = PermissiveEngineConfig();
      s.Set(&e, v);
      std::string text;
      const Status st = PbxstatedConfig(Spec(e), &text);
      ASSERT_TRUE(st.ok()) << s.name << " = " << v << ": " << st.message();
      EXPECT_NE(text.find("\n  " + std::string(s.key) + ": " + std::to_string(v) + "\n"), std::string::npos) << text;
      ExpectTheDaemonReadsItBack(text, e);
    }
    std::vector<std::int64_t> outside = {static_cast<std::int64_t>(s.max) + 1};
    if (s.min > 0) outside.push_back(static_cast<std::int64_t>(s.min) - 1);
    for (std::int64_t v : outside) {
      EngineConfig e = PermissiveEngineConfig();
      if (s.is_duration()) {
        e.*s.duration = std::chrono::milliseconds(v);
      } else {
        e.*s.size = static_cast<std::size_t>(v);
      }
      std::string text;
      const Status st = PbxstatedConfig(Spec(e), &text);
      EXPECT_FALSE(st.ok()) << s.name << " = " << v;
      EXPECT_EQ(st.message().rfind("engine." + std::string(s.name) + ": must be within", 0), 0u) << st.message();
    }
  }
}

TEST(PbxstatedConfigSettings, AFractionOfAMillisecondIsRefused) {
  EngineConfig e;
  e.batch_window = std::chrono::microseconds(2500);
  std::string text;
  const Status st = PbxstatedConfig(Spec(e), &text);
  EXPECT_EQ(st.message(), "engine.batch_window: pbxstated takes whole milliseconds; this value has a fraction of one");
}

// The scenario's sites reach pbxstated: the site map is written in its text form and read back.
TEST(PbxstatedConfigSettings, TheSiteMapIsWrittenAndReadBack) {
  EngineConfig e;
  e.relays_per_site = 1;
  e.node_sites = {{1, 0}, {2, 0}, {3, 1}, {4, 1}, {5, 2}};
  std::string text;
  ASSERT_TRUE(PbxstatedConfig(Spec(e), &text).ok());
  EXPECT_NE(text.find("\n  node_sites: \"1-2:0,3-4:1,5:2\"\n"), std::string::npos) << text;
#ifdef PBXSTATE_TEST_WITH_DAEMON
  daemon::DaemonConfig read;
  const Status st = daemon::ParseDaemonConfig(text, "pbxstated.yaml", &read);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(read.engine.node_sites, e.node_sites);
  EXPECT_EQ(read.engine.relays_per_site, 1u);
#endif
}

}  // namespace
}  // namespace pbxstate::netns
