// What the host says about an interval in which the simulation ran late (sim/emu/README.md, "Lag
// attributed to the machine"): how much CPU time the hypervisor took from each CPU (the steal
// column of /proc/stat) and whether any CPU ran a lifeguard, and the cause that follows.
//
// Pure functions: the sampling is LagWitness's (lag_witness.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/emu/task_switches.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::emu {

// Every CPU's steal time so far (/proc/stat's "cpuN" lines, 8th number, in clock ticks of
// `ticks_per_second`: sysconf(_SC_CLK_TCK), 100 here, so 10 ms steps), as nanoseconds, indexed by
// the N of its line (an offline CPU has no line: -1 at its index, kNoCpu). The summary "cpu" line
// is skipped. Fails naming the line and the field when a cpuN line is short or not a number, its
// N not below kStealCpus or seen before, or when there is none. `source` names the text in errors.
inline constexpr std::int64_t kNoCpu = -1;
inline constexpr int kStealCpus = 4096;
Status ParseStealNs(std::string_view proc_stat, long ticks_per_second, std::string_view source,
                    std::vector<std::int64_t>* steal_ns);

// Why the simulation ran late, from what the host says about that interval.
enum class LagCause : std::uint8_t {
  kUnknown,       // no reading of the host around it
  kHypervisor,    // every CPU lost at least half the lag to the hypervisor (steal)
  kEveryCpuHeld,  // no steal to speak of, and no CPU ran a lifeguard for half the lag or more
  kCpuHeld,       // neither: the simulation's CPU was held while another ran lifeguards
  // The whole machine stopped, the daemons with the network (a pause the hypervisor did not
  // account as steal): every CPU went without a timer interrupt (or a task switch) beyond its tick's
  // allowance for half the lag or more, each at its own times (timer_interrupts.h, task_switches.h).
  // Without that trace: as kEveryCpuHeld, and the simulation thread itself ran for less than half
  // the lag (nothing of the emulator held the CPUs: the readers run below the lifeguards).
  kMachineStopped,
};
inline constexpr std::size_t kLagCauses = 5;  // LagCause's values

// What the host said about one interval in which the simulation ran late.
struct HostWitness {
  bool sampled = false;             // steal was read before and after the interval
  Duration steal_every_cpu{};       // the least steal of any CPU over the readings' interval
  std::vector<Duration> steal_per_cpu;  // each CPU's over it, by CPU number, negative where unread (evidence: 10 ms steps)
  Duration window{};                // that interval (10 ms steps of readings, bracketing the lag)
  Duration lifeguard_gap{};         // the longest time no lifeguard ran on any CPU, beyond its period
  bool lifeguard = false;           // whether a lifeguard ran at all (else lifeguard_gap says nothing)
  // The CPU time the simulation thread had over `window`, when its clock was read (else no
  // kMachineStopped: the simulation may have been what ran).
  bool simulation_read = false;
  Duration simulation_ran{};
  // The time within the stall itself that no CPU executed, by the timer interrupts (each gap with
  // none on any CPU, less one tick), when the trace covered it; when read, it alone decides
  // kMachineStopped (the CPU clocks and lifeguards cannot tell a pause from a held CPU).
  bool interrupts_read = false;
  Duration no_interrupt{};
  // Per CPU, the time within the stall it showed no sign of executing (no timer interrupt, nor a
  // task switch where the switches were read, beyond the tick's allowance); the least of them,
  // when every CPU's trace covered the stall: it decides kMachineStopped.
  bool every_cpu_read = false;
  Duration not_executed_every_cpu{};
  // For a stall over the bound: what ran on each CPU (task_switches.h), else empty.
  std::vector<CpuTasks> cpus;
};

// The cause of a lag of `lag` given `w`: kHypervisor when w.sampled and 2 x w.steal_every_cpu >=
// lag; else, when w.interrupts_read and w.lifeguard, kMachineStopped if w.every_cpu_read and
// 2 x w.not_executed_every_cpu >= lag (a task's time on a CPU is its tick's interrupts: time
// taken by any process, the run's own included, is never the machine's)
// (the lifeguards' timers, every period on every CPU, are what makes an idle CPU take interrupts:
// NO_HZ_IDLE stops its tick; without them an idle machine would look stopped); else (kUnknown
// unless w.sampled), when a lifeguard ran and 2 x w.lifeguard_gap >= lag, kMachineStopped if the
// interrupts were not read, the simulation's clock was and 2 x w.simulation_ran < lag,
// kEveryCpuHeld if not; else kCpuHeld. Half, because steal is read in 10 ms steps and the lifeguards wake every period: a
// cause that accounts for half the lag is the larger part of it.
LagCause AttributeLag(Duration lag, const HostWitness& w);

// Takes a stall's snapshot of the switches (task_switches.h) into w->cpus. When it covers the
// stall on `online` CPUs or more, its per-CPU time not executing decides (it saw every timer
// interrupt the stream did, and the switches besides): w->every_cpu_read is set and
// w->not_executed_every_cpu is its least, even where the stream had not yet read a CPU past the
// stall (the first interrupt after a pause comes on one CPU before the other). Else w is kept.
void TakeCpuTasks(std::vector<CpuTasks> cpus, std::size_t online, HostWitness* w);

// "hypervisor", "every-cpu-held", "cpu-held", "machine-stopped", "unknown": run.json's names.
// Whether a stall of this cause stopped every process of the machine alike (the daemons, the
// network and the driver), not the emulator alone: kHypervisor and kMachineStopped.
bool StoppedTheWholeMachine(LagCause cause);
std::string_view LagCauseName(LagCause cause);

// A sentence for the run's invalid message: "the hypervisor stole 10 ms of every CPU", "no CPU
// ran a lifeguard for 12.1 ms (every CPU held, no steal)", "no CPU ran a lifeguard for 60.4 ms nor
// the simulation for more than 0.2 ms (the whole machine stopped, no steal)", "a CPU was held (a lifeguard ran on
// another; steal 0 ms)", "no reading of the host around it".
std::string DescribeLagCause(LagCause cause, const HostWitness& w);

// The first lines of a stall's kept trace (DIR/stall-MS.txt), '#' lines as the kernel's own header
// (SwitchTally skips them): the stall, its cause, and per CPU of w.cpus the evidence the witness
// had, the rule's and beside it: the longest silence whole, the time not executing beyond
// `allowance` (the tick's) or `lifeguard_allowance` where the lifeguard's timer was shown armed
// (zero: none told apart), the steal over the readings' window (/proc/stat's 10 ms steps: a stop
// shorter than a step may show as none). Evidence only; the cause is AttributeLag's.
std::string StallRecordHeader(std::int64_t due_mono_ns, Duration lag, LagCause cause, const HostWitness& w,
                              Duration allowance, Duration lifeguard_allowance);

// Writes a stall's record (its header, then its trace lines) to `path`, replacing it; fails naming
// the path and the error when it cannot be opened or written whole.
Status WriteStallRecord(const std::string& path, std::string_view header, std::string_view lines);

}  // namespace pbxstate::emu
