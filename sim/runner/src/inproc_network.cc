#include "inproc_network.h"

#include <algorithm>
#include <cassert>

namespace pbxstate::runner {
namespace {

// The chance that at least one of independent events with these chances happens.
double AnyOf(std::initializer_list<double> chances) {
  double none = 1.0;
  for (double p : chances) none *= 1.0 - p;
  return 1.0 - none;
}

// Duplication and reordering along a path of parts: a frame is duplicated (held back) when any
// part does it; held back by the longest hold of the parts that reorder.
void AddFrameFaults(std::initializer_list<const scenario::FrameFaults*> parts, inproc::LinkFaults* f) {
  double single = 1.0, in_order = 1.0;
  Duration hold{};
  for (const scenario::FrameFaults* p : parts) {
    single *= 1.0 - p->duplicate;
    in_order *= 1.0 - p->reorder;
    if (p->reorder > 0) hold = std::max(hold, p->reorder_delay);
  }
  f->duplicate = 1.0 - single;
  f->reorder = 1.0 - in_order;
  f->reorder_delay = hold;
}

}  // namespace

InprocNetwork::InprocNetwork(const scenario::Topology& topology) : topology_(topology) {
  for (const scenario::Site& site : topology.sites) lans_.push_back(site.lan);
  for (const scenario::SiteLink& link : topology.links) links_.push_back(link.params);
}

inproc::LinkFaults InprocNetwork::Path(std::size_t from, std::size_t to) const {
  const scenario::LanParams& a = lans_[from];
  inproc::LinkFaults f;
  if (from == to) {
    f.delay = a.delay;
    f.loss = a.loss;
    f.bandwidth_bps = a.bandwidth_bps;
    AddFrameFaults({&a.frames}, &f);
    return f;
  }
  const scenario::LanParams& b = lans_[to];
  const scenario::SiteLink* link = topology_.FindLink(from, to);
  assert(link != nullptr);
  const scenario::LinkParams& l = links_[static_cast<std::size_t>(link - topology_.links.data())];
  // delay +- jitter as inproc's delay' + uniform [0, 2 jitter] with delay' = delay - jitter
  // (the loader keeps jitter <= the link's delay).
  f.delay = a.delay + l.delay - l.jitter + b.delay;
  f.jitter = 2 * l.jitter;
  f.loss = AnyOf({a.loss, l.loss, b.loss});
  f.bandwidth_bps = std::min({a.bandwidth_bps, l.bandwidth_bps, b.bandwidth_bps});
  AddFrameFaults({&a.frames, &l.frames, &b.frames}, &f);
  return f;
}

namespace {
void DegradeFrames(const scenario::Degrade& d, scenario::FrameFaults* f) {
  if (d.duplicate) f->duplicate = *d.duplicate;
  if (d.reorder) f->reorder = *d.reorder;
  if (d.reorder_delay) f->reorder_delay = *d.reorder_delay;
}
}  // namespace

void InprocNetwork::Degrade(const scenario::Degrade& d) {
  const scenario::NetworkTarget& t = d.target;
  if (t.kind == scenario::NetworkTarget::Kind::kLan) {
    scenario::LanParams lan = topology_.sites[t.site].lan;
    if (d.delay) lan.delay = *d.delay;
    if (d.loss) lan.loss = *d.loss;
    if (d.bandwidth_bps) lan.bandwidth_bps = *d.bandwidth_bps;
    DegradeFrames(d, &lan.frames);
    lans_[t.site] = lan;
    return;
  }
  const scenario::SiteLink* link = topology_.FindLink(t.a, t.b);
  assert(link != nullptr);
  scenario::LinkParams p = link->params;
  if (d.delay) p.delay = *d.delay;
  if (d.jitter) p.jitter = *d.jitter;
  if (d.loss) p.loss = *d.loss;
  if (d.bandwidth_bps) p.bandwidth_bps = *d.bandwidth_bps;
  DegradeFrames(d, &p.frames);
  links_[static_cast<std::size_t>(link - topology_.links.data())] = p;
}

void InprocNetwork::Restore(const scenario::NetworkTarget& t) {
  if (t.kind == scenario::NetworkTarget::Kind::kLan) {
    lans_[t.site] = topology_.sites[t.site].lan;
    return;
  }
  const scenario::SiteLink* link = topology_.FindLink(t.a, t.b);
  assert(link != nullptr);
  links_[static_cast<std::size_t>(link - topology_.links.data())] = link->params;
}

Status InprocNetwork::Apply(inproc::Cluster& cluster, const std::optional<scenario::NetworkTarget>& target) const {
  const std::size_t sites = topology_.sites.size();
  // Whether the path from site a to site b crosses the target.
  auto crosses = [&](std::size_t a, std::size_t b) {
    if (!target) return true;
    if (target->kind == scenario::NetworkTarget::Kind::kLan) return a == target->site || b == target->site;
    return std::minmax(a, b) == std::minmax(target->a, target->b);
  };
  std::vector<inproc::LinkFaults> paths(sites * sites);
  for (std::size_t a = 0; a < sites; ++a) {
    for (std::size_t b = 0; b < sites; ++b) paths[a * sites + b] = Path(a, b);
  }
  std::vector<std::size_t> site_of(cluster.size());
  for (std::size_t i = 0; i < cluster.size(); ++i) site_of[i] = topology_.SiteOf(inproc::Cluster::IdOf(i));
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    for (std::size_t j = 0; j < cluster.size(); ++j) {
      if (i == j || !crosses(site_of[i], site_of[j])) continue;
      if (Status st = cluster.SetLinkFaults(i, j, paths[site_of[i] * sites + site_of[j]]); !st.ok()) return st;
    }
  }
  return Status::Ok();
}

}  // namespace pbxstate::runner
