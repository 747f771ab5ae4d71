#include "pbxstate/harness/history.h"

#include <algorithm>
#include <cassert>

namespace pbxstate::harness {

using namespace std::chrono_literals;

OracleTiming OracleTiming::Of(const scenario::Scenario& s) {
  OracleTiming t;
  const EngineConfig& e = s.engine;
  // The scenario's cluster.membership is what the engines run with when it is given (inproc and
  // ns-3 honour it); otherwise the engine setting, which a backend may have set on its copy.
  t.membership = s.membership.source.value_or(e.membership);
  t.heartbeat_interval = e.heartbeat_interval;
  t.suspect_after = e.suspect_after;
  t.departure_grace = e.departure_grace;
  // The slowest LAN and the slowest link, with every degradation the scenario applies.
  Duration lan{}, link{};
  for (const scenario::Site& site : s.topology.sites) lan = std::max(lan, site.lan.delay);
  for (const scenario::SiteLink& l : s.topology.links) link = std::max(link, l.params.delay + l.params.jitter);
  for (const scenario::Fault& f : s.faults) {
    const auto* d = std::get_if<scenario::Degrade>(&f.what);
    if (d == nullptr) continue;
    if (d->target.kind == scenario::NetworkTarget::Kind::kLan) {
      if (d->delay) lan = std::max(lan, *d->delay);
    } else {
      const scenario::SiteLink* l = s.topology.FindLink(d->target.a, d->target.b);
      const Duration delay = d->delay.value_or(l != nullptr ? l->params.delay : Duration{});
      const Duration jitter = d->jitter.value_or(l != nullptr ? l->params.jitter : Duration{});
      link = std::max(link, delay + jitter);
    }
  }
  // A frame a reordering LAN or link holds back arrives reorder_delay later (the longest hold of
  // the parts that reorder, once per frame; degradations included).
  Duration hold{};
  auto held = [&hold](const scenario::FrameFaults& f) {
    if (f.reorder > 0) hold = std::max(hold, f.reorder_delay);
  };
  for (const scenario::Site& site : s.topology.sites) held(site.lan.frames);
  for (const scenario::SiteLink& l : s.topology.links) held(l.params.frames);
  for (const scenario::Fault& f : s.faults) {
    const auto* d = std::get_if<scenario::Degrade>(&f.what);
    if (d == nullptr) continue;
    scenario::FrameFaults frames;  // the target's configured ones, replaced by what d names
    if (d->target.kind == scenario::NetworkTarget::Kind::kLan) {
      if (d->target.site < s.topology.sites.size()) frames = s.topology.sites[d->target.site].lan.frames;
    } else if (const scenario::SiteLink* l = s.topology.FindLink(d->target.a, d->target.b)) {
      frames = l->params.frames;
    }
    if (d->reorder) frames.reorder = *d->reorder;
    if (d->reorder_delay) frames.reorder_delay = *d->reorder_delay;
    held(frames);
  }
  t.inflight = e.batch_window + 2 * lan + link + hold + 10ms;
  t.max_silence = e.heartbeat_interval * 22 / 10 + t.inflight;
  const Duration repair = e.anti_entropy_interval > Duration{} ? 2 * e.anti_entropy_interval : e.join_digest_holdoff;
  t.settle = 2 * e.heartbeat_interval + repair + e.sync_timeout + 2 * t.inflight;
  return t;
}

PathLoss::PathLoss(const scenario::Scenario& s) : sites_(s.topology.sites.size()) {
  for (std::size_t i = 0; i < s.topology.sites.size(); ++i) {
    site_of_.insert(site_of_.end(), s.topology.sites[i].node_count, i);
  }
  std::vector<double> lan(sites_, 0.0);
  std::vector<double> link(sites_ * sites_, 0.0);
  for (std::size_t i = 0; i < sites_; ++i) lan[i] = s.topology.sites[i].lan.loss;
  for (const scenario::SiteLink& l : s.topology.links) link[l.a * sites_ + l.b] = link[l.b * sites_ + l.a] = l.params.loss;
  const std::vector<double> configured_lan = lan, configured_link = link;
  auto snapshot = [&](Duration at) {
    Snapshot snap{at, std::vector<double>(sites_ * sites_, 0.0)};
    for (std::size_t a = 0; a < sites_; ++a) {
      for (std::size_t b = 0; b < sites_; ++b) {
        const double pass = a == b ? 1.0 - lan[a] : (1.0 - lan[a]) * (1.0 - link[a * sites_ + b]) * (1.0 - lan[b]);
        snap.loss[a * sites_ + b] = 1.0 - pass;
      }
    }
    if (!snapshots_.empty() && snapshots_.back().from == at) snapshots_.pop_back();
    snapshots_.push_back(std::move(snap));
  };
  snapshot(Duration{});
  for (const scenario::Fault& f : s.faults) {
    const scenario::NetworkTarget* target = nullptr;
    std::optional<double> loss;  // nullopt: the configured value again
    if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
      target = &d->target;
      loss = d->loss;
    } else if (const auto* r = std::get_if<scenario::Restore>(&f.what)) {
      target = &r->target;
    } else {
      continue;
    }
    // A degradation replaces the target's configured parameters; a loss it does not name
    // keeps the configured one.
    if (target->kind == scenario::NetworkTarget::Kind::kLan) {
      lan[target->site] = loss.value_or(configured_lan[target->site]);
    } else {
      const std::size_t ab = target->a * sites_ + target->b, ba = target->b * sites_ + target->a;
      link[ab] = link[ba] = loss.value_or(configured_link[ab]);
    }
    snapshot(f.at);
  }
}

double PathLoss::Between(NodeId a, NodeId b, Duration from, Duration to) const {
  if (snapshots_.empty()) return 0.0;
  const std::size_t cell = site_of_[a - 1] * sites_ + site_of_[b - 1];
  double worst = 0.0;
  for (std::size_t i = 0; i < snapshots_.size(); ++i) {
    const Duration until = i + 1 < snapshots_.size() ? snapshots_[i + 1].from : Duration::max();
    if (snapshots_[i].from <= to && until > from) worst = std::max(worst, snapshots_[i].loss[cell]);
  }
  return worst;
}

bool PathLoss::Any(Duration from, Duration to) const {
  for (std::size_t i = 0; i < snapshots_.size(); ++i) {
    const Duration until = i + 1 < snapshots_.size() ? snapshots_[i + 1].from : Duration::max();
    if (snapshots_[i].from > to || until <= from) continue;
    for (double loss : snapshots_[i].loss) {
      if (loss > 0.0) return true;
    }
  }
  return false;
}

ClusterHistory::ClusterHistory(std::uint32_t node_count, MembershipSource membership)
    : node_count_(node_count), membership_(membership), up_(node_count), cuts_(1), views_(node_count) {}

void ClusterHistory::Started(Duration t, NodeId node, std::uint64_t incarnation) {
  assert(!sealed_ && node >= 1 && node <= node_count_ && incarnation != 0);
  up_[node - 1].push_back({t, incarnation});
}

void ClusterHistory::Crashed(Duration t, NodeId node) {
  assert(!sealed_ && node >= 1 && node <= node_count_);
  up_[node - 1].push_back({t, 0});
}

void ClusterHistory::Cut(Duration t, const std::vector<std::vector<NodeId>>& sides, bool one_way) {
  assert(!sealed_);
  if (sides.empty()) {
    cut_changes_.emplace_back(t, 0);
    return;
  }
  CutConfig c;
  // Nodes in no side form one more side together.
  c.side_of.assign(node_count_, static_cast<std::uint32_t>(sides.size()));
  for (std::uint32_t i = 0; i < sides.size(); ++i) {
    for (NodeId n : sides[i]) c.side_of[n - 1] = i;
  }
  c.sides = static_cast<std::uint32_t>(sides.size()) + 1;
  c.one_way = one_way;
  cuts_.push_back(std::move(c));
  cut_changes_.emplace_back(t, static_cast<std::uint32_t>(cuts_.size() - 1));
}

void ClusterHistory::View(Duration t, NodeId node, std::vector<NodeId> members) {
  assert(!sealed_ && node >= 1 && node <= node_count_);
  std::sort(members.begin(), members.end());
  has_views_ = true;
  views_[node - 1].push_back({t, std::move(members)});
}

void ClusterHistory::Seal(Duration end) {
  assert(!sealed_);
  sealed_ = true;
  end_ = end;
  std::vector<Duration> times{Duration{}};
  for (const auto& ups : up_) {
    for (const UpChange& u : ups) times.push_back(u.t);
  }
  for (const auto& [t, c] : cut_changes_) times.push_back(t);
  for (const auto& vs : views_) {
    for (const ViewChange& v : vs) times.push_back(v.t);
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  std::size_t next_cut = 0;
  std::uint32_t cut = 0;
  for (Duration t : times) {
    while (next_cut < cut_changes_.size() && cut_changes_[next_cut].first <= t) cut = cut_changes_[next_cut++].second;
    epochs_.push_back({t, cut});
  }
}

std::size_t ClusterHistory::EpochAt(Duration t) const {
  assert(sealed_);
  auto it = std::upper_bound(epochs_.begin(), epochs_.end(), t, [](Duration x, const Epoch& e) { return x < e.start; });
  return it == epochs_.begin() ? 0 : static_cast<std::size_t>(it - epochs_.begin()) - 1;
}

std::uint64_t ClusterHistory::Incarnation(NodeId n, Duration t) const {
  const auto& ups = up_[n - 1];
  auto it = std::upper_bound(ups.begin(), ups.end(), t, [](Duration x, const UpChange& u) { return x < u.t; });
  return it == ups.begin() ? 0 : std::prev(it)->incarnation;
}

bool ClusterHistory::Up(NodeId n, Duration t) const { return Incarnation(n, t) != 0; }

std::optional<Duration> ClusterHistory::StartOf(NodeId n, Duration t) const {
  const auto& ups = up_[n - 1];
  auto it = std::upper_bound(ups.begin(), ups.end(), t, [](Duration x, const UpChange& u) { return x < u.t; });
  if (it == ups.begin() || std::prev(it)->incarnation == 0) return std::nullopt;
  return std::prev(it)->t;
}

std::uint32_t ClusterHistory::SideOf(NodeId n, std::size_t e) const {
  const CutConfig& c = cuts_[epochs_[e].cut];
  return c.side_of.empty() ? 0 : c.side_of[n - 1];
}

std::uint32_t ClusterHistory::SideCount(std::size_t e) const {
  return cuts_[epochs_[e].cut].sides;
}

bool ClusterHistory::SideAllows(std::uint32_t a, std::uint32_t b, std::size_t e) const {
  if (a == b) return true;
  // One way: only sides[0] -> sides[1] is cut; the other way passes.
  return cuts_[epochs_[e].cut].one_way && !(a == 0 && b == 1);
}

bool ClusterHistory::CutAllows(NodeId from, NodeId to, std::size_t e) const {
  return from == to || SideAllows(SideOf(from, e), SideOf(to, e), e);
}

bool ClusterHistory::InView(NodeId node, NodeId member, std::size_t e) const {
  const auto& vs = views_[node - 1];
  const Duration t = EpochStart(e);
  const std::optional<Duration> start = StartOf(node, t);
  if (!start) return false;
  auto it = std::upper_bound(vs.begin(), vs.end(), t, [](Duration x, const ViewChange& v) { return x < v.t; });
  if (it == vs.begin()) return false;
  // A restarted engine starts with no view: the views of its earlier life do not count, and
  // until the transport gives it one it refuses every peer's frames (kNotMember).
  if (std::prev(it)->t < *start) return false;
  const auto& m = std::prev(it)->members;
  return std::binary_search(m.begin(), m.end(), member);
}

bool ClusterHistory::Link(NodeId from, NodeId to, std::size_t e) const {
  if (!Up(from, e) || !Up(to, e) || !CutAllows(from, to, e)) return false;
  if (membership_ != MembershipSource::kTransport || from == to) return true;
  // CPG delivers only within a configuration and the engine refuses frames of non-members.
  return has_views_ ? InView(to, from, e) : CutAllows(to, from, e);
}

std::optional<Duration> ClusterHistory::ViewSince(NodeId node, Duration t) const {
  const std::optional<Duration> start = StartOf(node, t);
  if (!start) return std::nullopt;
  const auto& vs = views_[node - 1];
  auto it = std::upper_bound(vs.begin(), vs.end(), t, [](Duration x, const ViewChange& v) { return x < v.t; });
  if (it == vs.begin() || std::prev(it)->t < *start) return std::nullopt;  // as InView
  return std::prev(it)->t;
}

bool ClusterHistory::Disturbed(Duration from, Duration to) const {
  for (const auto& ups : up_) {
    for (const UpChange& u : ups) {
      if (u.t > from && u.t <= to) return true;
    }
  }
  for (std::size_t e = EpochAt(from); e < epochs_.size() && EpochStart(e) <= to; ++e) {
    if (!cuts_[epochs_[e].cut].side_of.empty()) return true;
  }
  return false;
}

bool ClusterHistory::CutAt(Duration t) const { return !cuts_[epochs_[EpochAt(t)].cut].side_of.empty(); }

template <class Holds>
ClusterHistory::Contact ClusterHistory::ContactOf(NodeId from, NodeId to, Duration at, const Holds& holds) const {
  Contact c;
  const std::uint64_t to_inc = Incarnation(to, at);
  if (to_inc == 0) return c;
  std::size_t e = EpochAt(at);
  // Walk back to the last epoch (in `to`'s incarnation) where the relation holds.
  for (;;) {
    if (Incarnation(to, e) != to_inc) return c;
    if (holds(e)) break;
    if (e == 0) return c;
    --e;
  }
  c.ever = true;
  c.now = e == EpochAt(at);
  c.until = c.now ? at : EpochEnd(e);
  c.from_incarnation = Incarnation(from, e);
  while (e > 0 && holds(e - 1) && Incarnation(to, e - 1) == to_inc && Incarnation(from, e - 1) == c.from_incarnation) --e;
  c.since = EpochStart(e);
  return c;
}

ClusterHistory::Contact ClusterHistory::LinkContact(NodeId from, NodeId to, Duration at) const {
  return ContactOf(from, to, at, [&](std::size_t e) { return Link(from, to, e); });
}

ClusterHistory::Contact ClusterHistory::ViewContact(NodeId from, NodeId to, Duration at) const {
  return ContactOf(from, to, at, [&](std::size_t e) { return Up(to, e) && InView(to, from, e); });
}

}  // namespace pbxstate::harness
