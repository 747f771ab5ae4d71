// pbxstate validate FILE...: load and check scenarios without running anything.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::cli {
namespace {

struct ValidateOptions {
  std::vector<std::string> files;
  bool quiet = false;
};

int RunValidate(const ValidateOptions& options) {
  int status = kExitOk;
  for (const std::string& file : options.files) {
    const scenario::LoadResult result = scenario::LoadScenarioFile(file);
    if (!result.ok()) {
      for (const scenario::ScenarioError& e : result.errors) std::cerr << e.ToString() << "\n";
      status = kExitInvalid;
      continue;
    }
    if (options.quiet) continue;
    const scenario::Scenario& s = *result.scenario;
    std::cout << file << ": ok: " << s.name << ", " << s.topology.node_count() << " nodes, "
              << scenario::FormatDuration(s.duration) << " + "
              << scenario::FormatDuration(s.quiet) << " quiet, " << s.faults.size()
              << " faults, " << s.checks.size() << " checks\n";
  }
  return status;
}

}  // namespace

void AddValidateCommand(CLI::App& app, Action& chosen) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check scenario files without running them: every error is printed as\n"
      "file:line:column: field.path: what was expected. Exit 0 when all are valid, 2 otherwise.");
  // No CLI::ExistingFile: a missing file is reported like any invalid scenario, in the same
  // format, and does not stop the other files from being checked.
  cmd->add_option("FILE", options->files, "scenario files (YAML)")->required();
  cmd->add_flag("-q,--quiet", options->quiet, "print nothing for valid files");
  cmd->callback([options, &chosen] { chosen = [options] { return RunValidate(*options); }; });
}

}  // namespace pbxstate::cli
