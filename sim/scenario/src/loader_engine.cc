// engine: the EngineConfig every node of the scenario runs with, and the checks of those
// settings against each other and against what the rest of the file asks of the engine.
#include "loader_impl.h"
#include "pbxstate/config.h"
#include "pbxstate/scenario/scenario.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario::detail {

// Every row of the table of engine settings (engine_settings.h) is a key, named as EngineConfig's
// member; durations take a unit ("250ms", "2s"), counts and sizes are integers; the ranges are the
// table's.
void Loader::ReadEngine(const Field& f) {
  engine_field_ = f;
  MapReader m(f, d_, "a mapping of engine settings");
  if (!m.ok()) return;
  std::vector<std::string_view> names;
  for (const EngineSetting& setting : EngineSettings()) names.push_back(setting.name);
  m.AllowOnly(names);
  EngineConfig& e = s_.engine;
  for (const auto& entry : m.entries()) {
    engine_fields_.emplace(entry.key, entry.value);
    s_.engine_pos.emplace(entry.key, PosOf(entry.value));
  }
  for (const EngineSetting& setting : EngineSettings()) {
    if (setting.is_duration()) {
      m.ReadIfPresent(setting.name, e.*setting.duration,
                      DurationIn(d_, setting.min_duration(), setting.max_duration()));
    } else {
      m.ReadIfPresent(setting.name, e.*setting.size, UintIn(d_, setting.min, setting.max));
    }
  }
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
  // The engine learns the sites from the network's (EngineConfigOf): checked as the runners run it.
  EngineConfig probe = EngineConfigOf(s_);
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
