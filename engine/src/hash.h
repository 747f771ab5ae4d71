// A fast, portable 64-bit hash for digests. Not cryptographic: it detects divergence between
// honest nodes, it does not authenticate anything.
#pragma once

#include <cstdint>
#include <string_view>

#include "pbxstate/random.h"

namespace pbxstate {

// Accumulates fields into one hash, each mixed by Mix64 (pbxstate/random.h, the splitmix64
// finaliser). Field boundaries matter: ("ab","c") != ("a","bc").
class Hasher {
 public:
  explicit Hasher(std::uint64_t seed = kGoldenGamma) : h_(seed) {}
  Hasher& Add(std::uint64_t v) {
    h_ = Mix64(h_ ^ Mix64(v + kGoldenGamma));
    return *this;
  }
  Hasher& Add(std::string_view s);
  std::uint64_t value() const { return Mix64(h_); }

 private:
  std::uint64_t h_;
};

}  // namespace pbxstate
