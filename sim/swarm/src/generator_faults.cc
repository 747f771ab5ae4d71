// Fault episodes (a partition and its heal, a flapping partition, a crash and its restart, a
// crash storm, a degradation and its restore) drawn independently, so they overlap, then merged
// in time order into one timeline the loader accepts: an action that no longer makes sense when
// its turn comes (a heal with nothing cut, a restart of a running node) is left out.
#include <algorithm>
#include <numeric>

#include "fault_timeline.h"
#include "generator_impl.h"

namespace pbxstate::swarm::detail {
namespace {

using scenario::Fault;
using scenario::Scenario;

std::vector<NodeId> AllNodes(const Scenario& s) {
  std::vector<NodeId> all(s.topology.node_count());
  std::iota(all.begin(), all.end(), NodeId{1});
  return all;
}

// `count` (at most one per node) non-empty sides covering every node, each ascending.
std::vector<std::vector<NodeId>> DrawSides(Draw& d, const Scenario& s, std::size_t count) {
  std::vector<NodeId> nodes = AllNodes(s);
  count = std::min(count, nodes.size());
  for (std::size_t i = nodes.size(); i > 1; --i) std::swap(nodes[i - 1], nodes[d.Below(i)]);
  std::vector<std::vector<NodeId>> sides(count);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    // The first `count` nodes open one side each; the rest fall anywhere.
    sides[i < count ? i : d.Below(count)].push_back(nodes[i]);
  }
  for (auto& side : sides) std::sort(side.begin(), side.end());
  return sides;
}

Fault At(Duration t, decltype(Fault::what) what) {
  Fault f;
  f.at = t;
  f.what = std::move(what);
  return f;
}

std::vector<NodeId> Crashable(const Shape& shape, const Scenario& s) {
  std::vector<NodeId> out;
  for (NodeId n : AllNodes(s)) {
    if (!shape.stable.count(n)) out.push_back(n);
  }
  return out;
}

void PartitionEpisode(Draw& d, const Scenario& s, Duration t, std::vector<Fault>* out) {
  const bool one_way = d.Chance(0.3);
  scenario::Partition p;
  p.sides = DrawSides(d, s, one_way ? 2 : static_cast<std::size_t>(d.Between(2, 3)));
  p.one_way = one_way;
  out->push_back(At(t, p));
  out->push_back(At(t + d.Ms(300, 8'000), scenario::Heal{}));
}

void FlappingEpisode(Draw& d, const Scenario& s, Duration t, std::vector<Fault>* out) {
  const auto flaps = d.Between(3, 8);
  const Duration period = d.Ms(100, 800);
  const bool same_sides = d.Chance(0.5);
  scenario::Partition p;
  p.sides = DrawSides(d, s, 2);
  for (std::int64_t i = 0; i < flaps; ++i) {
    if (!same_sides) {
      p.sides = DrawSides(d, s, 2);
      p.one_way = d.Chance(0.3);
    }
    out->push_back(At(t, p));
    out->push_back(At(t + period / 2, scenario::Heal{}));
    t += period;
  }
}

void CrashEpisode(Draw& d, const Shape& shape, const Scenario& s, Duration t, std::vector<Fault>* out) {
  std::vector<NodeId> candidates = Crashable(shape, s);
  if (candidates.empty()) return;
  // A storm: several nodes within two seconds, their restarts overlapping the other crashes.
  const auto victims = d.Chance(0.3) ? d.Between(2, 4) : 1;
  for (std::int64_t v = 0; v < victims && !candidates.empty(); ++v) {
    const std::size_t pick = d.Below(candidates.size());
    const NodeId node = candidates[pick];
    candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(pick));
    const Duration crash_at = t + (victims > 1 ? d.Ms(0, 2'000) : 0ms);
    out->push_back(At(crash_at, scenario::Crash{node}));
    if (d.Chance(0.75)) out->push_back(At(crash_at + d.Ms(1, 10'000), scenario::Restart{node}));
  }
}

void DegradeEpisode(Draw& d, const Shape& shape, const Scenario& s, Duration t, std::vector<Fault>* out) {
  const scenario::Topology& topo = s.topology;
  scenario::Degrade dg;
  const bool link = !topo.links.empty() && d.Chance(0.5);
  if (link) {
    const scenario::SiteLink& l = topo.links[d.Below(topo.links.size())];
    dg.target = {scenario::NetworkTarget::Kind::kLink, 0, l.a, l.b};
    if (!shape.reliable) dg.jitter = d.Ms(0, l.params.delay.count() / 1'000'000);
  } else {
    dg.target = {scenario::NetworkTarget::Kind::kLan, d.Below(topo.sites.size()), 0, 0};
  }
  if (d.Chance(0.4) || shape.reliable) dg.delay = d.Ms(link ? 80 : 1, link ? 300 : 50);
  if (!shape.reliable) {
    dg.loss = d.Share(0.3);
    if (shape.frame_faults && d.Chance(0.3)) dg.duplicate = d.Share(0.3);
    if (shape.frame_faults && d.Chance(0.3)) dg.reorder = d.Share(0.3);
  }
  out->push_back(At(t, dg));
  out->push_back(At(t + d.Ms(1'000, 10'000), scenario::Restore{dg.target}));
}

// Keeps the faults that make sense in time order (the loader's timeline rules) and before `end`.
std::vector<Fault> Merge(std::vector<Fault> drawn, Duration end) {
  std::stable_sort(drawn.begin(), drawn.end(), [](const Fault& a, const Fault& b) { return a.at < b.at; });
  drawn.erase(std::remove_if(drawn.begin(), drawn.end(), [end](const Fault& f) { return f.at >= end; }), drawn.end());
  return KeepTimeline(std::move(drawn), [](scenario::Partition&) { return true; });
}

// The state the merged faults leave at `end`.
struct EndState {
  bool cut = false, cut_two_way = false;
  std::set<NodeId> crashed;
  std::vector<scenario::NetworkTarget> degraded;
};

EndState StateAfter(const std::vector<Fault>& faults) {
  EndState st;
  for (const Fault& f : faults) {
    if (const auto* p = std::get_if<scenario::Partition>(&f.what)) {
      st.cut = true;
      st.cut_two_way = !p->one_way;
    } else if (std::holds_alternative<scenario::Isolate>(f.what)) {
      st.cut = st.cut_two_way = true;
    } else if (std::holds_alternative<scenario::Heal>(f.what)) {
      st.cut = st.cut_two_way = false;
    } else if (const auto* c = std::get_if<scenario::Crash>(&f.what)) {
      st.crashed.insert(c->node);
    } else if (const auto* r = std::get_if<scenario::Restart>(&f.what)) {
      st.crashed.erase(r->node);
    } else if (const auto* dg = std::get_if<scenario::Degrade>(&f.what)) {
      if (std::find(st.degraded.begin(), st.degraded.end(), dg->target) == st.degraded.end()) {
        st.degraded.push_back(dg->target);
      }
    } else if (const auto* re = std::get_if<scenario::Restore>(&f.what)) {
      st.degraded.erase(std::find(st.degraded.begin(), st.degraded.end(), re->target));
    }
  }
  return st;
}

// At the end of the fault phase: every degradation restored, the cut healed (or a two-way
// partition left in force on the seeds that end partitioned: never a one-way one), about half
// the crashed nodes restarted.
void EndFaults(Draw& d, const Shape& shape, const Scenario& s, std::vector<Fault>* faults) {
  const Duration t = shape.faults_end;
  const EndState st = StateAfter(*faults);
  const bool keep_cut = shape.end_partitioned && st.cut && st.cut_two_way;
  if (st.cut && !keep_cut) faults->push_back(At(t, scenario::Heal{}));
  if (shape.end_partitioned && !keep_cut) {
    scenario::Partition p;
    p.sides = DrawSides(d, s, static_cast<std::size_t>(d.Between(2, 3)));
    faults->push_back(At(t, p));
  }
  for (const scenario::NetworkTarget& target : st.degraded) faults->push_back(At(t, scenario::Restore{target}));
  for (NodeId n : st.crashed) {
    if (d.Chance(0.5)) faults->push_back(At(t, scenario::Restart{n}));
  }
}

}  // namespace

void DrawFaults(Draw& d, const Shape& shape, Scenario* s) {
  std::vector<Fault> drawn;
  const std::int64_t end_ms = shape.faults_end.count() / 1'000'000;
  for (std::int64_t k = d.Between(0, 12); k > 0; --k) {
    const Duration t = d.Ms(0, end_ms - 1);
    const auto kind = d.Below(100);
    if (kind < 30) {
      PartitionEpisode(d, *s, t, &drawn);
    } else if (kind < 40) {
      drawn.push_back(At(t, scenario::Isolate{static_cast<NodeId>(d.Between(1, s->topology.node_count()))}));
      drawn.push_back(At(t + d.Ms(300, 8'000), scenario::Heal{}));
    } else if (kind < 50) {
      FlappingEpisode(d, *s, t, &drawn);
    } else if (kind < 80) {
      CrashEpisode(d, shape, *s, t, &drawn);
    } else {
      DegradeEpisode(d, shape, *s, t, &drawn);
    }
  }
  std::vector<Fault> faults = Merge(std::move(drawn), shape.faults_end);
  EndFaults(d, shape, *s, &faults);
  s->faults = std::move(faults);
}

}  // namespace pbxstate::swarm::detail
