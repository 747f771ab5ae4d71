// The simulation thread's lifeguard: moves it to another CPU when it has been kept from running.
//
// Why (sim/emu/README.md, "The lag spikes, traced"): this host's kernel is built PREEMPT_DYNAMIC
// with the `none` model, so a task in a system call is preempted only where the kernel checks
// (cond_resched, the return to user space). The simulation thread, SCHED_FIFO, woken on a CPU
// whose current task is an ordinary one in a long read() or writev() (a linker's read of an
// object file into fresh memory, every page faulted in inside the copy), waits there until that
// call ends: 8 to 27 ms traced. The kernel does not move a woken real-time task off a CPU whose
// current task is an ordinary one (it expects to preempt it at once), even when the other CPU
// runs nothing that would hold it. The lifeguard does: a thread one priority below the
// simulation that wakes every `period`, reads the simulation's heartbeat (Beat, from an event in
// the simulation every `period`) and, when the last beat is older than `overdue`, sets the
// simulation thread's CPU affinity to its own CPU, which the kernel honours by moving the queued
// thread at once. Once the simulation beats again its affinity is given back whole. The
// lifeguard keeps off the CPU the simulation last beat on, so one long system call does not hold
// both.
//
// Below, not above: a real-time task woken on a CPU whose current task is a real-time one of its
// priority or higher is placed on the CPU with the lowest-priority task instead, which may be the
// held one (traced with the FdNetDevices' readers, which share the simulation's priority: 25 ms).
// With a lifeguard above, a thread woken every 1 ms beside a reader of a page-cached file was
// over 2 ms late more often, not less (32 and 46 times in 2 s, against 14 and 31 without).
//
// It cannot help when every CPU is held, or when the whole machine is paused by its hypervisor
// (traced: 17 and 25 ms with no event on either CPU); the lag still shows those.
//
// Linux only; needs CAP_SYS_NICE (the emulation backend runs as root).
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::emu {

// What the lifeguard does at one of its wake-ups (LifeguardStep).
enum class LifeguardAction : std::uint8_t {
  kNone,
  kRescue,   // move the simulation thread to the lifeguard's CPU
  kRelease,  // give the simulation thread its whole affinity back
};

// The decision, on its own for the unit test. `beat_age`: now minus the last beat; `moved`:
// whether the simulation thread's affinity is narrowed now; `beat_cpu`/`own_cpu`: the CPU of
// the last beat and the lifeguard's. A stale beat is rescued once, and only onto another CPU
// (on the same CPU the lifeguard is running, so the simulation is not held by an ordinary task
// there); a fresh beat after a rescue releases.
LifeguardAction LifeguardStep(Duration beat_age, Duration overdue, bool moved, int beat_cpu, int own_cpu);

class Lifeguard {
 public:
  struct Options {
    int priority = 0;                                 // SCHED_FIFO; the simulation's - 1
    Duration period = std::chrono::milliseconds(1);   // between the lifeguard's wake-ups
    Duration overdue = std::chrono::milliseconds(3);  // a beat older than this: rescue
  };

  Lifeguard() = default;
  ~Lifeguard();
  Lifeguard(const Lifeguard&) = delete;
  Lifeguard& operator=(const Lifeguard&) = delete;

  // Whether this process may run on at least two CPUs (else there is nowhere to move to).
  static bool Useful();
  // Records a beat: now, and the calling thread's CPU. From the watched thread only; lock-free.
  void Beat();
  // Starts watching thread `tid` (which must beat every options.period or faster; the first
  // beat is taken as now). Fails when the lifeguard's thread cannot run at options.priority.
  Status Start(pid_t tid, const Options& options);
  // Stops the thread and gives the watched thread its affinity back. Idempotent.
  void Stop();
  // How many times it moved the watched thread.
  std::uint64_t rescues() const { return rescues_.load(std::memory_order_relaxed); }
  // The latest the lifeguard itself woke after its time, and when (CLOCK_MONOTONIC ns). It runs
  // off the watched thread's CPU: held as long as the watched thread was, at the same instant,
  // no CPU could run either (every CPU in a long system call, or the whole machine paused by
  // its hypervisor, as traced on this host). Callable from any thread; from Start on.
  Duration own_worst_lateness() const { return Duration(own_worst_ns_.load(std::memory_order_relaxed)); }
  std::int64_t own_worst_at_mono_ns() const { return own_worst_at_ns_.load(std::memory_order_relaxed); }
  // Forgets own_worst_lateness so far (the run's time 0).
  void ResetLateness() { own_worst_ns_.store(0, std::memory_order_relaxed); }

 private:
  void Run(const Options& options);
  void Release();

  pid_t tid_ = 0;
  cpu_set_t allowed_{};  // the process's affinity at Start: what Release gives back
  std::atomic<std::int64_t> beat_ns_{0};
  std::atomic<int> beat_cpu_{-1};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> rescues_{0};
  std::atomic<std::int64_t> own_worst_ns_{0};
  std::atomic<std::int64_t> own_worst_at_ns_{0};
  bool moved_ = false;  // the lifeguard's thread only
  std::thread thread_;
};

}  // namespace pbxstate::emu
