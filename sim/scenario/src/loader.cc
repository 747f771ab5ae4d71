#include "pbxstate/scenario/loader.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "pbxstate/scenario/units.h"
#include "reader.h"

namespace pbxstate::scenario {
namespace {

using detail::Describe;
using detail::Diagnostics;
using detail::Field;
using detail::JoinPath;
using detail::MapReader;
using detail::ReadBandwidth;
using detail::ReadBool;
using detail::ReadDuration;
using detail::ReadEnum;
using detail::ReadList;
using detail::ReadRate;
using detail::ReadShare;
using detail::ReadString;
using detail::ReadUint;

// Asterisk's names, indexed by the enum's (Asterisk's) numeric value. Kept here rather than
// calling pbxstate::ParseDeviceState so that the scenario library needs only engine headers.
constexpr std::string_view kDeviceStateNames[kDeviceStateCount] = {
    "UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE",
    "ONHOLD"};

constexpr Duration kMaxExpiry = 720h;  // 30 days: beyond any SIP registration
constexpr std::uint32_t kMaxMessages = 1'000'000;
constexpr std::uint64_t kMinBandwidth = 1'000;             // 1kbps
constexpr std::uint64_t kMaxBandwidth = 100'000'000'000;   // 100Gbps

SourcePos PosOf(const Field& f) { return {f.mark.line + 1, f.mark.column + 1}; }

bool IsPlainUint(const YAML::Node& n, std::uint64_t* out) {
  if (!n.IsScalar() || n.Tag() != "?") return false;
  const std::string& s = n.Scalar();
  if (s.empty() || s.size() > 9) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IsNameChar(char c, bool allow_dot) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
         (allow_dot && c == '.');
}

// A key name as the engine will carry it: printable, no spaces, not empty.
bool IsKeyText(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c <= ' ' || c == '\x7f') return false;
  }
  return true;
}

std::string TargetName(const Topology& t, const NetworkTarget& target) {
  if (target.kind == NetworkTarget::Kind::kLink) {
    return "the link " + t.sites[target.a].name + "-" + t.sites[target.b].name;
  }
  if (!t.named_sites) return "the LAN";
  return "the LAN of site " + t.sites[target.site].name;
}

// Maps a position inside a check's text to a column in the file, when the text can be found
// verbatim at the scalar's position (plain or quoted without escapes); otherwise the scalar's
// own column, which is still the right line.
int ColumnInScalar(std::string_view source, const Field& f, std::size_t offset) {
  const int line = f.mark.line;
  const int column = f.mark.column;
  if (line < 0 || column < 0) return column + 1;
  std::size_t start = 0;
  for (int l = 0; l < line; ++l) {
    start = source.find('\n', start);
    if (start == std::string_view::npos) return column + 1;
    ++start;
  }
  std::size_t end = source.find('\n', start);
  std::string_view text_line = source.substr(start, end == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : end - start);
  const std::string& value = f.node.Scalar();
  const auto col = static_cast<std::size_t>(column);
  if (col >= text_line.size()) return column + 1;
  std::size_t value_col = col;
  if (text_line[col] == '"' || text_line[col] == '\'') value_col = col + 1;
  if (text_line.substr(value_col, value.size()) != value) return column + 1;
  return static_cast<int>(value_col + offset) + 1;
}

class Loader {
 public:
  Loader(Diagnostics& d, std::string_view source, Scenario& s) : d_(d), source_(source), s_(s) {}

  void Root(const Field& root);

 private:
  void ReadCluster(const Field& f);
  void ReadNetwork(const std::optional<Field>& f);
  std::optional<LanParams> ReadLan(const Field& f, const LanParams& base);
  std::optional<LinkParams> ReadLinkParams(MapReader& m, const LinkParams& base);
  void ReadEngine(const Field& f);
  void ReadWorkload(const Field& f);
  std::optional<Burst> ReadBurst(const Field& f);
  std::optional<TimedChange> ReadChange(const Field& f);
  void ReadFaults(const Field& f);
  std::optional<Fault> ReadFault(const Field& f);
  std::optional<NetworkTarget> ReadTarget(MapReader& m, const Field& where);
  void ReadChecks(const Field& f);
  void ReadChurn(const Field& f);
  void ReadCalls(const Field& f);
  void CheckCalls();

  std::optional<NodeId> ReadNode(const Field& f);
  // A list of nodes: numbers, ranges "A..B" and site names. `taken` records nodes already
  // used by sibling lists (partition groups must be disjoint); may be null.
  std::optional<std::vector<NodeId>> ReadNodeSet(const Field& f, std::string_view what,
                                                 std::map<NodeId, std::string>* taken);
  std::optional<Duration> ReadTime(const Field& f);
  std::optional<std::string> ReadKey(const Field& f, std::string_view what);

  void CheckTimeOrder(const std::vector<Field>& at_fields, std::string_view list);
  void CheckTimeline();
  void CheckWorkload();
  void CheckEngine();
  void CheckChecks();

  Diagnostics& d_;
  std::string_view source_;
  Scenario& s_;

  bool duration_ok_ = false;
  bool cluster_ok_ = false;
  std::uint32_t node_count_ = 0;

  // Where things were written, for the cross-section checks that run after everything parsed.
  std::optional<Field> transport_field_;
  std::map<std::string, Field> engine_fields_;
  std::map<std::string, Field> workload_fields_;
  std::vector<Field> fault_fields_, fault_at_fields_;  // the action's value, its time
  Field fault_action_field_;  // of the fault ReadFault is reading
  std::vector<Field> burst_fields_, burst_at_fields_;
  std::vector<Field> change_at_fields_, change_node_fields_;
  // Per burst: a registration storm's node and count fields; empty otherwise.
  std::vector<Field> burst_node_fields_, burst_count_fields_;
  std::vector<Field> check_fields_;
  std::optional<Field> churn_field_, calls_field_;
  std::map<std::string, Field> calls_fields_;
  std::vector<Field> call_burst_fields_;
  struct KeyUse {
    Field field;
    std::size_t bytes;
    std::string what;
  };
  std::vector<KeyUse> key_uses_, contact_uses_;
  std::vector<std::pair<Field, Duration>> expiry_uses_;
};

void Loader::Root(const Field& root) {
  MapReader m(root, d_, "a mapping of scenario keys (name, duration, cluster, ...)");
  if (!m.ok()) return;
  m.AllowOnly({"name", "description", "seed", "duration", "quiet", "cluster", "network",
               "transport", "engine", "workload", "calls", "faults", "checks"});

  if (auto f = m.Require("name", "a scenario name")) {
    if (auto v = ReadString(*f, d_, "a name")) {
      const bool good =
          !v->empty() && v->size() <= 64 && std::isalnum(static_cast<unsigned char>((*v)[0])) &&
          std::all_of(v->begin(), v->end(), [](char c) { return IsNameChar(c, true); });
      if (good) {
        s_.name = *v;
      } else {
        d_.Error(f->mark, f->path,
                 "expected a name of 1 to 64 letters, digits, '.', '_' or '-' starting with a "
                 "letter or digit, got " + Describe(f->node));
      }
    }
  }
  if (auto f = m.Get("description")) {
    if (auto v = ReadString(*f, d_, "a text")) s_.description = *v;
  }
  if (auto f = m.Get("seed")) {
    if (auto v = ReadUint(*f, d_, 0, UINT64_MAX)) s_.seed = *v;
  }
  if (auto f = m.Require("duration", "the length of the active phase, e.g. 30s")) {
    if (auto v = ReadDuration(*f, d_, 1ms, kMaxDuration)) {
      s_.duration = *v;
      duration_ok_ = true;
    }
  }
  if (auto f = m.Get("quiet")) {
    if (auto v = ReadDuration(*f, d_, 0ms, kMaxQuiet)) s_.quiet = *v;
  }
  if (auto f = m.Require("cluster", "a mapping with 'nodes' or 'sites'")) ReadCluster(*f);
  ReadNetwork(m.Get("network"));
  if (auto f = m.Get("transport")) {
    transport_field_ = *f;
    if (auto v = ReadEnum(*f, d_, {"broadcast", "multicast", "unicast"})) {
      s_.transport = static_cast<TransportMode>(*v);
    }
  }
  if (auto f = m.Get("engine")) ReadEngine(*f);
  if (auto f = m.Get("workload")) {
    ReadWorkload(*f);
  } else {
    s_.workload.stop = s_.duration;
  }
  if (s_.workload.nodes.empty() && cluster_ok_) {
    for (NodeId n = 1; n <= node_count_; ++n) s_.workload.nodes.push_back(n);
  }
  if (auto f = m.Get("calls")) ReadCalls(*f);
  if (auto f = m.Get("faults")) ReadFaults(*f);
  if (auto f = m.Get("checks")) ReadChecks(*f);

  if (d_.count() != 0) return;
  CheckEngine();
  CheckWorkload();
  CheckCalls();
  CheckTimeline();
  CheckChecks();
}

// --- cluster and network ---

void Loader::ReadCluster(const Field& f) {
  MapReader m(f, d_, "a mapping with 'nodes' or 'sites'");
  if (!m.ok()) return;
  m.AllowOnly({"nodes", "sites", "auth"});
  if (auto a = m.Get("auth")) {
    if (auto v = ReadBool(*a, d_)) s_.auth = *v;
  }
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
  Topology& t = s_.topology;
  if (nodes) {
    auto n = ReadUint(*nodes, d_, 1, kMaxNodes);
    if (!n) return;
    t.named_sites = false;
    Site site;
    site.node_count = static_cast<std::uint32_t>(*n);
    site.first_node = 1;
    site.pos = PosOf(*nodes);
    t.sites.push_back(site);
    node_count_ = site.node_count;
    cluster_ok_ = true;
    return;
  }
  auto items = ReadList(*sites, d_, "a list of sites", 1, kMaxSites);
  if (!items) return;
  t.named_sites = true;
  bool ok = true;
  std::uint64_t total = 0;
  std::map<std::string, int> seen;  // name -> line
  for (const Field& item : *items) {
    MapReader sm(item, d_, "a site: a mapping with 'name' and 'nodes'");
    if (!sm.ok()) {
      ok = false;
      continue;
    }
    if (!sm.AllowOnly({"name", "nodes"})) ok = false;
    Site site;
    site.pos = PosOf(item);
    if (auto nf = sm.Require("name", "the site's name")) {
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
      if (!good) {
        ok = false;
      } else if (auto it = seen.find(*name); it != seen.end()) {
        d_.Error(nf->mark, nf->path,
                 "duplicate site name '" + *name + "' (first at line " +
                     std::to_string(it->second) + "); expected unique names");
        ok = false;
      } else {
        seen[*name] = nf->mark.line + 1;
        site.name = *name;
      }
    } else {
      ok = false;
    }
    if (auto nf = sm.Require("nodes", "the number of nodes at the site")) {
      if (auto n = ReadUint(*nf, d_, 1, kMaxNodes)) {
        site.node_count = static_cast<std::uint32_t>(*n);
        total += *n;
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    t.sites.push_back(site);
  }
  if (!ok) return;
  if (total > kMaxNodes) {
    d_.Error(sites->mark, sites->path,
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

std::optional<LanParams> Loader::ReadLan(const Field& f, const LanParams& base) {
  MapReader m(f, d_, "a LAN: a mapping with delay, bandwidth, loss");
  if (!m.ok()) return std::nullopt;
  bool ok = m.AllowOnly({"delay", "bandwidth", "loss"});
  LanParams lan = base;
  if (auto v = m.Get("delay")) {
    if (auto x = ReadDuration(*v, d_, 0ms, kMaxNetworkDelay)) lan.delay = *x; else ok = false;
  }
  if (auto v = m.Get("bandwidth")) {
    if (auto x = ReadBandwidth(*v, d_, kMinBandwidth, kMaxBandwidth)) lan.bandwidth_bps = *x;
    else ok = false;
  }
  if (auto v = m.Get("loss")) {
    if (auto x = ReadShare(*v, d_, "a loss")) lan.loss = *x; else ok = false;
  }
  if (!ok) return std::nullopt;
  return lan;
}

std::optional<LinkParams> Loader::ReadLinkParams(MapReader& m, const LinkParams& base) {
  LinkParams link = base;
  bool ok = true;
  std::optional<Field> jitter_field;
  if (auto v = m.Get("delay")) {
    if (auto x = ReadDuration(*v, d_, 0ms, kMaxNetworkDelay)) link.delay = *x; else ok = false;
  }
  if (auto v = m.Get("jitter")) {
    jitter_field = v;
    if (auto x = ReadDuration(*v, d_, 0ms, kMaxNetworkDelay)) link.jitter = *x; else ok = false;
  }
  if (auto v = m.Get("loss")) {
    if (auto x = ReadShare(*v, d_, "a loss")) link.loss = *x; else ok = false;
  }
  if (auto v = m.Get("bandwidth")) {
    if (auto x = ReadBandwidth(*v, d_, kMinBandwidth, kMaxBandwidth)) link.bandwidth_bps = *x;
    else ok = false;
  }
  if (!ok) return std::nullopt;
  if (link.jitter > link.delay) {
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
        MapReader wm(*v, d_, "a link: a mapping with delay, jitter, loss, bandwidth");
        if (wm.ok() && wm.AllowOnly({"delay", "jitter", "loss", "bandwidth"})) {
          if (auto link = ReadLinkParams(wm, wan_default)) wan_default = *link;
        }
      }
    }
  }
  if (!cluster_ok_) {
    // Without a cluster there is nothing to attach sites and links to; still type-check them.
    if (m) {
      if (auto v = m->Get("sites")) {
        MapReader sm(*v, d_, "a mapping from site name to LAN");
        for (const auto& e : sm.entries()) ReadLan(e.value, lan_default);
      }
      if (auto v = m->Get("links")) {
        if (auto items = ReadList(*v, d_, "a list of links", 0, 1000)) {
          for (const Field& item : *items) {
            MapReader lm(item, d_,
                         "a link: a mapping with between, delay, jitter, loss, bandwidth");
            if (lm.ok() && lm.AllowOnly({"between", "delay", "jitter", "loss", "bandwidth"})) {
              ReadLinkParams(lm, wan_default);
            }
          }
        }
      }
    }
    return;
  }
  for (Site& site : t.sites) site.lan = lan_default;
  for (std::size_t a = 0; a < t.sites.size(); ++a) {
    for (std::size_t b = a + 1; b < t.sites.size(); ++b) t.links.push_back({a, b, wan_default});
  }
  if (!m) return;

  if (auto v = m->Get("sites")) {
    if (!t.named_sites) {
      d_.Error(v->mark, v->path,
               "network.sites needs cluster.sites; expected network.lan in the one-LAN form");
    } else {
      MapReader sm(*v, d_, "a mapping from site name to LAN");
      for (const auto& e : sm.entries()) {
        auto index = t.FindSite(e.key);
        if (!index) {
          std::string names;
          for (const Site& s : t.sites) names += (names.empty() ? "" : ", ") + s.name;
          d_.Error(e.key_mark, e.value.path,
                   "no such site; expected one of cluster.sites: " + names);
          continue;
        }
        if (auto lan = ReadLan(e.value, lan_default)) t.sites[*index].lan = *lan;
      }
    }
  }
  if (auto v = m->Get("links")) {
    if (!t.named_sites) {
      d_.Error(v->mark, v->path,
               "network.links needs cluster.sites; expected no links in the one-LAN form");
      return;
    }
    auto items = ReadList(*v, d_, "a list of links", 0, kMaxSites * kMaxSites);
    if (!items) return;
    std::map<std::pair<std::size_t, std::size_t>, int> seen;  // pair -> line
    for (const Field& item : *items) {
      MapReader lm(item, d_, "a link: a mapping with between, delay, jitter, loss, bandwidth");
      if (!lm.ok()) continue;
      lm.AllowOnly({"between", "delay", "jitter", "loss", "bandwidth"});
      auto between = lm.Require("between", "the two sites it joins, e.g. [paris, lyon]");
      std::optional<std::pair<std::size_t, std::size_t>> pair;
      if (between) {
        if (auto ends = ReadList(*between, d_, "a list of two site names", 2, 2)) {
          std::optional<std::size_t> idx[2];
          for (std::size_t i = 0; i < 2; ++i) {
            const Field& end = (*ends)[i];
            if (!end.node.IsScalar() || !(idx[i] = t.FindSite(end.node.Scalar()))) {
              d_.Error(end.mark, end.path,
                       "expected a site name from cluster.sites, got " + Describe(end.node));
            }
          }
          if (idx[0] && idx[1]) {
            if (*idx[0] == *idx[1]) {
              d_.Error(between->mark, between->path,
                       "expected two different sites, got " + t.sites[*idx[0]].name + " twice");
            } else {
              pair = std::minmax(*idx[0], *idx[1]);
              if (auto it = seen.find(*pair); it != seen.end()) {
                d_.Error(between->mark, between->path,
                         "duplicate link between " + t.sites[pair->first].name + " and " +
                             t.sites[pair->second].name + " (first at line " +
                             std::to_string(it->second) + "); expected one entry per pair");
                pair.reset();
              } else {
                seen[*pair] = between->mark.line + 1;
              }
            }
          }
        }
      }
      auto params = ReadLinkParams(lm, wan_default);
      if (pair && params) {
        for (SiteLink& l : t.links) {
          if (l.a == pair->first && l.b == pair->second) l.params = *params;
        }
      }
    }
  }
}

// --- engine ---

void Loader::ReadEngine(const Field& f) {
  MapReader m(f, d_, "a mapping of engine settings");
  if (!m.ok()) return;
  m.AllowOnly({"batch_window", "max_batch_changes", "max_frame_bytes", "send_retry_interval",
               "max_send_queue_frames", "anti_entropy_interval", "sync_window_pages",
               "max_sync_pulls", "max_sync_serves", "sync_retransmit", "sync_timeout",
               "departure_grace", "heartbeat_interval", "suspect_after", "max_key_bytes",
               "max_contact_bytes", "max_nodes", "max_entries", "max_registration_ttl",
               "max_received_ranges"});
  EngineConfig& e = s_.engine;
  for (const auto& entry : m.entries()) engine_fields_.emplace(entry.key, entry.value);
  auto dur = [&](const char* key, Duration& out, Duration lo, Duration hi) {
    if (auto v = m.Get(key)) {
      if (auto x = ReadDuration(*v, d_, lo, hi)) out = *x;
    }
  };
  auto size = [&](const char* key, std::size_t& out, std::uint64_t lo, std::uint64_t hi) {
    if (auto v = m.Get(key)) {
      if (auto x = ReadUint(*v, d_, lo, hi)) out = static_cast<std::size_t>(*x);
    }
  };
  dur("batch_window", e.batch_window, 0ms, 10s);
  size("max_batch_changes", e.max_batch_changes, 1, 1'000'000);
  size("max_frame_bytes", e.max_frame_bytes, 256, 65'507);
  dur("send_retry_interval", e.send_retry_interval, 1ms, 10s);
  size("max_send_queue_frames", e.max_send_queue_frames, 1, 1'000'000);
  dur("anti_entropy_interval", e.anti_entropy_interval, 0ms, 1h);
  size("sync_window_pages", e.sync_window_pages, 1, 1024);
  size("max_sync_pulls", e.max_sync_pulls, 1, 64);
  size("max_sync_serves", e.max_sync_serves, 1, 64);
  dur("sync_retransmit", e.sync_retransmit, 1ms, 60s);
  dur("sync_timeout", e.sync_timeout, 1ms, 10min);
  dur("departure_grace", e.departure_grace, 0ms, 1h);
  dur("heartbeat_interval", e.heartbeat_interval, 1ms, 60s);
  dur("suspect_after", e.suspect_after, 1ms, 10min);
  size("max_key_bytes", e.max_key_bytes, 1, 4096);
  size("max_contact_bytes", e.max_contact_bytes, 1, 4096);
  size("max_nodes", e.max_nodes, 1, 65'535);
  size("max_entries", e.max_entries, 1, 1ULL << 32);
  dur("max_registration_ttl", e.max_registration_ttl, 1s, kMaxExpiry);
  size("max_received_ranges", e.max_received_ranges, 1, 65'536);
}

// --- nodes and times ---

std::optional<NodeId> Loader::ReadNode(const Field& f) {
  const std::uint64_t hi = cluster_ok_ ? node_count_ : kMaxNodes;
  std::uint64_t v = 0;
  const bool is_number = IsPlainUint(f.node, &v);
  if (!is_number || v < 1 || v > hi) {
    std::string expected = "expected a node number from 1 to " + std::to_string(hi);
    if (cluster_ok_) {
      expected += " (the cluster has " + std::to_string(node_count_) + " node" +
                  (node_count_ == 1 ? "" : "s") + ")";
    }
    d_.Error(f.mark, f.path,
             expected + ", got " +
                 (is_number ? f.node.Scalar() : detail::DescribeQuantity(f.node)));
    return std::nullopt;
  }
  return static_cast<NodeId>(v);
}

std::optional<std::vector<NodeId>> Loader::ReadNodeSet(const Field& f, std::string_view what,
                                                       std::map<NodeId, std::string>* taken) {
  auto items = ReadList(f, d_, what, 1, kMaxNodes);
  if (!items) return std::nullopt;
  const Topology& t = s_.topology;
  const std::uint64_t hi = cluster_ok_ ? node_count_ : kMaxNodes;
  std::vector<NodeId> nodes;
  std::map<NodeId, std::string> local;
  std::map<NodeId, std::string>& used = taken ? *taken : local;
  bool ok = true;
  for (const Field& item : *items) {
    std::vector<NodeId> these;
    std::uint64_t v = 0;
    bool good = false;
    if (IsPlainUint(item.node, &v)) {
      good = v >= 1 && v <= hi;
      if (good) these.push_back(static_cast<NodeId>(v));
    } else if (item.node.IsScalar()) {
      const std::string& s = item.node.Scalar();
      const auto dots = s.find("..");
      if (dots != std::string::npos) {
        YAML::Node lo_node(s.substr(0, dots)), hi_node(s.substr(dots + 2));
        lo_node.SetTag("?");
        hi_node.SetTag("?");
        std::uint64_t lo = 0, up = 0;
        good = IsPlainUint(lo_node, &lo) && IsPlainUint(hi_node, &up) && lo >= 1 && lo <= up &&
               up <= hi;
        if (good) {
          for (std::uint64_t n = lo; n <= up; ++n) these.push_back(static_cast<NodeId>(n));
        }
      } else if (auto site = t.FindSite(s); site && cluster_ok_) {
        good = true;
        for (NodeId n = 0; n < t.sites[*site].node_count; ++n) {
          these.push_back(t.sites[*site].first_node + n);
        }
      }
    }
    if (!good) {
      std::string expected = "expected a node number from 1 to " + std::to_string(hi) +
                             (t.named_sites ? ", a range like '1..3' or a site name"
                                            : " or a range like '1..3'");
      const bool number = IsPlainUint(item.node, &v);
      d_.Error(item.mark, item.path,
               expected + ", got " +
                   (number ? item.node.Scalar() : Describe(item.node)));
      ok = false;
      continue;
    }
    for (NodeId n : these) {
      if (auto it = used.find(n); it != used.end()) {
        d_.Error(item.mark, item.path,
                 "node " + std::to_string(n) + " is already listed at " + it->second +
                     "; expected each node once");
        ok = false;
        break;
      }
      used[n] = item.path;
      nodes.push_back(n);
    }
  }
  if (!ok) return std::nullopt;
  return nodes;
}

std::optional<Duration> Loader::ReadTime(const Field& f) {
  auto v = ReadDuration(f, d_, 0ms, kMaxDuration);
  if (!v) return std::nullopt;
  if (duration_ok_ && *v > s_.duration) {
    d_.Error(f.mark, f.path,
             "expected a time within the scenario's duration (0ms to " +
                 FormatDuration(s_.duration) + "), got " + f.node.Scalar());
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> Loader::ReadKey(const Field& f, std::string_view what) {
  auto v = ReadString(f, d_, what);
  if (!v) return std::nullopt;
  if (!IsKeyText(*v)) {
    d_.Error(f.mark, f.path,
             "expected " + std::string(what) + " without spaces, got " + Describe(f.node));
    return std::nullopt;
  }
  key_uses_.push_back({f, v->size(), std::string(what)});
  return v;
}

// --- workload ---

void Loader::ReadWorkload(const Field& f) {
  Workload& w = s_.workload;
  w.stop = s_.duration;
  MapReader m(f, d_, "a mapping of workload settings");
  if (!m.ok()) return;
  m.AllowOnly({"devices", "mailboxes", "aors", "spread", "nodes", "rate", "start", "stop", "mix",
               "device_states", "registration_expiry", "bursts", "changes", "churn"});
  for (const auto& entry : m.entries()) workload_fields_.emplace(entry.key, entry.value);
  auto count = [&](const char* key, std::uint32_t& out) {
    if (auto v = m.Get(key)) {
      if (auto x = ReadUint(*v, d_, 0, kMaxKeys)) out = static_cast<std::uint32_t>(*x);
    }
  };
  count("devices", w.devices);
  count("mailboxes", w.mailboxes);
  count("aors", w.aors);
  if (auto v = m.Get("spread")) {
    if (auto x = ReadEnum(*v, d_, {"even", "random"})) w.spread = static_cast<Spread>(*x);
  }
  if (auto v = m.Get("nodes")) {
    if (auto x = ReadNodeSet(*v, "a list of nodes", nullptr)) w.nodes = *x;
  }
  if (auto v = m.Get("rate")) {
    if (auto x = ReadRate(*v, d_, 0, kMaxRate)) w.rate_per_s = *x;
  }
  if (auto v = m.Get("start")) {
    if (auto x = ReadTime(*v)) w.start = *x;
  }
  if (auto v = m.Get("stop")) {
    if (auto x = ReadTime(*v)) w.stop = *x;
  }
  if (auto v = m.Get("mix")) {
    MapReader mm(*v, d_, "a mapping with device, mwi, registration shares");
    if (mm.ok() && mm.AllowOnly({"device", "mwi", "registration"})) {
      Mix mix{0, 0, 0};
      bool ok = true;
      auto share = [&](const char* key, double& out) {
        if (auto sv = mm.Get(key)) {
          if (auto x = ReadShare(*sv, d_, "a share")) out = *x; else ok = false;
        }
      };
      share("device", mix.device);
      share("mwi", mix.mwi);
      share("registration", mix.registration);
      const double sum = mix.device + mix.mwi + mix.registration;
      if (ok && std::abs(sum - 1.0) > 1e-9) {
        d_.Error(v->mark, v->path,
                 "expected shares that add up to 100%, these add up to " +
                     FormatNumber(sum * 100.0) + "%");
      } else if (ok) {
        w.mix = mix;
      }
    }
  }
  if (auto v = m.Get("device_states")) {
    if (auto items = ReadList(*v, d_, "a list of device states", 1, kDeviceStateCount)) {
      std::vector<DeviceState> states;
      for (const Field& item : *items) {
        std::optional<DeviceState> st;
        if (item.node.IsScalar()) {
          for (int i = 0; i < kDeviceStateCount; ++i) {
            if (EqualsIgnoreCase(item.node.Scalar(), kDeviceStateNames[i])) {
              st = static_cast<DeviceState>(i);
            }
          }
        }
        if (!st) {
          d_.Error(item.mark, item.path,
                   "expected a device state (NOT_INUSE, INUSE, BUSY, RINGING, RINGINUSE, ONHOLD, "
                   "UNAVAILABLE, INVALID, UNKNOWN), got " + Describe(item.node));
        } else {
          states.push_back(*st);
        }
      }
      if (states.size() == items->size()) w.device_states = states;
    }
  }
  if (auto v = m.Get("registration_expiry")) {
    if (auto x = ReadDuration(*v, d_, 1s, kMaxExpiry)) {
      w.registration_expiry = *x;
      expiry_uses_.emplace_back(*v, *x);
    }
  }
  if (auto v = m.Get("bursts")) {
    if (auto items = ReadList(*v, d_, "a list of bursts", 0, 10'000)) {
      for (const Field& item : *items) {
        if (auto b = ReadBurst(item)) w.bursts.push_back(std::move(*b));
      }
    }
  }
  if (auto v = m.Get("changes")) {
    if (auto items = ReadList(*v, d_, "a list of timed changes", 0, 100'000)) {
      for (const Field& item : *items) {
        if (auto c = ReadChange(item)) w.changes.push_back(std::move(*c));
      }
    }
  }
  if (auto v = m.Get("churn")) ReadChurn(*v);
}

void Loader::ReadChurn(const Field& f) {
  churn_field_ = f;
  MapReader m(f, d_, "a mapping of churn rates (refresh, move, lapse)");
  if (!m.ok()) return;
  if (!m.AllowOnly({"register_over", "refresh", "move", "lapse", "lapse_expiry"})) return;
  Churn c;
  c.pos = PosOf(f);
  bool ok = true;
  if (auto v = m.Get("register_over")) {
    if (auto x = ReadDuration(*v, d_, 1ms, kMaxDuration)) c.register_over = *x; else ok = false;
  }
  auto rate = [&](const char* key, double& out) {
    if (auto v = m.Get(key)) {
      if (auto x = ReadRate(*v, d_, 0, kMaxRate)) out = *x; else ok = false;
    }
  };
  rate("refresh", c.refresh_per_s);
  rate("move", c.move_per_s);
  rate("lapse", c.lapse_per_s);
  if (auto v = m.Get("lapse_expiry")) {
    if (auto x = ReadDuration(*v, d_, 1s, kMaxExpiry)) {
      c.lapse_expiry = *x;
      expiry_uses_.emplace_back(*v, *x);
    } else {
      ok = false;
    }
  }
  if (ok) s_.workload.churn = c;
}

void Loader::ReadCalls(const Field& f) {
  calls_field_ = f;
  MapReader m(f, d_, "a mapping of call settings (rate, nodes, strategies, ...)");
  if (!m.ok()) return;
  if (!m.AllowOnly({"rate", "start", "stop", "nodes", "bursts", "strategies", "hop_limit"})) return;
  for (const auto& entry : m.entries()) calls_fields_.emplace(entry.key, entry.value);
  Calls c;
  c.pos = PosOf(f);
  c.stop = s_.duration;
  bool ok = true;
  if (auto v = m.Get("rate")) {
    if (auto x = ReadRate(*v, d_, 0, kMaxRate)) c.rate_per_s = *x; else ok = false;
  }
  if (auto v = m.Get("start")) {
    if (auto x = ReadTime(*v)) c.start = *x; else ok = false;
  }
  if (auto v = m.Get("stop")) {
    if (auto x = ReadTime(*v)) c.stop = *x; else ok = false;
  }
  if (auto v = m.Get("nodes")) {
    if (auto x = ReadNodeSet(*v, "a list of entry servers", nullptr)) c.nodes = *x; else ok = false;
  }
  if (c.nodes.empty() && cluster_ok_) {
    for (NodeId n = 1; n <= node_count_; ++n) c.nodes.push_back(n);
  }
  if (auto v = m.Get("bursts")) {
    if (auto items = ReadList(*v, d_, "a list of call bursts", 0, 10'000)) {
      for (const Field& item : *items) {
        MapReader bm(item, d_, "a call burst: a mapping with at, length and rate");
        if (!bm.ok() || !bm.AllowOnly({"at", "length", "rate"})) {
          ok = false;
          continue;
        }
        CallBurst b;
        b.pos = PosOf(item);
        bool bok = true;
        if (auto at = bm.Require("at", "when the burst starts, e.g. 20s")) {
          if (auto x = ReadTime(*at)) b.at = *x; else bok = false;
        } else {
          bok = false;
        }
        if (auto len = bm.Require("length", "how long it lasts, e.g. 2s")) {
          if (auto x = ReadDuration(*len, d_, 1ms, kMaxDuration)) b.length = *x; else bok = false;
        } else {
          bok = false;
        }
        if (auto r = bm.Require("rate", "extra calls per second, e.g. 1000/s")) {
          if (auto x = ReadRate(*r, d_, 0.001, kMaxRate)) b.rate_per_s = *x; else bok = false;
        } else {
          bok = false;
        }
        if (bok && !c.bursts.empty() && b.at < c.bursts.back().at) {
          d_.Error(item.mark, item.path, "expected bursts in time order; this one starts before the one above");
          bok = false;
        }
        if (bok) {
          c.bursts.push_back(b);
          call_burst_fields_.push_back(item);
        } else {
          ok = false;
        }
      }
    } else {
      ok = false;
    }
  }
  if (auto v = m.Get("strategies")) {
    if (auto items = ReadList(*v, d_, "a list of routing strategies", 1, kRoutingStrategyCount)) {
      std::vector<RoutingStrategy> list;
      for (const Field& item : *items) {
        if (auto x = ReadEnum(item, d_, {"blind-peer", "location"})) {
          const auto st = static_cast<RoutingStrategy>(*x);
          if (std::find(list.begin(), list.end(), st) != list.end()) {
            d_.Error(item.mark, item.path, std::string(RoutingStrategyName(st)) + " is listed twice");
            ok = false;
          } else {
            list.push_back(st);
          }
        } else {
          ok = false;
        }
      }
      if (ok) c.strategies = list;
    } else {
      ok = false;
    }
  }
  if (auto v = m.Get("hop_limit")) {
    if (auto x = ReadUint(*v, d_, 1, kMaxNodes)) c.hop_limit = static_cast<std::uint32_t>(*x); else ok = false;
  }
  if (ok) s_.calls = c;
}

std::optional<Burst> Loader::ReadBurst(const Field& f) {
  MapReader m(f, d_, "a burst: a mapping with 'at' and call_storm or registration_storm");
  if (!m.ok()) return std::nullopt;
  bool ok = m.AllowOnly({"at", "call_storm", "registration_storm"});
  // One entry per burst in each, whatever goes wrong below: the storm readers fill the last.
  burst_fields_.push_back(f);
  burst_node_fields_.push_back(Field{});
  burst_count_fields_.push_back(Field{});
  Burst b;
  b.pos = PosOf(f);
  if (auto v = m.Require("at", "the time the burst starts, e.g. 5s")) {
    if (auto x = ReadTime(*v)) b.at = *x; else ok = false;
    burst_at_fields_.push_back(*v);
  } else {
    ok = false;
  }
  auto call = m.Get("call_storm");
  auto reg = m.Get("registration_storm");
  if (call && reg) {
    d_.Error(f.mark, f.path, "expected one of call_storm or registration_storm, not both");
    return std::nullopt;
  }
  if (!call && !reg) {
    if (ok) {
      d_.Error(f.mark, f.path,
               "missing required key 'call_storm' or 'registration_storm'; expected the burst's "
               "kind");
    }
    return std::nullopt;
  }
  if (call) {
    MapReader cm(*call, d_, "a mapping with for, rate and optionally nodes");
    if (!cm.ok()) return std::nullopt;
    ok = cm.AllowOnly({"for", "rate", "nodes"}) && ok;
    CallStorm storm;
    if (auto v = cm.Require("for", "how long the storm lasts, e.g. 2s")) {
      if (auto x = ReadDuration(*v, d_, 1ms, kMaxDuration)) {
        storm.length = *x;
        if (duration_ok_ && ok && b.at + storm.length > s_.duration) {
          d_.Error(v->mark, v->path,
                   "expected the storm to end within the scenario's duration (" +
                       FormatDuration(s_.duration) + "), it ends at " +
                       FormatDuration(b.at + storm.length));
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto v = cm.Require("rate", "changes per second during the storm, e.g. 2000/s")) {
      if (auto x = ReadRate(*v, d_, 0.001, kMaxRate)) storm.rate_per_s = *x; else ok = false;
    } else {
      ok = false;
    }
    if (auto v = cm.Get("nodes")) {
      if (auto x = ReadNodeSet(*v, "a list of nodes", nullptr)) storm.nodes = *x; else ok = false;
    }
    b.what = storm;
  } else {
    MapReader rm(*reg, d_, "a mapping with node, rate and optionally count");
    if (!rm.ok()) return std::nullopt;
    ok = rm.AllowOnly({"node", "rate", "count"}) && ok;
    RegistrationStorm storm;
    if (auto v = rm.Require("node", "the node whose phones re-register")) {
      if (auto x = ReadNode(*v)) storm.node = *x; else ok = false;
      burst_node_fields_.back() = *v;
    } else {
      ok = false;
    }
    if (auto v = rm.Require("rate", "registrations per second, e.g. 5000/s")) {
      if (auto x = ReadRate(*v, d_, 0.001, kMaxRate)) storm.rate_per_s = *x; else ok = false;
    } else {
      ok = false;
    }
    if (auto v = rm.Get("count")) {
      if (auto x = ReadUint(*v, d_, 1, kMaxKeys)) storm.count = static_cast<std::uint32_t>(*x);
      else ok = false;
      burst_count_fields_.back() = *v;
    }
    b.what = storm;
  }
  if (!ok) return std::nullopt;
  return b;
}

std::optional<TimedChange> Loader::ReadChange(const Field& f) {
  MapReader m(f, d_, "a change: a mapping with at, node and device, mailbox or aor");
  if (!m.ok()) return std::nullopt;
  TimedChange c;
  c.pos = PosOf(f);
  bool ok = true;
  const bool is_device = m.Has("device"), is_mailbox = m.Has("mailbox"), is_aor = m.Has("aor");
  const int kinds = int{is_device} + int{is_mailbox} + int{is_aor};
  if (kinds != 1) {
    d_.Error(f.mark, f.path,
             kinds == 0 ? "missing required key 'device', 'mailbox' or 'aor'; expected what the "
                          "change is about"
                        : "expected only one of 'device', 'mailbox' or 'aor' in one change");
    m.AllowOnly({"at", "node", "device", "state", "mailbox", "new", "old", "urgent", "aor",
                 "contact", "expires", "status", "remove"});
    return std::nullopt;
  }
  if (auto v = m.Require("at", "the time of the change, e.g. 2s")) {
    if (auto x = ReadTime(*v)) c.at = *x; else ok = false;
    change_at_fields_.push_back(*v);
  } else {
    ok = false;
  }
  if (auto v = m.Require("node", "the node that makes the change")) {
    if (auto x = ReadNode(*v)) c.node = *x; else ok = false;
    change_node_fields_.push_back(*v);
  } else {
    ok = false;
  }
  if (is_device) {
    ok = m.AllowOnly({"at", "node", "device", "state"}) && ok;
    DeviceChange dc;
    if (auto x = ReadKey(*m.Get("device"), "a device name")) dc.device = *x; else ok = false;
    if (auto v = m.Require("state", "the device state, e.g. INUSE")) {
      std::optional<DeviceState> st;
      if (v->node.IsScalar()) {
        for (int i = 0; i < kDeviceStateCount; ++i) {
          if (EqualsIgnoreCase(v->node.Scalar(), kDeviceStateNames[i])) {
            st = static_cast<DeviceState>(i);
          }
        }
      }
      if (st) {
        dc.state = *st;
      } else {
        d_.Error(v->mark, v->path,
                 "expected a device state (NOT_INUSE, INUSE, BUSY, RINGING, RINGINUSE, ONHOLD, "
                 "UNAVAILABLE, INVALID, UNKNOWN), got " + Describe(v->node));
        ok = false;
      }
    } else {
      ok = false;
    }
    c.what = dc;
  } else if (is_mailbox) {
    ok = m.AllowOnly({"at", "node", "mailbox", "new", "old", "urgent"}) && ok;
    MailboxChange mc;
    const Field mf = *m.Get("mailbox");
    if (auto x = ReadKey(mf, "a mailbox")) {
      const auto at = x->find('@');
      if (at == 0 || at == std::string::npos || at + 1 == x->size()) {
        d_.Error(mf.mark, mf.path,
                 "expected a mailbox as 'mailbox@context', got " + Describe(mf.node));
        ok = false;
      }
      mc.mailbox = *x;
    } else {
      ok = false;
    }
    auto msgs = [&](const char* key, std::uint32_t& out) {
      if (auto v = m.Get(key)) {
        if (auto x = ReadUint(*v, d_, 0, kMaxMessages)) out = static_cast<std::uint32_t>(*x);
        else ok = false;
      }
    };
    msgs("new", mc.counts.new_messages);
    msgs("old", mc.counts.old_messages);
    msgs("urgent", mc.counts.urgent_messages);
    c.what = mc;
  } else if (m.Has("remove")) {
    ok = m.AllowOnly({"at", "node", "aor", "remove"}) && ok;
    RegistrationRemove rr;
    if (auto x = ReadKey(*m.Get("aor"), "an AOR")) rr.aor = *x; else ok = false;
    const Field rf = *m.Get("remove");
    if (auto x = ReadBool(rf, d_); x && !*x) {
      d_.Error(rf.mark, rf.path,
               "expected remove: true (leave it out to add or refresh a registration)");
      ok = false;
    } else if (!x) {
      ok = false;
    }
    c.what = rr;
  } else {
    ok = m.AllowOnly({"at", "node", "aor", "contact", "expires", "status"}) && ok;
    RegistrationSet rs;
    rs.expires = s_.workload.registration_expiry;
    if (auto x = ReadKey(*m.Get("aor"), "an AOR")) rs.aor = *x; else ok = false;
    if (auto v = m.Require("contact", "the contact URI, e.g. sip:alice@198.18.0.7:5060")) {
      auto x = ReadString(*v, d_, "a contact URI");
      if (x && (x->rfind("sip:", 0) == 0 || x->rfind("sips:", 0) == 0) && IsKeyText(*x)) {
        rs.contact = *x;
        contact_uses_.push_back({*v, x->size(), "a contact"});
      } else {
        if (x) {
          d_.Error(v->mark, v->path,
                   "expected a SIP URI (sip:... or sips:...) without spaces, got " +
                       Describe(v->node));
        }
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto v = m.Get("expires")) {
      if (auto x = ReadDuration(*v, d_, 1s, kMaxExpiry)) {
        rs.expires = *x;
        expiry_uses_.emplace_back(*v, *x);
      } else {
        ok = false;
      }
    }
    if (auto v = m.Get("status")) {
      if (auto x = ReadEnum(*v, d_, {"reachable", "unreachable"})) {
        rs.status = static_cast<ContactStatus>(*x);
      } else {
        ok = false;
      }
    }
    c.what = rs;
  }
  if (!ok) return std::nullopt;
  return c;
}

// --- faults ---

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
    if (site->node.IsScalar()) {
      if (auto i = t.FindSite(site->node.Scalar())) {
        return NetworkTarget{NetworkTarget::Kind::kLan, *i, 0, 0};
      }
    }
    d_.Error(site->mark, site->path,
             "expected a site name from cluster.sites, got " + Describe(site->node));
    return std::nullopt;
  }
  if (link) {
    auto ends = ReadList(*link, d_, "a list of two site names", 2, 2);
    if (!ends) return std::nullopt;
    std::optional<std::size_t> idx[2];
    for (std::size_t i = 0; i < 2; ++i) {
      const Field& end = (*ends)[i];
      if (!end.node.IsScalar() || !(idx[i] = t.FindSite(end.node.Scalar()))) {
        d_.Error(end.mark, end.path,
                 "expected a site name from cluster.sites, got " + Describe(end.node));
        return std::nullopt;
      }
    }
    if (*idx[0] == *idx[1]) {
      d_.Error(link->mark, link->path,
               "expected two different sites, got " + t.sites[*idx[0]].name + " twice");
      return std::nullopt;
    }
    auto [a, b] = std::minmax(*idx[0], *idx[1]);
    return NetworkTarget{NetworkTarget::Kind::kLink, 0, a, b};
  }
  d_.Error(where.mark, where.path,
           "missing required key 'site' or 'link'; expected the site LAN or the link to change");
  return std::nullopt;
}

std::optional<Fault> Loader::ReadFault(const Field& f) {
  MapReader m(f, d_, "a fault: a mapping with 'at' and one action");
  if (!m.ok()) return std::nullopt;
  static constexpr std::string_view kActions[] = {"partition", "heal",  "isolate", "degrade",
                                                  "restore",   "crash", "restart"};
  Fault fault;
  fault.pos = PosOf(f);
  bool ok = true;
  std::optional<Field> at = m.Require("at", "the time of the fault, e.g. 10s");
  if (at) {
    if (auto x = ReadTime(*at)) fault.at = *x; else ok = false;
  } else {
    ok = false;
  }
  std::vector<const MapReader::Entry*> actions;
  for (const auto& e : m.entries()) {
    if (std::find(std::begin(kActions), std::end(kActions), e.key) != std::end(kActions)) {
      actions.push_back(&e);
    }
  }
  if (actions.empty()) {
    m.AllowOnly({"at", "partition", "one_way", "heal", "isolate", "degrade", "restore", "crash",
                 "restart"});
    d_.Error(f.mark, f.path,
             "missing the fault's action; expected one of: partition, heal, isolate, degrade, "
             "restore, crash, restart");
    return std::nullopt;
  }
  if (actions.size() > 1) {
    d_.Error(actions[1]->key_mark, actions[1]->value.path,
             "expected one action per fault, '" + actions[0]->key + "' is given already");
    return std::nullopt;
  }
  const std::string& action = actions[0]->key;
  const Field& v = actions[0]->value;
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
    if (auto ow = m.Get("one_way")) {
      if (auto x = ReadBool(*ow, d_)) p.one_way = *x; else ok = false;
    }
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
  } else if (action == "heal" || (action == "restore" && !s_.topology.named_sites && v.IsEmpty())) {
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
  } else if (action == "isolate" || action == "crash" || action == "restart") {
    auto node = ReadNode(v);
    if (!node) ok = false;
    if (action == "isolate") fault.what = Isolate{node.value_or(kNoNode)};
    if (action == "crash") fault.what = Crash{node.value_or(kNoNode)};
    if (action == "restart") fault.what = Restart{node.value_or(kNoNode)};
  } else if (action == "degrade") {
    MapReader dm(v, d_, "a mapping with site or link and delay, jitter, loss or bandwidth");
    if (!dm.ok()) return std::nullopt;
    ok = dm.AllowOnly({"site", "link", "delay", "jitter", "loss", "bandwidth"}) && ok;
    Degrade dg;
    auto target = ReadTarget(dm, v);
    if (target) dg.target = *target; else ok = false;
    if (auto x = dm.Get("delay")) {
      if (auto y = ReadDuration(*x, d_, 0ms, kMaxNetworkDelay)) dg.delay = *y; else ok = false;
    }
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
    if (auto x = dm.Get("loss")) {
      if (auto y = ReadShare(*x, d_, "a loss")) dg.loss = *y; else ok = false;
    }
    if (auto x = dm.Get("bandwidth")) {
      if (auto y = ReadBandwidth(*x, d_, kMinBandwidth, kMaxBandwidth)) dg.bandwidth_bps = *y;
      else ok = false;
    }
    if (ok && !dg.delay && !dg.jitter && !dg.loss && !dg.bandwidth_bps) {
      d_.Error(v.mark, v.path,
               "expected at least one of delay, jitter, loss or bandwidth to change");
      ok = false;
    }
    // The link is missing when the links section had errors of its own (reported there).
    const SiteLink* l = ok && target && target->kind == NetworkTarget::Kind::kLink
                            ? s_.topology.FindLink(target->a, target->b)
                            : nullptr;
    if (l != nullptr) {
      const Duration delay = dg.delay.value_or(l->params.delay);
      const Duration jitter = dg.jitter.value_or(l->params.jitter);
      if (jitter > delay) {
        d_.Error(v.mark, v.path,
                 "expected a jitter no larger than the delay (" + FormatDuration(delay) +
                     "), got " + FormatDuration(jitter));
        ok = false;
      }
    }
    fault.what = dg;
  } else {  // restore with a target
    MapReader rm(v, d_, "a mapping with site or link");
    if (!rm.ok()) return std::nullopt;
    ok = rm.AllowOnly({"site", "link"}) && ok;
    if (auto target = ReadTarget(rm, v)) fault.what = Restore{*target}; else ok = false;
  }
  if (!ok) return std::nullopt;
  return fault;
}

// --- checks ---

void Loader::ReadChecks(const Field& f) {
  auto items = ReadList(f, d_, "a list of checks, e.g. [\"lost == 0\"]", 0, 1000);
  if (!items) return;
  for (const Field& item : *items) {
    auto text = ReadString(item, d_, "a check '<metric> <op> <value>', e.g. 'lost == 0'");
    if (!text) continue;
    auto parsed = ParseCheck(*text);
    if (auto* err = std::get_if<CheckSyntaxError>(&parsed)) {
      YAML::Mark mark = item.mark;
      mark.column = ColumnInScalar(source_, item, err->offset) - 1;
      d_.Error(mark, item.path, err->message);
      continue;
    }
    Check check = std::get<Check>(std::move(parsed));
    check.line = item.mark.line + 1;
    check.column = item.mark.column + 1;
    s_.checks.push_back(std::move(check));
    check_fields_.push_back(item);
  }
}

// --- checks across sections (only on a file without other errors) ---

void Loader::CheckEngine() {
  const EngineConfig& e = s_.engine;
  auto where = [&](const char* key) -> std::pair<YAML::Mark, std::string> {
    if (auto it = engine_fields_.find(key); it != engine_fields_.end()) {
      return {it->second.mark, it->second.path};
    }
    return {YAML::Mark(), std::string("engine.") + key};
  };
  if (e.suspect_after <= e.heartbeat_interval) {
    auto [mark, path] = where(engine_fields_.count("suspect_after") ? "suspect_after"
                                                                     : "heartbeat_interval");
    d_.Error(mark, path,
             "expected suspect_after (" + FormatDuration(e.suspect_after) +
                 ") longer than heartbeat_interval (" + FormatDuration(e.heartbeat_interval) +
                 ")");
  }
  if (e.sync_timeout <= e.sync_retransmit) {
    auto [mark, path] = where(engine_fields_.count("sync_timeout") ? "sync_timeout"
                                                                    : "sync_retransmit");
    d_.Error(mark, path,
             "expected sync_timeout (" + FormatDuration(e.sync_timeout) +
                 ") longer than sync_retransmit (" + FormatDuration(e.sync_retransmit) + ")");
  }
  if (e.max_nodes < node_count_) {
    auto [mark, path] = where("max_nodes");
    d_.Error(mark, path,
             "expected at least the cluster's " + std::to_string(node_count_) +
                 " nodes, got " + std::to_string(e.max_nodes));
  }
  for (const KeyUse& k : key_uses_) {
    if (k.bytes > e.max_key_bytes) {
      d_.Error(k.field.mark, k.field.path,
               "expected " + k.what + " of at most " + std::to_string(e.max_key_bytes) +
                   " bytes (engine.max_key_bytes), got " + std::to_string(k.bytes));
    }
  }
  for (const KeyUse& k : contact_uses_) {
    if (k.bytes > e.max_contact_bytes) {
      d_.Error(k.field.mark, k.field.path,
               "expected " + k.what + " of at most " + std::to_string(e.max_contact_bytes) +
                   " bytes (engine.max_contact_bytes), got " + std::to_string(k.bytes));
    }
  }
  for (const auto& [field, expiry] : expiry_uses_) {
    if (expiry > e.max_registration_ttl) {
      d_.Error(field.mark, field.path,
               "expected an expiry of at most " + FormatDuration(e.max_registration_ttl) +
                   " (engine.max_registration_ttl), got " + FormatDuration(expiry));
    }
  }
  if (transport_field_ && s_.transport == TransportMode::kBroadcast &&
      s_.topology.sites.size() > 1) {
    d_.Error(transport_field_->mark, transport_field_->path,
             "broadcast does not cross sites (the cluster has " +
                 std::to_string(s_.topology.sites.size()) +
                 "); expected multicast or unicast");
  }
}

void Loader::CheckWorkload() {
  const Workload& w = s_.workload;
  auto mark_of = [&](const char* key) {
    auto it = workload_fields_.find(key);
    return it != workload_fields_.end() ? it->second
                                        : Field{YAML::Node(), "workload", YAML::Mark()};
  };
  if (w.rate_per_s > 0) {
    if (w.start >= w.stop) {
      const Field f = mark_of(workload_fields_.count("stop") ? "stop" : "start");
      d_.Error(f.mark, f.path,
               "expected start (" + FormatDuration(w.start) + ") before stop (" +
                   FormatDuration(w.stop) + ") when rate is above 0/s");
    }
    struct Kind {
      double share;
      std::uint32_t keys;
      const char* share_key;
      const char* keys_key;
    };
    for (const Kind& k : {Kind{w.mix.device, w.devices, "device", "devices"},
                          Kind{w.mix.mwi, w.mailboxes, "mwi", "mailboxes"},
                          Kind{w.mix.registration, w.aors, "registration", "aors"}}) {
      if (k.share > 0 && k.keys == 0) {
        const Field f = mark_of(workload_fields_.count("mix") ? "mix" : "rate");
        d_.Error(f.mark, f.path,
                 std::string("the mix gives ") + k.share_key + " " +
                     FormatNumber(k.share * 100) + "% of the changes; expected workload." +
                     k.keys_key + " above 0");
      }
    }
  }
  double total = w.rate_per_s * std::chrono::duration<double>(w.stop - w.start).count();
  for (std::size_t i = 0; i < w.bursts.size(); ++i) {
    const Burst& b = w.bursts[i];
    if (const auto* call = std::get_if<CallStorm>(&b.what)) {
      total += call->rate_per_s * std::chrono::duration<double>(call->length).count();
      if (w.devices == 0) {
        d_.Error(burst_fields_[i].mark, burst_fields_[i].path,
                 "a call storm changes devices; expected workload.devices above 0");
      }
    } else {
      const auto& reg = std::get<RegistrationStorm>(b.what);
      total += reg.count != 0 ? reg.count : w.aors;
      if (w.aors == 0) {
        d_.Error(burst_fields_[i].mark, burst_fields_[i].path,
                 "a registration storm re-registers AORs; expected workload.aors above 0");
      } else if (reg.count > w.aors) {
        d_.Error(burst_count_fields_[i].mark, burst_count_fields_[i].path,
                 "expected at most workload.aors (" + std::to_string(w.aors) + ") AORs, got " +
                     std::to_string(reg.count));
      }
    }
  }
  if (total > kMaxGeneratedChanges) {
    const Field f = mark_of("rate");
    d_.Error(f.mark, f.path,
             "the workload makes about " + FormatNumber(std::round(total)) +
                 " changes; expected at most " + FormatNumber(kMaxGeneratedChanges));
  }
}

void Loader::CheckTimeOrder(const std::vector<Field>& at_fields, std::string_view list) {
  Duration last{};
  std::size_t last_index = 0;
  for (std::size_t i = 0; i < at_fields.size(); ++i) {
    auto at = ParseDuration(at_fields[i].node.Scalar());
    if (i > 0 && *at < last) {
      d_.Error(at_fields[i].mark, at_fields[i].path,
               "expected " + std::string(list) + " in time order: " +
                   FormatDuration(*at) + " is before " + std::string(list) + "[" +
                   std::to_string(last_index) + "] at " + FormatDuration(last));
    } else {
      last = *at;
      last_index = i;
    }
  }
}

void Loader::CheckTimeline() {
  CheckTimeOrder(fault_at_fields_, "faults");
  CheckTimeOrder(burst_at_fields_, "workload.bursts");
  CheckTimeOrder(change_at_fields_, "workload.changes");
  if (d_.count() != 0) return;

  // Crash intervals per node, for changes and storms made by crashed nodes.
  struct Down {
    NodeId node;
    Duration from;
    Duration until;  // Duration::max() while not restarted
    std::size_t fault;
  };
  std::vector<Down> downs;
  std::map<NodeId, std::size_t> crashed;  // node -> index into downs
  bool cut = false;
  std::vector<std::pair<NetworkTarget, std::size_t>> degraded;
  const Topology& t = s_.topology;
  for (std::size_t i = 0; i < s_.faults.size(); ++i) {
    const Fault& fault = s_.faults[i];
    const Field& f = fault_fields_[i];
    const std::string when = " at " + FormatDuration(fault.at);
    std::visit(
        [&](const auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, Partition> || std::is_same_v<A, Isolate>) {
            cut = true;
          } else if constexpr (std::is_same_v<A, Heal>) {
            if (!cut) {
              d_.Error(f.mark, f.path,
                       "heal" + when +
                           " without a partition in force; expected an earlier partition or "
                           "isolate");
            }
            cut = false;
          } else if constexpr (std::is_same_v<A, Crash>) {
            if (auto it = crashed.find(a.node); it != crashed.end()) {
              d_.Error(f.mark, f.path,
                       "node " + std::to_string(a.node) + " is already crashed" + when +
                           " (by faults[" + std::to_string(downs[it->second].fault) +
                           "]); expected a running node");
            } else {
              crashed[a.node] = downs.size();
              downs.push_back({a.node, fault.at, Duration::max(), i});
            }
          } else if constexpr (std::is_same_v<A, Restart>) {
            if (auto it = crashed.find(a.node); it == crashed.end()) {
              d_.Error(f.mark, f.path,
                       "node " + std::to_string(a.node) + " is not crashed" + when +
                           "; expected a node crashed by an earlier fault");
            } else {
              downs[it->second].until = fault.at;
              crashed.erase(it);
            }
          } else if constexpr (std::is_same_v<A, Degrade>) {
            auto it = std::find_if(degraded.begin(), degraded.end(),
                                   [&](const auto& d) { return d.first == a.target; });
            if (it == degraded.end()) degraded.emplace_back(a.target, i);
          } else if constexpr (std::is_same_v<A, Restore>) {
            auto it = std::find_if(degraded.begin(), degraded.end(),
                                   [&](const auto& d) { return d.first == a.target; });
            if (it == degraded.end()) {
              d_.Error(f.mark, f.path,
                       TargetName(t, a.target) + " is not degraded" + when +
                           "; expected an earlier degrade of it");
            } else {
              degraded.erase(it);
            }
          }
        },
        fault.what);
  }

  // Faults at an instant come before changes at the same instant, so a change at a crash's
  // time is refused and a change at a restart's time is made by the new incarnation.
  auto down_at = [&](NodeId node, Duration at) -> const Down* {
    for (const Down& d : downs) {
      if (d.node == node && d.from <= at && at < d.until) return &d;
    }
    return nullptr;
  };
  for (std::size_t i = 0; i < s_.workload.changes.size(); ++i) {
    const TimedChange& c = s_.workload.changes[i];
    if (const Down* d = down_at(c.node, c.at)) {
      const Field& f = change_node_fields_[i];
      d_.Error(f.mark, f.path,
               "node " + std::to_string(c.node) + " is crashed at " + FormatDuration(c.at) +
                   " (by faults[" + std::to_string(d->fault) +
                   "]); expected a running node to make the change");
    }
  }
  for (std::size_t i = 0; i < s_.workload.bursts.size(); ++i) {
    const Burst& b = s_.workload.bursts[i];
    if (const auto* reg = std::get_if<RegistrationStorm>(&b.what)) {
      if (const Down* d = down_at(reg->node, b.at)) {
        const Field& f = burst_node_fields_[i];
        d_.Error(f.mark, f.path,
                 "node " + std::to_string(reg->node) + " is crashed at " + FormatDuration(b.at) +
                     " (by faults[" + std::to_string(d->fault) +
                     "]); expected a running node to take the registrations");
      }
    }
  }
}

// Whether a run of `calls` measures `metric` (a calls.<strategy>.* metric needs its strategy).
bool CallsMeasure(const Calls& calls, const std::string& metric) {
  auto has = [&](RoutingStrategy st) {
    return std::find(calls.strategies.begin(), calls.strategies.end(), st) != calls.strategies.end();
  };
  if (metric == "calls.location.extra_hops_vs_blind_peer") {
    return has(RoutingStrategy::kLocation) && has(RoutingStrategy::kBlindPeer);
  }
  for (int i = 0; i < kRoutingStrategyCount; ++i) {
    const auto st = static_cast<RoutingStrategy>(i);
    if (metric.rfind("calls." + std::string(RoutingStrategyMetricName(st)) + ".", 0) == 0) return has(st);
  }
  return true;
}

void Loader::CheckCalls() {
  const Workload& w = s_.workload;
  if (w.churn) {
    if (w.aors == 0) {
      d_.Error(churn_field_->mark, churn_field_->path, "churn moves phones; expected workload.aors above 0");
    }
    if (w.mix.registration > 0) {
      const auto it = workload_fields_.find("mix");
      const Field& f = it != workload_fields_.end() ? it->second : *churn_field_;
      d_.Error(f.mark, f.path,
               "with churn, the AORs' registrations follow the phones; expected no registration share in the mix");
    }
    for (std::size_t i = 0; i < w.bursts.size(); ++i) {
      if (std::holds_alternative<RegistrationStorm>(w.bursts[i].what)) {
        d_.Error(burst_fields_[i].mark, burst_fields_[i].path,
                 "with churn, the AORs' registrations follow the phones; a registration storm cannot be combined with it");
      }
    }
    if (w.churn->register_over > s_.duration) {
      d_.Error(churn_field_->mark, churn_field_->path + ".register_over",
               "expected at most the duration (" + FormatDuration(s_.duration) + ")");
    }
  }
  if (!s_.calls) return;
  Calls& c = *s_.calls;
  auto field = [&](const char* key) {
    auto it = calls_fields_.find(key);
    return it != calls_fields_.end() ? it->second : *calls_field_;
  };
  if (w.aors == 0) {
    d_.Error(calls_field_->mark, calls_field_->path, "calls are for the generated phones; expected workload.aors above 0");
  }
  if (node_count_ < 2) {
    d_.Error(calls_field_->mark, calls_field_->path, "routing needs at least two servers");
    return;
  }
  if (c.hop_limit == 0) c.hop_limit = node_count_ - 1;
  if (c.hop_limit > node_count_) {
    const Field f = field("hop_limit");
    d_.Error(f.mark, f.path, "expected at most the number of servers (" + std::to_string(node_count_) + ")");
  }
  if (c.stop > s_.duration) {
    const Field f = field("stop");
    d_.Error(f.mark, f.path, "expected at most the duration (" + FormatDuration(s_.duration) + ")");
  }
  if (c.rate_per_s > 0 && c.start >= c.stop) {
    const Field f = field(calls_fields_.count("stop") ? "stop" : "start");
    d_.Error(f.mark, f.path,
             "expected start (" + FormatDuration(c.start) + ") before stop (" + FormatDuration(c.stop) +
                 ") when rate is above 0/s");
  }
  double total = c.rate_per_s * std::chrono::duration<double>(c.stop - c.start).count();
  for (std::size_t i = 0; i < c.bursts.size(); ++i) {
    const CallBurst& b = c.bursts[i];
    total += b.rate_per_s * std::chrono::duration<double>(b.length).count();
    if (b.at + b.length > s_.duration) {
      const Field& f = call_burst_fields_[i];
      d_.Error(f.mark, f.path, "a burst at " + FormatDuration(b.at) + " lasting " + FormatDuration(b.length) +
                                   " ends after the duration (" + FormatDuration(s_.duration) + ")");
    }
  }
  if (total > kMaxCalls) {
    const Field f = field("rate");
    d_.Error(f.mark, f.path,
             "the calls section makes about " + FormatNumber(std::round(total)) + " calls; expected at most " +
                 FormatNumber(kMaxCalls));
  }
}

void Loader::CheckChecks() {
  bool has[6] = {};  // indexed by ConvergenceAfter
  for (const Fault& f : s_.faults) {
    if (std::holds_alternative<Heal>(f.what)) has[int(ConvergenceAfter::kHeal)] = true;
    if (std::holds_alternative<Restart>(f.what)) has[int(ConvergenceAfter::kRestart)] = true;
    if (std::holds_alternative<Restore>(f.what)) has[int(ConvergenceAfter::kRestore)] = true;
    if (std::holds_alternative<Crash>(f.what)) has[int(ConvergenceAfter::kCrash)] = true;
  }
  has[int(ConvergenceAfter::kAnyFault)] = has[1] || has[2] || has[3] || has[4];
  static constexpr const char* kFaultName[] = {"", "heal", "restart", "restore", "crash",
                                               "heal, restart, restore or crash"};
  const Workload& w = s_.workload;
  const bool makes_changes = (w.rate_per_s > 0 && w.start < w.stop) || !w.changes.empty() ||
                             !w.bursts.empty();
  for (std::size_t i = 0; i < s_.checks.size(); ++i) {
    const Check& c = s_.checks[i];
    const MetricInfo* info = FindMetric(c.metric);
    const Field& f = check_fields_[i];
    const int need = static_cast<int>(info->needs);
    if (need != 0 && !has[need]) {
      d_.Error(f.mark, f.path,
               c.metric + " has no samples: expected a " + kFaultName[need] +
                   " fault in this scenario");
    } else if (!makes_changes &&
               (c.metric.rfind("delivery_latency.", 0) == 0 ||
                c.metric.rfind("stable_latency.", 0) == 0 || c.metric == "messages_per_change" ||
                c.metric == "bytes_per_change")) {
      d_.Error(f.mark, f.path,
               c.metric + " has no samples: expected a workload that makes changes (rate, "
                          "bursts or changes)");
    } else if (c.metric.rfind("calls.", 0) == 0 && !s_.calls) {
      d_.Error(f.mark, f.path, c.metric + " has no samples: expected a calls section");
    } else if (s_.calls && !CallsMeasure(*s_.calls, c.metric)) {
      d_.Error(f.mark, f.path, c.metric + " has no samples: calls.strategies does not list its strategy");
    } else if (node_count_ < 2 && (c.metric.rfind("delivery_latency.", 0) == 0 ||
                                   c.metric.rfind("stable_latency.", 0) == 0)) {
      d_.Error(f.mark, f.path, c.metric + " has no samples: expected at least two nodes");
    }
  }
}

// Documents in a text, counted with yaml-cpp's event parser rather than YAML::LoadAll: on some
// inputs (", a": a flow separator at block level) LoadAll loops forever, allocating an empty
// document per turn without consuming input. Counting stops at two documents and notices a
// second document that starts where the first did.
struct DocumentCount {
  int count = 0;
  bool stuck = false;       // the parser made no progress between documents
  YAML::Mark second_mark;   // the second document's first node (or its start)
};

class DocumentCounter : public YAML::EventHandler {
 public:
  int documents = 0;
  YAML::Mark first_start, second_start, second_node;
  bool second_has_node = false;

  void OnDocumentStart(const YAML::Mark& mark) override {
    ++documents;
    if (documents == 1) first_start = mark;
    if (documents == 2) second_start = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnMapEnd() override {}

 private:
  void Node(const YAML::Mark& mark) {
    if (documents == 2 && !second_has_node) {
      second_node = mark;
      second_has_node = true;
    }
  }
};

// Throws YAML::Exception on a syntax error in the first two documents.
DocumentCount CountDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  while (counter.documents < 2 && parser.HandleNextDocument(counter)) {
  }
  DocumentCount c;
  c.count = counter.documents;
  if (c.count >= 2) {
    c.stuck = counter.second_start.pos == counter.first_start.pos;
    c.second_mark = counter.second_has_node && !c.stuck ? counter.second_node
                                                          : counter.second_start;
  }
  return c;
}

// The character at `mark` in `text`, for messages; "end of file" past the end.
std::string CharAt(const std::string& text, const YAML::Mark& mark) {
  if (mark.pos < 0 || static_cast<std::size_t>(mark.pos) >= text.size()) return "end of file";
  return std::string(1, text[static_cast<std::size_t>(mark.pos)]);
}

}  // namespace

LoadResult LoadScenarioString(std::string_view yaml, std::string file) {
  Diagnostics diag(file);
  LoadResult result;
  const std::string text(yaml);
  DocumentCount docs;
  try {
    docs = CountDocuments(text);
  } catch (const YAML::Exception& e) {
    diag.Error(e.mark, "", "YAML syntax: " + e.msg);
    result.errors = diag.Take();
    return result;
  }
  if (docs.stuck) {
    diag.Error(docs.second_mark, "",
               "YAML syntax: unexpected '" + CharAt(text, docs.second_mark) +
                   "'; expected a key, a value or a comment");
  } else if (docs.count == 0) {
    diag.Error(YAML::Mark(), "",
               "empty scenario; expected a mapping with at least name, duration and cluster");
  } else if (docs.count > 1) {
    diag.Error(docs.second_mark, "", "expected one YAML document, found a second one here");
  } else {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      diag.Error(e.mark, "", "YAML syntax: " + e.msg);
      result.errors = diag.Take();
      return result;
    }
    if (root.IsNull()) {
      diag.Error(YAML::Mark(), "",
                 "empty scenario; expected a mapping with at least name, duration and cluster");
    } else {
      Scenario s;
      s.file = file;
      Loader loader(diag, yaml, s);
      loader.Root(Field{root, "", root.Mark()});
      if (diag.count() == 0) result.scenario = std::move(s);
    }
  }
  result.errors = diag.Take();
  return result;
}

LoadResult LoadScenarioFile(const std::filesystem::path& path) {
  std::error_code ec;
  // A directory opens as a stream on Linux and reads as empty; say what it is instead.
  const bool directory = std::filesystem::is_directory(path, ec);
  std::ifstream in;
  if (!directory) in.open(path, std::ios::binary);
  if (directory || !in) {
    LoadResult r;
    r.errors.push_back({path.string(), 0, 0, "",
                        directory ? "is a directory; expected a scenario file"
                                  : "cannot read the file; expected a readable scenario file"});
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return LoadScenarioString(text.str(), path.string());
}

}  // namespace pbxstate::scenario
