// pbxstated's configuration file (YAML), and its loading with errors that name the file, the line
// and the field. daemon/README.md lists every key with its default; pbxstated.example.yaml is a
// complete, commented example.
//
// Rules: unknown keys are errors (a typo must not silently keep a default); every duration key
// ends in _ms and is an integer; every count is a non-negative integer within its bound. The
// engine's own checks (EngineConfig::Validate) run on the result too, and their message is
// reported against the line of the offending key when the file sets it.
#pragma once

#include <cstdint>
#include <string>

#include "pbxstate/config.h"
#include "pbxstate/corosync/cpg_env.h"
#include "pbxstate/env.h"
#include "pbxstate/status.h"

namespace pbxstate::daemon {

struct DaemonConfig {
  std::string control_socket;                    // control.socket (required)
  std::string log_file;                          // log.file; empty: stderr
  LogLevel log_level = LogLevel::kInfo;          // log.level
  corosync::CpgEnvConfig cpg;                    // corosync.* and random_seed
  Duration connect_timeout = std::chrono::seconds(30);  // corosync.connect_timeout_ms: start-up wait for corosync
  Duration flush_timeout = std::chrono::milliseconds(2000);  // shutdown.flush_timeout_ms
  // The engine template: node_id and incarnation are filled in at start-up (corosync node id, wall
  // clock in microseconds); membership is always kTransport.
  EngineConfig engine;
  // auth.key_file / auth.previous_key_file (empty: not set). Their keys are read at load time
  // (LoadClusterKey) into engine.cluster_keys, key_file's first: frames are sent under it and
  // accepted under both (rotation, engine/README.md "Authentication").
  std::string key_file;
  std::string previous_key_file;
};

// The defaults pbxstated uses for keys a file does not set (CPG-appropriate engine settings:
// transport membership, anti-entropy every 5 s as a safety net for queue overflows).
DaemonConfig DefaultDaemonConfig();

// Parses YAML text; `file_name` is used in messages only. The cluster key files that auth.* names
// are read here too (the only files parsing touches), so a refused key file is a configuration
// error like any other: "pbxstated.yaml:9: auth.key_file: /etc/pbxstate.key: mode 0644 lets ...". Errors look like
//   "pbxstated.yaml:7: engine.batch_window_ms: must be a non-negative integer (got 'soon')".
Status ParseDaemonConfig(const std::string& text, const std::string& file_name, DaemonConfig* out);
// Reads and parses a file.
Status LoadDaemonConfig(const std::string& path, DaemonConfig* out);

}  // namespace pbxstate::daemon
