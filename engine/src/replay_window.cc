#include "replay_window.h"

#include "pbxstate/check.h"

namespace pbxstate {

void ReplayWindow::Shift(std::uint64_t by) {
  PBXSTATE_CHECK(by != 0);
  if (by < 64) {
    // The usual case (the next frame, or a few lost): every word takes the top bits of the one
    // below. Kept rolled: this runs for every frame received, mostly with cold caches, and the
    // general loop below, unrolled by the compiler, spans 24 cache lines of code.
    const auto bits = static_cast<unsigned>(by);
#pragma GCC unroll 1
    for (std::size_t w = kWords - 1; w > 0; --w) bits_[w] = (bits_[w] << bits) | (bits_[w - 1] >> (64 - bits));
    bits_[0] <<= bits;
    return;
  }
  if (by >= kFrames) {
    bits_.fill(0);
    return;
  }
  const std::size_t words = static_cast<std::size_t>(by / 64);
  const unsigned bits = static_cast<unsigned>(by % 64);
  for (std::size_t w = kWords; w-- > 0;) {
    std::uint64_t v = 0;
    if (w >= words) {
      v = bits_[w - words] << bits;
      if (bits != 0 && w >= words + 1) v |= bits_[w - words - 1] >> (64 - bits);
    }
    bits_[w] = v;
  }
}

std::optional<DropReason> ReplayWindow::Accept(std::uint64_t incarnation, std::uint64_t counter) {
  PBXSTATE_CHECK(incarnation != 0 && counter != 0);
  if (incarnation < incarnation_) return DropReason::kStaleIncarnation;
  if (incarnation > incarnation_) {
    // A restart: the sender counts from 1 again in its new incarnation.
    incarnation_ = incarnation;
    highest_ = 0;
    bits_.fill(0);
  }
  if (counter > highest_) {
    Shift(counter - highest_);
    highest_ = counter;
    Set(0);
    return std::nullopt;
  }
  const std::uint64_t age = highest_ - counter;
  if (age >= kFrames || Test(age)) return DropReason::kReplayed;
  Set(age);
  return std::nullopt;
}

}  // namespace pbxstate
