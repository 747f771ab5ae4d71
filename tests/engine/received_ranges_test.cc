#include "received_ranges.h"

#include <gtest/gtest.h>

namespace pbxstate {
namespace {

TEST(ReceivedRanges, ContiguousAdvancesWatermark) {
  ReceivedRanges r(8);
  r.Add(0, 3);
  r.Add(3, 5);
  EXPECT_EQ(r.watermark(), 5u);
  EXPECT_EQ(r.range_count(), 0u);
}

TEST(ReceivedRanges, GapIsRememberedThenFilled) {
  ReceivedRanges r(8);
  r.Add(0, 2);
  r.Add(4, 6);  // 3 and 4 missing
  EXPECT_EQ(r.watermark(), 2u);
  EXPECT_FALSE(r.Covers(3));
  EXPECT_FALSE(r.Covers(4));
  EXPECT_TRUE(r.Covers(5));
  EXPECT_TRUE(r.Covers(6));
  EXPECT_EQ(r.highest(), 6u);
  r.Add(2, 4);
  EXPECT_EQ(r.watermark(), 6u);
  EXPECT_EQ(r.range_count(), 0u);
}

TEST(ReceivedRanges, OverlappingAndAdjacentRangesMerge) {
  ReceivedRanges r(8);
  r.Add(10, 20);
  r.Add(30, 40);
  r.Add(20, 30);  // adjacent on both sides
  EXPECT_EQ(r.range_count(), 1u);
  r.Add(5, 45);
  EXPECT_EQ(r.range_count(), 1u);
  EXPECT_FALSE(r.Covers(5));
  EXPECT_TRUE(r.Covers(6));
  EXPECT_TRUE(r.Covers(45));
  r.AdvanceTo(5);
  EXPECT_EQ(r.watermark(), 45u);
}

TEST(ReceivedRanges, BoundForgetsHighestRanges) {
  ReceivedRanges r(2);
  r.Add(10, 11);
  r.Add(20, 21);
  r.Add(30, 31);  // over the bound: the highest is forgotten
  EXPECT_EQ(r.range_count(), 2u);
  EXPECT_TRUE(r.Covers(21));
  EXPECT_FALSE(r.Covers(31));
  r.Add(5, 6);  // a lower one still fits by pushing out the highest
  EXPECT_EQ(r.range_count(), 2u);
  EXPECT_TRUE(r.Covers(6));
  EXPECT_FALSE(r.Covers(21));
}

TEST(ReceivedRanges, EmptyAndOldRangesAreIgnored) {
  ReceivedRanges r(4);
  r.Add(0, 10);
  r.Add(3, 3);
  r.Add(2, 8);
  EXPECT_EQ(r.watermark(), 10u);
  EXPECT_EQ(r.range_count(), 0u);
  r.Reset();
  EXPECT_EQ(r.watermark(), 0u);
}

}  // namespace
}  // namespace pbxstate
