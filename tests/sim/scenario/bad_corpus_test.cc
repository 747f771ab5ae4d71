// The bad-input corpus: every file in bad/ is a scenario that must be refused with exactly the
// errors bad/EXPECTED lists for it (file:line:column: path: message, one line per error, in
// order). A file without expectations, or expectations without a file, fail the suite.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pbxstate/scenario/loader.h"

namespace pbxstate::scenario {
namespace {

namespace fs = std::filesystem;

const fs::path kBadDir = PBXSTATE_BAD_CORPUS_DIR;

std::vector<std::string> BadFiles() {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(kBadDir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// EXPECTED: "<file>:<rest>" per error; blank lines and lines starting with '#' are ignored.
std::map<std::string, std::vector<std::string>> Expectations() {
  std::map<std::string, std::vector<std::string>> out;
  std::ifstream in(kBadDir / "EXPECTED");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    out[line.substr(0, line.find(':'))].push_back(line);
  }
  return out;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class BadScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(BadScenario, IsRefusedWithExactlyTheExpectedErrors) {
  const std::string& file = GetParam();
  const auto expectations = Expectations();
  auto it = expectations.find(file);
  ASSERT_NE(it, expectations.end()) << file << " has no line in bad/EXPECTED";

  LoadResult r = LoadScenarioString(ReadAll(kBadDir / file), file);
  EXPECT_FALSE(r.ok());
  std::vector<std::string> got;
  for (const ScenarioError& e : r.errors) {
    got.push_back(e.ToString());
    EXPECT_EQ(e.file, file);
  }
  EXPECT_EQ(got, it->second);
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadScenario, ::testing::ValuesIn(BadFiles()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           const std::string& file = param_info.param;
                           std::string name = file.substr(0, file.rfind('.'));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(BadCorpus, EveryExpectationHasItsFileAndTheCorpusIsLarge) {
  const auto files = BadFiles();
  EXPECT_GE(files.size(), 30u);
  for (const auto& [file, lines] : Expectations()) {
    EXPECT_TRUE(std::find(files.begin(), files.end(), file) != files.end())
        << "bad/EXPECTED names " << file << ", which does not exist";
  }
}

// Loading through the file path must give the same errors, named by that path.
TEST(BadCorpus, LoadingFromThePathNamesThePath) {
  const fs::path p = kBadDir / "heal-without-partition.yaml";
  LoadResult r = LoadScenarioFile(p);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, p.string());
  EXPECT_EQ(r.errors[0].ToString().rfind(p.string() + ":5:20: faults[0].heal: ", 0), 0u)
      << r.errors[0].ToString();
}

}  // namespace
}  // namespace pbxstate::scenario
