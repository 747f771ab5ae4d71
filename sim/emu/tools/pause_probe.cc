// pbxstate-pause-probe: does this machine stop whole? One SCHED_FIFO thread pinned to each CPU
// wakes every millisecond and notes every wake-up later than the threshold; a gap that every CPU
// saw at once is a pause of the whole machine (the hypervisor, or every CPU in a system call that
// does not yield), which no process on it can avoid. The emulator's own witness (lag_witness.h)
// attributes its stalls the same way while it runs; this probe measures the machine without it,
// before a long emu run or to tell the emulator's stalls from the machine's (sim/emu/README.md,
// "Pauses of the whole machine").
//
// Usage: pbxstate-pause-probe SECONDS [THRESHOLD_MS] (SECONDS 1..3600, THRESHOLD_MS 2..1000,
// default 5). Prints each gap over the threshold, then a summary line; exit 2 on bad arguments.
// As root the threads run at SCHED_FIFO 48 (under the emulator's lifeguards and simulation);
// otherwise at ordinary scheduling, which the summary says.
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kPriority = 48;
constexpr long kMaxSeconds = 3600;
constexpr std::size_t kMaxGapsPrinted = 10'000;  // the summary counts them all
constexpr long kPeriodNs = 1'000'000;

std::int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Gap {
  unsigned cpu;
  std::int64_t from_ns, to_ns;
};

struct Shared {
  std::int64_t start_ns = 0, end_ns = 0, threshold_ns = 0;
  std::mutex mu;
  std::vector<Gap> gaps;
  std::size_t printed = 0;
  std::atomic<int> realtime{0};
};

void Watch(unsigned cpu, Shared* s) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  sched_param p{};
  p.sched_priority = kPriority;
  if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0) ++s->realtime;
  std::int64_t last = NowNs();
  for (std::int64_t next = last + kPeriodNs; last < s->end_ns; next += kPeriodNs) {
    const timespec until{static_cast<time_t>(next / 1'000'000'000), static_cast<long>(next % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
    const std::int64_t now = NowNs();
    if (now - last > s->threshold_ns) {
      std::lock_guard<std::mutex> lock(s->mu);
      s->gaps.push_back({cpu, last, now});
      if (s->printed++ < kMaxGapsPrinted) {
        std::printf("cpu%u gap %.1f ms at %.3f s\n", cpu, static_cast<double>(now - last) / 1e6,
                    static_cast<double>(last - s->start_ns) / 1e9);
      }
    }
    last = now;
    if (next < now) next = now;  // held up: no burst of wake-ups to catch up
  }
}

// Gaps over the threshold that every CPU saw at once (their intervals overlap by at least the
// threshold), and the longest such overlap.
void Summarize(const Shared& s, unsigned cpus) {
  std::size_t whole = 0;
  std::int64_t longest = 0, longest_any = 0;
  for (const Gap& g : s.gaps) {
    longest_any = std::max(longest_any, g.to_ns - g.from_ns);
    if (g.cpu != 0) continue;
    std::int64_t from = g.from_ns, to = g.to_ns;
    unsigned seen = 1;
    for (unsigned c = 1; c < cpus; ++c) {
      for (const Gap& h : s.gaps) {
        if (h.cpu != c || std::min(to, h.to_ns) - std::max(from, h.from_ns) < s.threshold_ns) continue;
        from = std::max(from, h.from_ns);
        to = std::min(to, h.to_ns);
        ++seen;
        break;
      }
    }
    if (seen == cpus) {
      ++whole;
      longest = std::max(longest, to - from);
    }
  }
  std::printf("summary: %u CPUs at %s, %.0f s, %zu gaps over %.0f ms (longest %.1f ms), %zu on every CPU at once "
              "(longest common %.1f ms)\n",
              cpus, s.realtime.load() == static_cast<int>(cpus) ? "SCHED_FIFO 48" : "ordinary scheduling (not root?)",
              static_cast<double>(s.end_ns - s.start_ns) / 1e9, s.gaps.size(), static_cast<double>(s.threshold_ns) / 1e6,
              static_cast<double>(longest_any) / 1e6, whole, static_cast<double>(longest) / 1e6);
}

long Arg(const char* text, long lo, long hi, const char* name) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > hi) {
    std::fprintf(stderr, "pbxstate-pause-probe: %s: '%s' is not a whole number from %ld to %ld\n", name, text, lo, hi);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: pbxstate-pause-probe SECONDS [THRESHOLD_MS]\n");
    return 2;
  }
  Shared s;
  const long seconds = Arg(argv[1], 1, kMaxSeconds, "SECONDS");
  s.threshold_ns = Arg(argc == 3 ? argv[2] : "5", 2, 1000, "THRESHOLD_MS") * 1'000'000;
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  s.start_ns = NowNs();
  s.end_ns = s.start_ns + seconds * 1'000'000'000;
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < cpus; ++c) threads.emplace_back(Watch, c, &s);
  for (std::thread& t : threads) t.join();
  Summarize(s, cpus);
  return 0;
}
