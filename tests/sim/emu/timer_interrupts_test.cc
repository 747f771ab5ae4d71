// The timer interrupts as a witness of the machine's pauses (timer_interrupts.h, host_steal.h's
// rule), on the kernel tracer's own text recorded on this VM (tests/sim/emu/data, 2026-12-06,
// 20:27 UTC, irq_vectors:local_timer_entry at clock mono, an emu run and builds beside
// pbxstate-pause-probe): a pause the probe saw on both CPUs (72.2 / 73.1 ms), and a CPU held
// 23.9 ms by a system call, whose tick went on every 4 ms. No privileges needed, but for the
// mount of tracefs, which the mount test makes on a directory of its own where it runs as root.
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "pbxstate/emu/host_steal.h"
#include "pbxstate/emu/timer_interrupts.h"
#include "pbxstate/emu/tracefs_instance.h"
#include "recorded.h"

namespace pbxstate::emu {
namespace {

using namespace std::chrono_literals;

using testing::Recorded;

// Seconds of the tracer's clock as CLOCK_MONOTONIC ns.
constexpr std::int64_t At(double seconds) { return static_cast<std::int64_t>(seconds * 1e9 + 0.5); }

// The probe's pause: no interrupt on any CPU from 446.199 to 514.070 ms but one (CPU 1 at
// 456.712): two gaps, 10.5 and 57.4 ms, each less a tick (5 ms: Options::tick), are 57.9 ms the
// machine did not run.
TEST(TimerInterrupts, APauseOfBothCpusIsTheMachineStopped) {
  TimerInterrupts irq(4ms);  // CONFIG_HZ=250, and kHeldOff: a gap is one over 5 ms
  irq.Feed(Recorded("timer_interrupts_machine_paused.txt"));
  const std::int64_t from = At(58612.446199), to = At(58612.514070);
  EXPECT_EQ(irq.StoppedNs(from, to), (10'513'000 - 5'000'000) + (57'358'000 - 5'000'000));
  EXPECT_EQ(irq.StoppedNs(from, At(58612.456712)), 10'513'000 - 5'000'000);  // a window clips its gaps
  EXPECT_EQ(irq.StoppedNs(from, At(58612.530)), -1);                         // not traced that far
  EXPECT_EQ(irq.StoppedNs(At(58612.44), to), -1);                            // before the first interrupt
  // Each CPU on its own: CPU 0 took none from 446.199 to 514.070 (67.9 ms), CPU 1 none from
  // 446.046 to 456.712 and from there to 518.067: 62.9 and 57.9 ms beyond the allowance in it.
  const std::vector<std::int64_t> per_cpu = irq.NotExecutedNs(from, to);
  ASSERT_EQ(per_cpu.size(), 2u);
  EXPECT_EQ(per_cpu[0], 67'871'000 - 5'000'000);
  EXPECT_EQ(per_cpu[1], (456'712'000 - 446'199'000 - 5'000'000) + (514'070'000 - 456'712'000 - 5'000'000));
  HostWitness w;
  w.sampled = true;
  w.interrupts_read = true;
  w.no_interrupt = Duration(irq.StoppedNs(from, to));
  w.every_cpu_read = true;
  w.not_executed_every_cpu = Duration(*std::min_element(per_cpu.begin(), per_cpu.end()));
  w.simulation_read = true;
  w.simulation_ran = 60ms;  // the guest charged the pause to the simulation: it does not matter
  EXPECT_EQ(AttributeLag(67ms, w), LagCause::kCpuHeld);  // no lifeguard: an idle CPU takes no tick
  w.lifeguard = true;
  w.lifeguard_gap = 60ms;
  EXPECT_EQ(AttributeLag(67ms, w), LagCause::kMachineStopped);
  EXPECT_EQ(DescribeLagCause(LagCause::kMachineStopped, w),
            "every CPU went without a timer interrupt for 57.9 ms of it or more, all at once for 57.9 ms (the whole "
            "machine stopped, no steal)");
  EXPECT_EQ(AttributeLag(150ms, w), LagCause::kCpuHeld);  // neither the pause nor the lifeguards' gap the larger part: unproven
}

// CPU 0 held 23.9 ms (the probe's thread late; no lifeguard could run there): its tick went on at
// 476, 480, ... 496 ms, and CPU 1 ran. Even with CPU 1's interrupts taken out (as if both CPUs
// were held), no gap exceeds a tick: every CPU held, not stopped, whatever the lifeguards say.
TEST(TimerInterrupts, AHeldCpuTicksOnAndIsNotAPause) {
  const std::string text = Recorded("timer_interrupts_cpu_held.txt");
  const std::int64_t from = At(58600.472015), to = At(58600.496016);
  TimerInterrupts both(4ms);
  both.Feed(text);
  EXPECT_EQ(both.StoppedNs(from, to), 0);
  std::istringstream lines(text);
  std::string cpu0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("[000]") != std::string::npos) cpu0 += line + "\n";
  }
  TimerInterrupts one(4ms);
  one.Feed(cpu0);
  EXPECT_EQ(one.StoppedNs(from, to), 0);
  HostWitness w;
  w.sampled = true;
  w.lifeguard = true;
  w.lifeguard_gap = 24ms;
  w.simulation_read = true;
  w.simulation_ran = 0ms;  // without the trace this was taken for the machine's
  EXPECT_EQ(AttributeLag(24ms, w), LagCause::kMachineStopped);
  w.interrupts_read = true;
  w.no_interrupt = Duration(one.StoppedNs(from, to));
  w.every_cpu_read = true;
  w.not_executed_every_cpu = Duration(one.NotExecutedNs(from, to).at(0));
  EXPECT_EQ(w.not_executed_every_cpu, 0ms);
  EXPECT_EQ(AttributeLag(24ms, w), LagCause::kEveryCpuHeld);
}

// A loss the tracer reports voids what came before the next interrupt; a line read late splits
// its gap; a line longer than kLine is dropped, not taken in part.
TEST(TimerInterrupts, LossesLateLinesAndLongLines) {
  const std::string a = "  x-1 [000] d.h.. 100.000000: local_timer_entry: vector=236\n";
  const std::string b = "  x-1 [001] d.h.. 100.020000: local_timer_entry: vector=236\n";
  const std::string c = "  x-1 [000] d.h.. 100.030000: local_timer_entry: vector=236\n";
  const std::string late = "  x-1 [001] d.h.. 100.010000: local_timer_entry: vector=236\n";
  TimerInterrupts irq(4ms);
  irq.Feed(a + b + c);
  EXPECT_EQ(irq.StoppedNs(At(100.0), At(100.03)), 20'000'000);  // 20 - 5 and 10 - 5
  EXPECT_EQ(irq.every_cpu_last_ns(), At(100.02));  // CPU 1's latest: CPU 0 read further
  irq.Feed(late);
  EXPECT_EQ(irq.StoppedNs(At(100.0), At(100.03)), 15'000'000);  // 10 - 5, three times
  irq.Feed("CPU:1 [LOST 12 EVENTS]\n" + std::string("  x-1 [000] d.h.. 100.050000: local_timer_entry: vector=236\n"));
  EXPECT_EQ(irq.lost_reports(), 1u);
  EXPECT_EQ(irq.StoppedNs(At(100.0), At(100.05)), -1);
  EXPECT_EQ(irq.last_ns(), At(100.05));
  irq.Feed("  x-1 [000] d.h.. 100.0" + std::string(TimerInterrupts::kLine, '0'));
  irq.Feed("70000: local_timer_entry: vector=236\n");
  EXPECT_EQ(irq.last_ns(), At(100.05));
  irq.Feed("  x-1 [000] d.h.. 100.0");  // split across reads
  irq.Feed("80000: local_timer_entry: vector=236\n");
  EXPECT_EQ(irq.StoppedNs(At(100.05), At(100.08)), 25'000'000);
}

// Open fails naming the file the tracer would not take, and leaves no instance behind.
TEST(TimerInterrupts, OpenFailsNamingTheFile) {
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("pbxstate_tracefs." + std::to_string(getpid()));
  std::filesystem::create_directories(root / "instances");
  TimerInterrupts irq(4ms);
  TimerInterrupts::Options o;
  o.tracefs = root.string();
  o.instance = "run";
  const Status st = irq.Open(o);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find((root / "instances/run/trace_clock").string()), std::string::npos) << st.message();
  EXPECT_FALSE(irq.open());
  EXPECT_FALSE(std::filesystem::exists(root / "instances/run"));
  std::filesystem::remove_all(root);
}

// Where tracefs is not mounted, the run mounts it (as root) and the instances directory appears;
// where it cannot, the error names the path. A directory that has `instances` is taken as it is.
TEST(TracefsMount, MountsWhereAbsentAndNamesThePathOtherwise) {
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("pbxstate_tracefs_mount." + std::to_string(getpid()));
  std::filesystem::create_directories(root);
  const Status st = MountTracefs(root.string());
  const bool refused = !st.ok() && (st.message().find(std::strerror(EPERM)) != std::string::npos ||
                                    st.message().find(std::strerror(EACCES)) != std::string::npos);
  if (geteuid() == 0 && refused) {  // root without CAP_SYS_ADMIN (a container, a user namespace)
    std::filesystem::remove_all(root);
    GTEST_SKIP() << "root here may not mount: " << st.message();
  }
  if (geteuid() == 0) {
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_TRUE(std::filesystem::exists(root / "instances"));
    EXPECT_TRUE(MountTracefs(root.string()).ok());  // mounted now: nothing more to do
    ASSERT_EQ(umount(root.c_str()), 0) << std::strerror(errno);
  } else {
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find(root.string()), std::string::npos) << st.message();
  }
  std::filesystem::create_directories(root / "instances");
  EXPECT_TRUE(MountTracefs(root.string()).ok());
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace pbxstate::emu
