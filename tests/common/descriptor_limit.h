// Lowers the process's descriptor limit so that the next few descriptor-creating calls fail with
// EMFILE: how a test drives an operating-system failure path (a Status naming the call) without
// a mock. Call it in a child process only (a death test): the limit is the process's.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>

#include <cstdlib>

namespace pbxstate::testing {

// Lets the process open `spare` more descriptors, then none: the limit is the number of the
// (spare + 1)-th free descriptor (a new descriptor must be below the limit; there may be holes).
// Exits with status 3 when the limit cannot be set.
inline void LimitDescriptors(int spare) {
  int fd = 0;
  for (int free_seen = 0;; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && free_seen++ == spare) break;
  }
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = static_cast<rlim_t>(fd);
  if (::setrlimit(RLIMIT_NOFILE, &r) != 0) std::_Exit(3);
}

}  // namespace pbxstate::testing
