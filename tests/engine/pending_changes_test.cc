#include "pending_changes.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace pbxstate {
namespace {

std::vector<PendingChanges::Item> Items(const PendingChanges& p) { return {p.begin(), p.end()}; }

TEST(PendingChanges, EachKeyOnceInChangeOrderByKindAndId) {
  PendingChanges p;
  EXPECT_TRUE(p.Add(EntryKind::kMailbox, 7));
  EXPECT_TRUE(p.Add(EntryKind::kDevice, 7));  // the same id of another kind is another key
  EXPECT_FALSE(p.Add(EntryKind::kMailbox, 7));
  EXPECT_TRUE(p.Add(EntryKind::kRegistration, 1));
  const std::vector<PendingChanges::Item> want{
      {EntryKind::kMailbox, 7}, {EntryKind::kDevice, 7}, {EntryKind::kRegistration, 1}};
  EXPECT_EQ(Items(p), want);
  EXPECT_TRUE(p.Contains(EntryKind::kDevice, 7));
  EXPECT_FALSE(p.Contains(EntryKind::kDevice, 1));
}

// Past kScanned held keys the index answers: the keys held before it was built, and after, are
// each found once, and a burst's duplicates are refused on both sides of the switch.
TEST(PendingChanges, ABurstPastTheScannedBoundKeepsEveryKeyOnce) {
  PendingChanges p;
  const std::uint32_t n = 4 * PendingChanges::kScanned;
  for (std::uint32_t round = 0; round < 2; ++round) {
    for (std::uint32_t id = 0; id < n; ++id) EXPECT_EQ(p.Add(EntryKind::kDevice, id), round == 0) << id;
  }
  ASSERT_EQ(p.size(), n);
  for (std::uint32_t id = 0; id < n; ++id) {
    EXPECT_TRUE(p.Contains(EntryKind::kDevice, id)) << id;
    EXPECT_FALSE(p.Contains(EntryKind::kMailbox, id)) << id;
  }
  std::uint32_t next = 0;
  for (const auto& [kind, id] : p) EXPECT_EQ(id, next++);
}

TEST(PendingChanges, ClearForgetsEverythingAndScansAgain) {
  PendingChanges p;
  for (std::uint32_t id = 0; id < 3 * PendingChanges::kScanned; ++id) p.Add(EntryKind::kMailbox, id);
  const std::size_t bytes_of_burst = p.HeldBytes();
  p.Clear();
  EXPECT_TRUE(p.empty());
  EXPECT_FALSE(p.Contains(EntryKind::kMailbox, 0));
  EXPECT_TRUE(p.Add(EntryKind::kMailbox, 0));
  EXPECT_FALSE(p.Add(EntryKind::kMailbox, 0));
  EXPECT_EQ(p.size(), 1u);
  EXPECT_GT(bytes_of_burst, 0u);
  EXPECT_LE(p.HeldBytes(), bytes_of_burst);
}

}  // namespace
}  // namespace pbxstate
