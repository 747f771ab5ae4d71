// Events: a view event is the engine's ViewChange field for field, both ways; members, transport_view and
// events; every kind and cause the engine names decodes (no count kept in the library).
#include "pbxstate/control/events.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace pbxstate::control {
namespace {

using nlohmann::json;

ViewEvent Decoded(const json& line) {
  Event e;
  const Status st = DecodeEvent(json::parse(EventLine(line)), &e);
  EXPECT_TRUE(st.ok()) << st.message() << "\n" << line.dump();
  EXPECT_TRUE(std::holds_alternative<ViewEvent>(e));
  return std::holds_alternative<ViewEvent>(e) ? std::get<ViewEvent>(e) : ViewEvent{};
}

TEST(ControlEvents, ViewEventCarriesViewChangeFieldForField) {
  ViewChange c{};
  c.kind = EntryKind::kDevice;
  c.cause = ChangeCause::kRemote;
  c.key = "PJSIP/alice";
  c.origin = 3;
  c.version = {7, 9};
  c.new_contribution = DeviceState::kRinging;
  c.old_aggregate = DeviceState::kInUse;
  c.new_aggregate = DeviceState::kRingInUse;
  const json e = EncodeViewChange(c, 42);
  EXPECT_EQ(e["event"], "view");
  EXPECT_EQ(e["t_mono_ns"], 42);
  EXPECT_EQ(e["kind"], "device");
  EXPECT_EQ(e["cause"], "remote");
  EXPECT_EQ(e["key"], "PJSIP/alice");
  EXPECT_EQ(e["origin"], 3);
  EXPECT_EQ(e["version"], json::array({7, 9}));
  EXPECT_TRUE(e["old_contribution"].is_null());
  EXPECT_EQ(e["new_contribution"], "RINGING");
  EXPECT_EQ(e["old_aggregate"], "INUSE");
  EXPECT_EQ(e["new_aggregate"], "RINGINUSE");
  const ViewEvent v = Decoded(e);
  EXPECT_EQ(v.t_mono_ns, 42);
  EXPECT_EQ(v.view.change().key, "PJSIP/alice");
  EXPECT_EQ(v.view.change().version, (Version{7, 9}));
  EXPECT_FALSE(v.view.change().old_contribution.has_value());
  EXPECT_EQ(v.view.change().new_aggregate, DeviceState::kRingInUse);
  EXPECT_EQ(EncodeEvent(v), e);

  ViewChange m{};
  m.kind = EntryKind::kMailbox;
  m.cause = ChangeCause::kLocal;
  m.key = "100@default";
  m.origin = 1;
  m.new_mailbox = MailboxValue{{2, 1, 1}, {123, 4}, 1};
  const json me = EncodeViewChange(m, 1);
  EXPECT_TRUE(me["old_mailbox"].is_null());
  EXPECT_EQ(me["new_mailbox"]["urgent"], 1);
  EXPECT_EQ(me["new_mailbox"]["hlc"], json::array({123, 4}));
  EXPECT_FALSE(me.contains("new_aggregate"));
  EXPECT_EQ(Decoded(me).view.change().new_mailbox, m.new_mailbox);

  RegistrationInfo info;
  info.contact = "sip:a@b";
  info.expires = WallTime(Duration(5));
  info.status = ContactStatus::kUnreachable;
  info.path = "<sip:edge1.example.net;lr>";
  info.user_agent = "Yealink SIP-T54W";
  ViewChange r{};
  r.kind = EntryKind::kRegistration;
  r.cause = ChangeCause::kExpiry;
  r.key = "a";
  r.old_registration = &info;
  const json re = EncodeViewChange(r, 1);
  EXPECT_EQ(re["cause"], "expiry");
  EXPECT_EQ(re["old_registration"]["reachable"], false);
  EXPECT_EQ(re["old_registration"]["expires_unix_ns"], 5);
  EXPECT_EQ(re["old_registration"]["path"], info.path);
  EXPECT_EQ(re["old_registration"]["user_agent"], info.user_agent);
  EXPECT_TRUE(re["new_registration"].is_null());
  const ViewEvent rv = Decoded(re);
  ASSERT_NE(rv.view.change().old_registration, nullptr);
  EXPECT_EQ(*rv.view.change().old_registration, info);
  EXPECT_EQ(rv.view.change().new_registration, nullptr);
}

TEST(ControlEvents, OwnedViewChangePointsAtItsOwnStorageAfterCopies) {
  RegistrationInfo info;
  info.contact = "sip:x@y";
  ViewChange c{};
  c.kind = EntryKind::kRegistration;
  c.key = "x";
  c.new_registration = &info;
  OwnedViewChange a(c);
  OwnedViewChange b = a;
  OwnedViewChange moved = std::move(a);
  for (const OwnedViewChange* o : {&b, &moved}) {
    EXPECT_EQ(o->change().key, "x");
    ASSERT_NE(o->change().new_registration, nullptr);
    EXPECT_EQ(o->change().new_registration, &*o->new_registration());
    EXPECT_NE(o->change().new_registration, &info);
  }
  b = moved;
  EXPECT_EQ(b.change().new_registration, &*b.new_registration());
}

TEST(ControlEvents, EveryKindAndCauseTheEngineNamesDecodes) {
  for (EntryKind kind : {EntryKind::kDevice, EntryKind::kMailbox, EntryKind::kRegistration}) {
    for (ChangeCause cause : {ChangeCause::kLocal, ChangeCause::kRemote, ChangeCause::kDeparture, ChangeCause::kRestart,
                              ChangeCause::kExpiry}) {
      ViewChange c{};
      c.kind = kind;
      c.cause = cause;
      c.key = "k";
      const ViewEvent v = Decoded(EncodeViewChange(c, 9));
      EXPECT_EQ(v.view.change().kind, kind);
      EXPECT_EQ(v.view.change().cause, cause);
    }
  }
  json bad = EncodeViewChange(ViewChange{}, 1);
  bad["cause"] = "mystery";
  Event e;
  const Status st = DecodeEvent(bad, &e);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("field 'cause': unknown value 'mystery'"), std::string::npos) << st.message();
  bad["cause"] = "?";  // the engine's name for no such value is not a value
  EXPECT_FALSE(DecodeEvent(bad, &e).ok());
}

TEST(ControlEvents, MembersTransportViewAndStoppingEvents) {
  Event e;
  ASSERT_TRUE(DecodeEvent(EncodeEvent(MembersEvent{5, {1, 3}, 12}), &e).ok());
  ASSERT_TRUE(std::holds_alternative<MembersEvent>(e));
  EXPECT_EQ(std::get<MembersEvent>(e).members, (std::vector<NodeId>{1, 3}));
  EXPECT_EQ(std::get<MembersEvent>(e).view_id, 12u);
  const json view = EncodeEvent(TransportViewEvent{9, 4, {1, 2}});
  EXPECT_EQ(view, (json{{"event", "transport_view"}, {"t_mono_ns", 9}, {"view_id", 4}, {"members", {1, 2}}}));
  ASSERT_TRUE(DecodeEvent(view, &e).ok());
  ASSERT_TRUE(std::holds_alternative<TransportViewEvent>(e));
  EXPECT_EQ(std::get<TransportViewEvent>(e).t_mono_ns, 9);
  EXPECT_EQ(std::get<TransportViewEvent>(e).view_id, 4u);
  EXPECT_EQ(std::get<TransportViewEvent>(e).members, (std::vector<NodeId>{1, 2}));
  json no_members = view;
  no_members.erase("members");
  const Status missing = DecodeEvent(no_members, &e);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("members"), std::string::npos) << missing.message();
  const json stopping = EncodeEvent(StoppingEvent{77});
  EXPECT_EQ(stopping, (json{{"event", "stopping"}, {"t_mono_ns", 77}}));
  ASSERT_TRUE(DecodeEvent(stopping, &e).ok());
  EXPECT_EQ(std::get<StoppingEvent>(e).t_mono_ns, 77);
  const Status st = DecodeEvent(json{{"event", "overflow"}}, &e);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown event 'overflow'"), std::string::npos);
}

}  // namespace
}  // namespace pbxstate::control
