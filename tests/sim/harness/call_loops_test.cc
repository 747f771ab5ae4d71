// Looped calls judged by when the servers they asked had applied the phone's changes
// (call_loops.h): the trace of call-routing-partition on emu (sim/emu/README.md, "The
// call-routing scenarios"), cut down to its two changes and two servers.
#include <gtest/gtest.h>

#include "pbxstate/harness/call_loops.h"

namespace pbxstate::harness {
namespace {

using namespace std::chrono_literals;

// aor7723 moves from server 3 to server 7: 7 registers it at 31.2769 s, 3 removes it at
// 31.2837 s. The removal reaches server 4 39 ms later, the registration server 3 142 ms later.
std::vector<ChangeRecord> Move() {
  return {{31276946us, 7, EntryKind::kRegistration, "aor7723", std::nullopt},
          {31283661us, 3, EntryKind::kRegistration, "aor7723", std::nullopt},
          {31270ms, 2, EntryKind::kRegistration, "aor1", std::nullopt}};
}
std::vector<DeliverySample> Arrivals() { return {{1, 4, 39391us}, {0, 3, 141604us}, {2, 3, 10ms}}; }

TEST(CallLoops, ALoopThroughAServerTheMoveHadNotReachedIsNotTheViews) {
  // Entry 4 (asked after the removal was made, answered before it arrived: "at 3"), then 3
  // (answered before the registration at 7 arrived: nobody), blind-peer back to 4.
  const LoopedCall call{"aor7723", {{4, 31290ms, 31300ms}, {3, 31301ms, 31302ms}}};
  EXPECT_TRUE(AnsweredBeforeAChangeArrived(call, Move(), Arrivals()));
  EXPECT_EQ(LoopedOnCurrentViews(1, {call}, Move(), Arrivals()), 0u);
}

TEST(CallLoops, ALoopAfterEveryChangeArrivedIsTheViews) {
  // Asked after both arrived everywhere: stale entries pointing at each other would show so.
  const LoopedCall call{"aor7723", {{4, 31500ms, 31501ms}, {3, 31502ms, 31503ms}}};
  EXPECT_FALSE(AnsweredBeforeAChangeArrived(call, Move(), Arrivals()));
  EXPECT_EQ(LoopedOnCurrentViews(1, {call}, Move(), Arrivals()), 1u);
  // A loop beyond the ones kept counts as the views': two looped, one judged behind a change.
  const LoopedCall behind{"aor7723", {{4, 31290ms, 31300ms}}};
  EXPECT_EQ(LoopedOnCurrentViews(2, {behind}, Move(), Arrivals()), 1u);
}

TEST(CallLoops, OnlyChangesMadeBeforeTheAskToOtherServersAndOfThatPhoneCount) {
  // Server 3's own removal and a change made after 3 was asked were no view behind; another
  // phone's change on its way (aor1's, made at 31.270 s, at 3 at 31.280 s) is behind for its
  // own calls only.
  EXPECT_FALSE(AnsweredBeforeAChangeArrived({"aor7723", {{3, 31270ms, 31271ms}}}, Move(), Arrivals()));
  EXPECT_FALSE(AnsweredBeforeAChangeArrived({"aor7723", {{3, 31275ms, 31276ms}}}, Move(), Arrivals()));
  EXPECT_TRUE(AnsweredBeforeAChangeArrived({"aor1", {{3, 31275ms, 31276ms}}}, Move(), Arrivals()));
  // A change never delivered to a server changed nothing in its view (the last row, to 5).
  EXPECT_FALSE(AnsweredBeforeAChangeArrived({"aor7723", {{5, 31300ms, 31301ms}}}, Move(), Arrivals()));
}

}  // namespace
}  // namespace pbxstate::harness
