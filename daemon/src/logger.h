// pbxstated's log: one line per event, to stderr or to a file, below a level threshold.
//
//   2026-11-23T12:34:56.123456Z pbxstated[4242] node 2 warning: lost corosync: ...
//
// Each line is written with one write(2) (lines from one process never interleave) and is not
// buffered (a crash loses nothing already logged).
#pragma once

#include <string>
#include <string_view>

#include "pbxstate/env.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::daemon {

class Logger {
 public:
  Logger() = default;
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Appends to `path` (created 0640 if missing); empty path: stderr.
  Status Open(const std::string& path, LogLevel threshold);
  // Opens the file again (after logrotate moved it; pbxstated does this on SIGHUP). Keeps the old
  // descriptor when the new open fails. No-op for stderr.
  Status Reopen();
  void SetNode(NodeId node) { node_ = node; }
  void Log(LogLevel level, std::string_view message);

 private:
  int fd_ = 2;
  bool owns_fd_ = false;
  std::string path_;
  LogLevel threshold_ = LogLevel::kInfo;
  NodeId node_ = kNoNode;
};

// Level names: LogLevelName and ParseLogLevel (pbxstate/env.h), the engine's one mapping.

}  // namespace pbxstate::daemon
