// CSV as the run record writes it (latencies.csv, changes.csv): RFC 4180, UTF-8, "\n" between
// records. Text fields (keys) are always quoted with quotes doubled, so any key, with commas,
// quotes, line breaks or any script, reads back exactly as written with an RFC 4180 reader
// (Python's csv module: reports/runrecord.py).
#pragma once

#include <string>
#include <string_view>

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

}  // namespace pbxstate::harness
