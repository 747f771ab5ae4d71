// RunNetns, the backend's entry point (netns_runner.h), and the phases of one run.
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "netns_run.h"
#include "netns_start.h"
#include "pbxstate/netns/interrupt.h"
#include "pbxstate/netns/shaping.h"

namespace pbxstate::runner {

using scenario::Scenario;

namespace netns_run {

std::int64_t ClockNs(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

netns::NetemParams LanNetem(const scenario::LanParams& lan) {
  netns::NetemParams p;
  p.delay = lan.delay;
  p.loss = lan.loss;
  p.rate_bps = lan.bandwidth_bps;
  return p;
}

totem::TotemConfig TotemSettings(const Scenario& s, const NetnsOptions& o) {
  totem::TotemConfig t = s.corosync ? s.corosync->totem : totem::TotemConfig{};
  t.transport = o.corosync_transport;
  return t;
}

std::string TotemSummary(const Scenario& s, const NetnsOptions& o) {
  const totem::TotemTimeouts t = totem::DeriveTimeouts(TotemSettings(s, o), s.topology.node_count());
  return "token " + std::to_string(t.token.count() / 1'000'000) + " ms effective, consensus " +
         std::to_string(t.consensus.count() / 1'000'000) + " ms";
}

std::string LossHint(const Scenario& s) {
  double worst = 0;
  for (const scenario::Site& site : s.topology.sites) worst = std::max(worst, site.lan.loss);
  for (const scenario::SiteLink& link : s.topology.links) worst = std::max(worst, link.params.loss);
  if (worst <= 0) return {};
  char pct[32];
  std::snprintf(pct, sizeof pct, "%g %%", worst * 100);
  return std::string("\n(the scenario's network loses up to ") + pct +
         " of frames from the start: knet takes a link down when no pong came back for token / knet_pong_count, "
         "and totem forms a ring only over links that are up; real corosync may never form one there)";
}

Duration CorosyncFormationTimeout(const Scenario& s, const NetnsOptions& o) {
  const totem::TotemTimeouts t = totem::DeriveTimeouts(TotemSettings(s, o), s.topology.node_count());
  return kStartTimeout + 2 * t.token + t.consensus;
}

std::string Seconds(Duration d) {
  const double ns = static_cast<double>(d.count());
  char buf[32];
  // "%.3g" rounds 999.7 to "1e+03": a value that rounds up to the next unit is written in it.
  if (ns >= 999.5e6) {
    std::snprintf(buf, sizeof buf, "%.3g s", ns / 1e9);
  } else if (ns >= 999.5e3) {
    std::snprintf(buf, sizeof buf, "%.3g ms", ns / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g us", ns / 1e3);
  }
  return buf;
}

Status Interrupted() {
  return Status::FailedPrecondition(std::string("interrupted by ") +
                                    (netns::InterruptSignal() == SIGINT ? "SIGINT" : "SIGTERM") +
                                    "; the cluster is torn down and no record is written");
}

NetnsRun::NetnsRun(const Scenario& s, const RunOptions& o, const NetnsOptions& no, std::filesystem::path daemon,
                   netns::NetnsCluster* cluster, RunNetwork* network)
    : s_(s), options_(o), netns_options_(no), daemon_(std::move(daemon)), cluster_(cluster), network_(network),
      rec_(s, o.timelines.value_or(!s.faults.empty())),
      calls_(s.calls ? std::make_unique<Calls>(s) : nullptr),
      waits_(s.topology.node_count(),
             [cluster](NodeId n, Daemon d) -> pid_t {
               if (d == Daemon::kCorosync) return cluster->corosync(n).pid();
               const netns::ChildProcess* p = cluster->Process(n, netns::NetnsCluster::kDaemonProcess);
               return p == nullptr ? 0 : p->pid();
             }),
      nodes_(s.topology.node_count() + 1) {
  // A crash kills pbxstated alone unless --crash-corosync (or corosync.crash: node): its corosync
  // lives on and delivers what pbxstated handed it.
  if (!no.crash_corosync) rec_.TransportOutlivesCrashes();
  // Real corosync: its ring can stall under a cut without a view change (write_spread.h).
  rec_.TransportRingMayStall();
}

std::vector<NodeId> NetnsRun::AllNodes() const {
  std::vector<NodeId> all;
  for (NodeId n = 1; n < nodes_.size(); ++n) all.push_back(n);
  return all;
}

Status NetnsRun::BringUp() {
  const std::vector<NodeId> all = AllNodes();
  for (NodeId n : all) {
    if (Status st = cluster_->StartCorosync(n); !st.ok()) return st;
  }
  if (Status st = cluster_->WaitCorosyncMembers(all, CorosyncFormationTimeout(s_, netns_options_)); !st.ok()) {
    return netns::InterruptRequested() ? Interrupted() : Status::FailedPrecondition(st.message() + LossHint(s_));
  }
  for (NodeId n : all) {
    if (Status st = SpawnDaemon(n); !st.ok()) return st;
    if (Status st = FinishStart(n); !st.ok()) return st;
  }
  return WaitAllMembers(kStartTimeout);
}

Status NetnsRun::FirstPoll() {
  // Anything the daemons reported while starting (nothing: they start empty) is before time 0.
  for (NodeId n : AllNodes()) {
    bool closed = false;
    if (Status st = ReadEvents(n, &closed); !st.ok()) return st;
  }
  DropPending();
  return Status::Ok();
}

void NetnsRun::StartClock(std::int64_t t0_mono_ns) {
  const std::vector<NodeId> all = AllNodes();
  mono_start_ns_ = t0_mono_ns;
  wall_.realtime_at_start_ns = ClockNs(CLOCK_REALTIME);
  network_->Started(mono_start_ns_);
  waits_.MaybeSample(Duration{});  // the base: bring-up's waits are not the scenario's
  for (NodeId n : all) rec_.NodeStarted(Duration{}, n, nodes_[n].incarnation);
  // The CPG view each engine holds at time 0 (every node sees every other: WaitAllMembers).
  for (NodeId n : all) {
    if (auto v = HarnessMembership(nodes_[n].view, mono_start_ns_)) rec_.MembershipDelivered(v->t, n, v->members);
  }
  if (options_.progress) {
    std::fprintf(stderr, "%s: %s: %zu namespaces up (corosync %s, %s), running %s\n", s_.name.c_str(),
                 network_->backend().c_str(), all.size(),
                 std::string(netns::CorosyncTransportName(netns_options_.corosync_transport)).c_str(),
                 TotemSummary(s_, netns_options_).c_str(), Seconds(s_.end()).c_str());
  }
}

Status NetnsRun::Drive(const std::vector<harness::PlannedChange>& plan) {
  std::size_t next_change = 0, next_fault = 0;
  Duration next_sample = 1s;
  const Duration end = s_.end();
  for (;;) {
    if (netns::InterruptRequested()) return Interrupted();
    if (Status st = AdvanceCrashes(); !st.ok()) return st;
    // A (re)started daemon is subscribed to before this iteration's changes are made: a change
    // made first could reach its engine before the subscription, and the view change it caused
    // would never be seen (the node would count as behind until the key changed again).
    for (NodeId n : AllNodes()) {
      bool connected = false;
      if (!nodes_[n].starting) continue;
      const Duration began = Now();
      if (Status st = TryConnect(n, Duration{}, &connected); !st.ok()) return st;
      if (connected && Now() - began > worst_connect_) {
        worst_connect_ = Now() - began;
        worst_connect_node_ = n;
      }
    }
    const Duration now = Now();
    waits_.MaybeSample(now);
    // At one instant faults come before changes (scenarios/README.md).
    for (;;) {
      const bool fault_due = next_fault < s_.faults.size() && s_.faults[next_fault].at <= now;
      const bool change_due = next_change < plan.size() && plan[next_change].at <= now;
      if (fault_due && (!change_due || s_.faults[next_fault].at <= plan[next_change].at)) {
        if (Status st = ApplyFault(s_.faults[next_fault++]); !st.ok()) return st;
      } else if (change_due) {
        if (Status st = MakeChange(plan[next_change++]); !st.ok()) return st;
      } else {
        break;
      }
      if (Now() - now > kChangeSlice) break;  // keep reading events while a burst is being made
    }
    // One stats round at a time: a second that comes while the last is unanswered waits for it.
    if (sampling_ && std::chrono::steady_clock::now() - sampling_->asked > kCallTimeout) return FinishSampling();
    if ((now >= next_sample || now >= end) && !sampling_) {
      // One sample for the seconds that passed (a slow iteration may span more than one).
      while (next_sample + 1s <= std::min(now, end)) next_sample += 1s;
      // The engines' memory is read with the stats, after every instant up to now: the sample of
      // an instant a slow iteration passed is this read, made up to that iteration late.
      const Duration read_at = std::min(now, end);
      const std::optional<Duration> memory_at = MemorySampleInstant(s_, memory_read_until_, read_at);
      memory_read_until_ = read_at;
      if (Status st = Sample(std::min(next_sample, end), memory_at); !st.ok()) return st;
      if (options_.progress) {
        const std::string network = network_->Progress();
        std::fprintf(stderr, "%s: %.0f s of %.0f s, %zu of %zu changes made, harness lag %.1f ms%s%s\n", s_.name.c_str(),
                     static_cast<double>(std::min(now, end).count()) / 1e9, static_cast<double>(end.count()) / 1e9,
                     next_change, plan.size(), static_cast<double>(max_lag_.count()) / 1e6, network.empty() ? "" : ", ",
                     network.c_str());
      }
      next_sample += 1s;
    }
    Duration call_wake = end;
    if (calls_ != nullptr) {
      if (Status st = DriveCalls(std::min(Now(), end), &call_wake); !st.ok()) return st;
    }
    if (now >= end) break;
    Duration wake = std::min({end, next_sample, call_wake});
    if (next_fault < s_.faults.size()) wake = std::min(wake, s_.faults[next_fault].at);
    if (next_change < plan.size()) wake = std::min(wake, plan[next_change].at);
    if (Status st = PollEvents(std::clamp(wake - Now(), Duration{}, kMaxPoll)); !st.ok()) return st;
    if (Status st = CheckWaits(); !st.ok()) return st;
    Duration upto = Now() - kReorderHold;
    if (auto earliest = EarliestOutstanding()) upto = std::min(upto, *earliest - 1ns);
    if (auto unread = EarliestUnread()) upto = std::min(upto, *unread - 1ns);
    if (Status st = DeliverDue(upto, kEventSlice); !st.ok()) return st;
  }
  unmade_changes_ = plan.size() - next_change;
  unmade_faults_ = s_.faults.size() - next_fault;
  return Status::Ok();
}

Status NetnsRun::Drain() {
  for (NodeId n : AllNodes()) {
    if (Status st = FinishCrash(n); !st.ok()) return st;
  }
  // The end's stats (with the engines' memory at the end), when a round under way kept the
  // driver's loop from asking them.
  if (Status st = FinishSampling(); !st.ok()) return st;
  if (series_.empty() || series_.back().t < s_.end()) {
    const std::optional<Duration> memory_at = MemorySampleInstant(s_, memory_read_until_, s_.end());
    memory_read_until_ = s_.end();
    if (Status st = Sample(s_.end(), memory_at); !st.ok()) return st;
    if (Status st = FinishSampling(); !st.ok()) return st;
  }
  for (NodeId n : AllNodes()) {
    if (nodes_[n].starting) {
      if (Status st = FinishStart(n); !st.ok()) return st;
    }
    if (calls_ != nullptr && nodes_[n].up) {
      if (Status st = ReadLocates(n, true); !st.ok()) return st;
    }
  }
  if (Status st = FinishChanges(); !st.ok()) return st;
  // The hops of calls located after the driver's last turn, up to the end.
  Duration no_wake = s_.end();
  if (calls_ != nullptr) {
    if (Status st = DriveCalls(s_.end(), &no_wake); !st.ok()) return st;
  }
  // Whatever happened up to the end is in the streams within the hold, behind what a burst left
  // unread; read it all, then stop.
  const auto drain_until = std::chrono::steady_clock::now() + kReorderHold;
  while (std::chrono::steady_clock::now() < drain_until || EarliestUnread()) {
    if (std::chrono::steady_clock::now() > drain_until + kDrainBacklogTimeout) {
      return Status::ResourceExhausted(network_->backend() + " run: the event streams still held unread events " +
                                       Seconds(kDrainBacklogTimeout) + " after the end; the harness cannot keep up");
    }
    if (Status st = PollEvents(kMaxPoll); !st.ok()) return st;
  }
  // Events stamped after the end are not part of the run.
  return DeliverDue(s_.end(), Duration::max());
}

namespace {

// The nice value of the driver's thread while the daemons run at 0 or above: phones send their
// REGISTERs whatever their server's load, so the workload must not queue for the CPU behind the
// cluster it loads. Ten steps: a CFS weight of 9,548 against the daemons' 1,024. Measured on emu
// (sim/emu/README.md, "The heavy scenarios reshaped"): with the driver at the daemons' nice, a
// view change of 20 nodes (every engine exchanging digests at once) or a crash of a node holding
// 50,000 registrations held the driver back 0.86 to 0.98 s.
constexpr int kDriverNice = -10;

// Raises the calling (driver) thread above the daemons. SCHED_RESET_ON_FORK: what this thread
// starts from now on (corosync, pbxstated, their restarts) gets ordinary scheduling and a nice of
// at least 0, whatever this thread has. The emulator's threads were started before and keep their
// real-time priority above both.
Status RaiseDriverThread() {
  sched_param param{};
  if (sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &param) != 0 ||
      setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kDriverNice) != 0) {
    return Status::FailedPrecondition(std::string("cannot raise the workload driver above the daemons (nice ") +
                                      std::to_string(kDriverNice) + "): " + std::strerror(errno) +
                                      "; the netns and emu backends need CAP_SYS_NICE (root)");
  }
  return Status::Ok();
}

}  // namespace

Status NetnsRun::Run(RunOutcome* outcome) {
  wall_start_ = std::chrono::steady_clock::now();
  if (Status st = RaiseDriverThread(); !st.ok()) return st;
  std::vector<harness::PlannedChange> plan;
  StartSteps start;
  start.plan = [&] {
    plan = harness::ExpandWorkload(s_);
    lateness_.reserve(plan.size());
    return Status::Ok();
  };
  start.bring_up = [this] { return BringUp(); };
  start.first_poll = [this] { return FirstPoll(); };
  start.clock = [] { return ClockNs(CLOCK_MONOTONIC); };
  start.start_clock = [this](std::int64_t t0) { StartClock(t0); };
  std::int64_t t0 = 0;
  if (Status st = RunStart(start, &t0); !st.ok()) return st;
  if (Status st = Drive(plan); !st.ok()) return st;
  network_->Ended();
  // A harness that fell so far behind that planned changes or faults were never made has not run
  // the scenario: say so rather than measure a different one.
  if (unmade_changes_ > 0 || unmade_faults_ > 0) {
    return Status::FailedPrecondition(network_->backend() + " run: the harness fell behind on this host: " +
                                      std::to_string(unmade_changes_) + " changes and " + std::to_string(unmade_faults_) +
                                      " faults were not made by the end (lag " + Seconds(max_lag_) +
                                      "); fewer nodes, a lower rate, or a less loaded machine");
  }
  if (Status st = Drain(); !st.ok()) return st;
  return Collect(s_.end(), outcome);
}

}  // namespace netns_run

Status RunNetns(const Scenario& scenario_in, const RunOptions& options, RunOutcome* outcome,
                const NetnsOptions& netns_options) {
  Scenario s = scenario_in;
  if (options.seed) s.seed = *options.seed;
  // Each pbxstated reads it from a key file of its own (SpawnDaemon writes them, mode 0600).
  if (s.auth) s.engine.cluster_keys = {scenario::ScenarioClusterKey(s.seed)};
  if (Status st = CheckNetnsSupport(s); !st.ok()) return st;
  // pbxstated takes its membership from CPG: the run is judged by the views it reports.
  JudgeByTransportMembership(&s);
  s.detection = scenario::DetectionTime(s, scenario::Detector::kCorosync);
  std::filesystem::path daemon;
  if (Status st = FindPbxstated(netns_options, &daemon); !st.ok()) return st;
  // From here on something may be created: SIGINT/SIGTERM only ask the run to stop.
  netns::InterruptGuard interrupts;
  if (Status st = netns::CheckHostSupport(); !st.ok()) return Status::FailedPrecondition("netns backend: " + st.message());

  std::vector<std::string> removed;
  (void)netns::RemoveStaleRuns(&removed);
  if (options.progress) {
    for (const auto& r : removed) std::fprintf(stderr, "netns: removed a leftover of a killed run: %s\n", r.c_str());
  }

  // The link: netem where the kernel has it; elsewhere loss and rate only (shaping.h). A
  // delay that small is run without and said so; anything more is refused before we start.
  const netns::ShapingMethod shaping =
      netns::KernelHasNetem() ? netns::ShapingMethod::kNetem : netns::ShapingMethod::kNftablesTbf;
  std::vector<std::string> notes;
  if (Status st = netns_run::CheckShaping(s, shaping, &notes); !st.ok()) return st;
  netns_run::NoteSites(s, &notes);
  if (options.progress) {
    for (const auto& n : notes) std::fprintf(stderr, "netns: note: %s\n", n.c_str());
  }

  netns::ClusterSpec spec;
  spec.shaping = shaping;
  spec.nodes = s.topology.node_count();
  spec.work_dir = !netns_options.work_dir.empty() ? netns_options.work_dir
                  : options.out                   ? *options.out / "netns"
                                                  : std::filesystem::temp_directory_path();
  spec.totem = netns_run::TotemSettings(s, netns_options);
  spec.lan = netns_run::LanNetem(s.topology.sites[0].lan);
  std::unique_ptr<netns::NetnsCluster> cluster;
  if (Status st = netns::NetnsCluster::Create(spec, &cluster); !st.ok()) return st;

  Status result;
  try {
    netns_run::NetnsNetwork network(s, cluster.get());
    netns_run::NetnsRun run(s, options, netns_options, daemon, cluster.get(), &network);
    outcome->info.notes = notes;
    result = run.Run(outcome);
  } catch (const std::exception& e) {
    result = Status::FailedPrecondition(std::string("netns run: ") + e.what());
  }
  const Status down = cluster->Teardown();
  if (result.ok() && !down.ok()) return Status::FailedPrecondition("netns teardown: " + down.message());
  if (!down.ok()) std::fprintf(stderr, "netns teardown: %s\n", down.message().c_str());
  return result;
}

}  // namespace pbxstate::runner
