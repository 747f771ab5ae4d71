#include "pbxstate/emu/realtime.h"

#include <pthread.h>
#include <dirent.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

namespace pbxstate::emu {

namespace {

// How long a real-time thread may go on past the watchdog before the kernel kills the process
// (RLIMIT_RTTIME's hard limit): the handler has had two more SIGXCPU by then.
constexpr Duration kWatchdogGrace = std::chrono::seconds(2);

std::atomic<bool> g_watchdog_fired{false};
std::atomic<bool> g_guard_entered{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGXCPU handler stores to it");

// SIGXCPU from RLIMIT_RTTIME goes to the thread that is running over the limit. Async-signal-safe:
// one system call (sched_setscheduler on tid 0 is the calling thread) and a lock-free store.
void OnRealtimeOverrun(int) {
  const int saved = errno;
  sched_param param{};
  param.sched_priority = 0;
  syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &param);
  g_watchdog_fired.store(true);
  errno = saved;
}

}  // namespace

std::int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Status PrepareRealtimeThread(int priority) {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  if (priority == 0) return Status::Ok();
  sched_param param{};
  param.sched_priority = priority;
  if (const int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param); err != 0) {
    return Status::FailedPrecondition("emulation: cannot run the simulation at SCHED_FIFO " + std::to_string(priority) +
                                      ": " + std::strerror(err));
  }
  return Status::Ok();
}

Status MoveFifoThreads(int from, int to, pid_t except, std::vector<pid_t>* moved) {
  moved->clear();
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return Status::FailedPrecondition(std::string("/proc/self/task: ") + std::strerror(errno));
  Status result = Status::Ok();
  std::size_t looked = 0;
  while (const dirent* e = readdir(tasks)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (++looked > kMaxThreadsMoved) break;
    const pid_t tid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
    sched_param param{};
    if (tid == except || sched_getscheduler(tid) != SCHED_FIFO || sched_getparam(tid, &param) != 0) continue;
    if (param.sched_priority != from) continue;
    param.sched_priority = to;
    if (sched_setscheduler(tid, SCHED_FIFO, &param) == 0) {
      moved->push_back(tid);
    } else if (errno != ESRCH) {
      result = Status::FailedPrecondition("emulation: thread " + std::to_string(tid) + " not moved to SCHED_FIFO " +
                                          std::to_string(to) + ": " + std::strerror(errno));
      break;
    }
  }
  closedir(tasks);
  return result;
}

ScopedPriority::ScopedPriority(int priority) {
  if (priority <= 0) return;
  sched_param old{};
  if (pthread_getschedparam(pthread_self(), &policy_, &old) != 0) return;
  priority_ = old.sched_priority;
  // Already at least as high (the simulation thread itself, a reader thread): nothing to do.
  if ((policy_ == SCHED_FIFO || policy_ == SCHED_RR) && priority_ >= priority) return;
  sched_param param{};
  param.sched_priority = priority;
  raised_ = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
}

ScopedPriority::~ScopedPriority() {
  if (!raised_) return;
  sched_param old{};
  old.sched_priority = priority_;
  pthread_setschedparam(pthread_self(), policy_, &old);
}

Status RealtimeGuard::Enter(bool lock_memory, Duration watchdog) {
  if (entered_ || g_guard_entered.exchange(true)) {
    return Status::FailedPrecondition("emulation: a real-time guard is active already");
  }
  entered_ = true;
  g_watchdog_fired = false;
  if (lock_memory) {
    // Everything mapped now, faulted in; then what is mapped later, as it is first touched.
    locked_ = true;  // Leave unlocks whatever the first call locked
    if (mlockall(MCL_CURRENT) != 0 || mlockall(MCL_FUTURE | MCL_ONFAULT) != 0) {
      const int err = errno;
      Leave();
      return Status::FailedPrecondition(std::string("emulation: cannot lock the process's memory (mlockall): ") +
                                        std::strerror(err));
    }
  }
  if (watchdog > Duration::zero()) {
    const auto us = [](Duration d) { return static_cast<rlim_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()); };
    struct sigaction action{};
    action.sa_handler = OnRealtimeOverrun;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    rlimit limit{us(watchdog), us(watchdog + kWatchdogGrace)};
    if (getrlimit(RLIMIT_RTTIME, &old_rttime_) != 0 || sigaction(SIGXCPU, &action, &old_action_) != 0) {
      const int err = errno;
      Leave();
      return Status::FailedPrecondition(std::string("emulation: cannot install the real-time watchdog: ") + std::strerror(err));
    }
    if (setrlimit(RLIMIT_RTTIME, &limit) != 0) {
      const int err = errno;
      sigaction(SIGXCPU, &old_action_, nullptr);
      Leave();
      return Status::FailedPrecondition(std::string("emulation: cannot set RLIMIT_RTTIME: ") + std::strerror(err));
    }
    limited_ = true;
  }
  return Status::Ok();
}

RealtimeGuard::~RealtimeGuard() { Leave(); }

void RealtimeGuard::Leave() {
  if (!entered_) return;
  if (limited_) {
    setrlimit(RLIMIT_RTTIME, &old_rttime_);
    sigaction(SIGXCPU, &old_action_, nullptr);
    limited_ = false;
  }
  if (locked_) {
    munlockall();
    locked_ = false;
  }
  entered_ = false;
  g_guard_entered = false;
}

bool RealtimeGuard::fired() { return g_watchdog_fired.load(); }

}  // namespace pbxstate::emu
