// Replies: every reply type through encode and decode (the daemon's encoder is the clients'
// decoder's input), strict decoding naming the missing field, error responses, the response bound.
#include "pbxstate/control/replies.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace pbxstate::control {
namespace {

using nlohmann::json;

Reply RoundTrip(Op op, const Reply& reply) {
  const json encoded = json::parse(ResponseLine(EncodeReply(reply)));
  Reply back;
  const Status st = DecodeReply(op, encoded, &back);
  EXPECT_TRUE(st.ok()) << OpName(op) << ": " << st.message() << "\n" << encoded.dump();
  // Encoding what was decoded gives the same line: nothing is lost either way.
  EXPECT_EQ(EncodeReply(back), encoded) << OpName(op);
  return back;
}

TEST(ControlReplies, EveryOpHasAReplyThatRoundTrips) {
  for (const OpInfo& o : Ops()) {
    const Reply empty = ReplyFor(o.op);
    const Reply back = RoundTrip(o.op, empty);
    EXPECT_EQ(back.index(), empty.index()) << o.name;
  }
}

TEST(ControlReplies, HelloMembersDeviceCarryEveryField) {
  const HelloReply hello{3, "pbx3", 1700000000000001, 4242, "pbxstate", {1, 2, 3}, 17, true};
  const auto h = std::get<HelloReply>(RoundTrip(Op::kHello, hello));
  EXPECT_EQ(h.node, 3u);
  EXPECT_EQ(h.label, "pbx3");
  EXPECT_EQ(h.incarnation, 1700000000000001u);
  EXPECT_EQ(h.pid, 4242);
  EXPECT_EQ(h.members, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(h.view_id, 17u);
  EXPECT_TRUE(h.authenticated);

  const MembersReply members{{1, 2}, 9, {1, 2, 4}};
  const auto m = std::get<MembersReply>(RoundTrip(Op::kMembers, members));
  EXPECT_EQ(m.view_members, (std::vector<NodeId>{1, 2, 4}));

  DeviceReply device;
  device.aggregate = DeviceState::kRingInUse;
  device.contributions = {{1, DeviceState::kRinging, {5, 6}}, {2, DeviceState::kInUse, {7, 8}}};
  const auto d = std::get<DeviceReply>(RoundTrip(Op::kDevice, device));
  EXPECT_EQ(d.aggregate, DeviceState::kRingInUse);
  ASSERT_EQ(d.contributions.size(), 2u);
  EXPECT_EQ(d.contributions[1].state, DeviceState::kInUse);
  EXPECT_EQ(d.contributions[1].version, (Version{7, 8}));
}

TEST(ControlReplies, LocateCarriesEveryLocationInOrder) {
  LocateReply r;
  Location a;
  a.node = 4;
  a.contact = "sip:alice@10.1.0.9:5060";
  a.status = ContactStatus::kUnreachable;
  a.reachable = true;
  a.expires = WallTime(Duration(1'767'225'600'000'000'123));
  a.age = std::chrono::milliseconds(250);
  a.path = "<sip:edge1.example.net;lr>,<sip:edge2.example.net;lr>";
  Location b;
  b.node = 2;
  b.contact = "sip:alice@10.1.0.3";
  b.reachable = false;
  r.locations = {a, b};
  r.user_agents = {"Yealink SIP-T54W", ""};
  const auto back = std::get<LocateReply>(RoundTrip(Op::kLocate, r));
  EXPECT_EQ(back.user_agents, r.user_agents);
  EXPECT_EQ(back.locations[0].path, a.path);
  EXPECT_EQ(back.locations[1].path, "");
  ASSERT_EQ(back.locations.size(), 2u);
  EXPECT_EQ(back.locations[0].node, 4u);
  EXPECT_EQ(back.locations[0].contact, a.contact);
  EXPECT_EQ(back.locations[0].status, ContactStatus::kUnreachable);
  EXPECT_TRUE(back.locations[0].reachable);
  EXPECT_EQ(back.locations[0].expires, a.expires);
  EXPECT_EQ(back.locations[0].age, a.age);
  EXPECT_EQ(back.locations[1].node, 2u);
  EXPECT_FALSE(back.locations[1].reachable);
  EXPECT_EQ(back.locations[1].status, ContactStatus::kReachable);
  // Strict: a location without its holder is refused, naming the field.
  json broken = EncodeReply(r);
  broken["locations"][1].erase("node");
  Reply out;
  const Status st = DecodeReply(Op::kLocate, broken, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("node"), std::string::npos) << st.message();
  // ... and one without its user agent or path (a daemon from before they were shared).
  for (const char* field : {"user_agent", "path"}) {
    json old = EncodeReply(r);
    old["locations"][0].erase(field);
    const Status missing = DecodeReply(Op::kLocate, old, &out);
    EXPECT_FALSE(missing.ok()) << field;
    EXPECT_NE(missing.message().find(field), std::string::npos) << missing.message();
  }
}

TEST(ControlReplies, StatsNameEveryEngineCounterAndDropReason) {
  StatsReply s;
  std::uint64_t v = 1;
  for (const EngineStatField& f : EngineStatFields()) s.engine.*f.member = v++;
  for (auto& d : s.engine.dropped) d = v++;
  for (const TransportStatField& f : TransportStatFields()) s.transport.*f.member = v++;
  for (const DaemonStatField& f : DaemonStatFields()) s.daemon.*f.member = v++;
  s.transport.group = "g";
  s.transport.view_members = {1, 4};
  s.transport.ring_id_node = 4;
  s.transport.ring_id_seq = 88;
  const json j = EncodeReply(s);
  EXPECT_EQ(j["engine"]["dropped"].size(), static_cast<std::size_t>(kDropReasonCount));
  EXPECT_EQ(j["engine"]["dropped"][std::string(DropReasonName(DropReason::kNotMember))],
            s.engine.dropped[static_cast<int>(DropReason::kNotMember)]);
  EXPECT_EQ(j["engine"]["total_dropped"], s.engine.total_dropped());
  EXPECT_EQ(j["transport"]["ring_id"], json::array({4, 88}));
  const auto back = std::get<StatsReply>(RoundTrip(Op::kStats, s));
  for (const EngineStatField& f : EngineStatFields()) EXPECT_EQ(back.engine.*f.member, s.engine.*f.member) << f.name;
  EXPECT_EQ(back.engine.dropped, s.engine.dropped);
  for (const TransportStatField& f : TransportStatFields()) EXPECT_EQ(back.transport.*f.member, s.transport.*f.member) << f.name;
  for (const DaemonStatField& f : DaemonStatFields()) EXPECT_EQ(back.daemon.*f.member, s.daemon.*f.member) << f.name;
  EXPECT_EQ(back.transport.view_members, s.transport.view_members);

  // A counter the daemon did not send is an error naming it, never a silent 0.
  json missing = j;
  missing["engine"].erase(std::string(EngineStatFields()[0].name));
  Reply r;
  Status st = DecodeReply(Op::kStats, missing, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("stats.engine: field '" + std::string(EngineStatFields()[0].name) + "'"), std::string::npos)
      << st.message();
  missing = j;
  missing["engine"]["dropped"].erase(std::string(DropReasonName(DropReason::kBadMac)));
  st = DecodeReply(Op::kStats, missing, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'bad_mac'"), std::string::npos) << st.message();
  missing = j;
  missing["transport"].erase("queue_full");
  st = DecodeReply(Op::kStats, missing, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("stats.transport: field 'queue_full'"), std::string::npos) << st.message();
}

TEST(ControlReplies, DumpCarriesEveryEntry) {
  DumpReply d;
  d.node = 2;
  d.incarnation = 99;
  d.as_of_from_unix_ns = 1'800'000'000'000'000'000;
  d.as_of_to_unix_ns = 1'800'000'000'000'050'000;
  d.digest = {0xfeedULL, 1, 1, 1};
  d.devices.push_back({"PJSIP/alice", DeviceState::kInUse, {{2, DeviceState::kInUse, {99, 1}}}});
  d.devices.push_back({"Custom:gone", std::nullopt, {}});
  d.mailboxes.push_back({"100@default", MailboxValue{{2, 1, 1}, {123456789, 4}, 2}});
  RegistrationView rv;
  rv.node = 2;
  rv.info.contact = "sip:alice@198.18.0.2";
  rv.info.expires = WallTime(Duration(1'800'000'000'000'000'000));
  rv.info.status = ContactStatus::kUnreachable;
  rv.info.rtt_us = 800;
  rv.info.path = "<sip:edge1.example.net;lr>";
  rv.info.user_agent = "Linphone/5.2";
  rv.version = {99, 3};
  d.registrations.push_back({"alice", rv});
  const auto back = std::get<DumpReply>(RoundTrip(Op::kDump, d));
  EXPECT_EQ(back.as_of_from_unix_ns, d.as_of_from_unix_ns);
  EXPECT_EQ(back.as_of_to_unix_ns, d.as_of_to_unix_ns);
  EXPECT_EQ(back.digest, d.digest);
  ASSERT_EQ(back.devices.size(), 2u);
  EXPECT_FALSE(back.devices[1].aggregate.has_value());
  ASSERT_EQ(back.mailboxes.size(), 1u);
  EXPECT_EQ(back.mailboxes[0].value, d.mailboxes[0].value);
  ASSERT_EQ(back.registrations.size(), 1u);
  EXPECT_EQ(back.registrations[0].view.info, rv.info);
  EXPECT_EQ(back.registrations[0].view.version, rv.version);
}

TEST(ControlReplies, ADumpAsOfAnIntervalThatEndsBeforeItStartsIsRefused) {
  DumpReply d;
  d.as_of_from_unix_ns = 2000;
  d.as_of_to_unix_ns = 1000;
  json encoded = json::parse(ResponseLine(EncodeReply(d)));
  Reply r;
  Status st = DecodeReply(Op::kDump, encoded, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("as_of_to_unix_ns is before as_of_from_unix_ns"), std::string::npos) << st.message();
  encoded.erase("as_of_from_unix_ns");
  st = DecodeReply(Op::kDump, encoded, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("as_of_from_unix_ns"), std::string::npos) << st.message();
}

TEST(ControlReplies, InstrumentReportsKeepNullsAndPages) {
  GenerateReport g;
  g.outcome = GenerateOutcome::kTimedOut;
  g.error = "max_duration_ms (300) ran out";
  g.spec = {"Custom:slow-", 10, 1000, 10, kDefaultGenerateDurationMs};
  g.generated = 3;
  g.started_t_mono_ns = 1000;
  g.backpressure_waits = 2;
  g.max_lag_ns = 77;
  g.from = 1;
  g.t_mono_ns = {1001, 1002};
  const json j = EncodeReply(g);
  EXPECT_EQ(j["outcome"], "timed_out");
  EXPECT_TRUE(j["finished_t_mono_ns"].is_null());
  const auto back = std::get<GenerateReport>(RoundTrip(Op::kGenerateResult, g));
  EXPECT_EQ(back.outcome, GenerateOutcome::kTimedOut);
  EXPECT_EQ(back.error, g.error);
  EXPECT_FALSE(back.finished_t_mono_ns.has_value());
  EXPECT_EQ(back.t_mono_ns, g.t_mono_ns);
  EXPECT_TRUE(EncodeReply(GenerateReport{})["error"].is_null());

  WatchReport w;
  w.active = true;
  w.spec = {"Custom:w", 3, 9};
  w.seen = 2;
  w.first_t_mono_ns = 5;
  w.last_t_mono_ns = 6;
  w.t_mono_ns = {5, 0, 6};
  const auto wb = std::get<WatchReport>(RoundTrip(Op::kWatchResult, w));
  EXPECT_EQ(wb.t_mono_ns, w.t_mono_ns);
  EXPECT_EQ(wb.last_t_mono_ns, 6);
}

TEST(ControlReplies, ErrorResponsesBecomeStatusesWithTheirCode) {
  Reply r;
  Status st = DecodeReply(Op::kSetDevice, json::parse(ErrorLine({ErrorCode::kInvalidArgument, "empty device name"})), &r);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "pbxstated: invalid_argument: empty device name");
  EXPECT_EQ(ResponseError(json{{"ok", false}, {"code", "failed_precondition"}, {"error", "x"}})->code,
            ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(ResponseError(json{{"ok", true}}).has_value());
  // Not a response of this protocol at all.
  EXPECT_EQ(ResponseError(json{{"hello", 1}})->code, ErrorCode::kBadRequest);
  EXPECT_EQ(ResponseError(json{{"ok", false}, {"code", "weird"}})->code, ErrorCode::kBadRequest);
  EXPECT_TRUE(ResponseStatus(json{{"ok", true}}).ok());
  // A reply missing a field names it.
  st = DecodeReply(Op::kHello, json{{"ok", true}, {"node", 1}}, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("hello: field 'label': missing"), std::string::npos) << st.message();
  st = DecodeReply(Op::kSetDevice, json{{"ok", true}, {"t_mono_ns", "soon"}}, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'t_mono_ns'"), std::string::npos) << st.message();
}

TEST(ControlReplies, OversizedResponseBecomesTooLarge) {
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
}  // namespace pbxstate::control
