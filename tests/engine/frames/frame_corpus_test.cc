// The malformed-frame corpus: every line of EXPECTED feeds its frame to a fresh engine and
// checks the one counter it names (and that nothing else moved). Every .bin file must appear in
// EXPECTED, and every file EXPECTED names must exist.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "frame_corpus.h"
#include "pbxstate/engine.h"

namespace pbxstate::frames {
namespace {

namespace fs = std::filesystem;
const fs::path kDir = PBXSTATE_FRAME_CORPUS_DIR;

struct Case {
  int line = 0;
  std::string file, receiver, outcome;
  std::vector<std::string> first;
};

void PrintTo(const Case& c, std::ostream* os) { *os << "EXPECTED line " << c.line << " (" << c.file << ")"; }

std::vector<Case> Cases() {
  std::vector<Case> out;
  std::ifstream in(kDir / "EXPECTED");
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.empty() || text[0] == '#') continue;
    std::istringstream words(text);
    Case c;
    c.line = line;
    words >> c.file >> c.receiver >> c.outcome;
    for (std::string w; words >> w;) c.first.push_back(w);
    out.push_back(c);
  }
  return out;
}

std::vector<std::uint8_t> ReadFrame(const std::string& name) {
  std::ifstream in(kDir / name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name << ": cannot read";
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class NullEnv : public Env {
 public:
  MonoTime Now() override { return MonoTime(std::chrono::seconds(10)); }
  WallTime WallNow() override { return kSimEpoch; }
  void ScheduleWakeup(MonoTime) override {}
  SendStatus Broadcast(std::span<const std::uint8_t>) override { return SendStatus::kOk; }
  SendStatus Unicast(NodeId, std::span<const std::uint8_t>) override { return SendStatus::kOk; }
  std::uint64_t Random() override { return 1; }
  void Log(LogLevel, std::string_view) override {}
};

std::optional<DropReason> ReasonNamed(const std::string& name) {
  for (int i = 0; i < kDropReasonCount; ++i) {
    if (DropReasonName(static_cast<DropReason>(i)) == name) return static_cast<DropReason>(i);
  }
  return std::nullopt;
}

class FrameCorpus : public ::testing::TestWithParam<Case> {};

TEST_P(FrameCorpus, HasItsExpectedCounter) {
  const Case& c = GetParam();
  SCOPED_TRACE("EXPECTED line " + std::to_string(c.line) + ": " + c.file);
  EngineConfig config;
  config.node_id = kReceiver;
  config.incarnation = 1;
  ASSERT_TRUE(ReceiverKeys(c.receiver, &config.cluster_keys)) << "unknown receiver '" << c.receiver << "'";
  NullEnv env;
  std::unique_ptr<Engine> engine;
  const Status s = Engine::Create(config, &env, &engine);
  ASSERT_TRUE(s.ok()) << s.ToString();
  engine->Start();
  for (const std::string& f : c.first) {
    engine->OnFrame(kSender, ReadFrame(f));
    ASSERT_EQ(engine->stats().total_dropped(), 0u) << "frame fed first, " << f << ", was refused";
  }
  const EngineStats before = engine->stats();
  const ViewDigest view_before = engine->Digest();
  engine->OnFrame(kSender, ReadFrame(c.file));
  const EngineStats after = engine->stats();
  EXPECT_EQ(after.frames_in, before.frames_in + 1);
  if (c.outcome == "accepted") {
    EXPECT_EQ(after.total_dropped(), 0u);
    return;
  }
  const auto reason = ReasonNamed(c.outcome);
  ASSERT_TRUE(reason) << "'" << c.outcome << "' is not a drop reason";
  for (int i = 0; i < kDropReasonCount; ++i) {
    const auto r = static_cast<DropReason>(i);
    EXPECT_EQ(after.dropped[static_cast<std::size_t>(i)] - before.dropped[static_cast<std::size_t>(i)], r == *reason ? 1u : 0u)
        << DropReasonName(r);
  }
  EXPECT_EQ(engine->Digest(), view_before) << "a refused frame changed the view";
  EXPECT_EQ(after.records_applied, before.records_applied);
}

INSTANTIATE_TEST_SUITE_P(Expected, FrameCorpus, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           std::string name = "line" + std::to_string(p.param.line) + "_" + p.param.file;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(FrameCorpusFiles, EveryFileIsListedAndEveryListedFileExists) {
  std::set<std::string> listed;
  for (const Case& c : Cases()) {
    listed.insert(c.file);
    listed.insert(c.first.begin(), c.first.end());
  }
  std::set<std::string> present;
  for (const auto& e : fs::directory_iterator(kDir)) {
    if (e.path().extension() == ".bin") present.insert(e.path().filename().string());
  }
  EXPECT_EQ(listed, present);
  // The classes the issue asks for, at least: truncated, oversized lengths, wrong version, bad
  // MAC, duplicate, replayed.
  std::multiset<std::string> outcomes;
  for (const Case& c : Cases()) outcomes.insert(c.outcome);
  for (const char* r : {"truncated", "oversize", "bad_version", "bad_mac", "replayed", "stale_incarnation",
                        "unknown_key", "unauthenticated", "auth_not_configured"}) {
    EXPECT_GE(outcomes.count(r), 1u) << r;
  }
}

}  // namespace
}  // namespace pbxstate::frames
