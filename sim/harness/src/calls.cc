#include "pbxstate/harness/calls.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <random>

namespace pbxstate::harness {
namespace {

using scenario::RoutingStrategy;

// The k-th of `rate` evenly spaced instants from `start` (workload.cc spaces changes the same way).
Duration Tick(Duration start, double rate, std::uint64_t k) {
  return start + Duration(static_cast<std::int64_t>(std::llround(static_cast<double>(k) * 1e9 / rate)));
}

}  // namespace

std::vector<PlannedCall> ExpandCalls(const scenario::Scenario& s) {
  std::vector<PlannedCall> out;
  if (!s.calls || s.workload.aors == 0 || s.calls->nodes.empty()) return out;
  const scenario::Calls& c = *s.calls;
  std::vector<Duration> times;
  if (c.rate_per_s > 0) {
    for (std::uint64_t k = 0;; ++k) {
      const Duration t = Tick(c.start, c.rate_per_s, k);
      if (t >= c.stop || times.size() >= kMaxPlannedCalls) break;
      times.push_back(t);
    }
  }
  for (const scenario::CallBurst& b : c.bursts) {
    for (std::uint64_t k = 0;; ++k) {
      const Duration t = Tick(b.at, b.rate_per_s, k);
      if (t >= b.at + b.length || times.size() >= kMaxPlannedCalls) break;
      times.push_back(t);
    }
  }
  std::stable_sort(times.begin(), times.end());
  // Its own stream (purpose 200), so calls do not shift the workload's draws.
  std::seed_seq seq{static_cast<std::uint32_t>(s.seed), static_cast<std::uint32_t>(s.seed >> 32), 200u, 0u};
  std::mt19937_64 rng(seq);
  out.reserve(times.size());
  for (std::size_t i = 0; i < times.size(); ++i) {
    out.push_back({times[i], c.nodes[i % c.nodes.size()], static_cast<std::uint32_t>(rng() % s.workload.aors)});
  }
  return out;
}

void PhoneTruth::ChangeAccepted(Duration t, const PlannedChange& c) {
  if (c.kind != EntryKind::kRegistration) return;
  if (c.remove) {
    book_.Remove(t, c.node, c.key, c.contact);
  } else {
    book_.Set(t, c.node, c.key, c.contact, t + c.expires_in);
  }
}

void PhoneTruth::ServerCrashed(NodeId node) { book_.Crashed(node); }

ServerReach::ServerReach(std::uint32_t nodes) : up_(nodes, true), side_(nodes, 0) {}

void ServerReach::Apply(const scenario::Fault& fault) {
  auto heal = [&] {
    std::fill(side_.begin(), side_.end(), 0);
    one_way_.reset();
  };
  if (const auto* p = std::get_if<scenario::Partition>(&fault.what)) {
    heal();
    for (std::size_t i = 0; i < p->sides.size(); ++i) {
      for (NodeId n : p->sides[i]) side_[n - 1] = static_cast<std::uint32_t>(i);
    }
    if (p->one_way) one_way_ = std::make_pair(0u, 1u);
  } else if (std::holds_alternative<scenario::Heal>(fault.what)) {
    heal();
  } else if (const auto* iso = std::get_if<scenario::Isolate>(&fault.what)) {
    heal();
    side_[iso->node - 1] = 1;
  } else if (const auto* c = std::get_if<scenario::Crash>(&fault.what)) {
    up_[c->node - 1] = false;
  } else if (const auto* r = std::get_if<scenario::Restart>(&fault.what)) {
    up_[r->node - 1] = true;
  }
}

bool ServerReach::Reaches(NodeId from, NodeId to) const {
  if (!Up(from) || !Up(to)) return false;
  const std::uint32_t a = side_[from - 1], b = side_[to - 1];
  if (a == b) return true;
  // A one-way cut drops what `from`'s side sends to the deaf side; a call needs both ways
  // (the INVITE and its answers), so it fails either way.
  return false;
}

Hop NextHop(RoutingStrategy strategy, const Engine& at_engine, NodeId at, const std::string& aor,
            std::uint32_t node_count) {
  if (strategy != RoutingStrategy::kLocation) return NextHop(strategy, std::vector<Location>{}, at, node_count);
  return NextHop(strategy, at_engine.Locate(aor), at, node_count);
}

Hop NextHop(RoutingStrategy strategy, const std::vector<Location>& located, NodeId at, std::uint32_t node_count) {
  assert(at >= 1 && at <= node_count);
  if (strategy == RoutingStrategy::kLocation) {
    for (const Location& l : located) {
      if (l.node != at && l.reachable) return {l.node, true};
    }
  }
  return {at % node_count + 1, false};
}

Duration ConfiguredHopDelay(const scenario::Scenario& s, NodeId a, NodeId b) {
  const std::size_t sa = s.topology.SiteOf(a), sb = s.topology.SiteOf(b);
  if (sa == sb) return s.topology.sites[sa].lan.delay;
  const scenario::SiteLink* link = s.topology.FindLink(sa, sb);
  assert(link != nullptr);
  return s.topology.sites[sa].lan.delay + link->params.delay + s.topology.sites[sb].lan.delay;
}

CallRecorder::CallRecorder(const scenario::Scenario& s) : windows_(PlannedFaultWindows(s)) {
  if (s.calls) {
    for (RoutingStrategy st : s.calls->strategies) summary_.strategies.emplace_back(st, StrategyCallStats{});
  }
}

StrategyCallStats& CallRecorder::Stats(RoutingStrategy strategy) {
  for (auto& [st, stats] : summary_.strategies) {
    if (st == strategy) return stats;
  }
  assert(false && "a strategy the scenario does not list");
  return summary_.strategies.front().second;
}

bool CallRecorder::Inside(Duration t) const {
  return std::any_of(windows_.begin(), windows_.end(), [t](const FaultWindow& w) { return t >= w.start && t < w.end; });
}

void CallRecorder::Placed(const PlannedCall&) { ++summary_.total; }

void CallRecorder::Unroutable(const PlannedCall&) { ++summary_.unroutable; }

void CallRecorder::Finished(RoutingStrategy strategy, const PlannedCall& call, CallOutcome outcome,
                            std::uint32_t hops, std::uint32_t min_hops, std::uint32_t stale_sends) {
  StrategyCallStats& s = Stats(strategy);
  const bool inside = Inside(call.at);
  ++s.calls;
  if (inside) ++s.inside_calls;
  s.stale_sends += stale_sends;
  switch (outcome) {
    case CallOutcome::kCompleted: {
      ++s.completed;
      if (inside) ++s.inside_completed;
      assert(hops >= min_hops);
      const std::uint64_t extra = hops - min_hops;
      s.extra_hops_sum += extra;
      s.extra_hops_max = std::max(s.extra_hops_max, extra);
      break;
    }
    case CallOutcome::kLooped: ++s.looped; break;
    case CallOutcome::kHopLimit: ++s.hop_limit; break;
    case CallOutcome::kFailedHop: ++s.failed_hops; break;
  }
}

void CallRecorder::AddMetrics(std::map<std::string, double>* m) const {
  if (summary_.strategies.empty()) return;
  (*m)["calls.total"] = static_cast<double>(summary_.total);
  (*m)["calls.unroutable"] = static_cast<double>(summary_.unroutable);
  std::map<RoutingStrategy, double> mean_extra;
  for (const auto& [st, s] : summary_.strategies) {
    const std::string p = "calls." + std::string(scenario::RoutingStrategyMetricName(st));
    auto ratio = [](std::uint64_t a, std::uint64_t b) { return static_cast<double>(a) / static_cast<double>(b); };
    if (s.calls > 0) (*m)[p + ".completion_ratio"] = ratio(s.completed, s.calls);
    if (s.inside_calls > 0) (*m)[p + ".completion_ratio.inside_faults"] = ratio(s.inside_completed, s.inside_calls);
    if (s.calls > s.inside_calls) {
      (*m)[p + ".completion_ratio.outside_faults"] =
          ratio(s.completed - s.inside_completed, s.calls - s.inside_calls);
    }
    (*m)[p + ".looped"] = static_cast<double>(s.looped);
    (*m)[p + ".hop_limit"] = static_cast<double>(s.hop_limit);
    (*m)[p + ".failed_hops"] = static_cast<double>(s.failed_hops);
    (*m)[p + ".stale_sends"] = static_cast<double>(s.stale_sends);
    if (s.completed > 0) {
      mean_extra[st] = ratio(s.extra_hops_sum, s.completed);
      (*m)[p + ".extra_hops.mean"] = mean_extra[st];
      (*m)[p + ".extra_hops.max"] = static_cast<double>(s.extra_hops_max);
    }
  }
  auto loc = mean_extra.find(RoutingStrategy::kLocation);
  auto blind = mean_extra.find(RoutingStrategy::kBlindPeer);
  if (loc != mean_extra.end() && blind != mean_extra.end() && blind->second > 0) {
    (*m)["calls.location.extra_hops_vs_blind_peer"] = loc->second / blind->second;
  }
}

}  // namespace pbxstate::harness
