#include "pbxstate/emu/idle_polling.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace pbxstate::emu {

namespace {

// A cpuidle counter file holds one decimal number and a newline.
constexpr std::size_t kMaxCounterFile = 32;

bool Exists(const std::string& path) {
  struct stat sb{};
  return stat(path.c_str(), &sb) == 0;
}

Status ReadCounter(const std::string& path, std::uint64_t* value) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FailedPrecondition(path + ": " + std::strerror(errno));
  char buf[kMaxCounterFile];
  const ssize_t n = read(fd, buf, sizeof buf);
  const int err = errno;
  close(fd);
  if (n < 0) return Status::FailedPrecondition(path + ": " + std::strerror(err));
  std::string_view text(buf, static_cast<std::size_t>(n));
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Status::InvalidArgument(path + ":1: not a number");
  }
  return Status::Ok();
}

}  // namespace

Status ReadIdleEntries(const std::string& root, IdleEntries* out) {
  *out = IdleEntries{};
  for (int cpu = 0; cpu < kMaxIdleCpus; ++cpu) {
    const std::string dir = root + "/cpu" + std::to_string(cpu);
    if (!Exists(dir)) break;
    if (!Exists(dir + "/cpuidle")) continue;
    ++out->cpus;
    for (int state = 0; state < kMaxIdleStates; ++state) {
      const std::string sdir = dir + "/cpuidle/state" + std::to_string(state);
      if (!Exists(sdir)) break;
      std::uint64_t latency = 0;
      std::uint64_t usage = 0;
      if (Status st = ReadCounter(sdir + "/latency", &latency); !st.ok()) return st;
      if (Status st = ReadCounter(sdir + "/usage", &usage); !st.ok()) return st;
      (latency == 0 ? out->polls : out->halts) += usage;
    }
  }
  return Status::Ok();
}

IdleEntries IdleEntriesSince(const IdleEntries& earlier, const IdleEntries& later) {
  const auto since = [](std::uint64_t a, std::uint64_t b) { return b > a ? b - a : 0; };
  return IdleEntries{since(earlier.polls, later.polls), since(earlier.halts, later.halts), later.cpus};
}

IdlePolling::~IdlePolling() { Release(); }

Status IdlePolling::Hold(const std::string& file) {
  if (held()) return Status::FailedPrecondition(file + ": held already");
  const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::FailedPrecondition(file + ": " + std::strerror(errno));
  // The request is a binary 32-bit value in microseconds (the kernel also takes hex text).
  const std::int32_t no_latency = 0;
  const ssize_t n = write(fd, &no_latency, sizeof no_latency);
  const int err = errno;
  if (n != static_cast<ssize_t>(sizeof no_latency)) {
    close(fd);
    return Status::FailedPrecondition(file + ": the latency request was not written: " +
                                      (n < 0 ? std::string(std::strerror(err)) : "short write"));
  }
  fd_ = fd;
  return Status::Ok();
}

void IdlePolling::Release() {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
}

}  // namespace pbxstate::emu
