// Keyed BLAKE2b-512 (RFC 7693) with a 16-byte salt and personalisation, in portable scalar code
// of about 1 KiB, for the MAC of short frames (frame_auth.h). libsodium's implementation (the
// reference for this one: equal output, tested in auth_test.cc) picks an AVX2 compression whose
// code is several times larger: on the latency path, where a lone change's frame is sealed and
// verified after tens of milliseconds of quiet, its first call pays cold caches and cold vector
// units. Measured on the project's VM: after a 50 ms sleep, libsodium 6.2 us median, this code
// 1.7 us; warm, 0.37 us and 0.78 us (engine/README.md, "One change's cost").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace pbxstate::blake2b {

inline constexpr std::size_t kBlockBytes = 128;
inline constexpr std::size_t kKeyBytesMax = 64;
inline constexpr std::size_t kOutBytesMax = 64;
inline constexpr std::size_t kSaltBytes = 16;
inline constexpr std::size_t kPersonalBytes = 16;

// BLAKE2b after its key block: what every message under one key, salt, personalisation and
// output length starts from. Plain data; copy it per message.
struct KeyedState {
  std::array<std::uint64_t, 8> h{};
  std::uint8_t out_bytes = 0;
};

// The state for `key` (1..kKeyBytesMax bytes) and an output of `out_bytes` (1..kOutBytesMax),
// with the key block absorbed (asserted bounds).
KeyedState Init(std::span<const std::uint8_t> key, std::size_t out_bytes,
                std::span<const std::uint8_t, kSaltBytes> salt, std::span<const std::uint8_t, kPersonalBytes> personal);

// BLAKE2b of `message` (not empty: the key block was absorbed as a non-final one) under the
// state's key: state.out_bytes bytes into `out` (at least that long). Equal to libsodium's
// crypto_generichash_blake2b_salt_personal with the same inputs.
void Mac(const KeyedState& state, std::span<const std::uint8_t> message, std::span<std::uint8_t> out);

}  // namespace pbxstate::blake2b
