// TimerInterrupts: when no CPU of the machine took a timer interrupt (sim/emu/README.md, "Pauses
// told by the timer interrupts"). A CPU that executes takes the local timer interrupt at least every
// scheduler tick (1/CONFIG_HZ; 4 ms here) whatever it runs, a system call that does not yield
// included, and the lifeguards' 1 ms timers make it every millisecond on an idle one; so a stretch
// in which no CPU took one for longer than a tick is a stretch in which the machine did not
// execute at all, less at most one tick (Options::tick). The guest charges such a pause to whatever task was on
// the CPU (its CPU clock runs on), which is why the simulation's CPU time cannot tell it.
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

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::emu {

class TimerInterrupts {
 public:
  struct Options {
    std::string tracefs = "/sys/kernel/tracing";
    std::string instance;             // created under tracefs/instances; it must not exist
    int buffer_kb_per_cpu = 256;      // about 5 s of 2,000 interrupts/s a CPU
    // The longest a CPU that executes goes without one: its tick (4 ms: CONFIG_HZ=250 in this
    // kernel's /proc/config.gz) and 1 ms for an interrupt held off (a held CPU's tick came 4.003 ms
    // apart in the recorded trace).
    Duration tick = std::chrono::milliseconds(5);
  };
  static constexpr std::size_t kGaps = 1024;          // kept, the latest (past a stall is seconds)
  static constexpr std::size_t kDrainBytes = 1 << 20;  // read per Drain at most
  static constexpr std::size_t kLine = 512;           // a longer line is not an event of ours

  TimerInterrupts() = default;
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
  // The time in [from_ns, to_ns] that no CPU executed, as far as the interrupts prove it: over
  // every gap with no interrupt on any CPU, its overlap with the interval less one tick. -1 when
  // the trace does not cover the interval (no interrupt seen after to_ns, or one before from_ns
  // no longer kept, or a loss reported in it).
  std::int64_t StoppedNs(std::int64_t from_ns, std::int64_t to_ns) const;
  std::uint64_t lost_reports() const { return lost_reports_; }
  const Options& options() const { return options_; }

 private:
  struct Gap {
    std::int64_t begin_ns = 0, end_ns = 0;
  };
  void Line(std::string_view line);
  void Interrupt(std::int64_t t_ns);
  Status Write(const std::string& file, std::string_view value) const;

  Options options_;
  std::string dir_;  // the instance, while it exists
  int fd_ = -1;      // its trace_pipe
  std::string partial_;
  std::string buffer_;
  std::int64_t last_ns_ = 0;
  std::int64_t first_ns_ = 0;  // the trace covers from here (its start, a loss, a gap dropped)
  bool lost_ = false;          // a loss reported since the last interrupt read
  std::uint64_t lost_reports_ = 0;
  std::deque<Gap> gaps_;
};

}  // namespace pbxstate::emu
