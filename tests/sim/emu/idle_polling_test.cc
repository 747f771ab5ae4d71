// Idle polling (sim/emu idle_polling.h): the cpuidle states' entries read from a fake sysfs tree
// laid out as this machine's (two CPUs, state0 "POLL" of latency 0 and state1 "haltpoll idle" of
// latency 1), split into polls and halts; a bad counter named; the difference of two readings; a
// request file that cannot be opened named. Holding the real request is the emu runs' (root).
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pbxstate/emu/idle_polling.h"

namespace pbxstate::emu {
namespace {

class IdleEntriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("pbxstate_cpuidle." + std::to_string(getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void State(int cpu, int state, const std::string& latency, const std::string& usage) {
    const std::filesystem::path dir =
        root_ / ("cpu" + std::to_string(cpu)) / "cpuidle" / ("state" + std::to_string(state));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "latency") << latency;
    std::ofstream(dir / "usage") << usage;
  }

  std::filesystem::path root_;
};

TEST_F(IdleEntriesTest, PollsAndHaltsSummedOverTheCpus) {
  State(0, 0, "0\n", "12\n");
  State(0, 1, "1\n", "63763\n");
  State(1, 0, "0\n", "3\n");
  State(1, 1, "1\n", "100093\n");
  std::filesystem::create_directories(root_ / "cpufreq");  // not a CPU: ignored
  IdleEntries e;
  ASSERT_TRUE(ReadIdleEntries(root_.string(), &e).ok());
  EXPECT_EQ(e.cpus, 2);
  EXPECT_EQ(e.polls, 15u);
  EXPECT_EQ(e.halts, 163856u);
}

TEST_F(IdleEntriesTest, NoCpuidleIsNoCpus) {
  std::filesystem::create_directories(root_ / "cpu0");
  IdleEntries e;
  ASSERT_TRUE(ReadIdleEntries(root_.string(), &e).ok());
  EXPECT_EQ(e.cpus, 0);
  EXPECT_EQ(e.polls + e.halts, 0u);
}

TEST_F(IdleEntriesTest, ABadCounterIsNamed) {
  State(0, 0, "0\n", "12 x\n");
  IdleEntries e;
  const Status st = ReadIdleEntries(root_.string(), &e);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cpu0/cpuidle/state0/usage:1: not a number"), std::string::npos) << st.message();
  std::filesystem::remove(root_ / "cpu0" / "cpuidle" / "state0" / "latency");
  const Status missing = ReadIdleEntries(root_.string(), &e);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("state0/latency"), std::string::npos) << missing.message();
}

TEST(IdleEntriesSince, FieldByFieldNeverBelowZero) {
  const IdleEntries before{10, 500, 2};
  const IdleEntries after{4010, 503, 2};
  const IdleEntries d = IdleEntriesSince(before, after);
  EXPECT_EQ(d.polls, 4000u);
  EXPECT_EQ(d.halts, 3u);
  EXPECT_EQ(d.cpus, 2);
  EXPECT_EQ(IdleEntriesSince(after, before).polls, 0u);  // a counter that went back (a CPU gone)
}

TEST(IdlePolling, ARequestFileThatCannotBeOpenedIsNamed) {
  IdlePolling idle;
  const Status st = idle.Hold("/nonexistent/cpu_dma_latency");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/cpu_dma_latency: "), std::string::npos) << st.message();
  EXPECT_FALSE(idle.held());
}

}  // namespace
}  // namespace pbxstate::emu
