#include "run_steps.h"

#include <algorithm>
#include <cassert>
#include <map>

namespace pbxstate::runner {
namespace {

using scenario::Scenario;

// One-way delay of a call's hop between two servers: their LAN, or both LANs and the link
// between their sites, as configured (a degradation in force is not applied to hops).
Duration HopDelay(const Scenario& s, NodeId a, NodeId b) {
  const std::size_t sa = s.topology.SiteOf(a), sb = s.topology.SiteOf(b);
  if (sa == sb) return s.topology.sites[sa].lan.delay;
  const scenario::SiteLink* link = s.topology.FindLink(sa, sb);
  assert(link != nullptr);
  return s.topology.sites[sa].lan.delay + link->params.delay + s.topology.sites[sb].lan.delay;
}

}  // namespace

Status Where(const Scenario& s, const scenario::SourcePos& pos, const std::string& field, const std::string& what) {
  return Status::InvalidArgument(s.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " +
                                 field + ": " + what);
}

void JudgeByTransportMembership(scenario::Scenario* s) {
  s->membership.source = MembershipSource::kTransport;
  s->engine.membership = MembershipSource::kTransport;
}

Status RefuseFrameFaults(const Scenario& s, const std::string& backend) {
  const std::string why = "the " + backend +
                          " backend does not duplicate or reorder frames yet (run this scenario with "
                          "--backend inproc)";
  for (const scenario::Site& site : s.topology.sites) {
    if (site.lan.frames.any()) {
      return Where(s, site.lan.frames.pos, s.topology.named_sites ? "network: LAN of site " + site.name : "network.lan",
                   why);
    }
  }
  for (const scenario::SiteLink& l : s.topology.links) {
    if (l.params.frames.any()) {
      return Where(s, l.params.frames.pos,
                   "network: link " + s.topology.sites[l.a].name + " - " + s.topology.sites[l.b].name, why);
    }
  }
  for (const scenario::Fault& f : s.faults) {
    const auto* d = std::get_if<scenario::Degrade>(&f.what);
    if (d != nullptr && d->frame_faults()) return Where(s, f.pos, "faults.degrade", why);
  }
  return Status::Ok();
}

namespace {

// The side of every node (index node - 1) by the cut in force at the end of `s`; all 0 when none.
// A one-way cut separates its two sides too: agreement is only required both ways.
std::vector<std::size_t> SidesAtEnd(const Scenario& s) {
  const std::uint32_t n = s.topology.node_count();
  std::vector<std::size_t> side(n, 0);
  for (const scenario::Fault& f : s.faults) {
    if (const auto* p = std::get_if<scenario::Partition>(&f.what)) {
      for (std::size_t i = 0; i < p->sides.size(); ++i) {
        for (NodeId node : p->sides[i]) side[node - 1] = i;
      }
    } else if (const auto* iso = std::get_if<scenario::Isolate>(&f.what)) {
      std::fill(side.begin(), side.end(), 0);
      side[iso->node - 1] = 1;
    } else if (std::holds_alternative<scenario::Heal>(f.what)) {
      std::fill(side.begin(), side.end(), 0);
    }
  }
  return side;
}

}  // namespace

void AddEndStateMetrics(const Scenario& s, harness::RunResult* result, const MembersAtEnd& members) {
  const std::vector<std::size_t> side = SidesAtEnd(s);
  std::map<std::size_t, std::uint64_t> first_digest;      // side -> digest of its lowest live node
  std::map<std::size_t, std::vector<NodeId>> live_by_side;  // side -> its live nodes, ascending
  for (const harness::NodeSummary& ns : result->nodes) {
    if (ns.up_at_end) live_by_side[side[ns.node - 1]].push_back(ns.node);
  }
  std::uint64_t disagreeing = 0, refused_auth = 0;
  for (const harness::NodeSummary& ns : result->nodes) {
    for (DropReason r : {DropReason::kBadMac, DropReason::kUnknownKey, DropReason::kUnauthenticated,
                         DropReason::kAuthNotConfigured}) {
      refused_auth += ns.stats.dropped[static_cast<std::size_t>(r)];
    }
    if (!ns.up_at_end) continue;
    auto [it, first] = first_digest.emplace(side[ns.node - 1], ns.final_digest);
    bool disagrees = !first && it->second != ns.final_digest;
    if (members) {
      const std::optional<std::vector<NodeId>> m = members(ns.node);
      disagrees = disagrees || (m && *m != live_by_side[side[ns.node - 1]]);
    }
    if (disagrees) ++disagreeing;
  }
  result->metrics["disagreeing_nodes"] = static_cast<double>(disagreeing);
  result->metrics["frames_refused_auth"] = static_cast<double>(refused_auth);
  result->metrics["changes_refused"] = static_cast<double>(result->changes_refused);
}

bool MemorySampleDue(const scenario::Scenario& s, Duration t) {
  return s.memory && (t % s.memory->sample_every == Duration{} || t == s.end());
}

void SampleEngineMemory(const scenario::Scenario& s, Duration t, const std::function<const Engine*(NodeId)>& engine,
                        harness::RunRecorder& rec) {
  if (!MemorySampleDue(s, t)) return;
  for (NodeId n = 1; n <= s.topology.node_count(); ++n) {
    if (const Engine* e = engine(n)) rec.EngineMemorySampled(t, n, e->stats().held_bytes);
  }
}

void FaultDone(Duration t, const scenario::Fault& f, harness::RunRecorder& rec, CallWorld* calls) {
  rec.FaultApplied(t, f);
  if (calls == nullptr) return;
  calls->reach.Apply(f);
  if (const auto* c = std::get_if<scenario::Crash>(&f.what)) calls->truth.ServerCrashed(c->node);
}

void MakeChange(const harness::PlannedChange& c, Engine* e, Duration now, harness::RunRecorder& rec,
                CallWorld* calls) {
  if (e == nullptr) {
    rec.ChangeSkipped(now, c);
    return;
  }
  Status st;
  switch (c.kind) {
    case EntryKind::kDevice:
      st = c.remove ? e->RemoveDevice(c.key) : e->SetDeviceState(c.key, c.state);
      break;
    case EntryKind::kMailbox:
      st = c.remove ? e->RemoveMailbox(c.key) : e->SetMailbox(c.key, c.counts);
      break;
    case EntryKind::kRegistration:
      if (c.remove) {
        st = c.contact.empty() ? e->RemoveRegistration(c.key) : e->RemoveContact(c.key, c.contact);
      } else {
        const WallTime expires{Duration(harness::kSimEpochNs) + now + c.expires_in};
        st = e->SetRegistration(c.key, RegistrationInfo{c.contact, expires, c.status, 0, c.path, c.user_agent});
      }
      break;
  }
  rec.ChangeMade(now, c, st);
  if (calls != nullptr && st.ok()) calls->truth.ChangeAccepted(now, c);
}

// One call under one strategy, hop by hop on the host's clock (scenario::RoutingStrategy).
struct CallRouting::InFlight {
  std::size_t call;
  scenario::RoutingStrategy strategy;
  NodeId at;
  std::uint32_t hops = 0;
  std::uint32_t min_hops = 0;
  std::uint32_t stale_sends = 0;
  std::vector<NodeId> visited;
};

CallRouting::CallRouting(const Scenario& s, CallHost& host, CallWorld& world)
    : s_(s), host_(host), world_(world), calls_(harness::ExpandCalls(s)) {}

CallRouting::~CallRouting() = default;

void CallRouting::Schedule() {
  if (!calls_.empty()) host_.At(calls_.front().at, [this] { Pump(); });
}

void CallRouting::Pump() {
  const Duration now = host_.Now();
  while (next_ < calls_.size() && calls_[next_].at <= now) Place(next_++);
  if (next_ < calls_.size()) host_.At(calls_[next_].at, [this] { Pump(); });
}

NodeId EntryServer(const scenario::Calls& calls, NodeId planned, const harness::ServerReach& reach) {
  const auto& entries = calls.nodes;
  const auto first = std::find(entries.begin(), entries.end(), planned) - entries.begin();
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const NodeId n = entries[(static_cast<std::size_t>(first) + k) % entries.size()];
    if (reach.Up(n)) return n;
  }
  return kNoNode;
}

void CallRouting::Place(std::size_t i) {
  const harness::PlannedCall& pc = calls_[i];
  const Duration now = host_.Now();
  world_.rec.Placed(pc);
  const NodeId entry = EntryServer(*s_.calls, pc.entry, world_.reach);
  const std::string aor = scenario::GeneratedAorName(pc.aor);
  if (entry == kNoNode || !world_.truth.Registered(aor, now)) {
    world_.rec.Unroutable(pc);
    return;
  }
  for (scenario::RoutingStrategy st : s_.calls->strategies) {
    auto c = std::make_shared<InFlight>(InFlight{i, st, entry, 0, 0, 0, {}});
    c->min_hops = world_.truth.Holds(aor, entry, now) ? 0 : 1;
    c->visited.push_back(entry);
    Arrive(c);
  }
}

void CallRouting::Finish(const InFlight& c, harness::CallOutcome outcome) {
  world_.rec.Finished(c.strategy, calls_[c.call], outcome, c.hops, c.min_hops, c.stale_sends);
}

void CallRouting::Arrive(const std::shared_ptr<InFlight>& c) {
  const Duration now = host_.Now();
  const std::string aor = scenario::GeneratedAorName(calls_[c->call].aor);
  if (world_.truth.Holds(aor, c->at, now)) return Finish(*c, harness::CallOutcome::kCompleted);
  if (c->hops >= s_.calls->hop_limit) return Finish(*c, harness::CallOutcome::kHopLimit);
  const Engine* e = host_.engine(c->at);
  assert(e != nullptr);
  const harness::Hop hop = harness::NextHop(c->strategy, *e, c->at, aor, s_.topology.node_count());
  if (!world_.reach.Reaches(c->at, hop.to)) return Finish(*c, harness::CallOutcome::kFailedHop);
  ++c->hops;
  host_.At(now + HopDelay(s_, c->at, hop.to), [this, c, hop, aor] {
    if (!world_.reach.Up(hop.to)) return Finish(*c, harness::CallOutcome::kFailedHop);
    if (std::find(c->visited.begin(), c->visited.end(), hop.to) != c->visited.end()) {
      return Finish(*c, harness::CallOutcome::kLooped);
    }
    if (hop.from_location && !world_.truth.Holds(aor, hop.to, host_.Now())) ++c->stale_sends;
    c->at = hop.to;
    c->visited.push_back(hop.to);
    Arrive(c);
  });
}

}  // namespace pbxstate::runner
