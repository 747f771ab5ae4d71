#include "pbxstate/scenario/writer.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <sstream>
#include <system_error>
#include <vector>

#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario {
namespace {

// Asterisk's names, indexed by the enum's numeric value (the loader reads them any case).
constexpr std::string_view kDeviceStateNames[kDeviceStateCount] = {
    "UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"};

// Words YAML readers take for something other than a string when written plain.
bool LooksSpecial(std::string_view s) {
  static constexpr std::string_view kWords[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"};
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::find(std::begin(kWords), std::end(kWords), lower) != std::end(kWords);
}

// A string as a YAML scalar: plain when it is letters, digits and a few harmless marks starting
// with a letter (so it cannot read as a number, a boolean or YAML syntax), else double-quoted.
std::string Str(std::string_view s) {
  const bool plain =
      !s.empty() && std::isalpha(static_cast<unsigned char>(s[0])) && !LooksSpecial(s) &&
      std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == '@';
      });
  if (plain) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;  // UTF-8 passes through
    }
  }
  return out + "\"";
}

// The shortest plain decimal (no exponent) that reads back as `v` with ParseDecimal; nullopt
// when none does (ParseDecimal divides a 24-digit mantissa, which can round differently).
std::optional<std::string> ExactDecimal(double v) {
  char buf[400];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (r.ec != std::errc()) return std::nullopt;
  std::string text(buf, r.ptr);
  const std::optional<double> back = ParseDecimal(text);
  if (!back || *back != v) return std::nullopt;
  return text;
}

// Collects the first error; the writer goes on so that one call reports one reason.
struct Errors {
  std::optional<Status> first;
  void Add(const std::string& field, const std::string& what) {
    if (!first) first = Status::InvalidArgument(field + ": " + what);
  }
};

std::string Share(double v, const std::string& field, Errors& e) {
  // "2%" reads better than "0.02": take it when it reads back exactly.
  if (auto p = ExactDecimal(v * 100.0); p && p->size() <= 8 && ParsePercent(*p + "%") == v) return *p + "%";
  if (auto t = ExactDecimal(v)) return *t;
  e.Add(field, "the share " + std::to_string(v) + " has no decimal spelling that reads back exactly");
  return "0";
}

std::string Rate(double per_s, const std::string& field, Errors& e) {
  if (auto t = ExactDecimal(per_s)) return *t + "/s";
  // 100/min is 1.666...67/s: its shortest spelling may not read back, the per-minute one does.
  if (auto t = ExactDecimal(per_s * 60.0); t && ParseRate(*t + "/min") == per_s) return *t + "/min";
  e.Add(field, "the rate " + std::to_string(per_s) + "/s has no decimal spelling that reads back exactly");
  return "0/s";
}

std::string Dur(Duration d) { return FormatDuration(d); }

// A node list with runs of three or more written as "A..B".
std::string Nodes(const std::vector<NodeId>& nodes) {
  std::string out = "[";
  for (std::size_t i = 0; i < nodes.size();) {
    std::size_t j = i;
    while (j + 1 < nodes.size() && nodes[j + 1] == nodes[j] + 1) ++j;
    if (i != 0) out += ", ";
    if (j - i >= 2) {
      out += "\"" + std::to_string(nodes[i]) + ".." + std::to_string(nodes[j]) + "\"";
      i = j + 1;
    } else {
      out += std::to_string(nodes[i]);
      ++i;
    }
  }
  return out + "]";
}

std::vector<NodeId> AllNodes(const Scenario& s) {
  std::vector<NodeId> all;
  for (NodeId n = 1; n <= s.topology.node_count(); ++n) all.push_back(n);
  return all;
}

// "{a: 1, b: 2}" from key/value pairs already formatted; "{}" when empty.
std::string Flow(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out = "{";
  for (std::size_t i = 0; i < kv.size(); ++i) out += (i ? ", " : "") + kv[i].first + ": " + kv[i].second;
  return out + "}";
}

using KeyValues = std::vector<std::pair<std::string, std::string>>;

void FrameKeys(const FrameFaults& f, const FrameFaults& base, const std::string& field, Errors& e, KeyValues* kv) {
  if (f.duplicate != base.duplicate) kv->emplace_back("duplicate", Share(f.duplicate, field + ".duplicate", e));
  if (f.reorder != base.reorder) kv->emplace_back("reorder", Share(f.reorder, field + ".reorder", e));
  if (f.reorder_delay != base.reorder_delay) kv->emplace_back("reorder_delay", Dur(f.reorder_delay));
}

// The keys of `lan` that differ from `base`.
KeyValues LanKeys(const LanParams& lan, const LanParams& base, const std::string& field, Errors& e) {
  KeyValues kv;
  if (lan.delay != base.delay) kv.emplace_back("delay", Dur(lan.delay));
  if (lan.bandwidth_bps != base.bandwidth_bps) kv.emplace_back("bandwidth", FormatBandwidth(lan.bandwidth_bps));
  if (lan.loss != base.loss) kv.emplace_back("loss", Share(lan.loss, field + ".loss", e));
  FrameKeys(lan.frames, base.frames, field, e, &kv);
  return kv;
}

KeyValues LinkKeys(const LinkParams& l, const LinkParams& base, const std::string& field, Errors& e) {
  KeyValues kv;
  if (l.delay != base.delay) kv.emplace_back("delay", Dur(l.delay));
  if (l.jitter != base.jitter) kv.emplace_back("jitter", Dur(l.jitter));
  if (l.loss != base.loss) kv.emplace_back("loss", Share(l.loss, field + ".loss", e));
  if (l.bandwidth_bps != base.bandwidth_bps) kv.emplace_back("bandwidth", FormatBandwidth(l.bandwidth_bps));
  FrameKeys(l.frames, base.frames, field, e, &kv);
  return kv;
}

class Writer {
 public:
  Writer(const Scenario& s, Errors& e) : s_(s), e_(e) {}

  std::string Write() {
    Line("name: " + Str(s_.name));
    if (!s_.description.empty()) Line("description: " + Str(s_.description));
    Line("seed: " + std::to_string(s_.seed));
    Line("duration: " + Dur(s_.duration));
    Line("quiet: " + (s_.quiet.plus_detection ? Str(FormatDetectionRelative(s_.quiet)) : Dur(s_.quiet.constant)));
    Cluster();
    Network();
    if (s_.transport != TransportMode::kMulticast) Line("transport: " + std::string(TransportModeName(s_.transport)));
    Engine();
    WorkloadSection();
    CallsSection();
    Faults();
    ChecksSection();
    if (s_.memory) {
      Line("memory: {sample_every: " + Dur(s_.memory->sample_every) + ", baseline: " + Dur(s_.memory->baseline) + "}");
    }
    return out_.str();
  }

 private:
  // checks: each as written; one that names its backends as {check: ..., backends: [...]}.
  void ChecksSection() {
    if (s_.checks.empty()) return;
    Line("checks:");
    for (const Check& c : s_.checks) {
      if (c.backends.empty()) {
        Line("  - " + Str(c.text));
        continue;
      }
      std::string list;
      for (const std::string& b : c.backends) list += (list.empty() ? "" : ", ") + b;
      Line("  - {check: " + Str(c.text) + ", backends: [" + list + "]}");
    }
  }

  void Line(const std::string& text) { out_ << text << "\n"; }

  std::string SiteName(std::size_t i) const { return Str(s_.topology.sites[i].name); }

  void Cluster() {
    const Topology& t = s_.topology;
    Line("cluster:");
    if (!t.named_sites) {
      Line("  nodes: " + std::to_string(t.node_count()));
    } else {
      Line("  sites:");
      for (const Site& site : t.sites) Line("    - " + Flow({{"name", Str(site.name)}, {"nodes", std::to_string(site.node_count)}}));
    }
    if (s_.auth) Line("  auth: true");
    const Membership& m = s_.membership;
    if (m.source) Line(std::string("  membership: ") + (*m.source == MembershipSource::kTransport ? "transport" : "heartbeat"));
    if (m.views != ViewModel::kConsistent) Line("  views: per_node");
    if (m.view_delay != Duration{}) Line("  view_delay: " + Dur(m.view_delay));
  }

  void Network() {
    const Topology& t = s_.topology;
    std::vector<std::string> lines;
    const LanParams& lan = t.sites[0].lan;
    const KeyValues lan_kv = LanKeys(lan, LanParams{}, "network.lan", e_);
    if (!lan_kv.empty()) lines.push_back("  lan: " + Flow(lan_kv));
    if (t.named_sites) {
      std::vector<std::string> sites;
      for (std::size_t i = 1; i < t.sites.size(); ++i) {
        const KeyValues kv = LanKeys(t.sites[i].lan, lan, "network.sites." + t.sites[i].name, e_);
        if (!kv.empty()) sites.push_back("    " + SiteName(i) + ": " + Flow(kv));
      }
      if (!sites.empty()) {
        lines.push_back("  sites:");
        lines.insert(lines.end(), sites.begin(), sites.end());
      }
    }
    if (!t.links.empty()) {
      const LinkParams& wan = t.links[0].params;
      const KeyValues wan_kv = LinkKeys(wan, LinkParams{}, "network.wan", e_);
      if (!wan_kv.empty()) lines.push_back("  wan: " + Flow(wan_kv));
      std::vector<std::string> links;
      for (std::size_t i = 1; i < t.links.size(); ++i) {
        const SiteLink& l = t.links[i];
        KeyValues kv = LinkKeys(l.params, wan, "network.links", e_);
        if (kv.empty()) continue;
        kv.insert(kv.begin(), {"between", "[" + SiteName(l.a) + ", " + SiteName(l.b) + "]"});
        links.push_back("    - " + Flow(kv));
      }
      if (!links.empty()) {
        lines.push_back("  links:");
        lines.insert(lines.end(), links.begin(), links.end());
      }
    }
    if (lines.empty()) return;
    Line("network:");
    for (const std::string& l : lines) Line(l);
  }

  void Engine() {
    const EngineConfig& e = s_.engine;
    const EngineConfig d;
    // Settings the schema has no key for: set by the world, never by a scenario file.
    if (e.node_id != d.node_id || e.incarnation != d.incarnation || e.label != d.label ||
        e.membership != d.membership || e.join_digest_holdoff != d.join_digest_holdoff ||
        e.join_digest_fanout != d.join_digest_fanout || e.max_clock_skew != d.max_clock_skew ||
        !e.cluster_keys.empty()) {
      e_.Add("engine", "holds a setting no scenario file can say (identity, membership, join digests, clock skew, keys)");
    }
    KeyValues kv;
    auto dur = [&](const char* key, Duration v, Duration def) {
      if (v != def) kv.emplace_back(key, Dur(v));
    };
    auto num = [&](const char* key, std::size_t v, std::size_t def) {
      if (v != def) kv.emplace_back(key, std::to_string(v));
    };
    dur("batch_window", e.batch_window, d.batch_window);
    num("max_batch_changes", e.max_batch_changes, d.max_batch_changes);
    num("max_frame_bytes", e.max_frame_bytes, d.max_frame_bytes);
    dur("send_retry_interval", e.send_retry_interval, d.send_retry_interval);
    num("max_send_queue_frames", e.max_send_queue_frames, d.max_send_queue_frames);
    dur("anti_entropy_interval", e.anti_entropy_interval, d.anti_entropy_interval);
    num("sync_window_pages", e.sync_window_pages, d.sync_window_pages);
    num("max_sync_pulls", e.max_sync_pulls, d.max_sync_pulls);
    num("max_sync_serves", e.max_sync_serves, d.max_sync_serves);
    dur("sync_retransmit", e.sync_retransmit, d.sync_retransmit);
    dur("sync_timeout", e.sync_timeout, d.sync_timeout);
    dur("departure_grace", e.departure_grace, d.departure_grace);
    dur("heartbeat_interval", e.heartbeat_interval, d.heartbeat_interval);
    dur("suspect_after", e.suspect_after, d.suspect_after);
    num("max_key_bytes", e.max_key_bytes, d.max_key_bytes);
    num("max_contact_bytes", e.max_contact_bytes, d.max_contact_bytes);
    num("max_nodes", e.max_nodes, d.max_nodes);
    num("max_entries", e.max_entries, d.max_entries);
    dur("max_registration_ttl", e.max_registration_ttl, d.max_registration_ttl);
    num("max_received_ranges", e.max_received_ranges, d.max_received_ranges);
    if (kv.empty()) return;
    Line("engine:");
    for (const auto& [k, v] : kv) Line("  " + k + ": " + v);
  }

  void WorkloadSection() {
    const Workload& w = s_.workload;
    const Workload d;
    std::vector<std::string> lines;
    auto put = [&](const std::string& key, const std::string& value) { lines.push_back("  " + key + ": " + value); };
    if (w.devices != 0) put("devices", std::to_string(w.devices));
    if (w.mailboxes != 0) put("mailboxes", std::to_string(w.mailboxes));
    if (w.aors != 0) put("aors", std::to_string(w.aors));
    if (w.spread != Spread::kEven) put("spread", "random");
    if (w.nodes != AllNodes(s_)) put("nodes", Nodes(w.nodes));
    if (w.rate_per_s != 0) put("rate", Rate(w.rate_per_s, "workload.rate", e_));
    if (w.start != Duration{}) put("start", Dur(w.start));
    if (w.stop != s_.duration) put("stop", Dur(w.stop));
    if (!(w.mix == d.mix)) {
      KeyValues kv;
      if (w.mix.device != 0) kv.emplace_back("device", Share(w.mix.device, "workload.mix.device", e_));
      if (w.mix.mwi != 0) kv.emplace_back("mwi", Share(w.mix.mwi, "workload.mix.mwi", e_));
      if (w.mix.registration != 0) {
        kv.emplace_back("registration", Share(w.mix.registration, "workload.mix.registration", e_));
      }
      put("mix", Flow(kv));
    }
    if (w.device_states != d.device_states) {
      std::string list = "[";
      for (std::size_t i = 0; i < w.device_states.size(); ++i) {
        list += (i ? ", " : "") + std::string(kDeviceStateNames[static_cast<int>(w.device_states[i])]);
      }
      put("device_states", list + "]");
    }
    if (w.registration_expiry != d.registration_expiry) put("registration_expiry", Dur(w.registration_expiry));
    if (w.mailbox_fill) put("mailbox_fill", Dur(*w.mailbox_fill));
    if (!w.bursts.empty()) {
      lines.push_back("  bursts:");
      for (const Burst& b : w.bursts) lines.push_back("    - " + BurstText(b));
    }
    if (!w.changes.empty()) {
      lines.push_back("  changes:");
      for (const TimedChange& c : w.changes) lines.push_back("    - " + ChangeText(c));
    }
    if (w.churn) put("churn", ChurnText(*w.churn));
    if (w.name_churn) put("name_churn", NameChurnText(*w.name_churn));
    if (lines.empty()) return;
    Line("workload:");
    for (const std::string& l : lines) Line(l);
  }

  std::string BurstText(const Burst& b) {
    if (const auto* c = std::get_if<CallStorm>(&b.what)) {
      KeyValues kv{{"for", Dur(c->length)}, {"rate", Rate(c->rate_per_s, "workload.bursts.rate", e_)}};
      if (!c->nodes.empty()) kv.emplace_back("nodes", Nodes(c->nodes));
      return Flow({{"at", Dur(b.at)}, {"call_storm", Flow(kv)}});
    }
    const auto& r = std::get<RegistrationStorm>(b.what);
    KeyValues kv{{"node", std::to_string(r.node)}, {"rate", Rate(r.rate_per_s, "workload.bursts.rate", e_)}};
    if (r.count != 0) kv.emplace_back("count", std::to_string(r.count));
    return Flow({{"at", Dur(b.at)}, {"registration_storm", Flow(kv)}});
  }

  std::string ChangeText(const TimedChange& c) const {
    KeyValues kv{{"at", Dur(c.at)}, {"node", std::to_string(c.node)}};
    if (const auto* d = std::get_if<DeviceChange>(&c.what)) {
      kv.emplace_back("device", Str(d->device));
      kv.emplace_back("state", std::string(kDeviceStateNames[static_cast<int>(d->state)]));
    } else if (const auto* m = std::get_if<MailboxChange>(&c.what)) {
      kv.emplace_back("mailbox", Str(m->mailbox));
      if (m->counts.new_messages != 0) kv.emplace_back("new", std::to_string(m->counts.new_messages));
      if (m->counts.old_messages != 0) kv.emplace_back("old", std::to_string(m->counts.old_messages));
      if (m->counts.urgent_messages != 0) kv.emplace_back("urgent", std::to_string(m->counts.urgent_messages));
    } else if (const auto* r = std::get_if<RegistrationSet>(&c.what)) {
      kv.emplace_back("aor", Str(r->aor));
      kv.emplace_back("contact", Str(r->contact));
      if (r->expires != s_.workload.registration_expiry) kv.emplace_back("expires", Dur(r->expires));
      if (r->status != ContactStatus::kReachable) kv.emplace_back("status", "unreachable");
    } else {
      const auto& rm = std::get<RegistrationRemove>(c.what);
      kv.emplace_back("aor", Str(rm.aor));
      if (!rm.contact.empty()) kv.emplace_back("contact", Str(rm.contact));
      kv.emplace_back("remove", "true");
    }
    return Flow(kv);
  }

  std::string ChurnText(const Churn& c) {
    const Churn d;
    KeyValues kv;
    if (c.register_over != d.register_over) kv.emplace_back("register_over", Dur(c.register_over));
    if (c.refresh_per_s != 0) kv.emplace_back("refresh", Rate(c.refresh_per_s, "workload.churn.refresh", e_));
    if (c.move_per_s != 0) kv.emplace_back("move", Rate(c.move_per_s, "workload.churn.move", e_));
    if (c.lapse_per_s != 0) kv.emplace_back("lapse", Rate(c.lapse_per_s, "workload.churn.lapse", e_));
    if (c.lapse_expiry != d.lapse_expiry) kv.emplace_back("lapse_expiry", Dur(c.lapse_expiry));
    return Flow(kv);
  }

  std::string NameChurnText(const NameChurn& c) {
    const NameChurn d;
    KeyValues kv{{"rate", Rate(c.rate_per_s, "workload.name_churn.rate", e_)}};
    if (c.devices != 0) kv.emplace_back("devices", std::to_string(c.devices));
    if (c.remove != d.remove) kv.emplace_back("remove", Share(c.remove, "workload.name_churn.remove", e_));
    if (c.registrations != 0) {
      kv.emplace_back("registrations", Share(c.registrations, "workload.name_churn.registrations", e_));
    }
    if (c.registration_expiry != d.registration_expiry) {
      kv.emplace_back("registration_expiry", Dur(c.registration_expiry));
    }
    if (c.mailboxes != 0) kv.emplace_back("mailboxes", std::to_string(c.mailboxes));
    if (c.mailbox_steps != 0) {
      kv.emplace_back("mailbox_steps", Share(c.mailbox_steps, "workload.name_churn.mailbox_steps", e_));
    }
    return Flow(kv);
  }

  void CallsSection() {
    if (!s_.calls) return;
    const Calls& c = *s_.calls;
    const Calls d;
    Line("calls:");
    if (c.rate_per_s != 0) Line("  rate: " + Rate(c.rate_per_s, "calls.rate", e_));
    if (c.start != Duration{}) Line("  start: " + Dur(c.start));
    if (c.stop != s_.duration) Line("  stop: " + Dur(c.stop));
    if (c.nodes != AllNodes(s_)) Line("  nodes: " + Nodes(c.nodes));
    if (!c.bursts.empty()) {
      Line("  bursts:");
      for (const CallBurst& b : c.bursts) {
        Line("    - " + Flow({{"at", Dur(b.at)}, {"length", Dur(b.length)}, {"rate", Rate(b.rate_per_s, "calls.bursts.rate", e_)}}));
      }
    }
    if (c.strategies != d.strategies) {
      std::string list = "[";
      for (std::size_t i = 0; i < c.strategies.size(); ++i) {
        list += (i ? ", " : "") + std::string(RoutingStrategyName(c.strategies[i]));
      }
      Line("  strategies: " + list + "]");
    }
    if (c.hop_limit != s_.topology.node_count() - 1) Line("  hop_limit: " + std::to_string(c.hop_limit));
    // A calls section with everything at its default still has to be there.
    if (c.rate_per_s == 0 && c.start == Duration{} && c.stop == s_.duration && c.nodes == AllNodes(s_) &&
        c.bursts.empty() && c.strategies == d.strategies && c.hop_limit == s_.topology.node_count() - 1) {
      Line("  rate: 0/s");
    }
  }

  std::string Target(const NetworkTarget& t) const {
    if (!s_.topology.named_sites) return "";
    if (t.kind == NetworkTarget::Kind::kLan) return "site: " + SiteName(t.site);
    return "link: [" + SiteName(t.a) + ", " + SiteName(t.b) + "]";
  }

  std::string FaultText(const Fault& f) {
    const std::string at = "at: " + Dur(f.at);
    if (const auto* p = std::get_if<Partition>(&f.what)) {
      // The last side is left out when it is the rest, as the loader completes it: every node
      // not in the other groups, ascending.
      std::size_t written = p->sides.size();
      std::vector<bool> listed(s_.topology.node_count() + 1, false);
      for (std::size_t i = 0; i + 1 < p->sides.size(); ++i) {
        for (NodeId n : p->sides[i]) listed[n] = true;
      }
      std::vector<NodeId> rest;
      for (NodeId n = 1; n <= s_.topology.node_count(); ++n) {
        if (!listed[n]) rest.push_back(n);
      }
      if (!p->sides.empty() && p->sides.back() == rest) --written;
      std::string groups = "[";
      for (std::size_t i = 0; i < written; ++i) groups += (i ? ", " : "") + Nodes(p->sides[i]);
      return "{" + at + ", partition: " + groups + "]" + (p->one_way ? ", one_way: true" : "") + "}";
    }
    if (std::holds_alternative<Heal>(f.what)) return "{" + at + ", heal: {}}";
    if (const auto* i = std::get_if<Isolate>(&f.what)) return "{" + at + ", isolate: " + std::to_string(i->node) + "}";
    if (const auto* c = std::get_if<Crash>(&f.what)) return "{" + at + ", crash: " + std::to_string(c->node) + "}";
    if (const auto* r = std::get_if<Restart>(&f.what)) return "{" + at + ", restart: " + std::to_string(r->node) + "}";
    if (const auto* d = std::get_if<Degrade>(&f.what)) {
      std::vector<std::string> parts;
      if (const std::string t = Target(d->target); !t.empty()) parts.push_back(t);
      if (d->delay) parts.push_back("delay: " + Dur(*d->delay));
      if (d->jitter) parts.push_back("jitter: " + Dur(*d->jitter));
      if (d->loss) parts.push_back("loss: " + Share(*d->loss, "faults.degrade.loss", e_));
      if (d->bandwidth_bps) parts.push_back("bandwidth: " + FormatBandwidth(*d->bandwidth_bps));
      if (d->duplicate) parts.push_back("duplicate: " + Share(*d->duplicate, "faults.degrade.duplicate", e_));
      if (d->reorder) parts.push_back("reorder: " + Share(*d->reorder, "faults.degrade.reorder", e_));
      if (d->reorder_delay) parts.push_back("reorder_delay: " + Dur(*d->reorder_delay));
      std::string body;
      for (std::size_t i = 0; i < parts.size(); ++i) body += (i ? ", " : "") + parts[i];
      return "{" + at + ", degrade: {" + body + "}}";
    }
    const auto& r = std::get<Restore>(f.what);
    return "{" + at + ", restore: {" + Target(r.target) + "}}";
  }

  void Faults() {
    if (s_.faults.empty()) return;
    Line("faults:");
    for (const Fault& f : s_.faults) Line("  - " + FaultText(f));
  }

  const Scenario& s_;
  Errors& e_;
  std::ostringstream out_;
};

// `s` without what says where it was written.
Scenario WithoutPositions(Scenario s) {
  s.file.clear();
  for (Site& site : s.topology.sites) {
    site.pos = {};
    site.lan.frames.pos = {};
  }
  for (SiteLink& link : s.topology.links) link.params.frames.pos = {};
  s.membership.pos = {};
  s.workload.mailbox_fill_pos = {};
  for (Burst& b : s.workload.bursts) b.pos = {};
  for (TimedChange& c : s.workload.changes) c.pos = {};
  if (s.workload.churn) s.workload.churn->pos = {};
  if (s.workload.name_churn) s.workload.name_churn->pos = {};
  if (s.calls) {
    s.calls->pos = {};
    for (CallBurst& b : s.calls->bursts) b.pos = {};
  }
  for (Fault& f : s.faults) f.pos = {};
  for (Check& c : s.checks) c.line = c.column = 0;
  if (s.memory) s.memory->pos = {};
  return s;
}

bool SameEngine(const EngineConfig& a, const EngineConfig& b) {
  return a.node_id == b.node_id && a.incarnation == b.incarnation && a.label == b.label &&
         a.membership == b.membership && a.batch_window == b.batch_window &&
         a.max_batch_changes == b.max_batch_changes && a.max_frame_bytes == b.max_frame_bytes &&
         a.send_retry_interval == b.send_retry_interval && a.max_send_queue_frames == b.max_send_queue_frames &&
         a.anti_entropy_interval == b.anti_entropy_interval && a.join_digest_holdoff == b.join_digest_holdoff &&
         a.join_digest_fanout == b.join_digest_fanout && a.sync_window_pages == b.sync_window_pages &&
         a.max_sync_pulls == b.max_sync_pulls && a.max_sync_serves == b.max_sync_serves &&
         a.sync_retransmit == b.sync_retransmit && a.sync_timeout == b.sync_timeout &&
         a.departure_grace == b.departure_grace && a.heartbeat_interval == b.heartbeat_interval &&
         a.suspect_after == b.suspect_after && a.max_key_bytes == b.max_key_bytes &&
         a.max_contact_bytes == b.max_contact_bytes && a.max_nodes == b.max_nodes &&
         a.max_entries == b.max_entries && a.max_registration_ttl == b.max_registration_ttl &&
         a.max_received_ranges == b.max_received_ranges && a.max_clock_skew == b.max_clock_skew &&
         a.cluster_keys == b.cluster_keys;
}

}  // namespace

Status WriteScenario(const Scenario& s, std::string* out) {
  Errors e;
  Writer w(s, e);
  std::string text = w.Write();
  if (e.first) return *e.first;
  *out = std::move(text);
  return Status::Ok();
}

bool SameScenario(const Scenario& a_in, const Scenario& b_in) {
  const Scenario a = WithoutPositions(a_in), b = WithoutPositions(b_in);
  return a.name == b.name && a.description == b.description && a.seed == b.seed && a.duration == b.duration &&
         a.quiet == b.quiet && a.topology == b.topology && a.auth == b.auth && a.membership == b.membership &&
         a.transport == b.transport &&
         SameEngine(a.engine, b.engine) && a.workload == b.workload && a.calls == b.calls && a.faults == b.faults &&
         a.checks == b.checks && a.memory == b.memory;
}

}  // namespace pbxstate::scenario
