// faults: a list of timed faults, each with exactly one action (partition, heal, isolate,
// degrade, restore, crash, restart). Whether they make sense in sequence (a heal after a
// partition, a restart after a crash) is checked in loader_timeline.cc.
#include <algorithm>

#include "loader_impl.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario::detail {

void Loader::ReadFaults(const Field& f) {
  auto items = ReadList(f, d_, "a list of faults", 0, 10'000);
  if (!items) return;
  for (const Field& item : *items) {
    if (auto fault = ReadFault(item)) {
      s_.faults.push_back(std::move(*fault));
      fault_fields_.push_back(fault_action_field_);
    }
  }
}

std::optional<Fault> Loader::ReadFault(const Field& f) {
  MapReader m(f, d_, "a fault: a mapping with 'at' and one action");
  if (!m.ok()) return std::nullopt;
  Fault fault;
  fault.pos = PosOf(f);
  bool ok = true;
  std::optional<Field> at = m.Require("at", "the time of the fault, e.g. 10s");
  if (at) {
    if (auto x = ReadTime(*at)) fault.at = *x; else ok = false;
  } else {
    ok = false;
  }
  const MapReader::Entry* entry = FindAction(m, f);
  if (entry == nullptr) return std::nullopt;
  const std::string& action = entry->key;
  const Field& v = entry->value;
  fault_action_field_ = v;
  if (action == "partition") {
    ok = m.AllowOnly({"at", "partition", "one_way"}) && ok;
  } else {
    // The action key itself is allowed; only 'at' may stand beside it.
    for (const auto& e : m.entries()) {
      if (e.key != "at" && e.key != action) {
        d_.Error(e.key_mark, e.value.path,
                 "unknown key for a " + action + " fault; expected only 'at' and '" + action +
                     "'");
        ok = false;
      }
    }
  }
  fault_at_fields_.push_back(at ? *at : f);
  if (action == "partition") {
    ok = ReadPartition(m, v, ok, fault);
  } else if (action == "heal" ||
             (action == "restore" && !s_.topology.named_sites && v.IsEmpty())) {
    ok = ReadNoValueAction(action, v, ok, fault);
  } else if (action == "isolate" || action == "crash" || action == "restart") {
    ok = ReadNodeAction(action, v, ok, fault);
  } else if (action == "degrade") {
    ok = ReadDegrade(v, ok, fault);
  } else {
    ok = ReadRestoreTarget(v, ok, fault);
  }
  if (!ok) return std::nullopt;
  return fault;
}

const MapReader::Entry* Loader::FindAction(MapReader& m, const Field& f) {
  std::vector<const MapReader::Entry*> actions;
  for (const auto& e : m.entries()) {
    if (std::find(std::begin(kFaultActions), std::end(kFaultActions), e.key) != std::end(kFaultActions)) {
      actions.push_back(&e);
    }
  }
  if (actions.empty()) {
    // Every key a fault may hold: its time, its action, and right after partition its option.
    std::vector<std::string_view> keys = {"at"};
    for (std::string_view a : kFaultActions) {
      keys.push_back(a);
      if (a == "partition") keys.push_back("one_way");
    }
    m.AllowOnly(keys);
    d_.Error(f.mark, f.path, "missing the fault's action; expected one of: " + Join(kFaultActions));
    return nullptr;
  }
  if (actions.size() > 1) {
    d_.Error(actions[1]->key_mark, actions[1]->value.path,
             "expected one action per fault, '" + actions[0]->key + "' is given already");
    return nullptr;
  }
  return actions[0];
}

bool Loader::ReadPartition(MapReader& m, const Field& v, bool ok, Fault& fault) {
  Partition p;
  auto groups = ReadList(v, d_, "a list of node groups, e.g. [[1, 2], [3]]", 1, kMaxNodes);
  std::map<NodeId, std::string> taken;
  if (groups) {
    for (const Field& g : *groups) {
      if (auto nodes = ReadNodeSet(g, "a group: a non-empty list of nodes", &taken)) {
        p.sides.push_back(*nodes);
      } else {
        ok = false;
      }
    }
  } else {
    ok = false;
  }
  ok = m.ReadIfPresent("one_way", p.one_way, BoolOf(d_)) && ok;
  if (ok && cluster_ok_) {
    std::vector<NodeId> rest;
    for (NodeId n = 1; n <= node_count_; ++n) {
      if (!taken.count(n)) rest.push_back(n);
    }
    if (!rest.empty()) p.sides.push_back(rest);
    if (p.sides.size() < 2) {
      d_.Error(v.mark, v.path,
               "expected at least two sides: this group holds every node, so nothing is cut");
      ok = false;
    } else if (p.one_way && p.sides.size() != 2) {
      auto ow = m.Get("one_way");
      d_.Error(ow->mark, ow->path,
               "expected exactly two sides for a one-way partition, got " +
                   std::to_string(p.sides.size()));
      ok = false;
    }
  }
  fault.what = p;
  return ok;
}

bool Loader::ReadNoValueAction(const std::string& action, const Field& v, bool ok,
                               Fault& fault) {
  if (!v.IsEmpty() && !(v.node.IsMap() && v.node.size() == 0)) {
    d_.Error(v.mark, v.path,
             "expected no value (write '" + action + ": {}'), got " + Describe(v.node));
    ok = false;
  }
  if (action == "heal") {
    fault.what = Heal{};
  } else if (cluster_ok_) {
    fault.what = Restore{NetworkTarget{NetworkTarget::Kind::kLan, 0, 0, 0}};
  } else {
    ok = false;
  }
  return ok;
}

bool Loader::ReadNodeAction(const std::string& action, const Field& v, bool ok, Fault& fault) {
  auto node = ReadNode(v);
  if (!node) ok = false;
  if (action == "isolate") fault.what = Isolate{node.value_or(kNoNode)};
  if (action == "crash") fault.what = Crash{node.value_or(kNoNode)};
  if (action == "restart") fault.what = Restart{node.value_or(kNoNode)};
  return ok;
}

bool Loader::ReadDegrade(const Field& v, bool ok, Fault& fault) {
  MapReader dm(v, d_,
               "a mapping with site or link and delay, jitter, loss, bandwidth, duplicate, reorder or "
               "reorder_delay");
  if (!dm.ok()) return false;
  ok = dm.AllowOnly({"site", "link", "delay", "jitter", "loss", "bandwidth", "duplicate", "reorder",
                     "reorder_delay"}) &&
       ok;
  Degrade dg;
  auto target = ReadTarget(dm, v);
  if (target) dg.target = *target; else ok = false;
  ok = dm.ReadIfPresent("delay", dg.delay, DurationIn(d_, 0ms, kMaxNetworkDelay)) && ok;
  if (auto x = dm.Get("jitter")) {
    if (target && target->kind == NetworkTarget::Kind::kLan) {
      d_.Error(x->mark, x->path, "a LAN has no jitter; expected jitter only on a link");
      ok = false;
    } else if (auto y = ReadDuration(*x, d_, 0ms, kMaxNetworkDelay)) {
      dg.jitter = *y;
    } else {
      ok = false;
    }
  }
  ok = dm.ReadIfPresent("loss", dg.loss, ShareOf(d_, "a loss")) && ok;
  ok = dm.ReadIfPresent("bandwidth", dg.bandwidth_bps,
                        BandwidthIn(d_, kMinBandwidth, kMaxBandwidth)) &&
       ok;
  ok = dm.ReadIfPresent("duplicate", dg.duplicate, ShareOf(d_, "a duplication share")) && ok;
  ok = dm.ReadIfPresent("reorder", dg.reorder, ShareOf(d_, "a reordering share")) && ok;
  ok = dm.ReadIfPresent("reorder_delay", dg.reorder_delay, DurationIn(d_, 0ms, kMaxNetworkDelay)) && ok;
  if (ok && !dg.delay && !dg.jitter && !dg.loss && !dg.bandwidth_bps && !dg.duplicate && !dg.reorder &&
      !dg.reorder_delay) {
    d_.Error(v.mark, v.path,
             "expected at least one of delay, jitter, loss, bandwidth, duplicate, reorder or reorder_delay to "
             "change");
    ok = false;
  }
  if (ok && target && !CheckDegradeJitter(v, *target, dg)) ok = false;
  fault.what = dg;
  return ok;
}

bool Loader::CheckDegradeJitter(const Field& v, const NetworkTarget& target, const Degrade& dg) {
  if (target.kind != NetworkTarget::Kind::kLink) return true;
  // The link is missing when the links section had errors of its own (reported there).
  const SiteLink* l = s_.topology.FindLink(target.a, target.b);
  if (l == nullptr) return true;
  const Duration delay = dg.delay.value_or(l->params.delay);
  const Duration jitter = dg.jitter.value_or(l->params.jitter);
  if (jitter <= delay) return true;
  d_.Error(v.mark, v.path,
           "expected a jitter no larger than the delay (" + FormatDuration(delay) + "), got " +
               FormatDuration(jitter));
  return false;
}

bool Loader::ReadRestoreTarget(const Field& v, bool ok, Fault& fault) {
  MapReader rm(v, d_, "a mapping with site or link");
  if (!rm.ok()) return false;
  ok = rm.AllowOnly({"site", "link"}) && ok;
  if (auto target = ReadTarget(rm, v)) fault.what = Restore{*target}; else ok = false;
  return ok;
}

std::optional<NetworkTarget> Loader::ReadTarget(MapReader& m, const Field& where) {
  const Topology& t = s_.topology;
  auto site = m.Get("site");
  auto link = m.Get("link");
  if (!cluster_ok_) return std::nullopt;
  if (!t.named_sites) {
    const auto& extra = site ? site : link;
    if (extra) {
      d_.Error(extra->mark, extra->path,
               "the network is one LAN (cluster.nodes); expected no site or link");
      return std::nullopt;
    }
    return NetworkTarget{NetworkTarget::Kind::kLan, 0, 0, 0};
  }
  if (site && link) {
    d_.Error(where.mark, where.path, "expected one of 'site' or 'link', not both");
    return std::nullopt;
  }
  if (site) {
    auto i = ReadSiteName(*site);
    if (!i) return std::nullopt;
    return NetworkTarget{NetworkTarget::Kind::kLan, *i, 0, 0};
  }
  if (link) return ReadLinkTarget(*link);
  d_.Error(where.mark, where.path,
           "missing required key 'site' or 'link'; expected the site LAN or the link to change");
  return std::nullopt;
}

std::optional<NetworkTarget> Loader::ReadLinkTarget(const Field& link) {
  auto ends = ReadList(link, d_, "a list of two site names", 2, 2);
  if (!ends) return std::nullopt;
  // Stops at the first unknown end.
  const std::optional<std::size_t> a = ReadSiteName((*ends)[0]);
  if (!a) return std::nullopt;
  const std::optional<std::size_t> b = ReadSiteName((*ends)[1]);
  if (!b) return std::nullopt;
  if (*a == *b) {
    d_.Error(link.mark, link.path,
             "expected two different sites, got " + s_.topology.sites[*a].name + " twice");
    return std::nullopt;
  }
  auto [lo, hi] = std::minmax(*a, *b);
  return NetworkTarget{NetworkTarget::Kind::kLink, 0, lo, hi};
}

}  // namespace pbxstate::scenario::detail
