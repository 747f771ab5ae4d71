// "detection + <duration>": a length of time written relative to the run's failure-detection time
// (scenario.h, DetectionTime: how long the run's membership takes to notice a silent node). A
// check's bound ("convergence.after_heal.max < detection + 2s", check.h) and the quiet phase
// ("quiet: detection + 10s") are written this way, so that one scenario gives every membership
// the time its own timing needs: a few seconds with the engines' heartbeats, 15-25 s with
// Corosync's default token. This file is the one spelling of it; DetectionTime is the one value.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "pbxstate/types.h"

namespace pbxstate::scenario {

// A duration written "<duration>" or "detection + <duration>".
struct DetectionRelative {
  Duration constant{};          // the duration as written, or the part after "detection +"
  bool plus_detection = false;  // written with "detection +"

  // The length for a run whose membership detects a silent node after `detection`.
  Duration Resolve(Duration detection) const { return plus_detection ? detection + constant : constant; }
  friend bool operator==(const DetectionRelative&, const DetectionRelative&) = default;
};

// Where an optional "detection +" prefix starts at text[at]: spaces around '+' optional.
struct DetectionPrefix {
  bool present = false;
  std::size_t value_at = 0;  // where the duration after the prefix (or without it) starts
  // Set when "detection" is not followed by '+': where, for the error (kDetectionPrefixExpected).
  std::optional<std::size_t> error_at;
};
DetectionPrefix ReadDetectionPrefix(std::string_view text, std::size_t at);
inline constexpr std::string_view kDetectionPrefixExpected =
    "expected '+ <duration>' after 'detection', e.g. 'detection + 2s'";

struct DetectionRelativeError {
  std::size_t offset = 0;  // byte offset into the text where the problem starts
  std::string message;
};
// The whole of `text` as "<duration>" or "detection + <duration>" (units.h, ParseDuration), with
// optional spaces before and after.
std::variant<DetectionRelative, DetectionRelativeError> ParseDetectionRelative(std::string_view text);

// "12s", "detection + 10500ms": what ParseDetectionRelative reads back to the same value.
std::string FormatDetectionRelative(const DetectionRelative& d);

}  // namespace pbxstate::scenario
