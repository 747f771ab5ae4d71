#include "pbxstate/control/events.h"

#include "json_fields.h"

namespace pbxstate::control {

using internal::json;

// ---- OwnedViewChange ------------------------------------------------------------------------------

OwnedViewChange::OwnedViewChange(const ViewChange& c)
    : key_(c.key),
      old_registration_(c.old_registration != nullptr ? std::optional(*c.old_registration) : std::nullopt),
      new_registration_(c.new_registration != nullptr ? std::optional(*c.new_registration) : std::nullopt),
      change_(c) {
  Bind();
}

OwnedViewChange::OwnedViewChange(const OwnedViewChange& other)
    : key_(other.key_),
      old_registration_(other.old_registration_),
      new_registration_(other.new_registration_),
      change_(other.change_) {
  Bind();
}

OwnedViewChange& OwnedViewChange::operator=(const OwnedViewChange& other) {
  if (this != &other) {
    key_ = other.key_;
    old_registration_ = other.old_registration_;
    new_registration_ = other.new_registration_;
    change_ = other.change_;
    Bind();
  }
  return *this;
}

OwnedViewChange::OwnedViewChange(OwnedViewChange&& other) noexcept
    : key_(std::move(other.key_)),
      old_registration_(std::move(other.old_registration_)),
      new_registration_(std::move(other.new_registration_)),
      change_(other.change_) {
  Bind();
  other.Bind();
}

OwnedViewChange& OwnedViewChange::operator=(OwnedViewChange&& other) noexcept {
  if (this != &other) {
    key_ = std::move(other.key_);
    old_registration_ = std::move(other.old_registration_);
    new_registration_ = std::move(other.new_registration_);
    change_ = other.change_;
    Bind();
    other.Bind();
  }
  return *this;
}

void OwnedViewChange::set_key(std::string key) {
  key_ = std::move(key);
  Bind();
}

void OwnedViewChange::set_registrations(std::optional<RegistrationInfo> old_registration,
                                        std::optional<RegistrationInfo> new_registration) {
  old_registration_ = std::move(old_registration);
  new_registration_ = std::move(new_registration);
  Bind();
}

void OwnedViewChange::Bind() {
  change_.key = key_;
  change_.old_registration = old_registration_ ? &*old_registration_ : nullptr;
  change_.new_registration = new_registration_ ? &*new_registration_ : nullptr;
}

// ---- encoding -------------------------------------------------------------------------------------

json EncodeViewChange(const ViewChange& c, std::int64_t t_mono_ns) {
  using internal::StateOrNull;
  json e = {{"event", "view"},
            {"t_mono_ns", t_mono_ns},
            {"kind", std::string(EntryKindName(c.kind))},
            {"cause", std::string(ChangeCauseName(c.cause))},
            {"key", std::string(c.key)},
            {"origin", c.origin},
            {"version", internal::VersionJson(c.version)}};
  switch (c.kind) {
    case EntryKind::kDevice:
      e["old_contribution"] = StateOrNull(c.old_contribution);
      e["new_contribution"] = StateOrNull(c.new_contribution);
      e["old_aggregate"] = StateOrNull(c.old_aggregate);
      e["new_aggregate"] = StateOrNull(c.new_aggregate);
      break;
    case EntryKind::kMailbox:
      e["old_mailbox"] = c.old_mailbox ? internal::MailboxJson(*c.old_mailbox) : json(nullptr);
      e["new_mailbox"] = c.new_mailbox ? internal::MailboxJson(*c.new_mailbox) : json(nullptr);
      break;
    case EntryKind::kRegistration:
      e["old_registration"] = c.old_registration != nullptr ? internal::RegistrationJson(*c.old_registration) : json(nullptr);
      e["new_registration"] = c.new_registration != nullptr ? internal::RegistrationJson(*c.new_registration) : json(nullptr);
      break;
  }
  return e;
}

json EncodeEvent(const Event& event) {
  struct Encoder {
    json operator()(const ViewEvent& e) const { return EncodeViewChange(e.view.change(), e.t_mono_ns); }
    json operator()(const MembersEvent& e) const {
      return {{"event", "members"}, {"t_mono_ns", e.t_mono_ns}, {"members", e.members}, {"view_id", e.view_id}};
    }
    json operator()(const TransportViewEvent& e) const {
      return {{"event", "transport_view"}, {"t_mono_ns", e.t_mono_ns}, {"view_id", e.view_id}, {"members", e.members}};
    }
    json operator()(const StoppingEvent& e) const { return {{"event", "stopping"}, {"t_mono_ns", e.t_mono_ns}}; }
  };
  return std::visit(Encoder{}, event);
}

std::string EventLine(const json& event) {
  return event.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// ---- decoding -------------------------------------------------------------------------------------

namespace {

constexpr std::string_view kWhere = "view event";

Status DecodeDeviceFields(const json& e, ViewChange* c) {
  for (auto [field, slot] : {std::pair{"old_contribution", &c->old_contribution},
                             std::pair{"new_contribution", &c->new_contribution},
                             std::pair{"old_aggregate", &c->old_aggregate}, std::pair{"new_aggregate", &c->new_aggregate}}) {
    if (Status st = internal::ReadStateOrNull(e, kWhere, field, slot); !st.ok()) return st;
  }
  return Status::Ok();
}

Status DecodeMailboxFields(const json& e, ViewChange* c) {
  for (auto [field, slot] : {std::pair{"old_mailbox", &c->old_mailbox}, std::pair{"new_mailbox", &c->new_mailbox}}) {
    auto it = e.find(field);
    if (it == e.end()) return internal::FieldError(kWhere, field, "missing (a mailbox or null)");
    if (it->is_null()) continue;
    MailboxValue v;
    if (Status st = internal::ReadMailbox(*it, std::string(kWhere) + " " + field, &v); !st.ok()) return st;
    *slot = v;
  }
  return Status::Ok();
}

Status DecodeRegistrationFields(const json& e, OwnedViewChange* out) {
  std::optional<RegistrationInfo> regs[2];
  const char* fields[2] = {"old_registration", "new_registration"};
  for (int i = 0; i < 2; ++i) {
    auto it = e.find(fields[i]);
    if (it == e.end()) return internal::FieldError(kWhere, fields[i], "missing (a registration or null)");
    if (it->is_null()) continue;
    RegistrationInfo r;
    if (Status st = internal::ReadRegistration(*it, std::string(kWhere) + " " + fields[i], &r); !st.ok()) return st;
    regs[i] = std::move(r);
  }
  out->set_registrations(std::move(regs[0]), std::move(regs[1]));
  return Status::Ok();
}

Status DecodeView(const json& e, ViewEvent* out) {
  ViewChange& c = out->view.mutable_change();
  std::string key;
  if (Status st = internal::Read(e, kWhere, "t_mono_ns", &out->t_mono_ns); !st.ok()) return st;
  if (Status st = internal::ReadEnum(e, kWhere, "kind", EntryKindName, &c.kind); !st.ok()) return st;
  if (Status st = internal::ReadEnum(e, kWhere, "cause", ChangeCauseName, &c.cause); !st.ok()) return st;
  if (Status st = internal::Read(e, kWhere, "key", &key); !st.ok()) return st;
  if (Status st = internal::Read(e, kWhere, "origin", &c.origin); !st.ok()) return st;
  if (Status st = internal::ReadVersion(e, kWhere, "version", &c.version); !st.ok()) return st;
  out->view.set_key(std::move(key));
  switch (c.kind) {
    case EntryKind::kDevice: return DecodeDeviceFields(e, &c);
    case EntryKind::kMailbox: return DecodeMailboxFields(e, &c);
    case EntryKind::kRegistration: return DecodeRegistrationFields(e, &out->view);
  }
  return Status::Ok();
}

}  // namespace

Status DecodeEvent(const json& line, Event* out) {
  std::string kind;
  if (Status st = internal::Read(line, "event", "event", &kind); !st.ok()) return st;
  if (kind == "view") {
    ViewEvent v;
    if (Status st = DecodeView(line, &v); !st.ok()) return st;
    *out = std::move(v);
    return Status::Ok();
  }
  if (kind == "members") {
    MembersEvent m;
    if (Status st = internal::Read(line, "members event", "t_mono_ns", &m.t_mono_ns); !st.ok()) return st;
    if (Status st = internal::ReadNodes(line, "members event", "members", &m.members); !st.ok()) return st;
    if (Status st = internal::Read(line, "members event", "view_id", &m.view_id); !st.ok()) return st;
    *out = std::move(m);
    return Status::Ok();
  }
  if (kind == "transport_view") {
    TransportViewEvent v;
    if (Status st = internal::Read(line, "transport_view event", "t_mono_ns", &v.t_mono_ns); !st.ok()) return st;
    if (Status st = internal::Read(line, "transport_view event", "view_id", &v.view_id); !st.ok()) return st;
    if (Status st = internal::ReadNodes(line, "transport_view event", "members", &v.members); !st.ok()) return st;
    *out = std::move(v);
    return Status::Ok();
  }
  if (kind == "stopping") {
    StoppingEvent s;
    if (Status st = internal::Read(line, "stopping event", "t_mono_ns", &s.t_mono_ns); !st.ok()) return st;
    *out = s;
    return Status::Ok();
  }
  return internal::FieldError("event", "event", "unknown event '" + kind + "'");
}

}  // namespace pbxstate::control
