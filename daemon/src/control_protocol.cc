#include "control_protocol.h"

#include <limits>

namespace pbxstate::daemon {

using nlohmann::json;

std::string_view ControlCodeName(ControlCode code) {
  switch (code) {
    case ControlCode::kInvalidArgument: return "invalid_argument";
    case ControlCode::kResourceExhausted: return "resource_exhausted";
    case ControlCode::kFailedPrecondition: return "failed_precondition";
    case ControlCode::kBadRequest: return "bad_request";
    case ControlCode::kTooLarge: return "too_large";
  }
  return "bad_request";
}

namespace {

ControlError Bad(std::string message) { return ControlError{ControlCode::kBadRequest, std::move(message)}; }

// Field readers: each returns an error message naming the field, or "" and sets *out.
std::string GetString(const json& req, const char* field, bool required, std::string* out) {
  auto it = req.find(field);
  if (it == req.end()) return required ? std::string("field '") + field + "' is required" : "";
  if (!it->is_string()) return std::string("field '") + field + "' must be a string";
  *out = it->get<std::string>();
  return "";
}

std::string GetUnsigned(const json& req, const char* field, bool required, std::uint64_t max, std::uint64_t* out) {
  auto it = req.find(field);
  if (it == req.end()) return required ? std::string("field '") + field + "' is required" : "";
  const bool non_negative_integer =
      it->is_number_unsigned() || (it->is_number_integer() && it->get<std::int64_t>() >= 0);
  if (!non_negative_integer || it->get<std::uint64_t>() > max) {
    return std::string("field '") + field + "' must be an integer in [0, " + std::to_string(max) + "]";
  }
  *out = it->get<std::uint64_t>();
  return "";
}

std::string GetSigned(const json& req, const char* field, std::int64_t* out) {
  auto it = req.find(field);
  if (it == req.end()) return std::string("field '") + field + "' is required";
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))) {
    return std::string("field '") + field + "' must be an integer (nanoseconds since the Unix epoch)";
  }
  *out = it->get<std::int64_t>();
  return "";
}

std::string GetBool(const json& req, const char* field, bool* out) {
  auto it = req.find(field);
  if (it == req.end()) return "";
  if (!it->is_boolean()) return std::string("field '") + field + "' must be true or false";
  *out = it->get<bool>();
  return "";
}

// An unsigned field in [min, max]; when absent and not required, *out keeps its default.
std::string GetInRange(const json& req, const char* field, bool required, std::uint64_t min, std::uint64_t max,
                       std::uint64_t* out) {
  std::uint64_t v = *out;
  if (GetUnsigned(req, field, required, max, &v).empty() && v >= min) {
    *out = v;
    return "";
  }
  if (req.find(field) == req.end()) return std::string("field '") + field + "' is required";
  return std::string("field '") + field + "' must be an integer in [" + std::to_string(min) + ", " +
         std::to_string(max) + "]";
}

// prefix, devices, count: what generate and watch share.
std::string GetLoadTarget(const json& req, LoadSpec* spec) {
  std::string err = GetString(req, "prefix", true, &spec->prefix);
  if (err.empty() && (spec->prefix.empty() || spec->prefix.size() > kMaxGeneratePrefixBytes)) {
    err = "field 'prefix' must be 1 to " + std::to_string(kMaxGeneratePrefixBytes) + " bytes";
  }
  if (err.empty()) err = GetInRange(req, "devices", true, 1, kMaxGenerateDevices, &spec->devices);
  if (err.empty()) err = GetInRange(req, "count", true, 1, kMaxGenerateCount, &spec->count);
  return err;
}

// from, limit: a page of a result.
std::string GetPage(const json& req, Request* r) {
  std::string err = GetInRange(req, "from", false, 0, kMaxGenerateCount, &r->from);
  if (err.empty()) err = GetInRange(req, "limit", false, 1, kMaxResultPage, &r->limit);
  return err;
}

}  // namespace

std::variant<Request, ControlError> ParseRequest(std::string_view line) {
  if (line.size() > kMaxRequestLineBytes) {
    return Bad("request line longer than " + std::to_string(kMaxRequestLineBytes) + " bytes");
  }
  json req;
  try {
    req = json::parse(line.begin(), line.end());
  } catch (const json::parse_error& e) {
    return Bad(std::string("request is not JSON: ") + e.what());
  }
  if (!req.is_object()) return Bad("request must be a JSON object");
  auto op_it = req.find("op");
  if (op_it == req.end() || !op_it->is_string()) return Bad("field 'op' is required and must be a string");
  const std::string op = op_it->get<std::string>();
  Request r;
  std::string err;
  std::uint64_t n = 0;
  constexpr std::uint64_t kU32 = std::numeric_limits<std::uint32_t>::max();
  if (op == "hello") {
    r.op = Op::kHello;
  } else if (op == "set_device") {
    r.op = Op::kSetDevice;
    std::string state;
    err = GetString(req, "device", true, &r.device);
    if (err.empty()) err = GetString(req, "state", true, &state);
    if (err.empty()) {
      auto parsed = ParseDeviceState(state);
      if (!parsed) {
        err = "field 'state': '" + state + "' is not a device state (NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, "
              "RINGING, RINGINUSE, ONHOLD, UNKNOWN)";
      } else {
        r.state = *parsed;
      }
    }
  } else if (op == "set_mailbox") {
    r.op = Op::kSetMailbox;
    err = GetString(req, "mailbox", true, &r.mailbox);
    if (err.empty() && (err = GetUnsigned(req, "new", true, kU32, &n)).empty()) r.counts.new_messages = static_cast<std::uint32_t>(n);
    if (err.empty() && (err = GetUnsigned(req, "old", true, kU32, &n)).empty()) r.counts.old_messages = static_cast<std::uint32_t>(n);
    n = 0;
    if (err.empty() && (err = GetUnsigned(req, "urgent", false, kU32, &n)).empty()) r.counts.urgent_messages = static_cast<std::uint32_t>(n);
  } else if (op == "register") {
    r.op = Op::kRegister;
    err = GetString(req, "aor", true, &r.aor);
    if (err.empty()) err = GetString(req, "contact", true, &r.contact);
    if (err.empty()) err = GetSigned(req, "expires_unix_ns", &r.expires_unix_ns);
    if (err.empty()) err = GetBool(req, "reachable", &r.reachable);
    if (err.empty() && (err = GetUnsigned(req, "rtt_us", false, kU32, &n)).empty()) r.rtt_us = static_cast<std::uint32_t>(n);
  } else if (op == "unregister") {
    r.op = Op::kUnregister;
    err = GetString(req, "aor", true, &r.aor);
  } else if (op == "device") {
    r.op = Op::kDevice;
    err = GetString(req, "device", true, &r.device);
  } else if (op == "members") {
    r.op = Op::kMembers;
  } else if (op == "stats") {
    r.op = Op::kStats;
  } else if (op == "dump") {
    r.op = Op::kDump;
  } else if (op == "subscribe") {
    r.op = Op::kSubscribe;
  } else if (op == "stop") {
    r.op = Op::kStop;
  } else if (op == "set_keys") {
    r.op = Op::kSetKeys;
    err = GetString(req, "key_file", true, &r.key_file);
    if (err.empty() && r.key_file.empty()) err = "field 'key_file' must name a cluster key file";
    if (err.empty()) err = GetString(req, "previous_key_file", false, &r.previous_key_file);
  } else if (op == "generate") {
    r.op = Op::kGenerate;
    err = GetLoadTarget(req, &r.load);
    if (err.empty()) err = GetInRange(req, "rate_per_s", false, 0, kMaxGenerateRatePerS, &r.load.rate_per_s);
    if (err.empty()) {
      err = GetInRange(req, "max_duration_ms", false, 1, kMaxGenerateDurationMs, &r.load.max_duration_ms);
    }
  } else if (op == "generate_result") {
    r.op = Op::kGenerateResult;
    err = GetPage(req, &r);
  } else if (op == "watch") {
    r.op = Op::kWatch;
    err = GetLoadTarget(req, &r.load);
  } else if (op == "watch_result") {
    r.op = Op::kWatchResult;
    err = GetPage(req, &r);
  } else {
    return Bad("field 'op': unknown op '" + op +
               "' (hello, set_device, set_mailbox, register, unregister, device, members, stats, dump, subscribe, stop, "
               "set_keys, generate, generate_result, watch, watch_result)");
  }
  if (!err.empty()) return Bad(op + ": " + err);
  return r;
}

ControlError FromStatus(const Status& status) {
  switch (status.code()) {
    case Status::Code::kInvalidArgument: return {ControlCode::kInvalidArgument, status.message()};
    case Status::Code::kResourceExhausted: return {ControlCode::kResourceExhausted, status.message()};
    case Status::Code::kFailedPrecondition: return {ControlCode::kFailedPrecondition, status.message()};
    case Status::Code::kOk: break;
  }
  return {ControlCode::kFailedPrecondition, status.message()};
}

std::string ErrorLine(const ControlError& error) {
  json j = {{"ok", false}, {"code", std::string(ControlCodeName(error.code))}, {"error", error.message}};
  // Error messages may quote the client's bytes: replace invalid UTF-8 rather than throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

json StateOrNull(const std::optional<DeviceState>& state) {
  if (!state) return nullptr;
  return std::string(DeviceStateName(*state));
}

json VersionJson(const Version& version) { return json::array({version.incarnation, version.sequence}); }

json MailboxJson(const MailboxValue& value) {
  return {{"new", value.counts.new_messages},
          {"old", value.counts.old_messages},
          {"urgent", value.counts.urgent_messages},
          {"hlc", json::array({value.hlc.physical_ns, value.hlc.logical})},
          {"writer", value.writer}};
}

json RegistrationJson(const RegistrationInfo& info) {
  return {{"contact", info.contact},
          {"expires_unix_ns", info.expires.time_since_epoch().count()},
          {"reachable", info.status == ContactStatus::kReachable},
          {"rtt_us", info.rtt_us}};
}

json ContributionsJson(std::span<const DeviceContribution> contributions) {
  json out = json::array();
  for (const DeviceContribution& c : contributions) {
    out.push_back({{"node", c.node}, {"state", std::string(DeviceStateName(c.state))}, {"version", VersionJson(c.version)}});
  }
  return out;
}

json StatsJson(const EngineStats& s) {
  json out = json::object();
  ForEachStat(s, [&out](std::string_view name, std::uint64_t value) { out[std::string(name)] = value; });
  json drops = json::object();
  for (int i = 0; i < kDropReasonCount; ++i) {
    drops[std::string(DropReasonName(static_cast<DropReason>(i)))] = s.dropped[static_cast<std::size_t>(i)];
  }
  out["dropped"] = std::move(drops);
  out["total_dropped"] = s.total_dropped();
  return out;
}

json ViewEvent(const ViewChange& c, std::int64_t t_mono_ns) {
  json e = {{"event", "view"},
            {"t_mono_ns", t_mono_ns},
            {"kind", std::string(EntryKindName(c.kind))},
            {"cause", std::string(ChangeCauseName(c.cause))},
            {"key", std::string(c.key)},
            {"origin", c.origin},
            {"version", VersionJson(c.version)}};
  switch (c.kind) {
    case EntryKind::kDevice:
      e["old_contribution"] = StateOrNull(c.old_contribution);
      e["new_contribution"] = StateOrNull(c.new_contribution);
      e["old_aggregate"] = StateOrNull(c.old_aggregate);
      e["new_aggregate"] = StateOrNull(c.new_aggregate);
      break;
    case EntryKind::kMailbox:
      e["old_mailbox"] = c.old_mailbox ? MailboxJson(*c.old_mailbox) : json(nullptr);
      e["new_mailbox"] = c.new_mailbox ? MailboxJson(*c.new_mailbox) : json(nullptr);
      break;
    case EntryKind::kRegistration:
      e["old_registration"] = c.old_registration != nullptr ? RegistrationJson(*c.old_registration) : json(nullptr);
      e["new_registration"] = c.new_registration != nullptr ? RegistrationJson(*c.new_registration) : json(nullptr);
      break;
  }
  return e;
}

std::string ResponseLine(const json& response, bool* replaced) {
  std::string line = response.dump(-1, ' ', false, json::error_handler_t::replace);
  if (replaced != nullptr) *replaced = line.size() + 1 > kMaxResponseBytes;
  if (line.size() + 1 > kMaxResponseBytes) {
    return ErrorLine({ControlCode::kTooLarge, "response of " + std::to_string(line.size()) + " bytes exceeds " +
                                                  std::to_string(kMaxResponseBytes)});
  }
  line += "\n";
  return line;
}

}  // namespace pbxstate::daemon
