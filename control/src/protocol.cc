#include "pbxstate/control/protocol.h"

#include <array>
#include <limits>

#include <nlohmann/json.hpp>

namespace pbxstate::control {

using nlohmann::json;

namespace {

constexpr std::array kOps = {
    OpInfo{Op::kHello, "hello", false},
    OpInfo{Op::kSetDevice, "set_device", false},
    OpInfo{Op::kRemoveDevice, "remove_device", false},
    OpInfo{Op::kSetMailbox, "set_mailbox", false},
    OpInfo{Op::kRemoveMailbox, "remove_mailbox", false},
    OpInfo{Op::kRegister, "register", false},
    OpInfo{Op::kUnregister, "unregister", false},
    OpInfo{Op::kRemoveContact, "remove_contact", false},
    OpInfo{Op::kDevice, "device", false},
    OpInfo{Op::kLocate, "locate", false},
    OpInfo{Op::kMembers, "members", false},
    OpInfo{Op::kStats, "stats", false},
    OpInfo{Op::kDump, "dump", false},
    OpInfo{Op::kSubscribe, "subscribe", false},
    OpInfo{Op::kSetKeys, "set_keys", false},
    OpInfo{Op::kStop, "stop", false},
    OpInfo{Op::kGenerate, "generate", true},
    OpInfo{Op::kGenerateResult, "generate_result", true},
    OpInfo{Op::kWatch, "watch", true},
    OpInfo{Op::kWatchResult, "watch_result", true},
};
// The table is indexed by the enum: OpName is an array access, and a reordering is a compile error.
constexpr bool TableFollowsEnum() {
  for (std::size_t i = 0; i < kOps.size(); ++i) {
    if (static_cast<std::size_t>(kOps[i].op) != i) return false;
  }
  return true;
}
static_assert(TableFollowsEnum());
static_assert(static_cast<std::size_t>(Op::kWatchResult) + 1 == kOps.size(), "an Op without an entry in kOps");

constexpr std::array kErrorCodes = {ErrorCode::kInvalidArgument, ErrorCode::kResourceExhausted,
                                    ErrorCode::kFailedPrecondition, ErrorCode::kBadRequest, ErrorCode::kTooLarge};

Error Bad(std::string message) { return Error{ErrorCode::kBadRequest, std::move(message)}; }

// Field readers of a request: each returns "" and sets *out, or a sentence naming the field.
std::string GetString(const json& req, const char* field, bool required, std::string* out) {
  auto it = req.find(field);
  if (it == req.end()) return required ? std::string("field '") + field + "' is required" : "";
  if (!it->is_string()) return std::string("field '") + field + "' must be a string";
  *out = it->get<std::string>();
  return "";
}

// An unsigned field in [min, max]; when absent and not required, *out keeps its default.
std::string GetInRange(const json& req, const char* field, bool required, std::uint64_t min, std::uint64_t max,
                       std::uint64_t* out) {
  auto it = req.find(field);
  if (it == req.end()) return required ? std::string("field '") + field + "' is required" : "";
  const bool non_negative_integer =
      it->is_number_unsigned() || (it->is_number_integer() && it->get<std::int64_t>() >= 0);
  if (!non_negative_integer || it->get<std::uint64_t>() > max || it->get<std::uint64_t>() < min) {
    return std::string("field '") + field + "' must be an integer in [" + std::to_string(min) + ", " +
           std::to_string(max) + "]";
  }
  *out = it->get<std::uint64_t>();
  return "";
}

std::string GetU32(const json& req, const char* field, bool required, std::uint32_t* out) {
  std::uint64_t v = *out;
  std::string err = GetInRange(req, field, required, 0, std::numeric_limits<std::uint32_t>::max(), &v);
  if (err.empty()) *out = static_cast<std::uint32_t>(v);
  return err;
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

std::string StateNames() {
  std::string names;
  for (int i = 0; i < kDeviceStateCount; ++i) {
    names += (i == 0 ? "" : ", ") + std::string(DeviceStateName(static_cast<DeviceState>(i)));
  }
  return names;
}

std::string OpNames() {
  std::string names;
  for (const OpInfo& o : kOps) names += (names.empty() ? "" : ", ") + std::string(o.name);
  return names;
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

// The fields of `r.op` from `req`; "" or the sentence naming the field.
std::string GetFields(const json& req, Request* r) {
  std::string err;
  switch (r->op) {
    case Op::kHello:
    case Op::kMembers:
    case Op::kStats:
    case Op::kDump:
    case Op::kSubscribe:
    case Op::kStop:
      return "";
    case Op::kSetDevice: {
      std::string state;
      err = GetString(req, "device", true, &r->device);
      if (err.empty()) err = GetString(req, "state", true, &state);
      if (!err.empty()) return err;
      auto parsed = ParseDeviceState(state);
      if (!parsed) return "field 'state': '" + state + "' is not a device state (" + StateNames() + ")";
      r->state = *parsed;
      return "";
    }
    case Op::kSetMailbox:
      err = GetString(req, "mailbox", true, &r->mailbox);
      if (err.empty()) err = GetU32(req, "new", true, &r->counts.new_messages);
      if (err.empty()) err = GetU32(req, "old", true, &r->counts.old_messages);
      if (err.empty()) err = GetU32(req, "urgent", false, &r->counts.urgent_messages);
      return err;
    case Op::kRegister:
      err = GetString(req, "aor", true, &r->aor);
      if (err.empty()) err = GetString(req, "contact", true, &r->contact);
      if (err.empty()) err = GetSigned(req, "expires_unix_ns", &r->expires_unix_ns);
      if (err.empty()) err = GetBool(req, "reachable", &r->reachable);
      if (err.empty()) err = GetU32(req, "rtt_us", false, &r->rtt_us);
      if (err.empty()) err = GetString(req, "path", false, &r->path);
      if (err.empty()) err = GetString(req, "user_agent", false, &r->user_agent);
      return err;
    case Op::kUnregister:
      return GetString(req, "aor", true, &r->aor);
    case Op::kRemoveMailbox:
      return GetString(req, "mailbox", true, &r->mailbox);
    case Op::kRemoveContact:
      err = GetString(req, "aor", true, &r->aor);
      if (err.empty()) err = GetString(req, "contact", true, &r->contact);
      return err;
    case Op::kRemoveDevice:
    case Op::kDevice:
      return GetString(req, "device", true, &r->device);
    case Op::kLocate:
      return GetString(req, "aor", true, &r->aor);
    case Op::kSetKeys:
      err = GetString(req, "key_file", true, &r->key_file);
      if (err.empty() && r->key_file.empty()) err = "field 'key_file' must name a cluster key file";
      if (err.empty()) err = GetString(req, "previous_key_file", false, &r->previous_key_file);
      return err;
    case Op::kGenerate:
      err = GetLoadTarget(req, &r->load);
      if (err.empty()) err = GetInRange(req, "rate_per_s", false, 0, kMaxGenerateRatePerS, &r->load.rate_per_s);
      if (err.empty()) {
        err = GetInRange(req, "max_duration_ms", false, 1, kMaxGenerateDurationMs, &r->load.max_duration_ms);
      }
      return err;
    case Op::kWatch:
      return GetLoadTarget(req, &r->load);
    case Op::kGenerateResult:
    case Op::kWatchResult:
      err = GetInRange(req, "from", false, 0, kMaxGenerateCount, &r->from);
      if (err.empty()) err = GetInRange(req, "limit", false, 1, kMaxResultPage, &r->limit);
      return err;
  }
  return "unhandled op";
}

}  // namespace

std::span<const OpInfo> Ops() { return kOps; }
std::string_view OpName(Op op) { return kOps.at(static_cast<std::size_t>(op)).name; }

std::optional<Op> ParseOp(std::string_view name) {
  for (const OpInfo& o : kOps) {
    if (o.name == name) return o.op;
  }
  return std::nullopt;
}

std::span<const ErrorCode> ErrorCodes() { return kErrorCodes; }

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kResourceExhausted: return "resource_exhausted";
    case ErrorCode::kFailedPrecondition: return "failed_precondition";
    case ErrorCode::kBadRequest: return "bad_request";
    case ErrorCode::kTooLarge: return "too_large";
  }
  return "bad_request";
}

std::optional<ErrorCode> ParseErrorCode(std::string_view name) {
  for (ErrorCode c : kErrorCodes) {
    if (ErrorCodeName(c) == name) return c;
  }
  return std::nullopt;
}

Error FromStatus(const Status& status) {
  switch (status.code()) {
    case Status::Code::kInvalidArgument: return {ErrorCode::kInvalidArgument, status.message()};
    case Status::Code::kResourceExhausted: return {ErrorCode::kResourceExhausted, status.message()};
    case Status::Code::kFailedPrecondition: return {ErrorCode::kFailedPrecondition, status.message()};
    case Status::Code::kOk: break;
  }
  return {ErrorCode::kFailedPrecondition, status.message()};
}

Status ToStatus(const Error& error) {
  const std::string msg = "pbxstated: " + std::string(ErrorCodeName(error.code)) + ": " + error.message;
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kBadRequest: return Status::InvalidArgument(msg);
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kTooLarge: return Status::ResourceExhausted(msg);
    case ErrorCode::kFailedPrecondition: break;
  }
  return Status::FailedPrecondition(msg);
}

// ---- builders ---------------------------------------------------------------------------------

Request Request::Simple(Op op) {
  Request r;
  r.op = op;
  return r;
}

Request Request::SetDevice(std::string device, DeviceState state) {
  Request r = Simple(Op::kSetDevice);
  r.device = std::move(device);
  r.state = state;
  return r;
}

Request Request::SetMailbox(std::string mailbox, MailboxCounts counts) {
  Request r = Simple(Op::kSetMailbox);
  r.mailbox = std::move(mailbox);
  r.counts = counts;
  return r;
}

Request Request::Register(std::string aor, std::string contact, std::int64_t expires_unix_ns, bool reachable,
                          std::uint32_t rtt_us, std::string path, std::string user_agent) {
  Request r = Simple(Op::kRegister);
  r.aor = std::move(aor);
  r.contact = std::move(contact);
  r.expires_unix_ns = expires_unix_ns;
  r.reachable = reachable;
  r.rtt_us = rtt_us;
  r.path = std::move(path);
  r.user_agent = std::move(user_agent);
  return r;
}

Request Request::RemoveContact(std::string aor, std::string contact) {
  Request r = Simple(Op::kRemoveContact);
  r.aor = std::move(aor);
  r.contact = std::move(contact);
  return r;
}

Request Request::Unregister(std::string aor) {
  Request r = Simple(Op::kUnregister);
  r.aor = std::move(aor);
  return r;
}

Request Request::RemoveDevice(std::string device) {
  Request r = Simple(Op::kRemoveDevice);
  r.device = std::move(device);
  return r;
}

Request Request::RemoveMailbox(std::string mailbox) {
  Request r = Simple(Op::kRemoveMailbox);
  r.mailbox = std::move(mailbox);
  return r;
}

Request Request::Device(std::string device) {
  Request r = Simple(Op::kDevice);
  r.device = std::move(device);
  return r;
}

Request Request::Locate(std::string aor) {
  Request r = Simple(Op::kLocate);
  r.aor = std::move(aor);
  return r;
}

Request Request::SetKeys(std::string key_file, std::string previous_key_file) {
  Request r = Simple(Op::kSetKeys);
  r.key_file = std::move(key_file);
  r.previous_key_file = std::move(previous_key_file);
  return r;
}

Request Request::Generate(LoadSpec spec) {
  Request r = Simple(Op::kGenerate);
  r.load = std::move(spec);
  return r;
}

Request Request::Watch(LoadSpec spec) {
  Request r = Simple(Op::kWatch);
  r.load = LoadSpec{std::move(spec.prefix), spec.devices, spec.count};
  return r;
}

Request Request::Page(Op op, std::uint64_t from, std::uint64_t limit) {
  Request r = Simple(op);
  r.from = from;
  r.limit = limit;
  return r;
}

// ---- lines ------------------------------------------------------------------------------------

std::variant<Request, Error> ParseRequest(std::string_view line) {
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
  const std::string name = op_it->get<std::string>();
  const std::optional<Op> op = ParseOp(name);
  if (!op) return Bad("field 'op': unknown op '" + name + "' (" + OpNames() + ")");
  Request r = Request::Simple(*op);
  if (std::string err = GetFields(req, &r); !err.empty()) return Bad(name + ": " + err);
  return r;
}

std::string RequestLine(const Request& r) {
  json j = {{"op", std::string(OpName(r.op))}};
  switch (r.op) {
    case Op::kHello:
    case Op::kMembers:
    case Op::kStats:
    case Op::kDump:
    case Op::kSubscribe:
    case Op::kStop:
      break;
    case Op::kSetDevice:
      j["device"] = r.device;
      j["state"] = std::string(DeviceStateName(r.state));
      break;
    case Op::kSetMailbox:
      j["mailbox"] = r.mailbox;
      j["new"] = r.counts.new_messages;
      j["old"] = r.counts.old_messages;
      j["urgent"] = r.counts.urgent_messages;
      break;
    case Op::kRegister:
      j["aor"] = r.aor;
      j["contact"] = r.contact;
      j["expires_unix_ns"] = r.expires_unix_ns;
      j["reachable"] = r.reachable;
      j["rtt_us"] = r.rtt_us;
      if (!r.path.empty()) j["path"] = r.path;
      if (!r.user_agent.empty()) j["user_agent"] = r.user_agent;
      break;
    case Op::kRemoveContact:
      j["aor"] = r.aor;
      j["contact"] = r.contact;
      break;
    case Op::kUnregister:
    case Op::kLocate:
      j["aor"] = r.aor;
      break;
    case Op::kRemoveDevice:
    case Op::kDevice:
      j["device"] = r.device;
      break;
    case Op::kRemoveMailbox:
      j["mailbox"] = r.mailbox;
      break;
    case Op::kSetKeys:
      j["key_file"] = r.key_file;
      if (!r.previous_key_file.empty()) j["previous_key_file"] = r.previous_key_file;
      break;
    case Op::kGenerate:
      j["rate_per_s"] = r.load.rate_per_s;
      j["max_duration_ms"] = r.load.max_duration_ms;
      [[fallthrough]];
    case Op::kWatch:
      j["prefix"] = r.load.prefix;
      j["devices"] = r.load.devices;
      j["count"] = r.load.count;
      break;
    case Op::kGenerateResult:
    case Op::kWatchResult:
      j["from"] = r.from;
      j["limit"] = r.limit;
      break;
  }
  // A client's strings may hold any bytes: invalid UTF-8 is replaced rather than thrown on.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace pbxstate::control
