// The host's namespace lock: one namespace cluster at a time on a host, whoever starts it (a
// `pbxstate run --backend netns|emu`, the live Python tests, the CPG benchmark, a person at a
// shell). Two clusters at once would share the machine's two cores and each other's timing, and
// their runs' lag and lateness would measure each other. NetnsCluster::Create takes it before it
// builds anything and the cluster holds it until it is destroyed (sim/netns/README.md, "The
// host's lock").
//
// An flock(2) on kHostLockPath, so it is released when its holder exits, however it exits. The
// holder writes its pid into the file for the waiters' message. Clusters of one process share
// the process's hold (flock would make a second open of the file wait for the first).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::netns {

inline constexpr const char* kHostLockPath = "/run/lock/pbxstate-netns.lock";
// The longest a cluster waits for the lock before it gives up (a run of the longest shipped
// scenario on namespaces, soak-short, takes 19 minutes).
inline constexpr Duration kMaxHostLockWait = std::chrono::hours(1);

// Held while an object lives (its descriptor closed at destruction releases the flock); one per
// process and path, handed out shared.
class HostLock {
 public:
  // Takes the host's lock at `path`, waiting (polled, so SIGINT/SIGTERM end the wait:
  // InterruptRequested) at most `wait`; says once on stderr whom it waits for. Shares this
  // process's hold when it has one.
  static Status Acquire(const std::string& path, Duration wait, std::shared_ptr<HostLock>* out);
  ~HostLock();

 private:
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;
  explicit HostLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace pbxstate::netns
