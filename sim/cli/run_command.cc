// pbxstate run SCENARIO: run a scenario in ns-3 (default) or on a real cluster of network
// namespaces (--backend netns), write its run record, print a summary. --backend ns3,netns runs
// both and prints them side by side.
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "pbxstate/gate/junit.h"
#include "pbxstate/runner/ns3_runner.h"
#ifdef PBXSTATE_WITH_NETNS
#include "pbxstate/netns/interrupt.h"
#include "pbxstate/runner/netns_runner.h"
#endif
#include "pbxstate/scenario/loader.h"
#include "report_scripts.h"
#include "run_support.h"

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
  std::string corosync_transport = "knet";  // netns
  bool crash_corosync = false;              // netns
  std::string pbxstated;                    // netns
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

// Exit status for a run that could not complete.
int FailedRunStatus(const Status& st) {
  if (st.code() == Status::Code::kInvalidArgument) return kExitInvalid;
#ifdef PBXSTATE_WITH_NETNS
  if (netns::InterruptRequested()) return 128 + netns::InterruptSignal();
#endif
  return kExitCheckFailed;
}

// Runs `s` on one backend into `out`; prints nothing but errors.
Status RunOn(const std::string& backend, const scenario::Scenario& s, const RunCommandOptions& options,
             const runner::RunOptions& ro, runner::RunOutcome* outcome) {
  if (backend == "ns3") return runner::RunNs3(s, ro, outcome);
#ifdef PBXSTATE_WITH_NETNS
  if (backend == "netns") {
    runner::NetnsOptions no;
    no.corosync_transport =
        options.corosync_transport == "udp" ? netns::CorosyncTransport::kUdp : netns::CorosyncTransport::kKnet;
    no.crash_corosync = options.crash_corosync;
    no.pbxstated = options.pbxstated;
    return runner::RunNetns(s, ro, outcome, no);
  }
#else
  (void)options;
#endif
  return Status::InvalidArgument("pbxstate run: --backend " + backend + ": not built in this version");
}

// Two backends' figures of one scenario, one row per metric.
void PrintSideBySide(const scenario::Scenario& s, const std::vector<std::pair<std::string, runner::RunOutcome>>& runs) {
  std::printf("\n%s: ", s.name.c_str());
  for (const auto& [b, o] : runs) std::printf("%s %s   ", b.c_str(), o.all_checks_pass() ? "PASS" : "FAIL");
  std::printf("\n  %-34s", "metric");
  for (const auto& [b, o] : runs) std::printf(" %14s", b.c_str());
  std::printf("\n");
  std::vector<std::string> keys = {"changes", "lost", "stale", "messages_per_change"};
  for (const char* fam : {"delivery_latency", "stable_latency", "convergence.after_heal", "convergence.after_crash",
                          "convergence.after_restart", "convergence.after_restore"}) {
    for (const char* q : {".p50", ".max"}) keys.push_back(std::string(fam) + q);
  }
  for (const std::string& k : keys) {
    bool any = false;
    for (const auto& [b, o] : runs) any = any || o.result.metrics.count(k) != 0;
    if (!any) continue;
    std::printf("  %-34s", k.c_str());
    for (const auto& [b, o] : runs) {
      auto it = o.result.metrics.find(k);
      if (it == o.result.metrics.end()) {
        std::printf(" %14s", "-");
      } else if (k.find("latency") != std::string::npos || k.find("convergence") != std::string::npos) {
        std::printf(" %14s", ShowNs(it->second).c_str());
      } else {
        std::printf(" %14.4g", it->second);
      }
    }
    std::printf("\n");
  }
}

int RunRun(const RunCommandOptions& options) {
  const scenario::LoadResult loaded = scenario::LoadScenarioFile(options.file);
  if (!loaded.ok()) {
    for (const scenario::ScenarioError& e : loaded.errors) std::cerr << e.ToString() << "\n";
    return kExitInvalid;
  }
  const scenario::Scenario& s = *loaded.scenario;
  std::vector<std::string> backends;
  for (std::size_t a = 0; a <= options.backend.size();) {
    const std::size_t b = std::min(options.backend.find(',', a), options.backend.size());
    backends.push_back(options.backend.substr(a, b - a));
    a = b + 1;
  }
  for (const std::string& b : backends) {
    if (b != "ns3" && b != "netns") {
      std::cerr << "pbxstate run: --backend " << options.backend << ": expected ns3, netns or ns3,netns\n";
      return kExitInvalid;
    }
  }
  if (options.corosync_transport != "knet" && options.corosync_transport != "udp") {
    std::cerr << "pbxstate run: --corosync-transport " << options.corosync_transport << ": expected knet or udp\n";
    return kExitInvalid;
  }
  const std::filesystem::path base = options.out.empty() ? std::filesystem::path("out") / s.name : std::filesystem::path(options.out);
#ifdef PBXSTATE_WITH_NETNS
  // Refuse what a backend cannot do before any backend starts.
  for (const std::string& b : backends) {
    if (b != "netns") continue;
    scenario::Scenario seeded = s;
    if (options.seed) seeded.seed = *options.seed;
    if (Status st = runner::CheckNetnsSupport(seeded); !st.ok()) {
      std::cerr << st.message() << "\n";
      return kExitInvalid;
    }
  }
#endif
  std::vector<std::pair<std::string, runner::RunOutcome>> done;
  bool all_pass = true;
  bool pages_drawn = true;  // false: exit 2 whatever the verdict (report_scripts.h, DrawRunPage)
  for (const std::string& backend : backends) {
    runner::RunOptions ro;
    ro.seed = options.seed;
    ro.out = backends.size() == 1 ? base : base / backend;
    ro.dump_state = options.dump_state;
    ro.progress = !options.quiet;
    runner::RunOutcome outcome;
    if (Status st = RunOn(backend, s, options, ro, &outcome); !st.ok()) {
      std::cerr << st.message() << "\n";
      return FailedRunStatus(st);
    }
    if (!options.quiet) PrintSummary(s, outcome, ro.out->string());
    gate::JUnitSuite suite{s.name, outcome.info.wall_seconds, RunProperties(options.file, outcome),
                           gate::CasesForChecks(s.name, outcome.verdicts)};
    if (std::string error; !gate::WriteJUnit(*ro.out / "junit.xml", {suite}, &error)) {
      std::cerr << "pbxstate run: " << error << "\n";
      return kExitCheckFailed;
    }
    all_pass = all_pass && outcome.all_checks_pass();
    if (!options.no_report) {
      // When it fails, the other backends still run: the record of this one is complete.
      const std::string dir = ro.out->string();
      if (!DrawRunPage("run", "html_report.py", dir, dir + "/report.html", outcome.all_checks_pass(), dir)) {
        pages_drawn = false;
      } else if (!options.quiet) {
        std::printf("  report: %s/report.html\n", dir.c_str());
      }
    }
    done.emplace_back(backend, std::move(outcome));
  }
  // The default output folder collects runs side by side: keep its index page current.
  const std::string parent = base.parent_path().string();
  if (!options.no_report && options.out.empty() &&
      !DrawRunPage("run", "index_report.py", parent, parent + "/index.html", all_pass, base.string())) {
    pages_drawn = false;
  }
  if (done.size() > 1 && !options.quiet) PrintSideBySide(s, done);
  if (!pages_drawn) return kExitInvalid;
  return all_pass ? kExitOk : kExitCheckFailed;
}

}  // namespace

void AddRunCommand(CLI::App& app, Action& chosen) {
  auto options = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a scenario in ns-3 (or, with --backend netns, on a real cluster of network namespaces\n"
      "on this host: root) and write its run record (run.json, timing.json, latencies.csv,\n"
      "junit.xml, report.html) to --out (default out/<scenario name>, listed in out/index.html;\n"
      "with two backends, one folder each under it).\n"
      "Exit 0 when every check passes, 1 when one fails or the run could not complete, 2 for an\n"
      "invalid scenario or one the backend cannot run, or when a page (report.html, index.html)\n"
      "could not be drawn although the run completed (the message gives the verdict), 128+N when\n"
      "interrupted by signal N.");
  cmd->add_option("SCENARIO", options->file, "scenario file (YAML)")->required();
  cmd->add_option("--seed", options->seed, "seed for this run (default: the scenario's)");
  cmd->add_option("--out", options->out, "output folder");
  cmd->add_flag("--dump-state", options->dump_state, "also write state.jsonl: every node's final view and the change log");
  cmd->add_option("--backend", options->backend,
                  "where to run: ns3 (simulated), netns (real corosync + pbxstated per network namespace), "
                  "or ns3,netns (both, side by side)")
      ->capture_default_str();
  cmd->add_option("--corosync-transport", options->corosync_transport,
                  "netns: corosync's transport, knet (unicast) or udp (multicast)")
      ->capture_default_str();
  cmd->add_flag("--crash-corosync", options->crash_corosync,
                "netns: a crash also kills the node's corosync (detection by totem's token instead of CPG)");
  cmd->add_option("--pbxstated", options->pbxstated, "netns: the daemon binary (default: this build's, $PBXSTATED, PATH)");
  cmd->add_flag("-q,--quiet", options->quiet, "no progress and no summary; the exit status tells");
  cmd->add_flag("--no-report", options->no_report, "do not draw report.html");
  cmd->callback([options, &chosen] { chosen = [options] { return RunRun(*options); }; });
}

}  // namespace pbxstate::cli
