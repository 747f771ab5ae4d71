// A scenario from a test's own YAML text, for the suites that write their scenarios inline (the
// runners', the loader's and the writer's tests): one loader call, its errors written out once.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "pbxstate/scenario/loader.h"

namespace pbxstate::test_support {

// Every error of `r`, one ScenarioError::ToString() a line; "" when it loaded.
inline std::string LoadErrors(const scenario::LoadResult& r) {
  std::string out;
  for (const scenario::ScenarioError& e : r.errors) out += e.ToString() + "\n";
  return out;
}

// The scenario `yaml` describes, read as the file "t.yaml". When it does not load, the calling
// test fails naming every error and gets an empty Scenario.
inline scenario::Scenario LoadYaml(const std::string& yaml) {
  scenario::LoadResult r = scenario::LoadScenarioString(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << LoadErrors(r);
  return r.ok() ? *r.scenario : scenario::Scenario{};
}

}  // namespace pbxstate::test_support
