// Typed, error-collecting access to a yaml-cpp tree. Every reader either returns a value or
// records exactly one error (position, field path, what was expected) and returns nothing, so
// callers never need to format errors for ordinary type and range problems themselves.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "pbxstate/scenario/loader.h"
#include "pbxstate/types.h"

namespace pbxstate::scenario::detail {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  // YAML marks are 0-based; a null mark (negative) is reported at 1:1.
  void Error(const YAML::Mark& mark, std::string path, std::string message);
  std::size_t count() const { return errors_.size(); }
  // Sorted by position (stable for equal positions), capped at kMaxErrors.
  std::vector<ScenarioError> Take();
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<ScenarioError> errors_;
};

// A value in the tree with the path that leads to it. `mark` is where errors about it point:
// the value itself, or its key when the value is empty (yaml-cpp places empty values at the
// next token, which would point at the wrong line).
struct Field {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;

  Field Item(std::size_t index, const YAML::Node& item) const;
  bool IsEmpty() const { return !node.IsDefined() || node.IsNull(); }
};

std::string JoinPath(std::string_view parent, std::string_view key);
// "a, b, c": names for "expected one of: ..." in messages.
std::string Join(std::span<const std::string_view> names);

// "'text'" for a scalar, "a mapping", "a list" or "nothing": for "got ..." in messages.
std::string Describe(const YAML::Node& node);
// As Describe, but says so when a quoted string stands where a number or quantity belongs.
std::string DescribeQuantity(const YAML::Node& node);

// A YAML mapping with its keys checked: non-scalar and repeated keys are reported when it is
// built; keys outside an allowed set when AllowOnly is called.
class MapReader {
 public:
  // Records "expected <what>" when the field is not a mapping; the reader is then empty.
  MapReader(const Field& field, Diagnostics& diag, std::string_view what = "a mapping");

  bool ok() const { return ok_; }
  const Field& field() const { return field_; }
  bool Has(std::string_view key) const;
  std::optional<Field> Get(std::string_view key) const;
  // As Get; when absent records "missing required key '<key>'; expected <what>" at the map.
  std::optional<Field> Require(std::string_view key, std::string_view what);
  // A required key read with `read` (const Field& -> std::optional<T>, recording its own
  // error): the value, or nullopt after exactly one error, "missing required key" or the
  // reader's.
  template <typename Read>
  auto RequireValue(std::string_view key, std::string_view what, Read&& read)
      -> decltype(read(std::declval<const Field&>())) {
    if (auto f = Require(key, what)) return read(*f);
    return std::nullopt;
  }
  // The same for the common kinds (ReadDuration, ReadRate, ReadUint below).
  std::optional<Duration> RequireDuration(std::string_view key, std::string_view what,
                                          Duration lo, Duration hi);
  std::optional<double> RequireRate(std::string_view key, std::string_view what, double lo,
                                    double hi);
  // An optional key: when present, reads it with `read` into `out` (converted to T). Returns
  // false only when the key is present and `read` refused it (and recorded why).
  template <typename T, typename Read>
  bool ReadIfPresent(std::string_view key, T& out, Read&& read) const {
    auto f = Get(key);
    if (!f) return true;
    auto v = read(*f);
    if (!v) return false;
    out = static_cast<T>(*v);
    return true;
  }
  // Records "unknown key" for every key not in `allowed`; returns false if there was one.
  bool AllowOnly(std::initializer_list<std::string_view> allowed);
  bool AllowOnly(std::span<const std::string_view> allowed);  // a list built at run time
  // Keys in file order with their key marks and values.
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    Field value;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  Field field_;
  Diagnostics& diag_;
  bool ok_ = false;
  std::vector<Entry> entries_;
};

// Each of these returns the value, or records one error naming what was expected and returns
// nullopt. Numbers, booleans and quantities must be plain scalars: "5" in quotes is a string.
std::optional<std::string> ReadString(const Field& f, Diagnostics& d, std::string_view what);
std::optional<std::uint64_t> ReadUint(const Field& f, Diagnostics& d, std::uint64_t lo,
                                      std::uint64_t hi);
std::optional<bool> ReadBool(const Field& f, Diagnostics& d);
std::optional<Duration> ReadDuration(const Field& f, Diagnostics& d, Duration lo, Duration hi);
std::optional<double> ReadRate(const Field& f, Diagnostics& d, double lo, double hi);
std::optional<std::uint64_t> ReadBandwidth(const Field& f, Diagnostics& d, std::uint64_t lo,
                                           std::uint64_t hi);
// "15%" or a plain number from 0 to 1.
std::optional<double> ReadShare(const Field& f, Diagnostics& d, std::string_view what);
// Index into `names` of the scalar's value.
std::optional<std::size_t> ReadEnum(const Field& f, Diagnostics& d,
                                    std::initializer_list<std::string_view> names);
// The items of a list, each with its indexed path; nullopt (and an error) when not a list or
// when it holds fewer than `min_items` or more than `max_items`.
std::optional<std::vector<Field>> ReadList(const Field& f, Diagnostics& d, std::string_view what,
                                           std::size_t min_items, std::size_t max_items);

// The readers above with their bounds bound, as callables for MapReader::RequireValue and
// MapReader::ReadIfPresent: m.ReadIfPresent("delay", lan.delay, DurationIn(d, 0ms, 10s)).
inline auto DurationIn(Diagnostics& d, Duration lo, Duration hi) {
  return [&d, lo, hi](const Field& f) { return ReadDuration(f, d, lo, hi); };
}
inline auto RateIn(Diagnostics& d, double lo, double hi) {
  return [&d, lo, hi](const Field& f) { return ReadRate(f, d, lo, hi); };
}
inline auto UintIn(Diagnostics& d, std::uint64_t lo, std::uint64_t hi) {
  return [&d, lo, hi](const Field& f) { return ReadUint(f, d, lo, hi); };
}
inline auto BandwidthIn(Diagnostics& d, std::uint64_t lo, std::uint64_t hi) {
  return [&d, lo, hi](const Field& f) { return ReadBandwidth(f, d, lo, hi); };
}
inline auto ShareOf(Diagnostics& d, std::string_view what) {
  return [&d, what](const Field& f) { return ReadShare(f, d, what); };
}
inline auto BoolOf(Diagnostics& d) {
  return [&d](const Field& f) { return ReadBool(f, d); };
}

}  // namespace pbxstate::scenario::detail
