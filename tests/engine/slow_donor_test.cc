// A pull whose only donor is slow, not gone (wan-loss-corosync seed 2 on ns-3: a ring working
// off a backlog carried the request and its pages 3.9 s, past sync_timeout), or silent for good
// while still in the view (a wedged process): asked again, ever less often (engine/README.md,
// "Catch-up sessions").

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "codec.h"
#include "frame_peek.h"
#include "mini_net.h"

namespace pbxstate {
namespace {

using namespace testing_mini_net;
using namespace testing_frame_peek;
using namespace std::chrono_literals;

// Node 1 alone holds what node 2 lacks, and nothing of node 1 reaches node 2 for longer than
// sync_timeout while both stay in the view. The pull times out with no other donor; the repair
// round's summary to node 1 and its digest are lost in the same silence, and with anti-entropy
// off nothing asked again: node 2 stayed behind for good. The donor, still live, is asked again.
TEST(SlowDonor, APullThatTimesOutAsksItsLiveDonorAgain) {
  MiniNet net(2, MembershipSource::kTransport, [](EngineConfig& c) {
    c.anti_entropy_interval = 0ms;  // only the catch-up session may repair
    c.sync_retransmit = 100ms;
    c.sync_timeout = 1s;
  });
  net.HoldApart(50);
  MonoTime silent_until{};
  bool asked = false;
  net.drop = [&](NodeId from, NodeId to, std::span<const std::uint8_t> b) {
    if (from == 2 && to == 1 && b[3] == 5 && !asked) {  // the first SYNC_REQUEST opens the silence
      asked = true;
      silent_until = net.now + 1500ms;
    }
    return from == 1 && asked && net.now < silent_until;
  };
  net.SetView({1, 2});
  net.Run(1200ms);
  ASSERT_TRUE(asked);
  ASSERT_EQ(net.engines[2]->stats().sync_sessions_abandoned, 1u);
  ASSERT_NE(net.engines[2]->Digest(), net.engines[1]->Digest());
  net.Run(5s);
  EXPECT_EQ(net.engines[2]->Digest(), net.engines[1]->Digest());
  EXPECT_EQ(net.engines[2]->ClusterDeviceState("d49"), DeviceState::kBusy);
  EXPECT_EQ(net.engines[2]->stats().sync_sessions_completed, 1u);
}

// Node 1 alone holds kDevices devices that node 2 lacks; node 2 joins its view and pulls them.
// Every frame node 1 sends is lost while `silent` says so (from node 2's first SYNC_REQUEST on,
// unless a test says otherwise); node 2's pulls start at `starts` (each session's first request).
class SilentLiveDonor : public ::testing::Test {
 protected:
  static constexpr int kDevices = 400;  // several pages of max_frame_bytes

  void SetUp() override {
    net.engines[3]->OnMembership({98, {3}});
    net.HoldApart(kDevices);
    net.drop = [this](NodeId from, NodeId to, std::span<const std::uint8_t> b) { return Lost(from, to, b); };
  }

  bool Lost(NodeId from, NodeId to, std::span<const std::uint8_t> b) {
    codec::FrameHeader h{};
    std::span<const std::uint8_t> body;
    if (!PeekHeader(b, &h, &body)) return false;
    codec::SyncRequest r{};
    if (from == 2 && to == 1 && h.type == codec::FrameType::kSyncRequest && !codec::DecodeSyncRequest(body, &r) &&
        sessions.insert(r.session).second) {
      starts.push_back(net.now);
    }
    if (from != 1 || starts.empty()) return false;
    if (pages_let_through > 0 && h.type == codec::FrameType::kSyncPage) {
      --pages_let_through;
      page_arrives = net.now + net.delay;
      return false;
    }
    return silent;
  }

  // Runs until node 2 has started `n` pulls from node 1 (at most 30 s).
  void RunUntilStarts(std::size_t n) {
    const MonoTime end = net.now + 30s;
    while (starts.size() < n && net.now < end) net.Run(10ms);
    ASSERT_EQ(starts.size(), n);
  }

  // The pauses node 2 made between a pull's timeout and its next request to node 1, from start `first` on.
  std::vector<Duration> PausesAfterTimeouts(std::size_t first) const {
    std::vector<Duration> pauses;
    for (std::size_t i = first + 1; i < starts.size(); ++i) pauses.push_back(starts[i] - starts[i - 1] - kTimeout);
    return pauses;
  }

  static constexpr Duration kTimeout = 1s;
  MiniNet net{3, MembershipSource::kTransport, [](EngineConfig& c) {
                c.anti_entropy_interval = 0ms;  // only the catch-up session may repair
                c.sync_retransmit = 100ms;      // the first pause
                c.sync_timeout = kTimeout;      // the bound: 4 s
              }};
  bool silent = true;
  int pages_let_through = 0;  // SYNC_PAGEs of node 1 that pass in the silence
  MonoTime page_arrives{};
  std::set<std::uint32_t> sessions;
  std::vector<MonoTime> starts;
};

// Before, a donor that never answered was asked every sync_timeout + sync_retransmit for as long
// as it stayed in the view: each time a request (sent again every sync_retransmit), a session at
// the donor and a pull slot here. The pause doubles from sync_retransmit to 4 sync_timeouts, and
// the donor, the only holder, is never given up: it answers at last and node 2 catches up.
TEST_F(SilentLiveDonor, IsAskedAgainAfterPausesThatDoubleUpToTheirBound) {
  net.SetView({1, 2});
  RunUntilStarts(9);
  net.RunUntil(starts[8] + kTimeout);  // the ninth pull times out too
  EXPECT_EQ(PausesAfterTimeouts(0),
            (std::vector<Duration>{100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms, 4000ms, 4000ms}));
  EXPECT_EQ(net.engines[2]->stats().sync_sessions_abandoned, 9u);
  silent = false;
  net.RunUntil(starts[8] + kTimeout + 4500ms);
  ASSERT_EQ(starts.size(), 10u);  // asked at the bound again, and answered
  EXPECT_EQ(starts[9] - starts[8], kTimeout + 4s);
  EXPECT_EQ(net.engines[2]->stats().sync_sessions_completed, 1u);
  EXPECT_EQ(net.engines[2]->Digest(), net.engines[1]->Digest());
  EXPECT_EQ(net.engines[2]->ClusterDeviceState("d" + std::to_string(kDevices - 1)), DeviceState::kBusy);
}

// A page from the donor shows it answers: the next timeout pauses sync_retransmit again, and the
// pauses double from there.
TEST_F(SilentLiveDonor, APageFromItStartsThePausesAgain) {
  net.SetView({1, 2});
  RunUntilStarts(4);
  EXPECT_EQ(PausesAfterTimeouts(0), (std::vector<Duration>{100ms, 200ms, 400ms}));
  pages_let_through = 1;  // the fourth pull's first page: the next pause would have been 800 ms
  net.RunUntil(starts[3] + 4s);
  ASSERT_EQ(pages_let_through, 0);
  ASSERT_EQ(starts.size(), 7u);
  EXPECT_EQ(starts[4] - page_arrives, kTimeout + 100ms);
  EXPECT_EQ(PausesAfterTimeouts(4), (std::vector<Duration>{200ms, 400ms}));
  EXPECT_EQ(net.engines[2]->stats().sync_pages_received, 1u);
}

// A change of the members during a pull starts the pauses again too (the donor may be back on a
// new ring); a pause already running ends when it was to.
TEST_F(SilentLiveDonor, AViewChangeStartsThePausesAgain) {
  net.SetView({1, 2});
  RunUntilStarts(4);  // the fourth pull runs; it would be followed by 800 ms
  net.RunUntil(starts[3] + 500ms);
  net.SetView({1, 2, 3});  // node 3 joins (it holds nothing of node 1's)
  net.RunUntil(starts[3] + 4s);
  ASSERT_EQ(starts.size(), 7u);
  EXPECT_EQ(PausesAfterTimeouts(3), (std::vector<Duration>{100ms, 200ms, 400ms}));
  EXPECT_EQ(net.engines[2]->stats().sync_pages_received, 0u);
}

}  // namespace
}  // namespace pbxstate
