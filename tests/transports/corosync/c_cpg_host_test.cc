// The C host of c_cpg_host.h (what res_pbxstate runs on) against the scripted libcpg of
// fake_cpg.h: argument and state checks, and one engine fed by CPG deliveries and views.
#include "pbxstate/corosync/c_cpg_host.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

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
  Create();
  char err[256];
  ASSERT_EQ(pbxstate_cpg_host_connect(host_, err, sizeof err), PBXSTATE_OK) << err;
  pbxstate_config cfg;
  pbxstate_config_init(&cfg);
  cfg.incarnation = 3;
  cfg.label = "02:00:5e:00:00:01";
  pbxstate_engine* engine = nullptr;
  ASSERT_EQ(pbxstate_cpg_host_create_engine(host_, &cfg, &engine, err, sizeof err), PBXSTATE_OK) << err;
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
  for (const Bytes& frame : peer.sent) {
    Bytes message;
    for (std::uint8_t b : pbxstate::corosync::EncodeAddressedHeader({pbxstate::corosync::FrameKind::kBroadcast, 0})) {
      message.push_back(b);
    }
    message.insert(message.end(), frame.begin(), frame.end());
    fakecpg::QueueDeliver(2, 4242, message);
  }
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

}  // namespace
