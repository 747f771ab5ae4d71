#include "hash.h"

#include <cstring>

namespace pbxstate {

Hasher& Hasher::Add(std::string_view s) {
  Add(s.size());
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    Add(w);
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  return Add(tail);
}

}  // namespace pbxstate
