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
  MapReader m(f, d_, "a mapping of engine settings");
  if (!m.ok()) return;
  std::vector<std::string_view> names;
  for (const EngineSetting& setting : EngineSettings()) names.push_back(setting.name);
  m.AllowOnly(names);
  EngineConfig& e = s_.engine;
  for (const auto& entry : m.entries()) engine_fields_.emplace(entry.key, entry.value);
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
  CheckEngineAsTheEngineWill();
  CheckKeyLengths();
}

// The engine's own rules between settings (EngineConfig::Validate: a frame holds one record of
// max_key_bytes and max_contact_bytes, with the MAC when cluster.auth is on), now rather than when
// the run starts; only when the checks above found nothing, so a file gets one message per cause.
void Loader::CheckEngineAsTheEngineWill() {
  if (d_.count() != 0) return;
  EngineConfig probe = s_.engine;
  probe.node_id = 1;       // what the world fills in per node
  probe.incarnation = 1;
  if (s_.auth) probe.cluster_keys = {ScenarioClusterKey(s_.seed)};
  const Status st = probe.Validate();
  if (st.ok()) return;
  // "EngineConfig.<name>: why" -> the field <name> when the file sets it, else the section.
  const std::string& m = st.message();
  const std::size_t dot = m.find('.'), colon = m.find(": ");
  const std::string name = dot != std::string::npos && colon != std::string::npos ? m.substr(dot + 1, colon - dot - 1) : "";
  const std::string why = colon != std::string::npos ? m.substr(colon + 2) : m;
  if (auto it = engine_fields_.find(name); it != engine_fields_.end()) {
    d_.Error(it->second.mark, it->second.path, "the engine refuses this setting: " + why);
  } else {
    d_.Error(YAML::Mark(), "engine" + (name.empty() ? std::string() : "." + name),
             "the engine refuses this setting: " + why);
  }
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
