// Hybrid logical clock (Kulkarni et al.): timestamps that follow physical time and never run
// backwards, and that order a write after every write its node had seen.
#pragma once

#include <cstdint>

#include "pbxstate/types.h"

namespace pbxstate {

class HybridClock {
 public:
  // A timestamp for a local event at physical time `wall_ns`. Strictly greater than every
  // timestamp this clock returned or observed before.
  HlcTimestamp Tick(std::int64_t wall_ns);
  // Folds in a timestamp received from another node, so later local ticks order after it.
  void Observe(const HlcTimestamp& remote, std::int64_t wall_ns);
  const HlcTimestamp& last() const { return last_; }

 private:
  HlcTimestamp last_;
};

}  // namespace pbxstate
