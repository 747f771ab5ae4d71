// The run record: what a run leaves in its output folder for people and programs.
//   run.json        scenario, seed, build identity, every metric, every check's verdict, each
//                   node's final digest; byte-identical for the same scenario, seed and build
//   timing.json     wall-clock figures (kept apart so run.json stays reproducible)
//   latencies.csv   one row per (change, receiving node), at most kMaxLatencyRows
//   changes.csv     one row per local change, with its stable latency when it became stable
//   state.jsonl     (on request) every node's final view and the full change log
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pbxstate/harness/recorder.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate {
class Engine;
}

namespace pbxstate::harness {

inline constexpr std::size_t kMaxLatencyRows = 5'000'000;

struct CheckVerdict {
  scenario::Check check;  // resolved: its threshold is the bound the run was held to
  // The failure-detection time added to the bound, when the check was written with "detection".
  std::optional<Duration> detection;
  bool measured = false;
  double observed = 0;
  bool pass = false;
  // Why the run was not held to the check, "not applicable on emu (the check is for ns3,
  // inproc)" or "not applicable on netns (heal_bytes is measured on ns3, inproc)"; empty when it
  // was. Such a check is neither passed nor failed.
  std::string not_applicable;

  bool applicable() const { return not_applicable.empty(); }
  // Whether the check counts against the run: applicable and not passed.
  bool failed() const { return applicable() && !pass; }
};

// Every check of the scenario against the run's metrics, a check written with "detection"
// bounded by `detection` (scenario::DetectionTime of the membership the run's engines had). A
// check on a metric the run did not measure fails (a check that cannot be evaluated must not
// pass). A check that names its backends and not `backend` (the run's, a name from
// scenario::kBackendNames), or whose metric `backend` does not measure (MetricInfo::measured_on),
// is not evaluated: not applicable, with the reason.
std::vector<CheckVerdict> EvaluateChecks(const scenario::Scenario& s, const RunResult& r, Duration detection,
                                         std::string_view backend);

// Network activity over time, sampled by the runner once per simulated second.
struct SeriesPoint {
  Duration t{};
  std::uint64_t frames = 0;  // put on the network in the second ending at t, whole cluster
  std::uint64_t bytes = 0;
  std::vector<std::uint64_t> frames_by_node;  // index node - 1
};

// Emulation (--backend emu): how far the real-time network simulator ran behind the wall clock,
// measured by a probe event every `interval`. A run whose worst lag exceeds `bound` does not
// measure the network it was given (frames were late by the harness's fault): it is invalid.
// One stall over 1 ms, and what the host said about its interval (sim/emu lag_witness.h).
struct LagSpellRecord {
  Duration lag{};
  Duration at{};              // scenario time the late probe was due
  bool sampled = false;       // steal was read before and after it
  Duration steal_every_cpu{};  // the least steal of any CPU over steal_window (10 ms steps)
  Duration steal_window{};
  Duration lifeguard_gap{};   // the longest time no lifeguard ran, beyond its period
  std::optional<Duration> simulation_ran;  // the simulation thread's CPU time over steal_window, when read
  // The time within the stall that no CPU took a timer interrupt (less a tick a gap): the machine
  // did not execute; when the interrupts were traced over it.
  std::optional<Duration> no_timer_interrupt;
  // The least over the CPUs of the time each did not execute within the stall (no timer interrupt
  // nor switch beyond the kernel's tick), when every CPU's trace covered it: what decides
  // "machine-stopped" (sim/emu host_steal.h).
  std::optional<Duration> not_executed_every_cpu;
  // For a stall over the bound: per CPU, the tasks on it by time (the longest few), the idle
  // task's time, and the time it did not execute (sim/emu task_switches.h).
  struct Task {
    std::string comm;
    int pid = 0, prio = -1;
    Duration ran{};
  };
  struct Cpu {
    int cpu = -1;
    bool known = false;
    std::uint32_t switches = 0, simulation_woken = 0;
    Duration not_executed{}, idle{}, other_tasks{};
    std::vector<Task> top;
  };
  std::vector<Cpu> cpus;
  std::string cause;          // "hypervisor", "machine-stopped", "every-cpu-held", "cpu-held", "unknown"
  std::string why;            // the cause in a sentence, for the invalid message
};

struct RealtimeLag {
  Duration interval{};
  std::uint64_t probes = 0;
  Duration worst{};
  Duration worst_at{};  // scenario time of the worst probe (negative: before time 0, at bring-up)
  Duration p50{}, p99{};
  std::uint64_t over_1ms = 0;
  Duration bound{};
  // Emulation: the simulation's stalls over 1 ms (a stall: the first late probe, not those queued
  // behind it), attributed (the longest 256: every lag over the bound among them), and the count of
  // all of them by cause (run.json names them); absent when nothing attributed the lags. And the worst lag and the probes over 1 ms during the bring-up (the
  // daemons started), before the scenario's time 0.
  std::vector<LagSpellRecord> spells;
  std::vector<std::pair<std::string, std::uint64_t>> causes_over_1ms;
  Duration bringup_worst{};
  std::uint64_t bringup_over_1ms = 0;
  // Emulation: whether every CPU's timer interrupts were traced (sim/emu timer_interrupts.h), and
  // how often the tracer reported events lost.
  bool timer_interrupts_traced = false;
  Duration kernel_tick{};  // the kernel's scheduler tick, read at the start (0: not read)
  std::uint64_t timer_interrupt_losses = 0;
  // Emulation: the stalls over `bound`, and how many of them stopped the whole machine (the
  // hypervisor's, machine-stopped: sim/emu lag_witness.h) for at most machine_pause_bound. Such a
  // stall stops the daemons, the driver and the network alike: it delays them all by the same
  // time instead of making the network late against the processes. A run whose every stall over
  // the bound is one of them, every one attributed, stays valid; the record and the report say so.
  Duration machine_pause_bound{};
  std::uint64_t over_bound = 0;
  std::uint64_t over_bound_machine = 0;
  bool valid() const { return worst <= bound || (over_bound > 0 && over_bound == over_bound_machine); }
};

// Namespace runs (--backend netns, emu): how late the workload driver made the planned changes,
// each change's issue time (when its request was sent to its daemon) minus its planned time. A
// run whose worst lateness exceeds `bound` did not run the scenario's workload on time (the
// harness was starved or the plan is more than it sustains): it is invalid.
struct DriverLateness {
  std::uint64_t changes = 0;  // changes issued (a change skipped on a node that is down is not)
  Duration worst{};
  Duration worst_at{};        // planned time of the latest change
  Duration p50{}, p99{};
  Duration bound{};
  // Emulation: the simulation's stalls over 1 ms (a stall: the first late probe, not those queued
  // behind it), attributed (the longest 256: every lag over the bound among them), and the count of
  // all of them by cause (run.json names them); absent when nothing attributed the lags. And the worst lag and the probes over 1 ms during the bring-up (the
  // daemons started), before the scenario's time 0.
  std::vector<LagSpellRecord> spells;
  std::vector<std::pair<std::string, std::uint64_t>> causes_over_1ms;
  Duration bringup_worst{};
  std::uint64_t bringup_over_1ms = 0;
  bool valid() const { return worst <= bound; }
};

// Namespace runs (netns, emu): how long each real daemon was kept from a CPU it was ready to run
// on, Linux's per-thread run-queue wait (/proc/PID/task/TID/schedstat), sampled every `interval`
// from the scenario's time 0 to its end. The emulator's lag measures the network, not the
// processes it carries: a daemon that waited was late whatever the network did, and its timings
// are the host's. Recorded, never a reason to mark the run invalid (sim/ns3/README.md,
// "Calibration against real corosync", says why); reports/calibration.py leaves a run whose worst
// exceeds `bound` out of the calibration. run.json's "daemon_wait".
struct DaemonWait {
  NodeId node = kNoNode;
  std::string daemon;      // "corosync", "pbxstated"
  Duration worst{};        // the most its threads waited, summed, between two samples
  Duration worst_at{};     // scenario time of the sample that ended that interval
  Duration total{};        // summed over the run
  std::uint32_t threads = 0;  // the most threads one sample read
  // The most threads one sample left unread: a daemon with more than `max_threads` threads is
  // read in part, and its figures leave out the waits of these (0: every thread read).
  std::uint32_t threads_unread = 0;
};
struct DaemonWaits {
  Duration interval{};          // the sampling period asked for
  std::uint64_t samples = 0;
  Duration longest_interval{};  // the longest between two samples (a late driver widens one)
  Duration longest_sample{};    // the longest one sample took to read
  Duration bound{};
  std::uint32_t max_threads = 0;    // the most threads read per daemon and sample
  std::vector<DaemonWait> daemons;  // by node, corosync first
  // The daemon that waited most within one interval (nullptr: none sampled).
  const DaemonWait* worst() const;
  bool within_bound() const { return worst() == nullptr || worst()->worst <= bound; }
};

// Namespace runs (netns, emu): what one node's host dropped on its own side of the wire, so that
// a run tells the host's loss from the network's: the kernel's counters read inside the node's
// namespace just before teardown, by name (netns::HostCounters defines them), and on emu what the
// emulator's port of the node refused (ns3sim::EmuCounters::dropped_send). run.json's "hosts".
struct HostLoss {
  NodeId node = kNoNode;
  std::vector<std::pair<std::string, std::uint64_t>> counters;
  std::optional<std::uint64_t> emu_refused;  // emu only
};

struct RunInfo {
  std::string backend;  // "ns3", "netns"
  // What the backend could not do exactly as the scenario says, one sentence each (run.json's
  // "backend_notes", present only when not empty).
  std::vector<std::string> notes;
  std::uint64_t seed = 0;
  // The run's end, Scenario::end() of the scenario as run (its quiet phase resolved for the
  // run's detection time: scenario.h).
  Duration end{};
  std::vector<SeriesPoint> series;
  double wall_seconds = 0;
  std::uint64_t events = 0;  // simulator events, when the backend counts them
  std::optional<RealtimeLag> realtime;  // emulation only (run.json's "realtime")
  std::optional<DriverLateness> driver;  // namespace runs only (run.json's "driver")
  std::vector<HostLoss> hosts;           // namespace runs only, by node (run.json's "hosts")
  std::optional<DaemonWaits> daemon_wait;  // namespace runs where the kernel keeps it ("daemon_wait")
};

// The build's identity: version, git commit at configure time, compiler, build type.
std::string BuildIdentity();

// Writes run.json, timing.json and latencies.csv into `dir` (created). Returns false and
// fills `error` when a file cannot be written.
bool WriteRunRecord(const std::filesystem::path& dir, const scenario::Scenario& s, const RunInfo& info,
                    const RunResult& r, const std::vector<CheckVerdict>& verdicts, std::string* error);

// Appends one node's final view to state.jsonl lines (one JSON object per line).
void AppendNodeState(std::vector<std::string>* lines, NodeId node, const Engine& engine);
// The same from a node's final view as data (a daemon's `dump`).
void AppendNodeState(std::vector<std::string>* lines, NodeId node, const FinalView& view);
// Appends the change log (one line per local change) to state.jsonl lines.
void AppendChangeLog(std::vector<std::string>* lines, const RunResult& r);
bool WriteLines(const std::filesystem::path& file, const std::vector<std::string>& lines, std::string* error);

}  // namespace pbxstate::harness
