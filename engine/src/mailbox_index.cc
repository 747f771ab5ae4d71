#include "mailbox_index.h"

#include "codec.h"
#include "hash.h"
#include "pbxstate/check.h"

namespace pbxstate {

namespace {

// Whether `position` lies in range `prefix` of `level` (level 0: everything).
bool InRange(std::uint32_t position, std::uint32_t level, std::uint32_t prefix) {
  if (level == 0) return true;
  return (position >> (32 - codec::kMailboxBitsPerLevel * level)) == prefix;
}

void CheckRange(std::uint32_t level, std::uint32_t prefix) {
  PBXSTATE_CHECK_LE(level, codec::kMailboxMaxLevel);
  PBXSTATE_CHECK(level == codec::kMailboxMaxLevel || prefix < (1u << (codec::kMailboxBitsPerLevel * level)));
}

}  // namespace

std::uint32_t MailboxIndex::Position(std::string_view name) {
  return static_cast<std::uint32_t>(Hasher(0x6d61696c626f7865ULL).Add(name).value() >> 32);
}

void MailboxIndex::Insert(std::uint32_t id, std::uint32_t position, std::uint64_t hash) {
  if (buckets_.empty()) buckets_.resize(kBuckets);
  Bucket& b = buckets_[BucketOf(position)];
  b.entries.push_back({position, id, hash});
  b.hash ^= hash;
}

void MailboxIndex::Update(std::uint32_t id, std::uint32_t position, std::uint64_t hash) {
  PBXSTATE_CHECK(!buckets_.empty());
  Bucket& b = buckets_[BucketOf(position)];
  for (Entry& e : b.entries) {
    if (e.id != id) continue;
    b.hash ^= e.hash ^ hash;
    e.hash = hash;
    return;
  }
  PBXSTATE_CHECK(false && "MailboxIndex::Update of an id never inserted");
}

MailboxIndex::RangeStats MailboxIndex::Stats(std::uint32_t level, std::uint32_t prefix) const {
  CheckRange(level, prefix);
  RangeStats s;
  if (buckets_.empty()) return s;
  if (level <= kBucketLevel) {
    const std::uint32_t shift = codec::kMailboxBitsPerLevel * (kBucketLevel - level);
    for (std::uint32_t i = prefix << shift; i < (prefix + 1) << shift; ++i) {
      s.hash ^= buckets_[i].hash;
      s.count += static_cast<std::uint32_t>(buckets_[i].entries.size());
    }
    return s;
  }
  const std::uint32_t bucket = prefix >> (codec::kMailboxBitsPerLevel * (level - kBucketLevel));
  for (const Entry& e : buckets_[bucket].entries) {
    if (!InRange(e.position, level, prefix)) continue;
    s.hash ^= e.hash;
    ++s.count;
  }
  return s;
}

void MailboxIndex::Ids(std::uint32_t level, std::uint32_t prefix, std::vector<std::uint32_t>* ids) const {
  CheckRange(level, prefix);
  if (buckets_.empty()) return;
  std::uint32_t first = 0, last = 0;  // buckets [first, last]
  if (level <= kBucketLevel) {
    const std::uint32_t shift = codec::kMailboxBitsPerLevel * (kBucketLevel - level);
    first = prefix << shift;
    last = ((prefix + 1) << shift) - 1;
  } else {
    first = last = prefix >> (codec::kMailboxBitsPerLevel * (level - kBucketLevel));
  }
  for (std::uint32_t i = first; i <= last; ++i) {
    for (const Entry& e : buckets_[i].entries) {
      if (InRange(e.position, level, prefix)) ids->push_back(e.id);
    }
  }
}

}  // namespace pbxstate
