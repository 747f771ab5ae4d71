// Translation between pbxstated's control protocol (daemon/CONTROL.md) and the harness's types:
// view events to ViewChange, `dump` + `stats` to FinalView, `stats` to EngineStats. Private to
// the namespace runner. Every parser names the field that is missing or wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pbxstate/engine.h"
#include "pbxstate/harness/recorder.h"
#include "pbxstate/status.h"

namespace pbxstate::runner::daemon_json {

// Calendar times cross the process boundary as CLOCK_REALTIME nanoseconds; the harness counts
// them from kSimEpoch at the run's start (as the ns-3 runner's simulated calendar does). One
// mapping both ways keeps a registration's expiry exact: harness = kSimEpoch + (unix - start).
struct WallMapping {
  std::int64_t realtime_at_start_ns = 0;
  std::int64_t ToUnix(WallTime harness) const;
  WallTime FromUnix(std::int64_t unix_ns) const;
};

// A ViewChange with storage for what it points at.
struct OwnedViewChange {
  std::string key;
  std::optional<RegistrationInfo> old_registration, new_registration;
  ViewChange change{};
  // Points change.key / registrations at this object's storage; call after copying or moving.
  void Bind();
};

// Parses one {"event":"view", ...} line.
Status ParseViewEvent(const nlohmann::json& e, const WallMapping& wall, OwnedViewChange* out);

// Parses the `engine` object of a `stats` response.
Status ParseEngineStats(const nlohmann::json& engine, EngineStats* out);

// Builds a node's FinalView from its `dump` response and the `engine` object of its `stats`.
Status ParseFinalView(const nlohmann::json& dump, const nlohmann::json& stats_engine, const WallMapping& wall,
                      harness::FinalView* out);

}  // namespace pbxstate::runner::daemon_json
