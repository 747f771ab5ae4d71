// A block of a documentation file generated from code (the engine-settings tables of
// daemon/README.md and scenarios/README.md, the engine section of pbxstated.example.yaml): the
// text between a begin line and an end line. A test compares it with what the code generates;
// with PBXSTATE_UPDATE_DOCS=1 in its environment the test rewrites the block in place instead
// (then review the diff and commit it), so a new engine setting reaches the docs mechanically.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace pbxstate::testing {

inline ::testing::AssertionResult DocBlockIs(const std::string& path, const std::string& begin_line,
                                             const std::string& end_line, const std::string& expected) {
  std::ifstream in(path);
  if (!in) return ::testing::AssertionFailure() << path << ": cannot read";
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  const auto b = text.find(begin_line + "\n");
  const auto e = b == std::string::npos ? std::string::npos : text.find(end_line, b);
  if (b == std::string::npos || e == std::string::npos) {
    return ::testing::AssertionFailure() << path << ": no block between the lines\n" << begin_line << "\n" << end_line;
  }
  const std::size_t from = b + begin_line.size() + 1;
  // The end line may be indented (YAML comments): the block ends at the start of its line.
  const std::size_t to = text.rfind('\n', e) + 1;
  if (text.compare(from, to - from, expected) == 0) return ::testing::AssertionSuccess();
  const char* update = std::getenv("PBXSTATE_UPDATE_DOCS");
  if (update != nullptr && std::string(update) == "1") {
    text.replace(from, to - from, expected);
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) return ::testing::AssertionFailure() << path << ": cannot rewrite";
    std::printf("%s: generated block rewritten (PBXSTATE_UPDATE_DOCS=1)\n", path.c_str());
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << path << ": the generated block differs from the code; rerun this test with "
                                       << "PBXSTATE_UPDATE_DOCS=1 to rewrite it, or put this between the markers:\n"
                                       << expected;
}

}  // namespace pbxstate::testing
