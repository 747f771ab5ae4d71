// pbxstate validate FILE...: load and check scenarios without running anything: every check the
// loader makes (which includes EngineConfig::Validate for every node) and, in a build with the
// runners, what the chosen backend refuses before it starts (the same functions `run` calls).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "pbxstate/scenario/check.h"
#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/units.h"
#ifdef PBXSTATE_WITH_NS3
#include "pbxstate/runner/inproc_runner.h"
#include "pbxstate/runner/ns3_runner.h"
#endif
#ifdef PBXSTATE_WITH_NETNS
#include "pbxstate/runner/netns_runner.h"
#endif
#ifdef PBXSTATE_WITH_EMU
#include "pbxstate/runner/emu_runner.h"
#endif

namespace pbxstate::cli {
namespace {

struct ValidateOptions {
  std::vector<std::string> files;
  bool quiet = false;
#ifdef PBXSTATE_WITH_NS3
  std::string backend = "ns3";  // as `run`'s default
#else
  std::string backend = "none";  // a build without ns-3 has no runner to ask
#endif
};

// The backends of "--backend a,b" with what each refuses; empty (and a message) when one is
// unknown or not built.
std::vector<std::pair<std::string, Status (*)(const scenario::Scenario&)>> Backends(
    const std::string& list) {
  std::vector<std::pair<std::string, Status (*)(const scenario::Scenario&)>> out;
  for (std::size_t a = 0; a <= list.size();) {
    const std::size_t b = std::min(list.find(',', a), list.size());
    const std::string name = list.substr(a, b - a);
    a = b + 1;
#ifdef PBXSTATE_WITH_NS3
    if (name == "ns3") {
      out.emplace_back(name, &runner::CheckNs3Support);
      continue;
    }
    if (name == "inproc") {
      out.emplace_back(name, &runner::CheckInprocSupport);
      continue;
    }
#endif
#ifdef PBXSTATE_WITH_NETNS
    if (name == "netns") {
      out.emplace_back(name, &runner::CheckNetnsSupport);
      continue;
    }
#endif
#ifdef PBXSTATE_WITH_EMU
    if (name == "emu") {
      // With `run`'s defaults (corosync knet): --corosync-transport udp refuses several sites too.
      out.emplace_back(name, [](const scenario::Scenario& s) { return runner::CheckEmuSupport(s, {}); });
      continue;
    }
#endif
    if (name == "none") continue;
    std::cerr << "pbxstate validate: --backend " << list << ": " << name
              << " is not a backend of this build (expected " << scenario::BackendNameList()
              << ", several as ns3,emu, or none)\n";
    return {};
  }
  if (out.empty() && list != "none") std::cerr << "pbxstate validate: --backend is empty\n";
  return out;
}

int RunValidate(const ValidateOptions& options) {
  const auto backends = Backends(options.backend);
  if (backends.empty() && options.backend != "none") return kExitInvalid;
  int status = kExitOk;
  for (const std::string& file : options.files) {
    const scenario::LoadResult result = scenario::LoadScenarioFile(file);
    if (!result.ok()) {
      for (const scenario::ScenarioError& e : result.errors) std::cerr << e.ToString() << "\n";
      status = kExitInvalid;
      continue;
    }
    const scenario::Scenario& s = *result.scenario;
    bool runs = true;
    for (const auto& [name, check] : backends) {
      if (Status st = check(s); !st.ok()) {
        std::cerr << st.message() << " (backend " << name << ")\n";
        runs = false;
      }
    }
    if (!runs) {
      status = kExitInvalid;
      continue;
    }
    if (options.quiet) continue;
    std::cout << file << ": ok: " << s.name << ", " << s.topology.node_count() << " nodes, "
              << scenario::FormatDuration(s.duration) << " + "
              << scenario::FormatDetectionRelative(s.quiet) << " quiet, " << s.faults.size()
              << " faults, " << s.checks.size() << " checks\n";
  }
  return status;
}

}  // namespace

void AddValidateCommand(CLI::App& app, Action& chosen) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check scenario files without running them: everything `run` checks before it starts\n"
      "(the scenario, the engine settings as every node's engine checks them, and what the\n"
      "backend cannot do). Every error is printed as file:line:column: field.path: what was\n"
      "expected. Exit " + std::to_string(kExitOk) + " when all are valid, " + std::to_string(kExitInvalid) +
          " otherwise.");
  // No CLI::ExistingFile: a missing file is reported like any invalid scenario, in the same
  // format, and does not stop the other files from being checked.
  cmd->add_option("FILE", options->files, "scenario files (YAML)")->required();
  cmd->add_flag("-q,--quiet", options->quiet, "print nothing for valid files");
  cmd->add_option("--backend", options->backend,
                  "also check what these backends refuse, as `run --backend` would: ns3, inproc, "
                  "netns, emu, several as ns3,inproc,emu, or none (the scenario alone)")
      ->capture_default_str();
  cmd->callback([options, &chosen] { chosen = [options] { return RunValidate(*options); }; });
}

}  // namespace pbxstate::cli
