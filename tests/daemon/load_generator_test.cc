// The benchmark instruments of pbxstated (daemon/src/load_generator.h): the generator's schedule,
// slices, back-pressure, deadline and refusal handling on a fake clock, and the probe's mapping of
// view changes back to change indexes. (The requests' bounds are tests/control's.)
#include "load_generator.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "pbxstate/control/replies.h"

namespace pbxstate::daemon {
namespace {

using nlohmann::json;
using control::kMaxResultPage;

// A result as the daemon sends it (the protocol's encoding of the typed report).
template <typename Report>
json Json(const Report& report) {
  return control::EncodeReply(report);
}

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;

// Records every change the generator makes; refuses from change `refuse_at` on.
struct FakeEngine {
  std::vector<std::pair<std::string, DeviceState>> changes;
  std::size_t refuse_at = SIZE_MAX;
  std::int64_t now = 0;

  LoadGenerator::SetFn Set() {
    return [this](std::string_view device, DeviceState state) {
      if (changes.size() >= refuse_at) return Status::ResourceExhausted("max_entries reached");
      changes.emplace_back(std::string(device), state);
      return Status::Ok();
    };
  }
  LoadGenerator::ClockFn Clock() {
    return [this] { return now; };
  }
};

LoadSpec Spec(std::uint64_t devices, std::uint64_t count, std::uint64_t rate = 0, std::uint64_t max_ms = 60'000) {
  LoadSpec s;
  s.prefix = "Custom:g";
  s.devices = devices;
  s.count = count;
  s.rate_per_s = rate;
  s.max_duration_ms = max_ms;
  return s;
}

TEST(LoadGenerator, SaturatingRunMakesEveryChangeInSlicesFlippingEachDevice) {
  FakeEngine engine;
  LoadGenerator gen;
  const std::uint64_t count = 2 * kGenerateSliceChanges + 10;
  ASSERT_TRUE(gen.Start(Spec(kGenerateSliceChanges, count), 0).ok());
  int steps = 0;
  std::optional<std::int64_t> next = 0;
  while (next && steps < 10) {
    engine.now += kMs;
    const std::size_t before = engine.changes.size();
    next = gen.Step(engine.now, false, engine.Set(), engine.Clock());
    EXPECT_LE(engine.changes.size() - before, kGenerateSliceChanges);
    if (next) {
      EXPECT_EQ(*next, engine.now);  // saturating: again at the next loop turn
    }
    ++steps;
  }
  EXPECT_EQ(steps, 3);
  ASSERT_EQ(engine.changes.size(), count);
  EXPECT_FALSE(gen.running());
  // Round 0 sets INUSE, round 1 NOT_INUSE, round 2 INUSE again: every change flips its device.
  EXPECT_EQ(engine.changes[0], (std::pair<std::string, DeviceState>{"Custom:g0", DeviceState::kInUse}));
  EXPECT_EQ(engine.changes[kGenerateSliceChanges + 3],
            (std::pair<std::string, DeviceState>{"Custom:g3", DeviceState::kNotInUse}));
  EXPECT_EQ(engine.changes[2 * kGenerateSliceChanges + 9],
            (std::pair<std::string, DeviceState>{"Custom:g9", DeviceState::kInUse}));

  const json result = Json(gen.Result(0, kMaxResultPage));
  EXPECT_EQ(result["outcome"], "done");
  EXPECT_EQ(result["generated"], count);
  EXPECT_EQ(result["t_mono_ns"].size(), count);
  EXPECT_EQ(result["t_mono_ns"][0], kMs);          // stamped by the clock at the change
  EXPECT_EQ(result["t_mono_ns"][count - 1], 3 * kMs);
  EXPECT_EQ(Json(gen.Result(count - 2, 100))["t_mono_ns"].size(), 2u);  // pages stop at the end
  EXPECT_EQ(Json(gen.Result(count + 5, 100))["t_mono_ns"].size(), 0u);
}

TEST(LoadGenerator, RateModeFollowsTheSchedule) {
  FakeEngine engine;
  LoadGenerator gen;
  ASSERT_TRUE(gen.Start(Spec(100, 100, /*rate=*/1000), 0).ok());
  // At t = 0 only change 0 is due; the next is due at 1 ms.
  auto next = gen.Step(0, false, engine.Set(), engine.Clock());
  EXPECT_EQ(engine.changes.size(), 1u);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kMs);
  // 10.5 ms later changes 1..10 are due.
  engine.now = 10 * kMs + kMs / 2;
  next = gen.Step(engine.now, false, engine.Set(), engine.Clock());
  EXPECT_EQ(engine.changes.size(), 11u);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 11 * kMs);
  // Made 9.5 ms behind the schedule of change 1.
  EXPECT_EQ(Json(gen.Result(0, 1))["max_lag_ns"], 9 * kMs + kMs / 2);
  engine.now = kS;
  while ((next = gen.Step(engine.now, false, engine.Set(), engine.Clock()))) engine.now = *next;
  EXPECT_EQ(engine.changes.size(), 100u);
  EXPECT_EQ(Json(gen.Result(0, 1))["outcome"], "done");
}

TEST(LoadGenerator, WaitsWhileTheTransportIsBacklogged) {
  FakeEngine engine;
  LoadGenerator gen;
  ASSERT_TRUE(gen.Start(Spec(10, 10), 0).ok());
  auto next = gen.Step(5, true, engine.Set(), engine.Clock());
  EXPECT_TRUE(engine.changes.empty());
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 5 + kGenerateBackoffNs);
  EXPECT_FALSE(gen.Step(*next, false, engine.Set(), engine.Clock()));
  EXPECT_EQ(engine.changes.size(), 10u);
  EXPECT_EQ(Json(gen.Result(0, 1))["backpressure_waits"], 1);
}

TEST(LoadGenerator, StopsAtItsDeadlineAndOnARefusal) {
  FakeEngine engine;
  LoadGenerator gen;
  ASSERT_TRUE(gen.Start(Spec(10, 1000, /*rate=*/10, /*max_ms=*/50), 0).ok());
  EXPECT_TRUE(gen.Step(0, false, engine.Set(), engine.Clock()));
  // A second run is refused while this one goes on.
  const Status busy = gen.Start(Spec(1, 1), 0);
  EXPECT_EQ(busy.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(busy.message().find("still going on"), std::string::npos);
  EXPECT_FALSE(gen.Step(50 * kMs, false, engine.Set(), engine.Clock()));
  json r = Json(gen.Result(0, 1));
  EXPECT_EQ(r["outcome"], "timed_out");
  EXPECT_NE(r["error"].get<std::string>().find("max_duration_ms (50)"), std::string::npos);
  EXPECT_EQ(r["generated"], 1);

  engine.refuse_at = 4;
  ASSERT_TRUE(gen.Start(Spec(10, 10), 0).ok());  // the finished run is replaced
  EXPECT_FALSE(gen.Step(0, false, engine.Set(), engine.Clock()));
  r = Json(gen.Result(0, 10));
  EXPECT_EQ(r["outcome"], "refused");
  EXPECT_EQ(r["generated"], 3);  // change 0 of the timed-out run, then 3 of this one
  EXPECT_NE(r["error"].get<std::string>().find("max_entries reached"), std::string::npos);
}

ViewChange Change(std::string_view key, ChangeCause cause, std::optional<DeviceState> state) {
  ViewChange c{};
  c.kind = EntryKind::kDevice;
  c.cause = cause;
  c.key = key;
  c.origin = 1;
  c.new_contribution = state;
  return c;
}

TEST(ChangeProbe, MapsEachVisibleChangeBackToItsIndex) {
  ChangeProbe probe;
  LoadSpec spec = Spec(3, 7);
  probe.Watch(spec);
  // Generator order: g0 g1 g2 (INUSE), g0 g1 g2 (NOT_INUSE), g0 (INUSE). Delivered per device in
  // order, devices interleaved differently.
  const std::pair<const char*, DeviceState> seq[] = {
      {"Custom:g2", DeviceState::kInUse},    {"Custom:g0", DeviceState::kInUse},  {"Custom:g2", DeviceState::kNotInUse},
      {"Custom:g1", DeviceState::kInUse},    {"Custom:g0", DeviceState::kNotInUse}, {"Custom:g0", DeviceState::kInUse}};
  std::int64_t t = 100;
  for (const auto& [key, state] : seq) probe.OnViewChange(Change(key, ChangeCause::kRemote, state), t++);
  // Not ours: another prefix, a departure, a removed contribution, a device out of range, a
  // name with junk after the digits, a state that is not the expected one.
  probe.OnViewChange(Change("Custom:x1", ChangeCause::kRemote, DeviceState::kInUse), t);
  probe.OnViewChange(Change("Custom:g1", ChangeCause::kDeparture, DeviceState::kInUse), t);
  probe.OnViewChange(Change("Custom:g1", ChangeCause::kRemote, std::nullopt), t);
  probe.OnViewChange(Change("Custom:g9", ChangeCause::kRemote, DeviceState::kInUse), t);
  probe.OnViewChange(Change("Custom:g1x", ChangeCause::kRemote, DeviceState::kInUse), t);
  probe.OnViewChange(Change("Custom:g1", ChangeCause::kRemote, DeviceState::kInUse), t);
  const json r = Json(probe.Result(0, kMaxResultPage));
  EXPECT_EQ(r["seen"], 6);
  EXPECT_EQ(r["complete"], false);
  EXPECT_EQ(r["unexpected"], 3);  // g9, g1x, and g1 INUSE where NOT_INUSE (index 4) was due
  EXPECT_EQ(r["first_t_mono_ns"], 100);
  EXPECT_EQ(r["last_t_mono_ns"], 105);
  EXPECT_EQ(r["t_mono_ns"], json::array({101, 103, 100, 104, 0, 102, 105}));
  EXPECT_EQ(Json(probe.Result(4, 2))["t_mono_ns"], json::array({0, 102}));

  // The missing change arrives: complete. A new watch starts from nothing.
  probe.OnViewChange(Change("Custom:g1", ChangeCause::kRemote, DeviceState::kNotInUse), 200);
  EXPECT_EQ(Json(probe.Result(0, 1))["complete"], true);
  probe.Watch(Spec(1, 1));
  EXPECT_EQ(Json(probe.Result(0, 1))["seen"], 0);
  EXPECT_EQ(Json(probe.Result(0, 1))["t_mono_ns"], json::array({0}));
}

}  // namespace
}  // namespace pbxstate::daemon
