// Keyed BLAKE2b-512 in compact scalar code (blake2b_compact.h), from RFC 7693, sections 2 and 3.
#include "blake2b_compact.h"

#include <sodium.h>

#include <cstring>

#include "pbxstate/check.h"

namespace pbxstate::blake2b {
namespace {

constexpr std::array<std::uint64_t, 8> kIv = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                                              0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                                              0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

// The message word schedule of the 12 rounds (rounds 10 and 11 repeat 0 and 1).
constexpr std::uint8_t kSigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

// The four columns, then the four diagonals, of the 4x4 working matrix.
constexpr std::uint8_t kLanes[8][4] = {{0, 4, 8, 12}, {1, 5, 9, 13}, {2, 6, 10, 14}, {3, 7, 11, 15},
                                       {0, 5, 10, 15}, {1, 6, 11, 12}, {2, 7, 8, 13}, {3, 4, 9, 14}};

std::uint64_t Rotr(std::uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

std::uint64_t Load64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // little-endian on any host
  return v;
}

// F: one 128-byte block into `h`; `bytes` counts every byte so far (messages here stay far
// below 2^64 bytes: the counter's high word is 0).
void Compress(std::array<std::uint64_t, 8>& h, const std::uint8_t* block, std::uint64_t bytes, bool last) {
  std::uint64_t m[16], v[16];
  for (int i = 0; i < 16; ++i) m[i] = Load64(block + 8 * i);
  for (int i = 0; i < 8; ++i) {
    v[i] = h[i];
    v[i + 8] = kIv[i];
  }
  v[12] ^= bytes;
  if (last) v[14] = ~v[14];
  for (const auto& sigma : kSigma) {
    for (int g = 0; g < 8; ++g) {
      std::uint64_t &a = v[kLanes[g][0]], &b = v[kLanes[g][1]], &c = v[kLanes[g][2]], &d = v[kLanes[g][3]];
      a += b + m[sigma[2 * g]];
      d = Rotr(d ^ a, 32);
      c += d;
      b = Rotr(b ^ c, 24);
      a += b + m[sigma[2 * g + 1]];
      d = Rotr(d ^ a, 16);
      c += d;
      b = Rotr(b ^ c, 63);
    }
  }
  for (int i = 0; i < 8; ++i) h[i] ^= v[i] ^ v[i + 8];
}

}  // namespace

KeyedState Init(std::span<const std::uint8_t> key, std::size_t out_bytes, std::span<const std::uint8_t, kSaltBytes> salt,
                std::span<const std::uint8_t, kPersonalBytes> personal) {
  PBXSTATE_CHECK(!key.empty() && key.size() <= kKeyBytesMax);
  PBXSTATE_CHECK(out_bytes >= 1 && out_bytes <= kOutBytesMax);
  KeyedState s;
  s.out_bytes = static_cast<std::uint8_t>(out_bytes);
  s.h = kIv;
  // The parameter block: digest length, key length, fanout 1, depth 1; salt; personalisation.
  s.h[0] ^= 0x01010000ULL ^ (static_cast<std::uint64_t>(key.size()) << 8) ^ out_bytes;
  s.h[4] ^= Load64(salt.data());
  s.h[5] ^= Load64(salt.data() + 8);
  s.h[6] ^= Load64(personal.data());
  s.h[7] ^= Load64(personal.data() + 8);
  // The key, zero-padded, is the first block; a message follows it (Mac), so it is not the last.
  std::uint8_t block[kBlockBytes] = {};
  std::memcpy(block, key.data(), key.size());
  Compress(s.h, block, kBlockBytes, false);
  sodium_memzero(block, sizeof block);  // the key
  return s;
}

void Mac(const KeyedState& state, std::span<const std::uint8_t> message, std::span<std::uint8_t> out) {
  PBXSTATE_CHECK(!message.empty());
  PBXSTATE_CHECK_GE(out.size(), state.out_bytes);
  std::array<std::uint64_t, 8> h = state.h;
  std::uint64_t bytes = kBlockBytes;  // the key block
  const std::uint8_t* p = message.data();
  std::size_t left = message.size();
  for (; left > kBlockBytes; p += kBlockBytes, left -= kBlockBytes) {
    bytes += kBlockBytes;
    Compress(h, p, bytes, false);
  }
  std::uint8_t last[kBlockBytes] = {};
  std::memcpy(last, p, left);
  Compress(h, last, bytes + left, true);
  for (std::size_t i = 0; i < state.out_bytes; ++i) out[i] = static_cast<std::uint8_t>(h[i / 8] >> (8 * (i % 8)));
}

}  // namespace pbxstate::blake2b
