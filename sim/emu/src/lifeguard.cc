#include "pbxstate/emu/lifeguard.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
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

LifeguardAction LifeguardStep(Duration beat_age, Duration overdue, bool moved) {
  if (beat_age > overdue) return moved ? LifeguardAction::kNone : LifeguardAction::kRescue;
  return moved ? LifeguardAction::kRelease : LifeguardAction::kNone;
}

Lifeguard::~Lifeguard() { Stop(); }

bool Lifeguard::Useful() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 2;
}

void Lifeguard::Beat() { beat_ns_.store(MonotonicNs(), std::memory_order_relaxed); }

Status Lifeguard::Start(pid_t tid, const Options& options) {
  if (!threads_.empty()) return Status::FailedPrecondition("lifeguard: started already");
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
  last_wake_ns_ = MonotonicNs();
  held_worst_ns_ = 0;
  gap_since_take_ns_ = 0;
  {
    std::lock_guard<std::mutex> lock(ids_mu_);
    thread_ids_.clear();
    period_ = options.period;
  }
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed_)) continue;
    std::promise<Status> prepared;
    std::future<Status> ready = prepared.get_future();
    // The thread owns the promise: set_value may still be running on it after get() returns.
    threads_.emplace_back([this, cpu, options, prepared = std::move(prepared)]() mutable {
      {
        std::lock_guard<std::mutex> lock(ids_mu_);
        thread_ids_.push_back(static_cast<pid_t>(gettid()));
      }
      cpu_set_t here;
      CPU_ZERO(&here);
      CPU_SET(cpu, &here);
      Status st = sched_setaffinity(0, sizeof here, &here) == 0
                      ? PrepareRealtimeThread(options.priority)
                      : Status::FailedPrecondition("lifeguard: cannot pin a thread to CPU " + std::to_string(cpu));
      const bool ok = st.ok();
      prepared.set_value(std::move(st));
      if (ok) Run(cpu, options);
    });
    if (Status st = ready.get(); !st.ok()) {
      Stop();
      return st;
    }
  }
  return Status::Ok();
}

void Lifeguard::Run(int cpu, const Options& options) {
  std::int64_t next = MonotonicNs();
  while (!stop_.load(std::memory_order_relaxed)) {
    next += options.period.count();
    const timespec until = ToTimespec(next);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
    }
    const std::int64_t now = MonotonicNs();
    NoteWake(now, options);
    if (now - next > options.period.count()) next = now;  // held up itself: no burst of catch-up wakes
    const Duration age(now - beat_ns_.load(std::memory_order_relaxed));
    switch (LifeguardStep(age, options.overdue, moved_.load())) {
      case LifeguardAction::kRescue:
        if (Rescue(cpu) && options.kick) options.kick();
        break;
      case LifeguardAction::kRelease:
        Release();
        break;
      case LifeguardAction::kNone:
        break;
    }
  }
}

void Lifeguard::NoteWake(std::int64_t now, const Options& options) {
  std::int64_t last = last_wake_ns_.load(std::memory_order_relaxed);
  while (last < now && !last_wake_ns_.compare_exchange_weak(last, now, std::memory_order_relaxed)) {
  }
  if (last >= now) return;  // another lifeguard woke later than this one
  const std::int64_t held = now - last - options.period.count();
  std::int64_t taken = gap_since_take_ns_.load(std::memory_order_relaxed);
  while (held > taken && !gap_since_take_ns_.compare_exchange_weak(taken, held, std::memory_order_relaxed)) {
  }
  if (held > held_worst_ns_.load(std::memory_order_relaxed)) {
    held_worst_ns_.store(held, std::memory_order_relaxed);
    held_worst_at_ns_.store(last, std::memory_order_relaxed);
  }
}

// A rescue and a release each move the watched thread and its companions under moves_mu_, so a
// release that comes between the two moves of a rescue cannot leave the companions narrowed.
bool Lifeguard::Rescue(int cpu) {
  std::lock_guard<std::mutex> lock(moves_mu_);
  bool expected = false;
  if (!moved_.compare_exchange_strong(expected, true)) return false;  // another lifeguard did
  cpu_set_t here;
  CPU_ZERO(&here);
  CPU_SET(cpu, &here);
  if (sched_setaffinity(tid_, sizeof here, &here) != 0) {
    moved_ = false;
    return false;
  }
  rescues_.fetch_add(1, std::memory_order_relaxed);
  MoveCompanions(here);
  return true;
}

void Lifeguard::Release() {
  std::lock_guard<std::mutex> lock(moves_mu_);
  bool expected = true;
  if (!moved_.compare_exchange_strong(expected, false)) return;
  if (sched_setaffinity(tid_, sizeof allowed_, &allowed_) != 0) moved_ = true;
  MoveCompanions(allowed_);
}

void Lifeguard::Accompany(std::vector<pid_t> tids) {
  if (tids.size() > kCompanions) tids.resize(kCompanions);
  std::lock_guard<std::mutex> lock(moves_mu_);
  // A rescue in effect narrowed the earlier ones: those dropped get their affinity back now (no
  // release will move them); those kept, and new ones, are moved at the release and next rescue.
  if (moved_.load()) {
    std::vector<pid_t> kept = tids;
    std::sort(kept.begin(), kept.end());
    for (pid_t tid : companions_) {
      if (!std::binary_search(kept.begin(), kept.end(), tid)) sched_setaffinity(tid, sizeof allowed_, &allowed_);
    }
  }
  companions_ = std::move(tids);
}

std::vector<pid_t> Lifeguard::thread_ids() const {
  std::lock_guard<std::mutex> lock(ids_mu_);
  return thread_ids_;
}

Duration Lifeguard::period() const {
  std::lock_guard<std::mutex> lock(ids_mu_);
  return period_;
}

// Under moves_mu_. A queued companion is moved at once (the kernel moves a thread that is not
// running itself); one that has ended is skipped (ESRCH), as is any other refusal: the watched
// thread's move stands.
void Lifeguard::MoveCompanions(const cpu_set_t& set) {
  for (pid_t tid : companions_) sched_setaffinity(tid, sizeof set, &set);
}

void Lifeguard::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  {
    std::lock_guard<std::mutex> lock(ids_mu_);
    thread_ids_.clear();
  }
  Release();
}

}  // namespace pbxstate::emu
