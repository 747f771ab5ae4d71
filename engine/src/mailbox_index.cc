#include "mailbox_index.h"

#include <cmath>

#include "codec.h"
#include "hash.h"
#include "held_bytes.h"
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

void MailboxIndex::Remove(std::uint32_t id, std::uint32_t position) {
  PBXSTATE_CHECK(!buckets_.empty());
  std::vector<Entry>& entries = buckets_[BucketOf(position)].entries;
  for (Entry& e : entries) {
    if (e.id != id) continue;
    buckets_[BucketOf(position)].hash ^= e.hash;
    e = entries.back();  // order within a bucket does not matter
    entries.pop_back();
    return;
  }
  PBXSTATE_CHECK(false && "MailboxIndex::Remove of an id never inserted");
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

static_assert(MailboxIndex::kBucketLevel == codec::kMailboxProbeMinLevel, "probes are answered from one bucket");

namespace {

constexpr std::uint64_t kPrime = codec::kMailboxMomentPrime;
__extension__ typedef unsigned __int128 Uint128;  // GCC and Clang; the product of two residues

std::uint64_t MulMod(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::uint64_t>(static_cast<Uint128>(a) * b % kPrime);
}

std::uint64_t AddMod(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t r = a + b;  // both below the prime (< 2^48): no overflow
  return r >= kPrime ? r - kPrime : r;
}

std::uint64_t SubMod(std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : a + kPrime - b; }

// a^(p-2) = a^-1 modulo the prime (Fermat), a != 0.
std::uint64_t InverseMod(std::uint64_t a) {
  std::uint64_t result = 1, base = a;
  for (std::uint64_t e = kPrime - 2; e != 0; e >>= 1) {
    if (e & 1) result = MulMod(result, base);
    base = MulMod(base, base);
  }
  return result;
}

}  // namespace

MailboxIndex::Moments MailboxIndex::RangeMoments(std::uint32_t level, std::uint32_t prefix) const {
  CheckRange(level, prefix);
  PBXSTATE_CHECK_GE(level, kBucketLevel);
  Moments m;
  if (buckets_.empty()) return m;
  const std::uint32_t bucket = prefix >> (codec::kMailboxBitsPerLevel * (level - kBucketLevel));
  for (const Entry& e : buckets_[bucket].entries) {
    if (!InRange(e.position, level, prefix)) continue;
    const std::uint64_t h = e.hash % kPrime;
    const std::uint64_t hp = MulMod(h, e.position), hp2 = MulMod(hp, e.position);
    m.s1 = AddMod(m.s1, h);
    m.s2 = AddMod(m.s2, hp);
    m.s3 = AddMod(m.s3, hp2);
    m.s4 = AddMod(m.s4, MulMod(hp2, e.position));
  }
  return m;
}

std::optional<std::uint32_t> MailboxIndex::OnlyDifference(std::uint32_t level, std::uint32_t prefix,
                                                          const Moments& mine, const Moments& theirs) {
  CheckRange(level, prefix);
  const std::uint64_t d1 = SubMod(theirs.s1, mine.s1), d2 = SubMod(theirs.s2, mine.s2);
  if (d1 == 0) return std::nullopt;
  const std::uint64_t p = MulMod(d2, InverseMod(d1));
  if (p > 0xFFFFFFFFu || !InRange(static_cast<std::uint32_t>(p), level, prefix)) return std::nullopt;
  return static_cast<std::uint32_t>(p);
}

std::vector<std::uint32_t> MailboxIndex::Differences(std::uint32_t level, std::uint32_t prefix, const Moments& mine,
                                                     const Moments& theirs) {
  PBXSTATE_CHECK_GE(level, kBucketLevel);
  const std::uint64_t d1 = SubMod(theirs.s1, mine.s1), d2 = SubMod(theirs.s2, mine.s2);
  const std::uint64_t d3 = SubMod(theirs.s3, mine.s3), d4 = SubMod(theirs.s4, mine.s4);
  // One position p: the differences are d1, d1 p, d1 p^2, d1 p^3.
  if (const std::optional<std::uint32_t> p = OnlyDifference(level, prefix, mine, theirs)) {
    if (d3 == MulMod(d2, *p) && d4 == MulMod(d3, *p)) return {*p};
  }
  // Two, p < q with differences a and b: d(k+2) = e1 d(k+1) - e2 dk for e1 = p + q, e2 = p q,
  // so (e1, e2) solves two linear equations whose determinant is a b (p - q)^2, not 0.
  const std::uint64_t det = SubMod(MulMod(d1, d3), MulMod(d2, d2));
  if (det == 0) return {};
  const std::uint64_t inv = InverseMod(det);
  const std::uint64_t e1 = MulMod(SubMod(MulMod(d1, d4), MulMod(d2, d3)), inv);
  const std::uint64_t e2 = MulMod(SubMod(MulMod(d2, d4), MulMod(d3, d3)), inv);
  // In a range of level L, (q - p)^2 < 2^(2 (32 - 2L)) <= 2^44 < the prime, so e1^2 - 4 e2 is
  // that square itself, not a residue of it; anything else (three or more differences: e1 and
  // e2 unrelated numbers) passes with probability 2^-15 (e1) x 2^(2w - 48) (the bound, for w =
  // 32 - 2L) x 2^-w (a square below it): 2^(w - 63), at most 2^-41.
  const std::uint32_t width_bits = 32 - codec::kMailboxBitsPerLevel * level;
  if (e1 >= (std::uint64_t{1} << 33)) return {};
  const std::uint64_t disc = SubMod(MulMod(e1, e1), MulMod(4, e2));
  if (disc == 0 || disc >= (std::uint64_t{1} << (2 * width_bits))) return {};
  auto root = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(disc)));  // exact below 2^52 but for rounding
  while (root * root > disc) --root;
  while ((root + 1) * (root + 1) <= disc) ++root;
  if (root * root != disc || (e1 - root) % 2 != 0 || root > e1) return {};
  const std::uint64_t p = (e1 - root) / 2, q = p + root;
  if (q > 0xFFFFFFFFu || !InRange(static_cast<std::uint32_t>(p), level, prefix) ||
      !InRange(static_cast<std::uint32_t>(q), level, prefix)) {
    return {};
  }
  return {static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(q)};
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

std::size_t MailboxIndex::HeldBytes() const {
  std::size_t n = held_bytes::Of(buckets_);
  for (const Bucket& b : buckets_) n += held_bytes::Of(b.entries);
  return n;
}

}  // namespace pbxstate
