// LagWitness: what the host said while the simulation ran late (sim/emu/README.md, "Lag attributed
// to the machine"). A thread reads every CPU's steal time (/proc/stat) every `period` and takes
// the lifeguard's longest gap since its last reading, keeping the last kReadings, and drains the
// timer interrupts' trace when given; the simulation
// thread notes each late probe (Note: lock-free, never blocks); once a reading follows a noted
// lag, the thread attributes it (host_steal.h: AttributeLag) from the readings that bracket it.
// A probe due while a stall noted before it lasted is that stall's (the probes queued behind a
// stall run late one after another): a spell is a stall, counted and attributed once.
//
// Linux only. Contract: Start, then Note from one thread (the simulation's) and spells/counts/
// Reset from any; Stop (also the destructor) joins the thread. Notes that come faster than the
// thread attributes them, beyond kPending, are counted as unrecorded, never waited for.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pbxstate/emu/host_steal.h"
#include "pbxstate/emu/lifeguard.h"
#include "pbxstate/emu/task_switches.h"
#include "pbxstate/emu/timer_interrupts.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::emu {

// One stall of the simulation (the first late probe of it), attributed.
struct LagSpell {
  Duration lag{};
  std::int64_t due_mono_ns = 0;  // when the late probe was due (CLOCK_MONOTONIC): the lag began then
  HostWitness witness;
  LagCause cause = LagCause::kUnknown;
};

class LagWitness {
 public:
  struct Options {
    Duration period = std::chrono::milliseconds(10);  // between readings: steal's own step (USER_HZ 100)
    int priority = 0;                                 // SCHED_FIFO of the reading thread (0: ordinary)
    std::string proc_stat = "/proc/stat";
    Lifeguard* lifeguard = nullptr;                   // its gaps are taken (TakeGap) when given and running
    // The simulation thread's CPU time so far in ns, or -1 while it is not known (the thread not
    // started); read with every reading. Empty: never read (no stall is kMachineStopped).
    std::function<std::int64_t()> simulation_cpu_ns;
    // Open, or null: drained by the thread with every reading, its gaps taken over each stall.
    TimerInterrupts* interrupts = nullptr;
    // Open, or null: with interrupts, read for each stall longer than switches_over (the run's
    // bound), at most TaskSwitches::kSnapshots; the window's trace lines are written to
    // switches_dir/stall-AT.txt (AT: due, ms of CLOCK_MONOTONIC) when it is given, after the
    // evidence per CPU in `#` lines (StallRecordHeader).
    TaskSwitches* switches = nullptr;
    Duration switches_over = std::chrono::milliseconds(10);
    std::string switches_dir;
  };
  static constexpr std::size_t kReadings = 128;  // 1.28 s at 10 ms: a lag longer is kUnknown
  static constexpr std::size_t kPending = 64;    // notes waiting for the thread
  static constexpr std::size_t kSpells = 256;    // spells kept: the longest

  LagWitness() = default;
  ~LagWitness();
  LagWitness(const LagWitness&) = delete;
  LagWitness& operator=(const LagWitness&) = delete;

  // Reads options.proc_stat once (fails naming it and the field when it cannot be read or parsed),
  // then starts the thread.
  Status Start(const Options& options);
  // Joins the thread; lags still waiting are attributed from the readings there are. Idempotent.
  void Stop();
  // A probe due at `due_mono_ns` ran `lag` late. From the simulation thread only; lock-free.
  void Note(std::int64_t due_mono_ns, Duration lag);
  // The longest kSpells spells attributed since Start or Reset, in time order.
  std::vector<LagSpell> spells() const;
  // Spells attributed since Start or Reset, by cause (index: LagCause), all of them.
  std::array<std::uint64_t, kLagCauses> counts() const;
  // Notes lost because kPending were waiting (since Start).
  std::uint64_t unrecorded() const { return unrecorded_.load(std::memory_order_relaxed); }
  // Ok, or how many stall records (Options::switches_dir) could not be written and the first
  // error (also on stderr, once a run).
  Status records_written() const;
  // Forgets the spells of lags due before now.
  void Reset();

 private:
  struct Reading {
    // Before the file was opened and after it was read: a reading brackets a lag's start when it
    // ended before it, its end when it began after it.
    std::int64_t begin_ns = 0, end_ns = 0;
    std::vector<std::int64_t> steal_ns;  // per CPU
    Duration lifeguard_gap{};            // since the previous reading
    std::int64_t simulation_cpu_ns = -1;  // Options::simulation_cpu_ns at the reading
  };
  struct Slot {
    std::atomic<std::int64_t> due_mono_ns{0};
    std::atomic<std::int64_t> lag_ns{0};
  };

  void Run();
  Status Read(Reading* out);
  // Attributes every waiting note that a reading follows (all of them when `final`).
  void Attribute(bool final);
  HostWitness Witness(std::int64_t from_ns, std::int64_t to_ns) const;
  // For a stall over switches_over: what ran on each CPU, from a snapshot of the switches.
  // Takes a snapshot of the switches into w->cpus; returns the window's trace lines to keep (or none).
  std::string WhatRan(const LagSpell& spell, HostWitness* w);
  // The lifeguard's threads and its timer's allowance, for the tally (none without a lifeguard).
  LifeguardTimers Lifeguards() const;
  void WriteRecord(const LagSpell& spell, std::string_view lines);
  void Keep(const LagSpell& spell);

  Options options_;
  long ticks_per_second_ = 100;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  // The simulation thread writes slots and written_; the witness thread reads them and read_.
  std::array<Slot, kPending> slots_;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> read_{0};
  std::atomic<std::uint64_t> unrecorded_{0};
  // The simulation thread's own: when the latest stall it noted ended. The probes queued behind a
  // stall are that stall's, and are not noted (a 60 ms stall would fill kPending with its queue).
  std::int64_t noted_stall_end_ns_ = 0;
  // The witness thread's own (Start's before it runs).
  std::string buffer_;
  std::deque<Reading> readings_;
  std::vector<LagSpell> waiting_;
  std::int64_t stall_end_ns_ = 0;  // when the latest stall noted ended (its due + its lag)
  // Shared with the callers of spells/counts/Reset.
  mutable std::mutex mu_;
  std::vector<LagSpell> spells_;
  std::array<std::uint64_t, kLagCauses> counts_{};
  std::int64_t since_mono_ns_ = 0;
  std::uint64_t records_unwritten_ = 0;
  std::string first_unwritten_;
};

}  // namespace pbxstate::emu
