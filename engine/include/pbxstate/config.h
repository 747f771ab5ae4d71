// Everything an Engine can be tuned with. Every duration carries its unit in its type; every
// bound is here, with what happens when it is reached. The obligations are docs/ARCHITECTURE.md's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/engine_settings.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate {

using namespace std::chrono_literals;

// Bytes of one cluster key (a key file holds one; LoadClusterKey in cluster_key.h reads it).
inline constexpr std::size_t kClusterKeyBytes = 32;
// Keys an engine accepts at once: the current one and, while a rotation is under way, one more.
inline constexpr std::size_t kMaxClusterKeys = 2;

// Where the engine learns who is in the cluster.
enum class MembershipSource {
  kTransport,  // the host calls Engine::OnMembership (Corosync CPG configuration changes)
  kHeartbeat,  // the engine's own heartbeat failure detector (UDP, ns-3, WAN links)
};

struct EngineConfig {
  // --- identity ---
  NodeId node_id = kNoNode;      // required, non-zero, unique in the cluster
  std::uint64_t incarnation = 0; // required, non-zero; must grow every time the node starts
                                 // (hosts use the wall clock in microseconds at start-up)
  std::string label;             // host-defined name carried to peers (the Asterisk EID); <= 64 bytes

  MembershipSource membership = MembershipSource::kHeartbeat;

  // --- live propagation (obligation 1) ---
  // 0: every local change is sent at once, one frame per change, whatever the transport is
  // doing. Otherwise batching adapts to the load and to the transport (env.h, Env::SendBacklog):
  // a change still goes out at once when the transport is idle and no update left in the last
  // window; otherwise it is held, repeated changes of one key collapse into the latest, and the
  // held changes leave together, several per frame, when the transport is idle and a window has
  // passed since the last flush. This is the longest a change is held (counted from the first
  // held one): an upper bound, not a delay every change pays.
  Duration batch_window = 0ms;
  // Under sustained load (every flush carries held changes) the pacing between flushes doubles,
  // from batch_window up to this, so that a steady stream puts fewer, fuller messages on the
  // transport (corosync's CPU follows its messages per second, not their size); it falls back to
  // batch_window at the first change sent at once. batch_window stays the quiet gap: a change
  // made when no change was made and nothing flushed for batch_window goes out at once (the
  // transport idle), whatever the pacing had grown to, and held changes leave once such a gap
  // follows the last of them. So a lone change is as fast as with batch_window alone; a change
  // in a stream waits at most this long. At or below batch_window (0, the default): the pacing
  // stays at batch_window.
  Duration batch_window_max = 0ms;
  // A pending batch is flushed at once when it holds this many changed keys.
  std::size_t max_batch_changes = 4096;
  // Largest frame the engine builds. Must not exceed what the transport carries.
  std::size_t max_frame_bytes = 1400;
  // After a Broadcast/Unicast answered kTryAgain, the engine retries after this long.
  Duration send_retry_interval = 10ms;
  // Frames waiting for the transport after kTryAgain. At the bound, the oldest waiting frame is
  // dropped and counted (send_queue_overflow); anti-entropy repairs what it carried.
  std::size_t max_send_queue_frames = 1024;

  // --- anti-entropy (obligation 2) ---
  // Every interval the node offers its digest to one peer whose digest differs (or a random
  // one). 0 switches the periodic exchange off (reliable ordered transports); joins and heals
  // still exchange digests once.
  Duration anti_entropy_interval = 1000ms;
  // When nodes join (or a partition heals), every node broadcasts its digest once so each side
  // pulls what it lacks; gains within this long share one broadcast.
  Duration join_digest_holdoff = 100ms;
  // With heartbeats (large UDP clusters), only about this many nodes send a newcomer their
  // digest, each deciding from a hash of (newcomer, itself). Everyone sending would cost
  // N(N-1) digests at a cold start; anti-entropy covers the rest. With transport membership
  // (CPG, small clusters, anti-entropy possibly off) every node sends. A node that lost its
  // donor mid catch-up also asks this many peers for their digest.
  std::size_t join_digest_fanout = 3;

  // --- catch-up (obligation 3) ---
  std::size_t sync_window_pages = 8;      // pages in flight per catch-up session
  // Sessions this node pulls at once; where a unicast reaches every node, as many again that join
  // a shared stream it overheard (they cost no donor or ring more: engine/README.md, "Following a stream").
  std::size_t max_sync_pulls = 4;
  std::size_t max_sync_serves = 4;        // sessions still sending this node serves at once; more are refused
  // The donor's first retransmit timeout for unacknowledged pages. It then adapts to measured
  // round trips (at least twice the smoothed round trip, at least a fifth of this value) and
  // backs off on timeouts, with a window that shrinks under loss, as TCP's does.
  Duration sync_retransmit = 250ms;
  Duration sync_timeout = 3000ms;         // a session without progress for this long is abandoned

  // --- departure (obligation 4) ---
  // How long a departed node's contributions keep counting. 0: they stop at once.
  Duration departure_grace = 0ms;

  // --- failure detector (obligation 5), used with MembershipSource::kHeartbeat ---
  Duration heartbeat_interval = 500ms;
  Duration suspect_after = 2000ms;  // no frame from a node for this long: it has departed

  // --- bounds on input (obligation 6) ---
  std::size_t max_key_bytes = 255;        // device, mailbox and AOR names
  std::size_t max_contact_bytes = 512;    // a contact's URI, path and user agent together
  // Contacts this node holds per AOR (PJSIP's max_contacts). SetRegistration of a new contact
  // when the AOR already has this many live contacts here replaces the one that expires first
  // (the smallest contact URI among equal expiries), as PJSIP's remove_existing does: a phone
  // that re-registers from a new address is never refused. 1 is one contact per (AOR, node).
  // Contacts from peers are not counted against it (only max_entries bounds them), so nodes
  // configured differently still converge.
  std::size_t max_contacts_per_aor = 8;
  std::size_t max_nodes = 1024;           // nodes tracked, this one included; frames from more are dropped
  // Entries held in all (device contributions, mailboxes, registrations and their tombstones);
  // local changes for a new key beyond it are refused. It bounds the names held too: a name no
  // entry refers to is freed (engine/README.md, "Names").
  std::size_t max_entries = 16u << 20;
  Duration max_registration_ttl = 24h;    // expiry further out is refused
  std::size_t max_received_ranges = 64;   // out-of-order ranges remembered per origin
  // A mailbox write stamped further than this ahead of the local clock is refused (kMalformed):
  // otherwise one node with a wrong clock would win every later write.
  Duration max_clock_skew = 60s;

  // --- site-aware dissemination (engine/README.md "Sites and relays") ---
  // 0 (or node_sites, below, empty): a frame for everyone (UPDATES, HEARTBEAT) is the host's
  // Broadcast. Otherwise it is sent once per site (a remote site's copy crosses the WAN once): by
  // Unicast to that site's relay, one of the relays_per_site lowest-id live nodes there chosen by
  // a hash of the sender, which passes it on to every other live node of its site in RELAY
  // frames. Anti-entropy repairs what a relay that died took with it.
  std::size_t relays_per_site = 0;
  // How long a relay holds the frames it passes on before sending them, several in one RELAY
  // frame per destination (counted from the first held one; a full frame leaves at once). 0:
  // every frame is passed on when it arrives.
  Duration relay_window = 0ms;

  // --- authentication (obligation 6; engine/README.md "Authentication") ---
  // Empty: frames carry no MAC (byte for byte the unauthenticated format), the engine logs at
  // Start() that traffic is unauthenticated, and frames that carry a MAC are refused
  // (auth_not_configured). Otherwise 1 or kMaxClusterKeys distinct keys of exactly
  // kClusterKeyBytes bytes (raw bytes, not text): every frame this node sends carries a MAC under
  // cluster_keys[0]; a received frame must carry a valid MAC under one of them and must not be a
  // replay. A frame with a MAC is kAuthOverheadBytes (engine/README.md) longer; max_frame_bytes
  // still bounds the whole frame. Engine::SetClusterKeys changes them on a running engine.
  std::vector<std::string> cluster_keys;

  // --- sites (relays_per_site above; after cluster_keys: the numeric rows stay together) ---
  // The site of every node of the cluster, this one included (a site is any number the host
  // chooses: a data centre, a WAN region). Empty: every node is a site of its own, so relays
  // change nothing. Hosts that read it as text take site_map.h's form (ParseSiteMap there).
  // Every node must be given the same map, relays_per_site and relay_window.
  std::map<NodeId, std::uint32_t> node_sites;

  // Checks every setting against its range in the table (engine_settings.h) and the values above
  // against each other; the message names the field ("EngineConfig.<name>: why").
  Status Validate() const;
};

// The unit of an engine setting (engine_settings.h).
enum class SettingUnit {
  kMilliseconds,  // a Duration member; hosts that take integers carry whole milliseconds
  kCount,         // a std::size_t member
  kBytes,         // a std::size_t member
};
// "ms", "count", "bytes".
std::string_view SettingUnitName(SettingUnit unit);

// One row of the table of engine settings (engine_settings.h), with the EngineConfig member it
// names. Every reader and writer of engine settings iterates EngineSettings() instead of naming
// settings one by one.
struct EngineSetting {
  std::string_view name;  // EngineConfig's member: the scenario's and Python's key
  std::string_view key;   // name, or name + "_ms" for durations: pbxstate_config's field and the
                          // key of pbxstated's and res_pbxstate's configuration files
  SettingUnit unit;
  std::uint64_t min;      // inclusive, in `unit` (milliseconds for durations)
  std::uint64_t max;      // inclusive, in `unit`
  std::string_view doc;   // one line
  Duration EngineConfig::*duration;  // the member when unit is kMilliseconds, else nullptr
  std::size_t EngineConfig::*size;   // the member otherwise, else nullptr

  bool is_duration() const { return duration != nullptr; }
  Duration min_duration() const { return std::chrono::milliseconds(min); }
  Duration max_duration() const { return std::chrono::milliseconds(max); }

  // The value in `config`, in `unit`; a duration is rounded down to whole milliseconds (hosts
  // that carry milliseconds check Millisecond-exactness with IsWholeMilliseconds first).
  std::uint64_t Get(const EngineConfig& config) const;
  // Sets the member to `value` in `unit`. Requires min <= value <= max (Admits): the host checks
  // the range first, with its own message.
  void Set(EngineConfig* config, std::uint64_t value) const;
  // True when `value` (in `unit`) is within [min, max].
  bool Admits(std::uint64_t value) const { return value >= min && value <= max; }
  // True when the member's value in `config` is within the range (a duration exactly: 500us is
  // below 1ms).
  bool AdmitsValueIn(const EngineConfig& config) const;
  // False for a duration with a fraction of a millisecond in `config`; true for sizes.
  bool IsWholeMilliseconds(const EngineConfig& config) const;
  // "[1, 1024]", "[1ms, 60000ms]".
  std::string RangeText() const;
};

// Every row of engine_settings.h, in its order (EngineConfig's declaration order).
std::span<const EngineSetting> EngineSettings();
// The row named `name` (EngineSetting::name, e.g. "batch_window") or keyed `key` (e.g.
// "batch_window_ms"); nullptr when there is none.
const EngineSetting* FindEngineSettingByName(std::string_view name);
const EngineSetting* FindEngineSettingByKey(std::string_view key);

// A configuration that validates whatever single setting is then changed to any value of its
// range: the largest frame, the shortest keys and contacts, the shortest retransmit and heartbeat
// and the longest timeouts; identity filled (node 1, incarnation 1), heartbeat membership. The
// hosts' range tests start from it, so that "min and max accepted" tests the range alone.
EngineConfig PermissiveEngineConfig();

// How long a removal's tombstone is kept, a device's or a mailbox's (engine/README.md, "Names"):
// longer than a node that missed the removal keeps counting its writer without hearing of it
// (it either departs the writer, dropping its owned entries, or is repaired by a digest and a
// pull or a mailbox exchange), twice over. A mailbox tombstone's keep runs from its HLC's wall
// time. The engine and the scenario oracle (sim/harness/oracle.h) both read it here.
Duration TombstoneKeep(const EngineConfig& config);

// The cluster_keys rule of EngineConfig::Validate alone (Engine::SetClusterKeys uses it): count,
// sizes, distinct keys and key ids, and room for one record of `config` in an authenticated frame.
Status ValidateClusterKeys(const std::vector<std::string>& keys, const EngineConfig& config);

}  // namespace pbxstate
