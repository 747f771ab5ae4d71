// The C host of c_cpg_host.h (what res_pbxstate runs on) against the scripted libcpg of
// fake_cpg.h: argument and state checks, and one engine fed by CPG deliveries and views.
#include "pbxstate/corosync/c_cpg_host.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "capi_mailbox_pair.h"
#include "fake_cpg.h"
#include "pbxstate/corosync/addressed_frame.h"

namespace {

using Bytes = std::vector<std::uint8_t>;

std::uint32_t MyPid() { return static_cast<std::uint32_t>(::getpid()); }

// A second engine, on plain C callbacks, whose broadcasts the test hands to the host as CPG
// deliveries from node 2.
struct Peer {
  std::vector<Bytes> sent;
  int64_t now = 1'000'000'000;
  pbxstate_engine* engine = nullptr;

  static Peer* Self(void* u) { return static_cast<Peer*>(u); }
  void Create() {
    pbxstate_config cfg;
    pbxstate_config_init(&cfg);
    cfg.node_id = 2;
    cfg.incarnation = 7;
    cfg.label = "02:00:5e:00:00:02";
    cfg.membership = PBXSTATE_MEMBERSHIP_TRANSPORT;
    pbxstate_env env{};
    env.user = this;
    env.now_ns = [](void* u) { return Self(u)->now; };
    env.wall_now_ns = [](void*) { return int64_t{1'800'000'000} * 1'000'000'000; };
    env.schedule_wakeup = [](void*, int64_t) {};
    env.broadcast = [](void* u, const uint8_t* f, size_t n) {
      Self(u)->sent.emplace_back(f, f + n);
      return static_cast<int>(PBXSTATE_SEND_OK);
    };
    env.unicast = [](void*, pbxstate_node_id, const uint8_t*, size_t) { return static_cast<int>(PBXSTATE_SEND_OK); };
    env.random = [](void*) { return uint64_t{4}; };
    char err[256];
    ASSERT_EQ(pbxstate_engine_create(&cfg, &env, &engine, err, sizeof err), PBXSTATE_OK) << err;
    const pbxstate_node_id members[] = {1, 2};
    ASSERT_EQ(pbxstate_engine_on_membership(engine, 1, members, 2), PBXSTATE_OK);
    ASSERT_EQ(pbxstate_engine_start(engine), PBXSTATE_OK);
  }
  ~Peer() { pbxstate_engine_destroy(engine); }
};

class CCpgHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fakecpg::Reset();
    fakecpg::S().nodeid = 1;
  }
  void TearDown() override {
    pbxstate_cpg_host_destroy(host_);
    fakecpg::Reset();
  }
  void Create() {
    pbxstate_cpg_host_config hc;
    pbxstate_cpg_host_config_init(&hc);
    hc.group = "test-group";
    hc.random_seed = 1;
    char err[256];
    ASSERT_EQ(pbxstate_cpg_host_create(&hc, nullptr, nullptr, &host_, err, sizeof err), PBXSTATE_OK) << err;
  }
  bool DispatchWhenReady(int ms = 1000) {
    pollfd p{pbxstate_cpg_host_fd(host_), POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    pbxstate_cpg_host_dispatch(host_);
    return true;
  }

  // Creates and connects the host, and its engine (node 1), with `batch_window_ms` if not 0.
  pbxstate_engine* ConnectedEngine(std::uint64_t batch_window_ms = 0) {
    Create();
    char err[256];
    EXPECT_EQ(pbxstate_cpg_host_connect(host_, err, sizeof err), PBXSTATE_OK) << err;
    pbxstate_config cfg;
    pbxstate_config_init(&cfg);
    cfg.incarnation = 3;
    cfg.label = "02:00:5e:00:00:01";
    if (batch_window_ms != 0) cfg.batch_window_ms = batch_window_ms;
    pbxstate_engine* engine = nullptr;
    EXPECT_EQ(pbxstate_cpg_host_create_engine(host_, &cfg, &engine, err, sizeof err), PBXSTATE_OK) << err;
    return engine;
  }
  // `frame` as node 2's CPG message, with the envelope of `kind` to `destination`.
  static void QueueFromNode2(pbxstate::corosync::FrameKind kind, pbxstate_node_id destination, const Bytes& frame) {
    Bytes message;
    for (std::uint8_t b : pbxstate::corosync::EncodeAddressedHeader({kind, destination})) message.push_back(b);
    message.insert(message.end(), frame.begin(), frame.end());
    fakecpg::QueueDeliver(2, 4242, message);
  }

  pbxstate_cpg_host* host_ = nullptr;
};

TEST_F(CCpgHostTest, RefusesBadArgumentsNamingTheField) {
  pbxstate_cpg_host_config hc;
  pbxstate_cpg_host_config_init(&hc);
  char err[256];
  hc.group = nullptr;
  EXPECT_EQ(pbxstate_cpg_host_create(&hc, nullptr, nullptr, &host_, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err).find("group"), std::string::npos) << err;
  EXPECT_EQ(host_, nullptr);
  const std::string long_name(200, 'g');
  hc.group = long_name.c_str();
  EXPECT_EQ(pbxstate_cpg_host_create(&hc, nullptr, nullptr, &host_, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err).find("group"), std::string::npos) << err;
  hc.group = "ok";
  hc.reconnect_max_ms = 1ull << 40;
  EXPECT_EQ(pbxstate_cpg_host_create(&hc, nullptr, nullptr, &host_, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err).find("reconnect_max_ms"), std::string::npos) << err;
}

TEST_F(CCpgHostTest, NeedsCorosyncBeforeTheEngine) {
  Create();
  pbxstate_config cfg;
  pbxstate_config_init(&cfg);
  cfg.incarnation = 1;
  pbxstate_engine* engine = nullptr;
  char err[256];
  EXPECT_EQ(pbxstate_cpg_host_create_engine(host_, &cfg, &engine, err, sizeof err), PBXSTATE_E_FAILED_PRECONDITION);
  fakecpg::S().corosync_up = false;
  EXPECT_EQ(pbxstate_cpg_host_connect(host_, err, sizeof err), PBXSTATE_E_FAILED_PRECONDITION);
  EXPECT_NE(std::string(err), "");
  EXPECT_EQ(pbxstate_cpg_host_local_node(host_), PBXSTATE_NO_NODE);
  EXPECT_EQ(pbxstate_cpg_host_connected(host_), 0);
  fakecpg::S().corosync_up = true;
  ASSERT_EQ(pbxstate_cpg_host_connect(host_, err, sizeof err), PBXSTATE_OK) << err;
  EXPECT_EQ(pbxstate_cpg_host_local_node(host_), 1u);
  EXPECT_EQ(pbxstate_cpg_host_connected(host_), 1);
  EXPECT_STREQ(pbxstate_cpg_host_fatal_error(host_), "");

  cfg.node_id = 5;  // not this node's corosync id
  EXPECT_EQ(pbxstate_cpg_host_create_engine(host_, &cfg, &engine, err, sizeof err), PBXSTATE_E_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err).find("node_id"), std::string::npos) << err;
  cfg.node_id = 0;
  ASSERT_EQ(pbxstate_cpg_host_create_engine(host_, &cfg, &engine, err, sizeof err), PBXSTATE_OK) << err;
  EXPECT_EQ(pbxstate_engine_node_id(engine), 1u);
  EXPECT_EQ(pbxstate_cpg_host_engine(host_), engine);
  pbxstate_engine* second = nullptr;
  EXPECT_EQ(pbxstate_cpg_host_create_engine(host_, &cfg, &second, err, sizeof err), PBXSTATE_E_FAILED_PRECONDITION);
  EXPECT_EQ(second, nullptr);
}

TEST_F(CCpgHostTest, CpgViewsAndDeliveriesReachTheEngine) {
  pbxstate_engine* engine = ConnectedEngine();
  ASSERT_NE(engine, nullptr);
  struct Seen {
    std::vector<pbxstate_node_id> members;
    std::vector<std::string> remote_devices;
  } seen;
  pbxstate_listener listener{};
  listener.user = &seen;
  listener.view_change = [](void* u, const pbxstate_view_change* c) {
    if (c->cause == PBXSTATE_CAUSE_REMOTE) static_cast<Seen*>(u)->remote_devices.emplace_back(c->key, c->key_len);
  };
  listener.members_changed = [](void* u, const pbxstate_node_id* m, size_t n) {
    static_cast<Seen*>(u)->members.assign(m, m + n);
  };
  ASSERT_EQ(pbxstate_engine_set_listener(engine, &listener), PBXSTATE_OK);
  ASSERT_EQ(pbxstate_engine_start(engine), PBXSTATE_OK);

  // corosync: node 2's process joins the group.
  fakecpg::QueueConfchg({{1, MyPid(), CPG_REASON_JOIN}, {2, 4242, CPG_REASON_JOIN}});
  ASSERT_TRUE(DispatchWhenReady());
  EXPECT_EQ(seen.members, (std::vector<pbxstate_node_id>{1, 2}));

  // Node 2 changes a device; its broadcast arrives through CPG with the envelope.
  Peer peer;
  peer.Create();
  ASSERT_EQ(pbxstate_engine_set_device_state(peer.engine, "Custom:x", 8, PBXSTATE_DEVICE_INUSE), PBXSTATE_OK);
  ASSERT_FALSE(peer.sent.empty());
  for (const Bytes& frame : peer.sent) QueueFromNode2(pbxstate::corosync::FrameKind::kBroadcast, 0, frame);
  ASSERT_TRUE(DispatchWhenReady());
  int state = -1;
  ASSERT_EQ(pbxstate_engine_device_state(engine, "Custom:x", 8, &state), PBXSTATE_OK);
  EXPECT_EQ(state, PBXSTATE_DEVICE_INUSE);
  EXPECT_EQ(seen.remote_devices, (std::vector<std::string>{"Custom:x"}));
  char label[65];
  ASSERT_EQ(pbxstate_engine_node_label(engine, 2, label, sizeof label, nullptr), PBXSTATE_OK);
  EXPECT_STREQ(label, "02:00:5e:00:00:02");

  // This node's own change goes out through cpg_mcast_joined.
  const size_t before = fakecpg::S().sent.size();
  ASSERT_EQ(pbxstate_engine_set_device_state(engine, "Custom:y", 8, PBXSTATE_DEVICE_RINGING), PBXSTATE_OK);
  for (int i = 0; i < 20 && fakecpg::S().sent.size() == before; ++i) DispatchWhenReady(50);
  EXPECT_GT(fakecpg::S().sent.size(), before);

  pbxstate_cpg_host_stats st;
  ASSERT_EQ(pbxstate_cpg_host_stats_get(host_, &st), PBXSTATE_OK);
  EXPECT_GE(st.frames_delivered, peer.sent.size());
  EXPECT_EQ(st.view_members, 2u);
  EXPECT_EQ(st.connects, 1u);

  pbxstate_cpg_host_leave(host_, 100);
  EXPECT_EQ(pbxstate_cpg_host_connected(host_), 0);
}

// A unicast that node 2 addressed to node 3 reaches node 1 too on CPG: the host hands it to the
// engine's OnOverheard as pbxstated's does (the one CpgEnv), and the engine, made over the C API,
// knows that its unicasts reach everyone (it stopped the process on the first such frame while
// the C API's Env answered false), so mailbox entries for node 3 repair node 1 too.
TEST_F(CCpgHostTest, UnicastsForAnotherNodeRepairThisOnesMailboxes) {
  pbxstate::testing::CMailboxPair pair;
  ASSERT_TRUE(pair.Run());
  pbxstate_engine* engine = ConnectedEngine();
  ASSERT_NE(engine, nullptr);
  ASSERT_EQ(pbxstate_engine_start(engine), PBXSTATE_OK);
  fakecpg::QueueConfchg({{1, MyPid(), CPG_REASON_JOIN}, {2, 4242, CPG_REASON_JOIN}, {3, 4343, CPG_REASON_JOIN}});
  ASSERT_TRUE(DispatchWhenReady());
  ASSERT_FALSE(pbxstate::testing::CMailboxPair::Holds(engine));
  pbxstate_stats before{};
  ASSERT_EQ(pbxstate_engine_stats(engine, &before), PBXSTATE_OK);
  for (const auto& s : pair.unicasts_2_to_3()) QueueFromNode2(pbxstate::corosync::FrameKind::kUnicast, 3, s.bytes);
  ASSERT_TRUE(DispatchWhenReady());
  EXPECT_TRUE(pbxstate::testing::CMailboxPair::Holds(engine));
  pbxstate_stats after{};
  ASSERT_EQ(pbxstate_engine_stats(engine, &after), PBXSTATE_OK);
  EXPECT_EQ(after.records_applied, before.records_applied + 1);
  pbxstate_cpg_host_stats st;
  ASSERT_EQ(pbxstate_cpg_host_stats_get(host_, &st), PBXSTATE_OK);
  EXPECT_EQ(st.frames_delivered, 0u);  // none was this node's
}

TEST_F(CCpgHostTest, ChangesMadeInABatchLeaveTogetherAndWaitForCpgToDeliverTheLastMessageBack) {
  // The longest window allowed: it never ends in this test, only CPG and the batch decide.
  pbxstate_engine* engine = ConnectedEngine(10000);
  ASSERT_NE(engine, nullptr);
  ASSERT_EQ(pbxstate_engine_start(engine), PBXSTATE_OK);
  fakecpg::QueueConfchg({{1, MyPid(), CPG_REASON_JOIN}, {2, 4242, CPG_REASON_JOIN}});
  ASSERT_TRUE(DispatchWhenReady());
  // Deliver back whatever we sent so far (CPG's confirmation): the backlog is 0.
  auto echo_all = [&] {
    for (const Bytes& m : fakecpg::S().sent) fakecpg::QueueDeliver(1, MyPid(), m);
    fakecpg::S().sent.clear();
    ASSERT_TRUE(DispatchWhenReady());
  };
  echo_all();
  pbxstate_stats st;

  // Ten changes in a batch: none leaves before the end, then all in one frame.
  pbxstate_cpg_host_batch_begin(host_);
  for (int i = 0; i < 10; ++i) {
    const std::string dev = "Custom:b" + std::to_string(i);
    ASSERT_EQ(pbxstate_engine_set_device_state(engine, dev.data(), dev.size(), PBXSTATE_DEVICE_INUSE), PBXSTATE_OK);
  }
  ASSERT_EQ(pbxstate_engine_stats(engine, &st), PBXSTATE_OK);
  EXPECT_EQ(st.update_frames_sent, 0u);
  pbxstate_cpg_host_batch_end(host_);
  ASSERT_EQ(pbxstate_engine_stats(engine, &st), PBXSTATE_OK);
  EXPECT_EQ(st.update_frames_sent, 1u);
  EXPECT_EQ(st.changes_held, 10u);
  ASSERT_EQ(fakecpg::S().sent.size(), 1u);

  // That message is not delivered back yet: the next change is held (the window is long), and
  // leaves when CPG delivers it back... but not before the window since the last flush ends.
  const std::string dev = "Custom:later";
  ASSERT_EQ(pbxstate_engine_set_device_state(engine, dev.data(), dev.size(), PBXSTATE_DEVICE_BUSY), PBXSTATE_OK);
  echo_all();
  ASSERT_EQ(pbxstate_engine_stats(engine, &st), PBXSTATE_OK);
  EXPECT_EQ(st.update_frames_sent, 1u);
  pbxstate_cpg_host_stats hs;
  ASSERT_EQ(pbxstate_cpg_host_stats_get(host_, &hs), PBXSTATE_OK);
  EXPECT_EQ(hs.queue_frames, 0u);
}

}  // namespace
