// The daemons' run-queue wait (pbxstate/runner/daemon_wait.h): parsing schedstat, the
// per-interval arithmetic over successive samples, and one read of this process's own threads.
#include "pbxstate/runner/daemon_wait.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace pbxstate::runner {
namespace {

using namespace std::chrono_literals;

TEST(ParseSchedstat, TakesTheSecondField) {
  std::uint64_t wait = 0;
  ASSERT_TRUE(ParseSchedstat("123456 7890 42\n", "f", &wait).ok());
  EXPECT_EQ(wait, 7890u);
  ASSERT_TRUE(ParseSchedstat("0 18446744073709551615 0\n", "f", &wait).ok());
  EXPECT_EQ(wait, 18446744073709551615u);
}

TEST(ParseSchedstat, RefusesAnythingElseNamingFileAndField) {
  std::uint64_t wait = 99;
  const Status two = ParseSchedstat("123 456\n", "/proc/1/task/1/schedstat", &wait);
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.message().find("/proc/1/task/1/schedstat:1: field 2 (run-queue wait (ns))"), std::string::npos)
      << two.message();
  const Status word = ParseSchedstat("123 abc 4\n", "f", &wait);
  EXPECT_NE(word.message().find("field 2"), std::string::npos) << word.message();
  EXPECT_FALSE(ParseSchedstat("", "f", &wait).ok());
  EXPECT_FALSE(ParseSchedstat("1 2 3", "f", &wait).ok());          // no newline
  EXPECT_FALSE(ParseSchedstat("1 2 3\nmore", "f", &wait).ok());    // trailing text
  EXPECT_FALSE(ParseSchedstat("-1 2 3\n", "f", &wait).ok());       // not unsigned
  EXPECT_FALSE(ParseSchedstat("1  2 3\n", "f", &wait).ok());       // two spaces
  EXPECT_EQ(wait, 99u);  // nothing written on a refusal
}

TEST(WaitTally, TheBaseCountsNothing) {
  WaitTally t;
  t.Add(0ms, {{10, 5'000'000}, {11, 7'000'000}});
  EXPECT_TRUE(t.based());
  EXPECT_EQ(t.total(), 0ns);
  EXPECT_EQ(t.worst(), 0ns);
  EXPECT_EQ(t.threads(), 2u);
}

TEST(WaitTally, SumsThreadsPerIntervalAndKeepsTheWorst) {
  WaitTally t;
  t.Add(0ms, {{11, 7'000'000}, {10, 5'000'000}});  // any order
  t.Add(100ms, {{10, 6'000'000}, {11, 9'000'000}});    // 1 + 2 ms
  t.Add(200ms, {{10, 16'000'000}, {11, 14'000'000}});  // 10 + 5 ms: the worst
  t.Add(300ms, {{10, 16'000'000}, {11, 14'500'000}});  // 0.5 ms
  EXPECT_EQ(t.worst(), 15ms);
  EXPECT_EQ(t.worst_at(), 200ms);
  EXPECT_EQ(t.total(), 3ms + 15ms + 500us);
}

TEST(WaitTally, AThreadFirstSeenSetsItsBaseAndCountsFromItsNextSample) {
  WaitTally t;
  t.Add(0ms, {{10, 5'000'000}});
  // Thread 12 first seen: its 400 ms may have been waited before the previous sample (a thread
  // the previous sample left out) or at its daemon's bring-up: none of it is this interval's.
  t.Add(100ms, {{10, 5'000'000}, {12, 400'000'000}});
  EXPECT_EQ(t.total(), 0ns);
  EXPECT_EQ(t.worst(), 0ns);
  t.Add(200ms, {{10, 6'000'000}, {12, 403'000'000}});  // 1 + 3 ms
  EXPECT_EQ(t.total(), 4ms);
  EXPECT_EQ(t.worst_at(), 200ms);
  // Left out of one sample, read again in the next: its 497 ms since 200 ms span two intervals,
  // so it sets its base again and counts nothing.
  t.Add(300ms, {{10, 7'000'000}});
  t.Add(400ms, {{10, 7'000'000}, {12, 900'000'000}});
  EXPECT_EQ(t.total(), 5ms);
  EXPECT_EQ(t.worst(), 4ms);
  EXPECT_EQ(t.threads(), 2u);
}

TEST(WaitTally, ARestartedDaemonCountsFromItsSecondSample) {
  WaitTally t;
  t.Add(0ms, {{10, 5'000'000}});
  t.Add(100ms, {});                                       // the daemon dead
  t.Add(200ms, {{40, 2'000'000}, {41, 1'000'000}});       // restarted under new ids: their base
  t.Add(300ms, {{40, 2'500'000}, {41, 1'000'000}});
  EXPECT_EQ(t.total(), 500us);
  EXPECT_EQ(t.worst_at(), 300ms);
}

TEST(WaitTally, AReusedIdWhoseCountWentDownIsANewThread) {
  WaitTally t;
  t.Add(0ms, {{10, 9'000'000}});
  t.Add(100ms, {{10, 2'000'000}});
  EXPECT_EQ(t.total(), 0ns);
  t.Add(200ms, {{10, 3'000'000}});
  EXPECT_EQ(t.total(), 1ms);
}

TEST(WaitTally, KeepsTheMostThreadsOneSampleLeftUnread) {
  WaitTally t;
  EXPECT_EQ(t.threads_unread(), 0u);
  t.Add(0ms, {{10, 0}}, 3);
  t.Add(100ms, {{10, 0}}, 7);
  t.Add(200ms, {{10, 0}}, 0);
  EXPECT_EQ(t.threads_unread(), 7u);
}

TEST(ReadThreadWaits, ReadsEveryThreadOfThisProcess) {
  std::atomic<bool> stop{false};
  std::thread other([&] {
    while (!stop.load()) std::this_thread::sleep_for(1ms);
  });
  std::vector<ThreadWait> waits;
  std::uint32_t unread = 99;
  const Status st = ReadThreadWaits(getpid(), &waits, &unread);
  stop = true;
  other.join();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GE(waits.size(), 2u);
  EXPECT_LE(waits.size(), kMaxSampledThreads);
  EXPECT_EQ(unread, 0u);
  bool self = false;
  for (const ThreadWait& w : waits) self = self || w.tid == gettid();
  EXPECT_TRUE(self);
}

// More threads than the bound: the lowest ids are read, every time the same ones, and the rest
// are counted, not silently dropped.
TEST(ReadThreadWaits, PastTheBoundReadsTheLowestIdsAndCountsTheOthers) {
  constexpr std::size_t kExtra = 6;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kMaxSampledThreads + kExtra; ++i) {
    threads.emplace_back([&] {
      while (!stop.load()) std::this_thread::sleep_for(1ms);
    });
  }
  std::vector<ThreadWait> first, second;
  std::uint32_t unread_first = 0, unread_second = 0;
  const Status a = ReadThreadWaits(getpid(), &first, &unread_first);
  const Status b = ReadThreadWaits(getpid(), &second, &unread_second);
  std::vector<pid_t> listed;  // every thread of this process, as the kernel lists them
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    listed.push_back(static_cast<pid_t>(std::stol(e.path().filename().string())));
  }
  stop = true;
  for (std::thread& th : threads) th.join();
  ASSERT_TRUE(a.ok()) << a.message();
  ASSERT_TRUE(b.ok()) << b.message();
  ASSERT_GE(listed.size(), kMaxSampledThreads + kExtra);
  ASSERT_EQ(first.size(), kMaxSampledThreads);
  EXPECT_EQ(unread_first, listed.size() - kMaxSampledThreads);
  EXPECT_EQ(unread_second, unread_first);
  std::sort(listed.begin(), listed.end());
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].tid, listed[i]) << i;
    EXPECT_EQ(second[i].tid, listed[i]) << i;
  }
}

TEST(ReadThreadWaits, AProcessThatIsGoneHasNoThreads) {
  std::vector<ThreadWait> waits = {{1, 1}};
  std::uint32_t unread = 5;
  // Above the kernel's pid_max (at most 2^22): no such process.
  ASSERT_TRUE(ReadThreadWaits((1 << 22) + 1, &waits, &unread).ok());
  EXPECT_TRUE(waits.empty());
  EXPECT_EQ(unread, 0u);
}

TEST(DaemonWaitSampler, SamplesOnTheIntervalGridFromTheBase) {
  // Node 1's corosync is this process; its pbxstated and node 2's daemons are not running.
  DaemonWaitSampler sampler(2, [](NodeId n, Daemon d) { return n == 1 && d == Daemon::kCorosync ? getpid() : 0; });
  EXPECT_FALSE(sampler.Record());
  sampler.MaybeSample(0ms);
  sampler.MaybeSample(50ms);   // before the next grid point: nothing
  sampler.MaybeSample(130ms);
  sampler.MaybeSample(170ms);  // 200 ms is next, not 230 ms: nothing
  sampler.MaybeSample(450ms);  // late: one sample, the interval 320 ms
  const std::optional<harness::DaemonWaits> r = sampler.Record();
  ASSERT_TRUE(r) << sampler.unavailable();
  EXPECT_EQ(r->samples, 3u);
  EXPECT_EQ(r->interval, kDaemonWaitInterval);
  EXPECT_EQ(r->longest_interval, 320ms);
  EXPECT_EQ(r->bound, kMaxDaemonWait);
  EXPECT_EQ(r->max_threads, kMaxSampledThreads);
  EXPECT_EQ(r->daemons[0].threads_unread, 0u);
  ASSERT_EQ(r->daemons.size(), 4u);
  EXPECT_EQ(r->daemons[0].node, 1u);
  EXPECT_EQ(r->daemons[0].daemon, "corosync");
  EXPECT_GE(r->daemons[0].threads, 1u);
  EXPECT_EQ(r->daemons[1].daemon, "pbxstated");
  EXPECT_EQ(r->daemons[1].threads, 0u);
  EXPECT_EQ(r->daemons[3].node, 2u);
  EXPECT_LE(r->daemons[0].worst, r->daemons[0].total);
}

TEST(DaemonWaits, WithinTheBoundUnlessOneDaemonWaitedLonger) {
  harness::DaemonWaits w;
  w.bound = 50ms;
  EXPECT_TRUE(w.within_bound());
  EXPECT_EQ(w.worst(), nullptr);
  w.daemons = {{.node = 1, .daemon = "corosync", .worst = 5ms}, {.node = 2, .daemon = "pbxstated", .worst = 50ms}};
  EXPECT_TRUE(w.within_bound());
  EXPECT_EQ(w.worst()->node, 2u);
  w.daemons[0].worst = 51ms;
  EXPECT_FALSE(w.within_bound());
  EXPECT_EQ(w.worst()->daemon, "corosync");
}

}  // namespace
}  // namespace pbxstate::runner
