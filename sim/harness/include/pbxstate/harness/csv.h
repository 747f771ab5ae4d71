// CSV as the run record writes it (latencies.csv, changes.csv): RFC 4180, UTF-8, "\n" between
// records. Text fields (keys) are always quoted with quotes doubled, so any key, with commas,
// quotes, line breaks or any script, reads back exactly as written with an RFC 4180 reader
// (Python's csv module: reports/runrecord.py). The columns of each file, with what each value
// is, are defined here once: the writer builds the header from them and is held to them field by
// field (CsvRow), and `pbxstate describe-metrics` exports them for reports/runrecord.py.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pbxstate/check.h"

namespace pbxstate::harness {

// `text` as one quoted CSV field: "a""b" for a"b.
inline std::string CsvField(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

enum class CsvValue {
  kInteger,          // a decimal integer
  kOptionalInteger,  // a decimal integer, or empty where there is none
  kText,             // any UTF-8, always quoted (CsvField)
};
// "integer", "optional integer", "text": the names describe-metrics exports.
constexpr std::string_view CsvValueName(CsvValue v) {
  switch (v) {
    case CsvValue::kInteger: return "integer";
    case CsvValue::kOptionalInteger: return "optional integer";
    case CsvValue::kText: return "text";
  }
  return "unknown";
}

struct CsvColumn {
  std::string_view name;
  CsvValue value;
};

// latencies.csv: one row per (change, receiving node) delivery.
inline constexpr CsvColumn kLatenciesCsvColumns[] = {
    {"change", CsvValue::kInteger}, {"origin", CsvValue::kInteger}, {"kind", CsvValue::kText},
    {"key", CsvValue::kText},       {"at_ns", CsvValue::kInteger},  {"node", CsvValue::kInteger},
    {"latency_ns", CsvValue::kInteger}};
// changes.csv: one row per local change; stable_ns is empty for a change that never became stable.
inline constexpr CsvColumn kChangesCsvColumns[] = {
    {"change", CsvValue::kInteger}, {"origin", CsvValue::kInteger}, {"kind", CsvValue::kText},
    {"key", CsvValue::kText},       {"at_ns", CsvValue::kInteger},  {"stable_ns", CsvValue::kOptionalInteger}};

struct CsvFile {
  std::string_view name;
  std::span<const CsvColumn> columns;
};
inline constexpr CsvFile kRunCsvFiles[] = {{"latencies.csv", kLatenciesCsvColumns},
                                           {"changes.csv", kChangesCsvColumns}};

// Appends one file's header and rows to `out`, each field held to its column: a field of another
// kind, one field too many, or a row ended short is refused (CHECK).
class CsvRow {
 public:
  CsvRow(std::string* out, std::span<const CsvColumn> columns) : out_(out), columns_(columns) {}

  void Header() {
    for (const CsvColumn& c : columns_) Put(c.value, c.name);
    End();
  }
  template <std::integral T>
  CsvRow& Integer(T v) {
    return Put(CsvValue::kInteger, std::to_string(v));
  }
  CsvRow& OptionalInteger(std::optional<std::int64_t> v) {
    return Put(CsvValue::kOptionalInteger, v ? std::to_string(*v) : std::string());
  }
  CsvRow& Text(std::string_view v) { return Put(CsvValue::kText, CsvField(v)); }
  void End() {
    PBXSTATE_CHECK(field_ == columns_.size());
    *out_ += '\n';
    field_ = 0;
  }

 private:
  CsvRow& Put(CsvValue kind, std::string_view field) {
    PBXSTATE_CHECK(field_ < columns_.size() && columns_[field_].value == kind);
    if (field_++ > 0) *out_ += ',';
    *out_ += field;
    return *this;
  }
  std::string* out_;
  std::span<const CsvColumn> columns_;
  std::size_t field_ = 0;
};

}  // namespace pbxstate::harness
