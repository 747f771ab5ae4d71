#include "pbxstate/emu/lifeguard.h"

#include <time.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <string>

#include "pbxstate/emu/realtime.h"

namespace pbxstate::emu {

namespace {

timespec ToTimespec(std::int64_t ns) {
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace

LifeguardAction LifeguardStep(Duration beat_age, Duration overdue, bool moved, int beat_cpu, int own_cpu) {
  if (beat_age > overdue) {
    return !moved && beat_cpu >= 0 && own_cpu >= 0 && beat_cpu != own_cpu ? LifeguardAction::kRescue
                                                                           : LifeguardAction::kNone;
  }
  return moved ? LifeguardAction::kRelease : LifeguardAction::kNone;
}

Lifeguard::~Lifeguard() { Stop(); }

bool Lifeguard::Useful() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 2;
}

void Lifeguard::Beat() {
  beat_ns_.store(MonotonicNs(), std::memory_order_relaxed);
  beat_cpu_.store(sched_getcpu(), std::memory_order_relaxed);
}

Status Lifeguard::Start(pid_t tid, const Options& options) {
  if (thread_.joinable()) return Status::FailedPrecondition("lifeguard: started already");
  if (options.period <= Duration::zero() || options.overdue <= options.period) {
    return Status::InvalidArgument("lifeguard: the period must be positive and shorter than `overdue`");
  }
  CPU_ZERO(&allowed_);
  if (sched_getaffinity(0, sizeof allowed_, &allowed_) != 0) {
    return Status::FailedPrecondition(std::string("lifeguard: sched_getaffinity: ") + std::strerror(errno));
  }
  tid_ = tid;
  moved_ = false;
  stop_ = false;
  beat_ns_ = MonotonicNs();
  beat_cpu_ = -1;
  std::promise<Status> prepared;
  std::future<Status> ready = prepared.get_future();
  thread_ = std::thread([this, options, &prepared] {
    Status st = PrepareRealtimeThread(options.priority);
    const bool ok = st.ok();
    prepared.set_value(std::move(st));
    if (ok) Run(options);
  });
  Status st = ready.get();
  if (!st.ok()) thread_.join();
  return st;
}

void Lifeguard::Run(const Options& options) {
  std::int64_t next = MonotonicNs();
  while (!stop_.load(std::memory_order_relaxed)) {
    next += options.period.count();
    const timespec until = ToTimespec(next);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
    }
    const std::int64_t now = MonotonicNs();
    if (now - next > own_worst_ns_.load(std::memory_order_relaxed)) {
      own_worst_ns_.store(now - next, std::memory_order_relaxed);
      own_worst_at_ns_.store(next, std::memory_order_relaxed);
    }
    if (now - next > options.period.count()) next = now;  // held up itself: no burst of catch-up wakes
    const int own_cpu = sched_getcpu();
    const int beat_cpu = beat_cpu_.load(std::memory_order_relaxed);
    const Duration age(now - beat_ns_.load(std::memory_order_relaxed));
    switch (LifeguardStep(age, options.overdue, moved_, beat_cpu, own_cpu)) {
      case LifeguardAction::kRescue: {
        cpu_set_t here;
        CPU_ZERO(&here);
        CPU_SET(own_cpu, &here);
        if (sched_setaffinity(tid_, sizeof here, &here) == 0) {
          moved_ = true;
          rescues_.fetch_add(1, std::memory_order_relaxed);
        }
        break;
      }
      case LifeguardAction::kRelease:
        Release();
        break;
      case LifeguardAction::kNone:
        break;
    }
    // Off the simulation's CPU (after a rescue, this one), so that one long system call there
    // does not hold both.
    const int sim_cpu = moved_ ? own_cpu : beat_cpu;
    if (sim_cpu == own_cpu && CPU_ISSET(own_cpu, &allowed_)) {
      cpu_set_t others = allowed_;
      CPU_CLR(own_cpu, &others);
      if (CPU_COUNT(&others) > 0) sched_setaffinity(0, sizeof others, &others);
    }
  }
}

void Lifeguard::Release() {
  if (sched_setaffinity(tid_, sizeof allowed_, &allowed_) == 0) moved_ = false;
}

void Lifeguard::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  if (moved_) Release();
}

}  // namespace pbxstate::emu
