// The lag's attribution to the machine (host_steal.h, lag_witness.h): /proc/stat's steal parsed
// from a fake text, the decision, and the witness thread reading a fake /proc/stat that the test
// rewrites between a lag's start and its end. No privileges needed.
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "pbxstate/emu/host_steal.h"
#include "pbxstate/emu/lag_witness.h"
#include "pbxstate/emu/realtime.h"

namespace pbxstate::emu {
namespace {

using namespace std::chrono_literals;

// This VM's /proc/stat, cut after the cpu lines' neighbours (steal: 8267, 4099, 4168 ticks).
constexpr std::string_view kProcStat =
    "cpu  2626088 1251681 1023676 1904488 9490 0 22675 8267 0 0\n"
    "cpu0 1235862 629245 501466 1039087 2523 0 10673 4099 0 0\n"
    "cpu1 1390225 622435 522210 865400 6967 0 12002 4168 0 0\n"
    "intr 283710405 0 9 0 0 0 0 0 0 0\n"
    "ctxt 465716328\n"
    "btime 1796548800\n";

TEST(ParseSteal, EveryCpuInNanoseconds) {
  std::vector<std::int64_t> steal;
  ASSERT_TRUE(ParseStealNs(kProcStat, 100, "/proc/stat", &steal).ok());
  EXPECT_EQ(steal, (std::vector<std::int64_t>{4099 * 10'000'000LL, 4168 * 10'000'000LL}));
  ASSERT_TRUE(ParseStealNs("cpu0 1 2 3 4 5 6 7 8\n", 1000, "x", &steal).ok());  // no guest columns, no newline
  EXPECT_EQ(steal, (std::vector<std::int64_t>{8'000'000}));
}

TEST(ParseSteal, ErrorsNameTheLineAndTheField) {
  std::vector<std::int64_t> steal;
  const Status short_line = ParseStealNs("cpu  1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7\n", 100, "/proc/stat", &steal);
  EXPECT_EQ(short_line.message(), "/proc/stat:2: cpu0 field 8 (steal): missing or not a number");
  const Status bad = ParseStealNs("cpu0 1 2 x 4 5 6 7 8\n", 100, "/proc/stat", &steal);
  EXPECT_EQ(bad.message(), "/proc/stat:1: cpu0 field 3: missing or not a number");
  EXPECT_EQ(ParseStealNs("cpu  1 2 3 4 5 6 7 8\nintr 1\n", 100, "/proc/stat", &steal).message(), "/proc/stat: no cpuN line");
}

// Indexed by the N of "cpuN", not by line order: with CPU 1 offline /proc/stat has no cpu1 line,
// and CPU 2's steal is at index 2 (kNoCpu at 1).
TEST(ParseSteal, IndexedByTheCpuNumber) {
  std::vector<std::int64_t> steal;
  ASSERT_TRUE(ParseStealNs("cpu  1 1 1 1 1 1 1 9\ncpu0 0 0 0 0 0 0 0 4\ncpu2 0 0 0 0 0 0 0 5\n", 100, "/proc/stat", &steal).ok());
  EXPECT_EQ(steal, (std::vector<std::int64_t>{40'000'000, kNoCpu, 50'000'000}));
  EXPECT_EQ(ParseStealNs("cpu0 0 0 0 0 0 0 0 4\ncpu0 0 0 0 0 0 0 0 4\n", 100, "/proc/stat", &steal).message(),
            "/proc/stat:2: cpu0: a second time");
  EXPECT_EQ(ParseStealNs("cpu4096 0 0 0 0 0 0 0 4\n", 100, "/proc/stat", &steal).message(),
            "/proc/stat:1: cpu4096: not a CPU number below 4096");
  EXPECT_EQ(ParseStealNs("cpu1x 0 0 0 0 0 0 0 4\n", 100, "/proc/stat", &steal).message(),
            "/proc/stat:1: cpu1x: not a CPU number below 4096");
}

// A stall's record is written whole, or the failure names the path (the run's notes and stderr
// carry it: LagWitness::records_written).
TEST(StallRecord, WrittenWholeOrTheErrorNamesThePath) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("pbxstate_stall_record." + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "stall-1.txt").string();
  ASSERT_TRUE(WriteStallRecord(path, "# header\n", "line 1\nline 2\n").ok());
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "# header\nline 1\nline 2\n");
  const std::string missing = (dir / "gone" / "stall-2.txt").string();
  EXPECT_EQ(WriteStallRecord(missing, "# header\n", "x\n").message(), missing + ": No such file or directory");
  std::filesystem::remove_all(dir);
}

TEST(AttributeLag, StealFirstThenTheLifeguardsGap) {
  HostWitness w;
  EXPECT_EQ(AttributeLag(15ms, w), LagCause::kUnknown);
  w.sampled = true;
  w.lifeguard = true;
  w.steal_every_cpu = 10ms;  // one 10 ms step on each CPU during a 15 ms lag
  w.lifeguard_gap = 14ms;
  EXPECT_EQ(AttributeLag(15ms, w), LagCause::kHypervisor);
  EXPECT_EQ(AttributeLag(21ms, w), LagCause::kEveryCpuHeld);
  w.steal_every_cpu = 0ms;
  w.lifeguard_gap = 1ms;
  EXPECT_EQ(AttributeLag(15ms, w), LagCause::kCpuHeld);
  w.lifeguard = false;
  w.lifeguard_gap = 15ms;  // without a lifeguard its gap says nothing
  EXPECT_EQ(AttributeLag(15ms, w), LagCause::kCpuHeld);
  EXPECT_EQ(LagCauseName(LagCause::kHypervisor), "hypervisor");
  w.steal_every_cpu = 10ms;
  EXPECT_EQ(DescribeLagCause(LagCause::kHypervisor, w), "the hypervisor stole 10.0 ms of every CPU");
}

// Every CPU held (no lifeguard for half the lag, no steal): the whole machine's when the
// simulation's clock was read and it ran under half the lag, else the emulator's own.
TEST(AttributeLag, EveryCpuHeldWithTheSimulationStillIsTheWholeMachine) {
  HostWitness w;
  w.sampled = true;
  w.lifeguard = true;
  w.lifeguard_gap = 60ms;
  EXPECT_EQ(AttributeLag(61ms, w), LagCause::kEveryCpuHeld);  // the clock not read: it may have run
  w.simulation_read = true;
  w.simulation_ran = 200us;
  EXPECT_EQ(AttributeLag(61ms, w), LagCause::kMachineStopped);
  EXPECT_EQ(DescribeLagCause(LagCause::kMachineStopped, w),
            "no CPU ran a lifeguard for 60.0 ms nor the simulation for more than 0.2 ms (the whole machine stopped, no steal)");
  w.simulation_ran = 31ms;  // it ran: its own work kept the lifeguards off
  EXPECT_EQ(AttributeLag(61ms, w), LagCause::kEveryCpuHeld);
  EXPECT_EQ(LagCauseName(LagCause::kMachineStopped), "machine-stopped");
  EXPECT_TRUE(StoppedTheWholeMachine(LagCause::kMachineStopped));
  EXPECT_TRUE(StoppedTheWholeMachine(LagCause::kHypervisor));
  EXPECT_FALSE(StoppedTheWholeMachine(LagCause::kEveryCpuHeld));
  EXPECT_FALSE(StoppedTheWholeMachine(LagCause::kCpuHeld));
  EXPECT_FALSE(StoppedTheWholeMachine(LagCause::kUnknown));
}

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = std::filesystem::temp_directory_path() / ("pbxstate_lag_witness." + std::to_string(getpid()));
    WriteSteal(100);
  }
  void TearDown() override { std::filesystem::remove(file_); }
  // Readings every 2 ms of the fake file.
  LagWitness::Options Fake() const {
    LagWitness::Options o;
    o.period = 2ms;
    o.proc_stat = file_.string();
    return o;
  }
  // Replaces the file at once (a rename), each CPU's steal at `ticks`.
  void WriteSteal(int ticks) {
    const auto tmp = file_.string() + ".tmp";
    std::ofstream(tmp) << "cpu  0 0 0 0 0 0 0 " << 2 * ticks << "\ncpu0 0 0 0 0 0 0 0 " << ticks
                       << "\ncpu1 0 0 0 0 0 0 0 " << ticks << "\n";
    std::filesystem::rename(tmp, file_);
  }
  std::filesystem::path file_;
};

// Waits (at most 10 s: the witness thread runs at ordinary priority here) until `n` spells are
// attributed.
bool WaitForSpells(const LagWitness& w, std::size_t n) {
  for (int i = 0; i < 10'000 && w.spells().size() < n; ++i) std::this_thread::sleep_for(1ms);
  return w.spells().size() >= n;
}

// A lag with no steal, attributed before the next begins; then one with 10 s stolen from each CPU
// between its start and its end (Start reads the file once, so a reading precedes both).
TEST_F(WitnessTest, StealBetweenALagsStartAndEndIsTheHypervisors) {
  LagWitness w;
  ASSERT_TRUE(w.Start(Fake()).ok());
  std::int64_t due = MonotonicNs();
  std::this_thread::sleep_for(3ms);
  w.Note(due, Duration(MonotonicNs() - due));
  ASSERT_TRUE(WaitForSpells(w, 1));
  due = MonotonicNs();
  std::this_thread::sleep_for(3ms);
  WriteSteal(1100);
  w.Note(due, Duration(MonotonicNs() - due));
  ASSERT_TRUE(WaitForSpells(w, 2));
  w.Stop();
  const std::vector<LagSpell> spells = w.spells();
  ASSERT_EQ(spells.size(), 2u);
  EXPECT_EQ(spells[0].cause, LagCause::kCpuHeld);
  EXPECT_EQ(spells[0].witness.steal_every_cpu, 0s);
  EXPECT_EQ(spells[1].cause, LagCause::kHypervisor);
  EXPECT_EQ(spells[1].witness.steal_every_cpu, 10s);
  EXPECT_GE(spells[1].witness.window, spells[1].lag);
  EXPECT_EQ(w.counts()[static_cast<std::size_t>(LagCause::kHypervisor)], 1u);
  EXPECT_EQ(w.unrecorded(), 0u);
}

// With CPU 1 offline (no cpu1 line), the steal of CPUs 0 and 2 decides, each at its number.
TEST_F(WitnessTest, StealIsTakenByCpuNumberWithACpuOffline) {
  auto write = [&](int ticks) {
    const auto tmp = file_.string() + ".tmp";
    std::ofstream(tmp) << "cpu  0 0 0 0 0 0 0 " << 2 * ticks << "\ncpu0 0 0 0 0 0 0 0 " << ticks
                       << "\ncpu2 0 0 0 0 0 0 0 " << ticks + 7 << "\n";
    std::filesystem::rename(tmp, file_);
  };
  write(100);
  LagWitness w;
  ASSERT_TRUE(w.Start(Fake()).ok());
  const std::int64_t due = MonotonicNs();
  std::this_thread::sleep_for(3ms);
  write(1100);
  w.Note(due, Duration(MonotonicNs() - due));
  ASSERT_TRUE(WaitForSpells(w, 1));
  w.Stop();
  const LagSpell spell = w.spells().at(0);
  EXPECT_EQ(spell.cause, LagCause::kHypervisor);
  EXPECT_EQ(spell.witness.steal_every_cpu, 10s);
  ASSERT_EQ(spell.witness.steal_per_cpu.size(), 3u);
  EXPECT_EQ(spell.witness.steal_per_cpu[0], 10s);
  EXPECT_LT(spell.witness.steal_per_cpu[1], 0s);  // offline: unread
  EXPECT_EQ(spell.witness.steal_per_cpu[2], 10s);
  EXPECT_TRUE(w.records_written().ok());
}

TEST_F(WitnessTest, ALagBeforeTheFirstReadingIsUnknownAndResetForgets) {
  LagWitness w;
  const std::int64_t before_start = MonotonicNs();
  ASSERT_TRUE(w.Start(Fake()).ok());
  w.Note(before_start, 1ms);
  ASSERT_TRUE(WaitForSpells(w, 1));
  EXPECT_EQ(w.spells().at(0).cause, LagCause::kUnknown);
  w.Reset();
  EXPECT_TRUE(w.spells().empty());
  w.Stop();
}

TEST_F(WitnessTest, TheProbesQueuedBehindAStallAreThatStall) {
  LagWitness w;
  ASSERT_TRUE(w.Start(Fake()).ok());
  const std::int64_t due = MonotonicNs() - 10'000'000;
  for (int i = 0; i < 6; ++i) w.Note(due + i * 1'000'000, Duration(6'000'000 - i * 1'000'000));  // 6, 5, .. 1 ms
  w.Note(due + 7'000'000, 2ms);  // due after the first stall ended: another
  ASSERT_TRUE(WaitForSpells(w, 2));
  w.Stop();
  const std::vector<LagSpell> spells = w.spells();
  ASSERT_EQ(spells.size(), 2u);
  EXPECT_EQ(spells[0].lag, 6ms);
  EXPECT_EQ(spells[1].lag, 2ms);
}

// The simulation's CPU time is read with every reading, and a stall gets what it ran between the
// readings that bracket it: 7 ms here, set while the stall lasts.
TEST_F(WitnessTest, AStallGetsTheSimulationsCpuTimeOverItsWindow) {
  std::atomic<std::int64_t> cpu_ns{1'000'000};
  LagWitness::Options o = Fake();
  o.simulation_cpu_ns = [&] { return cpu_ns.load(); };
  LagWitness w;
  ASSERT_TRUE(w.Start(o).ok());
  const std::int64_t due = MonotonicNs();
  std::this_thread::sleep_for(5ms);
  cpu_ns += 7'000'000;
  w.Note(due, Duration(MonotonicNs() - due));
  ASSERT_TRUE(WaitForSpells(w, 1));
  w.Stop();
  const LagSpell spell = w.spells().at(0);
  EXPECT_TRUE(spell.witness.simulation_read);
  EXPECT_EQ(spell.witness.simulation_ran, 7ms);
}

// The probes queued behind a 100 ms stall (99 of them, each 1 ms less late) are that stall's and
// not noted: none is lost to the kPending bound, which only notes of other stalls may fill.
TEST_F(WitnessTest, AStallsQueueDoesNotFillThePendingNotes) {
  LagWitness w;
  ASSERT_TRUE(w.Start(Fake()).ok());
  const std::int64_t due = MonotonicNs() - 200'000'000;
  for (int i = 0; i < 100; ++i) w.Note(due + i * 1'000'000LL, Duration((100 - i) * 1'000'000LL));
  ASSERT_TRUE(WaitForSpells(w, 1));
  w.Stop();
  EXPECT_EQ(w.unrecorded(), 0u);
  ASSERT_EQ(w.spells().size(), 1u);
  EXPECT_EQ(w.spells()[0].lag, 100ms);
}

TEST_F(WitnessTest, AnUnreadableFileFailsStartNamingIt) {
  LagWitness w;
  LagWitness::Options o;
  o.proc_stat = file_.string() + ".missing";
  const Status st = w.Start(o);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(o.proc_stat), std::string::npos) << st.message();
}

}  // namespace
}  // namespace pbxstate::emu
