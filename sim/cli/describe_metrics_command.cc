// pbxstate describe-metrics: what the C++ defines about metrics and their units, as JSON, for the
// report scripts (reports/), so that they read these definitions instead of writing them again:
// every metric a check may name with its kind (scenario::Metrics()) and, for those the gate holds
// a run to, which way is better (gate::GatedRunMetrics()), the duration units
// (scenario::DurationUnits()), the bounds of a baseline file (gate/baseline.h), the columns of
// the run record's CSV files (harness/csv.h), the daemons' CPU wait a calibration allows
// (runner/daemon_wait.h) and the command's exit statuses (commands.h). Hidden from --help: it is
// for reports/tolerances.py and the tests that hold the scripts and run records to the C++ or
// read the command's statuses (tests/lib/cli_contract.py, tests/reports/contract_test.py,
// tests/sim/netns/netns_run_test.py), not for users.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "pbxstate/gate/baseline.h"
#include "pbxstate/harness/csv.h"
#include "pbxstate/runner/daemon_wait.h"
#include "pbxstate/scenario/check.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::cli {
namespace {

std::string KindName(scenario::MetricKind kind) {
  switch (kind) {
    case scenario::MetricKind::kCount: return "count";
    case scenario::MetricKind::kNumber: return "number";
    case scenario::MetricKind::kDuration: return "duration";
  }
  return "unknown";
}

// Which way a gated run metric is better ("lower", or "higher" for one gated as its complement)
// and its name in a baseline; null for a metric the gate does not hold a run to.
nlohmann::json GateOf(const std::string& metric) {
  for (const gate::GatedRunMetric& g : gate::GatedRunMetrics()) {
    if (g.run_metric == metric) return {{"as", g.gated_as}, {"better", g.complement ? "higher" : "lower"}};
  }
  return nullptr;
}

// Every CSV file of the run record with its columns in order: [{name, columns: [{name, value}]}].
nlohmann::json CsvFiles() {
  nlohmann::json files = nlohmann::json::array();
  for (const harness::CsvFile& f : harness::kRunCsvFiles) {
    nlohmann::json columns = nlohmann::json::array();
    for (const harness::CsvColumn& c : f.columns) {
      columns.push_back({{"name", std::string(c.name)}, {"value", std::string(harness::CsvValueName(c.value))}});
    }
    files.push_back({{"name", std::string(f.name)}, {"columns", columns}});
  }
  return files;
}

nlohmann::json Describe() {
  nlohmann::json metrics = nlohmann::json::array();
  for (const scenario::MetricInfo& m : scenario::Metrics()) {
    nlohmann::json measured_on = nlohmann::json::array();
    for (std::string_view b : m.measured_on) measured_on.push_back(std::string(b));
    metrics.push_back({{"name", m.name}, {"kind", KindName(m.kind)}, {"measured_on", measured_on}, {"gate", GateOf(m.name)}});
  }
  // A list, not an object: the order (largest first) is FormatDuration's.
  nlohmann::json units = nlohmann::json::array();
  for (const scenario::UnitFactor& u : scenario::DurationUnits()) {
    units.push_back({{"name", std::string(u.name)}, {"ns", u.factor}});
  }
  return {{"metrics", metrics},
          {"duration_units", units},
          {"baseline",
           {{"format", std::string(gate::kBaselineFormat)},
            {"max_seeds", gate::kMaxBaselineSeeds},
            {"max_metrics", gate::kMaxBaselineMetrics}}},
          {"csv_files", CsvFiles()},
          {"daemon_wait",
           {{"interval_ns", runner::kDaemonWaitInterval.count()},
            {"bound_ns", runner::kMaxDaemonWait.count()},
            {"max_threads", runner::kMaxSampledThreads}}},
          {"exit_status",
           {{"ok", kExitOk},
            {"check_failed", kExitCheckFailed},
            {"invalid", kExitInvalid},
            {"interrupted_base", kExitInterruptedBase}}}};
}

}  // namespace

void AddDescribeMetricsCommand(CLI::App& app, Action& chosen) {
  CLI::App* cmd = app.add_subcommand("describe-metrics", "");
  cmd->group("");  // hidden from --help, the man page and the completion
  cmd->callback([&chosen]() {
    chosen = []() {
      std::printf("%s\n", Describe().dump(2).c_str());
      return kExitOk;
    };
  });
}

}  // namespace pbxstate::cli
