#include "ns3_mapping.h"

#include "run_steps.h"

namespace pbxstate::runner {

namespace {

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

Status Degrade(const scenario::Scenario& s, const scenario::Degrade& d, ns3sim::Ns3World& world) {
  const auto& t = d.target;
  Status st;
  if (t.kind == scenario::NetworkTarget::Kind::kLan) {
    const std::string site = SiteName(s, t.site);
    if (d.loss && st.ok()) st = world.SetSiteLoss(site, *d.loss);
    if (d.delay && st.ok()) st = world.SetSiteDelay(site, *d.delay);
    return st;
  }
  const std::string a = SiteName(s, t.a), b = SiteName(s, t.b);
  if (d.loss && st.ok()) st = world.SetLinkLoss(a, b, *d.loss);
  if (d.delay && st.ok()) st = world.SetLinkDelay(a, b, *d.delay);
  if (d.jitter && st.ok()) st = world.SetLinkJitter(a, b, *d.jitter);
  return st;
}

Status Restore(const scenario::Scenario& s, const scenario::Restore& r, ns3sim::Ns3World& world) {
  const auto& t = r.target;
  if (t.kind == scenario::NetworkTarget::Kind::kLan) {
    const std::string site = SiteName(s, t.site);
    const auto& lan = s.topology.sites[t.site].lan;
    Status st = world.SetSiteLoss(site, lan.loss);
    if (st.ok()) st = world.SetSiteDelay(site, lan.delay);
    return st;
  }
  const std::string a = SiteName(s, t.a), b = SiteName(s, t.b);
  const scenario::SiteLink* link = s.topology.FindLink(t.a, t.b);
  Status st = world.SetLinkLoss(a, b, link->params.loss);
  if (st.ok()) st = world.SetLinkDelay(a, b, link->params.delay);
  if (st.ok()) st = world.SetLinkJitter(a, b, link->params.jitter);
  return st;
}

}  // namespace

std::string SiteName(const scenario::Scenario& s, std::size_t i) {
  const std::string& n = s.topology.sites[i].name;
  return n.empty() ? "lan" : n;
}

ns3sim::WorldConfig WorldConfigFor(const scenario::Scenario& s) {
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
  wc.engine = scenario::EngineConfigOf(s);
  wc.seed = static_cast<std::uint32_t>(s.seed % 0xFFFFFFFEu) + 1;
  wc.run = 1;
  return wc;
}

Status ApplyNetworkFault(const scenario::Scenario& s, const scenario::Fault& f, ns3sim::Ns3World& world) {
  if (const auto* p = std::get_if<scenario::Partition>(&f.what)) {
    world.Heal();  // a partition replaces the one in force
    return p->one_way ? world.PartitionOneWay(p->sides[0], p->sides[1]) : world.Partition(p->sides);
  }
  if (std::holds_alternative<scenario::Heal>(f.what)) {
    world.Heal();
    return Status::Ok();
  }
  if (const auto* iso = std::get_if<scenario::Isolate>(&f.what)) {
    world.Heal();
    return world.Isolate(iso->node);
  }
  if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) return Degrade(s, *d, world);
  if (const auto* r = std::get_if<scenario::Restore>(&f.what)) return Restore(s, *r, world);
  return Status::InvalidArgument("not a network fault (crash and restart are the backend's)");
}

Status CheckWorldDegrades(const scenario::Scenario& s, const std::string& network) {
  for (const scenario::Fault& f : s.faults) {
    const auto* d = std::get_if<scenario::Degrade>(&f.what);
    if (d == nullptr) continue;
    if (d->bandwidth_bps) {
      return Where(s, f.pos, "faults.degrade.bandwidth", network + " cannot change bandwidth during a run");
    }
    if (d->jitter && d->target.kind == scenario::NetworkTarget::Kind::kLan) {
      return Where(s, f.pos, "faults.degrade.jitter", "jitter applies to links between sites only");
    }
  }
  return Status::Ok();
}

}  // namespace pbxstate::runner
