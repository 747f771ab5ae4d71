// The oracle: what each node of a cluster may show, computed from the workload log (the local
// changes nodes accepted, and the HLC each mailbox write got at its writer) and the history of
// the run (starts, crashes, cuts, transport views) alone. It shares no code with the engine and
// never asks one: its rules are engine/README.md's "Semantics", written again here. It judges
// every scenario run, whatever the backend (it sees a run only through RunRecorder, which any
// driver of engines can feed: tests/sim/harness/mutation_test.cc feeds it an inproc cluster).
// It is the only oracle: randomized whole-cluster runs are the swarm's (tests/sim/swarm), judged
// by this one.
//
// The rules, for a node N at time T (engine/README.md has the contract they follow):
//
// Owned entries (devices, registrations) of another node O. N takes O's entries while it
// counts O; what it shows is O's own value (O's timeline: what O set in its incarnation, absent
// while O is down, a registration absent from its expiry on):
//  - Heartbeat membership. N hears O while O's frames reach N (O up, no cut in the direction
//    O -> N; the other direction does not matter). While N hears O, N shows O's value at T, or
//    one O had within `recent` before T (a frame still in flight). When N stopped hearing O at
//    L, N keeps O's entries frozen as they were just before L (within `recent`) until its
//    failure detector suspects O and the departure grace runs out, then shows none:
//    suspicion comes between L + suspect_after - max_silence and L + inflight + suspect_after +
//    heartbeat_interval / 2, so before the first bound + grace N must show the frozen value,
//    after the second bound + grace it must show nothing, and between it may show either.
//  - Transport membership with the backend's views (RunRecorder::MembershipDelivered; each
//    backend's source: sim/harness/README.md): N counts O while O is in N's view and for
//    departure_grace after O leaves it (1 ms either way); a view counts only for the incarnation
//    of N it was handed to; frames pass only from members. Without views: as with heartbeats, but O's frames count
//    only where links pass both ways, and the detection may take from 0 to 2 * suspect_after +
//    settle.
//  - Just after N started hearing O again, or after a stretch of hearing shorter than `settle`,
//    N may not have caught up yet: any value O ever had, or none, is accepted.
//  - Under loss heavy enough that N's detector may suspect a live O now and then
//    (loss^(suspect_after / 1.1 heartbeat_interval) > 1e-6) and a grace shorter than `settle`,
//    showing none of O's entries is accepted too.
//  `recent` is OracleTiming::inflight on a path without loss, OracleTiming::settle on a lossy
//  one. Loss counts where it is in force (PathLoss: configured, or degraded until restored) from
//  suspect_after + settle before the contact's end (or T) up to T.
//
// Mailboxes. Every write's HLC is taken from the local view change its writer reported
// (RunRecorder::ViewChanged, cause kLocal): an observed fact of the write, like its instant.
// The oracle itself decides the winner: the greatest (hlc, writer). A write lives only in the
// memory of the nodes that hold it (write_spread.h): what N may show is, over the writes made
// by T from the greatest down, every write N possibly holds down to the first N certainly
// holds, which N must show at the least; when N certainly holds none, none is accepted too. A
// write nobody alive ever received (an isolated node that writes and crashes before the heal)
// is therefore never required. Where the backend's transport outlives a crashed engine
// (RunRecorder::TransportOutlivesCrashes: Corosync under a PBX process), such a write may still
// arrive, at the members that kept the writer in their view since the write (engine/README.md,
// "Deliveries over CPG"): accepted there, not required. Where the transport is Corosync's ring
// (RunRecorder::TransportRingMayStall), a cut, a crash or loss can hold the whole ring back
// without a view change, and a member whose view then loses the writer never gets what the ring
// had not delivered to it: a write made while something disturbed the member's view is not
// required there once its writer left that view (write_spread.h, "A stalled ring";
// sim/harness/README.md). A write without a reported HLC gets the model's: the writer's
// clock at the write ticked after its previous write, the clock read from the writer's latest
// stamped write (its HLC's wall time plus the run time since; a node's clock keeps its offset
// across restarts), else from any node's latest, else kSimEpochNs + t.
//
// Mailbox removals (Engine::RemoveMailbox) are writes without counts: each wins or loses by
// (hlc, writer) like any write, and what a node may show is found the same way, a removal
// standing for none. The engine makes one only where the remover holds a value; its own report
// (a local view change without new_mailbox, RunRecorder::ViewChanged) says it did, and a removal
// without that report was not made and is dropped. Its report carries no HLC, so a removal always
// takes the model's (above); name_churn makes every write and removal of a churned mailbox at one
// node, where the model's order is that node's own. A removal's tombstone is held while a node is
// away and goes TombstoneKeep (config.h) after both its HLC's wall time and the cluster's being
// whole again (engine/README.md "Removing a mailbox", "The hold"): the oracle takes the first
// instant past the removal's keep with no cut and every node up over the keep before it
// (TombstoneLapseAt; views and heartbeats may make the engine's hold end later, never earlier). A
// partition of any length that heals is repaired by then, so the old value never comes back from
// it. Only if some node still possibly holds an older write at that instant without certainly
// holding the removal (a loss the heal's repair did not make up) does the removal no longer decide:
// none and every older write the node possibly holds are accepted (TombstoneMayLapse). A node down
// or cut off until the run's end holds every tombstone back (the engine's bound, max_entries, may
// then drop them: mailbox_tombstones_evicted, which a scenario within its bound never counts).
// Otherwise a removed mailbox must be absent wherever the removal is certainly held: showing its
// old value is stale.
//
// Convergence targets (Settled): inside a stretch [from, to) in which no fault happens, the
// links are fixed (with transport views, the views may still change in it); a node agrees on an
// owned slot when it shows any value O had in the stretch if it hears O (both ways for transport
// membership), none otherwise; on a mailbox when it shows a write it possibly holds by `to` that
// is not older than the greatest write made by `from` that it would hold settled in the
// stretch's last epoch (the views it ends with).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pbxstate/harness/contact_book.h"
#include "pbxstate/harness/history.h"
#include "pbxstate/harness/slots.h"
#include "pbxstate/harness/span_index.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/harness/write_spread.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate::harness {

// Asterisk's aggregate of device states, from its documented rules (RINGINUSE beats all;
// RINGING with INUSE, BUSY or ONHOLD is RINGINUSE; otherwise the highest of INVALID < UNKNOWN
// < UNAVAILABLE < NOT_INUSE < ONHOLD < RINGING < INUSE < BUSY). nullopt for no states.
// The oracle keeps its own table on purpose: the engine's (devstate_aggregate.cc) is what it
// checks, so it must not be what it checks with.
std::optional<DeviceState> OracleAggregate(const std::vector<DeviceState>& states);

// What a node may show for one slot: none (`absent`) and/or any of `values`.
struct Acceptable {
  bool absent = false;
  std::vector<ValueHash> values;
  bool Contains(ValueHash v) const;
  void Add(ValueHash v);  // kAbsent sets `absent`
};

// Whether a node counts another as a member (Engine::Members): live, or departed within grace.
enum class Counted { kNo, kYes, kMaybe };

// When a node's final view was read. An engine in this process is read at the run's end exactly;
// a daemon's dump on real clocks a little after it, with nothing happening after the end but time
// passing: the engine did what was due (registrations expiring) at one instant of [from, to]
// (control's dump: as_of_from_unix_ns .. as_of_to_unix_ns). A registration expiring at or before
// `from` is gone, one expiring after `to` is there, one in between may be either.
struct ReadInstant {
  Duration from{};
  Duration to{};  // >= from
};

class Oracle {
 public:
  Oracle(SlotTable* slots, const scenario::Scenario& s);
  ~Oracle();

  // ---- history, fed in time order ----
  void Started(Duration t, NodeId node, std::uint64_t incarnation);
  void Crashed(Duration t, NodeId node);
  // The cut in force from `t` (ClusterHistory::Cut); `sides` empty: healed.
  void Cut(Duration t, const std::vector<std::vector<NodeId>>& sides, bool one_way);
  // Transport membership: the view the backend handed `node`.
  void View(Duration t, NodeId node, std::vector<NodeId> members);
  // The backend's crashes kill the engine's process only (ClusterHistory::SetTransportOutlivesCrashes).
  void TransportOutlivesCrashes() { history_.SetTransportOutlivesCrashes(true); }
  // The transport is Corosync's token ring, which a fault can stall without a view change
  // (ClusterHistory::SetRingMayStall; write_spread.h, "A stalled ring").
  void RingMayStall() { history_.SetRingMayStall(true); }
  // A change `node`'s engine accepted at `t`.
  void Changed(Duration t, NodeId node, const PlannedChange& c);
  // `node` reported its own mailbox write (a local view change) with this value; nullopt: it
  // reported its own removal of the mailbox.
  void MailboxStamped(Duration t, NodeId node, std::string_view mailbox, const std::optional<MailboxValue>& value);
  // Seals the history: epochs, registration expiries, each write's HLC, the write order.
  void Finish(Duration end);

  // ---- questions (after Finish) ----
  const ClusterHistory& history() const { return history_; }
  const OracleTiming& timing() const { return timing_; }
  std::size_t slot_count() const { return slots_->size(); }
  // Whether the oracle knows of any write to `slot` (a node showing an unknown slot is wrong).
  bool Known(SlotId slot) const;
  // What `n` may show for `slot` at `t` (the rules above): the final check uses it at the end.
  // `read`: the view was read then (ReadInstant, from >= t): registrations' expiries are judged at
  // that instant, everything else at `t`. Unset: at `t`.
  Acceptable Expected(NodeId n, SlotId slot, Duration t, std::optional<ReadInstant> read = std::nullopt) const;
  // What `n` agrees on once caught up, in a stretch [from, to) with no fault (convergence).
  Acceptable Settled(NodeId n, SlotId slot, Duration from, Duration to) const;
  // Adds to `index` the spans (span_index.h) outside which Settled accepts none and only none
  // for a slot, whoever asks: for an owned slot, each value its owner held, from when it was set
  // until its next change (open while it holds), and each change to none as one instant; for a
  // mailbox, everything from its first write on.
  void AddSpans(SpanIndex* index) const;
  // Whether `n` counts `o` as a member at `t`.
  Counted Counts(NodeId n, NodeId o, Duration t) const;
  // The value `slot`'s owner (for a mailbox: the winning write over all writes) had last by
  // `t`, and when it got it. For reports of when a node caught up.
  std::pair<Duration, ValueHash> LastOwnValue(SlotId slot, Duration t) const;
  // A value of `slot` as a person reads it ("INUSE (incarnation 3)"); "?" when not the oracle's.
  std::string Describe(SlotId slot, ValueHash v) const;
  // Facts of the run that break the engine's contract by themselves (a mailbox write whose HLC
  // does not grow, or that another value than the one written was stamped). Each one is a
  // discrepancy.
  const std::vector<std::pair<NodeId, std::string>>& problems() const { return problems_; }

 private:
  struct Point {
    Duration t;
    ValueHash value;
    Duration expires;             // registrations: the expiry; others: Duration::max()
    std::uint64_t incarnation;
    std::uint32_t aux;            // devices: the state; registrations: the status
  };
  struct Write {
    Duration t;
    std::uint64_t seq;  // the order writes were made in (several at one instant)
    NodeId writer;
    std::uint64_t incarnation;
    MailboxValue value;
    bool removed = false;  // Engine::RemoveMailbox: no counts; its hash stays kAbsent
    bool stamped = false;
    ValueHash hash = kAbsent;
    mutable std::optional<bool> may_lapse{};  // removals: TombstoneMayLapse, once asked
  };
  // A report of its own mailbox write by the writer: its value, or nullopt for a removal.
  struct Stamp {
    Duration t;
    std::optional<MailboxValue> value;
  };
  // How N stands towards O's entries at one instant (the rules above).
  struct Standing {
    Counted counted = Counted::kNo;
    bool may_show = false;      // O's values in effect at some instant of [from, to] are accepted
    bool may_be_absent = true;  // showing none of O's entries is accepted
    Duration from{}, to{};
  };
  Standing StandingOf(NodeId n, NodeId o, Duration t) const;  // cached per o for one (n, t)
  Standing ComputeStanding(NodeId n, NodeId o, Duration t) const;
  std::vector<Point>& TimelineFor(SlotId slot);
  const std::vector<Point>& Timeline(SlotId slot) const;
  // Values in effect at some instant of [from, to]; a registration expired at `at.from` reads
  // absent, one expiring in (at.from, at.to] either way.
  void AddValuesIn(SlotId slot, Duration from, Duration to, ReadInstant at, Acceptable* out) const;
  const WriteSpread& SpreadOf(SlotId slot, std::size_t i) const;
  // Whether the removal writes_[slot][i] no longer decides at `t` (the rules above): its
  // TombstoneLapseAt has come and some node possibly held an older write at that instant without
  // certainly holding the removal.
  bool TombstoneMayLapse(SlotId slot, std::size_t i, Duration t) const;
  // When the tombstone of a removal made at `removed_at` may go (the rules above): the keep from
  // the removal and from the last instant a node was down or a cut was in force, whichever is
  // later; Duration::max() when the cluster is not whole for a keep before the run's end.
  Duration TombstoneLapseAt(Duration removed_at) const;
  Acceptable ExpectedMailbox(NodeId n, SlotId slot, Duration t) const;
  Acceptable SettledMailbox(NodeId n, SlotId slot, Duration from, Duration to) const;
  // Matches each write with its writer's reports (dropping removals never made) and gives it
  // its HLC.
  void AssignHlcs();
  // Drops the removals their writer did not report (not made: it held no value).
  void DropUnmadeRemovals();

  SlotTable* slots_;
  std::uint32_t node_count_;
  OracleTiming timing_;
  PathLoss loss_;
  ClusterHistory history_;
  ContactBook contacts_;  // which contacts each node holds, for removals and the bound
  std::vector<std::uint64_t> incarnation_;          // by node - 1: the current one while fed
  std::vector<std::vector<Point>> timelines_;       // by slot: the owner's own value
  std::map<NodeId, std::vector<SlotId>> owned_;     // slots by owner
  // Mailboxes: writes by slot, in the order made until Finish, then greatest (hlc, writer) first.
  std::map<SlotId, std::vector<Write>> writes_;
  mutable std::map<SlotId, std::vector<std::unique_ptr<WriteSpread>>> spreads_;
  // (node, mailbox) -> stamps reported, in order.
  std::map<std::pair<NodeId, SlotId>, std::vector<Stamp>> stamps_;
  Duration tombstone_keep_;  // TombstoneKeep(scenario.engine)
  std::vector<std::pair<NodeId, std::string>> problems_;
  // Standings of one observer at one instant, by origin - 1 (the checks go node by node).
  mutable std::vector<std::optional<Standing>> standings_;
  mutable NodeId standings_of_ = kNoNode;
  mutable std::optional<Duration> standings_at_;
  std::uint64_t writes_made_ = 0;
  bool finished_ = false;
};

}  // namespace pbxstate::harness
