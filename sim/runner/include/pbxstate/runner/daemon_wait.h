// How late the real daemons of a namespace run (netns, emu) ran: Linux keeps, per thread, the time
// it spent runnable but waiting for a CPU (the second field of /proc/PID/task/TID/schedstat, in
// ns). The runner samples it for every corosync and pbxstated, all their threads, every
// kDaemonWaitInterval of the scenario, and run.json's "daemon_wait" records per node and daemon
// the most its threads waited between two samples, when, and the total (harness::DaemonWaits).
//
// Contract: ParseSchedstat and WaitTally are pure (unit-tested); ReadThreadWaits reads /proc and
// does at most kMaxSampledThreads + 1 opens per process, holding at most kMaxSampledThreads
// threads, and counts the threads past that bound instead of reading them; DaemonWaitSampler is
// driven from one thread (the runner's driver) and never fails the run: a kernel without
// schedstat gives no record and a note saying why.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/harness/run_record.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::runner {

// The sampling period, on the scenario's clock: a tenth of the PBX-tuned token (1 s), so a stall
// is placed within a fault's window, and long enough that sampling stays a few percent of the
// driver's time (one sample of a 3-node run, 6 processes and about 30 threads, took at most 0.4
// to 4.0 ms per run: sim/ns3/README.md, "The daemons' wait for a CPU").
inline constexpr Duration kDaemonWaitInterval = std::chrono::milliseconds(100);
// The most one daemon's threads may have waited for a CPU, summed, within one interval for the
// run's timings to count as the daemons' rather than the host's: reports/calibration.py leaves a
// run over it out of the calibration. Chosen from measured emu runs of the failover pairs
// (sim/ns3/README.md, "The daemons' wait for a CPU"): daemons that kept up, on a host at load 4
// to 10, waited at most 9 to 41 ms; starved ones (by the host, or lowered to nice 19 or
// SCHED_IDLE by hand: delivery p50 14 to 76 ms, the missed row's symptom) 65 to 817 ms.
// Exported by `pbxstate describe-metrics`.
inline constexpr Duration kMaxDaemonWait = std::chrono::milliseconds(50);
// Threads read per process and sample: corosync 3.1.7 with knet runs about ten, pbxstated a few.
// A daemon with more is read in part, always the same part while its threads live (the lowest
// thread ids: the oldest threads, the daemon's own), and its record counts the threads left
// unread (DaemonWait::threads_unread), so a wait of theirs is never silently missing. Exported by
// `pbxstate describe-metrics`.
inline constexpr std::size_t kMaxSampledThreads = 64;

// One thread's cumulative run-queue wait.
struct ThreadWait {
  pid_t tid = 0;
  std::uint64_t wait_ns = 0;
};

// The run-queue wait of a schedstat file's text ("<on-cpu ns> <run-queue wait ns> <timeslices>\n").
// Fails, naming `file` and the field, on anything else.
Status ParseSchedstat(std::string_view text, const std::string& file, std::uint64_t* wait_ns);

// One daemon's wait over a run from successive samples of its threads. Each thread's growth since
// the previous sample counts for the interval ending at the new one. A thread that was not in the
// previous sample (the first sample's every thread, a new thread, a restarted daemon's, one read
// again after a sample that left it out) or whose count went down (its id reused by a new thread)
// sets its base there and counts nothing in that interval: its count holds all it ever waited,
// since a moment no sample saw (bring-up, a previous interval), which is no one interval's wait.
class WaitTally {
 public:
  // `threads` as read at scenario time `t`, `unread` the threads of the daemon left unread then
  // (ReadThreadWaits); samples come in time order.
  void Add(Duration t, std::vector<ThreadWait> threads, std::uint32_t unread = 0);
  bool based() const { return based_; }
  Duration worst() const { return worst_; }
  Duration worst_at() const { return worst_at_; }
  Duration total() const { return total_; }
  std::uint32_t threads() const { return threads_; }
  // The most threads one sample left unread (0: every thread was read every time).
  std::uint32_t threads_unread() const { return threads_unread_; }

 private:
  bool based_ = false;
  std::vector<ThreadWait> last_;  // sorted by tid
  Duration worst_{}, worst_at_{}, total_{};
  std::uint32_t threads_ = 0, threads_unread_ = 0;
};

// The kMaxSampledThreads lowest-numbered threads of process `pid` and their waits, into `out`
// (cleared, sorted by tid); *unread is set to how many more threads the process listed. A process
// or thread that is gone reads as absent. Fails when a thread's schedstat cannot be read or
// parsed (a kernel without CONFIG_SCHED_INFO has none), naming the file.
Status ReadThreadWaits(pid_t pid, std::vector<ThreadWait>* out, std::uint32_t* unread);

// The daemons one run samples, each node's corosync and pbxstated.
enum class Daemon { kCorosync, kPbxstated };
std::string_view DaemonName(Daemon d);

class DaemonWaitSampler {
 public:
  // The live process of node n's daemon d, or 0 when none runs.
  using PidOf = std::function<pid_t(NodeId n, Daemon d)>;
  DaemonWaitSampler(std::uint32_t nodes, PidOf pid_of);

  // Samples every daemon when `t` (scenario time) is at or past the next sample's time; the first
  // call (at time 0) is the base. Once a read fails, sampling stops for the run (unavailable()).
  void MaybeSample(Duration t);
  // The record of the run up to the last sample; nullopt when the kernel did not give it.
  std::optional<harness::DaemonWaits> Record() const;
  // Why there is no record ("" when there is one).
  const std::string& unavailable() const { return unavailable_; }

 private:
  PidOf pid_of_;
  std::vector<WaitTally> tallies_;  // node n's daemon d at 2 (n - 1) + d
  std::optional<Duration> last_t_;
  Duration next_{};
  std::uint64_t samples_ = 0;
  Duration longest_interval_{}, longest_sample_{};
  std::string unavailable_;
  std::vector<ThreadWait> scratch_;
  std::uint32_t scratch_unread_ = 0;
};

}  // namespace pbxstate::runner
