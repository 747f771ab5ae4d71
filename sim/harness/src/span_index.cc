#include "pbxstate/harness/span_index.h"

#include <algorithm>
#include <cassert>

namespace pbxstate::harness {

void SpanIndex::Add(SlotId slot, Duration from, Duration to) {
  assert(!sorted_ && from <= to);
  spans_.push_back({from, to, slot});
}

void SpanIndex::Overlapping(Duration from, Duration to, std::vector<SlotId>* out) {
  assert(from <= to && from >= last_from_ && to >= last_to_);
  last_from_ = from;
  last_to_ = to;
  if (!sorted_) {
    std::stable_sort(spans_.begin(), spans_.end(), [](const Span& a, const Span& b) { return a.from < b.from; });
    sorted_ = true;
  }
  for (; next_ < spans_.size() && spans_[next_].from <= to; ++next_) active_.push_back(spans_[next_]);
  // A span that ended before `from` ends before every later query too.
  std::erase_if(active_, [&](const Span& s) { return s.to < from; });
  for (const Span& s : active_) out->push_back(s.slot);
}

}  // namespace pbxstate::harness
