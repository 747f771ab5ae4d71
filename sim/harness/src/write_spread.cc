#include "pbxstate/harness/write_spread.h"

#include <cassert>
#include <optional>

namespace pbxstate::harness {

WriteSpread::WriteSpread(const ClusterHistory& history, const OracleTiming& timing, const PathLoss& loss,
                         NodeId writer, Duration at)
    : h_(history),
      timing_(timing),
      writer_(writer),
      at_(at),
      first_epoch_(history.EpochAt(at)),
      writer_incarnation_(history.Incarnation(writer, at)) {
  const std::size_t words = (h_.node_count() + 63) / 64;
  const std::size_t e0 = first_epoch_;
  for (std::size_t e = e0 + 1; e < h_.epoch_count() && !writer_restart_; ++e) {
    if (h_.Up(writer_, e) && h_.Incarnation(writer_, e) != writer_incarnation_) writer_restart_ = h_.EpochStart(e);
  }
  direct_.assign(words, 0);
  Set(direct_, writer);
  // The writer's UPDATES reach every node its link reaches without loss, if the epoch lasts.
  // With transport membership the link must pass both ways too: a one-way cut breaks CPG's ring
  // at once, so the writer's frames stop crossing before the views say so (the inproc network's
  // consistent views form the new configuration at the cut, hand it over view_delay later; swarm
  // seed 4508). Link alone (the members' views) still bounds what is possible.
  const bool transport = h_.membership() == MembershipSource::kTransport;
  if (h_.EpochEnd(e0) >= at + timing.inflight) {
    direct_valid_ = true;
    for (NodeId m = 1; m <= h_.node_count(); ++m) {
      if (m != writer && h_.Link(writer, m, e0) && (!transport || h_.CutAllows(m, writer, e0)) &&
          loss.Between(writer, m, at, at + timing.inflight) == 0.0) {
        Set(direct_, m);
      }
    }
  }
  // CPG delivers what the writer handed it in the view it was sent in, to every member that keeps
  // the writer in its view, whatever becomes of the writer's engine when its node's transport
  // lives on: a cut shorter than the token stalls the ring without changing the view, and the
  // writer's leave is delivered after its messages (adversarial/never-arriving-write on emu).
  // So such a member may hold the write wherever the cut lets the writer's node reach it.
  const bool relays = transport && h_.has_views() && h_.transport_outlives_crashes();
  Bits relay(words, 0);  // members whose view has held the writer, in one incarnation, since the write
  if (relays) {
    for (NodeId m = 1; m <= h_.node_count(); ++m) {
      if (m != writer && WriterInView(m, e0)) Set(relay, m);
    }
  }
  // A stalled ring (write_spread.h): the members the ring may have held the write back from,
  // because something disturbed it between the start of their view and the write's due time.
  Bits exposed(words, 0);
  bool any_exposed = false;
  if (transport && h_.has_views() && h_.ring_may_stall()) {
    const Duration due = at + timing.inflight;
    for (NodeId m = 1; m <= h_.node_count(); ++m) {
      const std::optional<Duration> since = m == writer ? std::nullopt : h_.ViewSince(m, at);
      if (since && (h_.Disturbed(*since, due) || loss.Any(*since, due))) {
        Set(exposed, m);
        any_exposed = true;
      }
    }
  }
  Bits possible(words, 0), certain(words, 0);
  Set(possible, writer);
  Set(certain, writer);
  for (std::size_t e = e0; e < h_.epoch_count(); ++e) {
    EpochSets s;
    if (e > e0) {
      possible = Carry(possible, e);
      certain = Carry(certain, e);
      if (any_exposed) Unstall(&exposed, &certain, e);
    }
    if (relays) Relay(&relay, &possible, e, e0);
    s.carried = certain;
    s.possible = Closure(possible, e);
    s.expanded = BothWays(certain, e);
    if (e == e0) {
      for (std::size_t w = 0; w < words; ++w) s.expanded[w] |= direct_[w];
    }
    const Duration from = e == e0 ? at : h_.EpochStart(e);
    possible = s.possible;
    if (h_.EpochEnd(e) - from >= timing.settle) {
      certain = s.expanded;
    } else if (e == e0 && direct_valid_) {
      for (std::size_t w = 0; w < words; ++w) certain[w] |= direct_[w];
    }
    sets_.push_back(std::move(s));
  }
}

bool WriteSpread::WriterInView(NodeId m, std::size_t e) const {
  if (!h_.InView(m, writer_, e)) return false;
  if (!writer_restart_) return true;
  // The writer's node id in a view given at or after its restart is the new incarnation, which
  // joined a ring the write's incarnation had left (CPG may hand both in one configuration).
  const std::optional<Duration> since = h_.ViewSince(m, h_.EpochStart(e));
  return since && *since < *writer_restart_;
}

void WriteSpread::Relay(Bits* relay, Bits* possible, std::size_t e, std::size_t e0) const {
  for (NodeId m = 1; m <= h_.node_count(); ++m) {
    if (!Has(*relay, m)) continue;
    if (e > e0 && (h_.Incarnation(m, e) != h_.Incarnation(m, e - 1) || !WriterInView(m, e))) {
      (*relay)[(m - 1) / 64] &= ~(std::uint64_t{1} << ((m - 1) % 64));  // the writer left its view
      continue;
    }
    if (h_.CutAllows(writer_, m, e)) Set(*possible, m);
  }
}

void WriteSpread::Unstall(Bits* exposed, Bits* certain, std::size_t e) const {
  auto clear = [](Bits* b, NodeId n) { (*b)[(n - 1) / 64] &= ~(std::uint64_t{1} << ((n - 1) % 64)); };
  for (NodeId m = 1; m <= h_.node_count(); ++m) {
    if (!Has(*exposed, m)) continue;
    if (!h_.Up(m, e) || h_.Incarnation(m, e) != h_.Incarnation(m, e - 1)) {
      clear(exposed, m);  // restarted or down: Carry has dropped it already
      continue;
    }
    if (WriterInView(m, e)) continue;
    clear(exposed, m);
    // The writer's engine crashed (and may have restarted since) while its corosync lived on:
    // its leave is delivered after what it had sent, so the departure takes nothing away.
    if (h_.transport_outlives_crashes() && h_.Incarnation(writer_, e) != writer_incarnation_) continue;
    clear(certain, m);
  }
}

WriteSpread::Bits WriteSpread::Carry(const Bits& from, std::size_t e) const {
  Bits out(from.size(), 0);
  for (NodeId n = 1; n <= h_.node_count(); ++n) {
    if (Has(from, n) && h_.Up(n, e) && h_.Incarnation(n, e) == h_.Incarnation(n, e - 1)) Set(out, n);
  }
  return out;
}

WriteSpread::Bits WriteSpread::Closure(const Bits& start, std::size_t e) const {
  Bits out = start;
  const std::uint32_t count = h_.node_count();
  if (h_.membership() == MembershipSource::kTransport && h_.has_views()) {
    // Views may differ per node: a plain search over links.
    std::vector<NodeId> frontier;
    for (NodeId n = 1; n <= count; ++n) {
      if (Has(out, n)) frontier.push_back(n);
    }
    while (!frontier.empty()) {
      const NodeId a = frontier.back();
      frontier.pop_back();
      for (NodeId b = 1; b <= count; ++b) {
        if (!Has(out, b) && h_.Link(a, b, e)) {
          Set(out, b);
          frontier.push_back(b);
        }
      }
    }
    return out;
  }
  // Without views, links follow the sides of the cut: close over sides.
  const bool both_ways = h_.membership() == MembershipSource::kTransport;
  const std::uint32_t sides = h_.SideCount(e);
  std::vector<bool> reached(sides, false);
  for (NodeId n = 1; n <= count; ++n) {
    if (Has(out, n) && h_.Up(n, e)) reached[h_.SideOf(n, e)] = true;
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (std::uint32_t a = 0; a < sides; ++a) {
      for (std::uint32_t b = 0; b < sides; ++b) {
        const bool pass = h_.SideAllows(a, b, e) && (!both_ways || h_.SideAllows(b, a, e));
        if (reached[a] && !reached[b] && pass) reached[b] = grew = true;
      }
    }
  }
  for (NodeId n = 1; n <= count; ++n) {
    if (reached[h_.SideOf(n, e)] && h_.Up(n, e)) Set(out, n);
  }
  return out;
}

WriteSpread::Bits WriteSpread::BothWays(const Bits& start, std::size_t e) const {
  Bits out = start;
  const std::uint32_t count = h_.node_count();
  if (h_.membership() == MembershipSource::kTransport && h_.has_views()) {
    for (NodeId m = 1; m <= count; ++m) {
      if (Has(out, m) || !h_.Up(m, e)) continue;
      for (NodeId a = 1; a <= count; ++a) {
        if (Has(start, a) && h_.Link(a, m, e) && h_.Link(m, a, e)) {
          Set(out, m);
          break;
        }
      }
    }
    return out;
  }
  std::vector<bool> holder_side(h_.SideCount(e), false);
  for (NodeId n = 1; n <= count; ++n) {
    if (Has(start, n) && h_.Up(n, e)) holder_side[h_.SideOf(n, e)] = true;
  }
  // Both ways between two different sides never holds: a one-way cut blocks one direction.
  for (NodeId n = 1; n <= count; ++n) {
    if (holder_side[h_.SideOf(n, e)] && h_.Up(n, e)) Set(out, n);
  }
  return out;
}

const WriteSpread::EpochSets* WriteSpread::SetsAt(Duration t, std::size_t* e) const {
  if (t < at_) return nullptr;
  *e = h_.EpochAt(t);
  assert(*e >= first_epoch_);
  return &sets_[*e - first_epoch_];
}

bool WriteSpread::Possible(NodeId n, Duration t) const {
  std::size_t e;
  const EpochSets* s = SetsAt(t, &e);
  return s != nullptr && Has(s->possible, n);
}

bool WriteSpread::Certain(NodeId n, Duration t) const {
  std::size_t e;
  const EpochSets* s = SetsAt(t, &e);
  if (s == nullptr) return false;
  if (Has(s->carried, n)) return true;
  const Duration from = e == first_epoch_ ? at_ : h_.EpochStart(e);
  if (t - from >= timing_.settle && Has(s->expanded, n)) return true;
  return e == first_epoch_ && direct_valid_ && t >= at_ + timing_.inflight && Has(direct_, n);
}

bool WriteSpread::Settled(NodeId n, Duration t) const {
  std::size_t e;
  const EpochSets* s = SetsAt(t, &e);
  return s != nullptr && Has(s->expanded, n);
}

}  // namespace pbxstate::harness
