// The raised priority's decision (asterisk/pbxstate_receive_budget.c): when the node thread raises
// to dispatch CPG, when it goes back (PBXSTATE_RECEIVE_RT_CHANGES changes published,
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

// A budget and the host's message counter, as the node thread sees them.
struct Thread {
  pbxstate_receive_budget budget{};
  std::uint64_t messages = 1000;  // the counter does not start at 0 for a dispatch
  Thread() { pbxstate_receive_budget_init(&budget); }

  // Begins a dispatch woken by corosync; the raise succeeds when asked for. Whether it was asked.
  bool Begin() {
    const int raise = pbxstate_receive_budget_begin(&budget, messages);
    if (raise) pbxstate_receive_budget_raised(&budget, 1);
    return raise != 0;
  }
  pbxstate_receive_step Publish() { return pbxstate_receive_budget_spend(&budget, messages); }
  pbxstate_receive_step End() { return pbxstate_receive_budget_end(&budget, messages); }
};

TEST(ReceiveBudget, ALoneChangeIsPublishedRaisedAndTheEndRestores) {
  Thread t;
  ASSERT_TRUE(t.Begin());
  t.messages += 1;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_TRUE(t.budget.raised);
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_FALSE(t.budget.raised);
  EXPECT_FALSE(t.budget.held_back);
}

TEST(ReceiveBudget, OneFrameOfManyChangesRestoresAtTheChangeBound) {
  Thread t;
  ASSERT_TRUE(t.Begin());
  t.messages += 1;  // every change in one message
  for (std::uint64_t i = 1; i < kChanges; ++i) ASSERT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP) << i;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);  // the rest of the burst at the thread's own
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);      // already restored
  EXPECT_FALSE(t.budget.held_back);
  EXPECT_TRUE(t.Begin());
}

TEST(ReceiveBudget, LoneChangesEachInItsMessageArePublishedRaisedUpToTheBound) {
  Thread t;
  ASSERT_TRUE(t.Begin());
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
  ASSERT_TRUE(t.Begin());
  t.messages += kMessages - 1;  // digests, acknowledgements: no call to the module
  t.messages += 1;              // then a change
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_FALSE(t.budget.held_back);
}

TEST(ReceiveBudget, AFloodOfMessagesThatPublishNothingHoldsTheNextDispatchesBack) {
  Thread t;
  ASSERT_TRUE(t.Begin());
  t.messages += kMessages + 1;  // seen only at the end: over the bound
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_TRUE(t.budget.held_back);
  // While the flood lasts, no dispatch is raised and a change does not raise either.
  for (int round = 0; round < 3; ++round) {
    EXPECT_FALSE(t.Begin()) << round;
    t.messages += 10 * kMessages;
    EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);
    EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
    EXPECT_TRUE(t.budget.held_back);
  }
  // A dispatch within the bound releases it; the next one raises.
  EXPECT_FALSE(t.Begin());
  t.messages += kMessages;
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_FALSE(t.budget.held_back);
  EXPECT_TRUE(t.Begin());
}

TEST(ReceiveBudget, AChangeAfterTheMessageBoundWasOverrunRestoresAndHoldsBack) {
  Thread t;
  ASSERT_TRUE(t.Begin());
  t.messages += 3 * kMessages;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_RESTORE);
  EXPECT_TRUE(t.budget.held_back);
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_TRUE(t.budget.held_back);  // the end saw more than the bound too
}

TEST(ReceiveBudget, ARefusedRaiseCountsNothing) {
  Thread t;
  ASSERT_EQ(pbxstate_receive_budget_begin(&t.budget, t.messages), 1);
  pbxstate_receive_budget_raised(&t.budget, 0);
  t.messages += 1;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_FALSE(t.budget.held_back);
  EXPECT_TRUE(t.Begin());
}

TEST(ReceiveBudget, ADispatchCorosyncDidNotWakeChangesNothing) {
  Thread t;
  t.messages += 5 * kMessages;
  EXPECT_EQ(t.Publish(), PBXSTATE_RECEIVE_KEEP);
  EXPECT_EQ(t.End(), PBXSTATE_RECEIVE_KEEP);  // no begin: not counted
  EXPECT_FALSE(t.budget.held_back);
  EXPECT_TRUE(t.Begin());
}

TEST(ReceiveBudget, TheMessageBoundDerivesFromTheChangeBound) {
  // 16 lone changes, one message each, are all published raised (see the header's derivation).
  EXPECT_EQ(kMessages, kChanges);
}

}  // namespace
