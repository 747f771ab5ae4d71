// Which slots may matter to a stretch of a run, without walking every slot: the convergence
// measurement (sim/harness/src/convergence.cc) asks it once per fault end, in time order.
//
// A span [from, to] of a slot is a stretch of time in which the slot is not simply "none
// everywhere": an owner's value, a node showing a value, or an instant at which a value changed
// (a span of one instant). Outside every span of a slot, the slot reads none and nothing about it
// changes, so a stretch no span of the slot reaches cannot tell anything about it.
//
// Queries come in time order (both ends non-decreasing), so the index sweeps: a span enters the
// active list when a query reaches its start and leaves it when a query starts after its end.
// Each span is sorted once, entered once and left once; a query costs the spans active at it.
// The answer is a superset of the slots whose spans overlap the query (a slot with several
// active spans may come more than once: the caller deduplicates).
#pragma once

#include <cstddef>
#include <vector>

#include "pbxstate/harness/slots.h"
#include "pbxstate/harness/workload.h"

namespace pbxstate::harness {

class SpanIndex {
 public:
  // Adds the span [from, to] of `slot` (from <= to). Only before the first Overlapping.
  void Add(SlotId slot, Duration from, Duration to);
  // Appends to `out` every slot with a span overlapping [from, to]: from <= span.to and
  // span.from <= to. `from` and `to` must not go back from one call to the next.
  void Overlapping(Duration from, Duration to, std::vector<SlotId>* out);
  // Spans added; spans in the active list now (the cost of the next query).
  std::size_t size() const { return spans_.size(); }
  std::size_t active() const { return active_.size(); }

 private:
  struct Span {
    Duration from, to;
    SlotId slot;
  };
  std::vector<Span> spans_;   // sorted by `from` at the first query
  std::vector<Span> active_;  // entered (from <= the last query's `to`), not yet left
  std::size_t next_ = 0;      // the first span of spans_ not yet entered
  bool sorted_ = false;
  Duration last_from_{Duration::min()}, last_to_{Duration::min()};
};

}  // namespace pbxstate::harness
