// The order of the start of a run of real processes (netns, emu). Time 0 is one instant for the
// workload, the faults, the recorder, the oracle and the network's lag: the instant the driver is
// ready to issue the first change. Everything that takes time comes before it; nothing comes
// between it and the driver's loop. Measured before this order (sim/emu/README.md, "The start"):
// the plan was expanded after time 0, and mailbox-heal-100k's first change (planned at 0) was
// issued up to 307 ms late.
#pragma once

#include <cstdint>
#include <functional>

#include "pbxstate/status.h"

namespace pbxstate::runner::netns_run {

struct StartSteps {
  // The workload's plan and whatever else the loop needs computed: may take long.
  std::function<Status()> plan;
  // Corosyncs, daemons, every node's control connections open and answering, streams subscribed,
  // everyone seeing everyone.
  std::function<Status()> bring_up;
  // Every event stream read once; what the bring-up left there is dropped.
  std::function<Status()> first_poll;
  // CLOCK_MONOTONIC in ns.
  std::function<std::int64_t()> clock;
  // Told time 0; must be quick (it only stamps): the driver's loop follows at once.
  std::function<void(std::int64_t t0_mono_ns)> start_clock;
};

// Runs the steps in this order: plan, bring_up, first_poll, then reads the clock once and hands
// it to start_clock; `*t0_mono_ns` gets it. The first failing step's status, with no time 0.
inline Status RunStart(const StartSteps& steps, std::int64_t* t0_mono_ns) {
  for (const std::function<Status()>* step : {&steps.plan, &steps.bring_up, &steps.first_poll}) {
    if (Status st = (*step)(); !st.ok()) return st;
  }
  *t0_mono_ns = steps.clock();
  steps.start_clock(*t0_mono_ns);
  return Status::Ok();
}

}  // namespace pbxstate::runner::netns_run
