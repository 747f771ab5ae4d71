#include "logger.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pbxstate::daemon {

Logger::~Logger() {
  if (owns_fd_) ::close(fd_);
}

Status Logger::Open(const std::string& path, LogLevel threshold) {
  threshold_ = threshold;
  if (path.empty()) return Status::Ok();
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return Status::InvalidArgument("log file " + path + ": " + std::strerror(errno));
  if (owns_fd_) ::close(fd_);
  fd_ = fd;
  owns_fd_ = true;
  path_ = path;
  return Status::Ok();
}

Status Logger::Reopen() {
  if (path_.empty()) return Status::Ok();
  return Open(std::string(path_), threshold_);
}

void Logger::Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < static_cast<int>(threshold_)) return;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ts.tv_nsec / 1000);
  std::string line;
  line.reserve(message.size() + 96);
  line += stamp;
  line += " pbxstated[" + std::to_string(::getpid()) + "]";
  if (node_ != kNoNode) line += " node " + std::to_string(node_);
  line += " ";
  line += LogLevelName(level);
  line += ": ";
  line += message;
  line += "\n";
  // One write per line; a short write to a full disk or closed stderr is not worth retrying.
  const ssize_t n = ::write(fd_, line.data(), line.size());
  (void)n;
}

}  // namespace pbxstate::daemon
