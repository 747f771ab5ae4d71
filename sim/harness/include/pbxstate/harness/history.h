// What the oracle knows about a run besides its workload: which nodes were up (and in which
// incarnation), which node's frames could reach which, and, with transport membership, the views
// the backend handed to each node. Everything here is piecewise constant between events; an
// epoch is one stretch between two consecutive event instants. Nothing here asks an engine.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "pbxstate/engine.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate::harness {

// The settings the oracle's rules depend on, and the tolerances it derives from them
// (engine/README.md, "Semantics", is the contract; oracle.h says how each tolerance is used).
struct OracleTiming {
  MembershipSource membership = MembershipSource::kHeartbeat;
  Duration heartbeat_interval{};
  Duration suspect_after{};
  Duration departure_grace{};
  // The longest a change takes from its origin to a node it reaches without loss: the batch
  // window, the slowest path's delay and jitter, the longest reorder_delay of a LAN or link that
  // reorders (a frame held back arrives that much later), degradations included, and 10 ms of
  // queueing.
  Duration inflight{};
  // The longest silence of a live peer that is heard without loss: heartbeats are jittered by
  // 10% and one is skipped right after a broadcast (engine_members.cc), so 2.2 intervals, plus
  // inflight.
  Duration max_silence{};
  // How long a repair by anti-entropy may take between two nodes that hear each other both
  // ways: two heartbeats (to be heard again), two anti-entropy rounds, a sync timeout (a donor
  // that stalls) and two inflights.
  Duration settle{};

  static OracleTiming Of(const scenario::Scenario& s);
};

// Loss between the nodes of two sites over a run: the configured values, replaced on a
// degraded LAN or link while the degradation is in force (scenario faults `degrade` and
// `restore`): 1 - (1 - lan a)(1 - link)(1 - lan b).
class PathLoss {
 public:
  PathLoss() = default;
  explicit PathLoss(const scenario::Scenario& s);
  // The worst loss between `a` and `b` in force at any instant of [from, to].
  double Between(NodeId a, NodeId b, Duration from, Duration to) const;
  // Whether any path of the cluster loses frames at some instant of [from, to].
  bool Any(Duration from, Duration to) const;

 private:
  struct Snapshot {
    Duration from;
    std::vector<double> loss;  // sites_ x sites_
  };
  std::vector<std::size_t> site_of_;  // by node - 1
  std::size_t sites_ = 1;
  std::vector<Snapshot> snapshots_;   // in time order; the first from 0
};

class ClusterHistory {
 public:
  // `membership`: with kTransport, frames count only between nodes that are in each other's
  // configuration (CPG): with views given (View), a frame from A reaches B when the link lets it
  // and A is in B's view; without views, when links let frames pass both ways.
  ClusterHistory(std::uint32_t node_count, MembershipSource membership);

  // ---- fed in time order ----
  void Started(Duration t, NodeId node, std::uint64_t incarnation);
  void Crashed(Duration t, NodeId node);
  // The cut in force from `t`: `sides` empty is no cut (heal). Without `one_way` frames cross
  // between no two sides; with it (two sides) only frames from sides[0] to sides[1] are lost.
  // Nodes in no side are a side of their own together.
  void Cut(Duration t, const std::vector<std::vector<NodeId>>& sides, bool one_way);
  // The membership view the backend handed `node`'s engine at `t` (transport membership).
  void View(Duration t, NodeId node, std::vector<NodeId> members);
  // A crash kills only the engine's process: its node's transport lives on and still delivers
  // what the engine handed it (Corosync under a PBX process, `corosync.crash: process`). Off:
  // a crash takes the transport's queue with it (the inproc network; `corosync.crash: node`).
  void SetTransportOutlivesCrashes(bool outlives) { transport_outlives_crashes_ = outlives; }
  // The transport is Corosync's token ring (real, or ns-3's model of it): a cut, a crash or loss
  // can stall it without any view changing, and what it had not delivered to a member by the
  // time that member's view lost the sender never arrives there (write_spread.h, "A stalled
  // ring"). Off: frames are dropped or delivered, never held back (the inproc network, ns-3 over
  // UDP).
  void SetRingMayStall(bool stalls) { ring_may_stall_ = stalls; }
  // No more events; the last epoch ends at `end`. Builds the epochs.
  void Seal(Duration end);

  // ---- questions (after Seal) ----
  std::uint32_t node_count() const { return node_count_; }
  MembershipSource membership() const { return membership_; }
  bool has_views() const { return has_views_; }
  bool transport_outlives_crashes() const { return transport_outlives_crashes_; }
  bool ring_may_stall() const { return ring_may_stall_; }
  Duration end() const { return end_; }
  std::size_t epoch_count() const { return epochs_.size(); }
  Duration EpochStart(std::size_t e) const { return epochs_[e].start; }
  Duration EpochEnd(std::size_t e) const { return e + 1 < epochs_.size() ? epochs_[e + 1].start : end_; }
  // The epoch holding `t`: the last one starting at or before it (the first for t < 0).
  std::size_t EpochAt(Duration t) const;

  bool Up(NodeId n, Duration t) const;
  // The incarnation `n` runs at `t`; 0 when down.
  std::uint64_t Incarnation(NodeId n, Duration t) const;
  // When the incarnation `n` runs at `t` started; nullopt when down.
  std::optional<Duration> StartOf(NodeId n, Duration t) const;
  bool Up(NodeId n, std::size_t e) const { return Up(n, EpochStart(e)); }
  std::uint64_t Incarnation(NodeId n, std::size_t e) const { return Incarnation(n, EpochStart(e)); }
  // No cut separates `from` from `to` in epoch e (direction from -> to); says nothing of up.
  bool CutAllows(NodeId from, NodeId to, std::size_t e) const;
  // Frames `from` sends in epoch e reach `to` and its engine takes them: both up, the cut lets
  // them pass and, with transport membership, `from` is a member for `to` (see the constructor).
  bool Link(NodeId from, NodeId to, std::size_t e) const;
  // With views: whether `member` is in the last view `node` got at or before epoch e started, in
  // its incarnation then (a restarted node has no view until the transport gives it one).
  bool InView(NodeId node, NodeId member, std::size_t e) const;
  // With views: when `node` got the view it holds at `t`, in its incarnation then; nullopt when
  // it holds none (down, or restarted and given none yet).
  std::optional<Duration> ViewSince(NodeId node, Duration t) const;
  // Something that can hold a token ring back happened in [from, to]: a cut in force at some
  // instant of it, or a node crashed or started in (from, to]. Loss is PathLoss's.
  bool Disturbed(Duration from, Duration to) const;
  // Any cut in force at `t`.
  bool CutAt(Duration t) const;
  // The side `n` is on in epoch e (0 without a cut), and whether frames pass from side `a` to
  // side `b` (ignoring membership): CutAllows in terms of sides.
  std::uint32_t SideOf(NodeId n, std::size_t e) const;
  std::uint32_t SideCount(std::size_t e) const;
  bool SideAllows(std::uint32_t a, std::uint32_t b, std::size_t e) const;

  // One stretch of epochs during which `to` (in its incarnation at `at`) kept a relation with
  // `from` (in one incarnation of `from`): the one in force at `at`, or the last before it.
  struct Contact {
    bool ever = false;   // there was one in `to`'s incarnation at `at`
    bool now = false;    // it holds at `at`
    Duration since{};    // when it started
    Duration until{};    // when it ended (`at` when now)
    std::uint64_t from_incarnation = 0;
  };
  // The relation "frames from `from` reach `to`" (Link).
  Contact LinkContact(NodeId from, NodeId to, Duration at) const;
  // The relation "`from` is in `to`'s view" (views only).
  Contact ViewContact(NodeId from, NodeId to, Duration at) const;

 private:
  struct UpChange {
    Duration t;
    std::uint64_t incarnation;  // 0: down from t
  };
  struct CutConfig {
    std::vector<std::uint32_t> side_of;  // by node - 1; empty: no cut
    std::uint32_t sides = 1;
    bool one_way = false;
  };
  struct ViewChange {
    Duration t;
    std::vector<NodeId> members;  // sorted
  };
  struct Epoch {
    Duration start;
    std::uint32_t cut;  // index into cuts_
  };
  template <class Holds>
  Contact ContactOf(NodeId from, NodeId to, Duration at, const Holds& holds) const;

  std::uint32_t node_count_;
  MembershipSource membership_;
  bool has_views_ = false;
  bool transport_outlives_crashes_ = false;
  bool ring_may_stall_ = false;
  bool sealed_ = false;
  Duration end_{};
  std::vector<std::vector<UpChange>> up_;        // by node - 1, in time order
  std::vector<std::pair<Duration, std::uint32_t>> cut_changes_;  // (t, index into cuts_)
  std::vector<CutConfig> cuts_;                  // cuts_[0]: no cut
  std::vector<std::vector<ViewChange>> views_;   // by node - 1, in time order
  std::vector<Epoch> epochs_;
};

}  // namespace pbxstate::harness
