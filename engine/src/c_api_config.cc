// The C API's configuration (c_api.h: pbxstate_config, the settings view) over the table of
// engine settings (engine_settings.h, config.h's EngineSettings()).
#include "c_api_config.h"

#include <array>
#include <cstddef>
#include <cstring>
#include <map>
#include <new>
#include <string_view>

#include "c_api_handle.h"
#include "pbxstate/site_map.h"

namespace pbxstate::capi {
namespace {

// Where each row's field lives in pbxstate_config, in table order.
#define PBXSTATE_CFIELD_MS(name) name##_ms
#define PBXSTATE_CFIELD_COUNT(name) name
#define PBXSTATE_CFIELD_BYTES(name) name
#define PBXSTATE_OFFSET(name, unit, lo, hi, doc) offsetof(pbxstate_config, PBXSTATE_CFIELD_##unit(name)),
#define PBXSTATE_ONE(name, unit, lo, hi, doc) +1
constexpr std::size_t kFieldOffsets[] = {PBXSTATE_ENGINE_SETTINGS(PBXSTATE_OFFSET)};
constexpr std::size_t kSettingCount = 0 PBXSTATE_ENGINE_SETTINGS(PBXSTATE_ONE);
#undef PBXSTATE_ONE
#undef PBXSTATE_OFFSET
#undef PBXSTATE_CFIELD_BYTES
#undef PBXSTATE_CFIELD_COUNT
#undef PBXSTATE_CFIELD_MS
static_assert(std::size(kFieldOffsets) == kSettingCount);

std::uint64_t FieldAt(const pbxstate_config& c, std::size_t i) {
  std::uint64_t v = 0;
  std::memcpy(&v, reinterpret_cast<const char*>(&c) + kFieldOffsets[i], sizeof v);
  return v;
}

void SetFieldAt(pbxstate_config* c, std::size_t i, std::uint64_t v) {
  std::memcpy(reinterpret_cast<char*>(c) + kFieldOffsets[i], &v, sizeof v);
}

// The C view: static, built once from EngineSettings() (the library has no mutable globals; this
// one is written once, under the C++ static-initialisation guard, and read-only after).
const std::array<pbxstate_setting, kSettingCount>& View() {
  static const std::array<pbxstate_setting, kSettingCount> view = [] {
    std::array<pbxstate_setting, kSettingCount> v{};
    const EngineConfig defaults;
    const EngineConfig permissive = PermissiveEngineConfig();
    const auto rows = EngineSettings();
    for (std::size_t i = 0; i < kSettingCount; ++i) {
      const EngineSetting& s = rows[i];
      // The strings are literals (config.h): data() is NUL-terminated and static.
      v[i].name = s.name.data();
      v[i].key = s.key.data();
      v[i].unit = s.unit == SettingUnit::kMilliseconds ? PBXSTATE_UNIT_MS
                  : s.unit == SettingUnit::kCount      ? PBXSTATE_UNIT_COUNT
                                                       : PBXSTATE_UNIT_BYTES;
      v[i].unit_name = SettingUnitName(s.unit).data();
      v[i].min = s.min;
      v[i].max = s.max;
      v[i].default_value = s.Get(defaults);
      v[i].permissive = s.Get(permissive);
      v[i].doc = s.doc.data();
      v[i].offset = kFieldOffsets[i];
    }
    return v;
  }();
  return view;
}

int MembershipToC(MembershipSource m) {
  return m == MembershipSource::kTransport ? PBXSTATE_MEMBERSHIP_TRANSPORT : PBXSTATE_MEMBERSHIP_HEARTBEAT;
}

// The C struct holding `config`'s values (label NULL, no keys, no site map).
void ConfigToC(const EngineConfig& config, pbxstate_config* cfg) {
  *cfg = pbxstate_config{};
  cfg->node_id = config.node_id;
  cfg->incarnation = config.incarnation;
  cfg->label = nullptr;
  cfg->membership = MembershipToC(config.membership);
  cfg->node_sites = nullptr;
  const auto rows = EngineSettings();
  for (std::size_t i = 0; i < kSettingCount; ++i) SetFieldAt(cfg, i, rows[i].Get(config));
}

}  // namespace

int KeysFromC(const pbxstate_cluster_keys& keys, const char* key_name, const char* previous_name,
              std::vector<std::string>* out, std::string* error) {
  const uint8_t* key = keys.key;
  const std::size_t key_len = keys.key_len;
  const uint8_t* previous = keys.previous;
  const std::size_t previous_len = keys.previous_len;
  out->clear();
  if ((key == nullptr) != (key_len == 0)) {
    *error = std::string(key_name) + ": NULL with a non-zero length, or a length of 0";
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  if ((previous == nullptr) != (previous_len == 0)) {
    *error = std::string(previous_name) + ": NULL with a non-zero length, or a length of 0";
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  if (key == nullptr && previous != nullptr) {
    *error = std::string(previous_name) + ": set without " + key_name + " (the key frames are sent with)";
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  if (key != nullptr) out->emplace_back(reinterpret_cast<const char*>(key), key_len);
  if (previous != nullptr) out->emplace_back(reinterpret_cast<const char*>(previous), previous_len);
  return PBXSTATE_OK;
}

int ConfigFromC(const pbxstate_config& c, EngineConfig* out, std::string* error) {
  EngineConfig cfg;
  cfg.node_id = c.node_id;
  cfg.incarnation = c.incarnation;
  if (c.label != nullptr) cfg.label = c.label;
  switch (c.membership) {
    case PBXSTATE_MEMBERSHIP_TRANSPORT: cfg.membership = MembershipSource::kTransport; break;
    case PBXSTATE_MEMBERSHIP_HEARTBEAT: cfg.membership = MembershipSource::kHeartbeat; break;
    default: *error = "membership: not a pbxstate_membership_source"; return PBXSTATE_E_INVALID_ARGUMENT;
  }
  const auto rows = EngineSettings();
  for (std::size_t i = 0; i < kSettingCount; ++i) {
    const EngineSetting& s = rows[i];
    const std::uint64_t v = FieldAt(c, i);
    if (!s.Admits(v)) {
      *error = std::string(s.key) + ": must be within [" + std::to_string(s.min) + ", " + std::to_string(s.max) + "]" +
               (s.is_duration() ? " ms" : "") + " (got " + std::to_string(v) + ")";
      return PBXSTATE_E_INVALID_ARGUMENT;
    }
    s.Set(&cfg, v);
  }
  if (const int rc = KeysFromC(c.cluster_keys, "cluster_keys.key", "cluster_keys.previous", &cfg.cluster_keys, error);
      rc != PBXSTATE_OK) {
    return rc;
  }
  if (c.node_sites != nullptr) {
    const std::string_view text(c.node_sites, strnlen(c.node_sites, kMaxSiteMapTextBytes + 1));
    if (Status st = ParseSiteMap(text, &cfg.node_sites); !st.ok()) {
      *error = std::string(kSiteMapKey) + ": " + st.message();
      return PBXSTATE_E_INVALID_ARGUMENT;
    }
  }
  *out = std::move(cfg);
  return PBXSTATE_OK;
}

}  // namespace pbxstate::capi

using pbxstate::capi::kSettingCount;

void pbxstate_config_init(pbxstate_config* cfg) {
  if (cfg == nullptr) return;
  // The defaults come from EngineConfig itself, so the two can never disagree.
  pbxstate::capi::ConfigToC(pbxstate::EngineConfig{}, cfg);
}

void pbxstate_config_permissive(pbxstate_config* cfg) {
  if (cfg == nullptr) return;
  pbxstate::capi::ConfigToC(pbxstate::PermissiveEngineConfig(), cfg);
}

int pbxstate_config_validate(const pbxstate_config* cfg, char* errbuf, size_t errbuf_len) {
  auto report = [&](std::string_view why) { pbxstate::capi::CopyOut(why, errbuf, errbuf_len); };
  report("");
  if (cfg == nullptr) {
    report("cfg is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  try {
    pbxstate::EngineConfig config;
    std::string error;
    if (const int rc = pbxstate::capi::ConfigFromC(*cfg, &config, &error); rc != PBXSTATE_OK) {
      report(error);
      return rc;
    }
    // What start-up fills in: a node of the site map when there is one (with relays the map
    // must hold this node).
    if (config.node_id == pbxstate::kNoNode) config.node_id = config.node_sites.empty() ? 1 : config.node_sites.begin()->first;
    if (config.incarnation == 0) config.incarnation = 1;
    const pbxstate::Status status = config.Validate();
    report(status.message());
    return status.ok() ? PBXSTATE_OK : PBXSTATE_E_INVALID_ARGUMENT;
  } catch (const std::bad_alloc&) {
    report("out of memory");
    return PBXSTATE_E_NO_MEMORY;
  }
}

int pbxstate_site_map_check(const char* text, char* errbuf, size_t errbuf_len) {
  auto report = [&](std::string_view why) { pbxstate::capi::CopyOut(why, errbuf, errbuf_len); };
  report("");
  if (text == nullptr) return PBXSTATE_OK;
  try {
    std::map<pbxstate::NodeId, std::uint32_t> sites;
    const std::string_view t(text, strnlen(text, pbxstate::kMaxSiteMapTextBytes + 1));
    const pbxstate::Status st = pbxstate::ParseSiteMap(t, &sites);
    report(st.message());
    return st.ok() ? PBXSTATE_OK : PBXSTATE_E_INVALID_ARGUMENT;
  } catch (const std::bad_alloc&) {
    report("out of memory");
    return PBXSTATE_E_NO_MEMORY;
  }
}

size_t pbxstate_setting_count(void) { return kSettingCount; }

const pbxstate_setting* pbxstate_setting_at(size_t index) {
  if (index >= kSettingCount) return nullptr;
  return &pbxstate::capi::View()[index];
}

int pbxstate_setting_find(const char* key, size_t key_len) {
  if (key == nullptr) return -1;
  const std::string_view wanted(key, key_len);
  const auto rows = pbxstate::EngineSettings();
  for (std::size_t i = 0; i < kSettingCount; ++i) {
    if (rows[i].key == wanted) return static_cast<int>(i);
  }
  return -1;
}

uint64_t pbxstate_config_get(const pbxstate_config* cfg, size_t index) {
  if (cfg == nullptr || index >= kSettingCount) return 0;
  return pbxstate::capi::FieldAt(*cfg, index);
}

int pbxstate_config_set(pbxstate_config* cfg, size_t index, uint64_t value) {
  if (cfg == nullptr || index >= kSettingCount) return PBXSTATE_E_INVALID_ARGUMENT;
  if (!pbxstate::EngineSettings()[index].Admits(value)) return PBXSTATE_E_INVALID_ARGUMENT;
  pbxstate::capi::SetFieldAt(cfg, index, value);
  return PBXSTATE_OK;
}
