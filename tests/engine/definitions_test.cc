// The project-wide single definitions that live in the engine's public headers: the PRNG
// (pbxstate/random.h), the simulated epoch (types.h) and the log-level names (env.h).
#include <gtest/gtest.h>

#include "pbxstate/env.h"
#include "pbxstate/random.h"
#include "pbxstate/types.h"

namespace pbxstate {
namespace {

TEST(Definitions, SplitMix64IsTheReferenceGenerator) {
  // Vigna's splitmix64.c from state 0.
  SplitMix64 r(0);
  EXPECT_EQ(r.Next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(r.Next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(r.Next(), 0x06c45d188009454fULL);
  SplitMix64 a(SplitMix64::Derive(7, 1)), b(SplitMix64::Derive(7, 2));
  EXPECT_NE(a.Next(), b.Next());
  SplitMix64 c(3);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_LT(c.Below(10), 10u);
    const std::int64_t x = c.Between(-3, 3);
    EXPECT_GE(x, -3);
    EXPECT_LE(x, 3);
    const double u = c.Unit();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
  EXPECT_EQ(c.Below(0), 0u);
}

TEST(Definitions, SimulatedEpochIsNewYear2026) {
  EXPECT_EQ(kSimEpoch.time_since_epoch(), std::chrono::seconds(1'767'225'600));
}

TEST(Definitions, LogLevelNamesRoundTrip) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    EXPECT_EQ(ParseLogLevel(LogLevelName(l)), l);
  }
  EXPECT_EQ(LogLevelName(LogLevel::kWarning), "warning");
  EXPECT_EQ(ParseLogLevel("WARNING"), std::nullopt);
  EXPECT_EQ(ParseLogLevel("warn"), std::nullopt);
  EXPECT_EQ(ParseLogLevel(""), std::nullopt);
}

}  // namespace
}  // namespace pbxstate
