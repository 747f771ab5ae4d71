#include "run_support.h"

#include <filesystem>
#include <iostream>
#include <map>

#include "pbxstate/scenario/loader.h"

namespace pbxstate::cli {

std::vector<std::pair<std::string, std::string>> RunProperties(const std::string& file, const runner::RunOutcome& o) {
  return {{"scenario_file", file},
          {"seed", std::to_string(o.info.seed)},
          {"backend", o.info.backend},
          {"verdict", o.all_checks_pass() ? "pass" : "fail"}};
}

bool LoadScenarios(const std::vector<std::string>& files, std::vector<LoadedScenario>* out) {
  bool ok = true;
  std::map<std::string, std::string> by_name;
  for (const std::string& file : files) {
    scenario::LoadResult r = scenario::LoadScenarioFile(file);
    if (!r.ok()) {
      for (const scenario::ScenarioError& e : r.errors) std::cerr << e.ToString() << "\n";
      ok = false;
      continue;
    }
    auto [it, inserted] = by_name.emplace(r.scenario->name, file);
    if (!inserted) {
      std::cerr << file << ": name: " << r.scenario->name << " is also the name of " << it->second
                << "; runs and baselines are kept by name\n";
      ok = false;
      continue;
    }
    out->push_back(LoadedScenario{file, std::move(*r.scenario)});
  }
  return ok;
}

std::string PortablePath(const std::string& file) {
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(file, ec);
  if (ec) return file;
  const std::filesystem::path rel = abs.lexically_proximate(std::filesystem::current_path(ec));
  if (ec || rel.empty() || *rel.begin() == "..") return file;
  return rel.generic_string();
}

}  // namespace pbxstate::cli
