// The emulator's real-time means (sim/emu realtime.h) on the real kernel: a caller raised to the
// simulation's priority gets its own back, locked memory is locked and unlocked again, and the
// watchdog takes SCHED_FIFO from a thread that spins without sleeping, so the process goes on
// (a watchdog that failed would let the kernel kill this test at its hard limit: a failure, not
// a hang). Needs root (CAP_SYS_NICE, CAP_IPC_LOCK); exits 77 (skip) saying why otherwise.
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "pbxstate/emu/realtime.h"

namespace pbxstate::emu {
namespace {

using namespace std::chrono_literals;

// The calling thread's policy as the kernel has it (pthread_getschedparam answers from glibc's
// cache, which does not see the watchdog's change).
int Policy() { return sched_getscheduler(0); }

// VmLck of this process in kB (/proc/self/status).
long LockedKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmLck:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST(Realtime, ScopedPriorityRaisesAndGivesBack) {
  ASSERT_EQ(Policy(), SCHED_OTHER);
  {
    ScopedPriority raised(20);
    int policy = -1;
    sched_param p{};
    pthread_getschedparam(pthread_self(), &policy, &p);
    EXPECT_EQ(policy, SCHED_FIFO);
    EXPECT_EQ(p.sched_priority, 20);
  }
  EXPECT_EQ(Policy(), SCHED_OTHER);
  {
    ScopedPriority unchanged(0);
    EXPECT_EQ(Policy(), SCHED_OTHER);
  }
}

// Two threads at SCHED_FIFO 30 (as the readers inherit the simulation's priority), one at 20 and
// the caller at 30: the two go to 28, the others stay as they are.
TEST(Realtime, MoveFifoThreadsMovesOnlyThoseAtThePriority) {
  std::atomic<bool> done{false};
  std::atomic<int> ready{0};
  std::atomic<pid_t> tids[3] = {0, 0, 0};
  auto run = [&](int i, int priority) {
    sched_param p{};
    p.sched_priority = priority;
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
    tids[i] = static_cast<pid_t>(gettid());
    ++ready;
    while (!done) std::this_thread::sleep_for(1ms);
  };
  std::thread a(run, 0, 30), b(run, 1, 30), c(run, 2, 20);
  while (ready < 3) std::this_thread::sleep_for(1ms);
  std::vector<pid_t> moved;
  {
    ScopedPriority caller(30);
    ASSERT_TRUE(MoveFifoThreads(30, 28, static_cast<pid_t>(gettid()), &moved).ok());
    sched_param self{};
    sched_getparam(0, &self);
    EXPECT_EQ(self.sched_priority, 30);
  }
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_TRUE((moved[0] == tids[0] && moved[1] == tids[1]) || (moved[0] == tids[1] && moved[1] == tids[0]));
  sched_param p{};
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sched_getparam(tids[i], &p), 0);
    EXPECT_EQ(p.sched_priority, i < 2 ? 28 : 20) << "thread " << i;
  }
  done = true;
  a.join();
  b.join();
  c.join();
}

TEST(Realtime, GuardLocksMemoryAndUndoesIt) {
  const long before = LockedKb();
  RealtimeGuard guard;
  ASSERT_TRUE(guard.Enter(true, Duration::zero()).ok());
  EXPECT_GT(LockedKb(), before);
  RealtimeGuard second;
  EXPECT_FALSE(second.Enter(false, Duration::zero()).ok()) << "one guard at a time";
  guard.Leave();
  EXPECT_EQ(LockedKb(), before);
}

TEST(Realtime, WatchdogPutsASpinningFifoThreadBackToOrdinaryScheduling) {
  RealtimeGuard guard;
  ASSERT_TRUE(guard.Enter(false, 200ms).ok());
  EXPECT_FALSE(RealtimeGuard::fired());
  std::atomic<int> policy_at_end{-1};
  std::atomic<long> spun_ms{0};
  std::thread spinner([&] {
    ASSERT_TRUE(PrepareRealtimeThread(10).ok());
    ASSERT_EQ(Policy(), SCHED_FIFO);
    // Never sleeps: only the watchdog ends the loop (or 5 s, past the kernel's hard limit).
    const auto start = std::chrono::steady_clock::now();
    while (Policy() == SCHED_FIFO && std::chrono::steady_clock::now() - start < 5s) {
    }
    spun_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    policy_at_end = Policy();
  });
  spinner.join();
  EXPECT_EQ(policy_at_end.load(), SCHED_OTHER);
  EXPECT_TRUE(RealtimeGuard::fired());
  // It ran at least the watchdog's 200 ms of CPU (the kernel counts in ticks; the host's other
  // real-time work may stretch the wall time, never shorten it).
  EXPECT_GE(spun_ms.load(), 190);
  guard.Leave();
  std::printf("watchdog: the spinning thread was demoted after %ld ms\n", spun_ms.load());
}

}  // namespace
}  // namespace pbxstate::emu

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (geteuid() != 0) {
    std::printf("skipped: real-time scheduling and locked memory need root\n");
    return 77;
  }
  return RUN_ALL_TESTS();
}
