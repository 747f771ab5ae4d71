// pbxstate baseline update SCENARIO... --baseline DIR: runs the scenarios and rewrites their
// baseline files, keeping hand-set tolerances, and says which values moved.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "pbxstate/gate/baseline.h"
#include "pbxstate/gate/comparison.h"
#include "pbxstate/runner/ns3_runner.h"
#include "run_support.h"

namespace pbxstate::cli {
namespace {

struct BaselineUpdateOptions {
  std::vector<std::string> files;
  std::string baseline_dir;
  std::vector<std::uint64_t> seeds;
};

int RunBaselineUpdate(const BaselineUpdateOptions& o) {
  std::vector<LoadedScenario> scenarios;
  if (!LoadScenarios(o.files, &scenarios)) return kExitInvalid;
  std::error_code ec;
  std::filesystem::create_directories(o.baseline_dir, ec);
  if (ec) {
    std::cerr << o.baseline_dir << ": " << ec.message() << "\n";
    return kExitInvalid;
  }
  for (const LoadedScenario& ls : scenarios) {
    const scenario::Scenario& s = ls.scenario;
    const auto path = gate::BaselinePath(o.baseline_dir, s.name);
    std::optional<gate::Baseline> previous;
    if (std::filesystem::exists(path)) {
      gate::Baseline b;
      std::string error;
      if (!gate::LoadBaseline(path, &b, &error)) {
        // Refuse rather than overwrite: the file may hold hand-tuned tolerances worth a look.
        std::cerr << error << "\n  (fix or delete it, then update again)\n";
        return kExitInvalid;
      }
      previous = std::move(b);
    }
    // The seeds: --seeds, else the existing baseline's, else the scenario's own.
    const std::vector<std::uint64_t> seeds = !o.seeds.empty() ? o.seeds
                                             : previous        ? previous->seeds
                                                               : std::vector<std::uint64_t>{s.seed};
    std::vector<std::vector<gate::GateMetric>> runs;
    bool checks_pass = true;
    std::string backend;
    for (const std::uint64_t seed : seeds) {
      runner::RunOptions ro;
      ro.seed = seed;
      runner::RunOutcome outcome;
      if (Status st = runner::RunNs3(s, ro, &outcome); !st.ok()) {
        std::cerr << st.message() << "\n";
        return st.code() == Status::Code::kInvalidArgument ? kExitInvalid : kExitCheckFailed;
      }
      runs.push_back(gate::ExtractGateMetrics(outcome.result));
      checks_pass = checks_pass && outcome.all_checks_pass();
      backend = outcome.info.backend;
    }
    const auto metrics = gate::MedianOverSeeds(runs);
    const gate::Baseline next =
        gate::MakeBaseline(s, PortablePath(ls.file), backend, seeds, metrics, previous ? &*previous : nullptr);
    const std::string text = gate::FormatBaseline(next);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out) {
        std::cerr << path.string() << ": cannot write\n";
        return kExitInvalid;
      }
    }
    std::size_t moved = 0;
    std::string table;
    if (previous) {
      auto rows = gate::CompareWithBaseline(*previous, metrics);
      // Changed as the file shows it: a sub-nanosecond difference in a quantile is not news.
      std::erase_if(rows, [](const gate::MetricComparison& r) {
        return r.has_baseline && r.has_observed &&
               gate::FormatGateValue(r.unit, r.baseline) == gate::FormatGateValue(r.unit, r.observed);
      });
      moved = rows.size();
      table = gate::FormatComparisonTable(rows, /*only_notable=*/false);
    }
    std::printf("%s: %s (%zu seed%s, %zu metrics%s)\n", path.string().c_str(), previous ? "updated" : "created",
                seeds.size(), seeds.size() == 1 ? "" : "s", metrics.size(),
                previous ? (", " + std::to_string(moved) + " changed").c_str() : "");
    std::fputs(table.c_str(), stdout);
    if (!checks_pass) {
      std::printf("  note: the scenario's own checks fail on a seed at this level; `pbxstate check` will fail until they pass\n");
    }
  }
  return kExitOk;
}

}  // namespace

void AddBaselineCommand(CLI::App& app, Action& chosen) {
  auto options = std::make_shared<BaselineUpdateOptions>();
  CLI::App* baseline = app.add_subcommand("baseline", "Manage the regression gate's baselines.");
  baseline->require_subcommand(1);
  CLI::App* update = baseline->add_subcommand(
      "update",
      "Run scenarios in ns-3 and (re)write <baseline dir>/<scenario name>.yaml with their gated\n"
      "metrics, each the median over one run per seed. Values are replaced; seeds, tolerances and\n"
      "floors set in an existing file are kept. The seeds are --seeds, else the existing\n"
      "baseline's, else the scenario's seed.");
  update->add_option("SCENARIO", options->files, "scenario files (YAML)")->required();
  update->add_option("--baseline", options->baseline_dir, "folder of baseline files (reports/baselines)")->required();
  update->add_option("--seeds", options->seeds, "seeds for the runs (one run each; 1,2,3 or 1 2 3)")
      ->delimiter(',');
  update->callback([options, &chosen] { chosen = [options] { return RunBaselineUpdate(*options); }; });
}

}  // namespace pbxstate::cli
