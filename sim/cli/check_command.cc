// pbxstate check SCENARIO... --baseline DIR: the regression gate. Runs each scenario with each
// of its baseline's seeds, evaluates the scenario's own checks on every run, compares the median
// over the runs of each gated metric with the baseline and fails when any check fails or any
// metric got worse beyond its tolerance.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "pbxstate/gate/baseline.h"
#include "pbxstate/gate/comparison.h"
#include "pbxstate/gate/junit.h"
#include "pbxstate/runner/ns3_runner.h"
#include "report_scripts.h"
#include "run_support.h"

namespace pbxstate::cli {
namespace {

struct CheckOptions {
  std::vector<std::string> files;
  std::string baseline_dir;
  std::string out = "out/check";
  std::string junit;  // default <out>/junit.xml
  bool no_report = false;
};

struct ScenarioVerdict {
  std::string name;
  std::size_t checks_failed = 0;
  std::size_t regressed = 0;
  std::size_t improved = 0;
  bool passed() const { return checks_failed == 0 && regressed == 0; }
};

// The runs of one scenario, one per baseline seed, each in <out>/<scenario>/seed-<N> (a single
// seed runs in <out>/<scenario>, as before).
struct SeedRuns {
  std::vector<std::vector<gate::GateMetric>> metrics;  // per seed, in the baseline's seed order
  std::vector<harness::CheckVerdict> checks;           // every seed's checks, named with the seed
  std::vector<std::string> dirs;
  runner::RunOutcome first;  // the first seed's outcome (JUnit properties)
  double wall_seconds = 0;
};

std::string ShowSeeds(const std::vector<std::uint64_t>& seeds) {
  std::string s;
  for (std::size_t i = 0; i < seeds.size(); ++i) s += (i ? "," : "") + std::to_string(seeds[i]);
  return s;
}

int RunSeeds(const scenario::Scenario& s, const gate::Baseline& b, const CheckOptions& o, SeedRuns* runs) {
  for (const std::uint64_t seed : b.seeds) {
    runner::RunOptions ro;
    ro.seed = seed;
    ro.out = std::filesystem::path(o.out) / s.name;
    if (b.seeds.size() > 1) ro.out = *ro.out / ("seed-" + std::to_string(seed));
    runner::RunOutcome outcome;
    if (Status st = runner::RunNs3(s, ro, &outcome); !st.ok()) {
      std::cerr << st.message() << "\n";
      return st.code() == Status::Code::kInvalidArgument ? kExitInvalid : kExitCheckFailed;
    }
    runs->metrics.push_back(gate::ExtractGateMetrics(outcome.result));
    for (harness::CheckVerdict c : outcome.verdicts) {
      // A scenario's checks hold for every seed; the seed says which run broke one.
      if (b.seeds.size() > 1) c.check.text += " (seed " + std::to_string(seed) + ")";
      runs->checks.push_back(std::move(c));
    }
    runs->dirs.push_back(ro.out->string());
    runs->wall_seconds += outcome.info.wall_seconds;
    if (runs->dirs.size() == 1) runs->first = std::move(outcome);
  }
  return kExitOk;
}

int RunCheck(const CheckOptions& o) {
  std::vector<LoadedScenario> scenarios;
  if (!LoadScenarios(o.files, &scenarios)) return kExitInvalid;
  // Every baseline is read before anything runs: a missing or broken one is a usage error.
  std::vector<gate::Baseline> baselines(scenarios.size());
  bool baselines_ok = true;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const auto path = gate::BaselinePath(o.baseline_dir, scenarios[i].scenario.name);
    std::string error;
    if (!gate::LoadBaseline(path, &baselines[i], &error)) {
      std::cerr << error << "\n";
      if (!std::filesystem::exists(path)) {
        std::cerr << "  (make it with: pbxstate baseline update " << scenarios[i].file << " --baseline "
                  << o.baseline_dir << ")\n";
      }
      baselines_ok = false;
    } else if (baselines[i].scenario != scenarios[i].scenario.name) {
      std::cerr << path.string() << ": scenario: " << baselines[i].scenario << ", but " << scenarios[i].file
                << " is named " << scenarios[i].scenario.name << "\n";
      baselines_ok = false;
    } else if (baselines[i].backend != "ns3") {
      std::cerr << path.string() << ": backend: " << baselines[i].backend
                << ": only ns3 baselines can be checked by this build\n";
      baselines_ok = false;
    }
  }
  if (!baselines_ok) return kExitInvalid;

  std::vector<gate::JUnitSuite> suites;
  std::vector<ScenarioVerdict> verdicts;
  bool pages_drawn = true;  // false: exit 2 whatever the verdict (report_scripts.h, DrawRunPage)
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const scenario::Scenario& s = scenarios[i].scenario;
    const gate::Baseline& b = baselines[i];
    SeedRuns runs;
    if (int rc = RunSeeds(s, b, o, &runs); rc != kExitOk) return rc;
    const auto rows = gate::CompareWithBaseline(b, gate::MedianOverSeeds(runs.metrics));
    ScenarioVerdict v{s.name};
    std::size_t not_applicable = 0;
    for (const auto& c : runs.checks) v.checks_failed += c.failed() ? 1 : 0;
    for (const auto& c : runs.checks) not_applicable += c.applicable() ? 0 : 1;
    for (const auto& r : rows) {
      v.regressed += gate::Fails(r.outcome) ? 1 : 0;
      v.improved += r.outcome == gate::Outcome::kImproved ? 1 : 0;
    }
    std::printf("%-24s seeds %-10s checks %zu/%zu pass   baseline: %zu metrics (median of %zu runs), %zu regressed, "
                "%zu improved\n",
                s.name.c_str(), ShowSeeds(b.seeds).c_str(), runs.checks.size() - not_applicable - v.checks_failed,
                runs.checks.size() - not_applicable,
                b.entries.size(), b.seeds.size(), v.regressed, v.improved);
    for (const auto& c : runs.checks) {
      if (c.failed()) std::printf("    FAIL  %s\n", c.check.text.c_str());
      if (!c.applicable()) std::printf("    N/A   %s: %s\n", c.check.text.c_str(), c.not_applicable.c_str());
    }
    std::fputs(gate::FormatComparisonTable(rows, /*only_notable=*/true).c_str(), stdout);
    gate::JUnitSuite suite{s.name, runs.wall_seconds, RunProperties(scenarios[i].file, runs.first), {}};
    for (auto& [key, value] : suite.properties) {
      if (key == "seed") value = ShowSeeds(b.seeds);
      if (key == "verdict") value = v.checks_failed == 0 ? "pass" : "fail";
    }
    suite.properties.emplace_back("baseline", gate::BaselinePath(o.baseline_dir, s.name).string());
    suite.cases = gate::CasesForChecks(s.name, runs.checks);
    for (auto& c : gate::CasesForBaseline(s.name, rows)) suite.cases.push_back(std::move(c));
    const std::filesystem::path dir = std::filesystem::path(o.out) / s.name;
    if (std::string error; !gate::WriteJUnit(dir / "junit.xml", {suite}, &error)) {
      std::cerr << "pbxstate check: " << error << "\n";
      return kExitCheckFailed;
    }
    suites.push_back(std::move(suite));
    verdicts.push_back(v);
    for (const std::string& run_dir : runs.dirs) {
      if (!o.no_report && !DrawRunPage("check", "html_report.py", run_dir, run_dir + "/report.html", v.passed(), run_dir)) {
        pages_drawn = false;
      }
    }
  }

  const std::filesystem::path junit = o.junit.empty() ? std::filesystem::path(o.out) / "junit.xml" : std::filesystem::path(o.junit);
  if (std::string error; !gate::WriteJUnit(junit, suites, &error)) {
    std::cerr << "pbxstate check: " << error << "\n";
    return kExitCheckFailed;
  }
  std::size_t failed = 0, regressed = 0, improved = 0;
  for (const auto& v : verdicts) {
    failed += v.checks_failed;
    regressed += v.regressed;
    improved += v.improved;
  }
  const bool pass = failed == 0 && regressed == 0;
  if (!o.no_report && !DrawRunPage("check", "index_report.py", o.out, o.out + "/index.html", pass, o.out)) {
    pages_drawn = false;
  }
  std::printf("gate: %s: %zu scenarios, %zu failed checks, %zu regressed metrics, %zu improved (junit: %s)\n",
              pass ? "PASS" : "FAIL", verdicts.size(), failed, regressed, improved, junit.string().c_str());
  if (pass && improved > 0) {
    std::printf("  some metrics improved beyond their tolerance: `pbxstate baseline update` records the new level\n");
  }
  if (!pages_drawn) return kExitInvalid;  // a page failed: 2 whatever the verdict (DrawRunPage)
  return pass ? kExitOk : kExitCheckFailed;
}

}  // namespace

void AddCheckCommand(CLI::App& app, Action& chosen) {
  auto options = std::make_shared<CheckOptions>();
  CLI::App* cmd = app.add_subcommand(
      "check",
      "The regression gate: run scenarios in ns-3 with each of their baselines' seeds and compare\n"
      "the median over those runs of the gated metrics (convergence after each fault, latency quantiles, messages and bytes per\n"
      "change, lost, stale) with <baseline dir>/<scenario name>.yaml. Prints what regressed by\n"
      "how much and writes junit.xml. Exit " + std::to_string(kExitOk) +
          " when every check passes and nothing regressed, " + std::to_string(kExitCheckFailed) +
          "\notherwise, " + std::to_string(kExitInvalid) + " for an invalid scenario or a missing or invalid baseline.");
  cmd->add_option("SCENARIO", options->files, "scenario files (YAML)")->required();
  cmd->add_option("--baseline", options->baseline_dir, "folder of baseline files (reports/baselines)")->required();
  cmd->add_option("--out", options->out, "output folder: one run record per scenario, index.html")->capture_default_str();
  cmd->add_option("--junit", options->junit, "where to write the JUnit file (default <out>/junit.xml)");
  cmd->add_flag("--no-report", options->no_report, "do not draw report.html and index.html");
  cmd->callback([options, &chosen] { chosen = [options] { return RunCheck(*options); }; });
}

}  // namespace pbxstate::cli
