// PBXSTATE_CHECK (pbxstate/check.h): on in every build type, and a failure stops the process with
// file:line, the expression and the values.
#include "pbxstate/check.h"

#include <gtest/gtest.h>

#include <chrono>

namespace pbxstate {
namespace {

enum class Colour { kRed = 3 };

TEST(CheckDeathTest, AFailedCheckAbortsNamingFileLineExpressionAndValues) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int three = 3, two = 2;
  EXPECT_DEATH(PBXSTATE_CHECK_LE(three, two), R"(check_test\.cc:[0-9]+: pbxstate check failed: three <= two \(3 vs 2\))");
  EXPECT_DEATH(PBXSTATE_CHECK(three == two), R"(check_test\.cc:[0-9]+: pbxstate check failed: three == two)");
  const std::chrono::milliseconds a(5), b(4);
  EXPECT_DEATH(PBXSTATE_CHECK_LT(a, b), R"(a < b \(5000000ns vs 4000000ns\))");
  EXPECT_DEATH(PBXSTATE_CHECK_NE(Colour::kRed, Colour::kRed), R"(\(3 vs 3\))");
}

TEST(Check, APassingCheckDoesNothingAndEvaluatesOnce) {
  int calls = 0;
  auto next = [&calls] { return ++calls; };
  PBXSTATE_CHECK_EQ(next(), 1);
  PBXSTATE_CHECK(next() == 2);
  EXPECT_EQ(calls, 2);
#ifdef NDEBUG
  // The point of the macro: this build (RelWithDebInfo, NDEBUG) checks too.
  EXPECT_DEATH(PBXSTATE_CHECK(calls == 0), "pbxstate check failed");
#endif
}

}  // namespace
}  // namespace pbxstate
