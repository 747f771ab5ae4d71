// When a change of this server skips the inbox (asterisk/pbxstate_at_once.c): never on the node
// thread (its lock is recursive: a trylock there would succeed and re-enter the engine), and one
// change per batch window. Built without Asterisk's headers.
#include <gtest/gtest.h>

#include <cstdint>
#include <thread>

extern "C" {
#include "pbxstate_at_once.h"
}

namespace {

constexpr std::int64_t kWindowNs = 20'000'000;  // the module's default batch_window_ms

// Whether the thread running `fn` is the node thread, as the gate sees it.
template <typename Fn>
int OnThread(Fn fn) {
  int seen = -1;
  std::thread t([&] { seen = fn(); });
  t.join();
  return seen;
}

TEST(AtOnce, OnlyTheMarkedThreadIsTheNodeThread) {
  EXPECT_EQ(pbxstate_at_once_on_node_thread(), 0);
  EXPECT_EQ(OnThread([] {
              pbxstate_at_once_mark_node_thread();
              return pbxstate_at_once_on_node_thread();
            }),
            1);
  // The mark stays with the thread that made it: not this one, not a new one.
  EXPECT_EQ(pbxstate_at_once_on_node_thread(), 0);
  EXPECT_EQ(OnThread([] { return pbxstate_at_once_on_node_thread(); }), 0);
}

// A thread that holds the node's lock (a reload or unload publishing under it) is refused too;
// the count is per thread, pairs up, and never goes below 0.
TEST(AtOnce, AThreadHoldingTheNodesLockIsSeen) {
  EXPECT_EQ(pbxstate_at_once_holds_lock(), 0);
  pbxstate_at_once_lock_taken();
  pbxstate_at_once_lock_taken();  // recursive: taken again by the same thread
  EXPECT_EQ(pbxstate_at_once_holds_lock(), 1);
  EXPECT_EQ(OnThread([] { return pbxstate_at_once_holds_lock(); }), 0);  // another thread holds none
  pbxstate_at_once_lock_released();
  EXPECT_EQ(pbxstate_at_once_holds_lock(), 1);
  pbxstate_at_once_lock_released();
  EXPECT_EQ(pbxstate_at_once_holds_lock(), 0);
  pbxstate_at_once_lock_released();  // unpaired: stays at 0
  EXPECT_EQ(pbxstate_at_once_holds_lock(), 0);
  pbxstate_at_once_lock_taken();
  EXPECT_EQ(pbxstate_at_once_holds_lock(), 1);
  pbxstate_at_once_lock_released();
}

TEST(AtOnce, OneChangePerWindow) {
  pbxstate_at_once g;
  pbxstate_at_once_reset(&g, kWindowNs);
  const std::int64_t t0 = 5'000'000'000;
  ASSERT_TRUE(pbxstate_at_once_due(&g, t0));  // the first change after a reset
  pbxstate_at_once_taken(&g, t0);
  EXPECT_FALSE(pbxstate_at_once_due(&g, t0));
  EXPECT_FALSE(pbxstate_at_once_due(&g, t0 + kWindowNs - 1));  // within the window: the inbox
  EXPECT_TRUE(pbxstate_at_once_due(&g, t0 + kWindowNs));       // a quiet window later: at once
  // Not taken (the node was busy, or the inbox not idle): the window did not start again.
  EXPECT_TRUE(pbxstate_at_once_due(&g, t0 + kWindowNs + 1));
  pbxstate_at_once_taken(&g, t0 + 3 * kWindowNs);
  EXPECT_FALSE(pbxstate_at_once_due(&g, t0 + 4 * kWindowNs - 1));
  // A new engine (a restart of the node) starts with a fresh gate.
  pbxstate_at_once_reset(&g, kWindowNs);
  EXPECT_TRUE(pbxstate_at_once_due(&g, t0));
}

}  // namespace
