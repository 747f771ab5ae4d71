// What ran on each CPU in a stall (task_switches.h) and the kernel's tick (kernel_tick.h), on the
// kernel's own text recorded on this VM (tests/sim/emu/data, 2026-12-06): 14 ms of
// sched:sched_switch and irq_vectors:local_timer_entry at clock mono (23:53 UTC, builds beside
// pbxstate-pause-probe 60 4, whose reader was `head` on trace_pipe), in which CPU 0 took no
// interrupt from 801.096 to 808.917 ms while cc1plus (nice 19) was its current task: no tick
// either, so the CPU did not execute for 7.8 ms less the allowance, while CPU 1 ran on; and two
// readings of /proc/timer_list 0.51 s apart; and a stall of soak-short as the witness kept it. No
// privileges needed.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "pbxstate/emu/host_steal.h"
#include "pbxstate/emu/kernel_tick.h"
#include "pbxstate/emu/task_switches.h"
#include "pbxstate/emu/timer_interrupts.h"
#include "recorded.h"

namespace pbxstate::emu {
namespace {

using namespace std::chrono_literals;

using testing::Recorded;

constexpr std::int64_t At(double ms) { return static_cast<std::int64_t>((70878.0 + ms / 1000) * 1e9 + 0.5); }
constexpr std::int64_t kAllowance = 5'000'000;  // the tick at CONFIG_HZ=250 and TimerInterrupts::kHeldOff

// The window 801.000 to 809.000 ms: on CPU 0 cc1plus was current 7.96 ms of it (0.082 before the
// probe's wake-up, 7.842 until the next, 0.035 after), the probe's thread 0.041 ms; it did not
// execute from 801.096 to 808.917 less the allowance. CPU 1 executed throughout.
TEST(SwitchTally, ACpuStoppedUnderItsCurrentTaskAndTheOtherRunning) {
  SwitchTally tally(At(801.0), At(809.0), kAllowance, true);
  tally.Feed(Recorded("task_switches_cpu_stopped.txt"));
  const std::vector<CpuTasks> cpus = tally.Result(At(812.0));
  ASSERT_EQ(cpus.size(), 2u);
  const CpuTasks& c0 = cpus[0];
  EXPECT_TRUE(c0.known);
  EXPECT_EQ(c0.not_executed, Duration(808'917'000 - 801'096'000 - kAllowance));
  ASSERT_GE(c0.top.size(), 2u);
  EXPECT_EQ(c0.top[0].comm, "cc1plus");
  EXPECT_EQ(c0.top[0].pid, 30304);
  EXPECT_EQ(c0.top[0].prio, 139);
  EXPECT_EQ(c0.top[0].ran, Duration(82'000 + 7'842'000 + 35'000));
  EXPECT_EQ(c0.top[1].comm, "pbxstate-pause-");
  EXPECT_EQ(c0.top[1].prio, 51);
  EXPECT_EQ(c0.top[1].ran, Duration(14'000 + 27'000));
  EXPECT_EQ(c0.idle, 0ms);
  EXPECT_EQ(c0.switches, 4u);
  const CpuTasks& c1 = cpus[1];
  EXPECT_TRUE(c1.known);
  EXPECT_EQ(c1.not_executed, 0ms);
  EXPECT_GT(c1.idle, 0ms);
  Duration all = c1.idle + c1.other_tasks;
  for (const TaskTime& t : c1.top) all += t.ran;
  EXPECT_EQ(all, 8ms);  // every moment of the window is some task's, the idle one's included
  // The window's lines, 20 ms either side, are kept as its record: here the whole text.
  EXPECT_EQ(tally.window_text(), Recorded("task_switches_cpu_stopped.txt"));
  // The same window from the interrupts alone, CPU by CPU: CPU 0's gap from its interrupt at
  // 801.066; the switches after it (801.082, 801.096) shorten it by 30 us.
  TimerInterrupts irq(4ms);
  irq.Feed(Recorded("task_switches_cpu_stopped.txt"));
  const std::vector<std::int64_t> per_cpu = irq.NotExecutedNs(At(801.0), At(809.0));
  ASSERT_EQ(per_cpu.size(), 2u);
  EXPECT_EQ(per_cpu[0], 808'917'000 - 801'066'000 - kAllowance);
  EXPECT_EQ(per_cpu[1], 0);
  // One CPU stopped is not the machine: the other ran the daemons on.
  HostWitness w;
  w.sampled = w.lifeguard = w.interrupts_read = w.every_cpu_read = true;
  w.lifeguard_gap = 8ms;
  w.not_executed_every_cpu = Duration(std::min(per_cpu[0], per_cpu[1]));
  w.cpus = cpus;
  EXPECT_EQ(AttributeLag(8ms, w), LagCause::kEveryCpuHeld);
  const std::string why = DescribeLagCause(LagCause::kEveryCpuHeld, w);
  EXPECT_NE(why.find("; CPU 0: not executing 2.8 ms, cc1plus (30304, prio 139) 8.0 ms"), std::string::npos) << why;
}

// Where the buffer does not reach back before the window, the CPU is known only in part; text
// before a CPU's first switch is its current task's (the switch's prev), from its first event.
TEST(SwitchTally, ABufferThatStartsInTheWindowIsKnownInPart) {
  const std::string text =
      "  x-7 [000] d.h.. 100.002000: local_timer_entry: vector=236\n"
      "  x-7 [000] d..2. 100.002500: sched_wakeup: comm=pbxstate pid=11 prio=49 target_cpu=001\n"
      "  x-7 [000] d..2. 100.003000: sched_switch: prev_comm=my task prev_pid=7 prev_prio=0 prev_state=R ==> "
      "next_comm=swapper/0 next_pid=0 next_prio=120\n";
  SwitchTally tally(100'000'000'000, 100'010'000'000, kAllowance, false);
  tally.Feed(text);
  const std::vector<CpuTasks> cpus = tally.Result(100'012'000'000);
  ASSERT_EQ(cpus.size(), 2u);  // CPU 1 only as the wake-up's target: no event of its own
  EXPECT_EQ(cpus[0].followed_woken, 0u);
  EXPECT_EQ(cpus[1].followed_woken, 1u);
  EXPECT_FALSE(cpus[1].known);
  EXPECT_FALSE(cpus[0].known);
  ASSERT_EQ(cpus[0].top.size(), 1u);
  EXPECT_EQ(cpus[0].top[0].comm, "my task");  // a name with a space
  EXPECT_EQ(cpus[0].top[0].ran, 1ms);
  EXPECT_EQ(cpus[0].idle, 7ms);
  EXPECT_EQ(cpus[0].not_executed, 2ms);  // no event from 100.003 to the end: 7 ms of the window, less 5
  EXPECT_TRUE(tally.window_text().empty());
}

// A stall of soak-short on emu (2026-12-07 00:41 UTC, 521.0 s of the scenario, 22.1 ms; the
// witness's own record, DIR/stall-traces, due at 73738.170 s to the millisecond): CPU 1 took
// nothing from 170.185 to 192.882 ms with its idle task current, and CPU 0 nothing after 172.920
// until the snapshot (its buffer ends there; the last line read, 193.025). The run called it
// every-cpu-held: the stream had read CPU 1 past the stall but not yet CPU 0, so the per-CPU
// figure was not taken. The snapshot covers both: 14.2 and 16.9 ms of it not executing, the
// whole machine's.
TEST(SwitchTally, APauseOfASoakRunIsTheMachinesFromItsSnapshot) {
  const std::int64_t from = 73738'170'000'000, to = from + 22'107'323, end = 73738'193'025'000;
  SwitchTally tally(from, to, kAllowance, false);
  tally.Feed(Recorded("task_switches_soak_pause.txt"));
  std::vector<CpuTasks> cpus = tally.Result(end);
  ASSERT_EQ(cpus.size(), 2u);
  EXPECT_TRUE(cpus[0].known && cpus[1].known);
  EXPECT_EQ(cpus[0].not_executed, Duration(to - 73738'172'920'000 - kAllowance));
  EXPECT_EQ(cpus[1].not_executed, Duration(to - 73738'170'185'000 - kAllowance));
  EXPECT_GT(cpus[0].followed_woken, 0u);  // the simulation was woken on CPU 0, which then stopped
  HostWitness w;
  w.sampled = w.lifeguard = w.interrupts_read = true;
  w.lifeguard_gap = 22ms;
  w.no_interrupt = 15ms;
  EXPECT_EQ(AttributeLag(Duration(to - from), w), LagCause::kEveryCpuHeld);  // not every CPU read
  TakeCpuTasks(cpus, 2, &w);
  EXPECT_TRUE(w.every_cpu_read);
  EXPECT_EQ(w.not_executed_every_cpu, cpus[0].not_executed);
  EXPECT_EQ(AttributeLag(Duration(to - from), w), LagCause::kMachineStopped);
  HostWitness three = w;
  three.every_cpu_read = false;
  TakeCpuTasks(cpus, 3, &three);  // a CPU the snapshot did not see: no per-CPU figure
  EXPECT_FALSE(three.every_cpu_read);
  cpus[1].known = false;
  HostWitness part;
  TakeCpuTasks(cpus, 2, &part);  // a CPU known only in part: none either
  EXPECT_FALSE(part.every_cpu_read);
  EXPECT_EQ(part.cpus.size(), 2u);
}

// The one stall over the bound of soak-short on emu at 06:00 UTC on 2026-12-07 (833 s, 10.77 ms;
// the witness's record, due at 10070.333 s to the millisecond, its lines 325.5 to 344.9 ms):
// both CPUs idle, polling, each with its lifeguard's 1 ms timer armed, and neither took anything
// for 9.06 ms (CPU 0, 333.708 to 342.769) and 11.27 ms (CPU 1, 333.426 to 344.697). Beyond the
// tick's allowance that is 4.06 ms on CPU 0, less than half the lag: every CPU held by the rule,
// not the machine's, whatever the whole silences say. The silences are recorded beside it.
TEST(SwitchTally, BothCpusSilentButOneLessThanHalfTheLagBeyondTheAllowance) {
  const std::int64_t from = 10070'333'000'000, lag = 10'765'214, to = from + lag, end = 10070'344'861'000;
  SwitchTally tally(from, to, kAllowance, false);
  tally.Feed(Recorded("task_switches_soak_both_silent.txt"));
  const std::vector<CpuTasks> cpus = tally.Result(end);
  ASSERT_EQ(cpus.size(), 2u);
  EXPECT_TRUE(cpus[0].known && cpus[1].known);
  EXPECT_EQ(cpus[0].longest_silence, Duration(342'769'000 - 333'708'000));
  EXPECT_EQ(cpus[1].longest_silence, Duration(to - 10070'333'426'000));  // to the stall's end
  EXPECT_EQ(cpus[0].not_executed, cpus[0].longest_silence - Duration(kAllowance));
  EXPECT_EQ(cpus[1].not_executed, cpus[1].longest_silence - Duration(kAllowance));
  EXPECT_EQ(cpus[0].followed_woken, 0u);
  EXPECT_EQ(cpus[1].followed_woken, 4u);  // the simulation's wake-ups from 1 ms before it, all on CPU 1
  HostWitness w;
  w.sampled = w.lifeguard = w.interrupts_read = true;
  w.lifeguard_gap = 8ms;
  w.window = 14ms;
  w.steal_per_cpu = {0ms, 10ms};
  TakeCpuTasks(cpus, 2, &w);
  ASSERT_TRUE(w.every_cpu_read);
  EXPECT_EQ(w.not_executed_every_cpu, cpus[0].not_executed);
  const LagCause cause = AttributeLag(Duration(lag), w);
  EXPECT_EQ(cause, LagCause::kEveryCpuHeld);
  EXPECT_EQ(StallRecordHeader(from, Duration(lag), cause, w, Duration(kAllowance), Duration::zero()),
            "# stall due at 10070333 ms (CLOCK_MONOTONIC), lag 10.8 ms, every-cpu-held\n"
            "# steal read over 14.0 ms; allowance 5.0 ms a gap\n"
            "# cpu 0: longest silence 9.1 ms, not executing 4.1 ms, steal 0.0 ms\n"
            "# cpu 1: longest silence 10.3 ms, not executing 5.3 ms, steal 10.0 ms\n");
  HostWitness unread = w;
  unread.sampled = false;
  unread.steal_per_cpu.clear();
  const std::string header = StallRecordHeader(from, Duration(lag), cause, unread, Duration(kAllowance), Duration::zero());
  EXPECT_NE(header.find("# steal read over no readings;"), std::string::npos) << header;
  EXPECT_NE(header.find("not executing 4.1 ms, steal unread\n"), std::string::npos) << header;
  // The header is skipped by a tally, as the kernel's own '#' lines are.
  SwitchTally again(from, to, kAllowance, false);
  again.Feed(header + Recorded("task_switches_soak_both_silent.txt"));
  EXPECT_EQ(again.Result(end)[0].longest_silence, cpus[0].longest_silence);
}

// The same stall with the lifeguards told apart (sim/emu/README.md, "The lifeguard's timer as
// evidence"; the rule of the runs from this build on, never applied to the 06:00 run itself): on
// each CPU the lifeguard (9253 on CPU 0, 9274 on CPU 1) went to sleep before the silence (333.708,
// 333.426) and woke from a timer interrupt on its CPU, switched in at once preempting the idle task
// (342.769 then 342.802; 344.697 then 344.734): its 1 ms timer was armed through the silence, and
// the allowance is that and 1 ms held off. So CPU 0 did not execute 9.06 - 2 = 7.06 ms, CPU 1
// 10.34 (to the stall's end) - 2 = 8.34 ms: both over half the lag, the whole machine stopped.
TEST(SwitchTally, BothCpusSilentWithTheLifeguardsTimersArmedIsTheMachineStopped) {
  const std::int64_t from = 10070'333'000'000, lag = 10'765'214, to = from + lag, end = 10070'344'861'000;
  const LifeguardTimers lifeguards{{9274, 9253}, GapAllowance(1ms).count()};
  SwitchTally tally(from, to, kAllowance, false, lifeguards);
  tally.Feed(Recorded("task_switches_soak_both_silent.txt"));
  const std::vector<CpuTasks> cpus = tally.Result(end);
  ASSERT_EQ(cpus.size(), 2u);
  EXPECT_EQ(lifeguards.allowance_ns, 2'000'000);
  EXPECT_EQ(cpus[0].not_executed, Duration(342'769'000 - 333'708'000 - 2'000'000));
  EXPECT_EQ(cpus[1].not_executed, Duration(to - 10070'333'426'000 - 2'000'000));
  EXPECT_EQ(cpus[0].silences_lifeguard_armed, 1u);
  EXPECT_EQ(cpus[1].silences_lifeguard_armed, 1u);
  EXPECT_EQ(cpus[0].longest_silence, Duration(342'769'000 - 333'708'000));  // the evidence is unchanged
  HostWitness w;
  w.sampled = w.lifeguard = w.interrupts_read = true;
  w.lifeguard_gap = 8ms;
  w.window = 14ms;
  w.steal_per_cpu = {0ms, 10ms};
  TakeCpuTasks(cpus, 2, &w);
  EXPECT_EQ(w.not_executed_every_cpu, Duration(7'061'000));
  const LagCause cause = AttributeLag(Duration(lag), w);
  EXPECT_EQ(cause, LagCause::kMachineStopped);
  EXPECT_EQ(StallRecordHeader(from, Duration(lag), cause, w, Duration(kAllowance), Duration(lifeguards.allowance_ns)),
            "# stall due at 10070333 ms (CLOCK_MONOTONIC), lag 10.8 ms, machine-stopped\n"
            "# steal read over 14.0 ms; allowance 5.0 ms a gap, 2.0 ms where the lifeguard's timer was armed\n"
            "# cpu 0: longest silence 9.1 ms, not executing 7.1 ms (the lifeguard's timer armed through 1 silence), steal 0.0 ms\n"
            "# cpu 1: longest silence 10.3 ms, not executing 8.3 ms (the lifeguard's timer armed through 1 silence), steal 10.0 ms\n");
}

// Where the trace does not show the lifeguard's timer armed, the tick's allowance stays. The 521 s
// stall (above) with its lifeguards told apart (21179 on CPU 0, 21180 on CPU 1): CPU 1's went to
// sleep at 169.838 and woke from the interrupt at 192.882 (switched in at 192.919, preempting the
// idle task), so its silence counts beyond 2 ms; CPU 0's went to sleep at 169.807 and the buffer
// ends before it woke: its silence keeps 5 ms.
TEST(SwitchTally, ALifeguardsSleepNotSeenToEndByItsTimerKeepsTheTicksAllowance) {
  const std::int64_t from = 73738'170'000'000, to = from + 22'107'323, end = 73738'193'025'000;
  SwitchTally tally(from, to, kAllowance, false, LifeguardTimers{{21179, 21180}, GapAllowance(1ms).count()});
  tally.Feed(Recorded("task_switches_soak_pause.txt"));
  const std::vector<CpuTasks> cpus = tally.Result(end);
  ASSERT_EQ(cpus.size(), 2u);
  EXPECT_EQ(cpus[0].not_executed, Duration(to - 73738'172'920'000 - kAllowance));
  EXPECT_EQ(cpus[0].silences_lifeguard_armed, 0u);
  EXPECT_EQ(cpus[1].not_executed, Duration(to - 73738'170'185'000 - 2'000'000));
  EXPECT_EQ(cpus[1].silences_lifeguard_armed, 1u);
}

// Without its wake-ups recorded (the kept traces), the lifeguard's sleep ended otherwise than by
// its timer where it was woken by another thread (it waits on its moves' mutex and on the
// simulator's lock too, with no timer armed), so its switch in came after a switch, not right
// after an interrupt; or where its interrupt came while a higher-priority task ran, which it
// followed only when that task slept (S). Each keeps the tick's allowance; so does a tally not
// told the lifeguards.
TEST(SwitchTally, ALifeguardWokenOtherwiseThanByItsTimerKeepsTheTicksAllowance) {
  const std::string slept =
      "  pbxstate-7 [000] d..2. 100.000000: sched_switch: prev_comm=pbxstate prev_pid=7 prev_prio=50 prev_state=S ==> "
      "next_comm=cc1plus next_pid=30 next_prio=139\n"
      "  cc1plus-30 [000] d.h.. 100.008000: local_timer_entry: vector=236\n";
  const std::string by_a_thread =
      "  cc1plus-30 [000] d..2. 100.008100: sched_switch: prev_comm=cc1plus prev_pid=30 prev_prio=139 prev_state=R ==> "
      "next_comm=reader next_pid=9 next_prio=51\n"
      "  reader-9   [000] d..2. 100.008200: sched_switch: prev_comm=reader prev_pid=9 prev_prio=51 prev_state=R ==> "
      "next_comm=pbxstate next_pid=7 next_prio=50\n";
  const std::string after_a_higher_task =
      "  cc1plus-30 [000] d..2. 100.008100: sched_switch: prev_comm=cc1plus prev_pid=30 prev_prio=139 prev_state=R ==> "
      "next_comm=pbxstate next_pid=5 next_prio=49\n"
      "  pbxstate-5 [000] d.h.. 100.009000: local_timer_entry: vector=236\n"
      "  pbxstate-5 [000] d..2. 100.009100: sched_switch: prev_comm=pbxstate prev_pid=5 prev_prio=49 prev_state=S ==> "
      "next_comm=pbxstate next_pid=7 next_prio=50\n";
  const std::string by_its_timer =
      "  cc1plus-30 [000] d..2. 100.008010: sched_switch: prev_comm=cc1plus prev_pid=30 prev_prio=139 prev_state=R ==> "
      "next_comm=pbxstate next_pid=7 next_prio=50\n";
  // Where the lifeguards' wake-ups are recorded (from this build on), the wake-up says it: in
  // hard-interrupt context on its own CPU, its timer (the simulation, woken by the same interrupt,
  // may run first); in a task's context, another thread, even right after an interrupt.
  const std::string woken_by_its_timer_the_simulation_first =
      "  cc1plus-30 [000] d.h.. 100.008002: sched_wakeup: comm=pbxstate pid=5 prio=49 target_cpu=000\n"
      "  cc1plus-30 [000] d.h.. 100.008003: sched_wakeup: comm=pbxstate pid=7 prio=50 target_cpu=000\n"
      "  cc1plus-30 [000] d..2. 100.008010: sched_switch: prev_comm=cc1plus prev_pid=30 prev_prio=139 prev_state=R ==> "
      "next_comm=pbxstate next_pid=5 next_prio=49\n"
      "  pbxstate-5 [000] d..2. 100.008100: sched_switch: prev_comm=pbxstate prev_pid=5 prev_prio=49 prev_state=S ==> "
      "next_comm=pbxstate next_pid=7 next_prio=50\n";
  const std::string woken_by_a_thread_after_an_interrupt =
      "  reader-9 [001] d..3. 100.008002: sched_wakeup: comm=pbxstate pid=7 prio=50 target_cpu=000\n" + by_its_timer;
  const LifeguardTimers lifeguard{{7}, GapAllowance(1ms).count()};
  auto not_executed = [&](const std::string& text, const LifeguardTimers& told) {
    SwitchTally tally(100'000'000'000, 100'010'000'000, kAllowance, false, told);
    tally.Feed(text);
    return tally.Result(100'010'000'000).at(0).not_executed;
  };
  EXPECT_EQ(not_executed(slept + by_a_thread, lifeguard), 3ms);  // 8 ms silent, less 5
  EXPECT_EQ(not_executed(slept + after_a_higher_task, lifeguard), 3ms);
  EXPECT_EQ(not_executed(slept + by_its_timer, lifeguard), 6ms);  // less 2
  EXPECT_EQ(not_executed(slept + by_its_timer, LifeguardTimers{}), 3ms);
  EXPECT_EQ(not_executed(slept, lifeguard), 3ms);  // not seen to end
  EXPECT_EQ(not_executed(slept + woken_by_its_timer_the_simulation_first, lifeguard), 6ms);
  EXPECT_EQ(not_executed(slept + woken_by_a_thread_after_an_interrupt, lifeguard), 3ms);
  SwitchTally tally(100'000'000'000, 100'010'000'000, kAllowance, false, lifeguard);
  tally.Feed(slept + woken_by_its_timer_the_simulation_first);
  EXPECT_EQ(tally.Result(100'010'000'000).at(0).followed_woken, 1u) << "the simulation's wake-up only";
}

TEST(KernelTick, FromTwoReadingsOfTheTimerList) {
  std::int64_t now0 = 0, now1 = 0;
  std::uint64_t j0 = 0, j1 = 0;
  ASSERT_TRUE(ParseTimerList(Recorded("timer_list_0.txt"), "t0", &now0, &j0).ok());
  ASSERT_TRUE(ParseTimerList(Recorded("timer_list_1.txt"), "t1", &now1, &j1).ok());
  EXPECT_EQ(now0, 71023337590870);
  EXPECT_EQ(j0, 4312648072u);
  EXPECT_EQ(j1 - j0, 127u);  // 0.508 s at 250 Hz
  Duration tick{};
  ASSERT_TRUE(TickFromJiffies(now0, j0, now1, j1, "/proc/timer_list", &tick).ok());
  EXPECT_EQ(tick, 4ms);
  ASSERT_TRUE(TickFromJiffies(0, 0, 1'000'000'000, 1000, "x", &tick).ok());
  EXPECT_EQ(tick, 1ms);
  const Status odd = TickFromJiffies(0, 0, 1'000'000'000, 500, "/proc/timer_list", &tick);
  EXPECT_EQ(odd.message(), "/proc/timer_list: 500 jiffies a second is none of CONFIG_HZ's choices (100, 250, 300, 1000)");
  EXPECT_FALSE(TickFromJiffies(0, 0, 50'000'000, 12, "x", &tick).ok());  // too close
  const Status bad = ParseTimerList("Timer List Version: v0.10\nnow at 12x nsecs\n", "/proc/timer_list", &now0, &j0);
  EXPECT_EQ(bad.message(), "/proc/timer_list:2: \"now at \": not a number");
  const Status none = ParseTimerList("now at 12 nsecs\n", "/proc/timer_list", &now0, &j0);
  EXPECT_EQ(none.message(), "/proc/timer_list: no \"jiffies: \" line");
}

}  // namespace
}  // namespace pbxstate::emu
