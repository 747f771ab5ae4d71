#include "pbxstate/swarm/swarm.h"

#include <chrono>
#include <fstream>
#include <system_error>

#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/writer.h"

namespace pbxstate::swarm {
namespace {

using scenario::Scenario;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::FailedPrecondition("cannot write " + path.string());
  return Status::Ok();
}

// `s` written and loaded back, or nullopt (and why in *problem) when the file would not say
// exactly `s`.
std::optional<Scenario> LoadedBack(const Scenario& s, std::string* problem) {
  std::string text;
  if (Status st = scenario::WriteScenario(s, &text); !st.ok()) {
    *problem = "generator: not writable: " + st.message();
    return std::nullopt;
  }
  scenario::LoadResult loaded = scenario::LoadScenarioString(text, s.file);
  if (!loaded.ok()) {
    *problem = "generator: invalid scenario: " + loaded.errors.front().ToString();
    return std::nullopt;
  }
  if (!scenario::SameScenario(s, *loaded.scenario)) {
    *problem = "generator: does not load back equal";
    return std::nullopt;
  }
  return std::move(*loaded.scenario);
}

Verdict Judged(const Scenario& s, const SwarmOptions& options) {
  Verdict v = RunAndJudge(s, options.backend);
  return options.judge_hook ? options.judge_hook(s, v) : v;
}

// Writes <seed>.yaml and, shrunk, <seed>.min.yaml.
Status WriteFailure(const Scenario& s, const SwarmOptions& options, SeedFailure* failure, double* shrink_seconds) {
  const std::string seed = std::to_string(failure->seed);
  failure->file = options.out / (seed + ".yaml");
  if (Status st = WriteFile(failure->file, FailureFileText(s, options.backend, failure->verdict, "")); !st.ok()) {
    return st;
  }
  if (!options.shrink) return Status::Ok();
  const auto start = Clock::now();
  const std::string primary = failure->verdict.primary();
  const Scenario smallest = Shrink(
      s, [&](const Scenario& c) { return Judged(c, options).Shows(primary); }, options.shrink_options,
      &failure->shrink_stats);
  *shrink_seconds += Since(start);
  failure->shrunk = SizeOf(smallest);
  failure->min_file = options.out / (seed + ".min.yaml");
  const std::string note = "shrunk from " + failure->file.filename().string() + " (" + failure->size.ToString() +
                           ") in " + std::to_string(failure->shrink_stats.runs) + " runs" +
                           (failure->shrink_stats.bounded ? ", stopped by the shrink budget" : "");
  return WriteFile(failure->min_file, FailureFileText(smallest, options.backend, Judged(smallest, options), note));
}

}  // namespace

GeneratorOptions GeneratorOptionsFor(Backend backend, std::optional<MembershipSource> membership) {
  GeneratorOptions g;
  g.membership = membership;
  if (backend == Backend::kNs3) {
    g.membership = MembershipSource::kHeartbeat;  // ns-3 has no membership service
    g.frame_faults = false;
  }
  return g;
}

std::string FailureFileText(const Scenario& s, Backend backend, const Verdict& verdict, const std::string& note) {
  std::string text = "# pbxstate swarm, seed " + std::to_string(s.seed) + " on " + std::string(BackendName(backend)) +
                     ": " + (verdict.failed() ? verdict.primary() : "passed") + "\n";
  if (!note.empty()) text += "# " + note + "\n";
  for (std::size_t i = 0; i < verdict.details.size() && i < 10; ++i) text += "#   " + verdict.details[i] + "\n";
  text += "# replay: pbxstate run --backend " + std::string(BackendName(backend)) + " THIS_FILE\n";
  std::string body;
  if (Status st = scenario::WriteScenario(s, &body); !st.ok()) body = "# (not writable: " + st.message() + ")\n";
  return text + body;
}

Status RunSwarm(const SwarmOptions& options, const SwarmProgress& progress, SwarmReport* report) {
  *report = {};
  if (!options.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.out, ec);
    if (ec) return Status::FailedPrecondition("cannot create " + options.out.string() + ": " + ec.message());
  }
  const auto start = Clock::now();
  double shrink_seconds = 0;
  for (std::uint64_t i = 0; i < options.seeds; ++i) {
    if (options.max_seconds > 0 && Since(start) - shrink_seconds >= options.max_seconds) {
      report->stopped_by_time = true;
      break;
    }
    SeedFailure failure;
    failure.seed = options.first_seed + i;
    // Run as generated (writing and loading every seed would double its cost); a failure is
    // replayed from its file below, which proves the file says what ran.
    const Scenario generated = GenerateScenario(failure.seed, GeneratorOptionsFor(options.backend, options.membership));
    failure.verdict = Judged(generated, options);
    ++report->seeds_run;
    if (!failure.verdict.failed()) {
      report->seconds = Since(start) - shrink_seconds;
      if (progress) progress(*report, nullptr);
      continue;
    }
    failure.size = SizeOf(generated);
    std::string problem;
    const std::optional<Scenario> s = LoadedBack(generated, &problem);
    if (!s) {
      failure.verdict.classes.insert(failure.verdict.classes.begin(), problem);
    } else if (const Verdict replay = Judged(*s, options); !replay.Shows(failure.verdict.primary())) {
      failure.verdict.classes.insert(failure.verdict.classes.begin(), "replay: the written scenario does not fail the same way");
      failure.verdict.details.push_back("replayed: " + (replay.failed() ? replay.primary() : std::string("passed")));
    } else if (!options.out.empty()) {
      if (Status st = WriteFailure(*s, options, &failure, &shrink_seconds); !st.ok()) return st;
    }
    report->failures.push_back(std::move(failure));
    report->seconds = Since(start) - shrink_seconds;
    report->shrink_seconds = shrink_seconds;
    if (progress) progress(*report, &report->failures.back());
  }
  report->seconds = Since(start) - shrink_seconds;
  report->shrink_seconds = shrink_seconds;
  return Status::Ok();
}

}  // namespace pbxstate::swarm
