// Requests: every op parsed and encoded, the parser's errors naming the field, the error codes.
#include "pbxstate/control/protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "pbxstate/control/replies.h"

namespace pbxstate::control {
namespace {

using nlohmann::json;

Request MustParse(std::string_view line) {
  auto r = ParseRequest(line);
  if (auto* e = std::get_if<Error>(&r)) ADD_FAILURE() << line << ": " << e->message;
  return std::get_if<Request>(&r) != nullptr ? std::get<Request>(r) : Request{};
}

Error MustFail(std::string_view line) {
  auto r = ParseRequest(line);
  EXPECT_TRUE(std::holds_alternative<Error>(r)) << line;
  return std::holds_alternative<Error>(r) ? std::get<Error>(r) : Error{};
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
  EXPECT_EQ(r.path, "");
  EXPECT_EQ(r.user_agent, "");
  r = MustParse(R"({"op":"register","aor":"alice","contact":"sip:alice@198.18.0.7","expires_unix_ns":1,"path":"<sip:edge1;lr>","user_agent":"Yealink SIP-T54W"})");
  EXPECT_EQ(r.path, "<sip:edge1;lr>");
  EXPECT_EQ(r.user_agent, "Yealink SIP-T54W");
  EXPECT_EQ(MustParse(R"({"op":"remove_contact","aor":"alice","contact":"sip:alice@198.18.0.7"})"),
            Request::RemoveContact("alice", "sip:alice@198.18.0.7"));
  EXPECT_EQ(MustParse(R"({"op":"unregister","aor":"alice"})").aor, "alice");
  EXPECT_EQ(MustParse(R"({"op":"remove_device","device":"PJSIP/alice"})").device, "PJSIP/alice");
  EXPECT_EQ(MustParse(R"({"op":"remove_mailbox","mailbox":"100@default"})").mailbox, "100@default");
  EXPECT_EQ(MustParse(R"({"op":"device","device":"x"})").op, Op::kDevice);
  EXPECT_EQ(MustParse(R"({"op":"locate","aor":"alice"})"), Request::Locate("alice"));
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
      {R"({"op":"register","aor":"a","contact":"c","expires_unix_ns":1,"path":["<sip:e;lr>"]})", "register: field 'path' must be a string"},
      {R"({"op":"register","aor":"a","contact":"c","expires_unix_ns":1,"user_agent":7})", "register: field 'user_agent' must be a string"},
      {R"({"op":"remove_contact","contact":"c"})", "remove_contact: field 'aor' is required"},
      {R"({"op":"remove_contact","aor":"a"})", "remove_contact: field 'contact' is required"},
      {R"({"op":"remove_contact","aor":"a","contact":null})", "remove_contact: field 'contact' must be a string"},
      {R"({"op":"set_keys"})", "'key_file' is required"},
      {R"({"op":"remove_mailbox"})", "'mailbox' is required"},
      {R"({"op":"set_keys","key_file":""})", "'key_file' must name a cluster key file"},
      {R"({"op":"set_keys","key_file":"/k","previous_key_file":3})", "'previous_key_file' must be a string"},
  };
  for (const Case& c : cases) {
    const Error e = MustFail(c.line);
    EXPECT_EQ(e.code, ErrorCode::kBadRequest) << c.line;
    EXPECT_NE(e.message.find(c.mentions), std::string::npos) << c.line << " -> " << e.message;
  }
  const Error e = MustFail(std::string(kMaxRequestLineBytes + 1, ' '));
  EXPECT_NE(e.message.find("longer than"), std::string::npos);
}

TEST(ControlProtocol, ErrorLineAndStatusMapping) {
  const json j = json::parse(ErrorLine({ErrorCode::kResourceExhausted, "too many"}));
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["code"], "resource_exhausted");
  EXPECT_EQ(j["error"], "too many");
  EXPECT_EQ(FromStatus(Status::InvalidArgument("k")).code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(FromStatus(Status::ResourceExhausted("k")).code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(FromStatus(Status::FailedPrecondition("k")).code, ErrorCode::kFailedPrecondition);
  // And back, for a client: every code maps to a Status naming the code and the sentence.
  for (ErrorCode c : ErrorCodes()) {
    EXPECT_EQ(ParseErrorCode(ErrorCodeName(c)), c);
    const Status st = ToStatus({c, "why"});
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.message(), "pbxstated: " + std::string(ErrorCodeName(c)) + ": why");
  }
  EXPECT_EQ(ToStatus({ErrorCode::kBadRequest, "x"}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ToStatus({ErrorCode::kTooLarge, "x"}).code(), Status::Code::kResourceExhausted);
  EXPECT_FALSE(ParseErrorCode("nope").has_value());
}

TEST(ControlProtocol, OpTableNamesEveryOpOnce) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < Ops().size(); ++i) {
    const OpInfo& o = Ops()[i];
    EXPECT_EQ(static_cast<std::size_t>(o.op), i);
    EXPECT_TRUE(names.insert(o.name).second) << o.name;
    EXPECT_EQ(ParseOp(o.name), o.op);
    EXPECT_EQ(OpName(o.op), o.name);
  }
  EXPECT_FALSE(ParseOp("fly").has_value());
}

// One request of every op, with every field of its op away from its default.
Request Sample(Op op) {
  switch (op) {
    case Op::kHello:
    case Op::kMembers:
    case Op::kStats:
    case Op::kDump:
    case Op::kSubscribe:
    case Op::kStop: return Request::Simple(op);
    case Op::kSetDevice: return Request::SetDevice("PJSIP/alice", DeviceState::kRingInUse);
    case Op::kSetMailbox: return Request::SetMailbox("100@default", {3, 2, 1});
    case Op::kRegister:
      return Request::Register("alice", "sip:alice@198.18.0.7:5060", -5, false, 1200, "<sip:edge1;lr>", "Yealink SIP-T54W");
    case Op::kUnregister: return Request::Unregister("alice");
    case Op::kRemoveContact: return Request::RemoveContact("alice", "sip:alice@198.18.0.7:5060");
    case Op::kRemoveDevice: return Request::RemoveDevice("PJSIP/alice");
    case Op::kRemoveMailbox: return Request::RemoveMailbox("100@default");
    case Op::kDevice: return Request::Device("Custom:x");
    case Op::kLocate: return Request::Locate("alice");
    case Op::kSetKeys: return Request::SetKeys("/k/new.key", "/k/old.key");
    case Op::kGenerate: return Request::Generate({"Custom:g", 10, 100, 500, 2000});
    case Op::kWatch: return Request::Watch({"Custom:g", 10, 100});
    case Op::kGenerateResult:
    case Op::kWatchResult: return Request::Page(op, 7, 9);
  }
  return {};
}

TEST(ControlProtocol, EveryRequestRoundTripsThroughItsLine) {
  for (const OpInfo& o : Ops()) {
    const Request r = Sample(o.op);
    const std::string line = RequestLine(r);
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
    const Request back = MustParse(std::string_view(line).substr(0, line.size() - 1));
    EXPECT_EQ(back, r) << line;
    EXPECT_EQ(json::parse(line)["op"], std::string(o.name));
  }
  // Defaults the parser fills in are the builders' too.
  EXPECT_EQ(MustParse(R"({"op":"generate_result"})"), Request::Page(Op::kGenerateResult, 0, kMaxResultPage));
  EXPECT_EQ(MustParse(R"({"op":"set_keys","key_file":"/k"})"), Request::SetKeys("/k"));
}

// The benchmark instruments' requests (CONTROL.md "Benchmark instruments").
TEST(LoadGeneratorRequests, ParseWithDefaults) {
  auto parsed = ParseRequest(R"({"op":"generate","prefix":"Custom:b","devices":10,"count":100})");
  ASSERT_TRUE(std::holds_alternative<Request>(parsed));
  Request r = std::get<Request>(parsed);
  EXPECT_EQ(r.op, Op::kGenerate);
  EXPECT_EQ(r.load.prefix, "Custom:b");
  EXPECT_EQ(r.load.devices, 10u);
  EXPECT_EQ(r.load.count, 100u);
  EXPECT_EQ(r.load.rate_per_s, 0u);
  EXPECT_EQ(r.load.max_duration_ms, kDefaultGenerateDurationMs);

  parsed = ParseRequest(R"({"op":"generate","prefix":"p","devices":1,"count":1,"rate_per_s":500,"max_duration_ms":2000})");
  ASSERT_TRUE(std::holds_alternative<Request>(parsed));
  EXPECT_EQ(std::get<Request>(parsed).load.rate_per_s, 500u);
  EXPECT_EQ(std::get<Request>(parsed).load.max_duration_ms, 2000u);

  parsed = ParseRequest(R"({"op":"watch","prefix":"p","devices":3,"count":9})");
  ASSERT_TRUE(std::holds_alternative<Request>(parsed));
  EXPECT_EQ(std::get<Request>(parsed).op, Op::kWatch);
  EXPECT_EQ(std::get<Request>(parsed).load.count, 9u);

  parsed = ParseRequest(R"({"op":"watch_result"})");
  ASSERT_TRUE(std::holds_alternative<Request>(parsed));
  EXPECT_EQ(std::get<Request>(parsed).from, 0u);
  EXPECT_EQ(std::get<Request>(parsed).limit, kMaxResultPage);
  parsed = ParseRequest(R"({"op":"generate_result","from":5,"limit":7})");
  ASSERT_TRUE(std::holds_alternative<Request>(parsed));
  EXPECT_EQ(std::get<Request>(parsed).op, Op::kGenerateResult);
  EXPECT_EQ(std::get<Request>(parsed).from, 5u);
  EXPECT_EQ(std::get<Request>(parsed).limit, 7u);
}

TEST(LoadGeneratorRequests, BadArgumentsAreRefusedNamingTheField) {
  struct Case {
    std::string line;
    const char* mentions;
  };
  const std::string long_prefix(kMaxGeneratePrefixBytes + 1, 'x');
  const Case cases[] = {
      {R"({"op":"generate","devices":1,"count":1})", "'prefix' is required"},
      {R"({"op":"generate","prefix":"","devices":1,"count":1})", "'prefix' must be 1 to 64 bytes"},
      {R"({"op":"generate","prefix":")" + long_prefix + R"(","devices":1,"count":1})", "'prefix' must be 1 to 64"},
      {R"({"op":"generate","prefix":7,"devices":1,"count":1})", "'prefix' must be a string"},
      {R"({"op":"generate","prefix":"p","count":1})", "'devices' is required"},
      {R"({"op":"generate","prefix":"p","devices":0,"count":1})", "'devices' must be an integer in [1, 1000000]"},
      {R"({"op":"generate","prefix":"p","devices":1000001,"count":1})", "'devices' must be an integer in [1, 1000000]"},
      {R"({"op":"generate","prefix":"p","devices":1})", "'count' is required"},
      {R"({"op":"generate","prefix":"p","devices":1,"count":0})", "'count' must be an integer in [1, 1000000]"},
      {R"({"op":"generate","prefix":"p","devices":1,"count":1000001})", "'count' must be an integer in [1, 1000000]"},
      {R"({"op":"generate","prefix":"p","devices":1,"count":-3})", "'count' must be an integer"},
      {R"({"op":"generate","prefix":"p","devices":1,"count":2.5})", "'count' must be an integer"},
      {R"({"op":"generate","prefix":"p","devices":1,"count":1,"rate_per_s":1000001})", "'rate_per_s' must be an integer in [0, 1000000]"},
      {R"({"op":"generate","prefix":"p","devices":1,"count":1,"rate_per_s":"fast"})", "'rate_per_s'"},
      {R"({"op":"generate","prefix":"p","devices":1,"count":1,"max_duration_ms":0})", "'max_duration_ms' must be an integer in [1, 600000]"},
      {R"({"op":"generate","prefix":"p","devices":1,"count":1,"max_duration_ms":600001})", "'max_duration_ms' must be an integer in [1, 600000]"},
      {R"({"op":"watch","prefix":"p","devices":1})", "'count' is required"},
      {R"({"op":"watch","prefix":"","devices":1,"count":1})", "'prefix'"},
      {R"({"op":"watch_result","limit":0})", "'limit' must be an integer in [1, 65536]"},
      {R"({"op":"watch_result","limit":65537})", "'limit' must be an integer in [1, 65536]"},
      {R"({"op":"generate_result","from":-1})", "'from' must be an integer"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseRequest(c.line);
    ASSERT_TRUE(std::holds_alternative<Error>(parsed)) << c.line;
    const Error& e = std::get<Error>(parsed);
    EXPECT_EQ(e.code, ErrorCode::kBadRequest) << c.line;
    EXPECT_NE(e.message.find(c.mentions), std::string::npos) << c.line << " -> " << e.message;
  }
}

}  // namespace
}  // namespace pbxstate::control
