// The oracle: what every node of the cluster must show, computed from the workload log (the
// local changes nodes accepted) and the membership history (starts, crashes, partitions) alone.
// It shares no code with the engine: its merge rules are engine/README.md's "Semantics", written again here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "pbxstate/harness/slots.h"
#include "pbxstate/harness/workload.h"

namespace pbxstate::harness {

// Asterisk's aggregate of device states, from its documented rules (RINGINUSE beats all;
// RINGING with INUSE, BUSY or ONHOLD is RINGINUSE; otherwise the highest of INVALID < UNKNOWN
// < UNAVAILABLE < NOT_INUSE < ONHOLD < RINGING < INUSE < BUSY). nullopt for no states.
std::optional<DeviceState> OracleAggregate(const std::vector<DeviceState>& states);

class Oracle {
 public:
  struct Point {
    Duration t;
    ValueHash value;
  };

  Oracle(SlotTable* slots, std::uint32_t node_count);

  // ---- history, fed in time order ----
  void Started(Duration t, NodeId node);
  void Crashed(Duration t, NodeId node);
  // `sides` empty: everyone connected again. One-way cuts count as a split for the oracle.
  void Partitioned(Duration t, std::vector<std::vector<NodeId>> sides);
  // A change `node`'s engine accepted at `t`.
  void Changed(Duration t, NodeId node, const PlannedChange& c);
  // Seals the history: registration expiries become points of their own.
  void Finish(Duration end);

  // ---- questions ----
  bool Up(NodeId node, Duration t) const;
  bool Connected(NodeId a, NodeId b, Duration t) const;
  bool PartitionedAt(Duration t) const;
  const std::vector<Point>& Timeline(SlotId slot) const;
  ValueHash ValueAt(SlotId slot, Duration t) const;
  // What `node` must show at `t`: every slot with a value, by slot. Mailboxes are left out
  // while a partition is in force (which side's write a node must show is not defined then).
  std::map<SlotId, ValueHash> ExpectedView(NodeId node, Duration t) const;
  std::size_t slot_count() const { return timelines_.size(); }

 private:
  void Push(SlotId slot, Duration t, ValueHash v, Duration valid_until);
  std::vector<Point>& TimelineFor(SlotId slot);

  SlotTable* slots_;
  std::uint32_t node_count_;
  std::vector<std::vector<Point>> timelines_;             // by slot
  std::vector<std::vector<Duration>> valid_until_;        // by slot, parallel to timelines_ until Finish
  std::vector<std::vector<std::pair<Duration, bool>>> up_;  // by node - 1: (t, up) transitions
  std::vector<std::pair<Duration, std::vector<std::uint32_t>>> partitions_;  // (t, side of each node; empty: none)
  std::map<NodeId, std::vector<SlotId>> owned_;           // slots by owner
  std::map<SlotId, std::pair<Duration, NodeId>> mailbox_winner_;
  bool finished_ = false;
};

}  // namespace pbxstate::harness
