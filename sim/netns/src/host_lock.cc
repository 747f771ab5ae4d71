// The host's namespace lock (host_lock.h).
#include "pbxstate/netns/host_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "pbxstate/netns/interrupt.h"

namespace pbxstate::netns {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(100);

// This process's holds, by path and pid: a second cluster of the process shares the first's (a
// forked child inherits the map, not the right to share: its pid differs).
std::mutex held_mutex;
std::map<std::string, std::weak_ptr<HostLock>>& Held() {
  static auto* held = new std::map<std::string, std::weak_ptr<HostLock>>;
  return *held;
}

// The pid the holder wrote ("" when unreadable).
std::string Holder(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string text(buf, static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Status HostLock::Acquire(const std::string& path, Duration wait, std::shared_ptr<HostLock>* out) {
  std::lock_guard<std::mutex> guard(held_mutex);
  const std::string key = path + "\n" + std::to_string(getpid());
  if (std::shared_ptr<HostLock> mine = Held()[key].lock()) {
    *out = std::move(mine);
    return Status::Ok();
  }
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FailedPrecondition("the host's namespace lock " + path + ": " + std::strerror(errno));
  const auto deadline = std::chrono::steady_clock::now() + wait;
  bool said = false;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK && err != EINTR) {
      close(fd);
      return Status::FailedPrecondition("the host's namespace lock " + path + ": " + std::strerror(err));
    }
    if (InterruptRequested() || std::chrono::steady_clock::now() >= deadline) {
      const std::string holder = Holder(fd);
      close(fd);
      return Status::FailedPrecondition("the host's namespace lock " + path + " is held" +
                                        (holder.empty() ? "" : " by pid " + holder) + ": " +
                                        (InterruptRequested() ? "interrupted while waiting" : "gave up waiting"));
    }
    if (!said) {
      const std::string holder = Holder(fd);
      std::fprintf(stderr, "netns: waiting for another namespace run to end (%s held%s)\n", path.c_str(),
                   holder.empty() ? "" : (" by pid " + holder).c_str());
      said = true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The pid is for the waiters' message only; the lock is held all the same.
  }
  std::shared_ptr<HostLock> lock(new HostLock(fd));
  Held()[key] = lock;
  *out = std::move(lock);
  return Status::Ok();
}

HostLock::~HostLock() {
  // Closing the descriptor releases the flock.
  close(fd_);
}

}  // namespace pbxstate::netns
