// Adaptive batching (EngineConfig::batch_window as an upper bound) on the inproc network, in both
// of its roles: playing CPG (kTransport), the network confirms a node's frames once they reached
// every member (Env::SendBacklog counts them, Engine::OnSendReady follows); playing UDP
// (kHeartbeat) it confirms nothing and the engine paces itself.
//
//   - low load (one change every 100 ms): every change reaches the other node exactly as fast as
//     with batching off (batch_window 0), in as many frames;
//   - high load (a burst, and a sustained stream): changes share frames as batching does: one
//     flush round per window, every frame of a round but its last full, so frames per change fall
//     to what full frames carry;
//   - with a growing pacing (batch_window_max above batch_window): low load still equals
//     unbatched, a sustained stream flushes as rarely as a fixed window of batch_window_max (but
//     for the doubling at its start), and a lone change right after a stream still leaves at once.
//
// Everything is counted in virtual time and frames: deterministic, no wall clock.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "util.h"

namespace pbxstate::testing {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::uint8_t kUpdatesType = 1;  // the frame type byte of UPDATES (engine/README.md)
constexpr std::size_t kMaxFrameBytes = 1400;

std::string Device(std::size_t k) {
  std::string digits = std::to_string(k);
  return "dev-" + std::string(digits.size() < 5 ? 5 - digits.size() : 0, '0') + digits;
}

inproc::ClusterOptions Options(MembershipSource membership, Duration window, Duration window_max = Duration::zero()) {
  inproc::ClusterOptions opt;
  opt.nodes = 2;
  opt.seed = 16;
  opt.membership = membership;
  opt.transport_views = inproc::TransportViews::kConsistent;
  opt.engine.batch_window = window;
  opt.engine.batch_window_max = window_max;
  opt.engine.max_frame_bytes = kMaxFrameBytes;
  opt.engine.max_batch_changes = 100000;
  // No periodic digests: the only frames of node 0 are its updates (and, with heartbeats, its
  // heartbeats, which carry no changes).
  opt.engine.anti_entropy_interval = membership == MembershipSource::kTransport ? Duration::zero() : seconds(30);
  opt.link.delay = milliseconds(1);
  return opt;
}

// What node 1 saw of node 0's changes: when each device first arrived, and the UPDATES frames.
struct Observed {
  std::map<std::string, MonoTime> arrived;
  std::vector<MonoTime> frame_times;
  std::vector<std::size_t> frame_bytes;
};

void Observe(inproc::Cluster& c, Observed* seen) {
  c.SetTraceHook([seen](const inproc::TraceEvent& te) {
    if (te.node != 1) return;
    if (te.kind == inproc::TraceKind::kViewChange && te.change->cause == ChangeCause::kRemote) {
      seen->arrived.emplace(std::string(te.change->key), te.at);
    }
    if (te.kind == inproc::TraceKind::kDelivered && te.peer == 0 && te.frame.size() > 3 &&
        te.frame[3] == kUpdatesType) {
      seen->frame_times.push_back(te.at);
      seen->frame_bytes.push_back(te.bytes);
    }
  });
}

struct LowLoadRun {
  std::vector<Duration> latencies;
  std::uint64_t update_frames = 0;
};

LowLoadRun RunLowLoad(MembershipSource membership, Duration window, Duration window_max = Duration::zero()) {
  LowLoadRun run;
  auto c = MakeCluster(Options(membership, window, window_max));
  if (!c) return run;
  EXPECT_TRUE(c->Advance(seconds(2)).ok());
  Observed seen;
  Observe(*c, &seen);
  std::vector<MonoTime> made;
  for (std::size_t k = 0; k < 30; ++k) {
    made.push_back(c->now());
    EXPECT_TRUE(c->SetDeviceState(0, Device(k), k % 2 ? DeviceState::kInUse : DeviceState::kRinging).ok());
    EXPECT_TRUE(c->Advance(milliseconds(100)).ok());
  }
  for (std::size_t k = 0; k < made.size(); ++k) {
    auto it = seen.arrived.find(Device(k));
    EXPECT_NE(it, seen.arrived.end()) << Device(k) << " never reached node 1";
    if (it != seen.arrived.end()) run.latencies.push_back(it->second - made[k]);
  }
  run.update_frames = c->stats(0).update_frames_sent;
  EXPECT_EQ(c->stats(0).changes_held, 0u);
  return run;
}

class AdaptiveBatching : public ::testing::TestWithParam<MembershipSource> {};

TEST_P(AdaptiveBatching, LowLoadLatencyAndFramesEqualUnbatched) {
  const LowLoadRun unbatched = RunLowLoad(GetParam(), Duration::zero());
  const LowLoadRun adaptive = RunLowLoad(GetParam(), milliseconds(20));
  ASSERT_EQ(unbatched.latencies.size(), 30u);
  EXPECT_EQ(adaptive.latencies, unbatched.latencies);
  EXPECT_EQ(adaptive.update_frames, unbatched.update_frames);
  EXPECT_EQ(adaptive.update_frames, 30u);
  // One link delay: no change waited for a window.
  for (Duration d : adaptive.latencies) EXPECT_EQ(d, milliseconds(1));
  // A pacing that may grow to 100 ms changes nothing at low load: no flush ever held a change.
  const LowLoadRun growing = RunLowLoad(GetParam(), milliseconds(20), milliseconds(100));
  EXPECT_EQ(growing.latencies, unbatched.latencies);
  EXPECT_EQ(growing.update_frames, unbatched.update_frames);
}

struct HighLoadRun {
  std::size_t changes = 0;
  Observed seen;
  std::uint64_t update_frames = 0;
  std::uint64_t held = 0;
};

// `changes` changes of distinct devices on node 0, `per_step` of them every `step`.
HighLoadRun RunHighLoad(MembershipSource membership, Duration window, std::size_t changes, std::size_t per_step,
                        Duration step, Duration window_max = Duration::zero()) {
  HighLoadRun run;
  run.changes = changes;
  auto c = MakeCluster(Options(membership, window, window_max));
  if (!c) return run;
  EXPECT_TRUE(c->Advance(seconds(2)).ok());
  Observe(*c, &run.seen);
  for (std::size_t k = 0; k < changes; ++k) {
    EXPECT_TRUE(c->SetDeviceState(0, Device(k), DeviceState::kInUse).ok());
    if (k % per_step == per_step - 1) {
      EXPECT_TRUE(c->Advance(step).ok());
    }
  }
  EXPECT_TRUE(c->Advance(seconds(1)).ok());
  EXPECT_EQ(run.seen.arrived.size(), changes) << "changes were lost";
  run.update_frames = c->stats(0).update_frames_sent;
  run.held = c->stats(0).changes_held;
  EXPECT_EQ(run.seen.frame_bytes.size(), run.update_frames);
  return run;
}

// Frames sent at one instant are one flush round; within a round every frame but the last is
// full (the engine splits at max_frame_bytes). Returns the number of rounds.
std::size_t CountRoundsAndCheckFullness(const Observed& seen) {
  std::size_t rounds = 0;
  for (std::size_t i = 0; i < seen.frame_times.size(); ++i) {
    const bool last_of_round = i + 1 == seen.frame_times.size() || seen.frame_times[i + 1] != seen.frame_times[i];
    if (last_of_round) {
      ++rounds;
    } else {
      // Full: the engine leaves room for the widest updates prefix (30 bytes) and a device record
      // here is 14 bytes, so a full frame is within 44 bytes of max_frame_bytes.
      EXPECT_GE(seen.frame_bytes[i], kMaxFrameBytes - 44) << "frame " << i << " of a round is not full";
    }
  }
  return rounds;
}

TEST_P(AdaptiveBatching, BurstLeavesInFullFramesLikeBatching) {
  constexpr std::size_t kChanges = 5000;
  const HighLoadRun unbatched = RunHighLoad(GetParam(), Duration::zero(), kChanges, kChanges, milliseconds(1));
  const HighLoadRun adaptive = RunHighLoad(GetParam(), milliseconds(20), kChanges, kChanges, milliseconds(1));
  EXPECT_EQ(unbatched.update_frames, kChanges);
  // The first change left alone (the transport was idle); the other 4,999 were held and left
  // together in one round of full frames: what a fixed window makes of the same burst, plus the
  // lone frame.
  EXPECT_EQ(adaptive.held, kChanges - 1);
  EXPECT_EQ(CountRoundsAndCheckFullness(adaptive.seen), 2u);
  EXPECT_LE(adaptive.update_frames, kChanges / 80);
  std::printf("burst of %zu changes (%s): %llu frames unbatched, %llu adaptive\n", kChanges,
              ModeName(GetParam()).c_str(), static_cast<unsigned long long>(unbatched.update_frames),
              static_cast<unsigned long long>(adaptive.update_frames));
}

TEST_P(AdaptiveBatching, SustainedLoadSendsAtMostOnePartialFramePerRound) {
  // 10,000 changes over 200 ms: 50 per millisecond, 1,000 per window.
  constexpr std::size_t kChanges = 10000;
  const Duration window = milliseconds(20);
  const HighLoadRun adaptive = RunHighLoad(GetParam(), window, kChanges, 5, microseconds(100));
  const std::size_t rounds = CountRoundsAndCheckFullness(adaptive.seen);
  // One round per window, as fixed batching (the first change alone, then 200 ms / 20 ms
  // windows), whether or not the network confirms frames: the window paces flushes under load.
  EXPECT_LE(rounds, 1 + 200 / 20 + 1);
  // Every round's frames but its last are full, so frames exceed the full-frame minimum by at
  // most one per round.
  std::size_t bytes = 0;
  for (std::size_t b : adaptive.seen.frame_bytes) bytes += b;
  const std::size_t full_frames_needed = (bytes + kMaxFrameBytes - 1) / kMaxFrameBytes;
  EXPECT_LE(adaptive.update_frames, full_frames_needed + rounds);
  EXPECT_LT(adaptive.update_frames * 20, kChanges);
  std::printf("sustained %zu changes (%s): %llu frames in %zu rounds (full frames would be %zu)\n", kChanges,
              ModeName(GetParam()).c_str(), static_cast<unsigned long long>(adaptive.update_frames), rounds,
              full_frames_needed);
}

TEST_P(AdaptiveBatching, GrowingPacingFlushesAStreamAsRarelyAsTheLongerWindow) {
  // 40,000 changes over 2 s: 20 per millisecond, steadily.
  constexpr std::size_t kChanges = 40000;
  const HighLoadRun fixed20 = RunHighLoad(GetParam(), milliseconds(20), kChanges, 2, microseconds(100));
  const HighLoadRun fixed100 = RunHighLoad(GetParam(), milliseconds(100), kChanges, 2, microseconds(100));
  const HighLoadRun growing =
      RunHighLoad(GetParam(), milliseconds(20), kChanges, 2, microseconds(100), milliseconds(100));
  const std::size_t rounds20 = CountRoundsAndCheckFullness(fixed20.seen);
  const std::size_t rounds100 = CountRoundsAndCheckFullness(fixed100.seen);
  const std::size_t rounds = CountRoundsAndCheckFullness(growing.seen);
  // Fixed windows: the lone first change, then one round per window over the 2 s.
  EXPECT_LE(rounds20, 1 + 2000 / 20 + 1);
  EXPECT_LE(rounds100, 1 + 2000 / 100 + 1);
  // Growing: the lone first change, rounds after 20, 40 and 80 ms (the doubling), then one per
  // 100 ms: at most the doubling's 3 rounds more than a fixed 100 ms window.
  EXPECT_LE(rounds, rounds100 + 3);
  EXPECT_LT(rounds * 3, rounds20);
  // And as many frames per change as that window, but for a partial frame per extra round.
  EXPECT_LE(growing.update_frames, fixed100.update_frames + 3);
  std::printf("stream of %zu changes over 2 s (%s): rounds / frames: window 20 ms %zu / %llu, 100 ms %zu / %llu, "
              "20 growing to 100 ms %zu / %llu\n",
              kChanges, ModeName(GetParam()).c_str(), rounds20, static_cast<unsigned long long>(fixed20.update_frames),
              rounds100, static_cast<unsigned long long>(fixed100.update_frames), rounds,
              static_cast<unsigned long long>(growing.update_frames));
}

// The latency of a change made `gap` after a 500 ms stream (20 changes per millisecond) ends.
Duration LoneChangeAfterStream(MembershipSource membership, Duration window, Duration window_max, Duration gap) {
  auto c = MakeCluster(Options(membership, window, window_max));
  if (!c) return Duration::zero();
  EXPECT_TRUE(c->Advance(seconds(2)).ok());
  Observed seen;
  Observe(*c, &seen);
  for (std::size_t k = 0; k < 10000; ++k) {
    EXPECT_TRUE(c->SetDeviceState(0, Device(k), DeviceState::kInUse).ok());
    if (k % 2 == 1) {
      EXPECT_TRUE(c->Advance(microseconds(100)).ok());
    }
  }
  EXPECT_TRUE(c->Advance(gap).ok());
  const MonoTime made = c->now();
  EXPECT_TRUE(c->SetDeviceState(0, "lone", DeviceState::kRinging).ok());
  EXPECT_TRUE(c->Advance(seconds(1)).ok());
  EXPECT_EQ(seen.arrived.size(), 10001u) << "changes were lost";
  auto it = seen.arrived.find("lone");
  return it == seen.arrived.end() ? Duration::max() : it->second - made;
}

TEST_P(AdaptiveBatching, GrowingPacingSendsALoneChangeAfterAStreamAtOnce) {
  // The stream's last held changes leave once it has been quiet for batch_window (20 ms); 50 ms
  // after its last change no change was made and nothing flushed for batch_window, inside the
  // pacing the stream had grown to (100 ms). The change goes at once, as without a stream; a
  // fixed 100 ms window holds it, and so does the growing pacing before that quiet gap.
  EXPECT_EQ(LoneChangeAfterStream(GetParam(), milliseconds(20), milliseconds(100), milliseconds(50)), milliseconds(1));
  EXPECT_GT(LoneChangeAfterStream(GetParam(), milliseconds(100), Duration::zero(), milliseconds(50)), milliseconds(1));
  EXPECT_GT(LoneChangeAfterStream(GetParam(), milliseconds(20), milliseconds(100), milliseconds(30)), milliseconds(1));
}

INSTANTIATE_TEST_SUITE_P(BothMembershipSources, AdaptiveBatching,
                         ::testing::Values(MembershipSource::kTransport, MembershipSource::kHeartbeat),
                         [](const ::testing::TestParamInfo<MembershipSource>& p) { return ModeName(p.param); });

}  // namespace
}  // namespace pbxstate::testing
