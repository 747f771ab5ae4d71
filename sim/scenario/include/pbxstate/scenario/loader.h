// Reading scenario files. A scenario that is wrong in any way is refused as a whole, with every
// error found, each pointing at file:line:column and the field's path.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/scenario/scenario.h"

namespace pbxstate::scenario {

struct ScenarioError {
  std::string file;
  int line = 0;    // 1-based; 0 when the error has no position (the file cannot be read)
  int column = 0;  // 1-based
  std::string path;     // "faults[2].partition[1][0]"; empty for errors about the whole file
  std::string message;  // what was expected

  // "file:line:col: path: message", leaving out the position when line is 0 and the path when
  // it is empty.
  std::string ToString() const;
  friend bool operator==(const ScenarioError&, const ScenarioError&) = default;
};

// Exactly one of scenario and errors is set: a scenario only when errors is empty.
struct LoadResult {
  std::optional<Scenario> scenario;
  std::vector<ScenarioError> errors;  // in file order (line, column)

  bool ok() const { return scenario.has_value(); }
};

// Loads and checks the scenario in `yaml`; `file` names it in errors and in Scenario::file.
//
// The text must be UTF-8 (the first byte that is not is the one error reported, with the field
// whose text holds it) and `file` too (it goes into run.json); then exactly one YAML document.
// Names (devices, mailboxes, AORs, contacts) may use any script; spaces and control characters
// are refused.
//
// Errors are collected, not stopped at: every structural error (syntax aside, which stops the
// YAML reader at once), sorted by position. The checks that relate sections to each other (the
// fault timeline, workload against cluster and faults, checks against faults, engine bounds
// against keys) run only on a file without structural errors, so that one mistake does not
// echo into several. At most kMaxErrors are reported; a last error says so when more exist.
LoadResult LoadScenarioString(std::string_view yaml, std::string file = "<string>");

// Reads `path` and loads it as above, naming it `path` in errors. Only a regular file of at
// most kMaxScenarioBytes (text_file.h) is read; anything else (a FIFO, a device, a directory,
// a larger file) is refused without reading it, in one error without a position.
LoadResult LoadScenarioFile(const std::filesystem::path& path);

inline constexpr std::size_t kMaxErrors = 50;

}  // namespace pbxstate::scenario
