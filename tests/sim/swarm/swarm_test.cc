// The swarm end to end: seeds run on the in-process cluster and pass; a failure (made on purpose
// by a test-only judge hook, never by a broken engine) becomes <seed>.yaml and a smaller
// <seed>.min.yaml that load and fail again; the failure classes the shrinker keeps.
#include "pbxstate/swarm/swarm.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "pbxstate/runner/inproc_runner.h"
#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/writer.h"
#include "pbxstate/swarm/generator.h"

namespace pbxstate::swarm {
namespace {

using scenario::Scenario;

std::filesystem::path TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("pbxstate_swarm_test_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(Swarm, SeedsPassOnInproc) {
  SwarmOptions o;
  o.first_seed = 500;
  o.seeds = 20;
  SwarmReport r;
  ASSERT_TRUE(RunSwarm(o, nullptr, &r).ok());
  EXPECT_EQ(r.seeds_run, 20u);
  for (const SeedFailure& f : r.failures) ADD_FAILURE() << "seed " << f.seed << ": " << f.verdict.primary();
  EXPECT_GT(r.seeds_per_second(), 0);
}

// The injected "bug": any run whose scenario isolates a node while a mailbox is written "fails".
bool InjectedBug(const Scenario& s) {
  bool isolate = false, mailbox = false;
  for (const scenario::Fault& f : s.faults) isolate = isolate || std::holds_alternative<scenario::Isolate>(f.what);
  for (const scenario::TimedChange& c : s.workload.changes) {
    mailbox = mailbox || std::holds_alternative<scenario::MailboxChange>(c.what);
  }
  return isolate && mailbox;
}

TEST(Swarm, AFailingSeedBecomesASmallReplayableFile) {
  SwarmOptions o;
  // The first seed the "bug" shows on, and one that does not, so that one shrink runs.
  o.first_seed = 1;
  while (!InjectedBug(GenerateScenario(o.first_seed))) ++o.first_seed;
  o.seeds = 2;
  o.out = TempDir("failing");
  o.judge_hook = [](const Scenario& s, const Verdict& v) {
    if (!InjectedBug(s)) return v;
    Verdict bug;
    bug.classes = {"check failed: injected"};
    return bug;
  };
  SwarmReport r;
  std::size_t progress_calls = 0;
  ASSERT_TRUE(RunSwarm(o, [&](const SwarmReport&, const SeedFailure*) { ++progress_calls; }, &r).ok());
  EXPECT_EQ(progress_calls, r.seeds_run);
  ASSERT_FALSE(r.failures.empty());
  const SeedFailure& f = r.failures.front();
  EXPECT_EQ(f.verdict.primary(), "check failed: injected");
  ASSERT_TRUE(std::filesystem::exists(f.file));
  ASSERT_TRUE(std::filesystem::exists(f.min_file));
  EXPECT_EQ(f.file.filename(), std::to_string(f.seed) + ".yaml");
  EXPECT_EQ(f.min_file.filename(), std::to_string(f.seed) + ".min.yaml");
  // Both files load, and still "fail"; the shrunk one is small.
  const scenario::LoadResult orig = scenario::LoadScenarioFile(f.file);
  const scenario::LoadResult min = scenario::LoadScenarioFile(f.min_file);
  ASSERT_TRUE(orig.ok());
  ASSERT_TRUE(min.ok()) << min.errors.front().ToString();
  EXPECT_TRUE(InjectedBug(*orig.scenario));
  EXPECT_TRUE(InjectedBug(*min.scenario));
  ASSERT_TRUE(f.shrunk.has_value());
  EXPECT_EQ(f.shrunk->faults, 1u);
  EXPECT_EQ(f.shrunk->changes, 1u);
  EXPECT_LE(f.shrunk->nodes, 2u);
  EXPECT_LT(std::filesystem::file_size(f.min_file), std::filesystem::file_size(f.file));
  // The file says what failed and how to replay it.
  std::ifstream in(f.min_file);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("# pbxstate swarm, seed " + std::to_string(f.seed) + " on inproc: check failed: injected"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("# replay: pbxstate run --backend inproc"), std::string::npos);
  std::filesystem::remove_all(o.out);
}

std::string ReadFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// run.json without the lines that say where the scenario came from ("file", and each check's
// "line"), which a value and a file cannot share.
std::string WithoutSourcePositions(const std::string& run_json) {
  std::istringstream in(run_json);
  std::string out, line;
  while (std::getline(in, line)) {
    const std::size_t key = line.find_first_not_of(' ');
    if (key != std::string::npos && (line.compare(key, 7, "\"file\":") == 0 || line.compare(key, 7, "\"line\":") == 0)) {
      continue;
    }
    out += line + "\n";
  }
  return out;
}

// What a failing seed's file replays is what ran: a generated scenario written to YAML reads back
// to text that writes identically, the file run twice gives byte-identical run.json files, and
// that run is the generated value's run (the same bytes but where the scenario came from). One
// seed of each membership mode.
TEST(Swarm, AWrittenScenarioReplaysByteIdentically) {
  const std::filesystem::path dir = TempDir("replay");
  std::filesystem::create_directories(dir);
  for (const MembershipSource m : {MembershipSource::kHeartbeat, MembershipSource::kTransport}) {
    GeneratorOptions go;
    go.membership = m;
    const Scenario generated = GenerateScenario(7, go);
    std::string yaml;
    ASSERT_TRUE(scenario::WriteScenario(generated, &yaml).ok());
    const std::string name = m == MembershipSource::kHeartbeat ? "heartbeat" : "transport";
    const std::filesystem::path file = dir / (name + ".yaml");
    std::ofstream(file, std::ios::binary) << yaml;
    const scenario::LoadResult loaded = scenario::LoadScenarioFile(file);
    ASSERT_TRUE(loaded.ok()) << loaded.errors.front().ToString();
    std::string rewritten;
    ASSERT_TRUE(scenario::WriteScenario(*loaded.scenario, &rewritten).ok());
    EXPECT_EQ(rewritten, yaml) << name;
    std::vector<std::string> runs;
    for (const char* kind : {"value", "file", "file_again"}) {
      runner::RunOutcome outcome;
      runner::RunOptions ro;
      ro.out = dir / (name + "_" + kind);
      const Scenario& s = std::string(kind) == "value" ? generated : *loaded.scenario;
      ASSERT_TRUE(runner::RunInproc(s, ro, &outcome).ok());
      EXPECT_GT(outcome.result.changes.size(), 0u) << name;
      runs.push_back(ReadFile(*ro.out / "run.json"));
      ASSERT_FALSE(runs.back().empty());
    }
    EXPECT_EQ(runs[1], runs[2]) << name;
    EXPECT_EQ(WithoutSourcePositions(runs[0]), WithoutSourcePositions(runs[1])) << name;
  }
  std::filesystem::remove_all(dir);
}

TEST(Swarm, StopsAtItsWallTimeBound) {
  SwarmOptions o;
  o.seeds = 1'000'000;
  o.max_seconds = 0.5;
  SwarmReport r;
  ASSERT_TRUE(RunSwarm(o, nullptr, &r).ok());
  EXPECT_TRUE(r.stopped_by_time);
  EXPECT_LT(r.seeds_run, o.seeds);
}

TEST(Judge, ClassesNameTheCheckAndTheDiscrepancyKind) {
  runner::RunOutcome o;
  harness::CheckVerdict stale;
  stale.check = std::get<scenario::Check>(scenario::ParseCheck("stale == 0"));
  stale.measured = true;
  stale.observed = 2;
  harness::CheckVerdict lost;
  lost.check = std::get<scenario::Check>(scenario::ParseCheck("lost == 0"));
  lost.measured = true;
  lost.pass = true;
  o.verdicts = {lost, stale};
  o.result.discrepancies = {{3, "stale mailbox 100@default"}, {2, "shows device X from node 4, which it should not"}};
  const Verdict v = Judge(Status::Ok(), o);
  ASSERT_TRUE(v.failed());
  EXPECT_EQ(v.primary(), "check failed: stale (stale mailbox)");
  EXPECT_TRUE(v.Shows("check failed: stale (shows device)"));
  EXPECT_TRUE(v.Shows("check failed: stale"));
  EXPECT_FALSE(v.Shows("check failed: lost"));
  const Verdict livelock = Judge(Status::FailedPrecondition("x: inproc run failed: livelock: more than"), o);
  EXPECT_EQ(livelock.primary(), "run failed: livelock");
  runner::RunOutcome fine;
  fine.verdicts = {lost};
  EXPECT_FALSE(Judge(Status::Ok(), fine).failed());
}

}  // namespace
}  // namespace pbxstate::swarm
