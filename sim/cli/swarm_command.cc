// pbxstate swarm: random scenarios from seeds on the in-process cluster (or ns-3), each judged
// by the harness's oracle; every failure written as a scenario file and shrunk (sim/swarm).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "pbxstate/swarm/swarm.h"

namespace pbxstate::cli {
namespace {

struct SwarmCommandOptions {
  std::uint64_t seeds = 1000;
  std::uint64_t first_seed = 1;
  double seconds = 0;
  std::string backend = "inproc";
  std::string membership = "both";
  std::string out = "out/swarm";
  bool no_shrink = false;
  std::size_t shrink_runs = 2000;
  double shrink_seconds = 300;
  bool quiet = false;
};

// A bar on a terminal, redrawn at most ten times a second; elsewhere a line per tenth of the
// seeds. Failures always get a line of their own.
class Progress {
 public:
  Progress(std::uint64_t total, bool quiet) : total_(total), quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}

  void Update(const swarm::SwarmReport& r, const swarm::SeedFailure* failure) {
    if (failure != nullptr) {
      Clear();
      std::fprintf(stderr, "seed %llu FAILED: %s\n", static_cast<unsigned long long>(failure->seed),
                   failure->verdict.primary().c_str());
      if (!failure->file.empty()) std::fprintf(stderr, "  %s (%s)\n", failure->file.c_str(), failure->size.ToString().c_str());
      if (failure->shrunk) {
        std::fprintf(stderr, "  %s (%s, %zu runs)\n", failure->min_file.c_str(), failure->shrunk->ToString().c_str(),
                     failure->shrink_stats.runs);
      }
    }
    if (quiet_) return;
    if (tty_) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_ < std::chrono::milliseconds(100) && r.seeds_run != total_ && failure == nullptr) return;
      last_ = now;
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(kWidth * r.seeds_run / std::max<std::uint64_t>(total_, 1));
      std::fprintf(stderr, "\r[%s%s] %llu/%llu seeds, %zu failed, %.1f seeds/s ", std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, ' ').c_str(), static_cast<unsigned long long>(r.seeds_run),
                   static_cast<unsigned long long>(total_), r.failures.size(), r.seeds_per_second());
      drawn_ = true;
    } else if (r.seeds_run * 10 / std::max<std::uint64_t>(total_, 1) != printed_tenth_) {
      printed_tenth_ = r.seeds_run * 10 / std::max<std::uint64_t>(total_, 1);
      std::fprintf(stderr, "%llu/%llu seeds, %zu failed, %.1f seeds/s\n", static_cast<unsigned long long>(r.seeds_run),
                   static_cast<unsigned long long>(total_), r.failures.size(), r.seeds_per_second());
    }
  }

  void Clear() {
    if (drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  const std::uint64_t total_;
  const bool quiet_, tty_;
  bool drawn_ = false;
  std::uint64_t printed_tenth_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

int RunSwarmCommand(const SwarmCommandOptions& o) {
  swarm::SwarmOptions so;
  so.first_seed = o.first_seed;
  so.seeds = o.seeds;
  so.max_seconds = o.seconds;
  so.backend = o.backend == "ns3" ? swarm::Backend::kNs3 : swarm::Backend::kInproc;
  if (o.membership == "heartbeat") so.membership = MembershipSource::kHeartbeat;
  if (o.membership == "transport") so.membership = MembershipSource::kTransport;
  if (so.backend == swarm::Backend::kNs3 && so.membership == MembershipSource::kTransport) {
    std::fprintf(stderr, "pbxstate swarm: --membership transport: the ns-3 backend has no membership service\n");
    return kExitInvalid;
  }
  so.out = o.out;
  so.shrink = !o.no_shrink;
  so.shrink_options.max_runs = o.shrink_runs;
  so.shrink_options.max_seconds = o.shrink_seconds;
  Progress progress(o.seeds, o.quiet);
  swarm::SwarmReport report;
  const Status st = swarm::RunSwarm(
      so, [&](const swarm::SwarmReport& r, const swarm::SeedFailure* f) { progress.Update(r, f); }, &report);
  progress.Clear();
  if (!st.ok()) {
    std::fprintf(stderr, "pbxstate swarm: %s\n", st.message().c_str());
    return kExitCheckFailed;
  }
  std::printf("%llu seeds (%llu..%llu) on %s in %.1f s: %.1f seeds/s; %zu failed%s\n",
              static_cast<unsigned long long>(report.seeds_run), static_cast<unsigned long long>(o.first_seed),
              static_cast<unsigned long long>(o.first_seed + report.seeds_run - (report.seeds_run > 0 ? 1 : 0)),
              std::string(swarm::BackendName(so.backend)).c_str(), report.seconds, report.seeds_per_second(),
              report.failures.size(), report.stopped_by_time ? " (stopped by --seconds)" : "");
  for (const swarm::SeedFailure& f : report.failures) {
    std::printf("  seed %llu: %s\n", static_cast<unsigned long long>(f.seed), f.verdict.primary().c_str());
    for (std::size_t i = 0; i < f.verdict.details.size() && i < 5; ++i) std::printf("    %s\n", f.verdict.details[i].c_str());
    if (!f.file.empty()) std::printf("    %s: %s\n", f.file.c_str(), f.size.ToString().c_str());
    if (f.shrunk) std::printf("    %s: %s\n", f.min_file.c_str(), f.shrunk->ToString().c_str());
  }
  return report.failures.empty() ? kExitOk : kExitCheckFailed;
}

}  // namespace

void AddSwarmCommand(CLI::App& app, Action& chosen) {
  auto o = std::make_shared<SwarmCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "swarm",
      "Run random scenarios, one per seed, on the in-process cluster (or ns-3) and judge each with\n"
      "the harness's oracle. Every failing seed is written to --out as <seed>.yaml and, shrunk\n"
      "(fewer faults, changes, nodes, settings, time, same failure), as <seed>.min.yaml; both\n"
      "replay with `pbxstate run --backend inproc FILE`. Prints seeds per second at the end.\n"
      "Exit " + std::to_string(kExitOk) + " when every seed passes, " + std::to_string(kExitCheckFailed) +
          " when one fails, " + std::to_string(kExitInvalid) + " for a usage error.");
  cmd->add_option("--seeds", o->seeds, "seeds to run")->capture_default_str()->check(CLI::Range(1ULL, 100'000'000ULL));
  cmd->add_option("--first-seed", o->first_seed, "the first seed")->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "stop after this much wall time (0: run every seed)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--backend", o->backend, "inproc or ns3")->capture_default_str()->check(CLI::IsMember({"inproc", "ns3"}));
  cmd->add_option("--membership", o->membership, "heartbeat, transport, or both (drawn per seed)")
      ->capture_default_str()
      ->check(CLI::IsMember({"heartbeat", "transport", "both"}));
  cmd->add_option("--out", o->out, "folder for failing scenarios")->capture_default_str();
  cmd->add_flag("--no-shrink", o->no_shrink, "write failing scenarios without shrinking them");
  cmd->add_option("--shrink-runs", o->shrink_runs, "runs a shrink may take, at most")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  cmd->add_option("--shrink-seconds", o->shrink_seconds, "wall time a shrink may take, at most")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 1e6));
  cmd->add_flag("-q,--quiet", o->quiet, "no progress; failures and the summary only");
  cmd->callback([o, &chosen] { chosen = [o] { return RunSwarmCommand(*o); }; });
}

}  // namespace pbxstate::cli
