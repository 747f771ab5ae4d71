// What pbxstated reports (control-protocol replies and events, decoded by pbxstate/control), as the
// harness's types: a view event's ViewChange, a transport view, and a node's FinalView on the
// harness's calendar and timeline.
// Private to the namespace runner. The protocol's decoding is the control library's; this file only
// maps times.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "pbxstate/control/events.h"
#include "pbxstate/control/replies.h"
#include "pbxstate/engine.h"
#include "pbxstate/harness/recorder.h"

namespace pbxstate::runner {

// Calendar times cross the process boundary as CLOCK_REALTIME nanoseconds; the harness counts
// them from kSimEpoch at the run's start (as the ns-3 runner's simulated calendar does). One
// mapping both ways keeps a registration's expiry exact: harness = kSimEpoch + (unix - start).
struct WallMapping {
  std::int64_t realtime_at_start_ns = 0;
  std::int64_t ToUnix(WallTime harness) const;
  WallTime FromUnix(std::int64_t unix_ns) const;
  WallTime FromUnix(WallTime unix_time) const { return FromUnix(unix_time.time_since_epoch().count()); }
};

// A transport_view event (a CPG configuration pbxstated handed its engine) as the oracle takes it
// (RunRecorder::MembershipDelivered): its time on the run's timeline, whose 0 is CLOCK_MONOTONIC
// `mono_start_ns` (t_mono_ns is the host's CLOCK_MONOTONIC, the same for every process on it); a
// view handed over before time 0 (the one in force when the run starts) counts from 0. nullopt
// for the line a daemon sends when it has had no view yet (view_id 0).
struct DeliveredView {
  Duration t{};
  std::vector<NodeId> members;  // sorted
};
std::optional<DeliveredView> HarnessMembership(const control::TransportViewEvent& event, std::int64_t mono_start_ns);

// The view event's change with its registrations' expiries on the harness's calendar.
control::OwnedViewChange HarnessViewChange(const control::ViewEvent& event, const WallMapping& wall);

// What a restarted daemon's engine held when the harness first listed it (`dump`, just after
// subscribing to its events), as remote view changes: one per device contribution, registration
// contact and mailbox that another node owns or wrote. Whatever reached the engine before the
// subscription (its catch-up, changes made meanwhile) is among them and is otherwise never seen;
// what the recorder had already seen delivered there it ignores (RunRecorder::ViewChanged).
std::vector<control::OwnedViewChange> HarnessCatchUp(const control::DumpReply& dump, const WallMapping& wall);

// A node's FinalView from its `dump` and the engine counters of its `stats`, read at the instant the
// dump says (FinalView::read).
harness::FinalView HarnessFinalView(const control::DumpReply& dump, const EngineStats& stats, const WallMapping& wall);

}  // namespace pbxstate::runner
