// CpgTransport alone, against the scripted libcpg in fake_cpg.cc: flow control, ordering, the
// addressed-frame rules on receive, membership views, and recovery after corosync goes away.
// The live test (live_cluster_test.py) covers the same behaviour on real corosync.
#include "pbxstate/corosync/cpg_transport.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fake_cpg.h"
#include "pbxstate/corosync/addressed_frame.h"

namespace pbxstate::corosync {
namespace {

using Bytes = std::vector<std::uint8_t>;

class Recorder : public CpgTransport::Handler {
 public:
  void OnFrame(NodeId from, std::span<const std::uint8_t> frame) override {
    frames.push_back({from, Bytes(frame.begin(), frame.end())});
  }
  void OnOverheard(NodeId from, NodeId to, std::span<const std::uint8_t> frame) override {
    overheard.push_back({from, to, Bytes(frame.begin(), frame.end())});
  }
  void OnView(const MembershipView& view) override { views.push_back(view); }
  void OnSendReady() override { ++ready; }
  struct Overheard {
    NodeId from, to;
    Bytes frame;
    bool operator==(const Overheard&) const = default;
  };
  std::vector<std::pair<NodeId, Bytes>> frames;
  std::vector<Overheard> overheard;
  std::vector<MembershipView> views;
  int ready = 0;
};

std::uint32_t MyPid() { return static_cast<std::uint32_t>(::getpid()); }

Bytes Envelope(FrameKind kind, NodeId to, Bytes payload) {
  Bytes m;
  for (std::uint8_t b : EncodeAddressedHeader({kind, to})) m.push_back(b);
  for (std::uint8_t b : payload) m.push_back(b);
  return m;
}

class CpgTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { fakecpg::Reset(); }
  void TearDown() override {
    transport_.reset();
    fakecpg::Reset();
  }

  void Open(CpgTransportConfig config = {}) {
    config.retry_interval = std::chrono::milliseconds(2);
    config.reconnect_min = std::chrono::milliseconds(5);
    config.reconnect_max = std::chrono::milliseconds(20);
    transport_ = std::make_unique<CpgTransport>(config, &handler_, nullptr);
    const Status s = transport_->Connect();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  // Waits (at most `ms`) for the transport's fd to become readable, then dispatches.
  bool DispatchWhenReady(int ms = 1000) {
    pollfd p{transport_->fd(), POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    transport_->Dispatch();
    return true;
  }
  void Join(std::vector<cpg_address> members) {
    fakecpg::QueueConfchg(std::move(members));
    ASSERT_TRUE(DispatchWhenReady());
  }

  Recorder handler_;
  std::unique_ptr<CpgTransport> transport_;
};

TEST_F(CpgTransportTest, JoinsAndTurnsConfchgsIntoViews) {
  fakecpg::S().nodeid = 2;
  Open();
  EXPECT_EQ(transport_->local_node(), 2u);
  EXPECT_EQ(fakecpg::S().join_calls, 1);
  Join({{3, 300, 0}, {2, MyPid(), 0}, {1, 100, 0}});
  ASSERT_EQ(handler_.views.size(), 1u);
  EXPECT_EQ(handler_.views[0].members, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(handler_.views[0].view_id, 1u);
  Join({{2, MyPid(), 0}, {1, 100, 0}});
  ASSERT_EQ(handler_.views.size(), 2u);
  EXPECT_EQ(handler_.views[1].members, (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(handler_.views[1].view_id, 2u);
}

TEST_F(CpgTransportTest, SendsCarryTheEnvelopeAndUnicastNeedsAMember) {
  Open();
  Join({{1, MyPid(), 0}, {2, 200, 0}});
  EXPECT_EQ(transport_->Broadcast(Bytes{7, 8}), SendStatus::kOk);
  EXPECT_EQ(transport_->Unicast(2, Bytes{9}), SendStatus::kOk);
  EXPECT_EQ(transport_->Unicast(3, Bytes{9}), SendStatus::kUnreachable);
  EXPECT_EQ(transport_->Unicast(1, Bytes{9}), SendStatus::kUnreachable);  // ourselves
  ASSERT_EQ(fakecpg::S().sent.size(), 2u);
  EXPECT_EQ(fakecpg::S().sent[0], Envelope(FrameKind::kBroadcast, kNoNode, {7, 8}));
  EXPECT_EQ(fakecpg::S().sent[1], Envelope(FrameKind::kUnicast, 2, {9}));
  EXPECT_EQ(transport_->stats().broadcasts_sent, 1u);
  EXPECT_EQ(transport_->stats().unicasts_sent, 1u);
  EXPECT_EQ(transport_->stats().envelope_bytes_sent, 16u);
  EXPECT_EQ(transport_->stats().unreachable, 2u);
}

TEST_F(CpgTransportTest, TryAgainQueuesInOrderAndRetriesOnTheTimer) {
  Open();
  Join({{1, MyPid(), 0}, {2, 200, 0}});
  fakecpg::S().mcast_answers = {CS_ERR_TRY_AGAIN};
  EXPECT_EQ(transport_->Broadcast(Bytes{1}), SendStatus::kOk);
  EXPECT_EQ(transport_->Broadcast(Bytes{2}), SendStatus::kOk);  // behind the first, not sent ahead of it
  EXPECT_TRUE(fakecpg::S().sent.empty());
  EXPECT_EQ(transport_->queue().frames(), 2u);
  EXPECT_EQ(transport_->stats().try_again, 1u);
  EXPECT_EQ(transport_->stats().queued, 2u);
  ASSERT_TRUE(DispatchWhenReady());  // the retry timer
  ASSERT_EQ(fakecpg::S().sent.size(), 2u);
  EXPECT_EQ(fakecpg::S().sent[0], Envelope(FrameKind::kBroadcast, kNoNode, {1}));
  EXPECT_EQ(fakecpg::S().sent[1], Envelope(FrameKind::kBroadcast, kNoNode, {2}));
  EXPECT_TRUE(transport_->queue().empty());
}

TEST_F(CpgTransportTest, AFullQueueDropsItsOldestMessageAndNeverAnswersTryAgain) {
  CpgTransportConfig config;
  config.max_queue_frames = 2;
  Open(config);
  Join({{1, MyPid(), 0}, {2, 200, 0}});
  fakecpg::S().mcast_answers.assign(100, CS_ERR_TRY_AGAIN);
  EXPECT_EQ(transport_->Broadcast(Bytes{1}), SendStatus::kOk);
  EXPECT_EQ(transport_->Broadcast(Bytes{2}), SendStatus::kOk);
  // The transport alone owns flow control on the CPG path: at its bound the oldest queued
  // message goes (counted), the new one is taken, the engine is never asked to queue.
  EXPECT_EQ(transport_->Broadcast(Bytes{3}), SendStatus::kOk);
  EXPECT_EQ(transport_->Unicast(2, Bytes{4}), SendStatus::kOk);
  EXPECT_EQ(transport_->stats().queue_full, 2u);
  EXPECT_EQ(transport_->queue().frames(), 2u);
  EXPECT_EQ(transport_->backlog(), 2u);
  EXPECT_LE(transport_->queue().peak_frames(), 2u);
  // Retries keep failing: still bounded, still in order once corosync takes them.
  ASSERT_TRUE(DispatchWhenReady());
  EXPECT_EQ(transport_->queue().frames(), 2u);
  fakecpg::S().mcast_answers.clear();
  ASSERT_TRUE(DispatchWhenReady());
  ASSERT_EQ(fakecpg::S().sent.size(), 2u);
  EXPECT_EQ(fakecpg::S().sent[0], Envelope(FrameKind::kBroadcast, kNoNode, {3}));
  EXPECT_EQ(fakecpg::S().sent[1], Envelope(FrameKind::kUnicast, 2, {4}));
  EXPECT_EQ(transport_->backlog(), 2u);  // taken by CPG, not yet delivered back
}

TEST_F(CpgTransportTest, BacklogCountsMessagesUntilCpgDeliversThemBackThenSaysReady) {
  Open();
  Join({{1, MyPid(), 0}, {2, 200, 0}});
  EXPECT_EQ(transport_->backlog(), 0u);
  EXPECT_EQ(transport_->Broadcast(Bytes{1}), SendStatus::kOk);
  EXPECT_EQ(transport_->Unicast(2, Bytes{2}), SendStatus::kOk);
  EXPECT_EQ(transport_->backlog(), 2u);
  // CPG delivers our own messages back in their agreed place: the first one comes back.
  fakecpg::QueueDeliver(1, MyPid(), Envelope(FrameKind::kBroadcast, 0, {1}));
  ASSERT_TRUE(DispatchWhenReady());
  EXPECT_EQ(transport_->backlog(), 1u);
  EXPECT_EQ(handler_.ready, 0);
  fakecpg::QueueDeliver(2, 200, Envelope(FrameKind::kBroadcast, 0, {9}));  // another node's: no effect
  fakecpg::QueueDeliver(1, MyPid(), Envelope(FrameKind::kUnicast, 2, {2}));
  ASSERT_TRUE(DispatchWhenReady());
  EXPECT_EQ(transport_->backlog(), 0u);
  EXPECT_EQ(handler_.ready, 1);  // once, after the dispatch, never inside a send
  ASSERT_EQ(handler_.frames.size(), 1u);
}

TEST_F(CpgTransportTest, TooLargeIsRefusedBeforeCpg) {
  CpgTransportConfig config;
  config.max_message_bytes = 300;
  config.max_queue_bytes = 300;
  Open(config);
  EXPECT_EQ(transport_->Broadcast(Bytes(292, 0)), SendStatus::kOk);
  EXPECT_EQ(transport_->Broadcast(Bytes(293, 0)), SendStatus::kTooLarge);
  EXPECT_EQ(transport_->stats().too_large, 1u);
}

// A unicast for another node is not this node's frame; it goes to OnOverheard (its mailbox
// entries repair this node too: engine/README.md, "Overheard entries"), with its addressee.
TEST_F(CpgTransportTest, ReceiveDropsOwnForeignIgnoredAndOthersUnicasts) {
  Open();
  Join({{1, MyPid(), 0}, {2, 200, 0}, {2, 201, 0}});
  EXPECT_EQ(transport_->stats().duplicate_members, 1u);
  fakecpg::QueueDeliver(1, MyPid(), Envelope(FrameKind::kBroadcast, 0, {1}));   // our own, echoed
  fakecpg::QueueDeliver(2, 201, Envelope(FrameKind::kBroadcast, 0, {2}));       // second process of node 2
  fakecpg::QueueDeliver(2, 200, Envelope(FrameKind::kUnicast, 3, {3}));         // for node 3
  fakecpg::QueueDeliver(2, 200, Bytes{'X', 'Y', 1});                            // no envelope
  fakecpg::QueueDeliver(2, 200, Envelope(FrameKind::kUnicast, 1, {5, 6}));      // for us
  fakecpg::QueueDeliver(2, 200, Envelope(FrameKind::kBroadcast, 0, {7}));
  ASSERT_TRUE(DispatchWhenReady());
  ASSERT_EQ(handler_.frames.size(), 2u);
  EXPECT_EQ(handler_.frames[0], (std::pair<NodeId, Bytes>{2, {5, 6}}));
  EXPECT_EQ(handler_.frames[1], (std::pair<NodeId, Bytes>{2, {7}}));
  ASSERT_EQ(handler_.overheard.size(), 1u);
  EXPECT_EQ(handler_.overheard[0], (Recorder::Overheard{2, 3, {3}}));
  const CpgTransportStats& s = transport_->stats();
  EXPECT_EQ(s.own_messages, 1u);
  EXPECT_EQ(s.from_ignored_member, 1u);
  EXPECT_EQ(s.unicast_not_for_us, 1u);
  EXPECT_EQ(s.unicast_not_for_us_bytes, 9u);
  EXPECT_EQ(s.envelope_errors, 1u);
  EXPECT_EQ(s.messages_received, 6u);
}

TEST_F(CpgTransportTest, LostCorosyncGivesASelfViewThenReconnectsWithBackoff) {
  Open();
  Join({{1, MyPid(), 0}, {2, 200, 0}});
  fakecpg::S().mcast_answers = {CS_ERR_TRY_AGAIN};
  EXPECT_EQ(transport_->Broadcast(Bytes{1}), SendStatus::kOk);  // queued
  // corosync dies: the send answers CS_ERR_LIBRARY; the teardown waits for Dispatch.
  fakecpg::S().corosync_up = false;
  EXPECT_EQ(transport_->Broadcast(Bytes{2}), SendStatus::kOk);  // queued behind
  ASSERT_TRUE(DispatchWhenReady());  // retry timer: the queued send fails -> broken -> teardown
  EXPECT_FALSE(transport_->connected());
  EXPECT_EQ(transport_->stats().disconnects, 1u);
  EXPECT_EQ(transport_->stats().dropped_disconnected, 2u);
  ASSERT_EQ(handler_.views.size(), 2u);
  EXPECT_EQ(handler_.views[1].members, (std::vector<NodeId>{1}));
  EXPECT_GT(handler_.views[1].view_id, handler_.views[0].view_id);
  // While disconnected, sends are dropped and counted.
  EXPECT_EQ(transport_->Broadcast(Bytes{3}), SendStatus::kOk);
  EXPECT_EQ(transport_->stats().dropped_disconnected, 3u);
  // Reconnect attempts fail while corosync is down, with growing delays.
  const int before = fakecpg::S().initialize_calls;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(DispatchWhenReady());
  EXPECT_EQ(fakecpg::S().initialize_calls, before + 3);
  EXPECT_EQ(transport_->stats().connect_failures, 3u);
  // corosync is back: the next attempt rejoins; the first confchg brings the others back.
  fakecpg::S().corosync_up = true;
  for (int i = 0; i < 10 && !transport_->connected(); ++i) DispatchWhenReady();
  ASSERT_TRUE(transport_->connected());
  EXPECT_EQ(transport_->stats().connects, 2u);
  Join({{1, MyPid(), 0}, {2, 200, 0}});
  ASSERT_EQ(handler_.views.size(), 3u);
  EXPECT_EQ(handler_.views[2].members, (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(transport_->Broadcast(Bytes{4}), SendStatus::kOk);
  EXPECT_EQ(fakecpg::S().sent.back(), Envelope(FrameKind::kBroadcast, kNoNode, {4}));
}

TEST_F(CpgTransportTest, ADuplicateOfAnEstablishedProcessIsFatal) {
  Open();
  Join({{1, 4242, 0}, {1, MyPid(), 0}});
  EXPECT_FALSE(transport_->fatal_error().empty());
  EXPECT_TRUE(handler_.views.empty());
}

TEST_F(CpgTransportTest, LeaveFlushesTheQueueThenLeaves) {
  Open();
  Join({{1, MyPid(), 0}, {2, 200, 0}});
  fakecpg::S().mcast_answers = {CS_ERR_TRY_AGAIN, CS_ERR_TRY_AGAIN};
  EXPECT_EQ(transport_->Broadcast(Bytes{1}), SendStatus::kOk);
  transport_->Leave(std::chrono::milliseconds(500));
  ASSERT_EQ(fakecpg::S().sent.size(), 1u);
  EXPECT_EQ(fakecpg::S().leave_calls, 1);
  EXPECT_GE(fakecpg::S().finalize_calls, 1);
  EXPECT_FALSE(transport_->connected());
  EXPECT_EQ(transport_->Broadcast(Bytes{2}), SendStatus::kOk);  // after leaving: dropped, counted
  EXPECT_EQ(transport_->stats().dropped_disconnected, 1u);
}

TEST(CpgTransportConfigTest, ValidateNamesTheField) {
  CpgTransportConfig c;
  c.group = std::string(129, 'g');
  EXPECT_NE(c.Validate().message().find("group"), std::string::npos);
  c = {};
  c.max_queue_bytes = c.max_message_bytes - 1;
  EXPECT_NE(c.Validate().message().find("max_queue_bytes"), std::string::npos);
  c = {};
  c.reconnect_max = c.reconnect_min / 2;
  EXPECT_NE(c.Validate().message().find("reconnect_max"), std::string::npos);
  EXPECT_TRUE(CpgTransportConfig{}.Validate().ok());
}

}  // namespace
}  // namespace pbxstate::corosync
