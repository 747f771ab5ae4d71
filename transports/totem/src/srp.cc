// TotemSrp: construction, queues, agreed-order delivery and the small message handlers
// (exec/totemsrp.c: totemsrp_mcast, update_aru, messages_deliver_to_app, messages_free,
// message_handler_mcast, message_handler_memb_merge_detect, message_handler_token_hold_cancel,
// timer_function_merge_detect_timeout, timer_function_token_retransmit_timeout).
#include <algorithm>

#include "pbxstate/check.h"
#include "pbxstate/totem/srp.h"

namespace pbxstate::totem {

std::string_view MembStateName(MembState state) {
  switch (state) {
    case MembState::kOperational: return "operational";
    case MembState::kGather: return "gather";
    case MembState::kCommit: return "commit";
    case MembState::kRecovery: return "recovery";
  }
  return "?";
}

TotemSrp::TotemSrp(NodeId self, const TotemConfig& config, const TotemTimeouts& timeouts, SrpHost* host)
    : self_(self), config_(config), timeouts_(timeouts), host_(host) {
  PBXSTATE_CHECK(self != kNoNode && host != nullptr);
}

void TotemSrp::StartFormed(const RingId& ring, const std::vector<NodeId>& members) {
  PBXSTATE_CHECK(std::is_sorted(members.begin(), members.end()));
  PBXSTATE_CHECK(std::binary_search(members.begin(), members.end(), self_));
  ring_ = ring;
  old_ring_ = ring;
  token_ring_id_seq_ = ring.seq;
  memb_ = members;
  proc_ = members;
  new_memb_ = members;
  const auto me = std::find(members.begin(), members.end(), self_);
  token_target_ = (me + 1 == members.end()) ? members.front() : *(me + 1);
  state_ = MembState::kOperational;
  token_discard_ = false;
  host_->SetTimer(SrpTimer::kTokenLoss, timeouts_.token);
  if (ring.rep == self_) SendInitialToken();
}

void TotemSrp::StartGather(std::uint64_t last_ring_seq) {
  ring_ = RingId{self_, last_ring_seq};
  old_ring_ = ring_;
  token_ring_id_seq_ = last_ring_seq;
  memb_ = {self_};
  proc_ = {self_};
  GatherEnter();
}

void TotemSrp::OnPacket(const Packet& packet) {
  if (const auto* t = std::get_if<Token>(&packet.body)) {
    HandleToken(*t);
  } else if (const auto* m = std::get_if<Mcast>(&packet.body)) {
    HandleMcast(*m, packet.from);
  } else if (const auto* j = std::get_if<Join>(&packet.body)) {
    HandleJoin(*j, packet.from);
  } else if (const auto* c = std::get_if<Commit>(&packet.body)) {
    HandleCommit(*c);
  } else if (const auto* md = std::get_if<MergeDetect>(&packet.body)) {
    HandleMergeDetect(*md, packet.from);
  } else if (const auto* hc = std::get_if<HoldCancel>(&packet.body)) {
    HandleHoldCancel(*hc);
  }
}

void TotemSrp::OnTimer(SrpTimer t) {
  switch (t) {
    case SrpTimer::kTokenLoss: TokenLossTimeout(); break;
    case SrpTimer::kTokenRetransmit:
      if (state_ == MembState::kGather) break;
      RetransmitToken();
      host_->SetTimer(SrpTimer::kTokenRetransmit, timeouts_.token_retransmit);
      break;
    case SrpTimer::kTokenHold:
      if (state_ == MembState::kOperational || state_ == MembState::kRecovery) RetransmitToken();
      break;
    case SrpTimer::kMergeDetect: MergeDetectTimeout(); break;
    case SrpTimer::kJoin:
      if (state_ == MembState::kGather || state_ == MembState::kCommit) {
        SendJoin();
        host_->SetTimer(SrpTimer::kJoin, timeouts_.join);
      }
      break;
    case SrpTimer::kConsensus: ConsensusTimeoutExpired(); break;
    case SrpTimer::kSendJoin: SendJoinNow(); break;
  }
}

bool TotemSrp::Enqueue(std::vector<std::uint8_t> payload, bool force) {
  PBXSTATE_CHECK_LE(payload.size(), kMaxMcastPayload);
  auto& queue = waiting_trans_ack_ ? trans_queue_ : new_queue_;
  if (queue.size() >= kMaxQueuedPackets && !force) return false;
  queue.push_back(std::move(payload));
  return true;
}

std::size_t TotemSrp::QueueSpace() const {
  const auto& queue = waiting_trans_ack_ ? trans_queue_ : new_queue_;
  return kMaxQueuedPackets - std::min(queue.size(), kMaxQueuedPackets);
}

void TotemSrp::SignalNewMessage() {
  // token_hold_cancel_send: only when this node saw the ring idle.
  if (!token_held_) return;
  token_held_ = false;
  Packet p = MakePacket();
  p.body = HoldCancel{ring_};
  ++counters_.hold_cancels_sent;
  host_->Multicast(p);
}

void TotemSrp::TransAck() { waiting_trans_ack_ = false; }

TotemSrp::SortQueue& TotemSrp::ActiveQueue() { return state_ == MembState::kRecovery ? recovery_ : regular_; }

void TotemSrp::UpdateAru() {
  const SortQueue& q = ActiveQueue();
  while (my_aru_ < high_seq_received_ && q.count(my_aru_ + 1) != 0) ++my_aru_;
}

void TotemSrp::DeliverUpTo(std::uint64_t end) {
  // messages_deliver_to_app without skipping: stop at the first hole.
  while (high_delivered_ < end) {
    auto it = regular_.find(high_delivered_ + 1);
    if (it == regular_.end()) break;
    ++high_delivered_;
    ++counters_.delivered;
    host_->OnDeliver(it->second.packet.origin, it->second.packet.payload);
  }
}

void TotemSrp::FreeMessages(std::uint64_t token_aru) {
  // messages_free: release what every member has and this node has delivered.
  const std::uint64_t release_to = std::min({token_aru, my_last_aru_, high_delivered_});
  if (release_to <= last_released_) return;
  regular_.erase(regular_.begin(), regular_.upper_bound(release_to));
  miss_counts_.erase(miss_counts_.begin(), miss_counts_.upper_bound(release_to));
  last_released_ = release_to;
}

void TotemSrp::HandleMcast(const Mcast& m, NodeId from) {
  if (m.ring != ring_) {
    HandleForeign(m.origin != kNoNode ? m.origin : from);
    return;
  }
  SortQueue& q = m.encapsulated ? recovery_ : regular_;
  const std::uint64_t base = m.encapsulated ? 0 : last_released_;
  if (m.seq > base && m.seq <= base + kMaxReceiveQueue && q.count(m.seq) == 0) {
    q.emplace(m.seq, Stored{m});
    miss_counts_.erase(m.seq);
    high_seq_received_ = std::max(high_seq_received_, m.seq);
  }
  UpdateAru();
  if (state_ == MembState::kOperational) DeliverUpTo(high_seq_received_);
}

void TotemSrp::HandleForeign(NodeId sender) {
  // A packet of another ring: a partition healed or a node came back.
  switch (state_) {
    case MembState::kOperational:
      ++counters_.foreign_packets;
      if (!std::binary_search(proc_.begin(), proc_.end(), sender)) {
        proc_.insert(std::lower_bound(proc_.begin(), proc_.end(), sender), sender);
      }
      GatherEnter();
      break;
    case MembState::kGather:
      if (!std::binary_search(proc_.begin(), proc_.end(), sender)) {
        ++counters_.foreign_packets;
        proc_.insert(std::lower_bound(proc_.begin(), proc_.end(), sender), sender);
        GatherEnter();
      }
      break;
    case MembState::kCommit:
    case MembState::kRecovery:
      break;  // dropped
  }
}

void TotemSrp::HandleMergeDetect(const MergeDetect& m, NodeId from) {
  if (m.ring == ring_) return;
  HandleForeign(from);
}

void TotemSrp::HandleHoldCancel(const HoldCancel& h) {
  if (h.ring != ring_) return;
  seq_unchanged_ = 0;
  if (ring_.rep == self_ && state_ != MembState::kGather) {
    RetransmitToken();
    host_->SetTimer(SrpTimer::kTokenRetransmit, timeouts_.token_retransmit);
  }
}

void TotemSrp::MergeDetectTimeout() {
  merge_detect_outstanding_ = false;
  if (state_ != MembState::kOperational || ring_.rep != self_) return;
  Packet p = MakePacket();
  p.body = MergeDetect{ring_};
  ++counters_.merge_detects_sent;
  host_->Multicast(p);
}

void TotemSrp::StartMergeDetect() {
  if (merge_detect_outstanding_) return;
  host_->SetTimer(SrpTimer::kMergeDetect, timeouts_.merge);
  merge_detect_outstanding_ = true;
}

void TotemSrp::CancelMergeDetect() {
  host_->CancelTimer(SrpTimer::kMergeDetect);
  merge_detect_outstanding_ = false;
}

void TotemSrp::RetransmitToken() {
  if (!last_token_) return;
  ++counters_.token_retransmits;
  ++counters_.tokens_sent;
  host_->Unicast(token_target_, *last_token_);
}

Packet TotemSrp::MakePacket() const {
  Packet p;
  p.from = self_;
  return p;
}

void TotemSrp::ResetTokenTimeouts() {
  host_->SetTimer(SrpTimer::kTokenLoss, timeouts_.token);
  host_->SetTimer(SrpTimer::kTokenRetransmit, timeouts_.token_retransmit);
}

}  // namespace pbxstate::totem
