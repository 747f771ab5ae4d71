// A one-shot CLOCK_MONOTONIC timerfd: readable once the armed instant has passed. Lets a timer
// live in the same poll set as sockets, so a host's event loop needs no timeout arithmetic.
#pragma once

#include <optional>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::corosync {

class TimerFd {
 public:
  TimerFd() = default;
  ~TimerFd();
  TimerFd(const TimerFd&) = delete;
  TimerFd& operator=(const TimerFd&) = delete;

  // Creates the descriptor (non-blocking, close-on-exec). Fails with the errno text.
  Status Open();
  // Fires once at `at` (CLOCK_MONOTONIC, absolute); an instant already past fires at once.
  // Replaces any earlier arming (no system call when armed at `at` already and not fired).
  void ArmAt(MonoTime at);
  // Stops it and clears a pending expiry (no system call when not armed).
  void Disarm();
  // Consumes a pending expiry so the descriptor stops being readable (no system call before the
  // armed instant: nothing can be pending then).
  void Drain();
  std::optional<MonoTime> armed_at() const { return armed_at_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::optional<MonoTime> armed_at_;
};

}  // namespace pbxstate::corosync
