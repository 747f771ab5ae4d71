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

namespace pbxstate::runner {
namespace {

using harness::PlannedChange;
using scenario::Scenario;

std::string SiteName(const Scenario& s, std::size_t i) {
  const std::string& n = s.topology.sites[i].name;
  return n.empty() ? "lan" : n;
}

Duration FromNs3(ns3::Time t) { return Duration(t.GetNanoSeconds()); }

// Forwards every node's view changes and starts to the recorder, on ns-3's clock.
class Collector : public ns3t::ViewCollector {
 public:
  explicit Collector(harness::RunRecorder* rec) : rec_(rec) {}
  void OnViewChange(NodeId node, ns3::Time at, const ViewChange& change) override {
    rec_->ViewChanged(FromNs3(at), node, change);
  }
  void OnNodeStarted(NodeId node, ns3::Time at, std::uint64_t incarnation) override {
    rec_->NodeStarted(FromNs3(at), node, incarnation);
  }

 private:
  harness::RunRecorder* rec_;
};

ns3sim::LinkParams LanParams(const scenario::LanParams& lan) {
  ns3sim::LinkParams p;
  p.delay = lan.delay;
  p.rate_bps = lan.bandwidth_bps;
  p.loss = lan.loss;
  return p;
}

ns3sim::LinkParams LinkParams(const scenario::LinkParams& l) {
  ns3sim::LinkParams p;
  p.delay = l.delay;
  p.jitter = l.jitter;
  p.rate_bps = l.bandwidth_bps;
  p.loss = l.loss;
  return p;
}

Status Where(const Scenario& s, const scenario::SourcePos& pos, const std::string& field, const std::string& what) {
  return Status::InvalidArgument(s.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " +
                                 field + ": " + what);
}

// What routing calls needs besides the engines: the truth about phones and servers, and the
// per-strategy accounting. Fed by ApplyFault and MakeChange as the run goes.
struct CallWorld {
  explicit CallWorld(const Scenario& s) : reach(s.topology.node_count()), rec(s) {}
  harness::PhoneTruth truth;
  harness::ServerReach reach;
  harness::CallRecorder rec;
};

// One-way delay of a call's hop between two servers: their LAN, or both LANs and the link
// between their sites, as configured (a degradation in force is not applied to hops).
Duration HopDelay(const Scenario& s, NodeId a, NodeId b) {
  const std::size_t sa = s.topology.SiteOf(a), sb = s.topology.SiteOf(b);
  if (sa == sb) return s.topology.sites[sa].lan.delay;
  const scenario::SiteLink* link = s.topology.FindLink(sa, sb);
  assert(link != nullptr);
  return s.topology.sites[sa].lan.delay + link->params.delay + s.topology.sites[sb].lan.delay;
}

// Applies one fault to the world; reports it (and a crash's last statistics) to the recorder.
Status ApplyFault(const Scenario& s, const scenario::Fault& f, ns3sim::Ns3World& world, harness::RunRecorder& rec,
                  CallWorld* calls) {
  const Duration now = world.Now();
  Status st;
  if (const auto* p = std::get_if<scenario::Partition>(&f.what)) {
    world.Heal();  // a partition replaces the one in force
    st = p->one_way ? world.PartitionOneWay(p->sides[0], p->sides[1]) : world.Partition(p->sides);
  } else if (std::holds_alternative<scenario::Heal>(f.what)) {
    world.Heal();
  } else if (const auto* iso = std::get_if<scenario::Isolate>(&f.what)) {
    world.Heal();
    st = world.Isolate(iso->node);
  } else if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
    const auto& t = d->target;
    if (t.kind == scenario::NetworkTarget::Kind::kLan) {
      const std::string site = SiteName(s, t.site);
      if (d->loss && st.ok()) st = world.SetSiteLoss(site, *d->loss);
      if (d->delay && st.ok()) st = world.SetSiteDelay(site, *d->delay);
    } else {
      const std::string a = SiteName(s, t.a), b = SiteName(s, t.b);
      if (d->loss && st.ok()) st = world.SetLinkLoss(a, b, *d->loss);
      if (d->delay && st.ok()) st = world.SetLinkDelay(a, b, *d->delay);
      if (d->jitter && st.ok()) st = world.SetLinkJitter(a, b, *d->jitter);
    }
  } else if (const auto* r = std::get_if<scenario::Restore>(&f.what)) {
    const auto& t = r->target;
    if (t.kind == scenario::NetworkTarget::Kind::kLan) {
      const std::string site = SiteName(s, t.site);
      const auto& lan = s.topology.sites[t.site].lan;
      st = world.SetSiteLoss(site, lan.loss);
      if (st.ok()) st = world.SetSiteDelay(site, lan.delay);
    } else {
      const std::string a = SiteName(s, t.a), b = SiteName(s, t.b);
      const scenario::SiteLink* link = s.topology.FindLink(t.a, t.b);
      st = world.SetLinkLoss(a, b, link->params.loss);
      if (st.ok()) st = world.SetLinkDelay(a, b, link->params.delay);
      if (st.ok()) st = world.SetLinkJitter(a, b, link->params.jitter);
    }
  } else if (const auto* c = std::get_if<scenario::Crash>(&f.what)) {
    Engine* e = world.engine(c->node);
    const EngineStats last = e != nullptr ? e->stats() : EngineStats{};
    st = world.Crash(c->node);
    if (st.ok()) rec.NodeCrashed(now, c->node, last);
  } else if (const auto* re = std::get_if<scenario::Restart>(&f.what)) {
    st = world.Restart(re->node);
  }
  if (st.ok()) {
    rec.FaultApplied(now, f);
    if (calls != nullptr) {
      calls->reach.Apply(f);
      if (const auto* c = std::get_if<scenario::Crash>(&f.what)) calls->truth.ServerCrashed(c->node);
    }
  }
  return st;
}

// Hands one planned change to its node's engine and tells the recorder what happened.
void MakeChange(const PlannedChange& c, ns3sim::Ns3World& world, harness::RunRecorder& rec, CallWorld* calls) {
  const Duration now = world.Now();
  Engine* e = world.engine(c.node);
  if (e == nullptr) {
    rec.ChangeSkipped(now, c);
    return;
  }
  Status st;
  switch (c.kind) {
    case EntryKind::kDevice:
      st = e->SetDeviceState(c.key, c.state);
      break;
    case EntryKind::kMailbox:
      st = e->SetMailbox(c.key, c.counts);
      break;
    case EntryKind::kRegistration:
      if (c.remove) {
        st = e->RemoveRegistration(c.key);
      } else {
        const WallTime expires{Duration(harness::kSimEpochNs) + now + c.expires_in};
        st = e->SetRegistration(c.key, RegistrationInfo{c.contact, expires, c.status, 0});
      }
      break;
  }
  rec.ChangeMade(now, c, st);
  if (calls != nullptr && st.ok()) calls->truth.ChangeAccepted(now, c);
}

// One call under one strategy, hop by hop on ns-3's clock (scenario::RoutingStrategy).
struct CallInFlight {
  std::size_t call;
  scenario::RoutingStrategy strategy;
  NodeId at;
  std::uint32_t hops = 0;
  std::uint32_t min_hops = 0;
  std::uint32_t stale_sends = 0;
  std::vector<NodeId> visited;
};

// Routes calls: each arrives at its entry server and is routed by every listed strategy.
class CallRouting {
 public:
  CallRouting(const Scenario& s, ns3sim::Ns3World& world, CallWorld& cw)
      : s_(s), world_(world), cw_(cw), calls_(harness::ExpandCalls(s)) {}

  void Schedule() {
    if (!calls_.empty()) world_.At(calls_.front().at, [this] { Pump(); });
  }

 private:
  void Pump() {
    const Duration now = world_.Now();
    while (next_ < calls_.size() && calls_[next_].at <= now) Place(next_++);
    if (next_ < calls_.size()) world_.At(calls_[next_].at, [this] { Pump(); });
  }

  void Place(std::size_t i) {
    const harness::PlannedCall& pc = calls_[i];
    const Duration now = world_.Now();
    cw_.rec.Placed(pc);
    // A dead entry server does not take calls: the caller's trunk fails over to the next one.
    const auto& entries = s_.calls->nodes;
    const auto first = std::find(entries.begin(), entries.end(), pc.entry) - entries.begin();
    NodeId entry = kNoNode;
    for (std::size_t k = 0; k < entries.size() && entry == kNoNode; ++k) {
      const NodeId n = entries[(static_cast<std::size_t>(first) + k) % entries.size()];
      if (cw_.reach.Up(n)) entry = n;
    }
    const std::string aor = scenario::GeneratedAorName(pc.aor);
    if (entry == kNoNode || !cw_.truth.Registered(aor, now)) {
      cw_.rec.Unroutable(pc);
      return;
    }
    for (scenario::RoutingStrategy st : s_.calls->strategies) {
      auto c = std::make_shared<CallInFlight>(CallInFlight{i, st, entry, 0, 0, 0, {}});
      c->min_hops = cw_.truth.Holds(aor, entry, now) ? 0 : 1;
      c->visited.push_back(entry);
      Arrive(c);
    }
  }

  void Finish(const CallInFlight& c, harness::CallOutcome outcome) {
    cw_.rec.Finished(c.strategy, calls_[c.call], outcome, c.hops, c.min_hops, c.stale_sends);
  }

  void Arrive(const std::shared_ptr<CallInFlight>& c) {
    const Duration now = world_.Now();
    const std::string aor = scenario::GeneratedAorName(calls_[c->call].aor);
    if (cw_.truth.Holds(aor, c->at, now)) return Finish(*c, harness::CallOutcome::kCompleted);
    if (c->hops >= s_.calls->hop_limit) return Finish(*c, harness::CallOutcome::kHopLimit);
    const Engine* e = world_.engine(c->at);
    assert(e != nullptr);
    const harness::Hop hop = harness::NextHop(c->strategy, *e, c->at, aor, s_.topology.node_count());
    if (!cw_.reach.Reaches(c->at, hop.to)) return Finish(*c, harness::CallOutcome::kFailedHop);
    ++c->hops;
    world_.At(now + HopDelay(s_, c->at, hop.to), [this, c, hop, aor] {
      if (!cw_.reach.Up(hop.to)) return Finish(*c, harness::CallOutcome::kFailedHop);
      if (std::find(c->visited.begin(), c->visited.end(), hop.to) != c->visited.end()) {
        return Finish(*c, harness::CallOutcome::kLooped);
      }
      if (hop.from_location && !cw_.truth.Holds(aor, hop.to, world_.Now())) ++c->stale_sends;
      c->at = hop.to;
      c->visited.push_back(hop.to);
      Arrive(c);
    });
  }

  const Scenario& s_;
  ns3sim::Ns3World& world_;
  CallWorld& cw_;
  const std::vector<harness::PlannedCall> calls_;
  std::size_t next_ = 0;
};

}  // namespace

Status CheckNs3Support(const Scenario& s) {
  // The engine's own rules for its settings, with the identity every node gets filled in.
  EngineConfig probe = s.engine;
  probe.node_id = 1;
  probe.incarnation = 1;
  if (Status st = probe.Validate(); !st.ok()) return Status::InvalidArgument(s.file + ": engine: " + st.message());
  if (s.engine.membership != MembershipSource::kHeartbeat) {
    return Status::InvalidArgument(s.file + ": engine.membership: the ns-3 backend has no membership service; use heartbeat");
  }
  if (s.engine.max_frame_bytes > ns3t::kMaxUdpPayload) {
    // Ns3World::Build refuses it too, but without saying where: say it here, before anything runs.
    return Where(s, s.EnginePos("max_frame_bytes"), "engine.max_frame_bytes",
                 "the ns-3 backend carries frames of at most " + std::to_string(ns3t::kMaxUdpPayload) +
                     " bytes (the UDP payload of a 1500-byte MTU), got " + std::to_string(s.engine.max_frame_bytes) +
                     "; use a smaller value, or --backend netns");
  }
  for (const scenario::Fault& f : s.faults) {
    if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
      if (d->bandwidth_bps) {
        return Where(s, f.pos, "faults.degrade.bandwidth", "the ns-3 backend cannot change bandwidth during a run");
      }
      if (d->jitter && d->target.kind == scenario::NetworkTarget::Kind::kLan) {
        return Where(s, f.pos, "faults.degrade.jitter", "jitter applies to links between sites only");
      }
    }
  }
  return Status::Ok();
}

Status RunNs3(const Scenario& scenario_in, const RunOptions& options, RunOutcome* outcome) {
  Scenario s = scenario_in;
  if (options.seed) s.seed = *options.seed;
  if (s.auth) s.engine.cluster_keys = {scenario::ScenarioClusterKey(s.seed)};
  if (Status st = CheckNs3Support(s); !st.ok()) return st;
  const auto wall_start = std::chrono::steady_clock::now();

  const bool timelines = options.timelines.value_or(!s.faults.empty());
  harness::RunRecorder rec(s, timelines);
  Collector collector(&rec);

  ns3sim::WorldConfig wc;
  for (std::size_t i = 0; i < s.topology.sites.size(); ++i) {
    const scenario::Site& site = s.topology.sites[i];
    wc.sites.push_back({SiteName(s, i), site.node_count, LanParams(site.lan)});
  }
  for (const scenario::SiteLink& l : s.topology.links) {
    wc.links.push_back({SiteName(s, l.a), SiteName(s, l.b), LinkParams(l.params)});
  }
  // Multicast between sites is carried as LAN broadcast plus one copy per remote peer.
  wc.broadcast_mode = s.transport == scenario::TransportMode::kUnicast ? ns3t::BroadcastMode::kUnicastFanout
                                                                       : ns3t::BroadcastMode::kLanBroadcast;
  wc.engine = s.engine;
  wc.seed = static_cast<std::uint32_t>(s.seed % 0xFFFFFFFEu) + 1;
  wc.run = 1;
  wc.collector = &collector;

  std::unique_ptr<ns3sim::Ns3World> world;
  if (Status st = ns3sim::Ns3World::Create(wc, &world); !st.ok()) return st;

  const std::vector<PlannedChange> plan = harness::ExpandWorkload(s);
  // Start the nodes (their applications start at time 0) before anything is scheduled, so a
  // change or fault planned at 0 finds them up.
  world->RunUntil(Duration{});

  // Calls are routed only when the scenario has them; without, the run has exactly the events
  // it always had.
  std::unique_ptr<CallWorld> calls;
  if (s.calls) calls = std::make_unique<CallWorld>(s);
  // Faults first, so that at one instant a fault acts before the changes made then.
  Status fault_error;
  for (const scenario::Fault& f : s.faults) {
    world->At(f.at, [&s, &f, &world, &rec, &fault_error, &calls] {
      Status st = ApplyFault(s, f, *world, rec, calls.get());
      if (!st.ok() && fault_error.ok()) fault_error = st;
    });
  }
  // One pending event walks the plan, so a long plan does not fill the scheduler.
  std::size_t next = 0;
  std::function<void()> pump = [&] {
    const Duration now = world->Now();
    while (next < plan.size() && plan[next].at <= now) MakeChange(plan[next++], *world, rec, calls.get());
    if (next < plan.size()) world->At(plan[next].at, pump);
  };
  if (!plan.empty()) world->At(plan.front().at, pump);
  std::optional<CallRouting> routing;
  if (calls) {
    routing.emplace(s, *world, *calls);
    routing->Schedule();
  }

  // Cancellation: scheduled only when asked for, so a run without it has exactly the events it
  // always had. The poll changes nothing in the world; stopping ends Simulator::Run after it.
  bool stopped = false;
  std::function<void()> poll_stop = [&] {
    if (options.should_stop()) {
      stopped = true;
      ns3::Simulator::Stop();
      return;
    }
    world->At(world->Now() + kStopPollInterval, poll_stop);
  };
  if (options.should_stop) world->At(kStopPollInterval, poll_stop);

  // Run second by second: sample the network and report progress.
  const Duration end = s.end();
  std::vector<harness::SeriesPoint> series;
  ns3t::NodeCounters last_total = world->TotalCounters();
  std::vector<std::uint64_t> last_by_node(world->nodes().size(), 0);
  const bool tty = options.progress && isatty(STDERR_FILENO) != 0;
  auto last_print = std::chrono::steady_clock::now();
  for (Duration t = 1s; ; t += 1s) {
    const Duration until = std::min(t, end);
    world->RunUntil(until);
    if (stopped) {
      outcome->stopped = true;
      return Status::FailedPrecondition(s.name + ": run stopped at " + std::to_string(world->Now().count() / 1'000'000) +
                                        " ms of simulated time (should_stop)");
    }
    harness::SeriesPoint p;
    p.t = until;
    const ns3t::NodeCounters total = world->TotalCounters();
    p.frames = total.frames_sent - last_total.frames_sent;
    p.bytes = total.payload_bytes_sent - last_total.payload_bytes_sent;
    last_total = total;
    for (NodeId n : world->nodes()) {
      const std::uint64_t sent = world->counters(n)->frames_sent;
      p.frames_by_node.push_back(sent - last_by_node[n - 1]);
      last_by_node[n - 1] = sent;
    }
    series.push_back(std::move(p));
    if (options.progress) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_print > std::chrono::seconds(1) || until == end) {
        const double wall = std::chrono::duration<double>(now - wall_start).count();
        std::fprintf(stderr, "%s%s: simulated %.0f s of %.0f s, %.0f events/s wall%s", tty ? "\r" : "", s.name.c_str(),
                     static_cast<double>(until.count()) / 1e9, static_cast<double>(end.count()) / 1e9,
                     static_cast<double>(ns3::Simulator::GetEventCount()) / std::max(wall, 1e-9), tty ? "" : "\n");
        last_print = now;
      }
    }
    if (until == end) break;
  }
  if (tty) std::fprintf(stderr, "\n");
  if (!fault_error.ok()) return fault_error;

  outcome->result = rec.Finish(end, [&](NodeId n) {
    harness::RunRecorder::NodeAtEnd a;
    if (const Engine* e = world->engine(n)) a.view = harness::FinalViewOf(*e);
    a.frames_sent = world->counters(n)->frames_sent;
    a.bytes_sent = world->counters(n)->payload_bytes_sent;
    return a;
  });
  if (calls) {
    calls->rec.AddMetrics(&outcome->result.metrics);
    outcome->result.calls = calls->rec.summary();
  }
  outcome->verdicts = harness::EvaluateChecks(s, outcome->result);
  outcome->info.backend = "ns3";
  outcome->info.seed = s.seed;
  outcome->info.series = std::move(series);
  outcome->info.events = ns3::Simulator::GetEventCount();
  outcome->info.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  if (options.out) {
    std::string error;
    if (!harness::WriteRunRecord(*options.out, s, outcome->info, outcome->result, outcome->verdicts, &error)) {
      return Status::FailedPrecondition(error);
    }
    if (options.dump_state) {
      std::vector<std::string> lines;
      for (NodeId n : world->nodes()) {
        if (const Engine* e = world->engine(n)) harness::AppendNodeState(&lines, n, *e);
      }
      harness::AppendChangeLog(&lines, outcome->result);
      if (!harness::WriteLines(*options.out / "state.jsonl", lines, &error)) return Status::FailedPrecondition(error);
    }
  }
  return Status::Ok();
}

}  // namespace pbxstate::runner
