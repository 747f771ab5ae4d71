// How the emulator holds real time on a busy host (sim/emu/README.md, "Holding real time"): the
// simulation thread at SCHED_FIFO, the process's memory locked, a watchdog that takes real-time
// scheduling away from a thread that runs too long without sleeping, and callers of the simulation
// raised to its priority while they hold a lock it needs.
//
// Linux only; the emulation backend runs as root (CAP_SYS_NICE, CAP_IPC_LOCK).
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pbxstate/types.h"
#include "pbxstate/status.h"

namespace pbxstate::emu {

// CLOCK_MONOTONIC in nanoseconds: the clock of the simulation's origin, the lag and the lifeguard.
std::int64_t MonotonicNs();

// Readies the calling thread for real-time work: the smallest timer slack (a wait for the next
// event ends when it is due, not up to 50 us later), then SCHED_FIFO at `priority` (0: unchanged).
// Threads it starts afterwards inherit the policy (the FdNetDevices' reader threads do).
Status PrepareRealtimeThread(int priority);

// Every thread of this process but `except` (a thread id) that runs at SCHED_FIFO `from` is put at
// SCHED_FIFO `to`; `*moved` gets their ids. For the FdNetDevices' reader threads, which inherit the
// simulation thread's priority: put below the lifeguards, they can never keep a lifeguard from its
// CPU, so no CPU left without a lifeguard is held by the emulator's readers (lag_witness.h). Looks
// at most kMaxThreadsMoved threads; fails naming a thread that cannot be moved (a thread that ends
// meanwhile is not an error).
inline constexpr std::size_t kMaxThreadsMoved = 4096;
Status MoveFifoThreads(int from, int to, pid_t except, std::vector<pid_t>* moved);

// While alive, the calling thread runs at SCHED_FIFO `priority` (0: no change), then gets its own
// scheduling back. For a thread of ordinary priority that takes a lock the simulation thread also
// takes (the simulator's event queue, the lag probe's figures): preempted while holding it by the
// host's load, it would hold the simulation up behind that load (priority inversion; the locks are
// not priority-inheriting). Failures leave the thread as it was.
class ScopedPriority {
 public:
  explicit ScopedPriority(int priority);
  ~ScopedPriority();
  ScopedPriority(const ScopedPriority&) = delete;
  ScopedPriority& operator=(const ScopedPriority&) = delete;

 private:
  bool raised_ = false;
  int policy_ = 0;
  int priority_ = 0;
};

// The process-wide part, from Enter until the destructor (one at a time per process):
// - lock_memory: mlockall, every page mapped now locked and faulted in, later ones locked as they
//   are first touched (MCL_ONFAULT: the threads' stacks are not faulted in whole), so a page the
//   simulation needs is never paged out by the host's other work and read back while it waits;
// - watchdog > 0: RLIMIT_RTTIME. A real-time thread of this process that runs `watchdog` without
//   a blocking call gets SIGXCPU, whose handler puts that thread back to ordinary scheduling (the
//   run goes on, its lag shows it; fired() says so, pthread_getschedparam does not: glibc
//   answers it from a cache); if it still runs RT a further 2 s, the kernel kills the process. The limit is inherited by the processes started meanwhile (a
//   corosync at SCHED_RR, --emu-corosync-rr, gets SIGXCPU's default: it ends). The kernel's own
//   RT throttling (sched_rt_runtime_us, 95 % of each CPU by default) stays as it is.
class RealtimeGuard {
 public:
  RealtimeGuard() = default;
  ~RealtimeGuard();
  RealtimeGuard(const RealtimeGuard&) = delete;
  RealtimeGuard& operator=(const RealtimeGuard&) = delete;

  // Fails (and undoes what it did) when memory cannot be locked or the limit not set.
  Status Enter(bool lock_memory, Duration watchdog);
  // Undoes what Enter did (memory unlocked, the limit and SIGXCPU's handling as they were);
  // idempotent, also run by the destructor.
  void Leave();
  // Whether the watchdog took real-time scheduling from a thread since the last Enter.
  static bool fired();

 private:
  bool entered_ = false;
  bool locked_ = false;
  bool limited_ = false;
  rlimit old_rttime_{};
  struct sigaction old_action_{};
};

}  // namespace pbxstate::emu
