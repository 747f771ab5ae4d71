// The latency trace's ring (pbxstate/latency_trace.h). The option is off in every shipped build,
// so this test compiles the ring on its own, with the option on (tests/engine/CMakeLists.txt):
// a measurement build must not be the first place its ring is ever run.
#include "pbxstate/latency_trace.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

std::vector<std::string> Dump(std::size_t* given) {
  std::vector<std::string> lines;
  *given = pbxstate_trace_dump(
      [](void* user, const char* text) { static_cast<std::vector<std::string>*>(user)->push_back(text); }, &lines);
  return lines;
}

// The stage named on a dumped line "<ns> <thread id> <stage>".
std::string StageOf(const std::string& line) { return line.substr(line.rfind(' ') + 1); }

TEST(LatencyTrace, DumpsEveryStampOldestFirstWithItsStageName) {
  pbxstate_trace_clear();
  pbxstate_trace_stamp(PBXSTATE_TRACE_TX_STASIS);
  pbxstate_trace_stamp(PBXSTATE_TRACE_TX_MCAST);
  pbxstate_trace_stamp(PBXSTATE_TRACE_TX_DONE);
  std::size_t given = 0;
  const std::vector<std::string> lines = Dump(&given);
  ASSERT_EQ(given, 3u);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(StageOf(lines[0]), "tx_stasis");
  EXPECT_EQ(StageOf(lines[1]), "tx_mcast");
  EXPECT_EQ(StageOf(lines[2]), "tx_done");
  EXPECT_LE(std::stoll(lines[0]), std::stoll(lines[2]));  // one monotonic clock
}

TEST(LatencyTrace, KeepsTheLastCapacityStampsWhenItWraps) {
  pbxstate_trace_clear();
  for (int i = 0; i < PBXSTATE_TRACE_CAPACITY; ++i) pbxstate_trace_stamp(PBXSTATE_TRACE_RX_POLL);
  pbxstate_trace_stamp(PBXSTATE_TRACE_RX_CPG_RETURNED);  // overwrites the oldest
  std::size_t given = 0;
  const std::vector<std::string> lines = Dump(&given);
  ASSERT_EQ(given, static_cast<std::size_t>(PBXSTATE_TRACE_CAPACITY));
  EXPECT_EQ(StageOf(lines.front()), "rx_poll");
  EXPECT_EQ(StageOf(lines.back()), "rx_cpg_returned");
}

TEST(LatencyTrace, ClearForgetsEveryStamp) {
  pbxstate_trace_stamp(PBXSTATE_TRACE_RX_POLL);
  pbxstate_trace_clear();
  std::size_t given = 1;
  EXPECT_TRUE(Dump(&given).empty());
  EXPECT_EQ(given, 0u);
}

TEST(LatencyTrace, NamesEveryStageOnceAndNothingOutside) {
  std::vector<std::string> names;
  for (int s = 0; s < PBXSTATE_TRACE_STAGE_COUNT; ++s) {
    const std::string name = pbxstate_trace_stage_name(static_cast<pbxstate_trace_stage>(s));
    EXPECT_NE(name, "?");
    for (const std::string& seen : names) EXPECT_NE(name, seen);
    names.push_back(name);
  }
  EXPECT_STREQ(pbxstate_trace_stage_name(PBXSTATE_TRACE_STAGE_COUNT), "?");
}

}  // namespace
