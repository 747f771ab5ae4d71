// Private to the control library: reading and writing the JSON pieces that requests, replies and
// events share (states, versions, mailboxes, registrations, contributions), and the enum-name
// lookups. Every reader returns an InvalidArgument Status naming where and which field.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pbxstate/engine.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::control::internal {

using nlohmann::json;

// "pbxstated <where>: field '<field>': <what>"
Status FieldError(std::string_view where, std::string_view field, std::string_view what);

// Reads j[field] as T (present, of the right type and range). Optional: absent keeps *out.
template <typename T>
Status Read(const json& j, std::string_view where, const char* field, T* out);
template <typename T>
Status ReadOptional(const json& j, std::string_view where, const char* field, T* out);
// A value that may be null: nullopt for null.
Status ReadTimeOrNull(const json& j, std::string_view where, const char* field, std::optional<std::int64_t>* out);
Status ReadStringOrNull(const json& j, std::string_view where, const char* field, std::string* out);
// j[field] must be an object / an array.
Status ObjectField(const json& j, std::string_view where, const char* field, const json** out);
Status ArrayField(const json& j, std::string_view where, const char* field, const json** out);

// The value of the enum whose name (by the engine's own name function) is `name`. Every value of
// the underlying byte is tried, so an enumerator the engine adds is decoded here without a count
// kept in this library; the engine's "?" (no such value) never matches.
template <typename E>
std::optional<E> EnumByName(std::string_view name, std::string_view (*name_of)(E)) {
  if (name.empty() || name == "?") return std::nullopt;
  for (unsigned v = 0; v <= 0xff; ++v) {
    const E e = static_cast<E>(v);
    if (name_of(e) == name) return e;
  }
  return std::nullopt;
}
template <typename E>
Status ReadEnum(const json& j, std::string_view where, const char* field, std::string_view (*name_of)(E), E* out) {
  std::string s;
  if (Status st = Read(j, where, field, &s); !st.ok()) return st;
  auto e = EnumByName(s, name_of);
  if (!e) return FieldError(where, field, "unknown value '" + s + "'");
  *out = *e;
  return Status::Ok();
}

// Device states: a name (DeviceStateName) or null.
json StateOrNull(const std::optional<DeviceState>& state);
Status ReadStateOrNull(const json& j, std::string_view where, const char* field, std::optional<DeviceState>* out);

// Versions are [incarnation, sequence]; HLC timestamps [physical_ns, logical].
json VersionJson(const Version& version);
Status ReadVersion(const json& j, std::string_view where, const char* field, Version* out);

// {new, old, urgent, hlc, writer}
json MailboxJson(const MailboxValue& value);
Status ReadMailbox(const json& m, std::string_view where, MailboxValue* out);

// {contact, expires_unix_ns, reachable, rtt_us, path, user_agent}: expires is the engine's WallTime (Unix ns).
json RegistrationJson(const RegistrationInfo& info);
Status ReadRegistration(const json& r, std::string_view where, RegistrationInfo* out);

// [{node, state, version}]
json ContributionsJson(std::span<const DeviceContribution> contributions);
Status ReadContributions(const json& j, std::string_view where, const char* field,
                         std::vector<DeviceContribution>* out);

// Node ids: [1, 2, 3]
Status ReadNodes(const json& j, std::string_view where, const char* field, std::vector<NodeId>* out);

}  // namespace pbxstate::control::internal
