#include "control_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace pbxstate::daemon {
namespace {

using nlohmann::json;

Request MustParse(std::string_view line) {
  auto r = ParseRequest(line);
  if (auto* e = std::get_if<ControlError>(&r)) ADD_FAILURE() << line << ": " << e->message;
  return std::get_if<Request>(&r) != nullptr ? std::get<Request>(r) : Request{};
}

ControlError MustFail(std::string_view line) {
  auto r = ParseRequest(line);
  EXPECT_TRUE(std::holds_alternative<ControlError>(r)) << line;
  return std::holds_alternative<ControlError>(r) ? std::get<ControlError>(r) : ControlError{};
}

TEST(ControlProtocol, ParsesEveryOp) {
  EXPECT_EQ(MustParse(R"({"op":"hello"})").op, Op::kHello);
  Request r = MustParse(R"({"op":"set_device","device":"Custom:mystate","state":"inuse"})");
  EXPECT_EQ(r.op, Op::kSetDevice);
  EXPECT_EQ(r.device, "Custom:mystate");
  EXPECT_EQ(r.state, DeviceState::kInUse);
  r = MustParse(R"({"op":"set_mailbox","mailbox":"100@default","new":2,"old":1})");
  EXPECT_EQ(r.op, Op::kSetMailbox);
  EXPECT_EQ(r.counts, (MailboxCounts{2, 1, 0}));
  r = MustParse(R"({"op":"register","aor":"alice","contact":"sip:alice@198.18.0.7","expires_unix_ns":1800000000000000000,"reachable":false,"rtt_us":1500})");
  EXPECT_EQ(r.op, Op::kRegister);
  EXPECT_EQ(r.expires_unix_ns, 1800000000000000000);
  EXPECT_FALSE(r.reachable);
  EXPECT_EQ(r.rtt_us, 1500u);
  EXPECT_EQ(MustParse(R"({"op":"unregister","aor":"alice"})").aor, "alice");
  EXPECT_EQ(MustParse(R"({"op":"device","device":"x"})").op, Op::kDevice);
  EXPECT_EQ(MustParse(R"({"op":"members"})").op, Op::kMembers);
  EXPECT_EQ(MustParse(R"({"op":"stats"})").op, Op::kStats);
  EXPECT_EQ(MustParse(R"({"op":"dump"})").op, Op::kDump);
  EXPECT_EQ(MustParse(R"({"op":"subscribe"})").op, Op::kSubscribe);
  EXPECT_EQ(MustParse(R"({"op":"stop"})").op, Op::kStop);
  r = MustParse(R"({"op":"set_keys","key_file":"/etc/new.key","previous_key_file":"/etc/old.key"})");
  EXPECT_EQ(r.op, Op::kSetKeys);
  EXPECT_EQ(r.key_file, "/etc/new.key");
  EXPECT_EQ(r.previous_key_file, "/etc/old.key");
  EXPECT_EQ(MustParse(R"({"op":"set_keys","key_file":"/k"})").previous_key_file, "");
}

TEST(ControlProtocol, ErrorsAreBadRequestsNamingTheField) {
  struct Case {
    const char* line;
    const char* mentions;
  };
  const Case cases[] = {
      {"not json", "not JSON"},
      {"[1,2]", "JSON object"},
      {R"({"device":"x"})", "'op'"},
      {R"({"op":"fly"})", "unknown op 'fly'"},
      {R"({"op":"set_device","state":"INUSE"})", "'device' is required"},
      {R"({"op":"set_device","device":"x","state":"SLEEPING"})", "'state': 'SLEEPING'"},
      {R"({"op":"set_device","device":7,"state":"INUSE"})", "'device' must be a string"},
      {R"({"op":"set_mailbox","mailbox":"1@d","new":-1,"old":0})", "'new' must be an integer"},
      {R"({"op":"set_mailbox","mailbox":"1@d","new":1,"old":4294967296})", "'old' must be an integer"},
      {R"({"op":"set_mailbox","mailbox":"1@d","new":1.5,"old":0})", "'new'"},
      {R"({"op":"register","aor":"a","contact":"c"})", "'expires_unix_ns' is required"},
      {R"({"op":"register","aor":"a","contact":"c","expires_unix_ns":"soon"})", "'expires_unix_ns' must be an integer"},
      {R"({"op":"register","aor":"a","contact":"c","expires_unix_ns":1,"reachable":"yes"})", "'reachable'"},
      {R"({"op":"set_keys"})", "'key_file' is required"},
      {R"({"op":"set_keys","key_file":""})", "'key_file' must name a cluster key file"},
      {R"({"op":"set_keys","key_file":"/k","previous_key_file":3})", "'previous_key_file' must be a string"},
  };
  for (const Case& c : cases) {
    const ControlError e = MustFail(c.line);
    EXPECT_EQ(e.code, ControlCode::kBadRequest) << c.line;
    EXPECT_NE(e.message.find(c.mentions), std::string::npos) << c.line << " -> " << e.message;
  }
  const ControlError e = MustFail(std::string(kMaxRequestLineBytes + 1, ' '));
  EXPECT_NE(e.message.find("longer than"), std::string::npos);
}

TEST(ControlProtocol, ErrorLineAndStatusMapping) {
  const json j = json::parse(ErrorLine({ControlCode::kResourceExhausted, "too many"}));
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["code"], "resource_exhausted");
  EXPECT_EQ(j["error"], "too many");
  EXPECT_EQ(FromStatus(Status::InvalidArgument("k")).code, ControlCode::kInvalidArgument);
  EXPECT_EQ(FromStatus(Status::ResourceExhausted("k")).code, ControlCode::kResourceExhausted);
  EXPECT_EQ(FromStatus(Status::FailedPrecondition("k")).code, ControlCode::kFailedPrecondition);
}

TEST(ControlProtocol, ViewEventCarriesViewChangeFieldForField) {
  ViewChange c{};
  c.kind = EntryKind::kDevice;
  c.cause = ChangeCause::kRemote;
  c.key = "PJSIP/alice";
  c.origin = 3;
  c.version = {7, 9};
  c.old_contribution = std::nullopt;
  c.new_contribution = DeviceState::kRinging;
  c.old_aggregate = DeviceState::kInUse;
  c.new_aggregate = DeviceState::kRingInUse;
  const json e = ViewEvent(c, 42);
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

  ViewChange m{};
  m.kind = EntryKind::kMailbox;
  m.cause = ChangeCause::kLocal;
  m.key = "100@default";
  m.origin = 1;
  m.new_mailbox = MailboxValue{{2, 1, 1}, {123, 4}, 1};
  const json me = ViewEvent(m, 1);
  EXPECT_TRUE(me["old_mailbox"].is_null());
  EXPECT_EQ(me["new_mailbox"]["urgent"], 1);
  EXPECT_EQ(me["new_mailbox"]["hlc"], json::array({123, 4}));
  EXPECT_FALSE(me.contains("new_aggregate"));

  RegistrationInfo info;
  info.contact = "sip:a@b";
  info.expires = WallTime(Duration(5));
  info.status = ContactStatus::kUnreachable;
  ViewChange r{};
  r.kind = EntryKind::kRegistration;
  r.cause = ChangeCause::kExpiry;
  r.key = "a";
  r.old_registration = &info;
  const json re = ViewEvent(r, 1);
  EXPECT_EQ(re["cause"], "expiry");
  EXPECT_EQ(re["old_registration"]["reachable"], false);
  EXPECT_EQ(re["old_registration"]["expires_unix_ns"], 5);
  EXPECT_TRUE(re["new_registration"].is_null());
}

TEST(ControlProtocol, StatsNameEveryDropReason) {
  EngineStats s;
  s.dropped[static_cast<int>(DropReason::kNotMember)] = 4;
  const json j = StatsJson(s);
  EXPECT_EQ(j["dropped"].size(), static_cast<std::size_t>(kDropReasonCount));
  EXPECT_EQ(j["dropped"][std::string(DropReasonName(DropReason::kNotMember))], 4);
  EXPECT_EQ(j["total_dropped"], 4);
}

TEST(ControlProtocol, OversizedResponseBecomesTooLarge) {
  const json big = {{"ok", true}, {"blob", std::string(kMaxResponseBytes, 'x')}};
  bool replaced = false;
  const json j = json::parse(ResponseLine(big, &replaced));
  EXPECT_TRUE(replaced);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["code"], "too_large");
  const std::string small = ResponseLine({{"ok", true}}, &replaced);
  EXPECT_FALSE(replaced);
  EXPECT_EQ(small, "{\"ok\":true}\n");
}

}  // namespace
}  // namespace pbxstate::daemon
