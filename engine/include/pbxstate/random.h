// The project's one pseudo-random generator: SplitMix64 (Steele, Lea and Flood; Vigna's
// constants) and helpers that give the same values on every platform and standard library
// (std::uniform_*_distribution does not promise that), so that a seed replays the same run
// everywhere: the inproc network and its Python bindings, ns-3 worlds, the CPG host's
// Env::Random, scenario keys, the fuzzers and the test tools. Not cryptographic (cluster keys
// come from libsodium).
#pragma once

#include <cstdint>

namespace pbxstate {

// Stafford's mix13 finaliser, as in SplitMix64: a bijection on 64-bit values. Also the engine's
// digest hash mixer (src/hash.h).
constexpr std::uint64_t Mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// SplitMix64's increment (2^64 / golden ratio).
inline constexpr std::uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// -Wpedantic accepts the GCC/Clang 128-bit integer only behind __extension__.
__extension__ using Uint128 = unsigned __int128;

class SplitMix64 {
 public:
  explicit constexpr SplitMix64(std::uint64_t seed = 0) : state_(seed) {}

  // A seed for an independent stream, derived from this generator's seed and `stream` without
  // advancing it.
  static constexpr std::uint64_t Derive(std::uint64_t seed, std::uint64_t stream) {
    return Mix64(seed ^ Mix64(stream + 0x632be59bd9b4e019ULL));
  }

  constexpr std::uint64_t Next() {
    state_ += kGoldenGamma;
    return Mix64(state_);
  }

  // Uniform in [0, n); 0 when n == 0. Lemire's multiply-shift (bias below 2^-64 * n).
  std::uint64_t Below(std::uint64_t n) {
    if (n == 0) return 0;
    return static_cast<std::uint64_t>((static_cast<Uint128>(Next()) * n) >> 64);
  }

  // Uniform in [lo, hi]; requires lo <= hi.
  std::int64_t Between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(Below(static_cast<std::uint64_t>(hi - lo) + 1));
  }

  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // True with probability p (p <= 0: never, p >= 1: always). Draws a number even when p is 0 or
  // 1, so that a probability's value never shifts the stream of later draws.
  bool Chance(double p) { return Unit() < p; }

 private:
  std::uint64_t state_;
};

}  // namespace pbxstate
