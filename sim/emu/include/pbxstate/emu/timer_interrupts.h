// TimerInterrupts: when a CPU of the machine, or none of them, took no timer interrupt (sim/emu/README.md,
// "Pauses told by the timer interrupts", "What ran in the stalls"). A CPU that executes takes the
// local timer interrupt at least every scheduler tick (1/CONFIG_HZ, read from the kernel:
// kernel_tick.h) whatever it runs, a system call that does not yield included, and the
// lifeguards' 1 ms timers make it every millisecond on an idle one; so a stretch in which a CPU
// took none for longer than a tick (and kHeldOff, for an interrupt held off) is one in which that
// CPU did not execute, less at most that allowance: NotExecutedNs per CPU, StoppedNs for all at
// once. The guest charges such a pause to whatever task was on the CPU (its CPU clock runs on),
// which is why the simulation's CPU time cannot tell it. This stream has no task switches, so it
// cannot tell when a lifeguard's 1 ms timer was armed on a CPU: its allowance is the tick's
// everywhere; a stall over the bound is decided by the switches' snapshot, which can
// (task_switches.h, GapAllowance below).
//
// The kernel's own tracer, in an instance of the runner's own (/sys/kernel/tracing/instances/NAME,
// the event irq_vectors:local_timer_entry, clock `mono`, a bounded buffer per CPU), read from its
// trace_pipe (all CPUs merged in time order) by the caller's thread: Drain, bounded per call.
//
// Linux, root. Contract: Open once, then Drain and Stopped from one thread; Close (also the
// destructor) removes the instance. Events the kernel dropped (its buffer full) void everything
// before the next interrupt read: the trace starts again there.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/emu/tracefs_instance.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::emu {

class TimerInterrupts {
 public:
  struct Options {
    std::string tracefs = "/sys/kernel/tracing";
    std::string instance;             // created under tracefs/instances; it must not exist
    int buffer_kb_per_cpu = 256;      // about 5 s of 2,000 interrupts/s a CPU
  };
  // An interrupt held off beyond its tick (a section with interrupts disabled): a held CPU's tick
  // came 4.000 to 4.003 ms apart in the recorded traces; 1 ms is that with room.
  static constexpr Duration kHeldOff = std::chrono::milliseconds(1);
  static constexpr int kCpus = 1024;                  // CPUs followed one by one (more: all at once only)
  static constexpr std::size_t kGaps = 1024;          // kept, the latest (past a stall is seconds)
  static constexpr std::size_t kDrainBytes = 1 << 20;  // read per Drain at most
  static constexpr std::size_t kLine = 512;           // a longer line is not an event of ours

  // `tick`: the kernel's (ReadKernelTick); a gap is one longer than GapAllowance(tick).
  explicit TimerInterrupts(Duration tick);
  ~TimerInterrupts();
  TimerInterrupts(const TimerInterrupts&) = delete;
  TimerInterrupts& operator=(const TimerInterrupts&) = delete;

  // Creates the instance and starts tracing; fails naming the file that could not be written
  // (no tracefs, not root, lockdown), leaving nothing behind.
  Status Open(const Options& options);
  // Reads what the tracer has (at most kDrainBytes) and notes the gaps. No-op unless open.
  void Drain();
  // Takes trace text (whole lines and a partial last one): Drain's parser, public for tests.
  void Feed(std::string_view text);
  // Disables the event and removes the instance. Idempotent.
  void Close();

  bool open() const { return fd_ >= 0; }
  // The latest interrupt seen (CLOCK_MONOTONIC ns), 0 before any: the trace covers up to it.
  std::int64_t last_ns() const { return last_ns_; }
  // The latest interrupt read on every CPU seen (the least of their latest), 0 before any: each
  // CPU's trace covers up to it.
  std::int64_t every_cpu_last_ns() const;
  // The time in [from_ns, to_ns] that no CPU executed, as far as the interrupts prove it: over
  // every gap with no interrupt on any CPU, its overlap with the interval less one tick. -1 when
  // the trace does not cover the interval (no interrupt seen after to_ns, or one before from_ns
  // no longer kept, or a loss reported in it).
  std::int64_t StoppedNs(std::int64_t from_ns, std::int64_t to_ns) const;
  // Per CPU (index: the CPU; those that took no interrupt yet are absent), the time in [from_ns,
  // to_ns] that it did not execute: over its gaps, each overlap less the allowance; -1 for a CPU
  // whose trace does not cover the interval (as StoppedNs).
  std::vector<std::int64_t> NotExecutedNs(std::int64_t from_ns, std::int64_t to_ns) const;
  // The longest a CPU that executes goes without a timer interrupt: GapAllowance(tick).
  std::int64_t allowance() const;
  std::uint64_t lost_reports() const { return lost_reports_; }
  const Options& options() const { return options_; }

 private:
  struct Gap {
    std::int64_t begin_ns = 0, end_ns = 0;
  };
  struct Cpu {
    std::int64_t first_ns = 0, last_ns = 0;  // as first_ns_, last_ns_, for this CPU
    std::deque<Gap> gaps;                    // its own gaps, the latest kGaps
  };
  void Line(std::string_view line);
  void Interrupt(std::int64_t t_ns);
  void CpuInterrupt(int cpu, std::int64_t t_ns);

  Duration tick_;
  Options options_;
  TracefsInstance instance_;
  int fd_ = -1;      // its trace_pipe
  std::string partial_;
  std::string buffer_;
  std::int64_t last_ns_ = 0;
  std::int64_t first_ns_ = 0;  // the trace covers from here (its start, a loss, a gap dropped)
  bool lost_ = false;          // a loss reported since the last interrupt read
  std::uint64_t lost_reports_ = 0;
  std::deque<Gap> gaps_;
  std::vector<Cpu> cpus_;
};

// The longest a CPU that executes goes without a timer interrupt while a timer that fires every
// `timer_period` (or sooner) is armed on it: that period and TimerInterrupts::kHeldOff. For the
// scheduler's tick, everywhere (5 ms at CONFIG_HZ=250); for a lifeguard's timer (lifeguard.h,
// 1 ms), where the trace shows it armed on that CPU (task_switches.h: 2 ms). Beyond it, silence
// is time the CPU did not execute.
constexpr Duration GapAllowance(Duration timer_period) { return timer_period + TimerInterrupts::kHeldOff; }

// The tracer's text: "58529.624031" (seconds, microseconds at clock mono) as ns, -1 if not that;
// the CPU in brackets of a line's head ("   ld-17044   [001] d.h.."), -1 if none.
std::int64_t ParseTraceStamp(std::string_view s);
int ParseTraceCpu(std::string_view head);

// Of a gap [begin_ns, end_ns] with no sign of execution, the part within [from_ns, to_ns] beyond
// `allowance_ns`: the time it proves not executed there.
std::int64_t GapBeyond(std::int64_t begin_ns, std::int64_t end_ns, std::int64_t from_ns, std::int64_t to_ns,
                       std::int64_t allowance_ns);

}  // namespace pbxstate::emu
