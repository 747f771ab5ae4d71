// libFuzzer target: arbitrary bytes as YAML text into the scenario loader. The loader must
// answer every input with either a scenario or errors (never both, never neither), at most
// kMaxErrors + 1 of them, each naming the file; anything else, a crash or a sanitizer report is
// a finding.
#include <cstdint>
#include <string_view>

#include "pbxstate/scenario/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pbxstate::scenario;
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const LoadResult r = LoadScenarioString(yaml, "fuzz.yaml");
  if (r.ok() != r.errors.empty()) __builtin_trap();
  if (r.errors.size() > kMaxErrors + 1) __builtin_trap();
  for (const ScenarioError& e : r.errors) {
    if (e.file != "fuzz.yaml" || e.message.empty() || e.line < 0 || e.column < 0) __builtin_trap();
    (void)e.ToString();
  }
  return 0;
}
