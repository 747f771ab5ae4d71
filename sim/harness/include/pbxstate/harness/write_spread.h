// Where one mailbox write can be, and where it must be, from the cluster history alone.
//
// A write lives in the memory of the nodes that hold it (engine/README.md, "MWI"): its writer,
// then every node a holder's frames reach (the writer's UPDATES, or a catch-up session from any
// holder). A node that crashes loses it. So, epoch by epoch (ClusterHistory):
//  - possibly held: the writer from the write on; in each epoch, every up node reachable from a
//    possible holder through links (the closure, directed); a crash removes a node. Where the
//    transport outlives crashes (CPG under a PBX process, ClusterHistory), also every member
//    that has kept the writer in its view since the write, in any epoch whose cut lets the
//    writer's node reach it, even after the writer's engine died. An over-approximation: what
//    is not possibly held at a node cannot be there.
//  - certainly held: the writer; a node the writer's link reaches without loss for `inflight`
//    after the write (its UPDATES arrive; with transport membership only where links pass both
//    ways, as a one-way cut stops CPG's deliveries before the views change); and in any epoch that lasts `settle` (from its start or
//    from the write), every up node that hears a certain holder both ways (anti-entropy needs a
//    digest one way and a pull the other). A crash removes a node. An under-approximation.
//  - settled: what would be certainly held if the epoch in force lasted long enough (the
//    convergence target inside a stretch with no fault).
//
// A stalled ring (ClusterHistory::ring_may_stall: Corosync, real or ns-3's model, with views).
// Corosync delivers what a node sent in a view to every member that moves on with the sender
// (extended virtual synchrony); a member whose view loses the sender has whatever the ring had
// delivered to it by then, and nothing more ever comes from that ring. When the ring runs
// smoothly that is everything sent `inflight` before; but a cut, a crash or loss can hold the
// whole ring back for seconds to tens of seconds without any view changing (a one-way cut, a
// site cut shorter than the token; sim/emu/README.md measured both), and the backlog is only
// gone once a new ring forms, which is a view change. So a member that certainly held a write
// by the rules above, but only because the ring was taken to deliver it, stops being a certain
// holder when its view loses the writer, if the ring may have been held back between the start
// of the member's view and `inflight` after the write (ClusterHistory::Disturbed or
// PathLoss::Any in that stretch): it may hold the write (possible), it need not. A write made
// in a view that nothing disturbed until it was due stays certain, so an engine that drops a
// delivered write when its writer departs is still caught; and where the transport outlives a
// crashed engine, its leave comes after its messages, so that departure takes nothing away.
// A later repair (both ways, `settle`) makes it certain again by the rules above. The writer is
// the incarnation that wrote: a view given at or after the writer's restart has lost it, though
// it lists the writer's node id (WriterInView).
// Not modelled: a second departure of the writer from a member whose view lost it once.
// Being superseded by a greater write is not modelled here: the oracle asks these questions of
// the writes from the greatest down and stops at the first certain one (oracle.h).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "pbxstate/harness/history.h"

namespace pbxstate::harness {

class WriteSpread {
 public:
  // `writer` made the write at `at`; `loss` says which paths drop frames.
  WriteSpread(const ClusterHistory& history, const OracleTiming& timing, const PathLoss& loss, NodeId writer,
              Duration at);

  // `n`, in its incarnation at `t`, may hold the write at `t`.
  bool Possible(NodeId n, Duration t) const;
  // `n`, in its incarnation at `t`, holds the write at `t` (unless a greater write replaced it).
  bool Certain(NodeId n, Duration t) const;
  // `n` would hold it if the configuration in force at `t` lasted.
  bool Settled(NodeId n, Duration t) const;

 private:
  using Bits = std::vector<std::uint64_t>;
  struct EpochSets {
    Bits possible;   // at the epoch's end
    Bits carried;    // certain holders at the epoch's start
    Bits expanded;   // certain holders once the epoch has lasted `settle`
  };
  static bool Has(const Bits& b, NodeId n) { return (b[(n - 1) / 64] >> ((n - 1) % 64) & 1) != 0; }
  static void Set(Bits& b, NodeId n) { b[(n - 1) / 64] |= std::uint64_t{1} << ((n - 1) % 64); }
  // Transport outliving crashes: drops from `relay` the members whose view lost the writer (or
  // that restarted) by epoch e, and adds to `possible` those the cut lets the writer's node reach.
  void Relay(Bits* relay, Bits* possible, std::size_t e, std::size_t e0) const;
  // A stalled ring: drops from `certain` (and from `exposed`) the members of `exposed` whose
  // view lost the writer by epoch e, and from `exposed` those that left it otherwise.
  void Unstall(Bits* exposed, Bits* certain, std::size_t e) const;
  // Whether `m`'s view in epoch e holds the writer in the incarnation that made the write: the
  // writer is in it and, when the writer restarted after the write, the view was given before
  // that restart (ClusterHistory::InView knows node ids only).
  bool WriterInView(NodeId m, std::size_t e) const;
  // Holders of the previous epoch that are still up in the same incarnation in epoch e.
  Bits Carry(const Bits& from, std::size_t e) const;
  // Every up node reachable from `start` by links of epoch e (directed closure).
  Bits Closure(const Bits& start, std::size_t e) const;
  // `start` plus every up node that hears a member of `start` both ways in epoch e.
  Bits BothWays(const Bits& start, std::size_t e) const;
  const EpochSets* SetsAt(Duration t, std::size_t* e) const;

  const ClusterHistory& h_;
  const OracleTiming& timing_;
  NodeId writer_;
  Duration at_;
  std::size_t first_epoch_;
  std::uint64_t writer_incarnation_;          // the writer's when it wrote
  std::optional<Duration> writer_restart_;    // its first start in another incarnation after the write
  Bits direct_;              // reached by the writer's own UPDATES without loss
  bool direct_valid_ = false;
  std::vector<EpochSets> sets_;  // from first_epoch_ on
};

}  // namespace pbxstate::harness
