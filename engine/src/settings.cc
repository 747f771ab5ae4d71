// The C++ view of the table of engine settings (pbxstate/engine_settings.h).
#include <string>

#include "codec.h"
#include "pbxstate/config.h"
#include "pbxstate/check.h"

namespace pbxstate {

namespace {

// A row's member pointer, from the member's type: a Duration member must be a MS row and a size a
// COUNT or BYTES row, or the table does not compile.
struct Member {
  Duration EngineConfig::*duration = nullptr;
  std::size_t EngineConfig::*size = nullptr;
};
constexpr Member MemberOf(Duration EngineConfig::*m) { return {m, nullptr}; }
constexpr Member MemberOf(std::size_t EngineConfig::*m) { return {nullptr, m}; }

constexpr SettingUnit kUnitMS = SettingUnit::kMilliseconds;
constexpr SettingUnit kUnitCOUNT = SettingUnit::kCount;
constexpr SettingUnit kUnitBYTES = SettingUnit::kBytes;

#define PBXSTATE_KEY_MS(name) #name "_ms"
#define PBXSTATE_KEY_COUNT(name) #name
#define PBXSTATE_KEY_BYTES(name) #name
#define PBXSTATE_ROW(name, unit, lo, hi, doc)                                                          \
  EngineSetting{#name, PBXSTATE_KEY_##unit(name), kUnit##unit, lo, hi, doc,                           \
                MemberOf(&EngineConfig::name).duration, MemberOf(&EngineConfig::name).size},

constexpr EngineSetting kSettings[] = {PBXSTATE_ENGINE_SETTINGS(PBXSTATE_ROW)};

#undef PBXSTATE_ROW
#undef PBXSTATE_KEY_MS
#undef PBXSTATE_KEY_COUNT
#undef PBXSTATE_KEY_BYTES

constexpr bool UnitsMatchMembers() {
  for (const EngineSetting& s : kSettings) {
    if ((s.unit == SettingUnit::kMilliseconds) != (s.duration != nullptr)) return false;
    if ((s.duration == nullptr) == (s.size == nullptr)) return false;
    if (s.min > s.max) return false;
  }
  return true;
}
static_assert(UnitsMatchMembers(), "engine_settings.h: a MS row names a non-Duration member, or min > max");

constexpr const EngineSetting& Row(std::string_view name) {
  for (const EngineSetting& s : kSettings) {
    if (s.name == name) return s;
  }
  return kSettings[0];  // not reached for the names below (the static_asserts would fail)
}
// The codec's limits are the ranges' limits: a frame, key, contact or node count the table allows
// is one the decoder accepts.
static_assert(Row("max_frame_bytes").min == codec::kMinFrameBytes && Row("max_frame_bytes").max == codec::kMaxFrameBytes);
static_assert(Row("max_key_bytes").max == codec::kMaxKeyBytes);
static_assert(Row("max_contact_bytes").max == codec::kMaxContactBytes);
static_assert(Row("max_nodes").max == codec::kMaxNodes);
static_assert(Row("join_digest_fanout").max == codec::kMaxNodes);
// Durations in nanoseconds stay far from overflow: the longest range is 30 days.
static_assert(Row("max_registration_ttl").max <= 30ull * 24 * 3600 * 1000);

std::string WithUnit(const EngineSetting& s, std::uint64_t v) {
  return std::to_string(v) + (s.is_duration() ? "ms" : "");
}

}  // namespace

std::string_view SettingUnitName(SettingUnit unit) {
  switch (unit) {
    case SettingUnit::kMilliseconds: return "ms";
    case SettingUnit::kCount: return "count";
    case SettingUnit::kBytes: return "bytes";
  }
  return "?";
}

std::uint64_t EngineSetting::Get(const EngineConfig& config) const {
  if (duration != nullptr) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(config.*duration).count();
    return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
  }
  return config.*size;
}

void EngineSetting::Set(EngineConfig* config, std::uint64_t value) const {
  PBXSTATE_CHECK(Admits(value));
  if (duration != nullptr) {
    config->*duration = std::chrono::milliseconds(static_cast<std::int64_t>(value));
  } else {
    config->*size = static_cast<std::size_t>(value);
  }
}

bool EngineSetting::AdmitsValueIn(const EngineConfig& config) const {
  if (duration != nullptr) {
    const Duration d = config.*duration;
    return d >= min_duration() && d <= max_duration();
  }
  return Admits(config.*size);
}

bool EngineSetting::IsWholeMilliseconds(const EngineConfig& config) const {
  return duration == nullptr || (config.*duration) % std::chrono::milliseconds(1) == Duration::zero();
}

std::string EngineSetting::RangeText() const { return "[" + WithUnit(*this, min) + ", " + WithUnit(*this, max) + "]"; }

std::span<const EngineSetting> EngineSettings() { return kSettings; }

const EngineSetting* FindEngineSettingByName(std::string_view name) {
  for (const EngineSetting& s : kSettings) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const EngineSetting* FindEngineSettingByKey(std::string_view key) {
  for (const EngineSetting& s : kSettings) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

EngineConfig PermissiveEngineConfig() {
  EngineConfig c;
  c.node_id = 1;
  c.incarnation = 1;
  c.membership = MembershipSource::kHeartbeat;
  auto set = [&c](std::string_view name, bool to_max) {
    const EngineSetting& s = *FindEngineSettingByName(name);
    s.Set(&c, to_max ? s.max : s.min);
  };
  // Any max_key_bytes and max_contact_bytes fit the largest frame; any frame holds the shortest.
  set("max_frame_bytes", true);
  set("max_key_bytes", false);
  set("max_contact_bytes", false);
  // Any timeout is longer than the shortest retransmit; any retransmit shorter than the longest.
  set("sync_retransmit", false);
  set("sync_timeout", true);
  set("heartbeat_interval", false);
  set("suspect_after", true);
  return c;
}

}  // namespace pbxstate
