// The mailbox set as a tree of ranges for repair (engine/README.md, "Mailbox repair"). Every
// mailbox name has a 32-bit position (a hash of the name); a range at level L is the names whose
// position starts with a 2L-bit prefix (codec::kMailboxBitsPerLevel bits per level). The content
// hash of a range is the XOR of its entries' hashes (the per-entry hash of the whole set's
// running hash), so a write updates it in O(bucket) and a range's hash is equal on two nodes
// exactly when (but for 64-bit collisions) they hold the same values there.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace pbxstate {

class MailboxIndex {
 public:
  // Levels 0..kBucketLevel are answered from per-bucket sums; deeper ranges by scanning their
  // bucket (about entries / kBuckets names). 4^5 = 1,024 buckets, allocated with the first entry.
  static constexpr std::uint32_t kBucketLevel = 5;
  static constexpr std::uint32_t kBuckets = 1u << (2 * kBucketLevel);

  struct RangeStats {
    std::uint64_t hash = 0;  // XOR of the entries' hashes; 0 when empty
    std::uint32_t count = 0;
  };

  // The position of a name in the tree.
  static std::uint32_t Position(std::string_view name);

  // Mailbox `id` (at `position`) got its first value, whose entry hash is `hash`. Once per id.
  void Insert(std::uint32_t id, std::uint32_t position, std::uint64_t hash);
  // Mailbox `id` (inserted) has a new value, whose entry hash is `hash`.
  void Update(std::uint32_t id, std::uint32_t position, std::uint64_t hash);
  // Mailbox `id` (inserted) is no longer held (its removal's tombstone went).
  void Remove(std::uint32_t id, std::uint32_t position);

  // The range `prefix` of `level`: level <= codec::kMailboxMaxLevel, prefix < 4^level.
  RangeStats Stats(std::uint32_t level, std::uint32_t prefix) const;
  // The range's moments (codec::kMailboxMomentPrime): level >= kBucketLevel, so one bucket is
  // scanned. Equal on two nodes when they hold the same values there.
  struct Moments {
    std::uint64_t s1 = 0, s2 = 0, s3 = 0, s4 = 0;  // sums of h, h p, h p^2, h p^3 (codec::kPairProbe)
  };
  Moments RangeMoments(std::uint32_t level, std::uint32_t prefix) const;
  // When two nodes' moments of one range differ in the entries of exactly one position, that
  // position: (s2 - s2') / (s1 - s1') modulo the prime, if it lies in the range. nullopt when
  // it does not (they differ in more than one position; a quotient of several differences lands
  // in a range of level L with probability about 2^(32 - 2L - 48)).
  static std::optional<std::uint32_t> OnlyDifference(std::uint32_t level, std::uint32_t prefix, const Moments& mine,
                                                     const Moments& theirs);
  // With all four moments (codec::RangesMode::kPairProbe; level >= kBucketLevel): the one or two
  // positions at which two nodes' entries of the range differ, ascending, recovered from the
  // moments' differences; empty when they differ in more (or are equal). A false answer for three
  // or more differences has a probability of at most 2^-41 (the comments inside say why).
  static std::vector<std::uint32_t> Differences(std::uint32_t level, std::uint32_t prefix, const Moments& mine,
                                                const Moments& theirs);
  // Appends the ids of the range's mailboxes to `ids`.
  void Ids(std::uint32_t level, std::uint32_t prefix, std::vector<std::uint32_t>* ids) const;
  // The bytes the index holds: its buckets and their entries, by capacity (held_bytes.h).
  std::size_t HeldBytes() const;

 private:
  struct Entry {
    std::uint32_t position;
    std::uint32_t id;
    std::uint64_t hash;
  };
  struct Bucket {
    std::uint64_t hash = 0;
    std::vector<Entry> entries;
  };
  static std::uint32_t BucketOf(std::uint32_t position) { return position >> (32 - 2 * kBucketLevel); }
  std::vector<Bucket> buckets_;  // empty until the first entry
};

}  // namespace pbxstate
