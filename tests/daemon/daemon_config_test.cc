#include "daemon_config.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "pbxstate/config.h"

namespace pbxstate::daemon {
namespace {

std::string ErrorOf(const std::string& yaml) {
  DaemonConfig c;
  Status s = ParseDaemonConfig(yaml, "t.yaml", &c);
  EXPECT_FALSE(s.ok()) << yaml;
  return s.message();
}

TEST(DaemonConfig, MinimalFileGetsCpgDefaults) {
  DaemonConfig c;
  ASSERT_TRUE(ParseDaemonConfig("control:\n  socket: /run/p.sock\n", "t.yaml", &c).ok());
  EXPECT_EQ(c.control_socket, "/run/p.sock");
  EXPECT_EQ(c.engine.membership, MembershipSource::kTransport);
  EXPECT_EQ(c.cpg.transport.group, "pbxstate");
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
}

TEST(DaemonConfig, EveryKeyIsRead) {
  DaemonConfig c;
  const std::string yaml =
      "control: {socket: /s}\n"
      "log: {file: /tmp/x.log, level: debug}\n"
      "corosync: {group: g1, max_queue_frames: 8, max_queue_bytes: 2000000, max_message_bytes: 70000,\n"
      "           retry_interval_ms: 3, reconnect_min_ms: 50, reconnect_max_ms: 900, connect_timeout_ms: 10}\n"
      "shutdown: {flush_timeout_ms: 100}\n"
      "random_seed: 42\n"
      "engine: {label: pbx1, batch_window_ms: 5, departure_grace_ms: 1500, anti_entropy_interval_ms: 0,\n"
      "         max_frame_bytes: 4096}\n";
  Status s = ParseDaemonConfig(yaml, "t.yaml", &c);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.log_file, "/tmp/x.log");
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.cpg.transport.group, "g1");
  EXPECT_EQ(c.cpg.transport.max_queue_frames, 8u);
  EXPECT_EQ(c.cpg.transport.retry_interval, std::chrono::milliseconds(3));
  EXPECT_EQ(c.cpg.transport.reconnect_max, std::chrono::milliseconds(900));
  EXPECT_EQ(c.connect_timeout, std::chrono::milliseconds(10));
  EXPECT_EQ(c.flush_timeout, std::chrono::milliseconds(100));
  EXPECT_EQ(c.cpg.random_seed, 42u);
  EXPECT_EQ(c.engine.label, "pbx1");
  EXPECT_EQ(c.engine.batch_window, std::chrono::milliseconds(5));
  EXPECT_EQ(c.engine.departure_grace, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.engine.anti_entropy_interval, std::chrono::milliseconds(0));
  EXPECT_EQ(c.engine.max_frame_bytes, 4096u);
}

TEST(DaemonConfig, ErrorsNameFileLineAndField) {
  struct Case {
    std::string yaml;
    std::string want;
  };
  const Case cases[] = {
      {"control: {socket: /s}\nengine:\n  batch_window_ms: soon\n", "t.yaml:3: engine.batch_window_ms: must be an integer"},
      {"control: {socket: /s}\nengine:\n  batch_windw_ms: 5\n", "t.yaml:3: engine.batch_windw_ms: unknown key"},
      {"control: {socket: /s}\ncorosyn:\n  group: x\n", "t.yaml:2: corosyn: unknown section"},
      {"log: {level: info}\n", "t.yaml:-: control.socket: required"},
      {"control: {socket: /s}\nlog:\n  level: loud\n", "t.yaml:3: log.level: must be debug, info, warning or error"},
      {"control: {socket: /s}\ncorosync:\n  max_queue_frames: 0\n", "t.yaml:3: corosync.max_queue_frames: must be within [1,"},
      {"control: {socket: /s}\ncorosync:\n  reconnect_min_ms: 500\n  reconnect_max_ms: 100\n",
       "t.yaml:4: corosync.reconnect_max_ms: must not be shorter"},
      {"control: {socket: /s}\nengine:\n  sync_retransmit_ms: 500\n  sync_timeout_ms: 100\n",
       "t.yaml:4: engine.sync_timeout_ms: must be longer than sync_retransmit"},
      {"control: {socket: /s}\ncorosync: {max_message_bytes: 2000}\nengine:\n  max_frame_bytes: 1999\n",
       "t.yaml:4: engine.max_frame_bytes: must leave 8 bytes"},
      {"control: {socket: /s}\nengine: [1, 2]\n", "t.yaml:2: engine: must be a mapping"},
      {"control: {socket: /s\n", "t.yaml:"},
      {"- just a list\n", "t.yaml:1: (top level)"},
  };
  for (const Case& c : cases) {
    const std::string got = ErrorOf(c.yaml);
    EXPECT_EQ(got.rfind(c.want, 0), 0u) << "yaml:\n" << c.yaml << "got: " << got << "\nwant prefix: " << c.want;
  }
}

// engine.node_sites: the site map's text form (pbxstate/site_map.h), read into the engine's map.
TEST(DaemonConfig, TheSiteMapIsRead) {
  DaemonConfig c;
  Status s = ParseDaemonConfig("control: {socket: /s}\nengine:\n  relays_per_site: 1\n  node_sites: 1-3:0, 4-6:1, 9:7\n",
                               "t.yaml", &c);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.engine.node_sites, (std::map<NodeId, std::uint32_t>{{1, 0}, {2, 0}, {3, 0}, {4, 1}, {5, 1}, {6, 1}, {9, 7}}));
  // Quoted, empty and null: the same text, no map.
  ASSERT_TRUE(ParseDaemonConfig("control: {socket: /s}\nengine: {node_sites: \"2-3:5\"}\n", "t.yaml", &c).ok());
  EXPECT_EQ(c.engine.node_sites, (std::map<NodeId, std::uint32_t>{{2, 5}, {3, 5}}));
  for (const char* none : {"\"\"", ""}) {
    ASSERT_TRUE(ParseDaemonConfig("control: {socket: /s}\nengine:\n  node_sites: " + std::string(none) + "\n", "t.yaml", &c).ok());
    EXPECT_TRUE(c.engine.node_sites.empty()) << none;
  }
  // A map whose first node is not 1, with relays: checked as one of its own nodes (start-up
  // checks the corosync node id).
  ASSERT_TRUE(ParseDaemonConfig("control: {socket: /s}\nengine: {relays_per_site: 1, node_sites: \"7-8:0\"}\n", "t.yaml", &c).ok());
}

TEST(DaemonConfig, ABadSiteMapIsRefusedNamingFileLineFieldAndItem) {
  EXPECT_EQ(ErrorOf("control: {socket: /s}\nengine:\n  batch_window_ms: 5\n  node_sites: 1-3:0, 4-x:1\n"),
            "t.yaml:4: engine.node_sites: item 2 ('4-x:1'): a range's last node id is a number from 1 to 4294967294");
  EXPECT_EQ(ErrorOf("control: {socket: /s}\nengine:\n  node_sites: 1-3:0, 3:1\n"),
            "t.yaml:3: engine.node_sites: item 2 ('3:1'): node 3 is given a site twice");
  EXPECT_EQ(ErrorOf("control: {socket: /s}\nengine:\n  node_sites: {1: 0}\n"),
            "t.yaml:3: engine.node_sites: must be a string such as \"1-5:0, 6-10:1\" (got a mapping)");
  // The engine's own rule about the map, at the map's line.
  std::string many = "1-1025:0";
  EXPECT_EQ(ErrorOf("control: {socket: /s}\nengine:\n  node_sites: " + many + "\n").rfind(
                "t.yaml:3: engine.node_sites: lists 1025 nodes; at most max_nodes (1024)", 0),
            0u);
}

TEST(DaemonConfig, MissingFileIsNamed) {
  DaemonConfig c;
  Status s = LoadDaemonConfig("/nonexistent/pbxstated.yaml", &c);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/pbxstated.yaml"), std::string::npos);
}

// A scratch directory with key files of chosen contents and modes; removed at the end.
class KeyFiles {
 public:
  KeyFiles() {
    char tmpl[] = "/tmp/pbxstated-keys-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~KeyFiles() { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& bytes, unsigned mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    ::chmod(path.c_str(), mode);
    return path;
  }

 private:
  std::string dir_;
};

TEST(DaemonConfig, AuthKeysAreLoadedIntoTheEngineConfig) {
  KeyFiles files;
  const std::string a(kClusterKeyBytes, 'a');
  const std::string key = files.Write("a.key", a, 0600);
  const std::string previous = files.Write("b.key", std::string(2 * kClusterKeyBytes, '6') + "\n", 0400);
  DaemonConfig c;
  Status s = ParseDaemonConfig("control: {socket: /s}\nauth:\n  key_file: " + key + "\n  previous_key_file: " +
                                   previous + "\n",
                               "t.yaml", &c);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.key_file, key);
  EXPECT_EQ(c.previous_key_file, previous);
  ASSERT_EQ(c.engine.cluster_keys.size(), 2u);
  EXPECT_EQ(c.engine.cluster_keys[0], a);
  EXPECT_EQ(c.engine.cluster_keys[1], std::string(kClusterKeyBytes, '\x66'));  // hex "66" * 32

  DaemonConfig none;
  ASSERT_TRUE(ParseDaemonConfig("control: {socket: /s}\nauth: {key_file: \"\"}\n", "t.yaml", &none).ok());
  EXPECT_TRUE(none.engine.cluster_keys.empty());
}

TEST(DaemonConfig, RefusedKeyFilesAreConfigErrorsNamingFileAndReason) {
  KeyFiles files;
  const std::string good = files.Write("good.key", std::string(kClusterKeyBytes, 'k'), 0600);
  const std::string readable = files.Write("readable.key", std::string(kClusterKeyBytes, 'k'), 0644);
  const std::string short_key = files.Write("short.key", std::string(31, 'k'), 0600);
  const std::string missing = good + ".missing";
  struct Case {
    std::string yaml;
    std::string want_prefix;
    std::string want_also;
  };
  const Case cases[] = {
      {"control: {socket: /s}\nauth:\n  key_file: " + readable + "\n",
       "t.yaml:3: auth.key_file: " + readable + ": mode 0644 lets group or others read", "chmod 600"},
      {"control: {socket: /s}\nauth:\n  key_file: " + short_key + "\n",
       "t.yaml:3: auth.key_file: " + short_key + ": 31 bytes; expected a cluster key of 32", ""},
      {"control: {socket: /s}\nauth:\n  key_file: " + missing + "\n",
       "t.yaml:3: auth.key_file: " + missing + ": cannot open the cluster key file: No such file", ""},
      {"control: {socket: /s}\nauth:\n  key_file: " + good + "\n  previous_key_file: " + readable + "\n",
       "t.yaml:4: auth.previous_key_file: " + readable + ": mode 0644", ""},
      {"control: {socket: /s}\nauth:\n  key_file: " + good + "\n  previous_key_file: " + good + "\n",
       "t.yaml:4: auth.previous_key_file: key 1 is the same as key 0", ""},
      {"control: {socket: /s}\nauth:\n  previous_key_file: " + good + "\n",
       "t.yaml:3: auth.previous_key_file: needs auth.key_file", ""},
      {"control: {socket: /s}\nauth:\n  keyfile: " + good + "\n", "t.yaml:3: auth.keyfile: unknown key", ""},
  };
  for (const Case& c : cases) {
    const std::string got = ErrorOf(c.yaml);
    EXPECT_EQ(got.rfind(c.want_prefix, 0), 0u) << "yaml:\n" << c.yaml << "got: " << got << "\nwant prefix: " << c.want_prefix;
    EXPECT_NE(got.find(c.want_also), std::string::npos) << got;
  }
}

}  // namespace
}  // namespace pbxstate::daemon
