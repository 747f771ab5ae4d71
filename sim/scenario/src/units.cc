#include "pbxstate/scenario/units.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <utility>

namespace pbxstate::scenario {
namespace {

// 128-bit arithmetic keeps decimal-to-integer conversion exact without overflow checks at
// every step; __extension__ because -Wpedantic knows it is not ISO C++.
__extension__ typedef unsigned __int128 U128;

// A decimal kept as mantissa / 10^scale so unit conversion stays exact (0.1s is exactly
// 100000000ns, which a double cannot promise).
struct Decimal {
  U128 mantissa = 0;
  int scale = 0;  // digits after the point
};

// At most 24 significant digits: far more than any quantity a scenario needs, and small enough
// that mantissa * 10^12 (the largest unit factor below) still fits in 128 bits.
constexpr int kMaxDigits = 24;

std::optional<Decimal> ParseExactDecimal(std::string_view text) {
  Decimal d;
  int digits = 0;
  bool seen_point = false;
  bool digit_before_point = false;
  bool digit_after_point = false;
  for (char c : text) {
    if (c == '.') {
      if (seen_point) return std::nullopt;
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    if (++digits > kMaxDigits) return std::nullopt;
    d.mantissa = d.mantissa * 10 + static_cast<unsigned>(c - '0');
    if (seen_point) {
      ++d.scale;
      digit_after_point = true;
    } else {
      digit_before_point = true;
    }
  }
  // "5." and ".5" are refused: YAML readers disagree on them and they read like typos.
  if (!digit_before_point || (seen_point && !digit_after_point)) return std::nullopt;
  return d;
}

U128 Pow10(int n) {
  U128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// value * factor, exact, or nullopt when the result is not whole or exceeds `limit`.
std::optional<std::uint64_t> ScaleExact(const Decimal& d, std::uint64_t factor,
                                        std::uint64_t limit) {
  const U128 scaled = d.mantissa * factor;
  const U128 div = Pow10(d.scale);
  if (scaled % div != 0) return std::nullopt;
  const U128 whole = scaled / div;
  if (whole > limit) return std::nullopt;
  return static_cast<std::uint64_t>(whole);
}

// Splits "123.5ms" into ("123.5", "ms") at the first character that cannot be in a number.
std::pair<std::string_view, std::string_view> SplitNumber(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  return {text.substr(0, i), text.substr(i)};
}

constexpr std::array<UnitFactor, 6> kDurationUnits{{
    {"h", 3'600'000'000'000ULL},
    {"min", 60'000'000'000ULL},
    {"s", 1'000'000'000ULL},
    {"ms", 1'000'000ULL},
    {"us", 1'000ULL},
    {"ns", 1ULL},
}};

constexpr std::array<UnitFactor, 4> kBandwidthUnits{{
    {"Gbps", 1'000'000'000ULL},
    {"Mbps", 1'000'000ULL},
    {"kbps", 1'000ULL},
    {"bps", 1ULL},
}};

// 10^6 hours in nanoseconds fits comfortably in int64 (max ~2.5 * 10^6 hours).
constexpr std::uint64_t kMaxDurationNs = 1'000'000ULL * 3'600'000'000'000ULL;
// 10 Tbps: beyond any link a simulation models.
constexpr std::uint64_t kMaxBandwidth = 10'000'000'000'000ULL;

}  // namespace

std::span<const UnitFactor> DurationUnits() { return kDurationUnits; }

std::optional<double> ParseDecimal(std::string_view text) {
  auto d = ParseExactDecimal(text);
  if (!d) return std::nullopt;
  return static_cast<double>(d->mantissa) / static_cast<double>(Pow10(d->scale));
}

std::optional<Duration> ParseDuration(std::string_view text) {
  auto [number, unit] = SplitNumber(text);
  auto d = ParseExactDecimal(number);
  if (!d) return std::nullopt;
  for (const UnitFactor& u : kDurationUnits) {
    if (unit != u.name) continue;
    auto ns = ScaleExact(*d, u.factor, kMaxDurationNs);
    if (!ns) return std::nullopt;
    return Duration(static_cast<Duration::rep>(*ns));
  }
  return std::nullopt;
}

std::optional<double> ParseRate(std::string_view text) {
  auto [number, unit] = SplitNumber(text);
  auto value = ParseDecimal(number);
  if (!value) return std::nullopt;
  if (unit == "/s") return *value;
  if (unit == "/min") return *value / 60.0;
  return std::nullopt;
}

std::optional<std::uint64_t> ParseBandwidth(std::string_view text) {
  auto [number, unit] = SplitNumber(text);
  auto d = ParseExactDecimal(number);
  if (!d) return std::nullopt;
  for (const UnitFactor& u : kBandwidthUnits) {
    if (unit == u.name) return ScaleExact(*d, u.factor, kMaxBandwidth);
  }
  return std::nullopt;
}

std::optional<double> ParsePercent(std::string_view text) {
  if (text.empty() || text.back() != '%') return std::nullopt;
  auto value = ParseDecimal(text.substr(0, text.size() - 1));
  if (!value || *value > 100.0) return std::nullopt;
  return *value / 100.0;
}

std::string FormatDuration(Duration d) {
  const auto ns = d.count();
  if (ns == 0) return "0ms";
  const std::uint64_t magnitude =
      ns < 0 ? static_cast<std::uint64_t>(-(ns + 1)) + 1 : static_cast<std::uint64_t>(ns);
  const char* sign = ns < 0 ? "-" : "";
  for (const UnitFactor& u : kDurationUnits) {
    if (magnitude % u.factor == 0) {
      return sign + std::to_string(magnitude / u.factor) + std::string(u.name);
    }
  }
  return sign + std::to_string(magnitude) + "ns";  // unreachable: ns divides everything
}

std::string FormatBandwidth(std::uint64_t bits_per_second) {
  for (const UnitFactor& u : kBandwidthUnits) {
    if (bits_per_second != 0 && bits_per_second % u.factor == 0) {
      return std::to_string(bits_per_second / u.factor) + std::string(u.name);
    }
  }
  return std::to_string(bits_per_second) + "bps";
}

std::string FormatNumber(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", value);
  return buf;
}

}  // namespace pbxstate::scenario
