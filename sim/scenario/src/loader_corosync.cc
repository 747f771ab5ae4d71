// corosync: the totem settings of the Corosync cluster the nodes run on, and what a crash kills
// (scenarios/README.md, "corosync"; the settings' meaning and defaults: totem::TotemConfig).
#include "loader_impl.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario::detail {

std::optional<Duration> Loader::ReadMilliseconds(const Field& f, Duration lo, Duration hi) {
  auto v = ReadDuration(f, d_, lo, hi);
  if (!v) return std::nullopt;
  if (*v % 1ms != Duration::zero()) {
    d_.Error(f.mark, f.path,
             "expected a whole number of milliseconds (corosync.conf's unit), got " + FormatDuration(*v));
    return std::nullopt;
  }
  return v;
}

void Loader::ReadCorosync(const Field& f) {
  corosync_field_ = f;
  MapReader m(f, d_, "a mapping of corosync settings (token, consensus, ...); {} for Corosync's defaults");
  if (!m.ok()) return;
  // The numeric keys are totem::TotemSettings()' rows; `transport`, `crash` and `ns3` are not numbers.
  std::vector<std::string_view> keys = {"transport"};
  for (const totem::TotemSetting& row : totem::TotemSettings()) keys.push_back(row.key);
  keys.push_back("crash");
  keys.push_back("ns3");
  m.AllowOnly(keys);
  for (const auto& entry : m.entries()) corosync_fields_.emplace(entry.key, entry.value);
  CorosyncSettings c;
  c.line = PosOf(f).line;
  c.column = PosOf(f).column;
  totem::TotemConfig& t = c.totem;
  for (const totem::TotemSetting& row : totem::TotemSettings()) {
    auto field = m.Get(row.key);
    if (!field) continue;
    std::optional<std::uint64_t> value;
    if (row.is_duration()) {
      if (auto v = ReadMilliseconds(*field, std::chrono::milliseconds(row.min), std::chrono::milliseconds(row.max))) {
        value = static_cast<std::uint64_t>(*v / 1ms);
      }
    } else {
      value = ReadUint(*field, d_, row.min, row.max);
    }
    if (value) row.Set(&t, *value);
  }
  if (auto field = m.Get("transport")) {
    if (auto v = ReadEnum(*field, d_, {"knet", "udp"})) t.transport = *v == 0 ? totem::Transport::kKnet : totem::Transport::kUdp;
  }
  if (auto field = m.Get("crash")) {
    if (auto v = ReadEnum(*field, d_, {"process", "node"})) c.crash = *v == 0 ? CrashKills::kProcess : CrashKills::kNode;
  }
  if (auto field = m.Get("ns3")) {
    if (auto v = ReadEnum(*field, d_, {"model", "heartbeats"})) c.ns3_model = *v == 0;
  }
  s_.corosync = c;
}

void Loader::CheckCorosync() {
  if (!s_.corosync || !cluster_ok_) return;
  const Status st = s_.corosync->totem.Validate(node_count_);
  if (st.ok()) return;
  // The message starts with the key it is about ("consensus: ..."); point there when written.
  const std::string& msg = st.message();
  const std::string key = msg.substr(0, msg.find(':'));
  const std::string what = msg.find(": ") == std::string::npos ? msg : msg.substr(msg.find(": ") + 2);
  if (auto it = corosync_fields_.find(key); it != corosync_fields_.end()) {
    d_.Error(it->second.mark, it->second.path, what + " (Corosync refuses it for " + std::to_string(node_count_) +
                                                   " nodes)");
  } else {
    d_.Error(corosync_field_->mark, "corosync." + key,
             what + " (Corosync refuses it for " + std::to_string(node_count_) + " nodes)");
  }
}

void Loader::CheckNs3Membership() {
  const std::optional<MembershipSource> source = s_.membership.source;
  if (!s_.corosync || !source || !membership_field_) return;
  const std::string section_line = std::to_string(corosync_field_->mark.line + 1);
  const std::string membership_line = std::to_string(membership_field_->mark.line + 1);
  // Written transport: the ns-3 engines can have views only from the model, which heartbeats turns off.
  if (*source == MembershipSource::kTransport && !s_.corosync->ns3_model) {
    const Field& ns3 = corosync_fields_.at("ns3");
    d_.Error(ns3.mark, ns3.path,
             "heartbeats runs the ns-3 engines on their own heartbeat detector, but cluster.membership: transport "
             "(line " + membership_line + ") gives them views, which ns-3 has only from its Corosync model; "
             "expected model (the model with this section's settings), or membership: heartbeat");
  }
  // Written heartbeat: the model (ns3: model, the default) gives the ns-3 engines its views instead.
  if (*source == MembershipSource::kHeartbeat && s_.corosync->ns3_model) {
    d_.Error(membership_field_->mark, membership_field_->path,
             "heartbeat, but the corosync: section (line " + section_line + ") runs the ns-3 engines on its "
             "Corosync model's views (ns3: model, the default); expected transport, or ns3: heartbeats in the "
             "section");
  }
}

}  // namespace pbxstate::scenario::detail
