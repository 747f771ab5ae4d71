// Anti-replay state for one sender: the greatest incarnation seen and, in it, a sliding window
// over frame counters, as IPsec's (RFC 4303 section 3.4.3) with a window of kFrames.
//
// A frame (incarnation, counter) is accepted when its incarnation is the greatest seen (a greater
// one starts a fresh window) and its counter is either above every counter seen or within the
// last kFrames below the greatest and not seen before. So frames reordered by up to kFrames
// pass; duplicates, anything older, and frames of an older incarnation are refused.
//
// Memory: kFrames / 8 bytes of bitmap plus two integers, fixed; the engine keeps one per sender,
// at most max_nodes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "pbxstate/stats.h"

namespace pbxstate {

class ReplayWindow {
 public:
  static constexpr std::uint64_t kFrames = 1024;

  // Checks (incarnation, counter) and, when accepted, records it: nullopt. Otherwise
  // kStaleIncarnation (an incarnation older than the greatest seen) or kReplayed (a counter seen
  // before or older than the window); nothing changes then. `incarnation` and `counter` >= 1.
  std::optional<DropReason> Accept(std::uint64_t incarnation, std::uint64_t counter);

  std::uint64_t incarnation() const { return incarnation_; }
  std::uint64_t highest() const { return highest_; }

 private:
  static constexpr std::size_t kWords = kFrames / 64;
  static_assert(kFrames % 64 == 0);
  // Moves every recorded counter `by` places further from the greatest (the greatest grew).
  void Shift(std::uint64_t by);
  bool Test(std::uint64_t age) const { return (bits_[age / 64] >> (age % 64)) & 1u; }
  void Set(std::uint64_t age) { bits_[age / 64] |= std::uint64_t{1} << (age % 64); }

  std::uint64_t incarnation_ = 0;
  std::uint64_t highest_ = 0;           // greatest counter accepted in incarnation_; 0: none yet
  std::array<std::uint64_t, kWords> bits_{};  // bit `age`: counter highest_ - age was accepted
};

}  // namespace pbxstate
