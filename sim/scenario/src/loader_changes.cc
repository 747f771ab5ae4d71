// workload.changes: one change at a given time on a given node, of a device's state, a
// mailbox's counts, or an AOR's registration (set or removed).
#include "loader_impl.h"

namespace pbxstate::scenario::detail {

std::optional<TimedChange> Loader::ReadChange(const Field& f) {
  MapReader m(f, d_, "a change: a mapping with at, node and device, mailbox or aor");
  if (!m.ok()) return std::nullopt;
  TimedChange c;
  c.pos = PosOf(f);
  bool ok = true;
  const bool is_device = m.Has("device"), is_mailbox = m.Has("mailbox"), is_aor = m.Has("aor");
  const int kinds = int{is_device} + int{is_mailbox} + int{is_aor};
  if (kinds != 1) {
    d_.Error(f.mark, f.path,
             kinds == 0 ? "missing required key 'device', 'mailbox' or 'aor'; expected what the "
                          "change is about"
                        : "expected only one of 'device', 'mailbox' or 'aor' in one change");
    m.AllowOnly({"at", "node", "device", "state", "mailbox", "new", "old", "urgent", "aor",
                 "contact", "expires", "status", "remove"});
    return std::nullopt;
  }
  if (auto v = m.Get("at")) change_at_fields_.push_back(*v);
  if (auto v = m.Get("node")) change_node_fields_.push_back(*v);
  if (auto x = m.RequireValue("at", "the time of the change, e.g. 2s",
                              [&](const Field& v) { return ReadTime(v); })) {
    c.at = *x;
  } else {
    ok = false;
  }
  if (auto x = m.RequireValue("node", "the node that makes the change",
                              [&](const Field& v) { return ReadNode(v); })) {
    c.node = *x;
  } else {
    ok = false;
  }
  if (is_device) {
    ok = ReadDeviceChange(m, c) && ok;
  } else if (is_mailbox) {
    ok = ReadMailboxChange(m, c) && ok;
  } else if (m.Has("remove")) {
    ok = ReadRegistrationRemove(m, c) && ok;
  } else {
    ok = ReadRegistrationSet(m, c) && ok;
  }
  if (!ok) return std::nullopt;
  return c;
}

bool Loader::ReadDeviceChange(MapReader& m, TimedChange& c) {
  bool ok = m.AllowOnly({"at", "node", "device", "state"});
  DeviceChange dc;
  if (auto x = ReadKey(*m.Get("device"), "a device name")) dc.device = *x; else ok = false;
  if (auto v = m.Require("state", "the device state, e.g. INUSE")) {
    if (auto st = ParseDeviceStateName(v->node)) {
      dc.state = *st;
    } else {
      d_.Error(v->mark, v->path, std::string(kExpectedDeviceState) + Describe(v->node));
      ok = false;
    }
  } else {
    ok = false;
  }
  c.what = dc;
  return ok;
}

bool Loader::ReadMailboxChange(MapReader& m, TimedChange& c) {
  bool ok = m.AllowOnly({"at", "node", "mailbox", "new", "old", "urgent"});
  MailboxChange mc;
  const Field mf = *m.Get("mailbox");
  if (auto x = ReadKey(mf, "a mailbox")) {
    const auto at = x->find('@');
    if (at == 0 || at == std::string::npos || at + 1 == x->size()) {
      d_.Error(mf.mark, mf.path,
               "expected a mailbox as 'mailbox@context', got " + Describe(mf.node));
      ok = false;
    }
    mc.mailbox = *x;
  } else {
    ok = false;
  }
  ok = m.ReadIfPresent("new", mc.counts.new_messages, UintIn(d_, 0, kMaxMessages)) && ok;
  ok = m.ReadIfPresent("old", mc.counts.old_messages, UintIn(d_, 0, kMaxMessages)) && ok;
  ok = m.ReadIfPresent("urgent", mc.counts.urgent_messages, UintIn(d_, 0, kMaxMessages)) && ok;
  c.what = mc;
  return ok;
}

bool Loader::ReadRegistrationRemove(MapReader& m, TimedChange& c) {
  bool ok = m.AllowOnly({"at", "node", "aor", "contact", "remove"});
  RegistrationRemove rr;
  if (auto x = ReadKey(*m.Get("aor"), "an AOR")) rr.aor = *x; else ok = false;
  if (auto v = m.Get("contact")) {
    if (auto x = ReadContact(*v)) rr.contact = *x; else ok = false;
  }
  const Field rf = *m.Get("remove");
  if (auto x = ReadBool(rf, d_); x && !*x) {
    d_.Error(rf.mark, rf.path,
             "expected remove: true (leave it out to add or refresh a registration)");
    ok = false;
  } else if (!x) {
    ok = false;
  }
  c.what = rr;
  return ok;
}

bool Loader::ReadRegistrationSet(MapReader& m, TimedChange& c) {
  bool ok = m.AllowOnly({"at", "node", "aor", "contact", "expires", "status"});
  RegistrationSet rs;
  rs.expires = s_.workload.registration_expiry;
  if (auto x = ReadKey(*m.Get("aor"), "an AOR")) rs.aor = *x; else ok = false;
  if (auto v = m.Require("contact", "the contact URI, e.g. sip:alice@198.18.0.7:5060")) {
    if (auto x = ReadContact(*v)) rs.contact = *x; else ok = false;
  } else {
    ok = false;
  }
  if (auto v = m.Get("expires")) {
    if (auto x = ReadDuration(*v, d_, 1s, kMaxExpiry)) {
      rs.expires = *x;
      expiry_uses_.emplace_back(*v, *x);
    } else {
      ok = false;
    }
  }
  ok = m.ReadIfPresent("status", rs.status,
                       [&](const Field& v) {
                         return ReadEnum(v, d_, {"reachable", "unreachable"});
                       }) &&
       ok;
  c.what = rs;
  return ok;
}

std::optional<std::string> Loader::ReadContact(const Field& v) {
  constexpr std::string_view kSipUri = "a SIP URI (sip:... or sips:...)";
  auto x = ReadString(v, d_, "a contact URI");
  if (x && x->rfind("sip:", 0) != 0 && x->rfind("sips:", 0) != 0) {
    d_.Error(v.mark, v.path, "expected " + std::string(kSipUri) + " without spaces, got " + Describe(v.node));
    return std::nullopt;
  }
  if (x && !CheckKeyText(v, *x, kSipUri)) return std::nullopt;
  if (x) contact_uses_.push_back({v, x->size(), "a contact"});
  return x;
}

}  // namespace pbxstate::scenario::detail
