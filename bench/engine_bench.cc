// Engine benchmarks, through the public API only (engine.h, env.h).
//
//   BM_EncodeLocalChanges     local changes + batching + frame building: encode MB/s, changes/s
//   BM_ApplyRemoteUpdates     OnFrame of real UPDATES frames: remote records applied/s, decode MB/s
//   BM_MemoryPerEntry         bytes held per (device, node) entry, 1M devices x 8 nodes
//   BM_NameChurn              engine memory and names after rounds of registrations whose names
//                             come and go (each round 10,000 new AORs from 8 nodes, removed or
//                             expired): flat, since names no entry refers to are freed
//   BM_BurstFramesPerChange   frames and bytes on the wire per change for a 10k-change burst,
//                             with batch_window 0 and 10 ms
//   BM_FrameAuthOverhead      one live change end to end (build, send, receive, apply) per frame,
//                             without a key and with one (MAC sign at the sender, verify and
//                             replay check at the receiver), 1 or 25 records per frame: the
//                             ratio of the two is what authentication costs per frame
//   BM_SingleChange           ONE keyed change end to end on a quiet cluster: SetDeviceState or
//                             SetMailbox (an existing mailbox) at the sender -> frame sealed ->
//                             Env -> receiver decodes, verifies, applies, calls its listener;
//                             caches warm, or cold (a 32 MiB buffer written between changes,
//                             outside the timing); allocations per change from the counting
//                             allocator below; the two critical paths (medians, wall clock),
//                             change made to frame handed to the Env (send_us) and frame
//                             received to listener (listener_us), as an Asterisk host has them before
//                             cpg_mcast_joined and before its stasis publication
//
// Frames are produced by a real sender engine from local changes into a capturing Env (virtual
// clock, frames appended to one buffer) and consumed by a real receiver engine that has the sender
// in its membership view (MembershipSource::kTransport). Targets from the issue: >= 1,000,000
// remote updates applied per second per core; <= 128 bytes per (device, node) entry.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/config.h"
#include "pbxstate/engine.h"
#include "pbxstate/env.h"
#include "pbxstate/types.h"

// ---- counting allocator (this binary only): bytes currently held through operator new ----
//
// Each block carries a 16-byte header with its size, so that unsized delete can subtract it
// and the returned pointer keeps malloc's 16-byte alignment. Relaxed atomics: the benchmark is
// single-threaded, but Google Benchmark's own threads may allocate.
namespace {
std::atomic<std::int64_t> g_bytes_held{0};
std::atomic<std::int64_t> g_blocks_held{0};
std::atomic<std::int64_t> g_allocations{0};  // every operator new since start: allocations per change
constexpr std::size_t kHeader = 16;

void* CountedAlloc(std::size_t size) noexcept {
  void* raw = std::malloc(size + kHeader);
  if (raw == nullptr) return nullptr;
  *static_cast<std::size_t*>(raw) = size;
  g_bytes_held.fetch_add(static_cast<std::int64_t>(size), std::memory_order_relaxed);
  g_blocks_held.fetch_add(1, std::memory_order_relaxed);
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return static_cast<char*>(raw) + kHeader;
}
// Not inlined into the delete operators: GCC would otherwise see free() applied to the result
// of operator new and warn (-Wmismatched-new-delete), not knowing both are replaced here.
[[gnu::noinline]] void CountedFree(void* p) noexcept {
  if (p == nullptr) return;
  void* raw = static_cast<char*>(p) - kHeader;
  g_bytes_held.fetch_sub(static_cast<std::int64_t>(*static_cast<std::size_t*>(raw)), std::memory_order_relaxed);
  g_blocks_held.fetch_sub(1, std::memory_order_relaxed);
  std::free(raw);
}
}  // namespace

void* operator new(std::size_t size) {
  if (void* p = CountedAlloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return CountedAlloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return CountedAlloc(size); }
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { CountedFree(p); }

namespace {

using namespace std::chrono_literals;
using pbxstate::DeviceState;
using pbxstate::Engine;
using pbxstate::EngineConfig;
using pbxstate::NodeId;

// An Env with a virtual clock that keeps every frame it is asked to send in one buffer.
class CapturingEnv final : public pbxstate::Env {
 public:
  struct FrameRef {
    std::size_t offset, size;
  };

  pbxstate::MonoTime Now() override { return now_; }
  pbxstate::WallTime WallNow() override { return pbxstate::WallTime(kWallEpoch + now_.time_since_epoch()); }
  void ScheduleWakeup(pbxstate::MonoTime at) override {
    has_wakeup_ = true;
    wakeup_ = at;
  }
  pbxstate::SendStatus Broadcast(std::span<const std::uint8_t> frame) override {
    if (!first_broadcast_at_) first_broadcast_at_ = std::chrono::steady_clock::now();
    Capture(frame);
    return pbxstate::SendStatus::kOk;
  }
  pbxstate::SendStatus Unicast(NodeId, std::span<const std::uint8_t> frame) override {
    if (capture_unicasts_) Capture(frame);
    return pbxstate::SendStatus::kOk;
  }
  std::uint64_t Random() override {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }
  void Log(pbxstate::LogLevel level, std::string_view message) override {
    if (level >= pbxstate::LogLevel::kWarning) std::fprintf(stderr, "engine: %.*s\n", static_cast<int>(message.size()), message.data());
  }

  // Moves the clock forward by `d` and fires the engine's wakeup when it is due.
  void Advance(Engine& engine, pbxstate::Duration d) {
    now_ += d;
    if (has_wakeup_ && wakeup_ <= now_) {
      has_wakeup_ = false;
      engine.OnTimer();
    }
  }

  // Frames captured since the last Clear(), in order.
  std::span<const std::uint8_t> Frame(const FrameRef& f) const { return {bytes_.data() + f.offset, f.size}; }
  const std::vector<FrameRef>& frames() const { return frames_; }
  std::size_t captured_bytes() const { return bytes_.size(); }
  void Clear() {
    bytes_.clear();
    frames_.clear();
    first_broadcast_at_.reset();
  }
  // When the first frame since Clear() was handed over (where a host calls cpg_mcast_joined).
  std::optional<std::chrono::steady_clock::time_point> first_broadcast_at() const { return first_broadcast_at_; }
  // Clear() and give the buffers' memory back.
  void Release() {
    std::vector<std::uint8_t>().swap(bytes_);
    std::vector<FrameRef>().swap(frames_);
  }
  pbxstate::MonoTime now() const { return now_; }
  // Sets the clock (a sender that must agree with a receiver on the wall time).
  void set_now(pbxstate::MonoTime t) { now_ = t; }
  // Replies a receiver sends (digests, sync requests) are not part of what is measured.
  void set_capture_unicasts(bool on) { capture_unicasts_ = on; }

 private:
  static constexpr pbxstate::Duration kWallEpoch = 1'700'000'000s;
  void Capture(std::span<const std::uint8_t> frame) {
    frames_.push_back({bytes_.size(), frame.size()});
    bytes_.insert(bytes_.end(), frame.begin(), frame.end());
  }

  pbxstate::MonoTime now_{1s};
  bool has_wakeup_ = false;
  pbxstate::MonoTime wakeup_{};
  std::uint64_t rng_ = 0x9E3779B97F4A7C15u;
  bool capture_unicasts_ = true;
  std::vector<std::uint8_t> bytes_;
  std::vector<FrameRef> frames_;
  std::optional<std::chrono::steady_clock::time_point> first_broadcast_at_;
};

EngineConfig BenchConfig(NodeId id, pbxstate::Duration batch_window, std::size_t max_frame_bytes) {
  EngineConfig cfg;
  cfg.node_id = id;
  cfg.incarnation = 1000 + id;
  cfg.label = "bench-" + std::to_string(id);
  cfg.membership = pbxstate::MembershipSource::kTransport;
  cfg.batch_window = batch_window;
  cfg.max_frame_bytes = max_frame_bytes;
  // No periodic digests: only live updates are measured.
  cfg.anti_entropy_interval = 0ms;
  cfg.max_entries = 32u << 20;
  return cfg;
}

std::unique_ptr<Engine> MakeEngine(const EngineConfig& cfg, pbxstate::Env* env, benchmark::State& state) {
  std::unique_ptr<Engine> engine;
  const pbxstate::Status s = Engine::Create(cfg, env, &engine);
  if (!s.ok()) {
    state.SkipWithError(("Engine::Create: " + s.message()).c_str());
    return nullptr;
  }
  engine->Start();
  return engine;
}

// Puts every node of [1, n] into `engine`'s membership view.
void ViewOf(Engine& engine, NodeId n) {
  pbxstate::MembershipView view;
  view.view_id = 1;
  for (NodeId i = 1; i <= n; ++i) view.members.push_back(i);
  engine.OnMembership(view);
}

std::vector<std::string> DeviceNames(std::size_t n) {
  std::vector<std::string> names;
  names.reserve(n);
  char buf[32];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "PJSIP/dev%07zu", i);
    names.emplace_back(buf);
  }
  return names;
}

constexpr pbxstate::Duration kWindow = 10ms;
constexpr std::size_t kLargeFrame = 1u << 20;

// Changes every key (alternating states by round so each call is a real change), then lets
// the batch window close so that everything pending is flushed.
bool ChangeAll(Engine& sender, CapturingEnv& env, const std::vector<std::string>& keys, std::size_t round) {
  const DeviceState st = round % 2 == 0 ? DeviceState::kInUse : DeviceState::kNotInUse;
  for (const auto& k : keys) {
    if (!sender.SetDeviceState(k, st).ok()) return false;
  }
  env.Advance(sender, kWindow + 1ms);
  return true;
}

// ---- encode: local change -> batched UPDATES frames ----
void BM_EncodeLocalChanges(benchmark::State& state) {
  const auto keys = DeviceNames(static_cast<std::size_t>(state.range(0)));
  CapturingEnv env;
  auto sender = MakeEngine(BenchConfig(1, kWindow, kLargeFrame), &env, state);
  if (!sender) return;
  ViewOf(*sender, 2);
  env.Advance(*sender, 1s);
  std::size_t round = 0;
  std::uint64_t bytes = 0, changes = 0, frames = 0;
  for (auto _ : state) {
    env.Clear();
    if (!ChangeAll(*sender, env, keys, round++)) {
      state.SkipWithError("SetDeviceState refused");
      return;
    }
    bytes += env.captured_bytes();
    frames += env.frames().size();
    changes += keys.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(changes));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["bytes_per_change"] = static_cast<double>(bytes) / static_cast<double>(changes);
  state.counters["changes_per_frame"] = static_cast<double>(changes) / static_cast<double>(frames);
}
BENCHMARK(BM_EncodeLocalChanges)->Arg(4096)->Arg(65536)->Unit(benchmark::kMillisecond);

// ---- decode + apply: OnFrame of UPDATES frames ----
void BM_ApplyRemoteUpdates(benchmark::State& state) {
  const auto keys = DeviceNames(static_cast<std::size_t>(state.range(0)));
  CapturingEnv sender_env, receiver_env;
  receiver_env.set_capture_unicasts(false);
  auto sender = MakeEngine(BenchConfig(1, kWindow, kLargeFrame), &sender_env, state);
  auto receiver = MakeEngine(BenchConfig(2, kWindow, kLargeFrame), &receiver_env, state);
  if (!sender || !receiver) return;
  ViewOf(*sender, 2);
  ViewOf(*receiver, 2);
  // Let the join exchange settle, then forget its frames.
  sender_env.Advance(*sender, 1s);
  receiver_env.Advance(*receiver, 1s);
  for (const auto& f : sender_env.frames()) receiver->OnFrame(1, sender_env.Frame(f));
  sender_env.Clear();

  std::size_t round = 0;
  std::uint64_t bytes = 0, records = 0;
  const std::uint64_t applied_before = receiver->stats().records_applied;
  for (auto _ : state) {
    state.PauseTiming();
    sender_env.Clear();
    if (!ChangeAll(*sender, sender_env, keys, round++)) {
      state.SkipWithError("SetDeviceState refused");
      return;
    }
    state.ResumeTiming();
    for (const auto& f : sender_env.frames()) {
      receiver->OnFrame(1, sender_env.Frame(f));
      bytes += f.size;
    }
    records += keys.size();
  }
  // Every record must have changed the receiver's view; otherwise this measured drops.
  const std::uint64_t applied = receiver->stats().records_applied - applied_before;
  if (applied != records) {
    state.SkipWithError(("receiver applied " + std::to_string(applied) + " of " + std::to_string(records) +
                         " records (dropped " + std::to_string(receiver->stats().total_dropped()) + ")")
                            .c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_ApplyRemoteUpdates)->Arg(4096)->Arg(65536)->Unit(benchmark::kMillisecond);

// ---- memory: 1M devices x 8 origins in one engine ----
//
// The receiver (node 8) sets every device itself; nodes 1..7 set every device too and their
// frames are applied by the receiver. Senders are created one at a time and frames are streamed
// in chunks, so that at the end only the receiver's allocations are held.
void BM_MemoryPerEntry(benchmark::State& state) {
  const std::size_t devices = static_cast<std::size_t>(state.range(0));
  constexpr NodeId kNodes = 8;
  constexpr std::size_t kChunk = 65536;
  const auto keys = DeviceNames(devices);
  for (auto _ : state) {
    const std::int64_t held_before = g_bytes_held.load();
    const std::int64_t blocks_before = g_blocks_held.load();
    const struct mallinfo2 malloc_before = mallinfo2();
    CapturingEnv receiver_env;
    receiver_env.set_capture_unicasts(false);
    auto receiver = MakeEngine(BenchConfig(kNodes, kWindow, kLargeFrame), &receiver_env, state);
    if (!receiver) return;
    ViewOf(*receiver, kNodes);
    receiver_env.Advance(*receiver, 1s);
    for (const auto& k : keys) {
      if (!receiver->SetDeviceState(k, DeviceState::kNotInUse).ok()) {
        state.SkipWithError("receiver SetDeviceState refused");
        return;
      }
    }
    receiver_env.Advance(*receiver, kWindow + 1ms);
    receiver_env.Clear();
    for (NodeId origin = 1; origin < kNodes; ++origin) {
      CapturingEnv env;
      auto sender = MakeEngine(BenchConfig(origin, kWindow, kLargeFrame), &env, state);
      if (!sender) return;
      ViewOf(*sender, kNodes);
      env.Advance(*sender, 1s);
      env.Clear();
      for (std::size_t i = 0; i < devices; i += kChunk) {
        const std::size_t end = std::min(devices, i + kChunk);
        for (std::size_t j = i; j < end; ++j) {
          if (!sender->SetDeviceState(keys[j], DeviceState::kInUse).ok()) {
            state.SkipWithError("sender SetDeviceState refused");
            return;
          }
        }
        env.Advance(*sender, kWindow + 1ms);
        for (const auto& f : env.frames()) receiver->OnFrame(origin, env.Frame(f));
        env.Clear();
        receiver_env.Clear();
      }
    }
    // Frame buffers of the receiver's Env are not the engine's memory.
    receiver_env.Release();
    const std::uint64_t entries = receiver->stats().device_entries;
    if (entries != devices * kNodes) {
      state.SkipWithError(("receiver holds " + std::to_string(entries) + " entries, expected " +
                           std::to_string(devices * kNodes))
                              .c_str());
      return;
    }
    const std::int64_t held = g_bytes_held.load() - held_before;
    const std::int64_t blocks = g_blocks_held.load() - blocks_before;
    const struct mallinfo2 malloc_after = mallinfo2();
    const double malloc_held = static_cast<double>(malloc_after.uordblks + malloc_after.hblkhd) -
                               static_cast<double>(malloc_before.uordblks + malloc_before.hblkhd);
    state.counters["entries"] = static_cast<double>(entries);
    state.counters["bytes_per_entry"] = static_cast<double>(held) / static_cast<double>(entries);
    state.counters["blocks_per_entry"] = static_cast<double>(blocks) / static_cast<double>(entries);
    // What malloc really holds (headers, rounding) minus this binary's 16-byte count headers.
    state.counters["malloc_bytes_per_entry"] =
        (malloc_held - static_cast<double>(blocks) * static_cast<double>(kHeader)) / static_cast<double>(entries);
    state.PauseTiming();
    receiver.reset();
    state.ResumeTiming();
  }
}
// One load takes tens of seconds and its byte counts are deterministic (same inputs, same
// allocations): one repetition, whatever --benchmark_repetitions says.
BENCHMARK(BM_MemoryPerEntry)->Arg(1'000'000)->Iterations(1)->Repetitions(1)->Unit(benchmark::kSecond);

// ---- memory under name churn: registrations whose names come and go ----
//
// Nodes 1..7 register kChurnNames new AORs a round each (a new name per round: hot-desking,
// realtime provisioning), remove half of them and let the rest expire; the receiver (node 8)
// applies their frames and runs its timers until the tombstones' horizons pass. Measured after
// round 1 and after round `rounds`: the bytes the receiver's engine holds, its names and slots.
// Flat means the last round holds what the first did.
constexpr std::size_t kChurnNames = 10'000;
constexpr NodeId kChurnNodes = 8;

// One round of churn into `receiver`; false (with the state skipped) when a change is refused.
bool ChurnRound(Engine& receiver, CapturingEnv& receiver_env, std::size_t round, benchmark::State& state) {
  char aor[48], contact[64];
  for (NodeId origin = 1; origin < kChurnNodes; ++origin) {
    CapturingEnv env;
    env.set_now(receiver_env.now());
    EngineConfig cfg = BenchConfig(origin, kWindow, kLargeFrame);
    cfg.incarnation = 1000 * round + origin;  // a sender per round: a restart to the receiver
    auto sender = MakeEngine(cfg, &env, state);
    if (!sender) return false;
    ViewOf(*sender, kChurnNodes);
    env.Clear();
    for (std::size_t i = 0; i < kChurnNames; ++i) {
      std::snprintf(aor, sizeof aor, "r%zu-n%u-%zu", round, static_cast<unsigned>(origin), i);
      std::snprintf(contact, sizeof contact, "sip:%s@198.18.0.9", aor);
      const pbxstate::RegistrationInfo info{contact, env.WallNow() + 30s, pbxstate::ContactStatus::kReachable,
                                            0, {}, {}};
      if (!sender->SetRegistration(aor, info).ok() || (i % 2 == 0 && !sender->RemoveRegistration(aor).ok())) {
        state.SkipWithError("sender registration refused");
        return false;
      }
    }
    env.Advance(*sender, kWindow + 1ms);
    for (const auto& f : env.frames()) receiver.OnFrame(origin, env.Frame(f));
  }
  // Past every expiry and horizon: the round's names hold nothing any more.
  for (int s = 0; s < 40; ++s) receiver_env.Advance(receiver, 1s);
  receiver_env.Release();
  return receiver.stats().dropped[static_cast<std::size_t>(pbxstate::DropReason::kStoreFull)] == 0;
}

void BM_NameChurn(benchmark::State& state) {
  const auto rounds = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    const std::int64_t held_before = g_bytes_held.load();
    CapturingEnv receiver_env;
    receiver_env.set_capture_unicasts(false);
    auto receiver = MakeEngine(BenchConfig(kChurnNodes, kWindow, kLargeFrame), &receiver_env, state);
    if (!receiver) return;
    ViewOf(*receiver, kChurnNodes);
    std::int64_t bytes_after_first = 0, bytes_after_second = 0;
    std::uint64_t slots_after_first = 0;
    for (std::size_t round = 1; round <= rounds; ++round) {
      if (!ChurnRound(*receiver, receiver_env, round, state)) return;
      if (round == 1) {
        bytes_after_first = g_bytes_held.load() - held_before;
        slots_after_first = receiver->InternedNames().slots;
      }
      if (round == 2) bytes_after_second = g_bytes_held.load() - held_before;
    }
    // Read before the counters below: their map allocates through the same operator new.
    const std::int64_t bytes_at_end = g_bytes_held.load() - held_before;
    const pbxstate::NameCounts names = receiver->InternedNames();
    state.counters["names_churned"] = static_cast<double>(rounds * kChurnNames * (kChurnNodes - 1));
    state.counters["bytes_after_round_1"] = static_cast<double>(bytes_after_first);
    // Round 2 holds 1 MiB more than round 1, and every later round exactly what round 2 did: the
    // first reclaims (in round 2: round 1's names wait released until new names are interned)
    // grow the interners' free lists of ids, 4 bytes per slot at most (engine/README.md, "Names").
    if (rounds >= 2) state.counters["bytes_after_round_2"] = static_cast<double>(bytes_after_second);
    state.counters["bytes_after_last_round"] = static_cast<double>(bytes_at_end);
    state.counters["slots_after_round_1"] = static_cast<double>(slots_after_first);
    state.counters["slots_after_last_round"] = static_cast<double>(names.slots);
    state.counters["names_held_at_end"] = static_cast<double>(names.names);
    state.counters["entries_at_end"] = static_cast<double>(receiver->stats().registration_entries);
    state.PauseTiming();
    receiver.reset();
    state.ResumeTiming();
  }
}
// Byte counts are deterministic (same inputs, same allocations): one iteration.
BENCHMARK(BM_NameChurn)->Arg(1)->Arg(10)->Iterations(1)->Unit(benchmark::kSecond);

// ---- frames and bytes per change for a 10k-change burst ----
void BM_BurstFramesPerChange(benchmark::State& state) {
  const pbxstate::Duration window = std::chrono::milliseconds(state.range(0));
  constexpr std::size_t kBurst = 10'000;
  const auto keys = DeviceNames(kBurst);
  CapturingEnv env;
  // The default max_frame_bytes (1400): what a real transport carries.
  auto sender = MakeEngine(BenchConfig(1, window, EngineConfig{}.max_frame_bytes), &env, state);
  if (!sender) return;
  ViewOf(*sender, 2);
  env.Advance(*sender, 1s);
  std::uint64_t frames = 0, bytes = 0, changes = 0;
  std::size_t round = 0;
  for (auto _ : state) {
    env.Clear();
    const auto before = sender->stats();
    if (!ChangeAll(*sender, env, keys, round++)) {
      state.SkipWithError("SetDeviceState refused");
      return;
    }
    const auto& after = sender->stats();
    frames += after.frames_out - before.frames_out;
    bytes += after.bytes_out - before.bytes_out;
    changes += kBurst;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(changes));
  state.counters["frames_per_change"] = static_cast<double>(frames) / static_cast<double>(changes);
  state.counters["bytes_per_change"] = static_cast<double>(bytes) / static_cast<double>(changes);
}
BENCHMARK(BM_BurstFramesPerChange)->Arg(0)->Arg(10)->ArgName("batch_window_ms")->Unit(benchmark::kMillisecond);

}  // namespace

// ---- authentication: the same traffic with and without a cluster key ----
void BM_FrameAuthOverhead(benchmark::State& state) {
  const bool keyed = state.range(0) != 0;
  const auto per_frame = static_cast<std::size_t>(state.range(1));
  const auto keys = DeviceNames(per_frame * 64);
  CapturingEnv sender_env, receiver_env;
  receiver_env.set_capture_unicasts(false);
  const pbxstate::Duration window = per_frame == 1 ? 0ms : kWindow;
  EngineConfig sender_cfg = BenchConfig(1, window, 1400), receiver_cfg = BenchConfig(2, window, 1400);
  if (keyed) {
    sender_cfg.cluster_keys = {std::string(pbxstate::kClusterKeyBytes, 'k')};
    receiver_cfg.cluster_keys = sender_cfg.cluster_keys;
  }
  auto sender = MakeEngine(sender_cfg, &sender_env, state);
  auto receiver = MakeEngine(receiver_cfg, &receiver_env, state);
  if (!sender || !receiver) return;
  ViewOf(*sender, 2);
  ViewOf(*receiver, 2);
  sender_env.Advance(*sender, 1s);
  receiver_env.Advance(*receiver, 1s);
  for (const auto& f : sender_env.frames()) receiver->OnFrame(1, sender_env.Frame(f));
  sender_env.Clear();

  std::size_t next = 0, round = 0;
  std::uint64_t frames = 0, bytes = 0;
  const std::uint64_t applied_before = receiver->stats().records_applied;
  std::uint64_t records = 0;
  for (auto _ : state) {
    sender_env.Clear();
    for (std::size_t i = 0; i < per_frame; ++i) {
      if (next == keys.size()) {
        next = 0;
        ++round;
      }
      const DeviceState st = round % 2 == 0 ? DeviceState::kInUse : DeviceState::kNotInUse;
      if (!sender->SetDeviceState(keys[next++], st).ok()) {
        state.SkipWithError("SetDeviceState refused");
        return;
      }
    }
    if (per_frame > 1) sender_env.Advance(*sender, kWindow + 1ms);
    for (const auto& f : sender_env.frames()) {
      receiver->OnFrame(1, sender_env.Frame(f));
      bytes += f.size;
      ++frames;
    }
    records += per_frame;
  }
  const std::uint64_t applied = receiver->stats().records_applied - applied_before;
  if (applied != records || receiver->stats().total_dropped() != 0) {
    state.SkipWithError(("receiver applied " + std::to_string(applied) + " of " + std::to_string(records) +
                         " records (dropped " + std::to_string(receiver->stats().total_dropped()) + ")")
                            .c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.counters["bytes_per_frame"] = static_cast<double>(bytes) / static_cast<double>(frames);
  state.counters["records_per_frame"] = static_cast<double>(records) / static_cast<double>(frames);
}
BENCHMARK(BM_FrameAuthOverhead)
    ->ArgsProduct({{0, 1}, {1, 25}})
    ->ArgNames({"key", "records"})
    ->Unit(benchmark::kMicrosecond);

// ---- one change end to end, caches warm or cold ----
//
// The receiver's listener only counts: what a module does with a change is the module's cost.
class CountingListener final : public pbxstate::ViewListener {
 public:
  void OnViewChange(const pbxstate::ViewChange& change) override {
    ++changes_;
    key_bytes_ += change.key.size();
  }
  std::uint64_t changes() const { return changes_; }

 private:
  std::uint64_t changes_ = 0, key_bytes_ = 0;
};

// BM_SingleChange's listener: counts, and notes when it first heard a change since Forget()
// (where a host publishes the change: its critical path ends there).
class StampingListener final : public pbxstate::ViewListener {
 public:
  void OnViewChange(const pbxstate::ViewChange&) override {
    ++changes_;
    if (!heard_at_) heard_at_ = std::chrono::steady_clock::now();
  }
  std::uint64_t changes() const { return changes_; }
  std::optional<std::chrono::steady_clock::time_point> heard_at() const { return heard_at_; }
  void Forget() { heard_at_.reset(); }

 private:
  std::uint64_t changes_ = 0;
  std::optional<std::chrono::steady_clock::time_point> heard_at_;
};

// Writes every cache line of a buffer larger than this machine's caches, so that the next change
// finds the engine's tables, code paths' data and the MAC state in memory, not in cache.
void EvictCaches() {
  static std::vector<std::uint8_t> scratch(32u << 20);
  static std::uint8_t round = 0;
  ++round;
  for (std::size_t i = 0; i < scratch.size(); i += 64) scratch[i] = round;
  benchmark::DoNotOptimize(scratch.data());
}

enum class SingleChangeKind { kDevice = 0, kMailbox = 1 };
constexpr std::size_t kSingleChangeKeys = 1024;  // keys cycled through: each change a real one

// Sets key `i` to a value different from the one it holds after `round` earlier passes.
bool ChangeOne(Engine& sender, SingleChangeKind kind, const std::string& key, std::size_t round) {
  if (kind == SingleChangeKind::kDevice) {
    return sender.SetDeviceState(key, round % 2 == 0 ? DeviceState::kInUse : DeviceState::kNotInUse).ok();
  }
  const pbxstate::MailboxCounts counts{static_cast<std::uint32_t>(round % 50), 0, 0};
  return sender.SetMailbox(key, counts).ok();
}

void BM_SingleChange(benchmark::State& state) {
  const auto kind = static_cast<SingleChangeKind>(state.range(0));
  const bool cold = state.range(1) != 0;
  std::vector<std::string> keys = DeviceNames(kSingleChangeKeys);
  if (kind == SingleChangeKind::kMailbox) {
    for (auto& k : keys) k = k.substr(k.find('/') + 1) + "@default";
  }
  CapturingEnv sender_env, receiver_env;
  receiver_env.set_capture_unicasts(false);
  EngineConfig sender_cfg = BenchConfig(1, 0ms, 1400), receiver_cfg = BenchConfig(2, 0ms, 1400);
  sender_cfg.cluster_keys = {std::string(pbxstate::kClusterKeyBytes, 'k')};
  receiver_cfg.cluster_keys = sender_cfg.cluster_keys;
  auto sender = MakeEngine(sender_cfg, &sender_env, state);
  auto receiver = MakeEngine(receiver_cfg, &receiver_env, state);
  if (!sender || !receiver) return;
  StampingListener listener;
  receiver->SetListener(&listener);
  ViewOf(*sender, 2);
  ViewOf(*receiver, 2);
  sender_env.Advance(*sender, 1s);
  receiver_env.Advance(*receiver, 1s);
  // Round 0 creates every key at both ends: what is measured are changes of existing entries.
  for (const auto& k : keys) {
    if (!ChangeOne(*sender, kind, k, 0)) return state.SkipWithError("change refused");
  }
  for (const auto& f : sender_env.frames()) receiver->OnFrame(1, sender_env.Frame(f));
  sender_env.Release();

  std::size_t next = 0, round = 1;
  std::uint64_t changes = 0;
  const std::uint64_t heard_before = listener.changes();
  std::int64_t allocations = 0;
  // The two critical paths: the change made until its frame is handed to the Env, and the frame
  // received until the listener hears it; what either engine does after those is off them.
  // Medians: a preemption of this process (wall-clock time) must not move them.
  std::vector<std::chrono::nanoseconds> to_send, to_listener;
  for (auto _ : state) {
    state.PauseTiming();
    sender_env.Clear();
    listener.Forget();
    if (next == keys.size()) next = 0, ++round;
    if (cold) EvictCaches();
    const std::int64_t allocations_before = g_allocations.load(std::memory_order_relaxed);
    state.ResumeTiming();
    const auto made = std::chrono::steady_clock::now();
    if (!ChangeOne(*sender, kind, keys[next++], round)) return state.SkipWithError("change refused");
    const auto received = std::chrono::steady_clock::now();
    for (const auto& f : sender_env.frames()) receiver->OnFrame(1, sender_env.Frame(f));
    allocations += g_allocations.load(std::memory_order_relaxed) - allocations_before;
    if (!sender_env.first_broadcast_at() || !listener.heard_at()) return state.SkipWithError("change not heard");
    to_send.push_back(*sender_env.first_broadcast_at() - made);
    to_listener.push_back(*listener.heard_at() - received);
    ++changes;
  }
  // Every change must have reached the receiver's listener; otherwise this measured drops.
  if (listener.changes() - heard_before != changes || receiver->stats().total_dropped() != 0) {
    return state.SkipWithError(("listener heard " + std::to_string(listener.changes() - heard_before) + " of " +
                                std::to_string(changes) + " changes")
                                   .c_str());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(changes));
  state.counters["allocations_per_change"] = static_cast<double>(allocations) / static_cast<double>(changes);
  const auto median_us = [](std::vector<std::chrono::nanoseconds>& v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return static_cast<double>(v[v.size() / 2].count()) / 1e3;
  };
  state.counters["send_us"] = median_us(to_send);          // change made -> frame to the Env
  state.counters["listener_us"] = median_us(to_listener);  // frame received -> listener
}
BENCHMARK(BM_SingleChange)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"mailbox", "cold"})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
