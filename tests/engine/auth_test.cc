// Authenticated frames one mechanism at a time: the replay window against a reference model,
// the authenticated frame layout, the MAC, every refusal reason at an engine, key rotation on one
// pair of engines, and cluster key files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "codec.h"
#include "frame_auth.h"
#include "pbxstate/cluster_key.h"
#include "pbxstate/engine.h"
#include "replay_window.h"

namespace pbxstate {
namespace {

using namespace std::chrono_literals;

std::string Key(char fill) { return std::string(kClusterKeyBytes, fill); }

// ---- ReplayWindow ----

TEST(ReplayWindow, MatchesAReferenceModel) {
  // The reference: every (counter) accepted so far in the current incarnation, and the rule
  // "new, and greater than highest - kFrames".
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20; ++round) {
    ReplayWindow w;
    std::set<std::uint64_t> seen;
    std::uint64_t highest = 0, inc = 1;
    for (int i = 0; i < 5000; ++i) {
      std::uint64_t c;
      const auto r = rng() % 10;
      if (r < 5) c = highest + 1 + rng() % 3;                            // mostly forward
      else if (r < 8) c = highest > 1 ? highest - rng() % std::min<std::uint64_t>(highest, 1100) : 1;  // behind
      else if (r < 9) c = highest + rng() % 3000;                         // jumps
      else c = 1 + rng() % (highest + 1);
      if (c == 0) c = 1;
      const bool expect = !seen.count(c) && (c > highest || highest - c < ReplayWindow::kFrames);
      const auto got = w.Accept(inc, c);
      ASSERT_EQ(!got.has_value(), expect) << "round " << round << " step " << i << " counter " << c << " highest "
                                          << highest;
      if (expect) {
        seen.insert(c);
        highest = std::max(highest, c);
      } else {
        EXPECT_EQ(got, DropReason::kReplayed);
      }
    }
  }
}

TEST(ReplayWindow, IncarnationsOrderWindows) {
  ReplayWindow w;
  EXPECT_FALSE(w.Accept(5, 10));
  EXPECT_EQ(w.Accept(5, 10), DropReason::kReplayed);
  EXPECT_EQ(w.Accept(4, 11), DropReason::kStaleIncarnation);
  EXPECT_FALSE(w.Accept(6, 1));  // a restart counts from 1 again
  EXPECT_EQ(w.Accept(5, 11), DropReason::kStaleIncarnation);
  EXPECT_EQ(w.Accept(6, 1), DropReason::kReplayed);
  // Reordered within the window: accepted once; the window's far edge is exclusive.
  EXPECT_FALSE(w.Accept(6, 2000));
  EXPECT_FALSE(w.Accept(6, 2000 - ReplayWindow::kFrames + 1));
  EXPECT_EQ(w.Accept(6, 2000 - ReplayWindow::kFrames), DropReason::kReplayed);
  EXPECT_FALSE(w.Accept(6, 1999));
  EXPECT_EQ(w.Accept(6, 1999), DropReason::kReplayed);
}

// ---- frame layout and MAC ----

std::vector<std::uint8_t> PlainHeartbeat(NodeId sender, std::uint64_t inc) {
  std::vector<std::uint8_t> f;
  codec::BeginFrame(&f, codec::FrameType::kHeartbeat, sender, inc);
  codec::Writer w(&f);
  codec::EncodeHeartbeat(w, {77, "label", {}});
  codec::EndFrame(&f);
  return f;
}

const codec::DecodeLimits kLimits{1400, 255, 512};

TEST(FrameAuth, SealedFrameParsesAndVerifies) {
  ASSERT_TRUE(CryptoReady());
  FrameAuthenticator a({Key('a')});
  const auto plain = PlainHeartbeat(7, 3);
  std::vector<std::uint8_t> sealed;
  a.Seal(plain, 9, 42, &sealed);
  ASSERT_EQ(sealed.size(), plain.size() + codec::kAuthOverheadBytes);
  codec::FrameHeader h{};
  std::span<const std::uint8_t> body;
  ASSERT_FALSE(codec::DecodeHeader(sealed, kLimits, &h, &body));
  EXPECT_TRUE(h.authenticated);
  EXPECT_EQ(h.sender, 7u);
  EXPECT_EQ(h.incarnation, 3u);
  EXPECT_EQ(h.to, 9u);
  EXPECT_EQ(h.counter, 42u);
  EXPECT_EQ(h.key_id, FrameAuthenticator::KeyIdOf(Key('a')));
  EXPECT_TRUE(std::equal(body.begin(), body.end(), plain.begin() + codec::kFrameHeaderBytes));
  EXPECT_FALSE(a.Verify(h));
  // Another key with the same id cannot be made on purpose; a different key is unknown.
  FrameAuthenticator b({Key('b')});
  ASSERT_NE(FrameAuthenticator::KeyIdOf(Key('a')), FrameAuthenticator::KeyIdOf(Key('b')));
  EXPECT_EQ(b.Verify(h), DropReason::kUnknownKey);
  // A receiver holding both keys accepts it.
  FrameAuthenticator ba({Key('b'), Key('a')});
  EXPECT_FALSE(ba.Verify(h));
}

TEST(FrameAuth, EveryFlippedBitIsRefused) {
  FrameAuthenticator a({Key('a')});
  std::vector<std::uint8_t> sealed;
  a.Seal(PlainHeartbeat(7, 3), kNoNode, 1, &sealed);
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = sealed;
      bad[i] ^= static_cast<std::uint8_t>(1u << bit);
      codec::FrameHeader h{};
      std::span<const std::uint8_t> body;
      auto err = codec::DecodeHeader(bad, kLimits, &h, &body);
      if (!err) err = h.authenticated ? a.Verify(h) : std::optional<DropReason>(DropReason::kUnauthenticated);
      EXPECT_TRUE(err.has_value()) << "byte " << i << " bit " << bit << " flipped was accepted";
    }
  }
}

TEST(FrameAuth, TruncatedAtEveryLengthIsRefused) {
  FrameAuthenticator a({Key('a')});
  std::vector<std::uint8_t> sealed;
  a.Seal(PlainHeartbeat(7, 3), kNoNode, 1, &sealed);
  for (std::size_t n = 0; n < sealed.size(); ++n) {
    std::span<const std::uint8_t> cut(sealed.data(), n);
    codec::FrameHeader h{};
    std::span<const std::uint8_t> body;
    auto err = codec::DecodeHeader(cut, kLimits, &h, &body);
    if (!err) err = a.Verify(h);
    EXPECT_TRUE(err.has_value()) << n;
  }
}

TEST(FrameAuth, KeysAreValidated) {
  EngineConfig c;
  c.node_id = 1;
  c.incarnation = 1;
  c.cluster_keys = {std::string(31, 'x')};
  Status s = c.Validate();
  EXPECT_NE(s.message().find("cluster_keys: key 0 is 31 bytes; expected exactly 32"), std::string::npos) << s.message();
  c.cluster_keys = {Key('a'), Key('a')};
  EXPECT_NE(c.Validate().message().find("key 1 is the same as key 0"), std::string::npos);
  c.cluster_keys = {Key('a'), Key('b'), Key('c')};
  EXPECT_NE(c.Validate().message().find("at most 2"), std::string::npos);
  c.cluster_keys = {Key('a'), Key('b')};
  EXPECT_TRUE(c.Validate().ok());
  // Room for one record must include the MAC.
  c.max_frame_bytes = 256;
  c.max_key_bytes = 64;
  c.cluster_keys.clear();
  c.max_contact_bytes = 256 - 20 - 30 - 57 - 64;  // exactly fits without a MAC
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().message();
  c.cluster_keys = {Key('a')};
  EXPECT_NE(c.Validate().message().find("max_frame_bytes"), std::string::npos);
}

// ---- an engine receiving hand-made frames ----

class RecordingEnv : public Env {
 public:
  MonoTime Now() override { return now; }
  WallTime WallNow() override { return kSimEpoch + now.time_since_epoch(); }
  void ScheduleWakeup(MonoTime) override {}
  SendStatus Broadcast(std::span<const std::uint8_t> f) override {
    sent.push_back({kNoNode, {f.begin(), f.end()}});
    return SendStatus::kOk;
  }
  SendStatus Unicast(NodeId to, std::span<const std::uint8_t> f) override {
    sent.push_back({to, {f.begin(), f.end()}});
    return SendStatus::kOk;
  }
  std::uint64_t Random() override { return 4; }
  void Log(LogLevel, std::string_view m) override { log.emplace_back(m); }
  MonoTime now{};
  std::vector<std::pair<NodeId, std::vector<std::uint8_t>>> sent;
  std::vector<std::string> log;
};

struct Node {
  RecordingEnv env;
  std::unique_ptr<Engine> engine;
  Node(NodeId id, std::vector<std::string> keys, std::uint64_t inc = 1) {
    EngineConfig c;
    c.node_id = id;
    c.incarnation = inc;
    c.cluster_keys = std::move(keys);
    const Status s = Engine::Create(c, &env, &engine);
    if (!s.ok()) ADD_FAILURE() << s.ToString();
    engine->Start();
  }
  std::uint64_t dropped(DropReason r) const { return engine->stats().dropped[static_cast<std::size_t>(r)]; }
  // The last frame this node sent, after a local device change.
  std::vector<std::uint8_t> Change(const std::string& device, DeviceState s) {
    EXPECT_TRUE(engine->SetDeviceState(device, s).ok());
    return env.sent.back().second;
  }
};

TEST(EngineAuth, StartUpSaysWhetherTrafficIsAuthenticated) {
  Node plain(1, {});
  Node keyed(2, {Key('a'), Key('b')});
  ASSERT_FALSE(plain.env.log.empty());
  EXPECT_NE(plain.env.log[0].find("UNAUTHENTICATED"), std::string::npos) << plain.env.log[0];
  EXPECT_NE(keyed.env.log[0].find("authenticated: frames are sent with a MAC under key id " +
                                  std::to_string(FrameAuthenticator::KeyIdOf(Key('a')))),
            std::string::npos)
      << keyed.env.log[0];
  EXPECT_FALSE(plain.engine->authenticated());
  EXPECT_TRUE(keyed.engine->authenticated());
}

TEST(EngineAuth, WithoutKeysFramesAreUnchanged) {
  Node plain(1, {});
  const auto f = plain.Change("d", DeviceState::kInUse);
  EXPECT_EQ(f[2], codec::kVersion);
  codec::FrameHeader h{};
  std::span<const std::uint8_t> body;
  ASSERT_FALSE(codec::DecodeHeader(f, kLimits, &h, &body));
  EXPECT_FALSE(h.authenticated);
  EXPECT_EQ(body.size() + codec::kFrameHeaderBytes, f.size());
}

TEST(EngineAuth, EachRefusalHasItsReasonAndChangesNothing) {
  Node a(2, {Key('a')});
  Node plain_sender(2, {});
  Node b_key(2, {Key('b')});
  Node rx(1, {Key('a')});
  Node plain_rx(1, {});

  const auto good = a.Change("PJSIP/alice", DeviceState::kBusy);
  const auto good2 = a.Change("PJSIP/alice", DeviceState::kRinging);

  // Unauthenticated frame at a keyed receiver.
  rx.engine->OnFrame(2, plain_sender.Change("PJSIP/alice", DeviceState::kInUse));
  EXPECT_EQ(rx.dropped(DropReason::kUnauthenticated), 1u);
  // Authenticated frame at a receiver without keys.
  plain_rx.engine->OnFrame(2, good);
  EXPECT_EQ(plain_rx.dropped(DropReason::kAuthNotConfigured), 1u);
  // A frame under a key the receiver does not hold.
  rx.engine->OnFrame(2, b_key.Change("PJSIP/alice", DeviceState::kInUse));
  EXPECT_EQ(rx.dropped(DropReason::kUnknownKey), 1u);
  // A forged body: the device state byte changed.
  auto forged = good;
  forged[forged.size() - codec::kMacBytes - 1] = static_cast<std::uint8_t>(DeviceState::kNotInUse);
  rx.engine->OnFrame(2, forged);
  EXPECT_EQ(rx.dropped(DropReason::kBadMac), 1u);
  EXPECT_EQ(rx.engine->ClusterDeviceState("PJSIP/alice"), std::nullopt);
  EXPECT_EQ(rx.engine->stats().total_dropped(), 3u);

  // The real frames pass, once each, in any order within the window.
  rx.engine->OnFrame(2, good2);
  EXPECT_EQ(rx.engine->ClusterDeviceState("PJSIP/alice"), DeviceState::kRinging);
  rx.engine->OnFrame(2, good);  // reordered: accepted, and the store keeps the newer version
  EXPECT_EQ(rx.engine->stats().total_dropped(), 3u);
  EXPECT_EQ(rx.engine->ClusterDeviceState("PJSIP/alice"), DeviceState::kRinging);
  rx.engine->OnFrame(2, good);
  EXPECT_EQ(rx.dropped(DropReason::kReplayed), 1u);

  // A unicast node 2 sent to node 3, replayed at node 1: its counter is new here, its
  // destination is not.
  {
    std::vector<std::uint8_t> plain;
    codec::BeginFrame(&plain, codec::FrameType::kSyncAck, 2, 1);
    codec::Writer w(&plain);
    codec::EncodeSyncAck(w, {1, 1});
    codec::EndFrame(&plain);
    FrameAuthenticator auth({Key('a')});
    std::vector<std::uint8_t> sealed;
    auth.Seal(plain, 3, 999, &sealed);
    rx.engine->OnFrame(2, sealed);
  }
  EXPECT_EQ(rx.dropped(DropReason::kReplayed), 2u);

  // The sender restarts with a greater incarnation; its old frames are then stale.
  Node a2(2, {Key('a')}, 2);
  rx.engine->OnFrame(2, a2.Change("PJSIP/bob", DeviceState::kInUse));
  EXPECT_EQ(rx.engine->ClusterDeviceState("PJSIP/bob"), DeviceState::kInUse);
  const auto old = a.Change("PJSIP/carol", DeviceState::kInUse);
  rx.engine->OnFrame(2, old);
  EXPECT_EQ(rx.dropped(DropReason::kStaleIncarnation), 1u);
  EXPECT_EQ(rx.engine->ClusterDeviceState("PJSIP/carol"), std::nullopt);
}

TEST(EngineAuth, RotationKeepsTwoEnginesTalking) {
  Node x(1, {Key('a')});
  Node y(2, {Key('a')});
  auto exchange = [&](const char* dev, DeviceState s) {
    const auto f = x.Change(dev, s);
    y.engine->OnFrame(1, f);
    return y.engine->ClusterDeviceState(dev) == s;
  };
  EXPECT_TRUE(exchange("d1", DeviceState::kInUse));
  ASSERT_TRUE(y.engine->SetClusterKeys({Key('a'), Key('b')}).ok());  // y accepts B too
  EXPECT_TRUE(exchange("d2", DeviceState::kInUse));
  ASSERT_TRUE(x.engine->SetClusterKeys({Key('b'), Key('a')}).ok());  // x sends with B
  EXPECT_TRUE(exchange("d3", DeviceState::kInUse));
  ASSERT_TRUE(y.engine->SetClusterKeys({Key('b')}).ok());            // y drops A
  EXPECT_TRUE(exchange("d4", DeviceState::kInUse));
  ASSERT_TRUE(x.engine->SetClusterKeys({Key('b')}).ok());
  EXPECT_TRUE(exchange("d5", DeviceState::kInUse));
  EXPECT_EQ(y.engine->stats().total_dropped(), 0u);
  // And a node still on A alone is now refused.
  Node z(3, {Key('a')});
  y.engine->OnFrame(3, z.Change("d6", DeviceState::kInUse));
  EXPECT_EQ(y.dropped(DropReason::kUnknownKey), 1u);
  // Bad keys are refused and change nothing.
  EXPECT_FALSE(y.engine->SetClusterKeys({std::string(16, 'x')}).ok());
  EXPECT_TRUE(y.engine->authenticated());
}

// ---- key files ----

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pbxstate-keytest-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path Write(const std::string& name, const std::string& bytes, mode_t mode) {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    ::chmod(p.c_str(), mode);
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(KeyFile, RawAndHexKeysLoad) {
  std::string raw(32, '\0');
  for (int i = 0; i < 32; ++i) raw[static_cast<std::size_t>(i)] = static_cast<char>(i * 7 + 1);
  std::string key;
  ASSERT_TRUE(LoadClusterKey(Write("raw", raw, 0600), &key).ok());
  EXPECT_EQ(key, raw);
  std::string hex;
  for (unsigned char c : raw) {
    char b[3];
    std::snprintf(b, sizeof b, "%02X", c);
    hex += b;
  }
  key.clear();
  ASSERT_TRUE(LoadClusterKey(Write("hex", hex + "\n", 0400), &key).ok());
  EXPECT_EQ(key, raw);
}

TEST_F(KeyFile, RefusalsNameTheFileAndTheReason) {
  std::string key = "untouched";
  const auto open_mode = Write("open", std::string(32, 'k'), 0644);
  Status s = LoadClusterKey(open_mode, &key);
  EXPECT_EQ(s.message(), open_mode.string() + ": mode 0644 lets group or others read or write the cluster key; expected "
                                              "0600 or 0400 (chmod 600 " + open_mode.string() + ")");
  const auto group_write = Write("gw", std::string(32, 'k'), 0620);
  EXPECT_NE(LoadClusterKey(group_write, &key).message().find("mode 0620"), std::string::npos);
  const auto short_key = Write("short", std::string(31, 'k'), 0600);
  EXPECT_EQ(LoadClusterKey(short_key, &key).message(),
            short_key.string() + ": 31 bytes; expected a cluster key of 32 raw bytes or 64 hexadecimal digits (and a newline)");
  const auto long_key = Write("long", std::string(100, 'k'), 0600);
  EXPECT_NE(LoadClusterKey(long_key, &key).message().find("more than 65 bytes"), std::string::npos);
  const auto bad_hex = Write("badhex", std::string(63, 'a') + "g", 0600);
  EXPECT_NE(LoadClusterKey(bad_hex, &key).message().find("byte 63 is not a hexadecimal digit"), std::string::npos);
  EXPECT_NE(LoadClusterKey(dir_ / "missing", &key).message().find("cannot open the cluster key file"), std::string::npos);
  EXPECT_NE(LoadClusterKey(dir_, &key).message().find("not a regular file"), std::string::npos);
  EXPECT_EQ(key, "untouched");
}

TEST_F(KeyFile, NewKeyFilesArePrivateRandomAndNeverOverwritten) {
  const auto p = dir_ / "new.key";
  ASSERT_TRUE(WriteNewClusterKeyFile(p).ok());
  struct stat st{};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string k1, k2;
  ASSERT_TRUE(LoadClusterKey(p, &k1).ok());
  EXPECT_EQ(WriteNewClusterKeyFile(p).code(), Status::Code::kFailedPrecondition);
  const auto q = dir_ / "other.key";
  ASSERT_TRUE(WriteNewClusterKeyFile(q).ok());
  ASSERT_TRUE(LoadClusterKey(q, &k2).ok());
  EXPECT_NE(k1, k2);
  EXPECT_NE(k1, std::string(32, '\0'));
}

}  // namespace
}  // namespace pbxstate
