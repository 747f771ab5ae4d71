// Counters an engine keeps about itself. Plain numbers, cheap to copy, never reset.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

namespace pbxstate {

// Why a received frame (or part of one) was not used.
enum class DropReason : std::uint8_t {
  kTruncated = 0,      // shorter than its header or than a length it declares
  kBadMagic,           // not a pbxstate frame
  kBadVersion,         // a protocol version this engine does not speak
  kUnknownType,        // a frame type this engine does not know
  kOversize,           // larger than max_frame_bytes, or a declared length beyond a bound
  kMalformed,          // a field out of range (bad enum, empty key, trailing bytes, ...)
  kFromSelf,           // carries this node's own id
  kStaleIncarnation,   // from an incarnation of its sender older than one already seen (with
                       // keys: checked against the replay state, before the body is read)
  kNotMember,          // about a node that is not in the current membership
  kTooManyNodes,       // would exceed max_nodes origins
  kUnexpected,         // a well-formed frame that fits nothing: a sync id never used with its
                       // sender, a sync page past a gap, ...
  kStoreFull,          // a record for a new key while max_entries are held
  // With cluster keys configured (EngineConfig::cluster_keys), checked before the body is read:
  kBadMac,             // the MAC does not match the frame under the key its key id names
  kUnknownKey,         // names a key id that is none of the configured keys
  kReplayed,           // a frame counter already seen, older than the replay window, or a
                       // unicast addressed to another node (a replay aimed elsewhere)
  kUnauthenticated,    // a frame without a MAC while keys are configured
  kAuthNotConfigured,  // a frame with a MAC while this engine has no key (it cannot check it)
  // Last, to keep the C API's values (c_api.h); expected, not an error:
  kSessionClosed,      // a sync page, refusal or ack for a catch-up session that this node or its
                       // peer opened and has closed (a late copy)
  kCount
};
inline constexpr int kDropReasonCount = static_cast<int>(DropReason::kCount);
std::string_view DropReasonName(DropReason reason);

struct EngineStats {
  std::uint64_t frames_out = 0, bytes_out = 0;
  std::uint64_t frames_in = 0, bytes_in = 0;
  std::uint64_t broadcasts_out = 0, unicasts_out = 0;
  std::array<std::uint64_t, kDropReasonCount> dropped{};

  std::uint64_t local_changes = 0;       // accepted local changes
  std::uint64_t update_frames_sent = 0;  // UPDATES frames built for local changes
  std::uint64_t changes_held = 0;        // local changes held back while the transport was busy
  std::uint64_t records_applied = 0;     // remote records that changed something
  std::uint64_t records_stale = 0;       // remote records older than what was held
  // Mailbox tombstones past their horizon, held for a node that was away, dropped at max_entries
  // to make room for a new entry (engine/README.md, "Removing a mailbox").
  std::uint64_t mailbox_tombstones_evicted = 0;

  std::uint64_t send_try_again = 0;      // transport answered kTryAgain
  std::uint64_t send_queue_overflow = 0; // frames dropped at max_send_queue_frames
  std::uint64_t send_failed = 0;         // kTooLarge / kUnreachable
  std::uint64_t frames_relayed = 0;      // frames of others this node passed on as its site's relay

  std::uint64_t digests_sent = 0, digests_received = 0;
  std::uint64_t sync_sessions_started = 0;     // pulls this node began
  std::uint64_t sync_sessions_completed = 0;
  std::uint64_t sync_sessions_abandoned = 0;   // timeouts, donor refusals, donor departures
  std::uint64_t sync_serves_refused = 0;       // requests refused at max_sync_serves
  std::uint64_t sync_pages_sent = 0, sync_pages_received = 0;
  std::uint64_t sync_pages_resent = 0;

  std::uint64_t heartbeats_sent = 0;
  std::uint64_t membership_changes = 0;
  std::uint64_t departures = 0;          // nodes whose entries were dropped after the grace

  // Entries held now: device contributions, mailboxes with a value, live registrations.
  std::uint64_t device_entries = 0, mailbox_entries = 0, registration_entries = 0;
  // Bytes the engine holds on the heap now: names, entries, indexes, queues, sessions, counted
  // from its containers' capacities (engine/README.md, "Memory"). Computed when stats() is read
  // (O(entries)), so it is current in every copy taken from there.
  std::uint64_t held_bytes = 0;

  std::uint64_t total_dropped() const {
    std::uint64_t n = 0;
    for (auto d : dropped) n += d;
    return n;
  }
};

// One scalar counter of EngineStats: the name every writer and reader of stats uses (the JSON key
// of pbxstated's `stats` and of run.json), where it lives, and whether it is a level.
struct EngineStatField {
  std::string_view name;  // a string literal: data() is NUL-terminated and never freed
  std::uint64_t EngineStats::*member;
  // A level (what is held now: entries, bytes) rather than a flow (counted since creation): a
  // node's incarnations do not add up, its last one's is the node's.
  bool level = false;
};

// Every scalar counter of EngineStats, in declaration order; `dropped` is not among them (it is one
// counter per DropReason, named by DropReasonName). A counter added to EngineStats without an
// entry here fails to compile (stats.cc checks the sizes), so no writer can miss it.
std::span<const EngineStatField> EngineStatFields();

// Calls fn(name, value) for every counter of EngineStatFields().
void ForEachStat(const EngineStats& stats, const std::function<void(std::string_view name, std::uint64_t value)>& fn);

}  // namespace pbxstate
