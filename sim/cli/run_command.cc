// pbxstate run SCENARIO: run a scenario in ns-3, write its run record, print a summary.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include <fcntl.h>

#include "commands.h"
#include "pbxstate/runner/ns3_runner.h"
#include "pbxstate/scenario/loader.h"

namespace pbxstate::cli {
namespace {

struct RunCommandOptions {
  std::string file;
  std::optional<std::uint64_t> seed;
  std::string out;
  bool dump_state = false;
  bool quiet = false;
  bool no_report = false;
  std::string backend = "ns3";
};

// Durations for people: three significant digits in the largest unit that keeps one before the
// point ("222 ms", "3.27 s", "501 us"). run.json keeps the exact nanoseconds.
std::string ShowNs(double ns) {
  if (!std::isfinite(ns)) return "never";
  char buf[32];
  if (ns >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.3g s", ns / 1e9);
  } else if (ns >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.3g ms", ns / 1e6);
  } else if (ns >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.3g us", ns / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f ns", ns);
  }
  return buf;
}

std::string Show(const scenario::Check& c, double v) {
  if (!std::isfinite(v)) return "never";
  if (c.kind == scenario::MetricKind::kDuration) return ShowNs(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

void PrintSummary(const scenario::Scenario& s, const runner::RunOutcome& o, const std::string& out) {
  const auto& m = o.result.metrics;
  auto get = [&](const std::string& k) -> std::optional<double> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
  std::printf("\n%s (seed %llu, %u nodes, %s backend)\n", s.name.c_str(), static_cast<unsigned long long>(o.info.seed),
              s.topology.node_count(), o.info.backend.c_str());
  std::printf("  changes %-10.0f messages/change %-8.3g bytes/change %.4g\n", get("changes").value_or(0),
              get("messages_per_change").value_or(0), get("bytes_per_change").value_or(0));
  for (const char* fam : {"delivery_latency", "stable_latency"}) {
    const std::string f = fam;
    if (!get(f + ".p50")) continue;
    std::printf("  %-17s p50 %-9s p95 %-9s p99 %-9s max %s\n", fam, ShowNs(*get(f + ".p50")).c_str(),
                ShowNs(*get(f + ".p95")).c_str(), ShowNs(*get(f + ".p99")).c_str(), ShowNs(*get(f + ".max")).c_str());
  }
  for (const auto& c : o.result.convergence) {
    std::printf("  convergence after %-40s %s\n", (c.fault + " at " + ShowNs(static_cast<double>(c.fault_at.count()))).c_str(),
                c.converged ? ShowNs(static_cast<double>(c.took.count())).c_str() : "never");
  }
  std::printf("  lost %.0f  stale %.0f\n", get("lost").value_or(0), get("stale").value_or(0));
  // Frames the engines refused, by reason, summed over the nodes (run.json has them per node);
  // authentication refusals (bad_mac, replayed, ...) show here too.
  std::array<std::uint64_t, kDropReasonCount> dropped{};
  for (const auto& n : o.result.nodes) {
    for (std::size_t i = 0; i < dropped.size(); ++i) dropped[i] += n.stats.dropped[i];
  }
  std::string refused;
  for (std::size_t i = 0; i < dropped.size(); ++i) {
    if (dropped[i] == 0) continue;
    refused += std::string(refused.empty() ? "" : ", ") + std::string(DropReasonName(static_cast<DropReason>(i))) + " " +
               std::to_string(dropped[i]);
  }
  if (!refused.empty()) std::printf("  frames refused: %s\n", refused.c_str());
  for (const auto& d : o.result.discrepancies) {
    std::printf("    node %u: %s\n", d.node, d.what.c_str());
    if (&d - o.result.discrepancies.data() >= 9) {
      std::printf("    ... %llu in all (run.json lists them)\n", static_cast<unsigned long long>(o.result.discrepancy_count));
      break;
    }
  }
  std::printf("  checks:\n");
  for (const auto& v : o.verdicts) {
    std::printf("    %s  %-40s observed %s\n", v.pass ? "PASS" : "FAIL", v.check.text.c_str(),
                v.measured ? Show(v.check, v.observed).c_str() : "not measured");
  }
  if (!out.empty()) std::printf("  record: %s/run.json\n", out.c_str());
  std::printf("  verdict: %s (%.1f s wall, %.1f simulated s per wall s)\n", o.all_checks_pass() ? "PASS" : "FAIL",
              o.info.wall_seconds,
              o.info.wall_seconds > 0 ? static_cast<double>(s.end().count()) / 1e9 / o.info.wall_seconds : 0.0);
}

// Draws report.html next to run.json with reports/html_report.py (matplotlib, Debian's python).
// PBXSTATE_REPORTS_DIR overrides where the script is looked for.
bool WriteHtmlReport(const std::string& out) {
  const char* env = std::getenv("PBXSTATE_REPORTS_DIR");
  const std::string script = std::string(env != nullptr ? env : PBXSTATE_REPORTS_DIR) + "/html_report.py";
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDOUT_FILENO);  // the script prints the path; we print it ourselves
    execl("/usr/bin/python3", "python3", script.c_str(), out.c_str(), static_cast<char*>(nullptr));
    std::perror("pbxstate run: /usr/bin/python3");
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int RunRun(const RunCommandOptions& options) {
  const scenario::LoadResult loaded = scenario::LoadScenarioFile(options.file);
  if (!loaded.ok()) {
    for (const scenario::ScenarioError& e : loaded.errors) std::cerr << e.ToString() << "\n";
    return kExitInvalid;
  }
  if (options.backend != "ns3") {
    std::cerr << "pbxstate run: --backend " << options.backend << ": only the ns3 backend is built in this version\n";
    return kExitInvalid;
  }
  const scenario::Scenario& s = *loaded.scenario;
  runner::RunOptions ro;
  ro.seed = options.seed;
  ro.out = options.out.empty() ? std::filesystem::path("out") / s.name : std::filesystem::path(options.out);
  ro.dump_state = options.dump_state;
  ro.progress = !options.quiet;
  runner::RunOutcome outcome;
  if (Status st = runner::RunNs3(s, ro, &outcome); !st.ok()) {
    std::cerr << st.message() << "\n";
    return st.code() == Status::Code::kInvalidArgument ? kExitInvalid : kExitCheckFailed;
  }
  if (!options.quiet) PrintSummary(s, outcome, ro.out->string());
  if (!options.no_report) {
    if (!WriteHtmlReport(ro.out->string())) {
      std::cerr << "pbxstate run: report.html could not be drawn (see above); run.json is complete\n";
      return kExitCheckFailed;
    }
    if (!options.quiet) std::printf("  report: %s/report.html\n", ro.out->string().c_str());
  }
  return outcome.all_checks_pass() ? kExitOk : kExitCheckFailed;
}

}  // namespace

void AddRunCommand(CLI::App& app, Action& chosen) {
  auto options = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a scenario in ns-3 and write its run record (run.json, timing.json, latencies.csv)\n"
      "to --out (default out/<scenario name>). Exit 0 when every check passes, 1 when one\n"
      "fails, 2 for an invalid scenario.");
  cmd->add_option("SCENARIO", options->file, "scenario file (YAML)")->required();
  cmd->add_option("--seed", options->seed, "seed for this run (default: the scenario's)");
  cmd->add_option("--out", options->out, "output folder");
  cmd->add_flag("--dump-state", options->dump_state, "also write state.jsonl: every node's final view and the change log");
  cmd->add_option("--backend", options->backend, "where to run: ns3")->capture_default_str();
  cmd->add_flag("-q,--quiet", options->quiet, "no progress and no summary; the exit status tells");
  cmd->add_flag("--no-report", options->no_report, "do not draw report.html");
  cmd->callback([options, &chosen] { chosen = [options] { return RunRun(*options); }; });
}

}  // namespace pbxstate::cli
