// CpgEnv::Create and the C CPG host when the process is out of descriptors: an operating-system
// failure is a Status naming the call, never a crash or an env with a descriptor of -1. Each case
// runs in a child process (a death test) that lowers its own RLIMIT_NOFILE.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "descriptor_limit.h"
#include "pbxstate/corosync/c_cpg_host.h"
#include "pbxstate/corosync/cpg_env.h"

namespace pbxstate::corosync {
namespace {

using pbxstate::testing::LimitDescriptors;

// Create with `spare` descriptors left: prints the status and exits 0 when it failed cleanly.
[[noreturn]] void CreateWith(int spare) {
  LimitDescriptors(spare);
  std::unique_ptr<CpgEnv> env;
  const Status s = CpgEnv::Create(CpgEnvConfig{}, nullptr, &env);
  std::fprintf(stderr, "status: %s\n", s.message().c_str());
  std::_Exit(!s.ok() && env == nullptr ? 0 : 1);
}

TEST(CpgEnvDeathTest, OutOfDescriptorsIsAStatusNamingTheCall) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The transport's epoll set, then its retry timer, then the env's wakeup timer, then the env's
  // epoll set: each failure is reported as itself.
  EXPECT_EXIT(CreateWith(0), ::testing::ExitedWithCode(0), "status: epoll_create1: Too many open files");
  EXPECT_EXIT(CreateWith(1), ::testing::ExitedWithCode(0), "status: timerfd_create: Too many open files");
  EXPECT_EXIT(CreateWith(2), ::testing::ExitedWithCode(0), "status: timerfd_create: Too many open files");
  EXPECT_EXIT(CreateWith(3), ::testing::ExitedWithCode(0), "status: epoll_create1: Too many open files");
}

TEST(CpgEnvDeathTest, TheCHostReportsItToo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        LimitDescriptors(1);
        pbxstate_cpg_host_config hc;
        pbxstate_cpg_host_config_init(&hc);
        pbxstate_cpg_host* host = nullptr;
        char err[256] = "";
        const int rc = pbxstate_cpg_host_create(&hc, nullptr, nullptr, &host, err, sizeof err);
        std::fprintf(stderr, "rc %d: %s\n", rc, err);
        std::_Exit(rc == PBXSTATE_E_INTERNAL && host == nullptr ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "rc 8: cannot open the host's descriptors: timerfd_create: Too many open files");
}

TEST(CpgEnv, CreateSucceedsWithDescriptorsToSpare) {
  std::unique_ptr<CpgEnv> env;
  const Status s = CpgEnv::Create(CpgEnvConfig{}, nullptr, &env);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_NE(env, nullptr);
  EXPECT_GE(env->fd(), 0);
  EXPECT_GE(env->transport().fd(), 0);
  EXPECT_TRUE(env->transport().open_status().ok());
}

}  // namespace
}  // namespace pbxstate::corosync
