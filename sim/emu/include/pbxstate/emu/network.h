// EmulatedNetwork: an Ns3World running in real time whose cluster nodes are the network cards of a
// NetnsCluster's namespaces (sim/ns3 emu.h, sim/netns tap.h). The namespaces run the real corosync
// and pbxstated; their frames cross the world's LANs, routers and links, so every delay, jitter,
// loss, rate and cut of the world acts on real traffic.
//
// Order of use (the emulation backend, sim/runner emu_runner.cc, and the tests):
//   1. Create(spec): the world is built (not running); interfaces() says each node's MAC, address,
//      prefix and gateway;
//   2. the caller builds a NetnsCluster with NodeLink::kAttached and those addresses;
//   3. Attach(cluster): a TAP per namespace, configured and handed to the node's FdNetDevice;
//   4. Start(): the simulation runs in real time on a thread of its own (SCHED_FIFO when asked,
//      inherited by the FdNetDevices' reader threads; memory locked, a watchdog: realtime.h),
//      with a lag probe and, at SCHED_FIFO, a lifeguard (lifeguard.h) fed by a heartbeat event;
//      each late probe is attributed to the machine (lag_witness.h);
//   5. Call(fn): faults and queries run in the simulation's thread, at the wall clock's now;
//   6. Stop() (also the destructor): the simulation stops, the world is destroyed and every TAP
//      closed (the devices vanish with their descriptors); then the caller tears the namespaces down.
// Not thread-safe: one thread (the harness) calls these; the simulation has its own.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "pbxstate/emu/lag_witness.h"
#include "pbxstate/emu/idle_polling.h"
#include "pbxstate/emu/lifeguard.h"
#include "pbxstate/emu/realtime.h"
#include "pbxstate/netns/cluster.h"
#include "pbxstate/ns3/emu.h"
#include "pbxstate/ns3/world.h"
#include "pbxstate/status.h"

namespace pbxstate::emu {

// How much later than its due time a heartbeat may be before the lifeguard moves the simulation:
// a probe's p99 lag is 0.07 to 0.3 ms here (sim/emu/README.md), the bound 10 ms.
inline constexpr Duration kLifeguardSlack = std::chrono::milliseconds(2);

struct EmulationSpec {
  ns3sim::WorldConfig world;  // sites, links, seed; its engines are never started
  // How often the simulation measures its lag behind the wall clock (RealtimeLagProbe).
  Duration lag_probe_interval = std::chrono::milliseconds(1);
  // SCHED_FIFO priority of the simulation thread (1..98; 0: ordinary scheduling), inherited by the
  // FdNetDevices' reader threads; the harness's calls into the simulation are raised to it while
  // they hold the simulation's locks (ScopedPriority). A real-time emulator must not wait behind
  // the host's ordinary load, or its lag is the machine's load rather than the network's.
  int realtime_priority = 0;
  // With realtime_priority > 0: a real-time thread of the process that runs this long without
  // sleeping is put back to ordinary scheduling (RealtimeGuard's watchdog, RLIMIT_RTTIME).
  Duration realtime_watchdog = std::chrono::seconds(1);
  // Lock the process's memory while the simulation runs (RealtimeGuard, mlockall).
  bool lock_memory = true;
  // With realtime_priority > 0 and two CPUs or more: a Lifeguard (a thread on each CPU, one
  // priority below the simulation) moves it to another CPU when its heartbeat (every lag_probe_interval) is older
  // than lag_probe_interval + kLifeguardSlack.
  bool lifeguard = true;
  // With realtime_priority > 0: ask the kernel for no idle exit latency while the simulation runs
  // (IdlePolling: idle CPUs poll instead of halting their virtual CPUs, so that a wake-up queued on
  // an idle CPU is taken at once); when the request is refused the run goes on without it.
  bool poll_idle = true;
  // With realtime_priority > 0: trace every CPU's timer interrupts (TimerInterrupts, an instance of
  // the kernel's tracer) so that the lag witness can tell a pause of the machine; off, or when the
  // tracer refuses, the stalls are attributed without it.
  bool trace_interrupts = true;
  // With the interrupts traced: also record the task switches (TaskSwitches) and, for each stall
  // longer than trace_switches_over (the run's bound), tell what ran on each CPU; the window's
  // trace lines go to trace_switches_dir when given (created).
  Duration trace_switches_over = std::chrono::milliseconds(10);
  std::string trace_switches_dir;
  // How long Call waits for the simulation thread.
  Duration call_timeout = std::chrono::seconds(10);
};

class EmulatedNetwork {
 public:
  // Builds the world in real time (SelectSimulator), holds its engines (EmulatedHosts). Fails
  // when the world does (another world exists, a bad config).
  static Status Create(const EmulationSpec& spec, std::unique_ptr<EmulatedNetwork>* out);
  ~EmulatedNetwork();
  EmulatedNetwork(const EmulatedNetwork&) = delete;
  EmulatedNetwork& operator=(const EmulatedNetwork&) = delete;

  // Node id - 1 -> the interface its namespace must have.
  const std::vector<ns3sim::HostInterface>& interfaces() const { return interfaces_; }
  // The addresses, in node order: what ClusterSpec::addresses must be.
  std::vector<std::string> Addresses() const;
  // Attaches every node of `cluster` (NodeLink::kAttached, as many nodes as the world). Before Start.
  Status Attach(netns::NetnsCluster* cluster);
  // Starts the simulation thread and the lag probe. Once.
  Status Start();
  bool running() const { return thread_.joinable(); }
  // Runs `fn` on the world in the simulation's thread, as soon as it can (the wall clock's now),
  // and returns its status; `*ran_mono_ns`, when given, is CLOCK_MONOTONIC when `fn` began. Fails
  // when the simulation is not running or does not get to it within spec.call_timeout.
  Status Call(std::function<Status(ns3sim::Ns3World&)> fn, std::int64_t* ran_mono_ns = nullptr);
  // The lag so far (any time while running, and after Stop). worst_at is simulated time, which
  // runs from the simulation's start: CLOCK_MONOTONIC origin_mono_ns() is simulated time 0.
  ns3sim::LagStats lag() const;
  // Whether the watchdog took real-time scheduling from a thread of this process (the simulation,
  // a reader) since Start.
  bool watchdog_fired() const;
  // Whether a lifeguard watched the simulation (spec.lifeguard, at SCHED_FIFO, two CPUs or more).
  bool lifeguard_on() const { return lifeguard_on_; }
  // How many times the lifeguard moved the simulation thread to another CPU (0 without one).
  std::uint64_t lifeguard_rescues() const { return lifeguard_.rescues(); }
  // The longest time no lifeguard thread ran on any CPU since ResetLag (Lifeguard::held_worst:
  // a lag as long at that instant was no CPU's to give) and when it began, in simulated time;
  // zero without a lifeguard.
  Duration lifeguard_held_worst() const { return lifeguard_.held_worst(); }
  Duration lifeguard_held_at() const { return Duration(lifeguard_.held_worst_at_mono_ns() - origin_mono_ns_); }
  // Every stall of the simulation over 1 ms since ResetLag, attributed to the machine (LagWitness:
  // the longest LagWitness::kSpells; due_mono_ns is CLOCK_MONOTONIC), the count by cause of all of
  // them, and the late probes lost to a full queue. Any time; complete after Stop.
  std::vector<LagSpell> lag_spells() const { return witness_.spells(); }
  std::array<std::uint64_t, kLagCauses> lag_causes() const { return witness_.counts(); }
  std::uint64_t lag_unattributed() const { return witness_.unrecorded(); }
  // Whether the timer interrupts were traced (spec.trace_interrupts): Ok, or why not; and how
  // many times the tracer reported events lost (each voids the trace before the next one read).
  const Status& interrupts_traced() const { return interrupts_traced_; }
  // The task switches likewise; once recorded, a stall's record that could not be written makes
  // it fail too, saying how many and the first error (LagWitness::records_written).
  Status switches_traced() const { return switches_traced_.ok() ? witness_.records_written() : switches_traced_; }
  std::uint64_t interrupt_losses() const { return interrupts_ ? interrupts_->lost_reports() : 0; }
  // Whether the idle CPUs were kept polling (spec.poll_idle): Ok, or why not; and the entries into
  // idle states since Start (read now while running, else at Stop): halts counts how often a CPU
  // halted anyway (zero when the request took on a cpuidle machine; cpus 0 without cpuidle).
  const Status& idle_polling() const { return idle_polling_; }
  IdleEntries idle_entries();
  // Whether idle_entries() could read the counters (Ok, or the file that failed; then it gives zeros).
  const Status& idle_counted() const { return idle_counted_; }
  // The kernel's tick read at Start (kernel_tick.h); zero when it could not be read (then nothing traced).
  Duration kernel_tick() const { return kernel_tick_; }
  // Puts every thread of this process at the simulation's priority but the simulation (the
  // FdNetDevices' readers, started with the simulation, which inherit its priority) two below it,
  // under the lifeguards: then a CPU on which no lifeguard runs is held by the simulation thread
  // or by something not the emulator's (LagCause::kMachineStopped). `*moved` counts them. Nothing
  // at ordinary scheduling (no lifeguards); fails at SCHED_FIFO 1 or 2 (no room below the
  // lifeguards). After the devices started (the run's time 0).
  Status PutReadersBelowLifeguards(std::size_t* moved);
  // Forgets the lag measured so far (the run's time 0: bring-up is not part of the measurement).
  void ResetLag();
  std::int64_t origin_mono_ns() const { return origin_mono_ns_; }
  // What the hosts' ports carried: read in the simulation's thread while it runs, else the
  // figures at Stop.
  ns3sim::EmuCounters counters();
  // The same per node (EmulatedHosts::node_counters), index node - 1.
  std::vector<ns3sim::EmuCounters> node_counters();
  // Stops the simulation, destroys the world (closing every TAP) and selects the discrete-event
  // simulator again for later worlds. Idempotent.
  void Stop();

 private:
  explicit EmulatedNetwork(const EmulationSpec& spec);
  void RunSimulation();
  // The simulation's heartbeat for the lifeguard: an event every lag_probe_interval, at the lag
  // probe's instants (one wake-up serves both).
  void Heartbeat();
  // Reads the kernel's tick and opens the tracer instances (TimerInterrupts, TaskSwitches) for
  // `wo`; what failed is in interrupts_traced_ / switches_traced_ (then the rest is not traced).
  void TraceCpus(LagWitness::Options* wo);
  // Asks for idle polling and reads the idle states' entries; what failed is in idle_polling_ and
  // idle_counted_ (a failed reading does not withdraw the request).
  void HoldIdlePolling();
  // The two readings of /proc/timer_list this far apart give the kernel's tick (kernel_tick.h).
  static constexpr Duration kTickReading = std::chrono::milliseconds(200);
  // A reading of the hosts' counters in the simulation's thread while it runs, else `at_stop`.
  template <typename T>
  T ReadHosts(T (ns3sim::EmulatedHosts::*read)() const, const T& at_stop);

  EmulationSpec spec_;
  std::unique_ptr<ns3sim::Ns3World> world_;
  std::unique_ptr<ns3sim::EmulatedHosts> hosts_;
  std::unique_ptr<ns3sim::RealtimeLagProbe> probe_;
  std::vector<ns3sim::HostInterface> interfaces_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  std::atomic<std::int64_t> origin_mono_ns_{0};
  ns3sim::LagStats final_lag_;
  ns3sim::EmuCounters counters_;
  std::vector<ns3sim::EmuCounters> node_counters_;
  RealtimeGuard guard_;  // from Start to Stop
  Lifeguard lifeguard_;  // from Start to Stop, when spec.lifeguard
  IdlePolling idle_;     // from Start to Stop, when spec.poll_idle
  Status idle_polling_ = Status::FailedPrecondition("idle polling: not asked for");
  Status idle_counted_ = Status::FailedPrecondition("idle states: not read");
  IdleEntries idle_at_start_;
  IdleEntries idle_at_stop_;  // since Start, once stopped
  std::unique_ptr<TimerInterrupts> interrupts_;  // from Start to Stop, read by witness_
  TaskSwitches switches_;                        // from Start to Stop, read by witness_
  Duration kernel_tick_{};
  Status interrupts_traced_ = Status::FailedPrecondition("timer interrupts: not traced");
  Status switches_traced_ = Status::FailedPrecondition("task switches: not traced");
  LagWitness witness_;   // from Start to Stop
  bool lifeguard_on_ = false;
  // The simulation thread, from Start: its id and its CPU-time clock (the lag witness reads it).
  pid_t simulation_tid_ = 0;
  clockid_t simulation_clock_{};
  std::atomic<bool> simulation_clock_set_{false};
};

}  // namespace pbxstate::emu
