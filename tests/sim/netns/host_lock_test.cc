// The host's namespace lock (sim/netns/include/pbxstate/netns/host_lock.h): one holder across
// processes, shared within one, released when the holder lets go. On a lock file of the test's
// own, so it never meets a real run's.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "pbxstate/netns/host_lock.h"

namespace pbxstate::netns {
namespace {

using namespace std::chrono_literals;

std::string TestLockPath() {
  return (std::filesystem::temp_directory_path() / ("pbxstate-host-lock-test-" + std::to_string(getpid()))).string();
}

// Whether another process gets the lock at `path` within `wait` (exit 0: got it; 1: refused).
bool OtherProcessGets(const std::string& path, Duration wait) {
  const pid_t child = fork();
  if (child == 0) {
    std::shared_ptr<HostLock> lock;
    _exit(HostLock::Acquire(path, wait, &lock).ok() ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(HostLock, OneHolderAcrossProcessesSharedWithinOne) {
  const std::string path = TestLockPath();
  std::shared_ptr<HostLock> first, second;
  ASSERT_TRUE(HostLock::Acquire(path, 1s, &first).ok());
  ASSERT_TRUE(HostLock::Acquire(path, 1s, &second).ok());
  EXPECT_EQ(first.get(), second.get());  // a second cluster of this process shares the hold
  EXPECT_FALSE(OtherProcessGets(path, 300ms));
  first.reset();
  EXPECT_FALSE(OtherProcessGets(path, 300ms));  // still held through `second`
  second.reset();
  EXPECT_TRUE(OtherProcessGets(path, 300ms));
  std::filesystem::remove(path);
}

TEST(HostLock, AWaiterThatGivesUpNamesTheHolder) {
  const std::string path = TestLockPath();
  std::shared_ptr<HostLock> mine;
  ASSERT_TRUE(HostLock::Acquire(path, 1s, &mine).ok());
  const pid_t child = fork();
  if (child == 0) {
    std::shared_ptr<HostLock> lock;
    const Status st = HostLock::Acquire(path, 200ms, &lock);
    const std::string expected = "held by pid " + std::to_string(getppid()) + ": gave up waiting";
    _exit(!st.ok() && st.message().find(expected) != std::string::npos ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  mine.reset();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace pbxstate::netns
