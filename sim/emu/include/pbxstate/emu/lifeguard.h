// The simulation thread's lifeguard: moves it to another CPU when it has been kept from running.
//
// Why (sim/emu/README.md, "The lag spikes, traced"): this host's kernel is built PREEMPT_DYNAMIC
// with the `none` model, so a task in a system call is preempted only where the kernel checks
// (cond_resched, the return to user space). The simulation thread, SCHED_FIFO, woken on a CPU
// whose current task is an ordinary one in a long read() or writev() (a linker's read of an
// object file into fresh memory, every page faulted in inside the copy), waits there until that
// call ends: 8 to 27 ms traced. The kernel does not move a woken real-time task off a CPU whose
// current task is an ordinary one (it expects to preempt it at once), even when another CPU runs
// nothing that would hold it. The lifeguard does: one thread pinned to each CPU the process may
// use, one priority below the simulation, each waking every `period`; each reads the
// simulation's heartbeat (Beat, from an event in the simulation every `period`) and, when the
// last beat is older than `overdue`, sets the simulation thread's CPU affinity to its own CPU,
// which the kernel honours by moving the queued thread at once. The first to see it rescues it;
// once the simulation beats again its affinity is given back whole. A thread on the held CPU is
// held too (its timer fires there), so there is one on every CPU: a single lifeguard kept off the
// simulation's last CPU was held beside it when a reader's wake-up placed the simulation on the
// lifeguard's CPU (soak-short, 10:49 UTC: 8.0 ms).
//
// Below, not above: a real-time task woken on a CPU whose current task is a real-time one of its
// priority or higher is placed on the CPU with the lowest-priority task instead, which may be the
// held one (traced with the FdNetDevices' readers, which share the simulation's priority: 25 ms).
// With a lifeguard above, a thread woken every 1 ms beside a reader of a page-cached file was
// over 2 ms late more often, not less (32 and 46 times in 2 s, against 14 and 31 without).
//
// The readers go with it (Accompany): the simulation woken by a reader preempts it on its CPU and
// waits for the simulator's lock the reader still holds, and the kernel pushes the preempted
// reader to the other CPU, where an ordinary task in a long system call keeps it (this kernel does
// not preempt one): the simulation asleep on that lock, late, with nothing of its own to move
// (soak-short, 2026-12-07 07:12 UTC, at 638 s: 18.3 ms behind a nice-19 ccache; sim/emu/README.md,
// "The simulator's lock and a stopped CPU's timer"). Moved with the simulation, the reader queued
// there runs on the lifeguard's CPU at once.
//
// And it wakes the simulation (Options::kick): asleep until its next event, its timer is on the
// CPU it slept on, and a virtual CPU the hypervisor stopped fires nothing until it runs again,
// while a move only changes where the simulation will run once woken (partition-heal, 2026-12-07
// 07:51 UTC: CPU 0 took no interrupt for 7.7 ms with the simulation's timer on it, the lifeguard
// on CPU 1 moved it at 3 ms, and it woke only when CPU 0 ran again).
//
// It cannot help when every CPU is held, or when the whole machine is paused by its hypervisor
// (traced: 15 to 25 ms with no event on either CPU); held_worst() measures those: the longest
// time no lifeguard ran on any CPU.
//
// Linux only; needs CAP_SYS_NICE (the emulation backend runs as root).
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::emu {

// What a lifeguard thread does at one of its wake-ups (LifeguardStep).
enum class LifeguardAction : std::uint8_t {
  kNone,
  kRescue,   // move the simulation thread to this lifeguard's CPU
  kRelease,  // give the simulation thread its whole affinity back
};

// The decision, on its own for the unit test. `beat_age`: now minus the last beat; `moved`:
// whether the simulation thread's affinity is narrowed now. A stale beat is rescued once; a
// fresh beat after a rescue releases. Where the simulation is does not matter: a lifeguard that
// runs is not on a CPU where the simulation is queued (it would run first, its priority being
// higher), and moving a thread that is running or asleep costs a migration, nothing more.
LifeguardAction LifeguardStep(Duration beat_age, Duration overdue, bool moved);

class Lifeguard {
 public:
  struct Options {
    int priority = 0;                                 // SCHED_FIFO; the simulation's - 1
    Duration period = std::chrono::milliseconds(1);   // between each thread's wake-ups
    Duration overdue = std::chrono::milliseconds(3);  // a beat older than this: rescue
    // Called by the rescuing lifeguard after its moves, on its thread, outside the moves' lock (it
    // may wait for the simulator's lock a moved reader holds): wakes the watched thread where it
    // sleeps (the emulator schedules an empty event, which signals the simulation). Empty: none.
    std::function<void()> kick;
  };

  Lifeguard() = default;
  ~Lifeguard();
  Lifeguard(const Lifeguard&) = delete;
  Lifeguard& operator=(const Lifeguard&) = delete;

  // Whether this process may run on at least two CPUs (else there is nowhere to move to).
  static bool Useful();
  // Records a beat (now). From the watched thread only; lock-free.
  void Beat();
  // Starts watching thread `tid` (which must beat every options.period or faster; the first
  // beat is taken as now): one thread per CPU of the calling thread's affinity, pinned there.
  // Fails (none left running) when one cannot be pinned or run at options.priority.
  Status Start(pid_t tid, const Options& options);
  // Threads moved with the watched one at each rescue and given the same affinity back with it
  // (the FdNetDevices' readers: the header's comment); replaces the earlier ones, giving those it
  // drops their affinity back at once if a rescue has narrowed them. At most kCompanions (more are
  // not moved). Callable from any thread, before or after Start.
  static constexpr std::size_t kCompanions = 4096;
  void Accompany(std::vector<pid_t> tids);
  // The lifeguard threads' kernel ids, one a CPU, while started (else none), and their period:
  // the lag witness tells their sleeps on their timers apart in a stall's trace (task_switches.h).
  // Callable from any thread.
  std::vector<pid_t> thread_ids() const;
  Duration period() const;
  // Stops the threads and gives the watched thread its affinity back. Idempotent.
  void Stop();
  // How many times it moved the watched thread.
  std::uint64_t rescues() const { return rescues_.load(std::memory_order_relaxed); }
  // The longest time no lifeguard thread ran on any CPU, beyond one period, since Start or
  // ResetHeld, and when it began (CLOCK_MONOTONIC ns): every CPU held by a system call, or the
  // whole machine paused. A lag of the simulation as long, at that instant, was no CPU's to give.
  // Callable from any thread.
  Duration held_worst() const { return Duration(held_worst_ns_.load(std::memory_order_relaxed)); }
  std::int64_t held_worst_at_mono_ns() const { return held_worst_at_ns_.load(std::memory_order_relaxed); }
  void ResetHeld() { held_worst_ns_.store(0, std::memory_order_relaxed); }
  // The longest such time that ended since the previous TakeGap (or Start), and forgets it: the
  // lag witness's reading for its interval (lag_witness.h). Callable from any thread.
  Duration TakeGap() { return Duration(gap_since_take_ns_.exchange(0, std::memory_order_relaxed)); }

 private:
  void Run(int cpu, const Options& options);
  void NoteWake(std::int64_t now, const Options& options);
  bool Rescue(int cpu);  // whether this lifeguard moved the watched thread
  void Release();
  void MoveCompanions(const cpu_set_t& set);

  pid_t tid_ = 0;
  cpu_set_t allowed_{};  // the calling thread's affinity at Start: what Release gives back
  std::atomic<std::int64_t> beat_ns_{0};
  std::atomic<bool> moved_{false};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> rescues_{0};
  std::atomic<std::int64_t> last_wake_ns_{0};  // the latest wake-up of any lifeguard thread
  std::atomic<std::int64_t> held_worst_ns_{0};
  std::atomic<std::int64_t> held_worst_at_ns_{0};
  std::atomic<std::int64_t> gap_since_take_ns_{0};
  std::vector<std::thread> threads_;
  std::mutex moves_mu_;             // a rescue's or a release's moves, and companions_
  std::vector<pid_t> companions_;  // by moves_mu_
  mutable std::mutex ids_mu_;       // thread_ids_ and period_, read by the lag witness
  std::vector<pid_t> thread_ids_;
  Duration period_{};
};

}  // namespace pbxstate::emu
