// TaskSwitches: what ran on each CPU in a stall of the simulation (sim/emu/README.md, "What ran in
// the stalls"). A tracer instance of the runner's own records sched:sched_switch and
// irq_vectors:local_timer_entry (clock `mono`) in overwrite mode: a bounded buffer per CPU that
// keeps the latest second or two and is not read while the run goes (at 20 nodes the switches are
// tens of thousands a second; reading them as text all along would cost a good part of a CPU).
// Only for a stall over the bound, at most kSnapshots a run, does the witness thread read its
// `trace` file (which pauses the recording while it is open: options/pause-on-trace) and tally the
// stall's window per CPU: the tasks that were on the CPU and for how long, the idle task's time,
// and the time the CPU showed no sign of executing (no timer interrupt nor switch for longer than
// the allowance, less it: timer_interrupts.h).
//
// The allowance of a silence is the tick's (5 ms here), or the lifeguard's timer's (2 ms) where the
// trace shows that timer armed on that CPU through the silence (sim/emu/README.md, "The lifeguard's
// timer as evidence"): the CPU's lifeguard went to sleep there (switched out in state S) before
// the silence, and that sleep ended by its timer: its wake-up recorded in hard-interrupt context on
// its own CPU (the instance follows the lifeguards' wake-ups: Follow), or, where those are not
// recorded, a timer interrupt on its CPU followed at once by its switch in, preempting whatever
// was current (state R). Its timer was due within a period of its sleep, so a CPU that executed
// would have taken that interrupt within the period and kHeldOff of the silence's start. A sleep
// that ended otherwise (woken by another thread: the lifeguard also waits on its moves' mutex and
// on the simulator's lock, with no timer armed), or that the trace does not see end, keeps the
// tick's allowance.
//
// Linux, root. Contract: Open once, then Snapshot from one thread; Close (also the destructor)
// removes the instance. SwitchTally is the pure part (tests feed it recorded text).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pbxstate/emu/tracefs_instance.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::emu {

// One task's time on a CPU within a window.
struct TaskTime {
  std::string comm;  // as the kernel names it (15 characters at most)
  int pid = 0;       // the thread's id
  int prio = -1;     // the kernel's: 0-99 real-time (99 - its SCHED_FIFO/RR priority), 100-139 nice -20..19
  Duration ran{};    // current on the CPU within the window (a pause of the CPU included: see not_executed)
};

// What one CPU did within a stall's window.
struct CpuTasks {
  static constexpr std::size_t kTop = 5;  // tasks named, the longest
  int cpu = -1;
  bool known = false;  // the buffer reached back before the window on this CPU and on past it
  std::vector<TaskTime> top;  // the non-idle tasks by time, the longest kTop
  Duration other_tasks{};     // the other non-idle tasks' time together
  Duration idle{};            // the idle task's (pid 0)
  std::uint32_t switches = 0;
  // The followed thread's (TaskSwitches::Follow: the simulation's) wake-ups that the kernel placed
  // on this CPU, in the window or up to kWokenBefore before it: where it waited.
  std::uint32_t followed_woken = 0;
  // No timer interrupt nor switch on this CPU for longer than the allowance, less it: time it
  // provably did not execute, whichever task was current (a guest charges a pause to that task).
  Duration not_executed{};
  // The longest stretch within the window with no timer interrupt nor switch on this CPU, whole
  // (before any allowance): evidence beside not_executed, which the rule uses (the run's stall
  // record, sim/emu/README.md "The simulator's lock and a stopped CPU's timer").
  Duration longest_silence{};
  // Of the silences longer than the lifeguard's allowance in the window, those counted at it (its
  // timer shown armed): evidence for the record.
  std::uint32_t silences_lifeguard_armed = 0;
};

// The lifeguards' threads (lifeguard.h: one pinned to each CPU, asleep between its wake-ups on a
// timer of the lifeguard's period) and that timer's allowance, GapAllowance(period). None: every
// silence has the tick's allowance.
struct LifeguardTimers {
  std::vector<int> tids;
  std::int64_t allowance_ns = 0;
};

// Tallies tracer text (the `trace` file's lines, in time order per CPU) over [from_ns, to_ns];
// `end_ns`: when the text was taken (a CPU's current task ran on to there). `allowance_ns`: the
// tick's (TimerInterrupts::allowance).
class SwitchTally {
 public:
  static constexpr std::size_t kTasksPerCpu = 256;   // told apart; more are "other"
  static constexpr std::size_t kWindowText = 1 << 20;  // bytes of the window's lines kept at most
  static constexpr std::int64_t kTextMargin = 20'000'000;  // lines kept this far either side
  static constexpr std::int64_t kWokenBefore = 1'000'000;  // the simulation's probe period
  static constexpr std::size_t kLifeguards = 1024;   // threads told apart at most (one a CPU)
  SwitchTally(std::int64_t from_ns, std::int64_t to_ns, std::int64_t allowance_ns, bool keep_text,
              LifeguardTimers lifeguards = {});
  void Feed(std::string_view text);
  std::vector<CpuTasks> Result(std::int64_t end_ns) const;
  // The lines within kTextMargin of the window (bounded by kWindowText): the stall's record.
  const std::string& window_text() const { return text_; }

 private:
  struct Cpu {
    std::int64_t first_ns = -1, last_event_ns = -1, since_ns = -1;
    TaskTime current{"", -1, -1, {}};  // pid -1: not yet known
    std::unordered_map<int, TaskTime> tasks;
    TaskTime other;
    std::uint32_t switches = 0, followed_woken = 0;
    std::int64_t not_executed = 0, longest_silence = 0;
    std::uint32_t silences_lifeguard_armed = 0;
    bool last_was_interrupt = false;  // the latest sign of executing was a timer interrupt
    // Its lifeguard asleep since it switched out in state S here, and the silences of that sleep
    // beyond either allowance, counted once the sleep's end says which (Settle).
    bool lifeguard_asleep = false;  // its wake-up (Wakeup) or its switch in ends the sleep
    std::int64_t asleep_beyond_tick = 0, asleep_beyond_lifeguard = 0;
    std::uint32_t asleep_silences = 0;
  };
  void Line(std::string_view line);
  void Wakeup(std::string_view fields, std::int64_t t_ns, int cpu, bool hard_irq);
  void Switch(Cpu& c, std::string_view fields, std::int64_t t_ns, bool after_interrupt);
  Cpu& At(int cpu);
  bool IsLifeguard(int pid) const;
  void Run(Cpu& c, std::int64_t until_ns) const;
  void Evidence(Cpu& c, std::int64_t t_ns, bool interrupt) const;
  static void Settle(Cpu& c, bool timer_armed);
  void Add(Cpu& c, const TaskTime& task, std::int64_t ns) const;

  std::int64_t from_ns_, to_ns_, allowance_ns_;
  bool keep_text_;
  LifeguardTimers lifeguards_;  // tids sorted
  std::string text_, partial_;
  std::vector<Cpu> cpus_;
};

class TaskSwitches {
 public:
  struct Options {
    std::string tracefs = "/sys/kernel/tracing";
    std::string instance;           // created under tracefs/instances; it must not exist
    int buffer_kb_per_cpu = 2048;   // about 1.5 s at 20 nodes' switches (1.3 MB/s a CPU measured)
  };
  static constexpr std::size_t kSnapshots = 32;      // a run's at most
  static constexpr std::size_t kReadBytes = 64 << 20;  // of the `trace` file a snapshot reads at most

  TaskSwitches() = default;
  ~TaskSwitches();
  TaskSwitches(const TaskSwitches&) = delete;
  TaskSwitches& operator=(const TaskSwitches&) = delete;

  // Creates the instance and starts recording; fails naming the file it could not write,
  // leaving nothing behind.
  Status Open(const Options& options);
  // Records the wake-ups of threads `tids` (sched:sched_wakeup filtered to them; the first
  // kFollowed), from now on, in place of those followed before: the simulation's (where it
  // waited) and the lifeguards' (whether their timer woke them: SwitchTally). Fails naming the
  // file it could not write.
  static constexpr std::size_t kFollowed = 256;
  Status Follow(std::vector<int> tids);
  // Reads the buffer into `tally` (at most kReadBytes); fails when closed, past kSnapshots, or
  // naming the file that could not be read.
  Status Snapshot(SwitchTally* tally);
  void Close();
  bool open() const { return instance_.exists(); }
  std::size_t snapshots() const { return snapshots_; }

 private:
  TracefsInstance instance_;
  std::string buffer_;
  std::size_t snapshots_ = 0;
};

}  // namespace pbxstate::emu
