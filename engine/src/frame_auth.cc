#include "frame_auth.h"

#include <sodium.h>

#include <cstring>
#include <utility>

#include "pbxstate/check.h"

namespace pbxstate {
namespace {

// BLAKE2b personalisations (16 bytes each): a MAC or key id computed for one purpose is never
// valid for another, even under the same key.
constexpr unsigned char kFramePersonal[crypto_generichash_blake2b_PERSONALBYTES] = {
    'p', 'b', 'x', 's', 't', 'a', 't', 'e', '-', 'f', 'r', 'a', 'm', 'e', '-', '1'};
constexpr unsigned char kKeyIdPersonal[crypto_generichash_blake2b_PERSONALBYTES] = {
    'p', 'b', 'x', 's', 't', 'a', 't', 'e', '-', 'k', 'e', 'y', 'i', 'd', '-', '1'};
constexpr unsigned char kNoSalt[crypto_generichash_blake2b_SALTBYTES] = {};

static_assert(kClusterKeyBytes >= crypto_generichash_blake2b_KEYBYTES_MIN &&
              kClusterKeyBytes <= crypto_generichash_blake2b_KEYBYTES_MAX);
static_assert(codec::kMacBytes >= crypto_generichash_blake2b_BYTES_MIN && codec::kMacBytes == 16);

}  // namespace

bool CryptoReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

void ComputeFrameMac(std::span<const std::uint8_t> signed_bytes, std::span<const std::uint8_t, kClusterKeyBytes> key,
                     std::span<std::uint8_t, codec::kMacBytes> mac) {
  const int rc = crypto_generichash_blake2b_salt_personal(mac.data(), mac.size(), signed_bytes.data(), signed_bytes.size(),
                                                          key.data(), key.size(), kNoSalt, kFramePersonal);
  PBXSTATE_CHECK_EQ(rc, 0);  // fails only for lengths outside BLAKE2b's bounds, excluded above
  (void)rc;
}

std::uint8_t FrameAuthenticator::KeyIdOf(std::string_view key) {
  PBXSTATE_CHECK_EQ(key.size(), kClusterKeyBytes);
  unsigned char out[crypto_generichash_blake2b_BYTES_MIN];
  const int rc = crypto_generichash_blake2b_salt_personal(out, sizeof out, reinterpret_cast<const unsigned char*>(key.data()),
                                                          key.size(), nullptr, 0, kNoSalt, kKeyIdPersonal);
  PBXSTATE_CHECK_EQ(rc, 0);
  (void)rc;
  return out[0];
}

FrameAuthenticator::FrameAuthenticator(const std::vector<std::string>& keys) {
  PBXSTATE_CHECK_LE(keys.size(), kMaxClusterKeys);
  for (const std::string& k : keys) {
    PBXSTATE_CHECK_EQ(k.size(), kClusterKeyBytes);
    Key& slot = keys_[count_++];
    std::memcpy(slot.bytes.data(), k.data(), kClusterKeyBytes);
    slot.id = KeyIdOf(k);
  }
}

FrameAuthenticator::~FrameAuthenticator() { Wipe(); }

FrameAuthenticator::FrameAuthenticator(FrameAuthenticator&& other) noexcept : keys_(other.keys_), count_(other.count_) {
  other.Wipe();
}

FrameAuthenticator& FrameAuthenticator::operator=(FrameAuthenticator&& other) noexcept {
  if (this != &other) {
    Wipe();
    keys_ = other.keys_;
    count_ = other.count_;
    other.Wipe();
  }
  return *this;
}

void FrameAuthenticator::Wipe() {
  sodium_memzero(keys_.data(), sizeof keys_);
  count_ = 0;
}

void FrameAuthenticator::Seal(std::span<const std::uint8_t> plain, NodeId to, std::uint64_t counter,
                              std::vector<std::uint8_t>* out) const {
  PBXSTATE_CHECK(enabled());
  const Key& key = keys_[0];
  codec::WriteAuthenticatedFrame(plain, key.id, to, counter, out);
  const std::size_t signed_len = out->size() - codec::kMacBytes;
  ComputeFrameMac(std::span<const std::uint8_t>(out->data(), signed_len), key.bytes,
                  std::span<std::uint8_t, codec::kMacBytes>(out->data() + signed_len, codec::kMacBytes));
}

std::optional<DropReason> FrameAuthenticator::Verify(const codec::FrameHeader& header) const {
  PBXSTATE_CHECK(enabled());
  PBXSTATE_CHECK(header.authenticated && header.mac.size() == codec::kMacBytes);
  for (std::size_t i = 0; i < count_; ++i) {
    if (keys_[i].id != header.key_id) continue;
    std::array<std::uint8_t, codec::kMacBytes> expected;
    ComputeFrameMac(header.signed_bytes, keys_[i].bytes, expected);
    if (crypto_verify_16(expected.data(), header.mac.data()) == 0) return std::nullopt;
    return DropReason::kBadMac;
  }
  return DropReason::kUnknownKey;
}

}  // namespace pbxstate
