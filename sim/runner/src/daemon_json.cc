#include "daemon_json.h"

#include <utility>

#include "pbxstate/harness/slots.h"

namespace pbxstate::runner::daemon_json {
namespace {

using nlohmann::json;

Status Missing(const std::string& where, const std::string& field, const std::string& what) {
  return Status::InvalidArgument("pbxstated " + where + ": field '" + field + "': " + what);
}

template <typename T>
Status Get(const json& j, const std::string& where, const char* field, T* out) {
  auto it = j.find(field);
  if (it == j.end()) return Missing(where, field, "missing");
  try {
    *out = it->get<T>();
  } catch (const json::exception& e) {
    return Missing(where, field, e.what());
  }
  return Status::Ok();
}

Status State(const json& j, const std::string& where, const char* field, std::optional<DeviceState>* out) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    *out = std::nullopt;
    return Status::Ok();
  }
  if (!it->is_string()) return Missing(where, field, "not a state name");
  *out = ParseDeviceState(it->get<std::string>());
  if (!*out) return Missing(where, field, "unknown state " + it->get<std::string>());
  return Status::Ok();
}

Status ParseVersion(const json& j, const std::string& where, const char* field, Version* out) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_array() || it->size() != 2) return Missing(where, field, "expected [incarnation, sequence]");
  out->incarnation = (*it)[0].get<std::uint64_t>();
  out->sequence = (*it)[1].get<std::uint64_t>();
  return Status::Ok();
}

Status ParseMailbox(const json& m, const std::string& where, MailboxValue* out) {
  if (Status st = Get(m, where, "new", &out->counts.new_messages); !st.ok()) return st;
  if (Status st = Get(m, where, "old", &out->counts.old_messages); !st.ok()) return st;
  if (Status st = Get(m, where, "urgent", &out->counts.urgent_messages); !st.ok()) return st;
  if (Status st = Get(m, where, "writer", &out->writer); !st.ok()) return st;
  auto h = m.find("hlc");
  if (h == m.end() || !h->is_array() || h->size() != 2) return Missing(where, "hlc", "expected [physical_ns, logical]");
  out->hlc.physical_ns = (*h)[0].get<std::int64_t>();
  out->hlc.logical = (*h)[1].get<std::uint32_t>();
  return Status::Ok();
}

Status ParseRegistration(const json& r, const std::string& where, const WallMapping& wall, RegistrationInfo* out) {
  if (Status st = Get(r, where, "contact", &out->contact); !st.ok()) return st;
  std::int64_t expires = 0;
  if (Status st = Get(r, where, "expires_unix_ns", &expires); !st.ok()) return st;
  out->expires = wall.FromUnix(expires);
  bool reachable = true;
  if (Status st = Get(r, where, "reachable", &reachable); !st.ok()) return st;
  out->status = reachable ? ContactStatus::kReachable : ContactStatus::kUnreachable;
  out->rtt_us = r.value("rtt_us", std::uint32_t{0});
  return Status::Ok();
}

template <typename E>
Status ParseName(const json& e, const std::string& where, const char* field, std::string_view (*name)(E), int count,
                 E* out) {
  std::string s;
  if (Status st = Get(e, where, field, &s); !st.ok()) return st;
  for (int i = 0; i < count; ++i) {
    if (name(static_cast<E>(i)) == s) {
      *out = static_cast<E>(i);
      return Status::Ok();
    }
  }
  return Missing(where, field, "unknown value " + s);
}

}  // namespace

std::int64_t WallMapping::ToUnix(WallTime harness) const {
  return realtime_at_start_ns + (harness - kSimEpoch).count();
}

WallTime WallMapping::FromUnix(std::int64_t unix_ns) const {
  return kSimEpoch + Duration(unix_ns - realtime_at_start_ns);
}

void OwnedViewChange::Bind() {
  change.key = key;
  change.old_registration = old_registration ? &*old_registration : nullptr;
  change.new_registration = new_registration ? &*new_registration : nullptr;
}

Status ParseViewEvent(const json& e, const WallMapping& wall, OwnedViewChange* out) {
  const std::string where = "view event";
  *out = OwnedViewChange{};
  ViewChange& c = out->change;
  if (Status st = ParseName<EntryKind>(e, where, "kind", EntryKindName, 3, &c.kind); !st.ok()) return st;
  if (Status st = ParseName<ChangeCause>(e, where, "cause", ChangeCauseName, 5, &c.cause); !st.ok()) return st;
  if (Status st = Get(e, where, "key", &out->key); !st.ok()) return st;
  if (Status st = Get(e, where, "origin", &c.origin); !st.ok()) return st;
  if (c.kind != EntryKind::kMailbox) {
    if (Status st = ParseVersion(e, where, "version", &c.version); !st.ok()) return st;
  }
  switch (c.kind) {
    case EntryKind::kDevice:
      for (auto [field, slot] : {std::pair{"old_contribution", &c.old_contribution}, std::pair{"new_contribution", &c.new_contribution},
                                 std::pair{"old_aggregate", &c.old_aggregate}, std::pair{"new_aggregate", &c.new_aggregate}}) {
        if (Status st = State(e, where, field, slot); !st.ok()) return st;
      }
      break;
    case EntryKind::kMailbox:
      for (auto [field, slot] : {std::pair{"old_mailbox", &c.old_mailbox}, std::pair{"new_mailbox", &c.new_mailbox}}) {
        auto it = e.find(field);
        if (it == e.end() || it->is_null()) continue;
        MailboxValue v;
        if (Status st = ParseMailbox(*it, where + " " + field, &v); !st.ok()) return st;
        *slot = v;
      }
      break;
    case EntryKind::kRegistration:
      for (auto [field, slot] : {std::pair{"old_registration", &out->old_registration},
                                 std::pair{"new_registration", &out->new_registration}}) {
        auto it = e.find(field);
        if (it == e.end() || it->is_null()) continue;
        RegistrationInfo r;
        if (Status st = ParseRegistration(*it, where + " " + field, wall, &r); !st.ok()) return st;
        *slot = std::move(r);
      }
      break;
  }
  out->Bind();
  return Status::Ok();
}

Status ParseEngineStats(const json& j, EngineStats* s) {
  const std::string where = "stats.engine";
  if (!j.is_object()) return Missing(where, "engine", "not an object");
  for (const EngineStatField& f : EngineStatFields()) {
    const std::string name(f.name);
    if (Status st = Get(j, where, name.c_str(), &(s->*f.member)); !st.ok()) return st;
  }
  auto d = j.find("dropped");
  if (d == j.end() || !d->is_object()) return Missing(where, "dropped", "expected an object by reason name");
  for (int i = 0; i < kDropReasonCount; ++i) {
    const std::string reason(DropReasonName(static_cast<DropReason>(i)));
    if (Status st = Get(*d, where + ".dropped", reason.c_str(), &s->dropped[static_cast<std::size_t>(i)]); !st.ok()) return st;
  }
  return Status::Ok();
}

Status ParseFinalView(const json& dump, const json& stats_engine, const WallMapping& wall, harness::FinalView* out) {
  *out = harness::FinalView{};
  if (Status st = ParseEngineStats(stats_engine, &out->stats); !st.ok()) return st;
  const std::string where = "dump";
  auto dg = dump.find("digest");
  if (dg == dump.end() || !dg->is_object()) return Missing(where, "digest", "expected an object");
  if (Status st = Get(*dg, where + ".digest", "hash", &out->digest); !st.ok()) return st;
  for (const char* list : {"devices", "registrations", "mailboxes"}) {
    if (!dump.contains(list) || !dump[list].is_array()) return Missing(where, list, "expected an array");
  }
  for (const json& d : dump["devices"]) {
    harness::FinalView::Device dev;
    if (Status st = Get(d, where + ".devices", "device", &dev.name); !st.ok()) return st;
    if (Status st = State(d, where + ".devices", "aggregate", &dev.aggregate); !st.ok()) return st;
    if (!d.contains("contributions") || !d["contributions"].is_array()) return Missing(where + ".devices", "contributions", "expected an array");
    for (const json& c : d["contributions"]) {
      DeviceContribution dc{};
      std::optional<DeviceState> state;
      if (Status st = Get(c, where + ".contributions", "node", &dc.node); !st.ok()) return st;
      if (Status st = State(c, where + ".contributions", "state", &state); !st.ok()) return st;
      if (!state) return Missing(where + ".contributions", "state", "missing");
      dc.state = *state;
      if (Status st = ParseVersion(c, where + ".contributions", "version", &dc.version); !st.ok()) return st;
      dev.contributions.push_back(dc);
    }
    if (!dev.contributions.empty()) out->devices.push_back(std::move(dev));
  }
  for (const json& r : dump["registrations"]) {
    harness::FinalView::Registration reg;
    if (Status st = Get(r, where + ".registrations", "aor", &reg.aor); !st.ok()) return st;
    if (Status st = Get(r, where + ".registrations", "node", &reg.view.node); !st.ok()) return st;
    if (Status st = ParseRegistration(r, where + ".registrations", wall, &reg.view.info); !st.ok()) return st;
    if (Status st = ParseVersion(r, where + ".registrations", "version", &reg.view.version); !st.ok()) return st;
    out->registrations.push_back(std::move(reg));
  }
  for (const json& m : dump["mailboxes"]) {
    harness::FinalView::Mailbox mb;
    if (Status st = Get(m, where + ".mailboxes", "mailbox", &mb.mailbox); !st.ok()) return st;
    if (Status st = ParseMailbox(m, where + ".mailboxes", &mb.value); !st.ok()) return st;
    out->mailboxes.push_back(std::move(mb));
  }
  return Status::Ok();
}

}  // namespace pbxstate::runner::daemon_json
