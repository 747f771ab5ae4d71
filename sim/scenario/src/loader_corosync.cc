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
  m.AllowOnly({"transport", "token", "token_coefficient", "consensus", "join", "merge", "send_join", "max_messages",
               "window_size", "token_retransmits_before_loss_const", "miss_count_const", "knet_ping_interval",
               "knet_ping_timeout", "knet_pong_count", "crash", "ns3"});
  for (const auto& entry : m.entries()) corosync_fields_.emplace(entry.key, entry.value);
  CorosyncSettings c;
  c.line = PosOf(f).line;
  c.column = PosOf(f).column;
  totem::TotemConfig& t = c.totem;
  auto ms = [&](const char* key, Duration lo) {
    auto field = m.Get(key);
    return field ? ReadMilliseconds(*field, lo, totem::kMaximumTimeout) : std::nullopt;
  };
  if (auto v = ms("token", totem::kMinimumTimeout)) t.token = *v;
  if (auto v = ms("token_coefficient", 0ms)) t.token_coefficient = *v;
  if (auto v = ms("consensus", totem::kMinimumTimeout)) t.consensus = *v;
  if (auto v = ms("join", totem::kMinimumTimeout)) t.join = *v;
  if (auto v = ms("merge", totem::kMinimumTimeout)) t.merge = *v;
  if (auto v = ms("send_join", 0ms)) t.send_join = *v;
  m.ReadIfPresent("max_messages", t.max_messages, UintIn(d_, 1, totem::kMaxWindow));
  m.ReadIfPresent("window_size", t.window_size, UintIn(d_, 1, totem::kMaxWindow));
  m.ReadIfPresent("token_retransmits_before_loss_const", t.token_retransmits_before_loss_const,
                  UintIn(d_, 1, totem::kMaxTotemConstant));
  m.ReadIfPresent("miss_count_const", t.miss_count_const, UintIn(d_, 1, totem::kMaxTotemConstant));
  m.ReadIfPresent("knet_pong_count", t.knet_pong_count, UintIn(d_, 1, totem::kMaxTotemConstant));
  auto knet_ms = [&](const char* key) {
    auto field = m.Get(key);
    return field ? ReadMilliseconds(*field, 1ms, totem::kMaximumTimeout) : std::nullopt;
  };
  if (auto v = knet_ms("knet_ping_interval")) t.knet_ping_interval = *v;
  if (auto v = knet_ms("knet_ping_timeout")) t.knet_ping_timeout = *v;
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

}  // namespace pbxstate::scenario::detail
