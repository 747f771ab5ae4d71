// Which of one origin's sequence numbers a node has covered.
//
// "Covered" means: for every change the origin made with that sequence number, this node holds
// that change or a later one of the same key (or a later one exists above the watermark and
// will be pulled). Frames state the ranges they cover, so coalesced changes leave no false gaps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pbxstate {

class ReceivedRanges {
 public:
  explicit ReceivedRanges(std::size_t max_ranges) : max_ranges_(max_ranges) {}

  // Records that (from, to] is covered. Ranges beyond the watermark are kept, merged, up to
  // max_ranges; past that the highest is forgotten (a later anti-entropy pull covers it again).
  void Add(std::uint64_t from, std::uint64_t to);
  // Every sequence number up to `to` is covered.
  void AdvanceTo(std::uint64_t to) { Add(0, to); }
  void Reset() {
    watermark_ = 0;
    ranges_.clear();
  }

  // All of 1..watermark() are covered.
  std::uint64_t watermark() const { return watermark_; }
  // True when `seq` is covered.
  bool Covers(std::uint64_t seq) const;
  std::size_t range_count() const { return ranges_.size(); }
  // The greatest covered sequence number.
  std::uint64_t highest() const { return ranges_.empty() ? watermark_ : ranges_.back().to; }
  // The bytes the ranges hold on the heap, by capacity (at most max_ranges).
  std::size_t HeldBytes() const { return ranges_.capacity() * sizeof(Range); }

 private:
  struct Range {
    std::uint64_t from, to;  // (from, to]
  };
  void CheckInvariants() const;

  std::size_t max_ranges_;
  std::uint64_t watermark_ = 0;
  std::vector<Range> ranges_;  // sorted, disjoint, non-adjacent, all above watermark_ + 1
};

}  // namespace pbxstate
