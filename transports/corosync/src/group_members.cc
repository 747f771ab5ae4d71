#include "pbxstate/corosync/group_members.h"

#include "pbxstate/check.h"

namespace pbxstate::corosync {

GroupMembers::GroupMembers(CpgMember self) : self_(self) {
  PBXSTATE_CHECK_NE(self_.node, kNoNode);
  ResetToSelf();
}

void GroupMembers::ResetToSelf() {
  accepted_.clear();
  ignored_.clear();
  accepted_[self_.node] = self_.pid;
  self_seen_ = false;
}

GroupMembers::Update GroupMembers::Apply(std::span<const CpgMember> member_list) {
  Update update;
  const std::vector<NodeId> before = Nodes();

  bool self_present = false;
  bool other_of_self_node = false;
  for (const CpgMember& m : member_list) {
    if (m.node == self_.node && m.pid == self_.pid) self_present = true;
    if (m.node == self_.node && m.pid != self_.pid) other_of_self_node = true;
  }
  if (self_present && !self_seen_) {
    update.self_is_duplicate = other_of_self_node;
    self_seen_ = true;
  }

  std::map<NodeId, std::uint32_t> next;
  next[self_.node] = self_.pid;  // our own process always speaks for our node, to ourselves
  for (const CpgMember& m : member_list) {
    if (m.node == kNoNode || m.node == self_.node) continue;
    auto old = accepted_.find(m.node);
    bool old_still_present = false;
    if (old != accepted_.end()) {
      for (const CpgMember& o : member_list) old_still_present = old_still_present || (o.node == m.node && o.pid == old->second);
    }
    if (next.count(m.node) == 0) next[m.node] = old_still_present ? old->second : m.pid;
  }
  std::set<std::pair<NodeId, std::uint32_t>> ignored;
  for (const CpgMember& m : member_list) {
    if (m.node == kNoNode) continue;
    if (next.at(m.node) == m.pid) continue;
    if (m.node == self_.node && update.self_is_duplicate) continue;  // we are the one to go
    ignored.insert({m.node, m.pid});
    if (ignored_.count({m.node, m.pid}) == 0) update.newly_ignored.push_back(m);
  }
  accepted_ = std::move(next);
  ignored_ = std::move(ignored);
  update.nodes_changed = Nodes() != before;
  return update;
}

bool GroupMembers::Accepts(NodeId node, std::uint32_t pid) const {
  auto it = accepted_.find(node);
  return it != accepted_.end() && it->second == pid;
}

std::vector<NodeId> GroupMembers::Nodes() const {
  std::vector<NodeId> nodes;
  nodes.reserve(accepted_.size());
  for (const auto& [node, pid] : accepted_) nodes.push_back(node);
  return nodes;  // std::map keeps them sorted
}

}  // namespace pbxstate::corosync
