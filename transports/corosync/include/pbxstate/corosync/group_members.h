// Which CPG group member speaks for each corosync node.
//
// A pbxstate NodeId is the corosync node id, and one pbxstated runs per corosync node. CPG members
// are (node id, pid) pairs, so a second process on the same node (a misconfiguration: two daemons,
// or a test tool joining the group) would otherwise be a second voice for one NodeId. The rule:
//
//   - The member already accepted for a node id stays accepted while it is in the group.
//   - Otherwise the first member of that node id in CPG's member list is accepted. (CPG delivers
//     configuration changes in agreed order, so members that saw the same history agree.)
//   - Every other member with that node id is ignored: its messages never reach the engine. Each
//     newly ignored member is reported once (the transport logs a warning and counts it).
//   - Our own process is always accepted for our own node id, unless, at the configuration change
//     in which we first appear, another process of our node id is already a member: then we are the
//     duplicate (`self_is_duplicate`), and the host is expected to stop.
//
// The view the engine gets is the sorted set of node ids with an accepted member.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "pbxstate/types.h"

namespace pbxstate::corosync {

struct CpgMember {
  NodeId node = kNoNode;
  std::uint32_t pid = 0;
};

class GroupMembers {
 public:
  // `self` is this process: our corosync node id and our pid.
  explicit GroupMembers(CpgMember self);

  struct Update {
    bool nodes_changed = false;            // Nodes() differs from before the call
    std::vector<CpgMember> newly_ignored;  // members ignored from this change on
    bool self_is_duplicate = false;        // we appeared next to an older process of our node id
  };

  // Applies a configuration change: `member_list` is CPG's full list of current members.
  Update Apply(std::span<const CpgMember> member_list);

  // Forgets every other member (the connection to corosync is gone): only this node remains, and
  // the next Apply is treated as our first appearance again.
  void ResetToSelf();

  // Whether messages from this member reach the engine.
  bool Accepts(NodeId node, std::uint32_t pid) const;
  bool HasNode(NodeId node) const { return accepted_.count(node) != 0; }

  // Node ids with an accepted member, sorted; always contains our own.
  std::vector<NodeId> Nodes() const;

 private:
  CpgMember self_;
  bool self_seen_ = false;                      // we have appeared in a member list since (re)connecting
  std::map<NodeId, std::uint32_t> accepted_;    // node id -> accepted pid
  std::set<std::pair<NodeId, std::uint32_t>> ignored_;  // members already reported as ignored
};

}  // namespace pbxstate::corosync
