// MailboxIndex: ranges, their hashes, and the moments of a probe (engine/README.md, "Mailbox
// repair"). The exchanges that use them are tested on whole clusters in
// tests/transports/inproc/mailbox_repair_test.cc.
#include "mailbox_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "codec.h"

namespace pbxstate {
namespace {

// Two indexes with the same 500 names and hashes, then one name's hash changed in the second
// (or one name only in the second): the probe's moments recover that name's position, from the
// level-5 range (one bucket) down to the name's own range at level 16.
TEST(MailboxIndex, OneDifferenceIsRecovered) {
  for (const bool missing : {false, true}) {
    MailboxIndex a, b;
    std::uint32_t changed_position = 0;
    for (std::uint32_t id = 0; id < 500; ++id) {
      const std::uint32_t pos = MailboxIndex::Position("box" + std::to_string(id));
      const std::uint64_t hash = 0x9e3779b97f4a7c15ULL * (id + 1);
      if (id == 123) {
        changed_position = pos;
        b.Insert(id, pos, hash ^ 1);
        if (missing) continue;
      } else {
        b.Insert(id, pos, hash);
      }
      a.Insert(id, pos, hash);
    }
    for (std::uint32_t level = codec::kMailboxProbeMinLevel; level <= codec::kMailboxMaxLevel; ++level) {
      const std::uint32_t prefix = level == codec::kMailboxMaxLevel
                                       ? changed_position
                                       : changed_position >> (32 - codec::kMailboxBitsPerLevel * level);
      const auto p = MailboxIndex::OnlyDifference(level, prefix, a.RangeMoments(level, prefix), b.RangeMoments(level, prefix));
      ASSERT_TRUE(p.has_value()) << "level " << level << (missing ? ", missing" : ", changed");
      EXPECT_EQ(*p, changed_position) << "level " << level;
    }
  }
}

// Equal ranges have equal moments; ranges that differ in several positions give no position
// (the quotient falls outside the range) in every one of 200 trials. The entry hashes differ as
// the engine's do (a hash of name and value: another value, another unrelated hash); differences
// all alike (every hash plus 1) would make the quotient the mean of the positions, inside the range.
TEST(MailboxIndex, SeveralDifferencesGiveNoPosition) {
  MailboxIndex a, b;
  constexpr std::uint32_t kLevel = codec::kMailboxProbeMinLevel;
  for (std::uint32_t id = 0; id < 20'000; ++id) {
    const std::uint32_t pos = MailboxIndex::Position("box" + std::to_string(id));
    const std::uint64_t hash = 0xd1b54a32d192ed03ULL * (id + 7);
    a.Insert(id, pos, hash);
    const std::uint64_t other = 0x94d049bb133111ebULL * (hash ^ (hash >> 29));
    b.Insert(id, pos, id % 7 == 0 ? other : hash);  // about 3 differences per level-5 range
  }
  int several = 0;
  for (std::uint32_t prefix = 0; prefix < 1024; ++prefix) {
    const auto ma = a.RangeMoments(kLevel, prefix), mb = b.RangeMoments(kLevel, prefix);
    std::vector<std::uint32_t> ids;
    a.Ids(kLevel, prefix, &ids);
    int differing = 0;
    for (std::uint32_t id : ids) differing += id % 7 == 0;
    if (differing == 0) {
      EXPECT_TRUE(ma.s1 == mb.s1 && ma.s2 == mb.s2) << prefix;
      continue;
    }
    if (differing < 2) continue;
    EXPECT_FALSE(MailboxIndex::OnlyDifference(kLevel, prefix, ma, mb).has_value()) << prefix;
    if (++several == 200) break;
  }
  EXPECT_EQ(several, 200);
}

// With four moments (a pair probe), the one or two positions where two indexes differ come back
// exactly, and three or more give none, over every level-5 range of 20,000 names that differ
// by changed hashes (id % 7) or by names the second lacks (id % 11): about 4 differences a
// range, so every count from 0 to 3 and more occurs many times.
TEST(MailboxIndex, OneOrTwoDifferencesAreRecoveredFromFourMoments) {
  MailboxIndex a, b;
  constexpr std::uint32_t kLevel = codec::kMailboxProbeMinLevel;
  const auto differs = [](std::uint32_t id) { return id % 7 == 0 || id % 11 == 0; };
  std::vector<std::uint32_t> positions;
  for (std::uint32_t id = 0; id < 20'000; ++id) {
    const std::uint32_t pos = MailboxIndex::Position("box" + std::to_string(id));
    positions.push_back(pos);
    const std::uint64_t hash = 0xd1b54a32d192ed03ULL * (id + 7);
    a.Insert(id, pos, hash);
    if (id % 11 == 0) continue;
    b.Insert(id, pos, id % 7 == 0 ? 0x94d049bb133111ebULL * (hash ^ (hash >> 29)) : hash);
  }
  int by_count[4] = {0, 0, 0, 0};
  for (std::uint32_t prefix = 0; prefix < 1024; ++prefix) {
    std::vector<std::uint32_t> ids, want;
    a.Ids(kLevel, prefix, &ids);
    for (std::uint32_t id : ids) {
      if (differs(id)) want.push_back(positions[id]);
    }
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    const std::vector<std::uint32_t> got =
        MailboxIndex::Differences(kLevel, prefix, a.RangeMoments(kLevel, prefix), b.RangeMoments(kLevel, prefix));
    ++by_count[std::min<std::size_t>(want.size(), 3)];
    EXPECT_EQ(got, want.size() <= 2 ? want : std::vector<std::uint32_t>{}) << prefix << ": " << want.size();
  }
  for (int n = 0; n < 4; ++n) EXPECT_GE(by_count[n], 10) << n << " differences";
}

}  // namespace
}  // namespace pbxstate
