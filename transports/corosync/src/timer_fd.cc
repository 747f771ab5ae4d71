#include "pbxstate/corosync/timer_fd.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "pbxstate/check.h"
#include "pbxstate/corosync/posix_clock.h"

namespace pbxstate::corosync {

TimerFd::~TimerFd() {
  if (fd_ >= 0) ::close(fd_);
}

Status TimerFd::Open() {
  PBXSTATE_CHECK_LT(fd_, 0);
  fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd_ < 0) return Status::FailedPrecondition(std::string("timerfd_create: ") + std::strerror(errno));
  return Status::Ok();
}

// timerfd_settime fails only for a bad descriptor or a malformed itimerspec, both excluded here
// (Open succeeded; the value is built in range): a failure is a broken invariant, not an
// operating-system condition, so it is checked, with errno shown.
void TimerFd::ArmAt(MonoTime at) {
  PBXSTATE_CHECK_GE(fd_, 0);
  // Armed at that instant already and not fired yet: the kernel holds the same. The engine
  // re-arms after every call and the transport after every dispatch, mostly to the same instant;
  // each system call saved is a preemption point less on a loaded host's latency path.
  if (armed_at_ == at && PosixMonoNow() < at) return;
  std::int64_t ns = at.time_since_epoch().count();
  if (ns <= 0) ns = 1;  // it_value 0 would disarm; the monotonic clock is far past 1 ns
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  const int err = timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr) == 0 ? 0 : errno;
  PBXSTATE_CHECK_EQ(err, 0);
  armed_at_ = at;
}

void TimerFd::Disarm() {
  PBXSTATE_CHECK_GE(fd_, 0);
  if (!armed_at_) return;  // not armed since the last Disarm: nothing to stop, nothing pending
  itimerspec spec{};
  const int err = timerfd_settime(fd_, 0, &spec, nullptr) == 0 ? 0 : errno;
  PBXSTATE_CHECK_EQ(err, 0);
  armed_at_.reset();
}

void TimerFd::Drain() {
  // Readable only once the armed instant has passed (on the same clock): no read() before. A
  // re-arming (timerfd_settime) clears an expiry not read.
  if (!armed_at_ || PosixMonoNow() < *armed_at_) return;
  std::uint64_t expirations = 0;
  while (::read(fd_, &expirations, sizeof expirations) > 0) {
  }
}

}  // namespace pbxstate::corosync
