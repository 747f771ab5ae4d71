// TotemSrp: forming a ring (exec/totemsrp.c: memb_state_gather_enter, memb_join_message_send,
// message_handler_memb_join, memb_join_process, ignore_join_under_operational,
// memb_consensus_agreed, memb_lowest_in_config, memb_state_consensus_timeout_expired,
// timer_function_orf_token_timeout, memb_state_commit_token_create, memb_state_commit_enter,
// memb_state_commit_token_update, message_handler_memb_commit_token, memb_state_recovery_enter,
// memb_recovery_state_token_loss, memb_state_operational_enter,
// deliver_messages_from_recovery_to_regular).
#include <algorithm>
#include <iterator>

#include "pbxstate/check.h"
#include "pbxstate/totem/srp.h"

namespace pbxstate::totem {

namespace {

bool Has(const std::vector<NodeId>& set, NodeId n) { return std::binary_search(set.begin(), set.end(), n); }

void Insert(std::vector<NodeId>* set, NodeId n) {
  auto it = std::lower_bound(set->begin(), set->end(), n);
  if (it == set->end() || *it != n) set->insert(it, n);
}

void Merge(std::vector<NodeId>* set, const std::vector<NodeId>& more) {
  for (NodeId n : more) Insert(set, n);
}

bool Subset(const std::vector<NodeId>& a, const std::vector<NodeId>& b) {
  return std::includes(b.begin(), b.end(), a.begin(), a.end());
}

std::vector<NodeId> Minus(const std::vector<NodeId>& a, const std::vector<NodeId>& b) {
  std::vector<NodeId> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// Lists arrive from the network: keep only well-formed sorted sets.
std::vector<NodeId> Normalized(std::vector<NodeId> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  v.erase(std::remove(v.begin(), v.end(), kNoNode), v.end());
  return v;
}

}  // namespace

void TotemSrp::GatherEnter() {
  token_discard_ = true;
  originated_token_ = false;
  Insert(&proc_, self_);
  SendJoin();
  host_->SetTimer(SrpTimer::kJoin, timeouts_.join);
  host_->SetTimer(SrpTimer::kConsensus, timeouts_.consensus);
  host_->CancelTimer(SrpTimer::kTokenRetransmit);
  host_->CancelTimer(SrpTimer::kTokenLoss);
  CancelMergeDetect();
  consensus_ = {self_};
  state_ = MembState::kGather;
}

void TotemSrp::SendJoin() {
  if (timeouts_.send_join <= Duration::zero()) {
    SendJoinNow();
    return;
  }
  // Corosync sleeps a uniform [0, send_join) before each join; here the join waits instead (one at
  // a time: a join still waiting goes out with the lists as they are when it leaves).
  const auto range_us = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(timeouts_.send_join).count());
  host_->SetTimer(SrpTimer::kSendJoin, std::chrono::microseconds(host_->Random() % range_us));
}

void TotemSrp::SendJoinNow() {
  Packet p = MakePacket();
  p.body = Join{ring_.seq, proc_, failed_};
  ++counters_.joins_sent;
  host_->Multicast(p);
}

bool TotemSrp::IgnoreJoinUnderOperational(const Join& join, NodeId from) const {
  if (Has(join.failed, self_)) return true;
  return Has(memb_, from) && join.ring_seq < ring_.seq;
}

void TotemSrp::HandleJoin(const Join& join_in, NodeId from) {
  Join join{join_in.ring_seq, Normalized(join_in.proc), Normalized(join_in.failed)};
  token_ring_id_seq_ = std::max(token_ring_id_seq_, join.ring_seq);
  switch (state_) {
    case MembState::kOperational:
      if (!IgnoreJoinUnderOperational(join, from)) ProcessJoin(join, from);
      break;
    case MembState::kGather: ProcessJoin(join, from); break;
    case MembState::kCommit:
      if (Has(new_memb_, from) && join.ring_seq >= ring_.seq) {
        ProcessJoin(join, from);
        GatherEnter();
      }
      break;
    case MembState::kRecovery:
      if (Has(new_memb_, from) && join.ring_seq >= ring_.seq) {
        ProcessJoin(join, from);
        RecoveryTokenLoss();
      }
      break;
  }
}

void TotemSrp::ProcessJoin(const Join& join, NodeId from) {
  bool gather_entered = false;
  if (join.proc == proc_ && join.failed == failed_) {
    consensus_.insert(from);
    if (ConsensusAgreed() && failed_to_recv_) {
      // Everybody agrees this node failed to receive: it forms a ring of its own.
      failed_to_recv_ = false;
      proc_ = {self_};
      failed_.clear();
      CreateCommitToken();
      CommitEnter();
      return;
    }
    if (ConsensusAgreed() && LowestInConfig()) {
      CreateCommitToken();
      CommitEnter();
      return;
    }
  } else if (Subset(join.proc, proc_) && Subset(join.failed, failed_)) {
    // Nothing new.
  } else if (Has(failed_, from)) {
    // From a process we declared failed.
  } else {
    Merge(&proc_, join.proc);
    if (Has(join.failed, self_)) {
      Insert(&failed_, from);
    } else if (Has(memb_, from)) {
      Merge(&failed_, join.failed);
    }
    GatherEnter();
    gather_entered = true;
  }
  if (!gather_entered && state_ == MembState::kOperational) GatherEnter();
}

std::vector<NodeId> TotemSrp::ActiveProcs() const { return Minus(proc_, failed_); }

bool TotemSrp::ConsensusAgreed() const {
  for (NodeId n : ActiveProcs()) {
    if (consensus_.count(n) == 0) return false;
  }
  return true;
}

bool TotemSrp::LowestInConfig() const {
  const std::vector<NodeId> active = ActiveProcs();
  return !active.empty() && active.front() == self_;
}

void TotemSrp::ConsensusTimeoutExpired() {
  ++counters_.consensus_timeouts;
  if (ConsensusAgreed()) {
    consensus_ = {self_};
    host_->SetTimer(SrpTimer::kTokenLoss, timeouts_.token);
    return;
  }
  // Every process that did not agree in time is declared failed; gather again without it.
  for (NodeId n : proc_) {
    if (consensus_.count(n) == 0) Insert(&failed_, n);
  }
  GatherEnter();
}

void TotemSrp::TokenLossTimeout() {
  switch (state_) {
    case MembState::kOperational:
      ++counters_.token_losses;
      GatherEnter();
      break;
    case MembState::kGather:
      ConsensusTimeoutExpired();
      GatherEnter();
      break;
    case MembState::kCommit: GatherEnter(); break;
    case MembState::kRecovery: RecoveryTokenLoss(); break;
  }
}

void TotemSrp::CreateCommitToken() {
  commit_ = Commit{};
  commit_.ring = RingId{self_, token_ring_id_seq_ + 4};
  commit_.members = ActiveProcs();
  commit_.entries.assign(commit_.members.size(), CommitEntry{});
}

void TotemSrp::CommitEnter() {
  if (!old_ring_saved_) {
    old_ring_saved_ = true;
    old_ring_ = ring_;
    old_ring_aru_ = my_aru_;
    old_ring_high_seq_received_ = high_seq_received_;
  }
  UpdateCommitToken();
  token_target_ = commit_.members[commit_.memb_index % commit_.members.size()];
  host_->CancelTimer(SrpTimer::kJoin);
  host_->CancelTimer(SrpTimer::kConsensus);
  host_->CancelTimer(SrpTimer::kSendJoin);
  ring_ = commit_.ring;
  token_ring_id_seq_ = ring_.seq;
  state_ = MembState::kCommit;
  ResetTokenTimeouts();
  my_trc_ = my_pbl_ = my_cbl_ = 0;
  SendCommitToken(commit_);
}

void TotemSrp::UpdateCommitToken() {
  new_memb_ = commit_.members;
  const std::uint32_t idx = commit_.memb_index;
  PBXSTATE_CHECK_LT(idx, commit_.entries.size());
  received_flg_ = my_aru_ == high_seq_received_;
  commit_.entries[idx] = CommitEntry{old_ring_, old_ring_aru_, high_delivered_, received_flg_};
  // A member of the same old ring that has received less than another did not get everything.
  std::uint64_t high_aru = commit_.entries[idx].aru;
  for (std::uint32_t i = 0; i <= idx; ++i) {
    if (commit_.entries[i].old_ring == old_ring_) high_aru = std::max(high_aru, commit_.entries[i].aru);
  }
  for (std::uint32_t i = 0; i <= idx; ++i) {
    if (commit_.entries[i].old_ring == old_ring_ && commit_.entries[i].aru < high_aru) {
      commit_.entries[i].received_flg = false;
      if (i == idx) received_flg_ = false;
    }
  }
  ++commit_.memb_index;
}

void TotemSrp::SendCommitToken(Commit commit) {
  commit.token_seq += 1;
  commit_ = commit;
  Packet p = MakePacket();
  p.body = std::move(commit);
  last_token_ = p;
  ++counters_.commit_tokens_sent;
  host_->Unicast(token_target_, p);
  host_->SetTimer(SrpTimer::kTokenRetransmit, timeouts_.token_retransmit);
}

void TotemSrp::HandleCommit(const Commit& commit) {
  switch (state_) {
    case MembState::kOperational: break;
    case MembState::kGather:
      if (commit.members == ActiveProcs() && commit.ring.seq > ring_.seq) {
        commit_ = commit;
        CommitEnter();
      }
      break;
    case MembState::kCommit:
      // The second pass: the token has been round once, every member's entry is filled.
      if (commit.ring.seq == ring_.seq && commit.memb_index == commit.members.size()) RecoveryEnter(commit);
      break;
    case MembState::kRecovery:
      if (self_ == ring_.rep && !originated_token_) {
        originated_token_ = true;
        SendInitialToken();
        ResetTokenTimeouts();
      }
      break;
  }
}

void TotemSrp::RecoveryEnter(const Commit& commit) {
  token_discard_ = false;
  recovery_.clear();
  retrans_queue_.clear();
  SendCommitToken(commit);
  my_token_seq_ = -1;
  // Transitional members: those of the new ring that come from this node's old ring.
  trans_memb_.clear();
  bool all_received = true;
  std::uint64_t low_ring_aru = old_ring_high_seq_received_;
  for (std::size_t i = 0; i < commit.members.size(); ++i) {
    const NodeId m = commit.members[i];
    if (!Has(memb_, m) || commit.entries[i].old_ring != old_ring_) continue;
    trans_memb_.push_back(m);
    all_received = all_received && commit.entries[i].received_flg;
    low_ring_aru = std::min(low_ring_aru, commit.entries[i].aru);
  }
  if (!all_received) {
    // Re-send, encapsulated, every old-ring packet some transitional member may lack.
    for (std::uint64_t s = low_ring_aru + 1; s <= old_ring_high_seq_received_; ++s) {
      auto it = regular_.find(s);
      if (it == regular_.end()) continue;
      Mcast m;
      m.encapsulated = true;
      m.origin = it->second.packet.origin;
      m.old_ring = old_ring_;
      m.old_seq = s;
      m.payload = it->second.packet.payload;
      retrans_queue_.push_back(std::move(m));
    }
  }
  my_aru_ = 0;
  aru_count_ = 0;
  seq_unchanged_ = 0;
  high_seq_received_ = 0;
  install_seq_ = 0;
  retrans_flg_count_ = 0;
  rotation_counter_ = 0;
  ResetTokenTimeouts();
  state_ = MembState::kRecovery;
}

void TotemSrp::RecoveryTokenLoss() {
  // Back to the old ring's counters; recovery starts over with the next ring.
  my_aru_ = old_ring_aru_;
  high_seq_received_ = old_ring_high_seq_received_;
  GatherEnter();
}

void TotemSrp::DeliverOldRing() {
  for (const auto& [seq, stored] : recovery_) {
    const Mcast& m = stored.packet;
    if (!m.encapsulated || m.old_ring != old_ring_ || regular_.count(m.old_seq) != 0) continue;
    Mcast old = m;
    old.encapsulated = false;
    old.ring = old_ring_;
    old.seq = m.old_seq;
    regular_.emplace(m.old_seq, Stored{std::move(old)});
    old_ring_high_seq_received_ = std::max(old_ring_high_seq_received_, m.old_seq);
  }
  // Everything held of the old ring, in order, past any gap (see COROSYNC_MODEL.md, section 5).
  for (auto it = regular_.upper_bound(high_delivered_); it != regular_.end() && it->first <= old_ring_high_seq_received_;
       ++it) {
    high_delivered_ = it->first;
    ++counters_.delivered;
    host_->OnDeliver(it->second.packet.origin, it->second.packet.payload);
  }
}

void TotemSrp::OperationalEnter() {
  originated_token_ = false;
  consensus_.clear();
  old_ring_saved_ = false;
  DeliverOldRing();
  memb_ = new_memb_;
  proc_ = new_memb_;
  failed_.clear();
  waiting_trans_ack_ = true;
  // The new ring's numbering continues after the recovery packets, which every member has.
  const std::uint64_t base = std::max(high_seq_received_, install_seq_);
  regular_.clear();
  recovery_.clear();
  miss_counts_.clear();
  my_aru_ = high_seq_received_ = high_delivered_ = last_released_ = base;
  my_last_aru_ = 0;
  state_ = MembState::kOperational;
  received_flg_ = true;
  old_ring_ = ring_;
  ++counters_.rings_formed;
  host_->OnRingFormed(ring_, memb_, trans_memb_);
}

}  // namespace pbxstate::totem
