// libFuzzer target: arbitrary bytes into the engine's frame path and into the decoders.
//
// Input: a mode byte, then up to kMaxFrames frames, each a 2-byte little-endian length and that
// many bytes (a shorter tail is taken as it is). Modes (byte % 4):
//   0  a fresh engine without keys receives the frames (Engine::OnFrame), timers run between
//   1  a fresh engine with key A receives the frames as they are (the MAC path refuses forgeries)
//   2  the same engine, but the harness seals each frame that has a plain header with key A first,
//      so mutated bodies get past the MAC and reach the decoders and handlers authenticated
//   3  the decoders alone: DecodeHeader, then every body decoder on the body
// The sender passed to OnFrame is the header's sender field, as a transport would report it.
// Any crash, sanitizer report or failed engine assertion (the fuzz build keeps assertions) is
// a finding.
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "codec.h"
#include "frame_auth.h"
#include "frame_corpus.h"
#include "pbxstate/engine.h"
#include "pbxstate/random.h"

namespace {

using namespace pbxstate;

constexpr std::size_t kMaxFrames = 16;

class FuzzEnv : public Env {
 public:
  MonoTime Now() override { return now; }
  WallTime WallNow() override { return pbxstate::kSimEpoch + now.time_since_epoch(); }
  void ScheduleWakeup(MonoTime at) override { wakeup = at; }
  SendStatus Broadcast(std::span<const std::uint8_t> f) override {
    if (f.empty()) __builtin_trap();
    return SendStatus::kOk;
  }
  SendStatus Unicast(NodeId to, std::span<const std::uint8_t> f) override {
    if (to == kNoNode || f.empty()) __builtin_trap();
    return SendStatus::kOk;
  }
  std::uint64_t Random() override { return random.Next(); }
  void Log(LogLevel, std::string_view) override {}
  MonoTime now{std::chrono::seconds(1)};
  std::optional<MonoTime> wakeup;
  SplitMix64 random{1};
};

void DecodeOnly(std::span<const std::uint8_t> frame) {
  const codec::DecodeLimits limits{1400, 255, 512};
  codec::FrameHeader h{};
  std::span<const std::uint8_t> body;
  if (codec::DecodeHeader(frame, limits, &h, &body)) {
    body = frame;  // the body decoders must refuse garbage on their own too
  }
  codec::Updates u;
  if (!codec::DecodeUpdates(body, limits, &u)) {
    for (const codec::Record& r : u.records) {
      if (codec::EncodedRecordBytes(r) > codec::MaxRecordBytes(r.key.size(), r.contact.size())) __builtin_trap();
    }
  }
  codec::Heartbeat hb;
  (void)codec::DecodeHeartbeat(body, &hb);
  codec::Summary s;
  (void)codec::DecodeSummary(body, &s);
  codec::Digest d;
  (void)codec::DecodeDigest(body, &d);
  codec::SyncRequest rq{};
  (void)codec::DecodeSyncRequest(body, &rq);
  codec::SyncPage p{};
  (void)codec::DecodeSyncPage(body, limits, &p);
  codec::SyncAck a{};
  (void)codec::DecodeSyncAck(body, &a);
  codec::SyncRefuse rf{};
  (void)codec::DecodeSyncRefuse(body, &rf);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 4;
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  std::vector<std::span<const std::uint8_t>> frames;
  while (!rest.empty() && frames.size() < kMaxFrames) {
    if (rest.size() < 2) break;
    const std::size_t len = std::min<std::size_t>(rest[0] | (static_cast<std::size_t>(rest[1]) << 8), rest.size() - 2);
    frames.push_back(rest.subspan(2, len));
    rest = rest.subspan(2 + len);
  }
  if (mode == 3) {
    for (auto f : frames) DecodeOnly(f);
    return 0;
  }
  EngineConfig config;
  config.node_id = frames::kReceiver;
  config.incarnation = 1;
  config.max_nodes = 8;  // small bounds are reached by small inputs
  config.max_entries = 64;
  if (mode != 0) config.cluster_keys = {frames::KeyA()};
  FuzzEnv env;
  std::unique_ptr<Engine> engine;
  if (!Engine::Create(config, &env, &engine).ok()) __builtin_trap();
  engine->Start();
  FrameAuthenticator sealer({frames::KeyA()});
  std::vector<std::uint8_t> sealed;
  std::uint64_t counter = 0;
  for (auto f : frames) {
    NodeId from = frames::kSender;
    if (f.size() >= 8) std::memcpy(&from, f.data() + 4, sizeof from);
    if (mode == 2 && f.size() >= codec::kFrameHeaderBytes && f[2] == codec::kVersion) {
      sealer.Seal(f, kNoNode, ++counter, &sealed);
      f = sealed;
    }
    const std::uint64_t before = engine->stats().frames_in;
    engine->OnFrame(from, f);
    if (engine->stats().frames_in != before + 1) __builtin_trap();
    // Let timers (sessions, retransmits, failure detector) run on what the frame set up.
    env.now += std::chrono::milliseconds(300);
    if (env.wakeup && *env.wakeup <= env.now) engine->OnTimer();
  }
  (void)engine->Digest();
  return 0;
}
