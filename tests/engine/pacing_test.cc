// The pacing of update flushes (EngineConfig::batch_window, batch_window_max) around a host's
// bracket: CpgEnv::BeginBatch/EndBatch count one more frame in flight until the bracket's end and
// then call OnSendReady, here the MiniEnv's backlog set to 1 and back to 0. Once a stream has grown
// the pacing, a batch made after a quiet gap leaves at the bracket's end, as a lone change after
// one leaves at once; a batch made while the stream goes on waits for the grown pacing as before.
// In virtual time over MiniNet, so every figure is exact.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mini_net.h"
#include "pbxstate/engine.h"

namespace pbxstate {
namespace {

using namespace std::chrono_literals;
using namespace testing_mini_net;  // MiniNet, MiniEnv

constexpr Duration kWindow = 20ms;       // batch_window: the quiet gap, the shortest pacing
constexpr Duration kLongestPace = 100ms;  // batch_window_max: what a stream's pacing grows to
constexpr Duration kStreamGap = 5ms;      // between a stream's changes: well under kWindow
constexpr Duration kStreamLength = 600ms;  // 20, 40, 80, then 100 ms apart: long enough to grow

class Pacing : public ::testing::Test {
 protected:
  Pacing()
      : net_(2, MembershipSource::kHeartbeat, [](EngineConfig& c) {
          c.batch_window = kWindow;
          c.batch_window_max = kLongestPace;
        }) {
    net_.Run(2s);
    net_.envs[1]->backlog = 0;  // a host that confirms its frames (CPG's), idle until a bracket
  }

  Engine& Sender() { return *net_.engines[1]; }
  std::uint64_t Flushes() { return Sender().stats().update_frames_sent; }

  // One local change of a new value, so that none is coalesced into nothing: a stream's device
  // by default, the bracket's own ones otherwise.
  void Change(std::string key = {}) {
    if (key.empty()) key = "dev" + std::to_string(changes_ % 16);
    const DeviceState state = changes_ % 32 < 16 ? DeviceState::kInUse : DeviceState::kRinging;
    ASSERT_TRUE(Sender().SetDeviceState(key, state).ok());
    last_key_ = key;
    last_state_ = state;
    ++changes_;
  }

  // Runs `d` in 1 ms steps, a change every kStreamGap when `streaming`, noting when flushes left.
  void Run(Duration d, bool streaming) {
    const MonoTime until = net_.now + d;
    while (net_.now < until) {
      std::uint64_t before = Flushes();
      if (streaming && (net_.now - stream_start_) % kStreamGap == 0ms) Change();
      if (Flushes() != before) flush_times_.push_back(net_.now);  // sent at once
      before = Flushes();
      net_.Run(1ms);
      if (Flushes() != before) flush_times_.push_back(net_.now);  // timers run at whole ms here
    }
  }

  // A stream long enough to grow the pacing: its last flushes kLongestPace apart.
  void GrowThePacing() {
    stream_start_ = net_.now;
    Run(kStreamLength, true);
    ASSERT_GE(flush_times_.size(), 3u);
    ASSERT_EQ(flush_times_.back() - flush_times_[flush_times_.size() - 2], kLongestPace);
  }

  // A bracket of two changes 1 ms apart (two devices changing within 2 ms): both are held until
  // its end. Returns how many flushes left at that end, at the instant OnSendReady ran.
  std::uint64_t BracketOfTwo() {
    net_.envs[1]->backlog = 1;
    const std::uint64_t before = Flushes();
    Change("bracket0");
    net_.Run(1ms);
    Change("bracket1");
    EXPECT_EQ(Flushes(), before);  // inside the bracket the transport is busy: held
    const std::uint64_t at_end = Flushes();
    net_.envs[1]->backlog = 0;
    Sender().OnSendReady();
    return Flushes() - at_end;
  }

  MiniNet net_;
  std::vector<MonoTime> flush_times_;
  MonoTime stream_start_{};
  int changes_ = 0;
  std::string last_key_;
  DeviceState last_state_ = DeviceState::kUnknown;
};

TEST_F(Pacing, ABracketedBatchAfterAQuietGapLeavesAtTheBracketsEnd) {
  GrowThePacing();
  // Quiet: the stream's held tail leaves within a window of its last change; then more than a
  // window without a change or a flush, less than the grown pacing since the last flush.
  Run(kWindow + kLongestPace / 2, false);
  const Duration quiet = net_.now - flush_times_.back();
  ASSERT_GT(quiet, kWindow);
  ASSERT_LT(quiet, kLongestPace);
  EXPECT_EQ(BracketOfTwo(), 1u);  // one frame, with no delay on the test clock
  net_.Run(net_.delay);
  EXPECT_EQ(net_.engines[2]->ClusterDeviceState(last_key_), last_state_);
}

TEST_F(Pacing, ABracketedBatchInAStreamWaitsForTheGrownPacing) {
  GrowThePacing();
  // Right after a flush, while the stream goes on (its previous change kStreamGap or less ago).
  const std::size_t flushes_seen = flush_times_.size();
  while (flush_times_.size() == flushes_seen) Run(1ms, true);
  const MonoTime last_flush = flush_times_.back();
  EXPECT_EQ(BracketOfTwo(), 0u);
  const std::string bracket_key = last_key_;
  const DeviceState bracket_state = last_state_;
  Run(kLongestPace, true);
  ASSERT_GT(flush_times_.size(), flushes_seen + 1);
  EXPECT_EQ(flush_times_[flushes_seen + 1] - last_flush, kLongestPace);  // paced as before
  net_.Run(net_.delay);
  EXPECT_EQ(net_.engines[2]->ClusterDeviceState(bracket_key), bracket_state);
}

TEST_F(Pacing, AQuietGapAmongHeldChangesEndsThePacingToo) {
  GrowThePacing();
  // A stream's change held by a busy transport, then more than a window without a change, then
  // one more while it is still busy: the gap ended the pacing, so both leave when it frees.
  const std::size_t flushes_seen = flush_times_.size();
  while (flush_times_.size() == flushes_seen) Run(1ms, true);
  net_.envs[1]->backlog = 1;
  Change();
  net_.Run(kWindow + 5ms);
  Change();
  const std::uint64_t held = Flushes();
  net_.envs[1]->backlog = 0;
  Sender().OnSendReady();
  EXPECT_EQ(Flushes(), held + 1);
}

}  // namespace
}  // namespace pbxstate
