#include "pbxstate/scenario/units.h"

#include <gtest/gtest.h>

namespace pbxstate::scenario {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(ParseDuration("7ns"), Duration(7));
  EXPECT_EQ(ParseDuration("100us"), Duration(100us));
  EXPECT_EQ(ParseDuration("250ms"), Duration(250ms));
  EXPECT_EQ(ParseDuration("30s"), Duration(30s));
  EXPECT_EQ(ParseDuration("2min"), Duration(120s));
  EXPECT_EQ(ParseDuration("24h"), Duration(24h));
  EXPECT_EQ(ParseDuration("0ms"), Duration(0));
}

TEST(ParseDuration, DecimalsAreExact) {
  // 0.1 is not exact in binary; the parser must still give exactly 100 ms.
  EXPECT_EQ(ParseDuration("0.1s"), Duration(100ms));
  EXPECT_EQ(ParseDuration("1.5s"), Duration(1500ms));
  EXPECT_EQ(ParseDuration("0.001ms"), Duration(1us));
  EXPECT_EQ(ParseDuration("20.5s"), Duration(20500ms));
}

TEST(ParseDuration, RefusesMissingOrUnknownUnitsAndOddNumbers) {
  for (const char* bad : {"10", "10 s", "10sec", "10S", "-1s", "+1s", "1.5ns", ".5s", "5.s",
                          "", "ms", "1e3ms", "1..2s", "1,5s", "0x10s", " 1s", "1s "}) {
    EXPECT_EQ(ParseDuration(bad), std::nullopt) << bad;
  }
}

TEST(ParseDuration, RefusesAbsurdlyLongValues) {
  EXPECT_EQ(ParseDuration("1000001h"), std::nullopt);
  EXPECT_EQ(ParseDuration("99999999999999999999999999h"), std::nullopt);
  EXPECT_EQ(ParseDuration("1000000h"), Duration(1'000'000h));
}

TEST(FormatDuration, UsesTheLargestWholeUnit) {
  EXPECT_EQ(FormatDuration(0ms), "0ms");
  EXPECT_EQ(FormatDuration(1500ms), "1500ms");
  EXPECT_EQ(FormatDuration(2s), "2s");
  EXPECT_EQ(FormatDuration(90s), "90s");
  EXPECT_EQ(FormatDuration(120s), "2min");
  EXPECT_EQ(FormatDuration(24h), "24h");
  EXPECT_EQ(FormatDuration(Duration(7)), "7ns");
  EXPECT_EQ(FormatDuration(-5ms), "-5ms");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (Duration d : {Duration(1), Duration(999us), Duration(1500ms), Duration(61s),
                     Duration(3h)}) {
    EXPECT_EQ(ParseDuration(FormatDuration(d)), d) << FormatDuration(d);
  }
}

TEST(ParseRate, PerSecondAndPerMinute) {
  EXPECT_EQ(ParseRate("100/s"), 100.0);
  EXPECT_EQ(ParseRate("600/min"), 10.0);
  EXPECT_EQ(ParseRate("0.5/s"), 0.5);
  EXPECT_EQ(ParseRate("0/s"), 0.0);
  for (const char* bad : {"100", "100/h", "100 /s", "/s", "-1/s", "100/S", "100per s"}) {
    EXPECT_EQ(ParseRate(bad), std::nullopt) << bad;
  }
}

TEST(ParseBandwidth, DecimalSiBitsPerSecond) {
  EXPECT_EQ(ParseBandwidth("64bps"), 64u);
  EXPECT_EQ(ParseBandwidth("512kbps"), 512'000u);
  EXPECT_EQ(ParseBandwidth("100Mbps"), 100'000'000u);
  EXPECT_EQ(ParseBandwidth("1.5Gbps"), 1'500'000'000u);
  for (const char* bad : {"100", "100MB", "100mbps", "100 Mbps", "0.5bps", "1Tbps"}) {
    EXPECT_EQ(ParseBandwidth(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(FormatBandwidth(1'000'000'000), "1Gbps");
  EXPECT_EQ(FormatBandwidth(1'500'000), "1500kbps");
  EXPECT_EQ(FormatBandwidth(64), "64bps");
}

TEST(ParsePercent, ZeroToHundred) {
  EXPECT_DOUBLE_EQ(*ParsePercent("2%"), 0.02);
  EXPECT_DOUBLE_EQ(*ParsePercent("0.5%"), 0.005);
  EXPECT_EQ(ParsePercent("0%"), 0.0);
  EXPECT_EQ(ParsePercent("100%"), 1.0);
  for (const char* bad : {"101%", "2", "%", "-1%", "2 %", "2%%"}) {
    EXPECT_EQ(ParsePercent(bad), std::nullopt) << bad;
  }
}

TEST(ParseDecimal, PlainUnsignedDecimalsOnly) {
  EXPECT_EQ(ParseDecimal("12"), 12.0);
  EXPECT_EQ(ParseDecimal("0.25"), 0.25);
  for (const char* bad : {"", "-1", "1e3", ".5", "5.", "1.2.3", "nan", "inf"}) {
    EXPECT_EQ(ParseDecimal(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace pbxstate::scenario
