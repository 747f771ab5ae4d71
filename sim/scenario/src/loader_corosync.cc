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
  // The numeric keys are totem::TotemSettings()' rows; `transport` and `crash` are not numbers.
  std::vector<std::string_view> keys = {"transport"};
  for (const totem::TotemSetting& row : totem::TotemSettings()) keys.push_back(row.key);
  keys.push_back("crash");
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

}  // namespace pbxstate::scenario::detail
