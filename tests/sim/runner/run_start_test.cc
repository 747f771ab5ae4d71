// The order of a run's start on real processes (sim/runner/src/netns_start.h): time 0 is read
// after the plan, the bring-up and the first poll, and nothing runs between it and the driver.
// The steps here take "time" on a fake clock, so the order is checked, not the machine's speed.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "netns_start.h"

namespace pbxstate::runner::netns_run {
namespace {

struct FakeStart {
  std::int64_t clock_ns = 0;
  std::vector<std::string> order;
  std::int64_t started_at = -1;

  // A step that takes `ns` on the fake clock and fails with `fails` (when not ok).
  std::function<Status()> Step(const std::string& name, std::int64_t ns, Status fails = Status::Ok()) {
    return [this, name, ns, fails] {
      order.push_back(name);
      clock_ns += ns;
      return fails;
    };
  }
  StartSteps Steps() {
    StartSteps s;
    s.plan = Step("plan", 300'000'000);  // a 100,000-mailbox plan is slow to expand
    s.bring_up = Step("bring_up", 20'000'000'000);
    s.first_poll = Step("first_poll", 5'000'000);
    s.clock = [this] { return clock_ns; };
    s.start_clock = [this](std::int64_t t0) {
      order.push_back("start_clock");
      started_at = t0;
    };
    return s;
  }
};

TEST(RunStart, TimeZeroIsReadAfterEverySlowStep) {
  FakeStart f;
  std::int64_t t0 = -1;
  ASSERT_TRUE(RunStart(f.Steps(), &t0).ok());
  EXPECT_EQ(f.order, (std::vector<std::string>{"plan", "bring_up", "first_poll", "start_clock"}));
  // Time 0 is the clock after the last step: a change planned at 0 is due the moment it is read.
  EXPECT_EQ(t0, 300'000'000 + 20'000'000'000 + 5'000'000);
  EXPECT_EQ(f.started_at, t0);
  EXPECT_EQ(f.clock_ns, t0);  // nothing took time after it
}

TEST(RunStart, AFailedStepStopsTheStartWithoutATimeZero) {
  FakeStart f;
  StartSteps s = f.Steps();
  s.bring_up = f.Step("bring_up", 1, Status::FailedPrecondition("corosync formed no ring"));
  std::int64_t t0 = -1;
  const Status st = RunStart(s, &t0);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "corosync formed no ring");
  EXPECT_EQ(f.order, (std::vector<std::string>{"plan", "bring_up"}));
  EXPECT_EQ(t0, -1);
  EXPECT_EQ(f.started_at, -1);
}

}  // namespace
}  // namespace pbxstate::runner::netns_run
