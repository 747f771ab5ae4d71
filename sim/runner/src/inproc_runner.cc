#include "pbxstate/runner/inproc_runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <tuple>
#include <vector>

#include "inproc_network.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/inproc/cluster.h"
#include "run_steps.h"

namespace pbxstate::runner {
namespace {

using scenario::Scenario;

std::size_t IndexOf(NodeId node) { return static_cast<std::size_t>(node - 1); }
Duration SinceStart(MonoTime t) { return t - MonoTime{}; }

std::vector<std::size_t> Indices(const std::vector<NodeId>& nodes) {
  std::vector<std::size_t> out;
  out.reserve(nodes.size());
  for (NodeId n : nodes) out.push_back(IndexOf(n));
  return out;
}

// The runner's own actions (faults, changes, calls, stop polls) on the cluster's clock, in
// (time, order given) order. Before an action at t runs, the cluster runs everything due before
// t, so an action acts at t ahead of the frames, views and wakeups due at t.
class Agenda final : public CallHost {
 public:
  explicit Agenda(inproc::Cluster& cluster) : cluster_(cluster) {}

  Duration Now() const override { return SinceStart(cluster_.now()); }
  void At(Duration at, std::function<void()> fn) override { queue_.push({std::max(at, Now()), seq_++, std::move(fn)}); }
  const Engine* engine(NodeId node) const override { return cluster_.engine(IndexOf(node)); }

  // Runs every action due at or before `until` and the cluster up to and including `until`.
  // Fails when the cluster does (an engine livelock); the run cannot go on then.
  Status RunUntil(Duration until) {
    while (!queue_.empty() && queue_.top().at <= until) {
      Action a = queue_.top();
      queue_.pop();
      if (Status st = cluster_.RunBefore(MonoTime(a.at)); !st.ok()) return st;
      a.fn();
      if (!error_.ok()) return error_;
    }
    return cluster_.RunUntil(MonoTime(until));
  }

  // An action that failed: the run stops at the next step with this error.
  void Fail(const Status& st) {
    if (error_.ok()) error_ = st;
  }

 private:
  struct Action {
    Duration at;
    std::uint64_t seq;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Action& a, const Action& b) const { return std::tie(a.at, a.seq) > std::tie(b.at, b.seq); }
  };

  inproc::Cluster& cluster_;
  std::priority_queue<Action, std::vector<Action>, Later> queue_;
  std::uint64_t seq_ = 0;
  Status error_;
};

// Frames and bytes a node put on the network, counted as the scenario's transport carries them:
// with unicast, one copy per destination; with broadcast and multicast, one per send (inproc has
// no routers, so a multicast counts once whatever the sites).
std::pair<std::uint64_t, std::uint64_t> FramesOnNetwork(const Scenario& s, const inproc::NodeCounters& c) {
  if (s.transport == scenario::TransportMode::kUnicast) return {c.copies_addressed, c.bytes_addressed};
  return {c.frames_sent, c.bytes_sent};
}

// Applies one fault to the cluster; reports it (and a crash's last statistics) to the recorder.
Status ApplyFault(const scenario::Fault& f, inproc::Cluster& c, InprocNetwork& net, harness::RunRecorder& rec,
                  CallWorld* calls) {
  const Duration now = SinceStart(c.now());
  Status st;
  if (const auto* p = std::get_if<scenario::Partition>(&f.what)) {
    // A partition replaces the cut in force, as one change: no merged view in between.
    c.BeginTopologyChange();
    c.Heal();
    if (p->one_way) {
      st = c.CutLinks(Indices(p->sides[0]), Indices(p->sides[1]));
    } else {
      std::vector<std::vector<std::size_t>> groups;
      for (const auto& side : p->sides) groups.push_back(Indices(side));
      st = c.Partition(groups);
    }
    c.EndTopologyChange();
  } else if (std::holds_alternative<scenario::Heal>(f.what)) {
    c.Heal();
  } else if (const auto* iso = std::get_if<scenario::Isolate>(&f.what)) {
    std::vector<std::size_t> rest;
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (i != IndexOf(iso->node)) rest.push_back(i);
    }
    c.BeginTopologyChange();
    c.Heal();
    st = c.Partition({{IndexOf(iso->node)}, rest});
    c.EndTopologyChange();
  } else if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
    net.Degrade(*d);
    st = net.Apply(c, d->target);
  } else if (const auto* r = std::get_if<scenario::Restore>(&f.what)) {
    net.Restore(r->target);
    st = net.Apply(c, r->target);
  } else if (const auto* cr = std::get_if<scenario::Crash>(&f.what)) {
    const EngineStats last = c.stats(IndexOf(cr->node));
    st = c.Crash(IndexOf(cr->node));
    if (st.ok()) rec.NodeCrashed(now, cr->node, last);
  } else if (const auto* re = std::get_if<scenario::Restart>(&f.what)) {
    st = c.Restart(IndexOf(re->node));  // the start reaches the recorder through the trace
  }
  if (st.ok()) FaultDone(now, f, rec, calls);
  return st;
}

inproc::ClusterOptions OptionsFor(const Scenario& s, const InprocNetwork& net) {
  inproc::ClusterOptions o;
  o.nodes = s.topology.node_count();
  o.seed = s.seed;
  o.engine = scenario::EngineConfigOf(s);
  // Without a membership service of its own, the cluster's default is the engines' heartbeats.
  o.membership = s.membership.source.value_or(MembershipSource::kHeartbeat);
  o.transport_views = s.membership.views == scenario::ViewModel::kPerNode ? inproc::TransportViews::kPerNode
                                                                          : inproc::TransportViews::kConsistent;
  o.membership_delay = s.membership.view_delay;
  o.link = net.Path(0, 0);
  return o;
}

// Samples the network once per simulated second and prints progress (RunNs3 does the same).
class Sampler {
 public:
  Sampler(const Scenario& s, const inproc::Cluster& c, bool progress)
      : s_(s), c_(c), progress_(progress), tty_(progress && isatty(STDERR_FILENO) != 0),
        last_frames_(c.size(), 0),
        last_bytes_(c.size(), 0) {}

  void Sample(Duration t) {
    harness::SeriesPoint p;
    p.t = t;
    for (std::size_t i = 0; i < c_.size(); ++i) {
      const auto [frames, bytes] = FramesOnNetwork(s_, c_.counters(i));
      p.frames += frames - last_frames_[i];
      p.bytes += bytes - last_bytes_[i];
      p.frames_by_node.push_back(frames - last_frames_[i]);
      last_frames_[i] = frames;
      last_bytes_[i] = bytes;
    }
    series_.push_back(std::move(p));
    Progress(t);
  }

  void Done() const {
    if (tty_) std::fprintf(stderr, "\n");
  }
  std::vector<harness::SeriesPoint> TakeSeries() { return std::move(series_); }

 private:
  void Progress(Duration t) {
    if (!progress_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_print_ < std::chrono::seconds(1) && t != s_.end()) return;
    std::fprintf(stderr, "%s%s: simulated %.0f s of %.0f s (inproc)%s", tty_ ? "\r" : "", s_.name.c_str(),
                 static_cast<double>(t.count()) / 1e9, static_cast<double>(s_.end().count()) / 1e9, tty_ ? "" : "\n");
    last_print_ = now;
  }

  const Scenario& s_;
  const inproc::Cluster& c_;
  const bool progress_, tty_;
  std::vector<std::uint64_t> last_frames_, last_bytes_;
  std::vector<harness::SeriesPoint> series_;
  std::chrono::steady_clock::time_point last_print_{};
};

Status WriteRecord(const Scenario& s, const RunOptions& options, const inproc::Cluster& c, RunOutcome* outcome) {
  std::string error;
  if (!harness::WriteRunRecord(*options.out, s, outcome->info, outcome->result, outcome->verdicts, &error)) {
    return Status::FailedPrecondition(error);
  }
  if (!options.dump_state) return Status::Ok();
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (const Engine* e = c.engine(i)) harness::AppendNodeState(&lines, inproc::Cluster::IdOf(i), *e);
  }
  harness::AppendChangeLog(&lines, outcome->result);
  if (!harness::WriteLines(*options.out / "state.jsonl", lines, &error)) return Status::FailedPrecondition(error);
  return Status::Ok();
}

// Feeds `rec` what the cluster does: starts, view changes, and the transport views each engine
// is given (the oracle judges transport membership by those, not by a model of its own).
void RecordInto(harness::RunRecorder& rec, inproc::Cluster& c) {
  // Every node started inside Create, before a hook could see it; later starts come through it.
  for (std::size_t i = 0; i < c.size(); ++i) rec.NodeStarted(Duration{}, inproc::Cluster::IdOf(i), c.incarnation(i));
  c.SetTraceHook([&rec, &c](const inproc::TraceEvent& te) {
    if (te.kind == inproc::TraceKind::kViewChange) {
      rec.ViewChanged(SinceStart(te.at), inproc::Cluster::IdOf(te.node), *te.change);
    } else if (te.kind == inproc::TraceKind::kStart) {
      rec.NodeStarted(SinceStart(te.at), inproc::Cluster::IdOf(te.node), c.incarnation(te.node));
    } else if (te.kind == inproc::TraceKind::kMembership) {
      rec.MembershipDelivered(SinceStart(te.at), inproc::Cluster::IdOf(te.node), *te.members);
    }
  });
}

// The run's end: the recorder's result with the nodes' final views and traffic, the calls' and
// end state's metrics, the checks' verdicts and the run's info (all but the wall time).
void FillOutcome(const Scenario& s, inproc::Cluster& c, harness::RunRecorder& rec, CallWorld* calls, Duration end,
                 Sampler* sampler, RunOutcome* outcome) {
  outcome->result = rec.Finish(end, [&](NodeId n) {
    harness::RunRecorder::NodeAtEnd a;
    if (const Engine* e = c.engine(IndexOf(n))) a.view = harness::FinalViewOf(*e);
    std::tie(a.frames_sent, a.bytes_sent) = FramesOnNetwork(s, c.counters(IndexOf(n)));
    return a;
  });
  if (calls != nullptr) {
    calls->rec.AddMetrics(&outcome->result.metrics);
    outcome->result.calls = calls->rec.summary();
  }
  AddEndStateMetrics(s, &outcome->result, [&](NodeId n) -> std::optional<std::vector<NodeId>> {
    if (const Engine* e = c.engine(IndexOf(n))) return e->Members();
    return std::nullopt;
  });
  outcome->info.backend = "inproc";
  outcome->verdicts = harness::EvaluateChecks(s, outcome->result, *s.detection, outcome->info.backend);
  outcome->info.end = end;
  outcome->info.notes = {
      "inproc: every pair of nodes has a link of its own with the path's bandwidth (a LAN is not one shared medium)"};
  outcome->info.seed = s.seed;
  outcome->info.series = sampler->TakeSeries();
}

}  // namespace

Status CheckInprocSupport(const Scenario& s) {
  // Without a membership service of its own, the cluster's default is the engines' heartbeats (OptionsFor).
  return CheckEngineSettings(s, s.membership.source.value_or(MembershipSource::kHeartbeat));
}

Status RunInproc(const Scenario& scenario_in, const RunOptions& options, RunOutcome* outcome) {
  Scenario s = scenario_in;
  if (options.seed) s.seed = *options.seed;
  if (s.auth) s.engine.cluster_keys = {scenario::ScenarioClusterKey(s.seed)};
  if (Status st = CheckInprocSupport(s); !st.ok()) return st;
  s.detection = scenario::DetectionTime(s, s.membership.source.value_or(MembershipSource::kHeartbeat) == MembershipSource::kTransport
                                               ? scenario::Detector::kViewDelay
                                               : scenario::Detector::kHeartbeat);
  const auto wall_start = std::chrono::steady_clock::now();

  const bool timelines = options.timelines.value_or(!s.faults.empty());
  harness::RunRecorder rec(s, timelines);
  InprocNetwork net(s.topology);
  std::unique_ptr<inproc::Cluster> cluster;
  if (Status st = inproc::Cluster::Create(OptionsFor(s, net), &cluster); !st.ok()) return st;
  inproc::Cluster& c = *cluster;
  if (s.topology.sites.size() > 1) {
    if (Status st = net.Apply(c); !st.ok()) return st;
  }
  RecordInto(rec, c);
  // The bytes bytes_per_change counts, read by the recorder at heals and view changes after them.
  rec.CountNetworkBytes([&s, &c] {
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < c.size(); ++i) bytes += FramesOnNetwork(s, c.counters(i)).second;
    return bytes;
  });

  Agenda agenda(c);
  std::unique_ptr<CallWorld> calls;
  if (s.calls) calls = std::make_unique<CallWorld>(s);
  // Faults first, so that at one instant a fault acts before the changes made then.
  for (const scenario::Fault& f : s.faults) {
    agenda.At(f.at, [&f, &c, &net, &rec, &calls, &agenda] {
      if (Status st = ApplyFault(f, c, net, rec, calls.get()); !st.ok()) agenda.Fail(st);
    });
  }
  // One pending action walks the plan, so a long plan does not fill the agenda.
  const std::vector<harness::PlannedChange> plan = harness::ExpandWorkload(s);
  std::size_t next = 0;
  std::function<void()> pump = [&] {
    const Duration now = agenda.Now();
    for (; next < plan.size() && plan[next].at <= now; ++next) {
      MakeChange(plan[next], c.engine(IndexOf(plan[next].node)), now, rec, calls.get());
    }
    if (next < plan.size()) agenda.At(plan[next].at, pump);
  };
  if (!plan.empty()) agenda.At(plan.front().at, pump);
  std::optional<CallRouting> routing;
  if (calls) {
    routing.emplace(s, agenda, *calls);
    routing->Schedule();
  }
  // Cancellation: asked every kStopPollInterval of simulated time, only when set.
  bool stopped = false;
  std::function<void()> poll_stop = [&] {
    if (options.should_stop()) {
      stopped = true;
      agenda.Fail(Status::FailedPrecondition(s.name + ": run stopped at " +
                                             std::to_string(agenda.Now().count() / 1'000'000) +
                                             " ms of simulated time (should_stop)"));
      return;
    }
    agenda.At(agenda.Now() + kStopPollInterval, poll_stop);
  };
  if (options.should_stop) agenda.At(kStopPollInterval, poll_stop);

  // Second by second: sample the network and report progress.
  const Duration end = s.end();
  Sampler sampler(s, c, options.progress);
  for (Duration t = 1s;; t += 1s) {
    const Duration until = std::min(t, end);
    if (Status st = agenda.RunUntil(until); !st.ok()) {
      sampler.Done();
      outcome->stopped = stopped;
      return stopped ? st : Status::FailedPrecondition(s.name + ": inproc run failed at " +
                                                       std::to_string(agenda.Now().count() / 1'000'000) +
                                                       " ms of simulated time: " + st.ToString());
    }
    sampler.Sample(until);
    SampleEngineMemory(s, until, [&c](NodeId n) { return c.engine(IndexOf(n)); }, rec);
    if (until == end) break;
  }
  sampler.Done();

  FillOutcome(s, c, rec, calls.get(), end, &sampler, outcome);
  outcome->info.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (options.out) return WriteRecord(s, options, c, outcome);
  return Status::Ok();
}

}  // namespace pbxstate::runner
