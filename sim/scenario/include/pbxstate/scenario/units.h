// Quantities written with units in scenario files: durations ("250ms"), event rates ("100/s"),
// bandwidths ("100Mbps") and ratios ("2%"). Parsing is exact: a value that cannot be represented
// in the target type without rounding is refused rather than silently rounded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pbxstate/types.h"

namespace pbxstate::scenario {

// A unit a quantity is written in and its factor to the base unit (ns, bits per second).
struct UnitFactor {
  std::string_view name;
  std::uint64_t factor;
};

// Every unit ParseDuration accepts and FormatDuration writes, largest first, with its length in
// ns: the one table of duration units (`pbxstate describe-metrics` exports it to the report
// scripts).
std::span<const UnitFactor> DurationUnits();

// "<decimal><unit>" with unit one of ns, us, ms, s, min, h; no space, no sign, a unit is
// required (even for zero). The value must be a whole number of nanoseconds and at most about
// 10^6 hours. nullopt for anything else.
std::optional<Duration> ParseDuration(std::string_view text);

// "<decimal>/s" or "<decimal>/min"; returns events per second. nullopt for anything else.
std::optional<double> ParseRate(std::string_view text);

// "<decimal><unit>" with unit one of bps, kbps, Mbps, Gbps (decimal SI, bits per second); the
// value must be a whole number of bits per second. nullopt for anything else.
std::optional<std::uint64_t> ParseBandwidth(std::string_view text);

// "<decimal>%" from 0% to 100%; returns the fraction (0.15 for "15%"). nullopt for anything
// else, including values above 100%.
std::optional<double> ParsePercent(std::string_view text);

// An unsigned decimal without exponent ("12", "0.5"); nullopt for anything else. The building
// block of the parsers above, exposed for check thresholds.
std::optional<double> ParseDecimal(std::string_view text);

// The shortest exact spelling in the largest unit that keeps the value whole:
// 1500ms -> "1500ms", 2s -> "2s", 90s -> "90s", 120s -> "2min", 0 -> "0ms".
std::string FormatDuration(Duration d);

// "1Gbps", "100Mbps", "1500kbps", "64bps": largest unit that keeps the value whole.
std::string FormatBandwidth(std::uint64_t bits_per_second);

// A number without trailing zeros: 0.15 -> "0.15", 20 -> "20".
std::string FormatNumber(double value);

}  // namespace pbxstate::scenario
