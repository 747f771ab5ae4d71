#include "pbxstate/corosync/send_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace pbxstate::corosync {
namespace {

std::vector<std::uint8_t> Bytes(std::size_t n, std::uint8_t fill) { return std::vector<std::uint8_t>(n, fill); }

TEST(SendQueue, KeepsOrderAndCountsBytes) {
  SendQueue q(4, 100);
  EXPECT_TRUE(q.empty());
  ASSERT_TRUE(q.Push(Bytes(10, 1)));
  ASSERT_TRUE(q.Push(Bytes(20, 2)));
  EXPECT_EQ(q.frames(), 2u);
  EXPECT_EQ(q.bytes(), 30u);
  EXPECT_EQ(q.front()[0], 1);
  q.Pop();
  EXPECT_EQ(q.front()[0], 2);
  EXPECT_EQ(q.bytes(), 20u);
  q.Pop();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(q.peak_frames(), 2u);
}

TEST(SendQueue, RefusesBeyondTheFrameBoundAndChangesNothing) {
  SendQueue q(2, 1000);
  ASSERT_TRUE(q.Push(Bytes(1, 1)));
  ASSERT_TRUE(q.Push(Bytes(1, 2)));
  EXPECT_FALSE(q.Push(Bytes(1, 3)));
  EXPECT_EQ(q.frames(), 2u);
  EXPECT_EQ(q.bytes(), 2u);
  q.Pop();
  EXPECT_TRUE(q.Push(Bytes(1, 3)));  // room again after a send
  EXPECT_EQ(q.front()[0], 2);
}

TEST(SendQueue, RefusesBeyondTheByteBoundExactly) {
  SendQueue q(100, 50);
  ASSERT_TRUE(q.Push(Bytes(30, 1)));
  EXPECT_FALSE(q.Push(Bytes(21, 2)));  // 51 > 50
  EXPECT_EQ(q.bytes(), 30u);
  EXPECT_TRUE(q.Push(Bytes(20, 2)));   // exactly 50
  EXPECT_FALSE(q.Push(Bytes(1, 3)));
  EXPECT_TRUE(q.Push(Bytes(0, 3)));  // an empty message costs a frame slot, no bytes
  EXPECT_EQ(q.Clear(), 3u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

}  // namespace
}  // namespace pbxstate::corosync
