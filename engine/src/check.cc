#include "pbxstate/check.h"

#include <cstdio>
#include <cstdlib>

namespace pbxstate::check_internal {

void Fail(const char* file, int line, const char* expression, const std::string& values) {
  // One write, no allocation beyond what the caller made: the process may be short of memory.
  if (values.empty()) {
    std::fprintf(stderr, "%s:%d: pbxstate check failed: %s\n", file, line, expression);
  } else {
    std::fprintf(stderr, "%s:%d: pbxstate check failed: %s (%s)\n", file, line, expression, values.c_str());
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace pbxstate::check_internal
