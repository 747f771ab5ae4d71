// engine: the EngineConfig every node of the scenario runs with, and the checks of those
// settings against each other and against what the rest of the file asks of the engine.
#include "loader_impl.h"
#include "pbxstate/config.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario::detail {

void Loader::ReadEngine(const Field& f) {
  engine_field_ = f;
  MapReader m(f, d_, "a mapping of engine settings");
  if (!m.ok()) return;
  m.AllowOnly({"batch_window", "max_batch_changes", "max_frame_bytes", "send_retry_interval",
               "max_send_queue_frames", "anti_entropy_interval", "sync_window_pages",
               "max_sync_pulls", "max_sync_serves", "sync_retransmit", "sync_timeout",
               "departure_grace", "heartbeat_interval", "suspect_after", "max_key_bytes",
               "max_contact_bytes", "max_nodes", "max_entries", "max_registration_ttl",
               "max_received_ranges"});
  EngineConfig& e = s_.engine;
  for (const auto& entry : m.entries()) {
    engine_fields_.emplace(entry.key, entry.value);
    s_.engine_pos.emplace(entry.key, PosOf(entry.value));
  }
  auto dur = [&](const char* key, Duration& out, Duration lo, Duration hi) {
    m.ReadIfPresent(key, out, DurationIn(d_, lo, hi));
  };
  auto size = [&](const char* key, std::size_t& out, std::uint64_t lo, std::uint64_t hi) {
    m.ReadIfPresent(key, out, UintIn(d_, lo, hi));
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
             "expected at least the cluster's " + std::to_string(node_count_) + " nodes, got " +
                 std::to_string(e.max_nodes));
  }
  CheckKeyLengths();
  if (d_.count() == 0) CheckEngineValidates();
}

Field Loader::EngineField(std::string_view key) const {
  if (auto it = engine_fields_.find(key); it != engine_fields_.end()) return it->second;
  const std::string path = "engine." + std::string(key);
  if (engine_field_) return Field{YAML::Node(), path, engine_field_->mark};
  return Field{YAML::Node(), path, YAML::Mark()};
}

void Loader::CheckEngineValidates() {
  EngineConfig probe = s_.engine;
  probe.incarnation = 1;
  if (s_.auth) probe.cluster_keys = {ScenarioClusterKey(s_.seed)};
  // Every node's config differs only in its id; each is checked as the runners do at start.
  for (NodeId node = 1; node <= node_count_; ++node) {
    probe.node_id = node;
    const Status st = probe.Validate();
    if (st.ok()) continue;
    // "EngineConfig.<setting>: <why>"
    const std::string& message = st.message();
    const std::string prefix = "EngineConfig.";
    const std::size_t colon = message.find(": ");
    const std::string setting = message.rfind(prefix, 0) == 0 && colon != std::string::npos
                                    ? message.substr(prefix.size(), colon - prefix.size())
                                    : "";
    if (setting == "max_frame_bytes" && message.find("too small") != std::string::npos) {
      ReportFrameTooSmall(probe);
      return;
    }
    const Field f = EngineField(setting.empty() ? "settings" : setting);
    const std::string why = colon == std::string::npos ? message : message.substr(colon + 2);
    d_.Error(f.mark, f.path,
             "expected a value the engine accepts (EngineConfig::Validate: " + why + ")" +
                 (f.node.IsDefined() ? ", got " + f.node.Scalar() : ""));
    return;
  }
}

void Loader::ReportFrameTooSmall(const EngineConfig& probe) {
  // The smallest frame the engine accepts with these key bounds: Validate is monotonic in
  // max_frame_bytes, and only its frame-size rule is failing.
  auto fits = [&](std::size_t bytes) {
    EngineConfig c = probe;
    c.max_frame_bytes = bytes;
    const Status st = c.Validate();
    return st.ok() || st.message().rfind("EngineConfig.max_frame_bytes", 0) != 0;
  };
  constexpr std::size_t kLargest = std::size_t{1} << 20;  // the engine's largest frame
  std::size_t lo = probe.max_frame_bytes, hi = kLargest;   // lo does not fit
  const bool any = fits(hi);
  while (any && hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? hi : lo) = mid;
  }
  // Point at the setting the file chose: the frame, or else the key bound that grew it.
  std::string_view key = "max_frame_bytes";
  for (std::string_view k : {"max_frame_bytes", "max_key_bytes", "max_contact_bytes"}) {
    if (engine_fields_.count(k) != 0) {
      key = k;
      break;
    }
  }
  Field f = EngineField(key);
  if (engine_fields_.count(key) == 0 && s_.auth && auth_field_) f = *auth_field_;
  const std::string got = std::to_string(probe.max_frame_bytes);
  d_.Error(f.mark, f.path,
           "expected max_frame_bytes of " +
               (any ? "at least " + std::to_string(hi) : "more than the engine's " +
                                                            std::to_string(kLargest)) +
               " so that one record of max_key_bytes (" + std::to_string(probe.max_key_bytes) +
               ") and max_contact_bytes (" + std::to_string(probe.max_contact_bytes) +
               ") fits in " + (s_.auth ? "an authenticated frame (cluster.auth)" : "a frame") +
               ", got " + (f.path == "engine.max_frame_bytes" ? got : "max_frame_bytes " + got));
}

void Loader::CheckKeyLengths() {
  const EngineConfig& e = s_.engine;
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
}

}  // namespace pbxstate::scenario::detail
