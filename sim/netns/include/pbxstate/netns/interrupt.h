// Ctrl-C (SIGINT) and SIGTERM during a namespace run. The handler only records the signal (an
// async-signal-safe store); the run's loop checks InterruptRequested() at least every poll
// interval, stops, and tears the cluster down on its normal way out. The handlers are installed
// without SA_RESTART so a blocking poll returns at once.
#pragma once

namespace pbxstate::netns {

// Installs the handlers for its lifetime and restores the previous ones after. One at a time.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

bool InterruptRequested();
int InterruptSignal();  // the signal that asked, 0 if none

}  // namespace pbxstate::netns
