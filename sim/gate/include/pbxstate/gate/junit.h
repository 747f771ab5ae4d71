// JUnit XML for CI systems (Jenkins, GitLab): one <testsuite> per scenario run, one <testcase>
// per scenario check and per gated metric, failures with the measured value and the limit.
// The layout follows the common Ant/Surefire form both systems read.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pbxstate/gate/comparison.h"
#include "pbxstate/harness/run_record.h"

namespace pbxstate::gate {

struct JUnitCase {
  std::string classname;  // "pbxstate.<scenario>.checks", "pbxstate.<scenario>.baseline"
  std::string name;       // the check as written, or the metric name
  std::optional<std::string> failure;  // message when the case failed
  std::string details;    // body text of the failure (or of system-out when passed)
  std::optional<std::string> skipped;  // why the case was not run (a check not applicable on this backend)
};

struct JUnitSuite {
  std::string name;  // the scenario's name
  double seconds = 0;  // wall time of the run
  std::vector<std::pair<std::string, std::string>> properties;  // seed, backend, file, ...
  std::vector<JUnitCase> cases;
};

// One case per check: passed, or failed with "observed X, limit OP Y" (or "not measured"), or
// skipped with the reason when the check does not apply to the run's backend.
std::vector<JUnitCase> CasesForChecks(const std::string& scenario_name,
                                      const std::vector<harness::CheckVerdict>& verdicts);
// One case per gated metric; kRegressed and kMissing fail, the others pass with a note.
std::vector<JUnitCase> CasesForBaseline(const std::string& scenario_name, const std::vector<MetricComparison>& rows);

// The document; every attribute and text escaped (and characters XML 1.0 forbids replaced).
std::string FormatJUnit(const std::vector<JUnitSuite>& suites);

// Writes FormatJUnit to `path` (parent folders created). False with `error` set on failure.
bool WriteJUnit(const std::filesystem::path& path, const std::vector<JUnitSuite>& suites, std::string* error);

}  // namespace pbxstate::gate
