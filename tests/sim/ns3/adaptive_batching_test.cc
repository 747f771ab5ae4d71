// Adaptive batching (EngineConfig::batch_window as an upper bound) in ns-3: UDP confirms nothing,
// so the node app reports no send backlog and the engine paces itself (transports/ns3/README.md):
//
//   - low load (one change every 200 ms): each change reaches the other nodes at exactly the same
//     simulated instant as with batching off, in the same number of UPDATES frames;
//   - high load (a stream of 20 changes per millisecond): one UPDATES frame per window, the
//     number a fixed window makes, instead of one per change;
//   - with the pacing growing from 20 to 100 ms (batch_window_max): low load as unbatched, and a
//     stream in as many frames as a fixed 100 ms window makes, but for the doubling at its start.
//
// Counts and simulated time only: deterministic.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pbxstate/engine.h"
#include "pbxstate/ns3/world.h"

namespace pbxstate::ns3sim {
namespace {

using namespace std::chrono_literals;

std::string Device(std::size_t k) {
  std::string digits = std::to_string(k);
  return "dev-" + std::string(digits.size() < 5 ? 5 - digits.size() : 0, '0') + digits;
}

// When each (node, device) first showed a remote change.
class Arrivals : public ViewCollector {
 public:
  void OnViewChange(NodeId node, ns3::Time at, const ViewChange& change) override {
    if (change.cause != ChangeCause::kRemote || change.kind != EntryKind::kDevice) return;
    first.emplace(std::make_pair(node, std::string(change.key)), Duration(at.GetNanoSeconds()));
  }
  std::map<std::pair<NodeId, std::string>, Duration> first;
};

struct LoadRun {
  std::vector<Duration> latencies;  // per change and receiving node, in change order
  std::uint64_t update_frames = 0;  // node 1's UPDATES frames
  std::uint64_t changes_held = 0;
  std::size_t arrived = 0;
};

// Node 1 of a 3-node LAN makes `changes` changes, `per_step` of them every `step`, from 1 s on.
LoadRun RunLoad(Duration window, std::size_t changes, std::size_t per_step, Duration step,
                Duration window_max = Duration::zero()) {
  LoadRun run;
  Arrivals arrivals;
  WorldConfig config = WorldConfig::SingleLan(3);
  config.engine.membership = MembershipSource::kHeartbeat;
  config.engine.heartbeat_interval = 200ms;
  config.engine.suspect_after = 1000ms;
  config.engine.anti_entropy_interval = 10s;
  config.engine.max_batch_changes = 100000;
  config.engine.batch_window = window;
  config.engine.batch_window_max = window_max;
  config.collector = &arrivals;
  std::unique_ptr<Ns3World> world;
  const Status st = Ns3World::Create(config, &world);
  EXPECT_TRUE(st.ok()) << st.ToString();
  if (!world) return run;
  std::vector<Duration> made(changes);
  for (std::size_t k = 0; k < changes; ++k) {
    made[k] = 1s + static_cast<std::int64_t>(k / per_step) * step;
    world->At(made[k], [&world, k] { EXPECT_TRUE(world->engine(1)->SetDeviceState(Device(k), DeviceState::kInUse).ok()); });
  }
  world->RunUntil(made.back() + 2s);
  for (std::size_t k = 0; k < changes; ++k) {
    for (NodeId n : {2u, 3u}) {
      auto it = arrivals.first.find({n, Device(k)});
      if (it == arrivals.first.end()) continue;
      ++run.arrived;
      run.latencies.push_back(it->second - made[k]);
    }
  }
  run.update_frames = world->engine(1)->stats().update_frames_sent;
  run.changes_held = world->engine(1)->stats().changes_held;
  return run;
}

TEST(AdaptiveBatching, LowLoadLatencyAndFramesEqualUnbatched) {
  const LoadRun unbatched = RunLoad(0ms, 20, 1, 200ms);
  const LoadRun adaptive = RunLoad(20ms, 20, 1, 200ms);
  ASSERT_EQ(unbatched.arrived, 40u);
  EXPECT_EQ(adaptive.arrived, 40u);
  EXPECT_EQ(adaptive.latencies, unbatched.latencies);  // to the simulated nanosecond
  EXPECT_EQ(adaptive.update_frames, unbatched.update_frames);
  EXPECT_EQ(adaptive.update_frames, 20u);
  EXPECT_EQ(adaptive.changes_held, 0u);
  for (Duration d : adaptive.latencies) EXPECT_LT(d, 1ms);  // one LAN hop, no window
  const LoadRun growing = RunLoad(20ms, 20, 1, 200ms, 100ms);
  EXPECT_EQ(growing.latencies, unbatched.latencies);
  EXPECT_EQ(growing.update_frames, unbatched.update_frames);
  EXPECT_EQ(growing.changes_held, 0u);
}

TEST(AdaptiveBatching, HighLoadFramesPerChangeEqualBatched) {
  // 20 changes per millisecond for 400 ms: 8,000 changes, 400 per 20 ms window (one full-enough
  // frame each: 400 device records of ~15 bytes would need five; 20 per ms in 1400-byte frames).
  constexpr std::size_t kChanges = 8000;
  const LoadRun unbatched = RunLoad(0ms, kChanges, 20, 1ms);
  const LoadRun adaptive = RunLoad(20ms, kChanges, 20, 1ms);
  EXPECT_EQ(unbatched.arrived, 2 * kChanges);
  EXPECT_EQ(adaptive.arrived, 2 * kChanges);
  EXPECT_EQ(unbatched.update_frames, kChanges);
  // A fixed 20 ms window over 400 ms of steady changes flushes 20 times, each flush of 400
  // device records of 14 bytes in ceil(400 * 14 / 1350) = 5 frames: 100 frames. Adaptive: the
  // first change alone, then one flush per window: the same give or take the lone frame and the
  // windows' edges.
  const std::uint64_t batched_frames = (400 / 20) * 5;
  EXPECT_LE(adaptive.update_frames, batched_frames + batched_frames / 10 + 2);
  EXPECT_GE(adaptive.update_frames, batched_frames - batched_frames / 10);
  // A change waits at most one window (plus the LAN hop and the frames ahead of it).
  for (Duration d : adaptive.latencies) EXPECT_LT(d, 21ms);
  std::printf("%zu changes at 20/ms: %llu UPDATES frames unbatched, %llu adaptive (a fixed window: %llu)\n",
              kChanges, static_cast<unsigned long long>(unbatched.update_frames),
              static_cast<unsigned long long>(adaptive.update_frames),
              static_cast<unsigned long long>(batched_frames));
}

TEST(AdaptiveBatching, GrowingPacingFramesPerChangeEqualTheLongerWindow) {
  // 20 changes per millisecond for 2 s: 40,000 changes.
  constexpr std::size_t kChanges = 40000;
  const LoadRun fixed100 = RunLoad(100ms, kChanges, 20, 1ms);
  const LoadRun growing = RunLoad(20ms, kChanges, 20, 1ms, 100ms);
  EXPECT_EQ(fixed100.arrived, 2 * kChanges);
  EXPECT_EQ(growing.arrived, 2 * kChanges);
  // The growing pacing's flushes: the lone first change, after 20, 40 and 80 ms, then every
  // 100 ms as the fixed window; each flush ends in at most one partial frame, so at most 3 frames
  // more than the fixed window.
  EXPECT_LE(growing.update_frames, fixed100.update_frames + 3);
  // A change in the stream waits at most batch_window_max (plus the hop and the frames ahead).
  for (Duration d : growing.latencies) EXPECT_LT(d, 101ms);
  std::printf("%zu changes at 20/ms: %llu UPDATES frames with a fixed 100 ms window, %llu growing from 20 ms\n",
              kChanges, static_cast<unsigned long long>(fixed100.update_frames),
              static_cast<unsigned long long>(growing.update_frames));
}

}  // namespace
}  // namespace pbxstate::ns3sim
