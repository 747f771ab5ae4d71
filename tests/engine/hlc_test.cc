#include "hlc.h"

#include <gtest/gtest.h>

namespace pbxstate {
namespace {

TEST(HybridClock, FollowsPhysicalTime) {
  HybridClock c;
  EXPECT_EQ(c.Tick(100), (HlcTimestamp{100, 0}));
  EXPECT_EQ(c.Tick(200), (HlcTimestamp{200, 0}));
}

TEST(HybridClock, NeverRunsBackwardsWhenTheClockDoes) {
  HybridClock c;
  c.Tick(1000);
  EXPECT_EQ(c.Tick(500), (HlcTimestamp{1000, 1}));
  EXPECT_EQ(c.Tick(1000), (HlcTimestamp{1000, 2}));
  EXPECT_EQ(c.Tick(1001), (HlcTimestamp{1001, 0}));
}

TEST(HybridClock, OrdersAfterObservedRemoteTime) {
  HybridClock c;
  c.Tick(100);
  c.Observe({5000, 7}, 200);  // a peer whose clock is ahead
  const HlcTimestamp t = c.Tick(300);
  EXPECT_GT(t, (HlcTimestamp{5000, 7}));
  EXPECT_EQ(t.physical_ns, 5000);
}

TEST(HybridClock, ObserveOlderKeepsOwn) {
  HybridClock c;
  c.Tick(1000);
  c.Observe({10, 3}, 900);
  EXPECT_EQ(c.Tick(900), (HlcTimestamp{1000, 2}));
}

TEST(HybridClock, EqualPhysicalTakesMaxLogicalPlusOne) {
  HybridClock c;
  c.Tick(100);          // (100,0)
  c.Observe({100, 5}, 50);
  EXPECT_EQ(c.last(), (HlcTimestamp{100, 6}));
}

}  // namespace
}  // namespace pbxstate
