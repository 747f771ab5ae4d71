// cluster: (one LAN of N nodes, or named sites) and network: (each site's LAN, the WAN links
// between sites).
#include <algorithm>
#include <cctype>

#include "loader_impl.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario::detail {

void Loader::ReadCluster(const Field& f) {
  MapReader m(f, d_, "a mapping with 'nodes' or 'sites'");
  if (!m.ok()) return;
  m.AllowOnly({"nodes", "sites", "auth", "membership", "views", "view_delay"});
  if (auto a = m.Get("auth")) {
    auth_field_ = *a;
    if (auto v = ReadBool(*a, d_)) s_.auth = *v;
  }
  ReadMembership(m);
  auto nodes = m.Get("nodes");
  auto sites = m.Get("sites");
  if (nodes && sites) {
    d_.Error(f.mark, f.path, "expected either 'nodes' (one LAN) or 'sites', not both");
    return;
  }
  if (!nodes && !sites) {
    d_.Error(f.mark, f.path,
             "missing required key 'nodes' or 'sites'; expected a node count or a list of sites");
    return;
  }
  if (nodes) {
    ReadOneLan(*nodes);
  } else {
    ReadSites(*sites);
  }
}

void Loader::ReadOneLan(const Field& nodes) {
  auto n = ReadUint(nodes, d_, 1, kMaxNodes);
  if (!n) return;
  Topology& t = s_.topology;
  t.named_sites = false;
  Site site;
  site.node_count = static_cast<std::uint32_t>(*n);
  site.first_node = 1;
  site.pos = PosOf(nodes);
  t.sites.push_back(site);
  node_count_ = site.node_count;
  cluster_ok_ = true;
}

void Loader::ReadSites(const Field& sites) {
  auto items = ReadList(sites, d_, "a list of sites", 1, kMaxSites);
  if (!items) return;
  Topology& t = s_.topology;
  t.named_sites = true;
  bool ok = true;
  std::uint64_t total = 0;
  std::map<std::string, int> seen;  // name -> line
  for (const Field& item : *items) ok = ReadSite(item, seen, total) && ok;
  if (!ok) return;
  if (total > kMaxNodes) {
    d_.Error(sites.mark, sites.path,
             "expected at most " + std::to_string(kMaxNodes) + " nodes in all, the sites hold " +
                 std::to_string(total));
    return;
  }
  NodeId next = 1;
  for (Site& site : t.sites) {
    site.first_node = next;
    next += site.node_count;
  }
  node_count_ = static_cast<std::uint32_t>(total);
  cluster_ok_ = true;
}

bool Loader::ReadSite(const Field& item, std::map<std::string, int>& seen,
                      std::uint64_t& total) {
  MapReader sm(item, d_, "a site: a mapping with 'name' and 'nodes'");
  if (!sm.ok()) return false;
  bool ok = sm.AllowOnly({"name", "nodes"});
  Site site;
  site.pos = PosOf(item);
  if (auto name = ReadSiteLabel(sm, seen)) {
    site.name = *name;
  } else {
    ok = false;
  }
  if (auto n = sm.RequireValue("nodes", "the number of nodes at the site",
                               UintIn(d_, 1, kMaxNodes))) {
    site.node_count = static_cast<std::uint32_t>(*n);
    total += *n;
  } else {
    ok = false;
  }
  s_.topology.sites.push_back(site);
  return ok;
}

std::optional<std::string> Loader::ReadSiteLabel(MapReader& sm, std::map<std::string, int>& seen) {
  auto nf = sm.Require("name", "the site's name");
  if (!nf) return std::nullopt;
  auto name = ReadString(*nf, d_, "a site name");
  const bool good = name && !name->empty() && name->size() <= 32 &&
                    std::isalpha(static_cast<unsigned char>((*name)[0])) &&
                    std::all_of(name->begin(), name->end(),
                                [](char c) { return IsNameChar(c, false); });
  if (name && !good) {
    d_.Error(nf->mark, nf->path,
             "expected a site name of 1 to 32 letters, digits, '_' or '-' starting with a "
             "letter, got " + Describe(nf->node));
  }
  if (!good) return std::nullopt;
  if (auto it = seen.find(*name); it != seen.end()) {
    d_.Error(nf->mark, nf->path,
             "duplicate site name '" + *name + "' (first at line " + std::to_string(it->second) +
                 "); expected unique names");
    return std::nullopt;
  }
  seen[*name] = nf->mark.line + 1;
  return name;
}

void Loader::ReadMembership(MapReader& m) {
  Membership& ms = s_.membership;
  if (auto f = m.Get("membership")) {
    membership_field_ = *f;
    ms.pos = PosOf(*f);
    if (auto v = ReadEnum(*f, d_, {"transport", "heartbeat"})) ms.source = static_cast<MembershipSource>(*v);
  }
  const bool transport = ms.source == MembershipSource::kTransport;
  if (auto f = m.Get("views")) {
    if (!transport) {
      d_.Error(f->mark, f->path, "views are formed by a membership service; expected membership: transport beside it");
    } else if (auto v = ReadEnum(*f, d_, {"consistent", "per_node"})) {
      ms.views = static_cast<ViewModel>(*v);
    }
  }
  if (auto f = m.Get("view_delay")) {
    if (!transport) {
      d_.Error(f->mark, f->path, "views are formed by a membership service; expected membership: transport beside it");
    } else if (auto v = ReadDuration(*f, d_, 0ms, kMaxNetworkDelay)) {
      ms.view_delay = *v;
    }
  }
}

bool Loader::ReadFrameFaults(MapReader& m, FrameFaults& f) {
  bool ok = m.ReadIfPresent("duplicate", f.duplicate, ShareOf(d_, "a duplication share"));
  ok = m.ReadIfPresent("reorder", f.reorder, ShareOf(d_, "a reordering share")) && ok;
  ok = m.ReadIfPresent("reorder_delay", f.reorder_delay, DurationIn(d_, 0ms, kMaxNetworkDelay)) && ok;
  for (const char* key : {"duplicate", "reorder"}) {
    if (auto k = m.Get(key)) {
      f.pos = PosOf(*k);
      break;
    }
  }
  return ok;
}

std::optional<LanParams> Loader::ReadLan(const Field& f, const LanParams& base) {
  MapReader m(f, d_, "a LAN: a mapping with delay, bandwidth, loss, duplicate, reorder, reorder_delay");
  if (!m.ok()) return std::nullopt;
  bool ok = m.AllowOnly({"delay", "bandwidth", "loss", "duplicate", "reorder", "reorder_delay"});
  LanParams lan = base;
  ok = m.ReadIfPresent("delay", lan.delay, DurationIn(d_, 0ms, kMaxNetworkDelay)) && ok;
  ok = m.ReadIfPresent("bandwidth", lan.bandwidth_bps,
                       BandwidthIn(d_, kMinBandwidth, kMaxBandwidth)) &&
       ok;
  ok = m.ReadIfPresent("loss", lan.loss, ShareOf(d_, "a loss")) && ok;
  ok = ReadFrameFaults(m, lan.frames) && ok;
  if (!ok) return std::nullopt;
  return lan;
}

std::optional<LinkParams> Loader::ReadLinkParams(MapReader& m, const LinkParams& base) {
  LinkParams link = base;
  bool ok = m.ReadIfPresent("delay", link.delay, DurationIn(d_, 0ms, kMaxNetworkDelay));
  ok = m.ReadIfPresent("jitter", link.jitter, DurationIn(d_, 0ms, kMaxNetworkDelay)) && ok;
  ok = m.ReadIfPresent("loss", link.loss, ShareOf(d_, "a loss")) && ok;
  ok = m.ReadIfPresent("bandwidth", link.bandwidth_bps,
                       BandwidthIn(d_, kMinBandwidth, kMaxBandwidth)) &&
       ok;
  ok = ReadFrameFaults(m, link.frames) && ok;
  if (!ok) return std::nullopt;
  if (link.jitter > link.delay) {
    const std::optional<Field> jitter_field = m.Get("jitter");
    const Field& at = jitter_field ? *jitter_field : m.field();
    d_.Error(at.mark, jitter_field ? at.path : JoinPath(at.path, "jitter"),
             "expected a jitter no larger than the delay (" + FormatDuration(link.delay) +
                 "), got " + FormatDuration(link.jitter));
    return std::nullopt;
  }
  return link;
}

void Loader::ReadNetwork(const std::optional<Field>& f) {
  Topology& t = s_.topology;
  LanParams lan_default;
  LinkParams wan_default;
  std::optional<MapReader> m;
  if (f) {
    m.emplace(*f, d_, "a mapping with lan, sites, wan, links");
    if (!m->ok()) return;
    m->AllowOnly({"lan", "sites", "wan", "links"});
    if (auto v = m->Get("lan")) {
      if (auto lan = ReadLan(*v, lan_default)) lan_default = *lan;
    }
    if (auto v = m->Get("wan")) {
      if (!t.named_sites && cluster_ok_) {
        d_.Error(v->mark, v->path,
                 "network.wan needs cluster.sites; expected no wan in the one-LAN form");
      } else {
        MapReader wm(*v, d_, "a link: a mapping with delay, jitter, loss, bandwidth, duplicate, reorder, reorder_delay");
        if (wm.ok() && wm.AllowOnly({"delay", "jitter", "loss", "bandwidth", "duplicate", "reorder", "reorder_delay"})) {
          if (auto link = ReadLinkParams(wm, wan_default)) wan_default = *link;
        }
      }
    }
  }
  if (!cluster_ok_) {
    if (m) CheckNetworkWithoutCluster(*m, lan_default, wan_default);
    return;
  }
  for (Site& site : t.sites) site.lan = lan_default;
  for (std::size_t a = 0; a < t.sites.size(); ++a) {
    for (std::size_t b = a + 1; b < t.sites.size(); ++b) t.links.push_back({a, b, wan_default});
  }
  if (!m) return;
  if (auto v = m->Get("sites")) ReadSiteLans(*v, lan_default);
  if (auto v = m->Get("links")) ReadLinks(*v, wan_default);
}

void Loader::CheckNetworkWithoutCluster(MapReader& m, const LanParams& lan_default,
                                        const LinkParams& wan_default) {
  // Without a cluster there is nothing to attach sites and links to; still type-check them.
  if (auto v = m.Get("sites")) {
    MapReader sm(*v, d_, "a mapping from site name to LAN");
    for (const auto& e : sm.entries()) ReadLan(e.value, lan_default);
  }
  if (auto v = m.Get("links")) {
    if (auto items = ReadList(*v, d_, "a list of links", 0, 1000)) {
      for (const Field& item : *items) {
        MapReader lm(item, d_, "a link: a mapping with between, delay, jitter, loss, bandwidth, duplicate, reorder, reorder_delay");
        if (lm.ok() && lm.AllowOnly({"between", "delay", "jitter", "loss", "bandwidth", "duplicate", "reorder", "reorder_delay"})) {
          ReadLinkParams(lm, wan_default);
        }
      }
    }
  }
}

void Loader::ReadSiteLans(const Field& f, const LanParams& lan_default) {
  Topology& t = s_.topology;
  if (!t.named_sites) {
    d_.Error(f.mark, f.path,
             "network.sites needs cluster.sites; expected network.lan in the one-LAN form");
    return;
  }
  MapReader sm(f, d_, "a mapping from site name to LAN");
  for (const auto& e : sm.entries()) {
    auto index = t.FindSite(e.key);
    if (!index) {
      std::string names;
      for (const Site& s : t.sites) names += (names.empty() ? "" : ", ") + s.name;
      d_.Error(e.key_mark, e.value.path, "no such site; expected one of cluster.sites: " + names);
      continue;
    }
    if (auto lan = ReadLan(e.value, lan_default)) t.sites[*index].lan = *lan;
  }
}

void Loader::ReadLinks(const Field& f, const LinkParams& wan_default) {
  Topology& t = s_.topology;
  if (!t.named_sites) {
    d_.Error(f.mark, f.path,
             "network.links needs cluster.sites; expected no links in the one-LAN form");
    return;
  }
  auto items = ReadList(f, d_, "a list of links", 0, kMaxSites * kMaxSites);
  if (!items) return;
  std::map<std::pair<std::size_t, std::size_t>, int> seen;  // pair -> line
  for (const Field& item : *items) {
    MapReader lm(item, d_, "a link: a mapping with between, delay, jitter, loss, bandwidth, duplicate, reorder, reorder_delay");
    if (!lm.ok()) continue;
    lm.AllowOnly({"between", "delay", "jitter", "loss", "bandwidth", "duplicate", "reorder", "reorder_delay"});
    auto between = lm.Require("between", "the two sites it joins, e.g. [paris, lyon]");
    std::optional<std::pair<std::size_t, std::size_t>> pair;
    if (between) pair = ReadLinkEnds(*between, seen);
    auto params = ReadLinkParams(lm, wan_default);
    if (pair && params) {
      for (SiteLink& l : t.links) {
        if (l.a == pair->first && l.b == pair->second) l.params = *params;
      }
    }
  }
}

std::optional<std::pair<std::size_t, std::size_t>> Loader::ReadLinkEnds(
    const Field& between, std::map<std::pair<std::size_t, std::size_t>, int>& seen) {
  const Topology& t = s_.topology;
  auto ends = ReadList(between, d_, "a list of two site names", 2, 2);
  if (!ends) return std::nullopt;
  // Both ends are looked at, so both are reported when both are wrong.
  const std::optional<std::size_t> a = ReadSiteName((*ends)[0]);
  const std::optional<std::size_t> b = ReadSiteName((*ends)[1]);
  if (!a || !b) return std::nullopt;
  if (*a == *b) {
    d_.Error(between.mark, between.path,
             "expected two different sites, got " + t.sites[*a].name + " twice");
    return std::nullopt;
  }
  const std::pair<std::size_t, std::size_t> pair = std::minmax(*a, *b);
  if (auto it = seen.find(pair); it != seen.end()) {
    d_.Error(between.mark, between.path,
             "duplicate link between " + t.sites[pair.first].name + " and " +
                 t.sites[pair.second].name + " (first at line " + std::to_string(it->second) +
                 "); expected one entry per pair");
    return std::nullopt;
  }
  seen[pair] = between.mark.line + 1;
  return pair;
}

std::optional<std::size_t> Loader::ReadSiteName(const Field& end) {
  if (end.node.IsScalar()) {
    if (auto i = s_.topology.FindSite(end.node.Scalar())) return i;
  }
  d_.Error(end.mark, end.path,
           "expected a site name from cluster.sites, got " + Describe(end.node));
  return std::nullopt;
}

void Loader::CheckTransport() {
  if (transport_field_ && s_.transport == TransportMode::kBroadcast &&
      s_.topology.sites.size() > 1) {
    d_.Error(transport_field_->mark, transport_field_->path,
             "broadcast does not cross sites (the cluster has " +
                 std::to_string(s_.topology.sites.size()) + "); expected multicast or unicast");
  }
}

}  // namespace pbxstate::scenario::detail
