#include "reader.h"

#include <algorithm>
#include <cmath>

#include "pbxstate/scenario/units.h"
#include "utf8.h"

namespace pbxstate::scenario::detail {
namespace {

// 128-bit arithmetic keeps decimal-to-integer conversion exact without overflow checks at
// every step; __extension__ because -Wpedantic knows it is not ISO C++.
__extension__ typedef unsigned __int128 U128;

// yaml-cpp tags plain scalars "?" and quoted ones "!"; only plain scalars may be numbers.
bool IsPlainScalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() == "?"; }

}  // namespace

std::string Join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string DescribeQuantity(const YAML::Node& node) {
  if (node.IsScalar() && node.Tag() != "?") {
    return "a quoted string " + Describe(node) +
           " (numbers and quantities are written without quotes)";
  }
  return Describe(node);
}

void Diagnostics::Error(const YAML::Mark& mark, std::string path, std::string message) {
  ScenarioError e;
  e.file = file_;
  e.line = mark.line < 0 ? 1 : mark.line + 1;
  e.column = mark.column < 0 ? 1 : mark.column + 1;
  e.path = std::move(path);
  e.message = std::move(message);
  errors_.push_back(std::move(e));
}

std::vector<ScenarioError> Diagnostics::Take() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  if (errors_.size() > kMaxErrors) {
    const ScenarioError last = errors_[kMaxErrors - 1];
    const std::size_t more = errors_.size() - (kMaxErrors - 1);
    errors_.resize(kMaxErrors - 1);
    ScenarioError e = last;
    e.path.clear();
    e.message = std::to_string(more) + " more errors not shown; fix the ones above first";
    errors_.push_back(std::move(e));
  }
  return std::move(errors_);
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

Field Field::Item(std::size_t index, const YAML::Node& item) const {
  // An empty list item ("- ") has no position of its own worth pointing at: use the list's.
  YAML::Mark m = (item.IsDefined() && !item.IsNull()) ? item.Mark() : mark;
  return Field{item, path + "[" + std::to_string(index) + "]", m};
}

std::string Describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  // Control characters escaped, long texts cut at a character boundary: messages stay one
  // readable line of UTF-8.
  const std::string& s = node.Scalar();
  return "'" + (s.size() > 40 ? PrintableText(s, 37) : PrintableText(s)) + "'";
}

MapReader::MapReader(const Field& field, Diagnostics& diag, std::string_view what)
    : field_(field), diag_(diag) {
  if (!field.node.IsMap()) {
    diag_.Error(field.mark, field.path,
                "expected " + std::string(what) + ", got " + Describe(field.node));
    return;
  }
  ok_ = true;
  for (auto it = field.node.begin(); it != field.node.end(); ++it) {
    // Copies: it-> yields a proxy that dies with the statement, and references into it dangle.
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      diag_.Error(key.Mark(), field.path, "expected a plain key, got " + Describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    const std::string path = JoinPath(field.path, name);
    auto dup = std::find_if(entries_.begin(), entries_.end(),
                            [&](const Entry& e) { return e.key == name; });
    if (dup != entries_.end()) {
      diag_.Error(key.Mark(), path,
                  "duplicate key; expected each key once (first at line " +
                      std::to_string(dup->key_mark.line + 1) + ")");
      continue;
    }
    const YAML::Node value = it->second;
    const YAML::Mark value_mark = (value.IsDefined() && !value.IsNull()) ? value.Mark()
                                                                         : key.Mark();
    entries_.push_back({name, key.Mark(), Field{value, path, value_mark}});
  }
}

bool MapReader::Has(std::string_view key) const { return Get(key).has_value(); }

std::optional<Field> MapReader::Get(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return e.value;
  }
  return std::nullopt;
}

std::optional<Field> MapReader::Require(std::string_view key, std::string_view what) {
  auto f = Get(key);
  if (!f && ok_) {
    diag_.Error(field_.mark, field_.path,
                "missing required key '" + std::string(key) + "'; expected " + std::string(what));
  }
  return f;
}

std::optional<Duration> MapReader::RequireDuration(std::string_view key, std::string_view what,
                                                   Duration lo, Duration hi) {
  return RequireValue(key, what, [&](const Field& f) { return ReadDuration(f, diag_, lo, hi); });
}

std::optional<double> MapReader::RequireRate(std::string_view key, std::string_view what,
                                             double lo, double hi) {
  return RequireValue(key, what, [&](const Field& f) { return ReadRate(f, diag_, lo, hi); });
}

bool MapReader::AllowOnly(std::initializer_list<std::string_view> allowed) {
  return AllowOnly(std::span<const std::string_view>(allowed.begin(), allowed.size()));
}

bool MapReader::AllowOnly(std::span<const std::string_view> allowed) {
  bool clean = true;
  for (const Entry& e : entries_) {
    if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
      diag_.Error(e.key_mark, e.value.path, "unknown key; expected one of: " + Join(allowed));
      clean = false;
    }
  }
  return clean;
}

std::optional<std::string> ReadString(const Field& f, Diagnostics& d, std::string_view what) {
  if (!f.node.IsScalar()) {
    d.Error(f.mark, f.path, "expected " + std::string(what) + ", got " + Describe(f.node));
    return std::nullopt;
  }
  return f.node.Scalar();
}

std::optional<std::uint64_t> ReadUint(const Field& f, Diagnostics& d, std::uint64_t lo,
                                      std::uint64_t hi) {
  const std::string expected =
      "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (!IsPlainScalar(f.node)) {
    d.Error(f.mark, f.path, expected + ", got " + DescribeQuantity(f.node));
    return std::nullopt;
  }
  const std::string& s = f.node.Scalar();
  std::string_view digits = s;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  bool well_formed = !digits.empty() && digits.size() <= 20;
  U128 value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      well_formed = false;
      break;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (!well_formed) {
    d.Error(f.mark, f.path, expected + ", got " + Describe(f.node));
    return std::nullopt;
  }
  if ((negative && value != 0) || value < lo || value > hi) {
    d.Error(f.mark, f.path, expected + ", got " + s);
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(value);
}

std::optional<bool> ReadBool(const Field& f, Diagnostics& d) {
  // Only true and false: YAML 1.1's yes/no/on/off surprise people ("no" as a country code).
  if (IsPlainScalar(f.node) && f.node.Scalar() == "true") return true;
  if (IsPlainScalar(f.node) && f.node.Scalar() == "false") return false;
  d.Error(f.mark, f.path, "expected true or false, got " + DescribeQuantity(f.node));
  return std::nullopt;
}

std::optional<Duration> ReadDuration(const Field& f, Diagnostics& d, Duration lo, Duration hi) {
  std::optional<Duration> v;
  if (IsPlainScalar(f.node)) v = ParseDuration(f.node.Scalar());
  if (!v) {
    d.Error(f.mark, f.path,
            "expected a duration with a unit (ns, us, ms, s, min, h), e.g. 250ms, got " +
                DescribeQuantity(f.node));
    return std::nullopt;
  }
  if (*v < lo || *v > hi) {
    d.Error(f.mark, f.path,
            "expected a duration from " + FormatDuration(lo) + " to " + FormatDuration(hi) +
                ", got " + f.node.Scalar());
    return std::nullopt;
  }
  return v;
}

std::optional<double> ReadRate(const Field& f, Diagnostics& d, double lo, double hi) {
  std::optional<double> v;
  if (IsPlainScalar(f.node)) v = ParseRate(f.node.Scalar());
  if (!v) {
    d.Error(f.mark, f.path,
            "expected a rate with a unit (/s or /min), e.g. 100/s, got " +
                DescribeQuantity(f.node));
    return std::nullopt;
  }
  if (*v < lo || *v > hi) {
    d.Error(f.mark, f.path,
            "expected a rate from " + FormatNumber(lo) + "/s to " + FormatNumber(hi) +
                "/s, got " + f.node.Scalar());
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t> ReadBandwidth(const Field& f, Diagnostics& d, std::uint64_t lo,
                                           std::uint64_t hi) {
  std::optional<std::uint64_t> v;
  if (IsPlainScalar(f.node)) v = ParseBandwidth(f.node.Scalar());
  if (!v) {
    d.Error(f.mark, f.path,
            "expected a bandwidth with a unit (bps, kbps, Mbps, Gbps), e.g. 100Mbps, got " +
                DescribeQuantity(f.node));
    return std::nullopt;
  }
  if (*v < lo || *v > hi) {
    d.Error(f.mark, f.path,
            "expected a bandwidth from " + FormatBandwidth(lo) + " to " + FormatBandwidth(hi) +
                ", got " + f.node.Scalar());
    return std::nullopt;
  }
  return v;
}

std::optional<double> ReadShare(const Field& f, Diagnostics& d, std::string_view what) {
  std::optional<double> v;
  if (IsPlainScalar(f.node)) {
    const std::string& s = f.node.Scalar();
    if (!s.empty() && s.back() == '%') {
      v = ParsePercent(s);
    } else if (auto n = ParseDecimal(s); n && *n <= 1.0) {
      v = n;
    }
  }
  if (!v) {
    d.Error(f.mark, f.path,
            "expected " + std::string(what) +
                " from 0% to 100% (e.g. 2%, or a fraction from 0 to 1), got " +
                DescribeQuantity(f.node));
  }
  return v;
}

std::optional<std::size_t> ReadEnum(const Field& f, Diagnostics& d,
                                    std::initializer_list<std::string_view> names) {
  if (f.node.IsScalar()) {
    std::size_t i = 0;
    for (std::string_view n : names) {
      if (f.node.Scalar() == n) return i;
      ++i;
    }
  }
  d.Error(f.mark, f.path,
          "expected one of: " + Join(std::span<const std::string_view>(names.begin(), names.size())) + "; got " +
              Describe(f.node));
  return std::nullopt;
}

std::optional<std::vector<Field>> ReadList(const Field& f, Diagnostics& d, std::string_view what,
                                           std::size_t min_items, std::size_t max_items) {
  if (!f.node.IsSequence()) {
    d.Error(f.mark, f.path, "expected " + std::string(what) + ", got " + Describe(f.node));
    return std::nullopt;
  }
  const std::size_t n = f.node.size();
  if (n == 0 && min_items > 0) {
    d.Error(f.mark, f.path, "expected " + std::string(what) + ", got an empty list");
    return std::nullopt;
  }
  if (n < min_items || n > max_items) {
    std::string range = min_items == max_items
                            ? std::to_string(min_items)
                            : std::to_string(min_items) + " to " +
                                  std::to_string(max_items);
    d.Error(f.mark, f.path,
            "expected " + std::string(what) + " with " + range + " items, got " +
                std::to_string(n));
    return std::nullopt;
  }
  std::vector<Field> items;
  items.reserve(n);
  for (std::size_t i = 0; i < n; ++i) items.push_back(f.Item(i, f.node[i]));
  return items;
}

}  // namespace pbxstate::scenario::detail
