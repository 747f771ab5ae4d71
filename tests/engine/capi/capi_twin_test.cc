// The C API against its C++ twin: what the C layer copies (stats, digest, query results) equals
// what the C++ engine it wraps reports for the same inputs.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "capi_test_host.h"
#include "pbxstate/c_api.h"
#include "pbxstate/config.h"
#include "pbxstate/engine.h"
#include "pbxstate/stats.h"
#include "pbxstate/types.h"

namespace {

using pbxstate_capi_test::Host;
using pbxstate_capi_test::TestConfig;

// The same inputs through the C API and through the C++ API give the same counters and digest:
// a deterministic engine makes its C++ twin the oracle for every field the C layer copies.
class TwinEnv final : public pbxstate::Env {
 public:
  explicit TwinEnv(Host* host) : h_(host) {}
  pbxstate::MonoTime Now() override { return pbxstate::MonoTime(pbxstate::Duration(Host::Now(h_))); }
  pbxstate::WallTime WallNow() override { return pbxstate::WallTime(pbxstate::Duration(Host::Wall(h_))); }
  void ScheduleWakeup(pbxstate::MonoTime at) override { Host::Wakeup(h_, at.time_since_epoch().count()); }
  pbxstate::SendStatus Broadcast(std::span<const std::uint8_t> f) override {
    return static_cast<pbxstate::SendStatus>(Host::Broadcast(h_, f.data(), f.size()));
  }
  pbxstate::SendStatus Unicast(pbxstate::NodeId to, std::span<const std::uint8_t> f) override {
    return static_cast<pbxstate::SendStatus>(Host::Unicast(h_, to, f.data(), f.size()));
  }
  std::uint64_t Random() override { return Host::Random(h_); }
  void Log(pbxstate::LogLevel, std::string_view) override {}

 private:
  Host* h_;
};

TEST(CApiTwin, StatsAndDigestMatchTheCppEngine) {
  Host c_host, cpp_host;
  const pbxstate_config cfg = TestConfig();
  const pbxstate_env env = c_host.Env();
  pbxstate_engine* ce = nullptr;
  ASSERT_EQ(pbxstate_engine_create(&cfg, &env, &ce, nullptr, 0), PBXSTATE_OK);
  pbxstate::EngineConfig cpp_cfg;
  cpp_cfg.node_id = 1;
  cpp_cfg.incarnation = 77;
  cpp_cfg.label = "n1";
  cpp_cfg.membership = pbxstate::MembershipSource::kTransport;
  TwinEnv twin_env(&cpp_host);
  std::unique_ptr<pbxstate::Engine> cpp;
  ASSERT_TRUE(pbxstate::Engine::Create(cpp_cfg, &twin_env, &cpp).ok());

  // Frames from a node 2 to feed both: node 2's own engine, driven through the C API.
  Host peer_host;
  pbxstate_config peer_cfg = TestConfig(2);
  peer_cfg.incarnation = 99;
  const pbxstate_env peer_env = peer_host.Env();
  pbxstate_engine* peer = nullptr;
  ASSERT_EQ(pbxstate_engine_create(&peer_cfg, &peer_env, &peer, nullptr, 0), PBXSTATE_OK);
  const pbxstate_node_id both[] = {1, 2};
  ASSERT_EQ(pbxstate_engine_start(peer), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_on_membership(peer, 1, both, 2), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_set_device_state(peer, "p", 1, PBXSTATE_DEVICE_RINGING), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_set_device_state(peer, "d", 1, PBXSTATE_DEVICE_ONHOLD), PBXSTATE_OK);
  ASSERT_FALSE(peer_host.sent.empty());

  ASSERT_EQ(pbxstate_engine_start(ce), PBXSTATE_OK);
  cpp->Start();
  ASSERT_EQ(pbxstate_engine_on_membership(ce, 1, both, 2), PBXSTATE_OK);
  cpp->OnMembership(pbxstate::MembershipView{1, {1, 2}});
  for (const auto& f : peer_host.sent) {
    ASSERT_EQ(pbxstate_engine_on_frame(ce, 2, f.data(), f.size()), PBXSTATE_OK);
    cpp->OnFrame(2, f);
  }
  const std::uint8_t garbage[40] = {'X'};
  ASSERT_EQ(pbxstate_engine_on_frame(ce, 2, garbage, sizeof garbage), PBXSTATE_OK);
  cpp->OnFrame(2, garbage);
  ASSERT_EQ(pbxstate_engine_on_frame(ce, 1, peer_host.sent.back().data(), peer_host.sent.back().size()), PBXSTATE_OK);
  cpp->OnFrame(1, peer_host.sent.back());
  ASSERT_EQ(pbxstate_engine_set_device_state(ce, "d", 1, PBXSTATE_DEVICE_INUSE), PBXSTATE_OK);
  ASSERT_TRUE(cpp->SetDeviceState("d", pbxstate::DeviceState::kInUse).ok());
  const pbxstate_mailbox_counts mc{4, 5, 6};
  ASSERT_EQ(pbxstate_engine_set_mailbox(ce, "m", 1, &mc), PBXSTATE_OK);
  ASSERT_TRUE(cpp->SetMailbox("m", pbxstate::MailboxCounts{4, 5, 6}).ok());
  // Path and user agent included: the twins' frames below compare them byte for byte.
  pbxstate_registration reg{"sip:x@y", 7, Host::Wall(&c_host) + 30'000'000'000, PBXSTATE_CONTACT_REACHABLE, 5,
                            "<sip:edge.example;lr>", 21, "ua/1", 4};
  ASSERT_EQ(pbxstate_engine_set_registration(ce, "x", 1, &reg), PBXSTATE_OK);
  ASSERT_TRUE(cpp->SetRegistration("x", pbxstate::RegistrationInfo{"sip:x@y",
                                                                    pbxstate::WallTime(pbxstate::Duration(reg.expires_ns)),
                                                                    pbxstate::ContactStatus::kReachable, 5,
                                                                    "<sip:edge.example;lr>", "ua/1"})
                  .ok());
  c_host.now += 2'000'000'000;
  cpp_host.now += 2'000'000'000;
  ASSERT_EQ(pbxstate_engine_on_timer(ce), PBXSTATE_OK);
  cpp->OnTimer();
  EXPECT_EQ(c_host.sent, cpp_host.sent) << "the twins diverged: the comparison below means nothing";

  pbxstate_stats c{};
  ASSERT_EQ(pbxstate_engine_stats(ce, &c), PBXSTATE_OK);
  const pbxstate::EngineStats& s = cpp->stats();
  EXPECT_GT(s.frames_out, 0u);
  EXPECT_GT(s.records_applied, 0u);
  EXPECT_GT(s.total_dropped(), 0u);
  EXPECT_EQ(c.frames_out, s.frames_out);
  EXPECT_EQ(c.bytes_out, s.bytes_out);
  EXPECT_EQ(c.frames_in, s.frames_in);
  EXPECT_EQ(c.bytes_in, s.bytes_in);
  EXPECT_EQ(c.broadcasts_out, s.broadcasts_out);
  EXPECT_EQ(c.unicasts_out, s.unicasts_out);
  for (int i = 0; i < PBXSTATE_DROP_REASON_COUNT; ++i) EXPECT_EQ(c.dropped[i], s.dropped[static_cast<std::size_t>(i)]) << i;
  EXPECT_EQ(c.total_dropped, s.total_dropped());
  EXPECT_EQ(c.local_changes, s.local_changes);
  EXPECT_EQ(c.records_applied, s.records_applied);
  EXPECT_EQ(c.records_stale, s.records_stale);
  EXPECT_EQ(c.mailbox_tombstones_evicted, s.mailbox_tombstones_evicted);
  EXPECT_EQ(c.send_try_again, s.send_try_again);
  EXPECT_EQ(c.send_queue_overflow, s.send_queue_overflow);
  EXPECT_EQ(c.frames_relayed, s.frames_relayed);
  EXPECT_EQ(c.send_failed, s.send_failed);
  EXPECT_EQ(c.digests_sent, s.digests_sent);
  EXPECT_EQ(c.digests_received, s.digests_received);
  EXPECT_EQ(c.sync_sessions_started, s.sync_sessions_started);
  EXPECT_EQ(c.sync_sessions_completed, s.sync_sessions_completed);
  EXPECT_EQ(c.sync_sessions_abandoned, s.sync_sessions_abandoned);
  EXPECT_EQ(c.sync_serves_refused, s.sync_serves_refused);
  EXPECT_EQ(c.sync_pages_sent, s.sync_pages_sent);
  EXPECT_EQ(c.sync_pages_received, s.sync_pages_received);
  EXPECT_EQ(c.sync_pages_resent, s.sync_pages_resent);
  EXPECT_EQ(c.heartbeats_sent, s.heartbeats_sent);
  EXPECT_EQ(c.membership_changes, s.membership_changes);
  EXPECT_EQ(c.departures, s.departures);
  EXPECT_EQ(c.device_entries, s.device_entries);
  EXPECT_EQ(c.mailbox_entries, s.mailbox_entries);
  EXPECT_EQ(c.registration_entries, s.registration_entries);

  pbxstate_digest d{};
  ASSERT_EQ(pbxstate_engine_digest(ce, &d), PBXSTATE_OK);
  const pbxstate::ViewDigest cd = cpp->Digest();
  EXPECT_EQ(d.hash, cd.hash);
  EXPECT_EQ(d.devices, cd.devices);
  EXPECT_EQ(d.mailboxes, cd.mailboxes);
  EXPECT_EQ(d.registrations, cd.registrations);
  EXPECT_EQ(d.devices, 3u);  // d from 1 and 2, p from 2

  // Queries agree too, including the mailbox's clock.
  pbxstate_mailbox_value mv{};
  ASSERT_EQ(pbxstate_engine_mailbox(ce, "m", 1, &mv), PBXSTATE_OK);
  const auto cm = cpp->Mailbox("m");
  ASSERT_TRUE(cm.has_value());
  EXPECT_EQ(mv.hlc_physical_ns, cm->hlc.physical_ns);
  EXPECT_EQ(mv.hlc_logical, cm->hlc.logical);
  EXPECT_EQ(mv.writer, cm->writer);
  EXPECT_EQ(mv.counts.urgent_messages, 6u);
  int state = -1;
  ASSERT_EQ(pbxstate_engine_device_state(ce, "d", 1, &state), PBXSTATE_OK);
  EXPECT_EQ(state, static_cast<int>(*cpp->ClusterDeviceState("d")));
  EXPECT_EQ(state, PBXSTATE_DEVICE_INUSE);  // ONHOLD (2) with INUSE (1)

  pbxstate_engine_destroy(peer);
  pbxstate_engine_destroy(ce);
}

}  // namespace
