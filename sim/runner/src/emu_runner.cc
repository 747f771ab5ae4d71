// RunEmu, the emulation backend's entry point (emu_runner.h): the netns backend's run of real
// daemons (NetnsRun) on an emulated network (EmuNetwork: the scenario's ns-3 world in real time,
// sim/emu), and what the backend refuses before anything starts.
#include "pbxstate/runner/emu_runner.h"

#include <unistd.h>

#include <cstdio>
#include <optional>

#include "netns_run.h"
#include "run_steps.h"
#include "ns3_mapping.h"
#include "pbxstate/emu/network.h"
#include "pbxstate/netns/interrupt.h"
#include "pbxstate/netns/pbxstated_config.h"

namespace pbxstate::runner {

using scenario::Scenario;

namespace netns_run {
namespace {

double Ms(Duration d) { return static_cast<double>(d.count()) / 1e6; }

std::string LagText(const ns3sim::LagStats& l) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "ns-3 lag worst %.2f ms, p99 %.2f ms", Ms(l.worst), Ms(l.p99));
  return buf;
}

// A stall that stopped the whole machine stops the driver with the daemons and the network: it
// delays the workload as a driver this late does, which a valid run already allows.
constexpr Duration kMaxMachinePause = kMaxChangeLateness;

// Counts the stalls over r->bound among the witness's spells, and those of them that stopped the whole
// machine within kMaxMachinePause. When the spells kept (the longest LagWitness::kSpells) may
// leave out one over the bound, or a late probe went unattributed, none is excused.
// Stalls due after `end_mono_ns` (the scenario's end: its lag is frozen there) are not counted.
// Unless `readers_below` (the hosts' readers run below the lifeguards), none is excused either: a
// reader could have kept the lifeguards off.
void CountOverBound(const emu::EmulatedNetwork& net, std::int64_t end_mono_ns, bool readers_below,
                    harness::RealtimeLag* r) {
  r->machine_pause_bound = kMaxMachinePause;
  const std::vector<emu::LagSpell> spells = net.lag_spells();
  for (const emu::LagSpell& s : spells) {
    if (s.lag <= r->bound || s.due_mono_ns > end_mono_ns) continue;
    ++r->over_bound;
    if (emu::StoppedTheWholeMachine(s.cause) && s.lag <= kMaxMachinePause) ++r->over_bound_machine;
  }
  const bool all_kept = spells.size() < emu::LagWitness::kSpells && net.lag_unattributed() == 0;
  // Under kLateProbe a lag is not attributed: with a bound that small, what went over it is unknown.
  if (!all_kept || !readers_below || r->over_bound == 0 || r->bound < ns3sim::kLateProbe) r->over_bound_machine = 0;
}

// What the host said about the lags (emu::LagWitness): the lags over 1 ms (the longest kept), and
// the count of all of them by cause; `t0_mono_ns` is the scenario's time 0.
void AttributeLags(const emu::EmulatedNetwork& net, std::int64_t t0_mono_ns, harness::RealtimeLag* r) {
  const std::array<std::uint64_t, emu::kLagCauses> counts = net.lag_causes();
  for (std::size_t c = 0; c < counts.size(); ++c) {
    r->causes_over_1ms.emplace_back(emu::LagCauseName(static_cast<emu::LagCause>(c)), counts[c]);
  }
  r->causes_over_1ms.emplace_back("unattributed", net.lag_unattributed());
  r->timer_interrupts_traced = net.interrupts_traced().ok();
  r->timer_interrupt_losses = net.interrupt_losses();
  r->kernel_tick = net.kernel_tick();
  for (const emu::LagSpell& s : net.lag_spells()) {
    harness::LagSpellRecord rec;
    rec.lag = s.lag;
    rec.at = Duration(s.due_mono_ns - t0_mono_ns);
    rec.sampled = s.witness.sampled;
    rec.steal_every_cpu = s.witness.steal_every_cpu;
    rec.steal_window = s.witness.window;
    rec.lifeguard_gap = s.witness.lifeguard_gap;
    if (s.witness.simulation_read) rec.simulation_ran = s.witness.simulation_ran;
    if (s.witness.interrupts_read) rec.no_timer_interrupt = s.witness.no_interrupt;
    if (s.witness.every_cpu_read) rec.not_executed_every_cpu = s.witness.not_executed_every_cpu;
    for (const emu::CpuTasks& c : s.witness.cpus) {
      harness::LagSpellRecord::Cpu& out = rec.cpus.emplace_back();
      out = {c.cpu, c.known, c.switches, c.followed_woken, c.not_executed, c.idle, c.other_tasks, {}};
      for (const emu::TaskTime& t : c.top) out.top.push_back({t.comm, t.pid, t.prio, t.ran});
    }
    rec.cause = emu::LagCauseName(s.cause);
    rec.why = emu::DescribeLagCause(s.cause, s.witness);
    r->spells.push_back(std::move(rec));
  }
}

}  // namespace

// The emulation backend's network: the world's own fault code, run in the simulation's thread.
class EmuNetwork final : public RunNetwork {
 public:
  EmuNetwork(const Scenario& s, emu::EmulatedNetwork* net, const EmuOptions& options)
      : s_(s), net_(net), options_(options) {}
  std::string backend() const override { return "emu"; }

  Status Apply(const scenario::Fault& f, std::int64_t* t_mono_ns) override {
    const Scenario& s = s_;
    return net_->Call([&s, f](ns3sim::Ns3World& world) { return ApplyNetworkFault(s, f, world); }, t_mono_ns);
  }

  // The lag is measured over the scenario (bring-up is not part of it).
  void Started(std::int64_t t0_mono_ns) override {
    t0_mono_ns_ = t0_mono_ns;
    bringup_ = net_->lag();
    readers_moved_ = net_->PutReadersBelowLifeguards(&readers_below_);
    net_->ResetLag();
  }

  // Measured on mailbox-heal-100k (sim/emu/README.md, "The driver never waits"): a minute of
  // final dumps of 100,000 mailboxes from 20 daemons after the end once took the lag to 57 ms.
  void Ended() override {
    lag_at_end_ = net_->lag();
    end_mono_ns_ = emu::MonotonicNs();
  }

  std::string Progress() const override { return LagText(lag_at_end_.value_or(net_->lag())); }

  void Describe(harness::RunInfo* info) const override {
    const ns3sim::LagStats l = lag_at_end_.value_or(net_->lag());
    harness::RealtimeLag r;
    r.interval = l.interval;
    r.probes = l.probes;
    r.worst = l.worst;
    r.worst_at = Duration(net_->origin_mono_ns() + l.worst_at.count() - t0_mono_ns_);
    r.p50 = l.p50;
    r.p99 = l.p99;
    r.over_1ms = l.over_1ms;
    r.bound = options_.max_lag;
    r.bringup_worst = bringup_.worst;
    r.bringup_over_1ms = bringup_.over_1ms;
    AttributeLags(*net_, t0_mono_ns_, &r);
    CountOverBound(*net_, end_mono_ns_.value_or(emu::MonotonicNs()), readers_moved_.ok(), &r);
    if (r.worst > r.bound && r.valid()) {
      info->notes.push_back("emulated network: " + std::to_string(r.over_bound) + " stalls over the lag bound (" +
                            Seconds(r.bound) + "), the longest " + Seconds(r.worst) +
                            ", each one in which the whole machine stopped (the hypervisor's, or no CPU took a "
                            "timer interrupt, or without that trace no CPU ran a lifeguard nor the simulation) for at most " + Seconds(r.machine_pause_bound) +
                            ": the daemons, the driver and the network stopped together; the run stays valid");
    }
    info->realtime = r;
    const ns3sim::EmuCounters c = net_->counters();
    info->notes.push_back("emulated network: ns-3 in real time, " + std::to_string(c.frames_from_hosts) +
                          " frames from the hosts and " + std::to_string(c.frames_to_hosts) + " to them, " +
                          std::to_string(c.dropped_isolated) + " dropped while isolated, " +
                          std::to_string(c.dropped_send) + " refused by a full queue, " +
                          std::to_string(c.dropped_wan_queue) + " dropped by a WAN link's queue and " +
                          std::to_string(c.dropped_lan_queue) + " by a LAN device's; " + LagText(l) + " (bound " +
                          Seconds(options_.max_lag) + ")");
    const std::vector<ns3sim::EmuCounters> by_node = net_->node_counters();
    for (harness::HostLoss& h : info->hosts) {
      if (h.node >= 1 && h.node <= by_node.size()) h.emu_refused = by_node[h.node - 1].dropped_send;
    }
    if (net_->lifeguard_on()) {
      info->notes.push_back("emulated network: the lifeguard moved the simulation thread to another CPU " +
                            std::to_string(net_->lifeguard_rescues()) +
                            " times (its CPU held by an ordinary task's system call); no CPU ran a lifeguard for up to " +
                            Seconds(net_->lifeguard_held_worst()) + " (from " +
                            Seconds(Duration(net_->origin_mono_ns() + net_->lifeguard_held_at().count() - t0_mono_ns_)) +
                            " of the scenario): a lag that long then was no CPU's to give (every CPU in a system call, "
                            "or the machine paused)");
    }
    info->notes.push_back(net_->interrupts_traced().ok()
                              ? "emulated network: every CPU's timer interrupts traced (the kernel's tick " +
                                    Seconds(net_->kernel_tick()) + "), " + std::to_string(net_->interrupt_losses()) +
                                    " losses reported by the tracer; the task switches " +
                                    (net_->switches_traced().ok() ? "recorded" : net_->switches_traced().message())
                              : "emulated network: timer interrupts not traced: " + net_->interrupts_traced().message());
    if (net_->idle_polling().ok()) {
      const emu::IdleEntries e = net_->idle_entries();
      info->notes.push_back(
          "emulated network: CPU latency request 0 held (idle CPUs poll rather than halt): " +
          (net_->idle_counted().ok() ? std::to_string(e.polls) + " polls and " + std::to_string(e.halts) + " halts on " +
                                           std::to_string(e.cpus) + " CPUs since the start"
                                     : "the idle states not counted: " + net_->idle_counted().message()));
    } else {
      info->notes.push_back("emulated network: idle CPUs not kept polling: " + net_->idle_polling().message());
    }
    info->notes.push_back(readers_moved_.ok() ? "emulated network: " + std::to_string(readers_below_) +
                                                    " reader threads put below the lifeguards at the scenario's start"
                                              : "emulated network: " + readers_moved_.message());
    if (net_->watchdog_fired()) {
      info->notes.push_back("emulated network: the real-time watchdog put a thread of the emulator back to ordinary "
                            "scheduling (it ran a second without sleeping)");
    }
  }

 private:
  const Scenario& s_;
  emu::EmulatedNetwork* net_;
  const EmuOptions& options_;
  std::int64_t t0_mono_ns_ = 0;
  std::optional<ns3sim::LagStats> lag_at_end_;  // the lag over the scenario, from its end on
  std::optional<std::int64_t> end_mono_ns_;     // CLOCK_MONOTONIC at the scenario's end
  ns3sim::LagStats bringup_;                     // the lag before the scenario's time 0
  // The readers put below the lifeguards at time 0; unless they were, no stall is excused.
  Status readers_moved_ = Status::Ok();
  std::size_t readers_below_ = 0;
};

}  // namespace netns_run

Status CheckEmuSupport(const Scenario& s, const EmuOptions& options) {
  if (Status st = CheckEngineSettings(s, MembershipSource::kTransport); !st.ok()) return st;
  if (s.topology.node_count() > kMaxEmuNodes) {
    return Where(s, s.topology.sites[0].pos, "cluster.nodes",
                 "the emu backend runs at most " + std::to_string(kMaxEmuNodes) +
                     " nodes (real processes on one host); this scenario has " + std::to_string(s.topology.node_count()));
  }
  if (s.topology.sites.size() > 1 && options.netns.corosync_transport == netns::CorosyncTransport::kUdp) {
    return Where(s, s.topology.sites[1].pos, "cluster.sites",
                 "corosync's udp transport is multicast, which the emulated routers do not forward between sites "
                 "(as routers without multicast routing do not): use --corosync-transport knet");
  }
  if (Status st = netns_run::CheckRealCluster(s, "emu"); !st.ok()) return st;
  if (options.max_lag <= Duration::zero()) return Status::InvalidArgument("--max-lag must be positive");
  if (Status st = netns_run::CheckChangeRate(s, "emu"); !st.ok()) return st;
  if (Status st = netns_run::CheckDaemonConfig(s); !st.ok()) return st;
  return CheckWorldDegrades(s, "the emulated network (ns-3)");
}

namespace {

// Everything after the checks: the emulated network, the namespaces, the run, and the teardown
// of both (the network first: closing the TAPs removes them from their namespaces).
Status RunOnEmulation(const Scenario& s, const RunOptions& options, RunOutcome* outcome, const EmuOptions& eo,
                      const std::filesystem::path& daemon) {
  emu::EmulationSpec spec;
  spec.world = WorldConfigFor(s);
  // The world's engines are never started (the daemons are the engines): default settings.
  spec.world.engine = EngineConfig{};
  spec.world.engine.max_nodes = std::max<std::size_t>(spec.world.engine.max_nodes, s.topology.node_count());
  spec.lag_probe_interval = eo.lag_probe_interval;
  spec.realtime_priority = eo.realtime_priority;
  spec.lock_memory = eo.lock_memory;
  spec.lifeguard = eo.lifeguard;
  spec.trace_switches_over = eo.max_lag;
  if (options.out) spec.trace_switches_dir = (*options.out / "stall-traces").string();
  std::unique_ptr<emu::EmulatedNetwork> net;
  if (Status st = emu::EmulatedNetwork::Create(spec, &net); !st.ok()) return st;

  netns::ClusterSpec cs;
  cs.link = netns::NodeLink::kAttached;
  cs.addresses = net->Addresses();
  cs.nodes = s.topology.node_count();
  cs.work_dir = !eo.netns.work_dir.empty() ? eo.netns.work_dir
                : options.out               ? *options.out / "emu"
                                            : std::filesystem::temp_directory_path();
  cs.totem = netns_run::TotemSettings(s, eo.netns);
  cs.corosync_sched_rr = eo.corosync_sched_rr;
  std::unique_ptr<netns::NetnsCluster> cluster;
  if (Status st = netns::NetnsCluster::Create(cs, &cluster); !st.ok()) return st;

  Status result = net->Attach(cluster.get());
  if (result.ok()) result = net->Start();
  if (result.ok()) {
    try {
      netns_run::EmuNetwork network(s, net.get(), eo);
      netns_run::NetnsRun run(s, options, eo.netns, daemon, cluster.get(), &network);
      result = run.Run(outcome);
    } catch (const std::exception& e) {
      result = Status::FailedPrecondition(std::string("emu run: ") + e.what());
    }
  }
  net->Stop();
  const Status down = cluster->Teardown();
  if (result.ok() && !down.ok()) return Status::FailedPrecondition("emu teardown: " + down.message());
  if (!down.ok()) std::fprintf(stderr, "emu teardown: %s\n", down.message().c_str());
  return result;
}

}  // namespace

Status RunEmu(const Scenario& scenario_in, const RunOptions& options, RunOutcome* outcome, const EmuOptions& eo) {
  Scenario s = scenario_in;
  if (options.seed) s.seed = *options.seed;
  // Each pbxstated reads it from a key file of its own (SpawnDaemon writes them, mode 0600).
  if (s.auth) s.engine.cluster_keys = {scenario::ScenarioClusterKey(s.seed)};
  if (Status st = CheckEmuSupport(s, eo); !st.ok()) return st;
  // pbxstated takes its membership from CPG: the run is judged by the views it reports.
  JudgeByTransportMembership(&s);
  s.detection = scenario::DetectionTime(s, scenario::Detector::kCorosync);
  std::filesystem::path daemon;
  if (Status st = FindPbxstated(eo.netns, &daemon); !st.ok()) return st;
  // From here on something may be created: SIGINT/SIGTERM only ask the run to stop.
  netns::InterruptGuard interrupts;
  if (Status st = netns::CheckHostSupport(); !st.ok()) return Status::FailedPrecondition("emu backend: " + st.message());
  if (access("/dev/net/tun", R_OK | W_OK) != 0) {
    return Status::FailedPrecondition("emu backend: no /dev/net/tun here: TAP devices cannot be made");
  }
  std::vector<std::string> removed;
  (void)netns::RemoveStaleRuns(&removed);
  if (options.progress) {
    for (const auto& r : removed) std::fprintf(stderr, "emu: removed a leftover of a killed run: %s\n", r.c_str());
  }
  if (Status st = RunOnEmulation(s, options, outcome, eo, daemon); !st.ok()) return st;
  const harness::RealtimeLag& lag = *outcome->info.realtime;
  if (!lag.valid()) {
    if (!outcome->invalid.empty()) outcome->invalid += "; ";
    outcome->invalid += "the emulated network ran up to " + netns_run::Seconds(lag.worst) + " behind the wall clock (at " +
                       netns_run::Seconds(lag.worst_at) + " of the scenario; bound " + netns_run::Seconds(lag.bound) +
                       ", --max-lag): its timings are the host's, not the network's. Fewer nodes, a less loaded "
                       "machine, or a larger --max-lag";
    // Why, for the first few over the bound (run.json has them all).
    constexpr std::size_t kNamed = 5;
    std::size_t named = 0, over = 0;
    for (const harness::LagSpellRecord& spell : lag.spells) {
      if (spell.lag <= lag.bound) continue;
      if (++over > kNamed) continue;
      outcome->invalid += "; " + netns_run::Seconds(spell.lag) + " at " + netns_run::Seconds(spell.at) + ": " + spell.why;
      ++named;
    }
    if (over > named) outcome->invalid += "; " + std::to_string(over - named) + " more over the bound (run.json)";
  }
  return Status::Ok();
}

}  // namespace pbxstate::runner
