#include "engine_settings.h"

#include <algorithm>
#include <string>
#include <vector>

#include "convert.h"

namespace pbxstate::python {
namespace {

struct DurationSetting {
  const char* name;
  Duration EngineConfig::*field;
};
struct SizeSetting {
  const char* name;
  std::size_t EngineConfig::*field;
};
constexpr DurationSetting kDurationSettings[] = {
    {"batch_window", &EngineConfig::batch_window},
    {"send_retry_interval", &EngineConfig::send_retry_interval},
    {"anti_entropy_interval", &EngineConfig::anti_entropy_interval},
    {"join_digest_holdoff", &EngineConfig::join_digest_holdoff},
    {"sync_retransmit", &EngineConfig::sync_retransmit},
    {"sync_timeout", &EngineConfig::sync_timeout},
    {"departure_grace", &EngineConfig::departure_grace},
    {"heartbeat_interval", &EngineConfig::heartbeat_interval},
    {"suspect_after", &EngineConfig::suspect_after},
    {"max_registration_ttl", &EngineConfig::max_registration_ttl},
    {"max_clock_skew", &EngineConfig::max_clock_skew},
};
constexpr SizeSetting kSizeSettings[] = {
    {"max_batch_changes", &EngineConfig::max_batch_changes},
    {"max_frame_bytes", &EngineConfig::max_frame_bytes},
    {"max_send_queue_frames", &EngineConfig::max_send_queue_frames},
    {"join_digest_fanout", &EngineConfig::join_digest_fanout},
    {"sync_window_pages", &EngineConfig::sync_window_pages},
    {"max_sync_pulls", &EngineConfig::max_sync_pulls},
    {"max_sync_serves", &EngineConfig::max_sync_serves},
    {"max_key_bytes", &EngineConfig::max_key_bytes},
    {"max_contact_bytes", &EngineConfig::max_contact_bytes},
    {"max_nodes", &EngineConfig::max_nodes},
    {"max_entries", &EngineConfig::max_entries},
    {"max_received_ranges", &EngineConfig::max_received_ranges},
};

std::string SettingNames() {
  std::vector<std::string> names;
  for (const auto& s : kDurationSettings) names.emplace_back(s.name);
  for (const auto& s : kSizeSettings) names.emplace_back(s.name);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

EngineConfig EngineArg(const py::handle& v) {
  EngineConfig config;
  if (v.is_none()) return config;
  if (!py::isinstance<py::dict>(v)) throw py::type_error("engine: expected a dict of engine settings or None");
  for (auto [key, value] : py::reinterpret_borrow<py::dict>(v)) {
    const std::string name = py::str(key).cast<std::string>();
    bool known = false;
    for (const auto& s : kDurationSettings) {
      if (name == s.name) {
        config.*s.field = FromSeconds(value.cast<double>(), "engine." + name);
        known = true;
      }
    }
    for (const auto& s : kSizeSettings) {
      if (name == s.name) {
        const long long n = value.cast<long long>();
        if (n < 0) throw py::value_error("engine." + name + ": expected a count >= 0, got " + std::to_string(n));
        config.*s.field = static_cast<std::size_t>(n);
        known = true;
      }
    }
    if (!known) throw py::value_error("engine: unknown setting '" + name + "'; expected one of " + SettingNames());
  }
  return config;
}

}  // namespace pbxstate::python
