#include "received_ranges.h"

#include <algorithm>

#include "pbxstate/check.h"

namespace pbxstate {

void ReceivedRanges::Add(std::uint64_t from, std::uint64_t to) {
  if (to <= from || to <= watermark_) return;
  if (from <= watermark_) {
    watermark_ = to;
  } else {
    // Insert, then merge neighbours that touch or overlap.
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), from,
                               [](const Range& r, std::uint64_t f) { return r.to < f; });
    Range merged{from, to};
    auto first = it;
    while (it != ranges_.end() && it->from <= merged.to) {
      merged.from = std::min(merged.from, it->from);
      merged.to = std::max(merged.to, it->to);
      ++it;
    }
    it = ranges_.erase(first, it);
    ranges_.insert(it, merged);
  }
  // Absorb ranges the watermark now reaches.
  std::size_t absorbed = 0;
  while (absorbed < ranges_.size() && ranges_[absorbed].from <= watermark_) {
    watermark_ = std::max(watermark_, ranges_[absorbed].to);
    ++absorbed;
  }
  ranges_.erase(ranges_.begin(), ranges_.begin() + static_cast<std::ptrdiff_t>(absorbed));
  while (ranges_.size() > max_ranges_) ranges_.pop_back();
  CheckInvariants();
}

bool ReceivedRanges::Covers(std::uint64_t seq) const {
  if (seq <= watermark_) return true;
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), seq,
                             [](const Range& r, std::uint64_t s) { return r.to < s; });
  return it != ranges_.end() && it->from < seq && seq <= it->to;
}

void ReceivedRanges::CheckInvariants() const {
  // Always on (pbxstate/check.h): at most max_ranges short steps per Add.
  PBXSTATE_CHECK_LE(ranges_.size(), max_ranges_);
  std::uint64_t prev = watermark_;
  for (const Range& r : ranges_) {
    PBXSTATE_CHECK_GT(r.from, prev);  // disjoint, non-adjacent, above the watermark
    PBXSTATE_CHECK_GT(r.to, r.from);
    prev = r.to;
  }
}

}  // namespace pbxstate
