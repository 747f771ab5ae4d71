// The MAC on frames: which cluster keys an engine holds, how a frame is sealed with the current
// one, and how a received frame's MAC is checked under the key its key id names.
//
// The MAC is keyed BLAKE2b (libsodium's crypto_generichash_blake2b_salt_personal) with a
// 32-byte key, a 16-byte output and a personalisation string that binds it to this use, over
// every byte of the frame before the MAC: the header (sender node, incarnation, type, key id,
// destination, frame counter) and the body. engine/README.md "Authentication" says why BLAKE2b.
//
// A key's id is derived from the key (one byte of a BLAKE2b hash of it under another
// personalisation), so a key file holds nothing but the key and every node derives the same id.
//
// Thread-safety: a FrameAuthenticator is immutable after construction; its methods are const.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codec.h"
#include "pbxstate/config.h"
#include "pbxstate/stats.h"

namespace pbxstate {

class FrameAuthenticator {
 public:
  // No keys: enabled() is false and Seal/Verify must not be called.
  FrameAuthenticator() = default;
  // `keys` must satisfy ValidateClusterKeys (asserted: sizes); keys[0] seals. The key bytes are
  // copied and wiped from this object's memory when it is destroyed or assigned over.
  explicit FrameAuthenticator(const std::vector<std::string>& keys);
  ~FrameAuthenticator();
  FrameAuthenticator(const FrameAuthenticator&) = delete;
  FrameAuthenticator& operator=(const FrameAuthenticator&) = delete;
  FrameAuthenticator(FrameAuthenticator&& other) noexcept;
  FrameAuthenticator& operator=(FrameAuthenticator&& other) noexcept;

  bool enabled() const { return count_ != 0; }
  std::size_t key_count() const { return count_; }
  std::uint8_t key_id(std::size_t i) const { return keys_[i].id; }

  // Writes into `out` the authenticated form of the complete unauthenticated frame `plain`,
  // for destination `to` (kNoNode: broadcast) with frame counter `counter` (>= 1), MAC included.
  void Seal(std::span<const std::uint8_t> plain, NodeId to, std::uint64_t counter, std::vector<std::uint8_t>* out) const;

  // Checks the MAC of an authenticated frame whose header DecodeHeader accepted: nullopt when it
  // is valid under the key named by its key id; kUnknownKey or kBadMac otherwise. Runs in time
  // independent of where the MAC differs.
  std::optional<DropReason> Verify(const codec::FrameHeader& header) const;

  // The id of `key` (kClusterKeyBytes bytes).
  static std::uint8_t KeyIdOf(std::string_view key);

 private:
  struct Key {
    std::array<std::uint8_t, kClusterKeyBytes> bytes{};
    std::uint8_t id = 0;
  };
  void Wipe();

  std::array<Key, kMaxClusterKeys> keys_{};
  std::size_t count_ = 0;
};

// Initialises libsodium once per process (thread-safe); false when it cannot be used (no
// entropy source), in which case no engine with keys can be created.
bool CryptoReady();

// Computes the MAC of `signed_bytes` under `key` into `mac` (kMacBytes). Exposed for the codec
// tests and the frame corpus generator.
void ComputeFrameMac(std::span<const std::uint8_t> signed_bytes, std::span<const std::uint8_t, kClusterKeyBytes> key,
                     std::span<std::uint8_t, codec::kMacBytes> mac);

}  // namespace pbxstate
