// A fast, portable 64-bit hash for digests. Not cryptographic: it detects divergence between
// honest nodes, it does not authenticate anything.
#pragma once

#include <cstdint>
#include <string_view>

namespace pbxstate {

// Mixes a 64-bit value into a well-distributed one (the splitmix64 finaliser).
constexpr std::uint64_t Mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Accumulates fields into one hash. Field boundaries matter: ("ab","c") != ("a","bc").
class Hasher {
 public:
  explicit Hasher(std::uint64_t seed = 0x9e3779b97f4a7c15ULL) : h_(seed) {}
  Hasher& Add(std::uint64_t v) {
    h_ = Mix64(h_ ^ Mix64(v + 0x9e3779b97f4a7c15ULL));
    return *this;
  }
  Hasher& Add(std::string_view s);
  std::uint64_t value() const { return Mix64(h_); }

 private:
  std::uint64_t h_;
};

}  // namespace pbxstate
