#include "json_fields.h"

#include <limits>
#include <type_traits>

namespace pbxstate::control::internal {

Status FieldError(std::string_view where, std::string_view field, std::string_view what) {
  return Status::InvalidArgument("pbxstated " + std::string(where) + ": field '" + std::string(field) + "': " +
                                 std::string(what));
}

namespace {

// The JSON value as T, or a sentence saying what it should have been.
template <typename T>
std::optional<std::string> Convert(const json& v, T* out) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return "must be a string";
    *out = v.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return "must be true or false";
    *out = v.get<bool>();
  } else if constexpr (std::is_unsigned_v<T>) {
    const bool fits = v.is_number_unsigned() ? v.get<std::uint64_t>() <= std::numeric_limits<T>::max()
                                             : v.is_number_integer() && v.get<std::int64_t>() >= 0 &&
                                                   static_cast<std::uint64_t>(v.get<std::int64_t>()) <=
                                                       std::numeric_limits<T>::max();
    if (!fits) return "must be an integer in [0, " + std::to_string(std::numeric_limits<T>::max()) + "]";
    *out = static_cast<T>(v.is_number_unsigned() ? v.get<std::uint64_t>()
                                                 : static_cast<std::uint64_t>(v.get<std::int64_t>()));
  } else {
    static_assert(std::is_same_v<T, std::int64_t>);
    const bool fits = v.is_number_integer() &&
                      (!v.is_number_unsigned() ||
                       v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
    if (!fits) return "must be a signed 64-bit integer";
    *out = v.get<std::int64_t>();
  }
  return std::nullopt;
}

}  // namespace

template <typename T>
Status Read(const json& j, std::string_view where, const char* field, T* out) {
  if (!j.is_object()) return FieldError(where, field, "not inside a JSON object");
  auto it = j.find(field);
  if (it == j.end()) return FieldError(where, field, "missing");
  if (auto why = Convert(*it, out)) return FieldError(where, field, *why);
  return Status::Ok();
}

template <typename T>
Status ReadOptional(const json& j, std::string_view where, const char* field, T* out) {
  if (!j.is_object() || !j.contains(field)) return Status::Ok();
  return Read(j, where, field, out);
}

template Status Read(const json&, std::string_view, const char*, std::string*);
template Status Read(const json&, std::string_view, const char*, bool*);
template Status Read(const json&, std::string_view, const char*, std::uint32_t*);
template Status Read(const json&, std::string_view, const char*, std::uint64_t*);
template Status Read(const json&, std::string_view, const char*, std::int64_t*);
template Status ReadOptional(const json&, std::string_view, const char*, std::string*);
template Status ReadOptional(const json&, std::string_view, const char*, bool*);
template Status ReadOptional(const json&, std::string_view, const char*, std::uint32_t*);
template Status ReadOptional(const json&, std::string_view, const char*, std::uint64_t*);

Status ReadTimeOrNull(const json& j, std::string_view where, const char* field, std::optional<std::int64_t>* out) {
  if (j.is_object() && j.contains(field) && j[field].is_null()) {
    *out = std::nullopt;
    return Status::Ok();
  }
  std::int64_t t = 0;
  if (Status st = Read(j, where, field, &t); !st.ok()) return st;
  *out = t;
  return Status::Ok();
}

Status ReadStringOrNull(const json& j, std::string_view where, const char* field, std::string* out) {
  if (j.is_object() && j.contains(field) && j[field].is_null()) {
    out->clear();
    return Status::Ok();
  }
  return Read(j, where, field, out);
}

Status ObjectField(const json& j, std::string_view where, const char* field, const json** out) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_object()) return FieldError(where, field, "expected an object");
  *out = &*it;
  return Status::Ok();
}

Status ArrayField(const json& j, std::string_view where, const char* field, const json** out) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_array()) return FieldError(where, field, "expected an array");
  *out = &*it;
  return Status::Ok();
}

json StateOrNull(const std::optional<DeviceState>& state) {
  if (!state) return nullptr;
  return std::string(DeviceStateName(*state));
}

Status ReadStateOrNull(const json& j, std::string_view where, const char* field, std::optional<DeviceState>* out) {
  auto it = j.find(field);
  if (it == j.end()) return FieldError(where, field, "missing (a state name or null)");
  if (it->is_null()) {
    *out = std::nullopt;
    return Status::Ok();
  }
  if (!it->is_string()) return FieldError(where, field, "not a state name");
  *out = ParseDeviceState(it->get<std::string>());
  if (!*out) return FieldError(where, field, "unknown state " + it->get<std::string>());
  return Status::Ok();
}

json VersionJson(const Version& version) { return json::array({version.incarnation, version.sequence}); }

Status ReadVersion(const json& j, std::string_view where, const char* field, Version* out) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_number_unsigned() ||
      !(*it)[1].is_number_unsigned()) {
    return FieldError(where, field, "expected [incarnation, sequence]");
  }
  out->incarnation = (*it)[0].get<std::uint64_t>();
  out->sequence = (*it)[1].get<std::uint64_t>();
  return Status::Ok();
}

json MailboxJson(const MailboxValue& value) {
  return {{"new", value.counts.new_messages},
          {"old", value.counts.old_messages},
          {"urgent", value.counts.urgent_messages},
          {"hlc", json::array({value.hlc.physical_ns, value.hlc.logical})},
          {"writer", value.writer}};
}

Status ReadMailbox(const json& m, std::string_view where, MailboxValue* out) {
  if (Status st = Read(m, where, "new", &out->counts.new_messages); !st.ok()) return st;
  if (Status st = Read(m, where, "old", &out->counts.old_messages); !st.ok()) return st;
  if (Status st = Read(m, where, "urgent", &out->counts.urgent_messages); !st.ok()) return st;
  if (Status st = Read(m, where, "writer", &out->writer); !st.ok()) return st;
  auto h = m.find("hlc");
  if (h == m.end() || !h->is_array() || h->size() != 2 || !(*h)[0].is_number_integer() ||
      !(*h)[1].is_number_unsigned() || (*h)[1].get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
    return FieldError(where, "hlc", "expected [physical_ns, logical]");
  }
  out->hlc.physical_ns = (*h)[0].get<std::int64_t>();
  out->hlc.logical = (*h)[1].get<std::uint32_t>();
  return Status::Ok();
}

json RegistrationJson(const RegistrationInfo& info) {
  return {{"contact", info.contact},
          {"expires_unix_ns", info.expires.time_since_epoch().count()},
          {"reachable", info.status == ContactStatus::kReachable},
          {"rtt_us", info.rtt_us},
          {"path", info.path},
          {"user_agent", info.user_agent}};
}

Status ReadRegistration(const json& r, std::string_view where, RegistrationInfo* out) {
  if (Status st = Read(r, where, "contact", &out->contact); !st.ok()) return st;
  std::int64_t expires = 0;
  if (Status st = Read(r, where, "expires_unix_ns", &expires); !st.ok()) return st;
  out->expires = WallTime(Duration(expires));
  bool reachable = true;
  if (Status st = Read(r, where, "reachable", &reachable); !st.ok()) return st;
  out->status = reachable ? ContactStatus::kReachable : ContactStatus::kUnreachable;
  if (Status st = Read(r, where, "rtt_us", &out->rtt_us); !st.ok()) return st;
  if (Status st = Read(r, where, "path", &out->path); !st.ok()) return st;
  return Read(r, where, "user_agent", &out->user_agent);
}

json ContributionsJson(std::span<const DeviceContribution> contributions) {
  json out = json::array();
  for (const DeviceContribution& c : contributions) {
    out.push_back({{"node", c.node}, {"state", std::string(DeviceStateName(c.state))}, {"version", VersionJson(c.version)}});
  }
  return out;
}

Status ReadContributions(const json& j, std::string_view where, const char* field, std::vector<DeviceContribution>* out) {
  const json* list = nullptr;
  if (Status st = ArrayField(j, where, field, &list); !st.ok()) return st;
  const std::string inner = std::string(where) + "." + field;
  out->clear();
  for (const json& c : *list) {
    DeviceContribution dc{};
    std::optional<DeviceState> state;
    if (Status st = Read(c, inner, "node", &dc.node); !st.ok()) return st;
    if (Status st = ReadStateOrNull(c, inner, "state", &state); !st.ok()) return st;
    if (!state) return FieldError(inner, "state", "must be a state name");
    dc.state = *state;
    if (Status st = ReadVersion(c, inner, "version", &dc.version); !st.ok()) return st;
    out->push_back(dc);
  }
  return Status::Ok();
}

Status ReadNodes(const json& j, std::string_view where, const char* field, std::vector<NodeId>* out) {
  const json* list = nullptr;
  if (Status st = ArrayField(j, where, field, &list); !st.ok()) return st;
  out->clear();
  for (const json& n : *list) {
    NodeId id = 0;
    if (auto why = Convert(n, &id)) return FieldError(where, field, "every node id " + *why);
    out->push_back(id);
  }
  return Status::Ok();
}

}  // namespace pbxstate::control::internal
