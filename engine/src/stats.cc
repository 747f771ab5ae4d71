#include "pbxstate/stats.h"

namespace pbxstate {

namespace {

constexpr EngineStatField kFields[] = {
    {"frames_out", &EngineStats::frames_out},
    {"bytes_out", &EngineStats::bytes_out},
    {"frames_in", &EngineStats::frames_in},
    {"bytes_in", &EngineStats::bytes_in},
    {"broadcasts_out", &EngineStats::broadcasts_out},
    {"unicasts_out", &EngineStats::unicasts_out},
    {"local_changes", &EngineStats::local_changes},
    {"update_frames_sent", &EngineStats::update_frames_sent},
    {"changes_held", &EngineStats::changes_held},
    {"records_applied", &EngineStats::records_applied},
    {"records_stale", &EngineStats::records_stale},
    {"mailbox_tombstones_evicted", &EngineStats::mailbox_tombstones_evicted},
    {"send_try_again", &EngineStats::send_try_again},
    {"send_queue_overflow", &EngineStats::send_queue_overflow},
    {"send_failed", &EngineStats::send_failed},
    {"frames_relayed", &EngineStats::frames_relayed},
    {"digests_sent", &EngineStats::digests_sent},
    {"digests_received", &EngineStats::digests_received},
    {"sync_sessions_started", &EngineStats::sync_sessions_started},
    {"sync_sessions_completed", &EngineStats::sync_sessions_completed},
    {"sync_sessions_abandoned", &EngineStats::sync_sessions_abandoned},
    {"sync_serves_refused", &EngineStats::sync_serves_refused},
    {"sync_pages_sent", &EngineStats::sync_pages_sent},
    {"sync_pages_received", &EngineStats::sync_pages_received},
    {"sync_pages_resent", &EngineStats::sync_pages_resent},
    {"heartbeats_sent", &EngineStats::heartbeats_sent},
    {"membership_changes", &EngineStats::membership_changes},
    {"departures", &EngineStats::departures},
    {"device_entries", &EngineStats::device_entries, true},
    {"mailbox_entries", &EngineStats::mailbox_entries, true},
    {"registration_entries", &EngineStats::registration_entries, true},
    {"held_bytes", &EngineStats::held_bytes, true},
};

// EngineStats is nothing but uint64 counters: the named ones above and one per drop reason. A new
// counter without a name makes the sizes differ.
static_assert(sizeof(EngineStats) == (std::size(kFields) + kDropReasonCount) * sizeof(std::uint64_t),
              "a counter of EngineStats has no entry in kFields (engine/src/stats.cc)");

}  // namespace

std::span<const EngineStatField> EngineStatFields() { return kFields; }

void ForEachStat(const EngineStats& stats, const std::function<void(std::string_view name, std::uint64_t value)>& fn) {
  for (const EngineStatField& f : kFields) fn(f.name, stats.*f.member);
}

}  // namespace pbxstate
