#include "pbxstate/control/replies.h"

#include <algorithm>

#include "json_fields.h"
#include "pbxstate/check.h"
#include "reply_codec.h"

namespace pbxstate::control {

namespace internal {

// ---- hello, times, device, members, keys, stop ----------------------------------------------------

void Encode(const HelloReply& r, json* out) {
  (*out)["node"] = r.node;
  (*out)["label"] = r.label;
  (*out)["incarnation"] = r.incarnation;
  (*out)["pid"] = r.pid;
  (*out)["group"] = r.group;
  (*out)["members"] = r.members;
  (*out)["view_id"] = r.view_id;
  (*out)["authenticated"] = r.authenticated;
}

Status Decode(const json& j, HelloReply* r) {
  constexpr std::string_view w = "hello";
  if (Status st = Read(j, w, "node", &r->node); !st.ok()) return st;
  if (Status st = Read(j, w, "label", &r->label); !st.ok()) return st;
  if (Status st = Read(j, w, "incarnation", &r->incarnation); !st.ok()) return st;
  if (Status st = Read(j, w, "pid", &r->pid); !st.ok()) return st;
  if (Status st = Read(j, w, "group", &r->group); !st.ok()) return st;
  if (Status st = ReadNodes(j, w, "members", &r->members); !st.ok()) return st;
  if (Status st = Read(j, w, "view_id", &r->view_id); !st.ok()) return st;
  return Read(j, w, "authenticated", &r->authenticated);
}

void Encode(const TimeReply& r, json* out) { (*out)["t_mono_ns"] = r.t_mono_ns; }
Status Decode(const json& j, TimeReply* r) { return Read(j, "reply", "t_mono_ns", &r->t_mono_ns); }

void Encode(const DeviceReply& r, json* out) {
  (*out)["aggregate"] = StateOrNull(r.aggregate);
  (*out)["contributions"] = ContributionsJson(r.contributions);
}

Status Decode(const json& j, DeviceReply* r) {
  if (Status st = ReadStateOrNull(j, "device", "aggregate", &r->aggregate); !st.ok()) return st;
  return ReadContributions(j, "device", "contributions", &r->contributions);
}

void Encode(const LocateReply& r, json* out) {
  json locations = json::array();
  PBXSTATE_CHECK(r.user_agents.empty() || r.user_agents.size() == r.locations.size());
  for (std::size_t i = 0; i < r.locations.size(); ++i) {
    const Location& l = r.locations[i];
    locations.push_back({{"node", l.node},
                         {"contact", l.contact},
                         {"path", l.path},
                         {"user_agent", r.user_agents.empty() ? std::string() : r.user_agents[i]},
                         {"reachable_contact", l.status == ContactStatus::kReachable},
                         {"reachable", l.reachable},
                         {"expires_unix_ns", l.expires.time_since_epoch().count()},
                         {"age_ns", l.age.count()}});
  }
  (*out)["locations"] = std::move(locations);
}

Status Decode(const json& j, LocateReply* r) {
  constexpr std::string_view w = "locate.locations";
  const json* locations = nullptr;
  if (Status st = ArrayField(j, "locate", "locations", &locations); !st.ok()) return st;
  for (const json& l : *locations) {
    Location loc;
    bool contact_reachable = true;
    std::int64_t expires = 0, age = 0;
    if (Status st = Read(l, w, "node", &loc.node); !st.ok()) return st;
    if (Status st = Read(l, w, "contact", &loc.contact); !st.ok()) return st;
    if (Status st = Read(l, w, "path", &loc.path); !st.ok()) return st;
    std::string user_agent;
    if (Status st = Read(l, w, "user_agent", &user_agent); !st.ok()) return st;
    if (Status st = Read(l, w, "reachable_contact", &contact_reachable); !st.ok()) return st;
    if (Status st = Read(l, w, "reachable", &loc.reachable); !st.ok()) return st;
    if (Status st = Read(l, w, "expires_unix_ns", &expires); !st.ok()) return st;
    if (Status st = Read(l, w, "age_ns", &age); !st.ok()) return st;
    loc.status = contact_reachable ? ContactStatus::kReachable : ContactStatus::kUnreachable;
    loc.expires = WallTime(Duration(expires));
    loc.age = Duration(age);
    r->locations.push_back(std::move(loc));
    r->user_agents.push_back(std::move(user_agent));
  }
  return Status::Ok();
}

void Encode(const MembersReply& r, json* out) {
  (*out)["members"] = r.members;
  (*out)["view_id"] = r.view_id;
  (*out)["view_members"] = r.view_members;
}

Status Decode(const json& j, MembersReply* r) {
  if (Status st = ReadNodes(j, "members", "members", &r->members); !st.ok()) return st;
  if (Status st = Read(j, "members", "view_id", &r->view_id); !st.ok()) return st;
  return ReadNodes(j, "members", "view_members", &r->view_members);
}

void Encode(const KeysReply& r, json* out) { (*out)["authenticated"] = r.authenticated; }
Status Decode(const json& j, KeysReply* r) { return Read(j, "set_keys", "authenticated", &r->authenticated); }

void Encode(const StopReply&, json*) {}
Status Decode(const json&, StopReply*) { return Status::Ok(); }

// ---- dump ---------------------------------------------------------------------------------------

void Encode(const DumpReply& r, json* out) {
  json devices = json::array();
  for (const DumpReply::Device& d : r.devices) {
    devices.push_back({{"device", d.name}, {"aggregate", StateOrNull(d.aggregate)}, {"contributions", ContributionsJson(d.contributions)}});
  }
  json mailboxes = json::array();
  for (const DumpReply::Mailbox& m : r.mailboxes) {
    json j = MailboxJson(m.value);
    j["mailbox"] = m.name;
    mailboxes.push_back(std::move(j));
  }
  json registrations = json::array();
  for (const DumpReply::Registration& reg : r.registrations) {
    json j = RegistrationJson(reg.view.info);
    j["aor"] = reg.aor;
    j["node"] = reg.view.node;
    j["version"] = VersionJson(reg.view.version);
    registrations.push_back(std::move(j));
  }
  (*out)["node"] = r.node;
  (*out)["incarnation"] = r.incarnation;
  (*out)["as_of_from_unix_ns"] = r.as_of_from_unix_ns;
  (*out)["as_of_to_unix_ns"] = r.as_of_to_unix_ns;
  (*out)["digest"] = {{"hash", r.digest.hash},
                      {"devices", r.digest.devices},
                      {"mailboxes", r.digest.mailboxes},
                      {"registrations", r.digest.registrations}};
  (*out)["devices"] = std::move(devices);
  (*out)["mailboxes"] = std::move(mailboxes);
  (*out)["registrations"] = std::move(registrations);
}

namespace {

Status DecodeDumpDigest(const json& j, ViewDigest* d) {
  const json* dg = nullptr;
  if (Status st = ObjectField(j, "dump", "digest", &dg); !st.ok()) return st;
  if (Status st = Read(*dg, "dump.digest", "hash", &d->hash); !st.ok()) return st;
  if (Status st = Read(*dg, "dump.digest", "devices", &d->devices); !st.ok()) return st;
  if (Status st = Read(*dg, "dump.digest", "mailboxes", &d->mailboxes); !st.ok()) return st;
  return Read(*dg, "dump.digest", "registrations", &d->registrations);
}

}  // namespace

Status Decode(const json& j, DumpReply* r) {
  if (Status st = Read(j, "dump", "node", &r->node); !st.ok()) return st;
  if (Status st = Read(j, "dump", "incarnation", &r->incarnation); !st.ok()) return st;
  if (Status st = Read(j, "dump", "as_of_from_unix_ns", &r->as_of_from_unix_ns); !st.ok()) return st;
  if (Status st = Read(j, "dump", "as_of_to_unix_ns", &r->as_of_to_unix_ns); !st.ok()) return st;
  if (r->as_of_to_unix_ns < r->as_of_from_unix_ns) {
    return Status::InvalidArgument("dump: as_of_to_unix_ns is before as_of_from_unix_ns");
  }
  if (Status st = DecodeDumpDigest(j, &r->digest); !st.ok()) return st;
  const json* devices = nullptr;
  const json* mailboxes = nullptr;
  const json* registrations = nullptr;
  if (Status st = ArrayField(j, "dump", "devices", &devices); !st.ok()) return st;
  if (Status st = ArrayField(j, "dump", "mailboxes", &mailboxes); !st.ok()) return st;
  if (Status st = ArrayField(j, "dump", "registrations", &registrations); !st.ok()) return st;
  for (const json& d : *devices) {
    DumpReply::Device dev;
    if (Status st = Read(d, "dump.devices", "device", &dev.name); !st.ok()) return st;
    if (Status st = ReadStateOrNull(d, "dump.devices", "aggregate", &dev.aggregate); !st.ok()) return st;
    if (Status st = ReadContributions(d, "dump.devices", "contributions", &dev.contributions); !st.ok()) return st;
    r->devices.push_back(std::move(dev));
  }
  for (const json& m : *mailboxes) {
    DumpReply::Mailbox mb;
    if (Status st = Read(m, "dump.mailboxes", "mailbox", &mb.name); !st.ok()) return st;
    if (Status st = ReadMailbox(m, "dump.mailboxes", &mb.value); !st.ok()) return st;
    r->mailboxes.push_back(std::move(mb));
  }
  for (const json& g : *registrations) {
    DumpReply::Registration reg;
    if (Status st = Read(g, "dump.registrations", "aor", &reg.aor); !st.ok()) return st;
    if (Status st = Read(g, "dump.registrations", "node", &reg.view.node); !st.ok()) return st;
    if (Status st = ReadRegistration(g, "dump.registrations", &reg.view.info); !st.ok()) return st;
    if (Status st = ReadVersion(g, "dump.registrations", "version", &reg.view.version); !st.ok()) return st;
    r->registrations.push_back(std::move(reg));
  }
  return Status::Ok();
}

// ---- benchmark instruments ------------------------------------------------------------------------

namespace {

json TimeOrNull(const std::optional<std::int64_t>& t) { return t ? json(*t) : json(nullptr); }

Status ReadTimes(const json& j, std::string_view where, std::vector<std::int64_t>* out) {
  const json* times = nullptr;
  if (Status st = ArrayField(j, where, "t_mono_ns", &times); !st.ok()) return st;
  if (times->size() > kMaxResultPage) return FieldError(where, "t_mono_ns", "longer than a page");
  for (const json& t : *times) {
    if (!t.is_number_integer()) return FieldError(where, "t_mono_ns", "every time must be an integer");
    out->push_back(t.get<std::int64_t>());
  }
  return Status::Ok();
}

Status ReadTarget(const json& j, std::string_view where, LoadSpec* spec) {
  if (Status st = Read(j, where, "prefix", &spec->prefix); !st.ok()) return st;
  if (Status st = Read(j, where, "devices", &spec->devices); !st.ok()) return st;
  return Read(j, where, "count", &spec->count);
}

}  // namespace

void Encode(const GenerateReport& r, json* out) {
  (*out)["outcome"] = std::string(GenerateOutcomeName(r.outcome));
  (*out)["error"] = r.error.empty() ? json(nullptr) : json(r.error);
  (*out)["prefix"] = r.spec.prefix;
  (*out)["devices"] = r.spec.devices;
  (*out)["count"] = r.spec.count;
  (*out)["rate_per_s"] = r.spec.rate_per_s;
  (*out)["generated"] = r.generated;
  (*out)["started_t_mono_ns"] = TimeOrNull(r.started_t_mono_ns);
  (*out)["finished_t_mono_ns"] = TimeOrNull(r.finished_t_mono_ns);
  (*out)["backpressure_waits"] = r.backpressure_waits;
  (*out)["max_lag_ns"] = r.max_lag_ns;
  (*out)["from"] = r.from;
  (*out)["t_mono_ns"] = r.t_mono_ns;
}

Status Decode(const json& j, GenerateReport* r) {
  constexpr std::string_view w = "generate_result";
  if (Status st = ReadEnum(j, w, "outcome", GenerateOutcomeName, &r->outcome); !st.ok()) return st;
  if (Status st = ReadStringOrNull(j, w, "error", &r->error); !st.ok()) return st;
  if (Status st = ReadTarget(j, w, &r->spec); !st.ok()) return st;
  if (Status st = Read(j, w, "rate_per_s", &r->spec.rate_per_s); !st.ok()) return st;
  if (Status st = Read(j, w, "generated", &r->generated); !st.ok()) return st;
  if (Status st = ReadTimeOrNull(j, w, "started_t_mono_ns", &r->started_t_mono_ns); !st.ok()) return st;
  if (Status st = ReadTimeOrNull(j, w, "finished_t_mono_ns", &r->finished_t_mono_ns); !st.ok()) return st;
  if (Status st = Read(j, w, "backpressure_waits", &r->backpressure_waits); !st.ok()) return st;
  if (Status st = Read(j, w, "max_lag_ns", &r->max_lag_ns); !st.ok()) return st;
  if (Status st = Read(j, w, "from", &r->from); !st.ok()) return st;
  return ReadTimes(j, w, &r->t_mono_ns);
}

void Encode(const WatchReport& r, json* out) {
  (*out)["active"] = r.active;
  (*out)["prefix"] = r.spec.prefix;
  (*out)["devices"] = r.spec.devices;
  (*out)["count"] = r.spec.count;
  (*out)["seen"] = r.seen;
  (*out)["complete"] = r.complete;
  (*out)["unexpected"] = r.unexpected;
  (*out)["first_t_mono_ns"] = TimeOrNull(r.first_t_mono_ns);
  (*out)["last_t_mono_ns"] = TimeOrNull(r.last_t_mono_ns);
  (*out)["from"] = r.from;
  (*out)["t_mono_ns"] = r.t_mono_ns;
}

Status Decode(const json& j, WatchReport* r) {
  constexpr std::string_view w = "watch_result";
  if (Status st = Read(j, w, "active", &r->active); !st.ok()) return st;
  if (Status st = ReadTarget(j, w, &r->spec); !st.ok()) return st;
  if (Status st = Read(j, w, "seen", &r->seen); !st.ok()) return st;
  if (Status st = Read(j, w, "complete", &r->complete); !st.ok()) return st;
  if (Status st = Read(j, w, "unexpected", &r->unexpected); !st.ok()) return st;
  if (Status st = ReadTimeOrNull(j, w, "first_t_mono_ns", &r->first_t_mono_ns); !st.ok()) return st;
  if (Status st = ReadTimeOrNull(j, w, "last_t_mono_ns", &r->last_t_mono_ns); !st.ok()) return st;
  if (Status st = Read(j, w, "from", &r->from); !st.ok()) return st;
  return ReadTimes(j, w, &r->t_mono_ns);
}

}  // namespace internal

// ---- dispatch -------------------------------------------------------------------------------------

std::string_view GenerateOutcomeName(GenerateOutcome outcome) {
  switch (outcome) {
    case GenerateOutcome::kNone: return "none";
    case GenerateOutcome::kRunning: return "running";
    case GenerateOutcome::kDone: return "done";
    case GenerateOutcome::kTimedOut: return "timed_out";
    case GenerateOutcome::kRefused: return "refused";
  }
  return "?";
}

Reply ReplyFor(Op op) {
  switch (op) {
    case Op::kHello: return HelloReply{};
    case Op::kSetDevice:
    case Op::kRemoveDevice:
    case Op::kSetMailbox:
    case Op::kRemoveMailbox:
    case Op::kRegister:
    case Op::kUnregister:
    case Op::kRemoveContact:
    case Op::kSubscribe:
    case Op::kGenerate:
    case Op::kWatch: return TimeReply{};
    case Op::kDevice: return DeviceReply{};
    case Op::kLocate: return LocateReply{};
    case Op::kMembers: return MembersReply{};
    case Op::kStats: return StatsReply{};
    case Op::kDump: return DumpReply{};
    case Op::kSetKeys: return KeysReply{};
    case Op::kStop: return StopReply{};
    case Op::kGenerateResult: return GenerateReport{};
    case Op::kWatchResult: return WatchReport{};
  }
  return StopReply{};
}

nlohmann::json EncodeReply(const Reply& reply) {
  nlohmann::json out = {{"ok", true}};
  std::visit([&out](const auto& r) { internal::Encode(r, &out); }, reply);
  return out;
}

Status DecodeReply(Op op, const nlohmann::json& response, Reply* out) {
  if (std::optional<Error> e = ResponseError(response)) return ToStatus(*e);
  *out = ReplyFor(op);
  return std::visit([&response](auto& r) { return internal::Decode(response, &r); }, *out);
}

nlohmann::json EncodeError(const Error& error) {
  return {{"ok", false}, {"code", std::string(ErrorCodeName(error.code))}, {"error", error.message}};
}

std::optional<Error> ResponseError(const nlohmann::json& response) {
  auto ok = response.find("ok");
  if (!response.is_object() || ok == response.end() || !ok->is_boolean()) {
    return Error{ErrorCode::kBadRequest, "a response without \"ok\": true or false"};
  }
  if (ok->get<bool>()) return std::nullopt;
  const auto code_it = response.find("code");
  const auto error_it = response.find("error");
  std::optional<ErrorCode> code;
  if (code_it != response.end() && code_it->is_string()) code = ParseErrorCode(code_it->get<std::string>());
  std::string message = error_it != response.end() && error_it->is_string() ? error_it->get<std::string>()
                                                                             : "(no sentence)";
  if (!code) return Error{ErrorCode::kBadRequest, "an error response without a known code: " + message};
  return Error{*code, std::move(message)};
}

Status ResponseStatus(const nlohmann::json& response) {
  if (std::optional<Error> e = ResponseError(response)) return ToStatus(*e);
  return Status::Ok();
}

std::string ErrorLine(const Error& error) {
  return EncodeError(error).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string ResponseLine(const nlohmann::json& response, bool* replaced) {
  std::string line = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const bool too_large = line.size() + 1 > kMaxResponseBytes;
  if (replaced != nullptr) *replaced = too_large;
  if (too_large) {
    return ErrorLine({ErrorCode::kTooLarge,
                      "response of " + std::to_string(line.size()) + " bytes exceeds " + std::to_string(kMaxResponseBytes)});
  }
  line += "\n";
  return line;
}

}  // namespace pbxstate::control
