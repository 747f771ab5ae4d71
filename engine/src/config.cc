#include <algorithm>
#include <string>
#include <string_view>

#include "codec.h"
#include "frame_auth.h"
#include "pbxstate/config.h"

namespace pbxstate {
namespace {
Status Bad(std::string_view field, const std::string& why) {
  return Status::InvalidArgument("EngineConfig." + std::string(field) + ": " + why);
}
}  // namespace

Status EngineConfig::Validate() const {
  if (node_id == kNoNode) return Bad("node_id", "must be non-zero");
  if (node_id == codec::kMailboxOrigin) return Bad("node_id", "0xFFFFFFFF is reserved");
  if (incarnation == 0) return Bad("incarnation", "must be non-zero");
  if (label.size() > codec::kMaxLabelBytes) return Bad("label", "longer than 64 bytes");
  // Every setting's own range: the table (engine_settings.h) and nothing else.
  for (const EngineSetting& s : EngineSettings()) {
    if (!s.AdmitsValueIn(*this)) {
      const std::string got = s.is_duration() ? std::to_string((this->*s.duration).count()) + "ns"
                                              : std::to_string(this->*s.size);
      return Bad(s.name, "must be within " + s.RangeText() + " (got " + got + ")");
    }
  }
  // Rules between settings.
  // A frame must hold at least one record of the largest kind, or a change could never be sent.
  if (codec::kFrameHeaderBytes + codec::kUpdatesPrefixMaxBytes + codec::MaxRecordBytes(max_key_bytes, max_contact_bytes) >
      max_frame_bytes) {
    return Bad("max_frame_bytes", "too small for one record of max_key_bytes and max_contact_bytes");
  }
  if (relays_per_site > 0 && !node_sites.empty()) {
    if (node_sites.count(node_id) == 0) {
      return Bad("node_sites", "relays_per_site is " + std::to_string(relays_per_site) +
                                   " but node_sites does not give this node's site (node " + std::to_string(node_id) + ")");
    }
    // What a relay that died took with it is repaired by anti-entropy alone.
    if (anti_entropy_interval == 0ms) {
      return Bad("anti_entropy_interval", "must be above 0 with relays_per_site above 0 (anti-entropy repairs what a "
                                          "relay that died dropped)");
    }
    // A relayed frame travels inside a RELAY frame: it must still hold one record.
    if (codec::kFrameHeaderBytes + codec::kRelayOverheadBytes + codec::kUpdatesPrefixMaxBytes +
            codec::MaxRecordBytes(max_key_bytes, max_contact_bytes) >
        max_frame_bytes) {
      return Bad("max_frame_bytes", "too small for one record of max_key_bytes and max_contact_bytes inside a RELAY frame (" +
                                        std::to_string(codec::kRelayOverheadBytes) + " bytes more)");
    }
  }
  if (node_sites.size() > max_nodes) {
    return Bad("node_sites", "lists " + std::to_string(node_sites.size()) + " nodes; at most max_nodes (" +
                                 std::to_string(max_nodes) + ")");
  }
  if (node_sites.count(kNoNode) != 0) return Bad("node_sites", "node 0 is not a node id");
  if (sync_timeout <= sync_retransmit) return Bad("sync_timeout", "must be longer than sync_retransmit");
  if (membership == MembershipSource::kHeartbeat && suspect_after <= heartbeat_interval) {
    return Bad("suspect_after", "must be longer than heartbeat_interval");
  }
  return ValidateClusterKeys(cluster_keys, *this);
}

Duration TombstoneKeep(const EngineConfig& config) {
  const Duration longest_pace = std::max(config.batch_window, config.batch_window_max);
  return 2 * (config.suspect_after + config.departure_grace + config.anti_entropy_interval + config.sync_timeout +
              longest_pace);
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
  // With relays the carried frame and the RELAY frame around it are both sealed.
  if (config.relays_per_site > 0 && !config.node_sites.empty() &&
      codec::kFrameHeaderBytes + 2 * codec::kAuthOverheadBytes + codec::kRelayOverheadBytes +
              codec::kUpdatesPrefixMaxBytes + codec::MaxRecordBytes(config.max_key_bytes, config.max_contact_bytes) >
          config.max_frame_bytes) {
    return Bad("max_frame_bytes", "too small for one record of max_key_bytes and max_contact_bytes in an authenticated "
                                  "frame inside an authenticated RELAY frame");
  }
  return Status::Ok();
}

}  // namespace pbxstate
