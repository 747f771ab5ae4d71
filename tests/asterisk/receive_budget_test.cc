// The raised priority's decision (asterisk/pbxstate_receive_budget.c): when the node thread sleeps
// raised, raises or goes back around a round (woken by corosync or by other work), when it goes
// back inside a dispatch (PBXSTATE_RECEIVE_RT_CHANGES changes published,
// PBXSTATE_RECEIVE_RT_MESSAGES messages handled, the dispatch's end), and the hold-back after a
// dispatch that overran between two checks. Built without Asterisk's headers.
#include <gtest/gtest.h>

#include <cstdint>

extern "C" {
#include "pbxstate_receive_budget.h"
}

namespace {

constexpr std::uint64_t kChanges = PBXSTATE_RECEIVE_RT_CHANGES;
constexpr std::uint64_t kMessages = PBXSTATE_RECEIVE_RT_MESSAGES;

// A budget, the host's message counter and the thread's scheduling, as the node thread sees them
// (pbxstate_receive_priority.c applies each step the same way).
struct Thread {
  pbxstate_receive_budget budget{};
  std::uint64_t messages = 1000;  // the counter does not start at 0 for a dispatch
  bool rt = false;                // the thread's scheduling: raised or its own
  int system_calls = 0;
  Thread() { pbxstate_receive_budget_init(&budget); }

  pbxstate_receive_step Apply(pbxstate_receive_step step) {
    if (step == PBXSTATE_RECEIVE_RAISE) {
      ++system_calls;
      rt = true;
      pbxstate_receive_budget_raised(&budget, 1);
    } else if (step == PBXSTATE_RECEIVE_RESTORE) {
      ++system_calls;
      rt = false;
    }
    EXPECT_EQ(rt, budget.raised != 0);
    return step;
  }
  pbxstate_receive_step Sleep(bool idle = true) { return Apply(pbxstate_receive_budget_sleep(&budget, idle)); }
  pbxstate_receive_step Begin(bool corosync = true) {
    return Apply(pbxstate_receive_budget_begin(&budget, corosync, messages));
  }
  pbxstate_receive_step Publish() { return Apply(pbxstate_receive_budget_spend(&budget, messages)); }
  pbxstate_receive_step End() { return Apply(pbxstate_receive_budget_end(&budget, messages)); }
  // Slept raised, woken by corosync: dispatching raised.
  void WokenByCorosync() {
    Sleep();
    Begin();
  }
  // Not held back: the next sleep raises.
  void ExpectFree() {
    EXPECT_FALSE(budget.held_back);
    EXPECT_EQ(Sleep(), PBXSTATE_RECEIVE_RAISE);
  }
};

TEST(ReceiveBudget, ALoneChangeIsWokenAndPublishedRaisedWithNoSystemCallBeforeTheDispatch) {
  Thread t;
  EXPECT_EQ(t.Sleep(), PBXSTATE_RECEIVE_RAISE);
  const int before = t.system_calls;
  EXPECT_EQ(t.Begin(), PBXSTATE_RECEIVE_KEEP);  // woken raised: nothing to do
  t.messages += 1;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_TRUE(t.rt);
  EXPECT_EQ(t.system_calls, before);
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_RESTORE);  // the round's other work at the thread's own
  t.ExpectFree();
}

TEST(ReceiveBudget, OtherWorkRunsAtTheThreadsOwnAndABusyInboxSleepsAtItsOwn) {
  Thread t;
  t.Sleep();
  EXPECT_EQ(t.Begin(false), PBXSTATE_RECEIVE_RESTORE);  // the inbox or a timer woke it
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_EQ(t.Sleep(false), PBXSTATE_RECEIVE_KEEP);     // a drain is pending: sleep at its own
  EXPECT_FALSE(t.rt);
  EXPECT_EQ(t.Begin(), PBXSTATE_RECEIVE_RAISE);         // corosync woke it all the same
  t.messages += 1;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_RESTORE);
}

TEST(ReceiveBudget, OneFrameOfManyChangesRestoresAtTheChangeBound) {
  Thread t;
  t.WokenByCorosync();
  t.messages += 1;  // every change in one message
  for (std::uint64_t i = 1; i < kChanges; ++i) ASSERT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP) << i;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);  // the rest of the burst at the thread's own
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);      // already restored
  t.ExpectFree();
}

TEST(ReceiveBudget, LoneChangesEachInItsMessageArePublishedRaisedUpToTheBound) {
  Thread t;
  t.WokenByCorosync();
  for (std::uint64_t i = 1; i < kMessages; ++i) {
    t.messages += 1;
    ASSERT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP) << i;
  }
  t.messages += 1;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_FALSE(t.budget.held_back);  // at the bound, not over it
}

TEST(ReceiveBudget, MessagesThatPublishNothingCountAtTheNextChange) {
  Thread t;
  t.WokenByCorosync();
  t.messages += kMessages - 1;  // digests, acknowledgements: no call to the module
  t.messages += 1;              // then a change
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_FALSE(t.budget.held_back);
}

TEST(ReceiveBudget, AFloodOfMessagesThatPublishNothingHoldsTheNextDispatchesBack) {
  Thread t;
  t.WokenByCorosync();
  t.messages += kMessages + 1;  // seen only at the end: over the bound
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_TRUE(t.budget.held_back);
  // While the flood lasts, the thread neither sleeps nor dispatches raised, nor raises for a change.
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(t.Sleep(), PBXSTATE_RECEIVE_KEEP) << round;
    EXPECT_EQ(t.Begin(), PBXSTATE_RECEIVE_KEEP) << round;
    t.messages += 10 * kMessages;
    EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);
    EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
    EXPECT_TRUE(t.budget.held_back);
    EXPECT_FALSE(t.rt);
  }
  // A dispatch within the bound releases it; the thread sleeps raised again.
  t.WokenByCorosync();
  t.messages += kMessages;
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
  t.ExpectFree();
}

TEST(ReceiveBudget, AChangeAfterTheMessageBoundWasOverrunRestoresAndHoldsBack) {
  Thread t;
  t.WokenByCorosync();
  t.messages += 3 * kMessages;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_TRUE(t.budget.held_back);
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_TRUE(t.budget.held_back);  // the end saw more than the bound too
  EXPECT_EQ(t.Sleep(), PBXSTATE_RECEIVE_KEEP);
}

TEST(ReceiveBudget, ARefusedRaiseCountsNothing) {
  Thread t;
  ASSERT_EQ(pbxstate_receive_budget_sleep(&t.budget, 1), PBXSTATE_RECEIVE_RAISE);
  pbxstate_receive_budget_raised(&t.budget, 0);  // the limit was lowered under a running Asterisk
  EXPECT_EQ(pbxstate_receive_budget_begin(&t.budget, 1, t.messages), PBXSTATE_RECEIVE_RAISE);
  pbxstate_receive_budget_raised(&t.budget, 0);
  t.messages += 1;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
  t.ExpectFree();
}

TEST(ReceiveBudget, ARoundCorosyncDidNotWakeCountsNoMessages) {
  Thread t;
  EXPECT_EQ(t.Begin(false), PBXSTATE_RECEIVE_KEEP);
  t.messages += 5 * kMessages;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
  t.ExpectFree();
}

TEST(ReceiveBudget, TheMessageBoundDerivesFromTheChangeBound) {
  // 16 lone changes, one message each, are all published raised (see the header's derivation).
  EXPECT_EQ(kMessages, kChanges);
}

}  // namespace
