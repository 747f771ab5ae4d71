// The latency trace's ring (pbxstate/latency_trace.h); compiled only with PBXSTATE_LATENCY_TRACE.
#include "pbxstate/latency_trace.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>

namespace {

struct Stamp {
  std::int64_t ns;
  std::uint32_t thread;
  std::uint32_t stage;
};

// Zero-initialised storage: no constructor runs at load, so a stamp made by any thread at any
// time finds the ring ready.
Stamp g_ring[PBXSTATE_TRACE_CAPACITY];
std::atomic<std::uint64_t> g_next{0};

std::uint32_t ThreadId() {
  thread_local const std::uint32_t id = static_cast<std::uint32_t>(::syscall(SYS_gettid));
  return id;
}

}  // namespace

extern "C" {

void pbxstate_trace_stamp(pbxstate_trace_stage stage) {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  Stamp& s = g_ring[g_next.fetch_add(1, std::memory_order_relaxed) % PBXSTATE_TRACE_CAPACITY];
  s.ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  s.thread = ThreadId();
  s.stage = static_cast<std::uint32_t>(stage);
}

const char* pbxstate_trace_stage_name(pbxstate_trace_stage stage) {
#define PBXSTATE_TRACE_NAME_(e, name) name,
  static const char* const kNames[] = {PBXSTATE_TRACE_STAGES(PBXSTATE_TRACE_NAME_)};
#undef PBXSTATE_TRACE_NAME_
  const auto i = static_cast<unsigned>(stage);
  return i < PBXSTATE_TRACE_STAGE_COUNT ? kNames[i] : "?";
}

std::size_t pbxstate_trace_dump(void (*line)(void* user, const char* text), void* user) {
  const std::uint64_t end = g_next.load(std::memory_order_acquire);
  const std::uint64_t begin = end > PBXSTATE_TRACE_CAPACITY ? end - PBXSTATE_TRACE_CAPACITY : 0;
  for (std::uint64_t i = begin; i < end; ++i) {
    const Stamp& s = g_ring[i % PBXSTATE_TRACE_CAPACITY];
    char text[96];
    std::snprintf(text, sizeof text, "%lld %u %s", static_cast<long long>(s.ns), s.thread,
                  pbxstate_trace_stage_name(static_cast<pbxstate_trace_stage>(s.stage)));
    line(user, text);
  }
  return static_cast<std::size_t>(end - begin);
}

void pbxstate_trace_clear(void) {
  // Stamps live between `begin` and g_next: moving nothing but the counter would replay old
  // slots, so the slots are zeroed too; the counter restarts at 0.
  for (Stamp& s : g_ring) s = Stamp{};
  g_next.store(0, std::memory_order_release);
}

}  // extern "C"
