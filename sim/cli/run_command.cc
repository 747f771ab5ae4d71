// pbxstate run SCENARIO: run a scenario in ns-3 (default), on the in-process cluster (--backend
// inproc), on a real cluster of network namespaces (--backend netns), or on real daemons attached
// to the scenario's ns-3 network in real time (--backend emu); write its run record, print a
// summary. --backend ns3,netns (or ns3,emu) runs both and prints them side by side.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "commands.h"
#include "pbxstate/gate/junit.h"
#include "pbxstate/runner/inproc_runner.h"
#include "pbxstate/runner/ns3_runner.h"
#ifdef PBXSTATE_WITH_NETNS
#include "pbxstate/netns/interrupt.h"
#include "pbxstate/runner/netns_runner.h"
#endif
#ifdef PBXSTATE_WITH_EMU
#include "pbxstate/runner/emu_runner.h"
#endif
#include "pbxstate/scenario/check.h"
#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/units.h"
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
  std::string corosync_transport;  // empty: the scenario's corosync.transport (default knet)
  bool crash_corosync = false;     // as corosync.crash: node
  int repeat = 1;                  // runs of each non-deterministic backend (netns, emu)
  std::string pbxstated;           // netns, emu
  std::string max_lag = "10ms";    // emu
  int emu_priority = 50;           // emu
  bool emu_corosync_rr = false;    // emu: corosync at its own SCHED_RR 99
  bool emu_no_mlock = false;       // emu: leave the harness's memory unlocked
  bool emu_no_lifeguard = false;   // emu: no lifeguard for the simulation thread
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
  if (const auto& l = o.info.realtime) {
    std::printf("  real-time lag     worst %-9s p99 %-9s p50 %-9s (%llu probes, bound %s)%s\n",
                ShowNs(static_cast<double>(l->worst.count())).c_str(), ShowNs(static_cast<double>(l->p99.count())).c_str(),
                ShowNs(static_cast<double>(l->p50.count())).c_str(), static_cast<unsigned long long>(l->probes),
                ShowNs(static_cast<double>(l->bound.count())).c_str(), l->valid() ? "" : "  INVALID");
  }
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
    if (!v.applicable()) {
      std::printf("    N/A   %-40s %s\n", v.check.text.c_str(), v.not_applicable.c_str());
      continue;
    }
    std::printf("    %s  %-40s observed %s", v.pass ? "PASS" : "FAIL", v.check.text.c_str(),
                v.measured ? Show(v.check, v.observed).c_str() : "not measured");
    // A bound written with "detection": the number it came to for this run's membership.
    if (v.detection) {
      std::printf(" (bound %s, detection %s)", Show(v.check, v.check.threshold).c_str(),
                  Show(v.check, static_cast<double>(v.detection->count())).c_str());
    }
    std::printf("\n");
  }
  if (!out.empty()) std::printf("  record: %s/run.json\n", out.c_str());
  std::printf("  verdict: %s (%.1f s wall, %.1f simulated s per wall s)\n",
              !o.invalid.empty() ? "INVALID" : o.all_checks_pass() ? "PASS" : "FAIL",
              o.info.wall_seconds,
              o.info.wall_seconds > 0 ? static_cast<double>(o.info.end.count()) / 1e9 / o.info.wall_seconds : 0.0);
}

// Exit status for a run that could not complete.
int FailedRunStatus(const Status& st) {
  if (st.code() == Status::Code::kInvalidArgument) return kExitInvalid;
#ifdef PBXSTATE_WITH_NETNS
  if (netns::InterruptRequested()) return kExitInterruptedBase + netns::InterruptSignal();
#endif
  return kExitCheckFailed;
}

#ifdef PBXSTATE_WITH_EMU
// The emulation backend's options; --max-lag is checked by RunRun first.
runner::EmuOptions EmuOptionsOf(const RunCommandOptions& options) {
  runner::EmuOptions eo;
  eo.netns.corosync_transport =
      options.corosync_transport == "udp" ? netns::CorosyncTransport::kUdp : netns::CorosyncTransport::kKnet;
  eo.netns.crash_corosync = options.crash_corosync;
  eo.netns.pbxstated = options.pbxstated;
  eo.max_lag = scenario::ParseDuration(options.max_lag).value_or(eo.max_lag);
  eo.realtime_priority = options.emu_priority;
  eo.corosync_sched_rr = options.emu_corosync_rr;
  eo.lock_memory = !options.emu_no_mlock;
  eo.lifeguard = !options.emu_no_lifeguard;
  return eo;
}
#endif

// The scenario as the command line amends it: --corosync-transport and --crash-corosync act on
// its corosync: section (so ns3 and netns run the same Corosync cluster); without one they change
// nothing the ns-3 backend does.
scenario::Scenario Amended(const scenario::Scenario& s, const RunCommandOptions& options) {
  scenario::Scenario out = s;
  if (!out.corosync) return out;
  if (!options.corosync_transport.empty()) {
    out.corosync->totem.transport = options.corosync_transport == "udp" ? totem::Transport::kUdp : totem::Transport::kKnet;
  }
  if (options.crash_corosync) out.corosync->crash = scenario::CrashKills::kNode;
  return out;
}

// Runs `s` on one backend into `out`; prints nothing but errors.
Status RunOn(const std::string& backend, const scenario::Scenario& s_in, const RunCommandOptions& options,
             const runner::RunOptions& ro, runner::RunOutcome* outcome) {
  const scenario::Scenario s = Amended(s_in, options);
  if (backend == "ns3") return runner::RunNs3(s, ro, outcome);
  if (backend == "inproc") return runner::RunInproc(s, ro, outcome);
#ifdef PBXSTATE_WITH_NETNS
  runner::NetnsOptions no;
  no.corosync_transport = s.corosync ? s.corosync->totem.transport
                          : options.corosync_transport == "udp" ? netns::CorosyncTransport::kUdp
                                                                : netns::CorosyncTransport::kKnet;
  no.crash_corosync = options.crash_corosync || (s.corosync && s.corosync->crash == scenario::CrashKills::kNode);
  no.pbxstated = options.pbxstated;
  if (backend == "netns") return runner::RunNetns(s, ro, outcome, no);
#ifdef PBXSTATE_WITH_EMU
  if (backend == "emu") {
    runner::EmuOptions eo = EmuOptionsOf(options);
    eo.netns = no;  // the same real processes as netns, with the same corosync
    return runner::RunEmu(s, ro, outcome, eo);
  }
#endif
#else
  (void)options;
#endif
  return Status::InvalidArgument("pbxstate run: --backend " + backend + ": not built in this version");
}

// What `backend` refuses in `s` (run with `seed` when given), before anything runs.
Status CheckSupport(const std::string& backend, const scenario::Scenario& s, std::optional<std::uint64_t> seed) {
  scenario::Scenario seeded = s;
  if (seed) seeded.seed = *seed;
  if (backend == "ns3") return runner::CheckNs3Support(seeded);
  if (backend == "inproc") return runner::CheckInprocSupport(seeded);
#ifdef PBXSTATE_WITH_NETNS
  if (backend == "netns") return runner::CheckNetnsSupport(seeded);
#endif
  return Status::Ok();
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

// One run of `s` on `backend` into `out`: its record, JUnit and report; prints its summary.
// Returns the exit status of a run that could not complete, else kExitOk (whatever its checks).
// A report page that could not be drawn leaves the run complete: *page_drawn becomes false
// (DrawRunPage said why) and the caller exits kExitInvalid once every run is done.
// A run recorded but not a valid measurement (emu's lag) gets a failing JUnit case and its reason
// appended to *invalid; the caller exits kExitInvalid.
int RunOnce(const std::string& backend, const scenario::Scenario& s, const RunCommandOptions& options,
            const std::filesystem::path& out, runner::RunOutcome* outcome, bool* page_drawn,
            std::vector<std::string>* invalid) {
  runner::RunOptions ro;
  ro.seed = options.seed;
  ro.out = out;
  ro.dump_state = options.dump_state;
  ro.progress = !options.quiet;
  if (Status st = RunOn(backend, s, options, ro, outcome); !st.ok()) {
    std::cerr << st.message() << "\n";
    return FailedRunStatus(st);
  }
  if (!options.quiet) PrintSummary(s, *outcome, out.string());
  gate::JUnitSuite suite{s.name, outcome->info.wall_seconds, RunProperties(options.file, *outcome),
                         gate::CasesForChecks(s.name, outcome->verdicts)};
  if (!outcome->invalid.empty()) {
    suite.cases.push_back({"pbxstate." + s.name + ".backend", "valid measurement", outcome->invalid, "", std::nullopt});
    invalid->push_back(backend + ": " + outcome->invalid);
  }
  if (std::string error; !gate::WriteJUnit(out / "junit.xml", {suite}, &error)) {
    std::cerr << "pbxstate run: " << error << "\n";
    return kExitCheckFailed;
  }
  if (!options.no_report) {
    const std::string dir = out.string();
    if (!DrawRunPage("run", "html_report.py", dir, dir + "/report.html", outcome->all_checks_pass(), dir)) {
      *page_drawn = false;
    } else if (!options.quiet) {
      std::printf("  report: %s/report.html\n", dir.c_str());
    }
  }
  return kExitOk;
}

// The simulation against the real runs: the calibration table on stdout (reports/calibration.py)
// and, with reports, base/compare.html with it. Returns false when either could not be drawn
// (said on stderr); the runs themselves are complete.
bool Calibrate(const std::filesystem::path& base, const std::string& sim, const std::vector<std::string>& real,
               const RunCommandOptions& options) {
  std::vector<std::string> args = {sim};
  args.insert(args.end(), real.begin(), real.end());
  if (!options.quiet) {
    std::printf("\n");
    if (const ScriptOutcome table = RunReportScript("calibration.py", args, false); !table) {
      std::cerr << "pbxstate run: the calibration table could not be drawn (" << table.failure << ")\n";
      return false;
    }
  }
  if (options.no_report) return true;
  const std::string page = (base / "compare.html").string();
  args.push_back("--out");
  args.push_back(page);
  if (const ScriptOutcome drawn = RunReportScript("compare_report.py", args, true); !drawn) {
    std::cerr << "pbxstate run: " << page << " could not be drawn (" << drawn.failure << ")\n";
    return false;
  }
  if (!options.quiet) std::printf("  calibration page: %s\n", page.c_str());
  return true;
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
    // The backend names' one list is the scenario's (a check's `backends` reads the same one).
    if (std::find(scenario::kBackendNames.begin(), scenario::kBackendNames.end(), b) == scenario::kBackendNames.end()) {
      std::cerr << "pbxstate run: --backend " << options.backend << ": expected "
                << scenario::BackendNameList() << " or a comma-separated list of them (ns3,emu)\n";
      return kExitInvalid;
    }
  }
  if (auto lag = scenario::ParseDuration(options.max_lag); !lag || *lag <= Duration::zero()) {
    std::cerr << "pbxstate run: --max-lag " << options.max_lag << ": expected a positive duration (10ms, 500us)\n";
    return kExitInvalid;
  }
  if (options.emu_priority < 0 || options.emu_priority > 98) {
    std::cerr << "pbxstate run: --emu-priority " << options.emu_priority << ": expected 0 (ordinary scheduling) .. 98\n";
    return kExitInvalid;
  }
  if (!options.corosync_transport.empty() && options.corosync_transport != "knet" && options.corosync_transport != "udp") {
    std::cerr << "pbxstate run: --corosync-transport " << options.corosync_transport << ": expected knet or udp\n";
    return kExitInvalid;
  }
  const std::filesystem::path base = options.out.empty() ? std::filesystem::path("out") / s.name : std::filesystem::path(options.out);
  // Refuse what a backend cannot do before any backend starts.
  for (const std::string& b : backends) {
    if (Status st = CheckSupport(b, s, options.seed); !st.ok()) {
      std::cerr << st.message() << "\n";
      return kExitInvalid;
    }
  }
#ifdef PBXSTATE_WITH_EMU
  for (const std::string& b : backends) {
    if (b != "emu") continue;
    scenario::Scenario seeded = s;
    if (options.seed) seeded.seed = *options.seed;
    if (Status st = runner::CheckEmuSupport(seeded, EmuOptionsOf(options)); !st.ok()) {
      std::cerr << st.message() << "\n";
      return kExitInvalid;
    }
  }
#endif
  std::vector<std::pair<std::string, runner::RunOutcome>> done;
  std::map<std::string, std::vector<std::string>> dirs;  // by backend, every run's folder
  bool all_pass = true;
  std::vector<std::string> invalid;  // runs recorded but not valid measurements
  bool pages_drawn = true;  // false: exit 2 whatever the verdict (report_scripts.h, DrawRunPage)
  for (const std::string& backend : backends) {
    // ns3 and inproc are deterministic: one run says it all. netns and emu run --repeat times,
    // into 1..N.
    const int runs = backend == "netns" || backend == "emu" ? options.repeat : 1;
    const std::filesystem::path dir = backends.size() == 1 ? base : base / backend;
    for (int i = 1; i <= runs; ++i) {
      const std::filesystem::path out = runs == 1 ? dir : dir / std::to_string(i);
      runner::RunOutcome outcome;
      if (const int code = RunOnce(backend, s, options, out, &outcome, &pages_drawn, &invalid); code != kExitOk) return code;
      all_pass = all_pass && outcome.all_checks_pass();
      dirs[backend].push_back(out.string());
      if (i == 1) done.emplace_back(backend, std::move(outcome));
    }
  }
  // The default output folder collects runs side by side: keep its index page current.
  const std::string parent = base.parent_path().string();
  if (!options.no_report && options.out.empty() &&
      !DrawRunPage("run", "index_report.py", parent, parent + "/index.html", all_pass, base.string())) {
    pages_drawn = false;
  }
  if (done.size() > 1 && !options.quiet && options.repeat == 1) PrintSideBySide(s, done);
  for (const char* real : {"netns", "emu"}) {
    if (dirs.count("ns3") != 0 && dirs.count(real) != 0) {
      pages_drawn = Calibrate(base, dirs["ns3"].front(), dirs[real], options) && pages_drawn;
    }
  }
  if (!invalid.empty()) {
    for (const std::string& why : invalid) std::cerr << "pbxstate run: invalid run (recorded, not a measurement): " << why << "\n";
    return kExitInvalid;
  }
  if (!pages_drawn) return kExitInvalid;
  return all_pass ? kExitOk : kExitCheckFailed;
}

}  // namespace

void AddRunCommand(CLI::App& app, Action& chosen) {
  auto options = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a scenario in ns-3 (or, with --backend inproc, on the in-process cluster; with --backend\n"
      "netns, on a real cluster of network namespaces on this host: root; with --backend emu, on the\n"
      "same real daemons attached to the scenario's ns-3 network running in real time: root,\n"
      "/dev/net/tun) and write its run record (run.json, timing.json, latencies.csv,\n"
      "junit.xml, report.html) to --out (default out/<scenario name>, listed in out/index.html;\n"
      "with two backends, one folder each under it).\n"
      "Exit " + std::to_string(kExitOk) + " when every check passes, " + std::to_string(kExitCheckFailed) +
          " when one fails or the run could not complete, " + std::to_string(kExitInvalid) + " for an\n"
          "invalid scenario or one the backend cannot run, an emulated run whose real-time lag exceeded\n"
          "--max-lag (recorded, but not a measurement), or when a page (report.html, index.html, the\n"
          "calibration table and compare.html of ns3,netns or ns3,emu) could not be drawn although the\n"
          "run completed (the message gives the verdict), " + std::to_string(kExitInterruptedBase) +
          "+N when interrupted by signal N.");
  cmd->add_option("SCENARIO", options->file, "scenario file (YAML)")->required();
  cmd->add_option("--seed", options->seed, "seed for this run (default: the scenario's)");
  cmd->add_option("--out", options->out, "output folder");
  cmd->add_flag("--dump-state", options->dump_state, "also write state.jsonl: every node's final view and the change log");
  cmd->add_option("--backend", options->backend,
                  "where to run: ns3 (simulated network), inproc (every engine in this process on a virtual "
                  "clock: deterministic, fast, no bandwidth), netns (real corosync + pbxstated per network "
                  "namespace), emu (the same real processes on the scenario's ns-3 network in real time: WAN, "
                  "jitter, delay on any kernel), or several, comma-separated (ns3,netns; ns3,emu: side by side)")
      ->capture_default_str();
  cmd->add_option("--corosync-transport", options->corosync_transport,
                  "netns, emu: corosync's transport, knet (unicast) or udp (multicast); default: the "
                  "scenario's corosync.transport (knet)");
  cmd->add_flag("--crash-corosync", options->crash_corosync,
                "netns, emu: a crash also kills the node's corosync (detection by totem's token instead of "
                "CPG), as corosync.crash: node");
  cmd->add_option("--repeat", options->repeat,
                  "runs of the netns or emu backend (each into <out>/<backend>/1..N); with ns3,netns or\n"
                  "ns3,emu the calibration table compares the simulation with their median and spread")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--pbxstated", options->pbxstated, "netns, emu: the daemon binary (default: this build's, $PBXSTATED, PATH)");
  cmd->add_option("--max-lag", options->max_lag,
                  "emu: the largest lag of the emulator behind the wall clock a valid run may have; above it the "
                  "run is recorded but invalid (exit " + std::to_string(kExitInvalid) + ")")
      ->capture_default_str();
  cmd->add_option("--emu-priority", options->emu_priority,
                  "emu: SCHED_FIFO priority of the emulator's thread, 0 for ordinary scheduling")
      ->capture_default_str();
  cmd->add_flag("--emu-corosync-rr", options->emu_corosync_rr,
                "emu: let every corosync run at SCHED_RR 99 as it does by default (above the emulator); without it "
                "they run at ordinary scheduling, below the emulator");
  cmd->add_flag("--emu-no-mlock", options->emu_no_mlock,
                "emu: do not lock the harness's memory while the emulator runs (it does by default, so the host's "
                "other work cannot page it out)");
  cmd->add_flag("--emu-no-lifeguard", options->emu_no_lifeguard,
                "emu: no lifeguard moving the emulator's thread to another CPU when an ordinary task's system call "
                "holds it (sim/emu/README.md)");
  cmd->add_flag("-q,--quiet", options->quiet, "no progress and no summary; the exit status tells");
  cmd->add_flag("--no-report", options->no_report, "do not draw report.html");
  cmd->callback([options, &chosen] { chosen = [options] { return RunRun(*options); }; });
}

}  // namespace pbxstate::cli
