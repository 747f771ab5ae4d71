// What the commands that run scenarios (run, check, baseline update) share.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "pbxstate/runner/run.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate::cli {

// The JUnit <properties> of one run: scenario file, seed, backend, verdict.
std::vector<std::pair<std::string, std::string>> RunProperties(const std::string& file, const runner::RunOutcome& o);

}  // namespace pbxstate::cli

namespace pbxstate::cli {

struct LoadedScenario {
  std::string file;  // as given on the command line
  scenario::Scenario scenario;
};

// Loads every file before anything runs, printing every error of every file to stderr.
// False when any is invalid (or two share a name: their outputs and baselines would collide).
bool LoadScenarios(const std::vector<std::string>& files, std::vector<LoadedScenario>* out);

// `file` relative to the current directory when it lies below it, else as given: baselines
// name the scenario they were made from and must not depend on where the checkout lives.
std::string PortablePath(const std::string& file);

}  // namespace pbxstate::cli
