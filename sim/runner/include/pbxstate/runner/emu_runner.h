// Runs a scenario on emulated hosts (--backend emu): one network namespace per node running the
// real corosync and the real pbxstated, started and driven exactly as the netns backend does, whose
// network card is a TAP device attached to the scenario's own ns-3 world running in real time
// (sim/emu). Everything the world models acts on the real traffic: LAN and WAN delay, link jitter,
// loss, rate, partitions (one-way too), several sites with routers, isolation, degradations; the
// faults are the world's own fault code (ns3_mapping.h), crashes and restarts are the daemons'.
// Same workload driver, recorder, oracle, calls, run record, report and JUnit as the netns backend.
//
// Real time must be real: ns-3 runs events at their wall-clock time only while it keeps up. A probe
// measures, every millisecond, how late the simulator runs; the run record carries the lag
// (run.json "realtime") and a run whose worst lag over the scenario (time 0 to the end) exceeds
// EmuOptions::max_lag is invalid: its timings were distorted by the harness, not by the network it
// was given. It is still recorded and reported; the caller exits 2 (RunOutcome::invalid).
#pragma once

#include "pbxstate/netns/names.h"
#include "pbxstate/runner/netns_runner.h"
#include "pbxstate/runner/run.h"

namespace pbxstate::runner {

// At most this many nodes (the namespace builder's bound for attached interfaces). What one host
// really holds is smaller and is judged by the lag bound on every run (sim/ns3/README.md,
// "Emulation", has the figures for the machine this project is built on).
inline constexpr std::uint32_t kMaxEmuNodes = netns::kMaxAttachedNodes;

struct EmuOptions {
  NetnsOptions netns;  // the daemon, corosync's transport, --crash-corosync, the work folder
  // The largest lag of the simulator behind the wall clock a valid run may have (--max-lag).
  Duration max_lag = std::chrono::milliseconds(10);
  Duration lag_probe_interval = std::chrono::milliseconds(1);
  // SCHED_FIFO priority of the simulation thread (--emu-priority; 0: ordinary scheduling, and no
  // watchdog). emu::EmulationSpec has what goes with it.
  int realtime_priority = 50;
  // Lock the harness's memory while the emulation runs (--emu-no-mlock turns it off).
  bool lock_memory = true;
  // Move the simulation thread to another CPU when it is kept from running (emu::Lifeguard;
  // --emu-no-lifeguard turns it off).
  bool lifeguard = true;
  // Whether each corosync runs itself at SCHED_RR 99 (Corosync's default; --emu-corosync-rr) or
  // at ordinary scheduling, below the simulation thread (the default here): corosyncs at RR 99
  // preempt the simulator whenever the ring changes, and its lag spiked then (sim/emu/README.md).
  bool corosync_sched_rr = false;
};

// Refuses, before anything starts, what the emulation backend cannot honour; the message names
// the file, line and field. (The host's own support is checked by RunEmu: root, tools, TUN.)
Status CheckEmuSupport(const scenario::Scenario& s, const EmuOptions& options);

// Runs `s`; fails (nothing started) when the scenario or the host is not supported or the daemon
// is not found, and fails after teardown when the run could not go on (a daemon died, an
// interrupt). A completed run is recorded; when its lag exceeded the bound, outcome->invalid says
// so and the status is still Ok.
Status RunEmu(const scenario::Scenario& s, const RunOptions& options, RunOutcome* outcome,
              const EmuOptions& emu_options = {});

}  // namespace pbxstate::runner
