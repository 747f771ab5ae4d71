#include "pbxstate/runner/ns3_runner.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <memory>
#include <optional>
#include <cstdio>
#include <functional>
#include <string>
#include <unistd.h>

#include <ns3/simulator.h>

#include "pbxstate/harness/calls.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/ns3/world.h"
#include "run_steps.h"
#include "ns3_mapping.h"

namespace pbxstate::runner {
namespace {

using harness::PlannedChange;
using scenario::Scenario;

Duration FromNs3(ns3::Time t) { return Duration(t.GetNanoSeconds()); }

// Forwards every node's view changes, starts and transport views (Corosync model) to the
// recorder, on ns-3's clock.
class Collector : public ns3t::ViewCollector {
 public:
  explicit Collector(harness::RunRecorder* rec) : rec_(rec) {}
  void OnViewChange(NodeId node, ns3::Time at, const ViewChange& change) override {
    rec_->ViewChanged(FromNs3(at), node, change);
  }
  void OnNodeStarted(NodeId node, ns3::Time at, std::uint64_t incarnation) override {
    rec_->NodeStarted(FromNs3(at), node, incarnation);
  }
  void OnMembership(NodeId node, ns3::Time at, const std::vector<NodeId>& members) override {
    rec_->MembershipDelivered(FromNs3(at), node, members);
  }

 private:
  harness::RunRecorder* rec_;
};

// Applies one fault to the world; reports it (and a crash's last statistics) to the recorder.
Status ApplyFault(const Scenario& s, const scenario::Fault& f, ns3sim::Ns3World& world, harness::RunRecorder& rec,
                  CallWorld* calls) {
  const Duration now = world.Now();
  Status st;
  if (const auto* c = std::get_if<scenario::Crash>(&f.what)) {
    Engine* e = world.engine(c->node);
    const EngineStats last = e != nullptr ? e->stats() : EngineStats{};
    st = world.Crash(c->node);
    if (st.ok()) rec.NodeCrashed(now, c->node, last);
  } else if (const auto* re = std::get_if<scenario::Restart>(&f.what)) {
    st = world.Restart(re->node);
  } else {
    st = ApplyNetworkFault(s, f, world);
  }
  if (st.ok()) FaultDone(now, f, rec, calls);
  return st;
}

// The ns-3 world as call routing sees it.
class Ns3CallHost final : public CallHost {
 public:
  explicit Ns3CallHost(ns3sim::Ns3World& world) : world_(world) {}
  Duration Now() const override { return world_.Now(); }
  void At(Duration at, std::function<void()> fn) override { world_.At(at, std::move(fn)); }
  const Engine* engine(NodeId node) const override { return world_.engine(node); }

 private:
  ns3sim::Ns3World& world_;
};


// The corosync: section as ns-3 takes it: none when it says `ns3: heartbeats` (it is for the real
// corosync of netns and emu only).
const scenario::CorosyncSettings* Ns3Corosync(const Scenario& s) {
  return s.corosync && s.corosync->ns3_model ? &*s.corosync : nullptr;
}

// Whether the engines run over the Corosync model: the scenario says it runs on Corosync (its
// corosync: section), or asks for membership by the transport, which in ns-3 is the model's.
bool UsesCorosyncModel(const Scenario& s) {
  return Ns3Corosync(s) != nullptr || s.membership.source == MembershipSource::kTransport ||
         s.engine.membership == MembershipSource::kTransport;
}

// What the ns-3 world's Corosync model runs with.
ns3t::CorosyncModelConfig CorosyncModel(const Scenario& s) {
  ns3t::CorosyncModelConfig m;
  if (const scenario::CorosyncSettings* c = Ns3Corosync(s)) {
    m.totem = c->totem;
    m.crash = c->crash == scenario::CrashKills::kNode ? ns3t::CrashKind::kNode : ns3t::CrashKind::kProcess;
  }
  return m;
}

using ViewCollectorPtr = ns3t::ViewCollector*;

// "knet, token 1000 ms effective, consensus 1200 ms, crash kills the process".
std::string CorosyncNote(const Scenario& s) {
  const ns3t::CorosyncModelConfig m = CorosyncModel(s);
  const totem::TotemTimeouts t = totem::DeriveTimeouts(m.totem, s.topology.node_count());
  return std::string(totem::TransportName(m.totem.transport)) + ", token " + std::to_string(t.token.count() / 1'000'000) +
         " ms effective, consensus " + std::to_string(t.consensus.count() / 1'000'000) + " ms, a crash kills the " +
         (m.crash == ns3t::CrashKind::kNode ? "node" : "process");
}

Status CheckCorosyncModel(const Scenario& s) {
  const scenario::CorosyncSettings* c = Ns3Corosync(s);
  const scenario::SourcePos pos = c != nullptr ? scenario::SourcePos{c->line, c->column} : scenario::SourcePos{};
  if (s.topology.node_count() > totem::kMaxRingMembers) {
    return Where(s, pos, "corosync",
                 "the ns-3 backend's Corosync model carries at most " + std::to_string(totem::kMaxRingMembers) +
                     " nodes; the cluster has " + std::to_string(s.topology.node_count()));
  }
  if (s.engine.max_frame_bytes > totem::kMaxClientMessage) {
    return Status::InvalidArgument(s.file + ": engine.max_frame_bytes: the ns-3 backend's Corosync model carries " +
                                   std::to_string(totem::kMaxClientMessage) +
                                   " bytes per message (no fragmentation); expected at most that, got " +
                                   std::to_string(s.engine.max_frame_bytes));
  }
  if (Status st = c != nullptr ? c->totem.Validate(s.topology.node_count()) : Status::Ok(); !st.ok()) {
    return Where(s, pos, "corosync", st.message());
  }
  return Status::Ok();
}

// The ns-3 world for the scenario's topology, transport and engines.
ns3sim::WorldConfig WorldFor(const Scenario& s, ViewCollectorPtr collector) {
  ns3sim::WorldConfig wc = WorldConfigFor(s);
  if (UsesCorosyncModel(s)) {
    wc.engine.membership = MembershipSource::kTransport;
    wc.corosync = CorosyncModel(s);
  }
  wc.collector = collector;
  return wc;
}

// One run of a scenario in an Ns3World: schedules faults, workload, calls and cancellation,
// runs second by second sampling the network, then hands the end state to the recorder.
class Ns3Run {
 public:
  Ns3Run(const Scenario& s, const RunOptions& options)
      : s_(s), options_(options), rec_(s, options.timelines.value_or(!s.faults.empty())), collector_(&rec_),
        wall_start_(std::chrono::steady_clock::now()) {
    // Over the Corosync model a crash of the PBX process leaves its corosync running (CorosyncModel).
    if (UsesCorosyncModel(s) && CorosyncModel(s).crash == ns3t::CrashKind::kProcess) rec_.TransportOutlivesCrashes();
    // The model's ring stalls as corosync's does (sim/ns3/COROSYNC_MODEL.md; write_spread.h).
    if (UsesCorosyncModel(s)) rec_.TransportRingMayStall();
  }

  Status Run(RunOutcome* outcome);

 private:
  void Schedule();
  void Pump();
  void PollStop();
  // Runs to the end, one simulated second at a time; false when should_stop ended it.
  bool RunLoop();
  harness::SeriesPoint Sample(Duration at);
  void Progress(Duration until);
  Status Finish(RunOutcome* outcome);

  const Scenario& s_;
  const RunOptions& options_;
  harness::RunRecorder rec_;
  Collector collector_;
  const std::chrono::steady_clock::time_point wall_start_;
  std::unique_ptr<ns3sim::Ns3World> world_;
  std::vector<PlannedChange> plan_;
  std::size_t next_ = 0;
  std::unique_ptr<CallWorld> calls_;
  std::optional<Ns3CallHost> call_host_;
  std::optional<CallRouting> routing_;
  Status fault_error_;
  bool stopped_ = false;
  std::vector<harness::SeriesPoint> series_;
  ns3t::NodeCounters last_total_;
  std::vector<std::uint64_t> last_by_node_;
  std::chrono::steady_clock::time_point last_print_ = std::chrono::steady_clock::now();
};

Status Ns3Run::Run(RunOutcome* outcome) {
  if (Status st = ns3sim::Ns3World::Create(WorldFor(s_, &collector_), &world_); !st.ok()) return st;
  // The bytes bytes_per_change counts, read by the recorder at heals and view changes after them.
  rec_.CountNetworkBytes([this] { return world_->TotalCounters().payload_bytes_sent; });
  plan_ = harness::ExpandWorkload(s_);
  // Start the nodes (their applications start at time 0) before anything is scheduled, so a
  // change or fault planned at 0 finds them up.
  world_->RunUntil(Duration{});
  Schedule();
  if (!RunLoop()) {
    outcome->stopped = true;
    return Status::FailedPrecondition(s_.name + ": run stopped at " + std::to_string(world_->Now().count() / 1'000'000) +
                                      " ms of simulated time (should_stop)");
  }
  if (!fault_error_.ok()) return fault_error_;
  return Finish(outcome);
}

void Ns3Run::Schedule() {
  // Calls are routed only when the scenario has them; without, the run has exactly the events
  // it always had.
  if (s_.calls) calls_ = std::make_unique<CallWorld>(s_);
  // Faults first, so that at one instant a fault acts before the changes made then.
  for (const scenario::Fault& f : s_.faults) {
    world_->At(f.at, [this, &f] {
      Status st = ApplyFault(s_, f, *world_, rec_, calls_.get());
      if (!st.ok() && fault_error_.ok()) fault_error_ = st;
    });
  }
  // One pending event walks the plan, so a long plan does not fill the scheduler.
  if (!plan_.empty()) world_->At(plan_.front().at, [this] { Pump(); });
  if (calls_) {
    call_host_.emplace(*world_);
    routing_.emplace(s_, *call_host_, *calls_);
    routing_->Schedule();
  }
  // Cancellation: scheduled only when asked for, so a run without it has exactly the events it
  // always had. The poll changes nothing in the world; stopping ends Simulator::Run after it.
  if (options_.should_stop) world_->At(kStopPollInterval, [this] { PollStop(); });
}

void Ns3Run::Pump() {
  const Duration now = world_->Now();
  for (; next_ < plan_.size() && plan_[next_].at <= now; ++next_) {
    MakeChange(plan_[next_], world_->engine(plan_[next_].node), now, rec_, calls_.get());
  }
  if (next_ < plan_.size()) world_->At(plan_[next_].at, [this] { Pump(); });
}

void Ns3Run::PollStop() {
  if (options_.should_stop()) {
    stopped_ = true;
    ns3::Simulator::Stop();
    return;
  }
  world_->At(world_->Now() + kStopPollInterval, [this] { PollStop(); });
}

bool Ns3Run::RunLoop() {
  const Duration end = s_.end();
  last_total_ = world_->TotalCounters();
  last_by_node_.assign(world_->nodes().size(), 0);
  for (Duration t = 1s;; t += 1s) {
    const Duration until = std::min(t, end);
    world_->RunUntil(until);
    if (stopped_) return false;
    series_.push_back(Sample(until));
    SampleEngineMemory(s_, until, [this](NodeId n) -> const Engine* { return world_->engine(n); }, rec_);
    if (options_.progress) Progress(until);
    if (until == end) break;
  }
  if (options_.progress && isatty(STDERR_FILENO) != 0) std::fprintf(stderr, "\n");
  return true;
}

harness::SeriesPoint Ns3Run::Sample(Duration at) {
  harness::SeriesPoint p;
  p.t = at;
  const ns3t::NodeCounters total = world_->TotalCounters();
  p.frames = total.frames_sent - last_total_.frames_sent;
  p.bytes = total.payload_bytes_sent - last_total_.payload_bytes_sent;
  last_total_ = total;
  for (NodeId n : world_->nodes()) {
    const std::uint64_t sent = world_->counters(n)->frames_sent;
    p.frames_by_node.push_back(sent - last_by_node_[n - 1]);
    last_by_node_[n - 1] = sent;
  }
  return p;
}

void Ns3Run::Progress(Duration until) {
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_print_ <= std::chrono::seconds(1) && until != s_.end()) return;
  const double wall = std::chrono::duration<double>(now - wall_start_).count();
  std::fprintf(stderr, "%s%s: simulated %.0f s of %.0f s, %.0f events/s wall%s", tty ? "\r" : "", s_.name.c_str(),
               static_cast<double>(until.count()) / 1e9, static_cast<double>(s_.end().count()) / 1e9,
               static_cast<double>(ns3::Simulator::GetEventCount()) / std::max(wall, 1e-9), tty ? "" : "\n");
  last_print_ = now;
}

Status Ns3Run::Finish(RunOutcome* outcome) {
  ns3sim::Ns3World& world = *world_;
  outcome->result = rec_.Finish(s_.end(), [&](NodeId n) {
    harness::RunRecorder::NodeAtEnd a;
    if (const Engine* e = world.engine(n)) a.view = harness::FinalViewOf(*e);
    a.frames_sent = world.counters(n)->frames_sent;
    a.bytes_sent = world.counters(n)->payload_bytes_sent;
    if (s_.topology.sites.size() > 1) a.frames_to_other_sites = world.counters(n)->frames_sent_to_other_sites;
    return a;
  });
  if (calls_) {
    calls_->rec.AddMetrics(&outcome->result.metrics);
    outcome->result.calls = calls_->rec.summary();
  }
  AddEndStateMetrics(s_, &outcome->result, [&](NodeId n) -> std::optional<std::vector<NodeId>> {
    if (const Engine* e = world.engine(n)) return e->Members();
    return std::nullopt;
  });
  outcome->info.backend = "ns3";
  outcome->verdicts = harness::EvaluateChecks(s_, outcome->result, *s_.detection, outcome->info.backend);
  outcome->info.end = s_.end();
  outcome->info.seed = s_.seed;
  outcome->info.series = std::move(series_);
  outcome->info.events = ns3::Simulator::GetEventCount();
  if (UsesCorosyncModel(s_)) {
    outcome->info.notes.push_back("Corosync model: CPG over a totem ring (" + CorosyncNote(s_) +
                                  "); messages count frames the engines handed to CPG");
  }
  outcome->info.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  if (!options_.out) return Status::Ok();
  std::string error;
  if (!harness::WriteRunRecord(*options_.out, s_, outcome->info, outcome->result, outcome->verdicts, &error)) {
    return Status::FailedPrecondition(error);
  }
  if (options_.dump_state) {
    std::vector<std::string> lines;
    for (NodeId n : world.nodes()) {
      if (const Engine* e = world.engine(n)) harness::AppendNodeState(&lines, n, *e);
    }
    harness::AppendChangeLog(&lines, outcome->result);
    if (!harness::WriteLines(*options_.out / "state.jsonl", lines, &error)) return Status::FailedPrecondition(error);
  }
  return Status::Ok();
}

}  // namespace

Status CheckNs3Support(const Scenario& s) {
  // Over the Corosync model the engines take their membership from its views (WorldFor).
  const MembershipSource membership = UsesCorosyncModel(s) ? MembershipSource::kTransport : s.engine.membership;
  if (Status st = CheckEngineSettings(s, membership); !st.ok()) return st;
  if (UsesCorosyncModel(s)) {
    if (Status st = CheckCorosyncModel(s); !st.ok()) return st;
  }
  if (s.membership.views != scenario::ViewModel::kConsistent || s.membership.view_delay != Duration{}) {
    return Where(s, s.membership.pos, "cluster.views",
                 "the ns-3 backend's views are its Corosync model's (consistent, when totem decides); per_node "
                 "views and view_delay are for --backend inproc");
  }
  if (Status st = RefuseFrameFaults(s, "ns-3"); !st.ok()) return st;
  if (s.engine.max_frame_bytes > ns3t::kMaxUdpPayload) {
    // Ns3World::Build refuses it too, but without saying where: say it here, before anything runs.
    return Where(s, s.EnginePos("max_frame_bytes"), "engine.max_frame_bytes",
                 "the ns-3 backend carries frames of at most " + std::to_string(ns3t::kMaxUdpPayload) +
                     " bytes (the UDP payload of a 1500-byte MTU), got " + std::to_string(s.engine.max_frame_bytes) +
                     "; use a smaller value, or --backend netns");
  }
  return CheckWorldDegrades(s, "the ns-3 backend");
}

Status RunNs3(const Scenario& scenario_in, const RunOptions& options, RunOutcome* outcome) {
  Scenario s = scenario_in;
  if (options.seed) s.seed = *options.seed;
  if (s.auth) s.engine.cluster_keys = {scenario::ScenarioClusterKey(s.seed)};
  if (Status st = CheckNs3Support(s); !st.ok()) return st;
  // Over the Corosync model the engines take their membership from its views, which the run
  // feeds the oracle (Collector::OnMembership): judged as transport membership.
  if (UsesCorosyncModel(s)) JudgeByTransportMembership(&s);
  // DetectionTime reads s.corosync: with `ns3: heartbeats` this run has none.
  if (Ns3Corosync(s) == nullptr) s.corosync.reset();
  s.detection = scenario::DetectionTime(s, UsesCorosyncModel(s) ? scenario::Detector::kCorosync : scenario::Detector::kHeartbeat);
  Ns3Run run(s, options);
  return run.Run(outcome);
}

}  // namespace pbxstate::runner
