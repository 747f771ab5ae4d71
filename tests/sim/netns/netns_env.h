// Shared by the namespace tests: skip (CTest's code 77, with the reason) where this machine
// cannot run a namespace cluster, instead of passing silently.
#pragma once

#include <cstdio>

#include "pbxstate/netns/cluster.h"

namespace pbxstate::netns::testing {

inline constexpr int kSkipReturnCode = 77;

// Returns true when the host can run namespaces; otherwise prints why to stderr.
inline bool HostCanRunNamespaces() {
  const Status st = CheckHostSupport();
  if (!st.ok()) {
    std::fprintf(stderr, "SKIPPED: this machine cannot run a namespace cluster: %s\n", st.message().c_str());
    return false;
  }
  return true;
}

}  // namespace pbxstate::netns::testing
