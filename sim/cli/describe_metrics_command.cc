// pbxstate describe-metrics: what the C++ defines about metrics and their units, as JSON, for the
// report scripts (reports/), so that they read these definitions instead of writing them again:
// every metric a check may name with its kind (scenario::Metrics()), the duration units
// (scenario::DurationUnits()), the bounds of a baseline file (gate/baseline.h) and the daemons'
// CPU wait a calibration allows (runner/daemon_wait.h). Hidden from --help: it is for
// reports/tolerances.py and the tests that hold the scripts and run records to the C++
// (tests/reports/contract_test.py, tests/sim/netns/netns_run_test.py), not for users.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "pbxstate/gate/baseline.h"
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

nlohmann::json Describe() {
  nlohmann::json metrics = nlohmann::json::array();
  for (const scenario::MetricInfo& m : scenario::Metrics()) {
    nlohmann::json measured_on = nlohmann::json::array();
    for (std::string_view b : m.measured_on) measured_on.push_back(std::string(b));
    metrics.push_back({{"name", m.name}, {"kind", KindName(m.kind)}, {"measured_on", measured_on}});
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
          {"daemon_wait",
           {{"interval_ns", runner::kDaemonWaitInterval.count()}, {"bound_ns", runner::kMaxDaemonWait.count()}}}};
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
