#include <string>

#include "codec.h"
#include "frame_auth.h"
#include "pbxstate/config.h"

namespace pbxstate {
namespace {
Status Bad(const char* field, const std::string& why) {
  return Status::InvalidArgument(std::string("EngineConfig.") + field + ": " + why);
}
}  // namespace

Status EngineConfig::Validate() const {
  if (node_id == kNoNode) return Bad("node_id", "must be non-zero");
  if (node_id == codec::kMailboxOrigin) return Bad("node_id", "0xFFFFFFFF is reserved");
  if (incarnation == 0) return Bad("incarnation", "must be non-zero");
  if (label.size() > codec::kMaxLabelBytes) return Bad("label", "longer than 64 bytes");
  if (batch_window < 0ms) return Bad("batch_window", "must not be negative");
  if (max_batch_changes == 0) return Bad("max_batch_changes", "must be at least 1");
  if (max_frame_bytes < codec::kMinFrameBytes || max_frame_bytes > codec::kMaxFrameBytes) {
    return Bad("max_frame_bytes", "must be within [" + std::to_string(codec::kMinFrameBytes) + ", " +
                                      std::to_string(codec::kMaxFrameBytes) + "]");
  }
  if (max_key_bytes == 0 || max_key_bytes > codec::kMaxKeyBytes) {
    return Bad("max_key_bytes", "must be within [1, " + std::to_string(codec::kMaxKeyBytes) + "]");
  }
  if (max_contact_bytes > codec::kMaxContactBytes) {
    return Bad("max_contact_bytes", "must be at most " + std::to_string(codec::kMaxContactBytes));
  }
  // A frame must hold at least one record of the largest kind, or a change could never be sent.
  if (codec::kFrameHeaderBytes + codec::kUpdatesPrefixMaxBytes + codec::MaxRecordBytes(max_key_bytes, max_contact_bytes) >
      max_frame_bytes) {
    return Bad("max_frame_bytes", "too small for one record of max_key_bytes and max_contact_bytes");
  }
  if (send_retry_interval <= 0ms) return Bad("send_retry_interval", "must be positive");
  if (max_send_queue_frames == 0) return Bad("max_send_queue_frames", "must be at least 1");
  if (anti_entropy_interval < 0ms) return Bad("anti_entropy_interval", "must not be negative (0 switches it off)");
  if (sync_window_pages == 0 || sync_window_pages > 1024) return Bad("sync_window_pages", "must be within [1, 1024]");
  if (max_sync_pulls == 0) return Bad("max_sync_pulls", "must be at least 1");
  if (max_sync_serves == 0) return Bad("max_sync_serves", "must be at least 1");
  if (sync_retransmit <= 0ms) return Bad("sync_retransmit", "must be positive");
  if (sync_timeout <= sync_retransmit) return Bad("sync_timeout", "must be longer than sync_retransmit");
  if (departure_grace < 0ms) return Bad("departure_grace", "must not be negative");
  if (membership == MembershipSource::kHeartbeat) {
    if (heartbeat_interval <= 0ms) return Bad("heartbeat_interval", "must be positive");
    if (suspect_after <= heartbeat_interval) return Bad("suspect_after", "must be longer than heartbeat_interval");
  }
  if (max_nodes < 1 || max_nodes > codec::kMaxNodes) {
    return Bad("max_nodes", "must be within [1, " + std::to_string(codec::kMaxNodes) + "]");
  }
  if (max_entries == 0) return Bad("max_entries", "must be at least 1");
  if (max_registration_ttl <= 0ms) return Bad("max_registration_ttl", "must be positive");
  if (max_received_ranges == 0) return Bad("max_received_ranges", "must be at least 1");
  if (max_clock_skew <= 0ms) return Bad("max_clock_skew", "must be positive");
  if (join_digest_holdoff < 0ms) return Bad("join_digest_holdoff", "must not be negative");
  if (join_digest_fanout == 0) return Bad("join_digest_fanout", "must be at least 1");
  return ValidateClusterKeys(cluster_keys, *this);
}

Status ValidateClusterKeys(const std::vector<std::string>& keys, const EngineConfig& config) {
  if (keys.size() > kMaxClusterKeys) {
    return Bad("cluster_keys", "holds " + std::to_string(keys.size()) + " keys; at most " +
                                   std::to_string(kMaxClusterKeys) + " (the current one and the previous one)");
  }
  if (keys.empty()) return Status::Ok();
  if (!CryptoReady()) return Bad("cluster_keys", "libsodium cannot be initialised (sodium_init failed)");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].size() != kClusterKeyBytes) {
      return Bad("cluster_keys", "key " + std::to_string(i) + " is " + std::to_string(keys[i].size()) +
                                     " bytes; expected exactly " + std::to_string(kClusterKeyBytes));
    }
  }
  if (keys.size() == 2) {
    if (keys[0] == keys[1]) return Bad("cluster_keys", "key 1 is the same as key 0");
    if (FrameAuthenticator::KeyIdOf(keys[0]) == FrameAuthenticator::KeyIdOf(keys[1])) {
      return Bad("cluster_keys", "keys 0 and 1 have the same key id (1 chance in 256): generate another key");
    }
  }
  if (codec::kFrameHeaderBytes + codec::kAuthOverheadBytes + codec::kUpdatesPrefixMaxBytes +
          codec::MaxRecordBytes(config.max_key_bytes, config.max_contact_bytes) >
      config.max_frame_bytes) {
    return Bad("max_frame_bytes", "too small for one record of max_key_bytes and max_contact_bytes in an authenticated "
                                  "frame (" + std::to_string(codec::kAuthOverheadBytes) + " bytes more)");
  }
  return Status::Ok();
}

}  // namespace pbxstate
