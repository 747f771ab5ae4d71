// TotemSrp: what a node does with the token (exec/totemsrp.c: message_handler_orf_token,
// fcc_calculate, fcc_rtr_limit, fcc_token_update, orf_token_rtr, orf_token_mcast, token_send,
// orf_token_send_initial and the recovery branch that leads to memb_state_operational_enter).
#include <algorithm>

#include "pbxstate/totem/srp.h"

namespace pbxstate::totem {

void TotemSrp::HandleToken(const Token& in) {
  if (token_discard_) return;
  TokenSeqUnchanged(in);
  // Hold an idle token (the representative keeps it; everyone notes the ring is idle).
  token_held_ = ring_.rep == self_ ? seq_unchanged_ > config_.seqno_unchanged_const
                                   : seq_unchanged_ >= config_.seqno_unchanged_const;
  const bool forward = !(ring_.rep == self_ && token_held_);
  if (state_ == MembState::kCommit) return;
  if (state_ == MembState::kOperational) FreeMessages(in.aru);
  if (in.ring != ring_) return;                   // another ring's token
  if (in.token_seq <= my_token_seq_) return;      // a retransmission we handled already

  host_->OnTokenReceived();
  Token token = in;
  const std::uint64_t last_aru = my_last_aru_;
  my_last_aru_ = token.aru;

  std::uint32_t allowed = FlowControlAllowed(token);
  const std::uint32_t resent = Retransmit(&token, allowed);
  allowed -= std::min(allowed, resent);
  RequestMissing(&token);
  // fcc_rtr_limit: never run the receive queue past its bound.
  if (last_released_ + kMaxReceiveQueue < token.seq + allowed + config_.window_size) allowed = 0;
  const std::uint32_t sent = MulticastQueued(&token, allowed);
  // fcc_token_update
  token.fcc = token.fcc + resent + sent - my_trc_;
  token.backlog = token.backlog + my_cbl_ - my_pbl_;
  my_trc_ = resent + sent;
  my_pbl_ = my_cbl_;

  UpdateTokenAru(&token, last_aru);
  if (aru_count_ > config_.fail_recv_const && token.aru_addr == self_) {
    // "FAILED TO RECEIVE": this node keeps missing what the others have; it leaves.
    failed_to_recv_ = true;
    if (!std::binary_search(failed_.begin(), failed_.end(), self_)) {
      failed_.insert(std::lower_bound(failed_.begin(), failed_.end(), self_), self_);
    }
    GatherEnter();
    return;
  }
  my_token_seq_ = token.token_seq;
  token.token_seq += 1;
  if (state_ == MembState::kRecovery) RecoveryTokenVisit(&token);
  SendToken(token, forward);
  if (state_ == MembState::kOperational) DeliverUpTo(high_seq_received_);
  ResetTokenTimeouts();
  if (ring_.rep == self_ && token_held_) host_->SetTimer(SrpTimer::kTokenHold, timeouts_.hold);
}

void TotemSrp::TokenSeqUnchanged(const Token& token) {
  // Merge detection runs while the ring carries no new message.
  if (token.seq == my_last_seq_) {
    StartMergeDetect();
    ++seq_unchanged_;
  } else {
    CancelMergeDetect();
    host_->CancelTimer(SrpTimer::kTokenHold);
    seq_unchanged_ = 0;
  }
  my_last_seq_ = token.seq;
}

std::uint32_t TotemSrp::FlowControlAllowed(const Token& token) {
  std::int64_t allowed = config_.max_messages;
  allowed = std::min<std::int64_t>(allowed, static_cast<std::int64_t>(config_.window_size) - token.fcc);
  allowed = std::max<std::int64_t>(allowed, 0);
  // backlog_get: what this node has queued for the ring.
  const std::size_t queued = state_ == MembState::kRecovery
                                 ? retrans_queue_.size()
                                 : (waiting_trans_ack_ ? trans_queue_.size() : new_queue_.size());
  my_cbl_ = static_cast<std::uint32_t>(queued);
  const std::int64_t backlog = static_cast<std::int64_t>(token.backlog) + my_cbl_ - my_pbl_;
  if (backlog > 0) {
    const std::int64_t share = static_cast<std::int64_t>(config_.window_size) * my_pbl_ / backlog;
    if (share > 0 && allowed > share) allowed = share;
  }
  return static_cast<std::uint32_t>(allowed);
}

std::uint32_t TotemSrp::Retransmit(Token* token, std::uint32_t allowed) {
  const SortQueue& q = ActiveQueue();
  std::uint32_t resent = 0;
  for (auto it = token->rtr.begin(); it != token->rtr.end() && resent < allowed;) {
    auto found = q.find(*it);
    if (found == q.end()) {
      ++it;
      continue;
    }
    Packet p = MakePacket();
    p.body = found->second.packet;
    host_->Multicast(p);
    ++counters_.mcast_retransmits;
    ++resent;
    it = token->rtr.erase(it);
  }
  return resent;
}

void TotemSrp::RequestMissing(Token* token) {
  // A missing packet is asked for once it was missing on miss_count_const visits.
  const SortQueue& q = ActiveQueue();
  for (std::uint64_t s = my_aru_ + 1; s <= token->seq && token->rtr.size() < kRetransmitEntriesMax; ++s) {
    if (q.count(s) != 0) continue;
    if (++miss_counts_[s] < config_.miss_count_const) continue;
    if (std::find(token->rtr.begin(), token->rtr.end(), s) == token->rtr.end()) token->rtr.push_back(s);
  }
}

std::uint32_t TotemSrp::MulticastQueued(Token* token, std::uint32_t allowed) {
  std::uint32_t sent = 0;
  const bool recovery = state_ == MembState::kRecovery;
  auto& regular = waiting_trans_ack_ ? trans_queue_ : new_queue_;
  SortQueue& q = ActiveQueue();
  while (sent < allowed) {
    Mcast m;
    if (recovery) {
      if (retrans_queue_.empty()) break;
      m = std::move(retrans_queue_.front());
      retrans_queue_.pop_front();
    } else {
      if (regular.empty()) break;
      m.origin = self_;
      m.payload = std::move(regular.front());
      regular.pop_front();
    }
    m.ring = ring_;
    m.seq = ++token->seq;
    q.emplace(m.seq, Stored{m});
    Packet p = MakePacket();
    p.body = std::move(m);
    host_->Multicast(p);
    ++counters_.mcasts_sent;
    ++sent;
    high_seq_received_ = token->seq;
  }
  if (recovery && sent > 0) host_->SetTimer(SrpTimer::kTokenRetransmit, timeouts_.token_retransmit);
  UpdateAru();
  return sent;
}

void TotemSrp::UpdateTokenAru(Token* token, std::uint64_t last_aru) {
  if (my_aru_ < token->aru || token->aru_addr == self_ || token->aru_addr == kNoNode) {
    token->aru = my_aru_;
    token->aru_addr = token->aru == token->seq ? kNoNode : self_;
  }
  if (token->aru == last_aru && token->aru_addr != kNoNode) {
    ++aru_count_;
  } else {
    aru_count_ = 0;
  }
}

void TotemSrp::RecoveryTokenVisit(Token* t) {
  Token& token = *t;
  // The flag stays set while anybody still has old-ring packets to resend.
  if (!retrans_queue_.empty()) {
    if (!token.retrans_flg) {
      token.retrans_flg = true;
      set_retrans_flg_ = true;
    }
  } else if (token.retrans_flg && set_retrans_flg_) {
    token.retrans_flg = false;
    set_retrans_flg_ = false;
  }
  retrans_flg_count_ = token.retrans_flg ? 0 : retrans_flg_count_ + 1;
  if (retrans_flg_count_ == 2) install_seq_ = token.seq;
  if (retrans_flg_count_ >= 2 && !received_flg_ && install_seq_ <= my_aru_) received_flg_ = true;
  rotation_counter_ = (retrans_flg_count_ >= 3 && install_seq_ <= token.aru) ? rotation_counter_ + 1 : 0;
  if (rotation_counter_ == 2) {
    OperationalEnter();
    rotation_counter_ = 0;
    retrans_flg_count_ = 0;
  }
}

void TotemSrp::SendToken(const Token& token, bool forward) {
  Packet p = MakePacket();
  p.body = token;
  last_token_ = p;
  if (!forward) return;
  ++counters_.tokens_sent;
  host_->Unicast(token_target_, p);
}

void TotemSrp::SendInitialToken() {
  Token token;
  token.ring = ring_;
  token.token_seq = 0;
  token.seq = 0;
  token.aru = 0;
  token.aru_addr = self_;
  token.retrans_flg = !retrans_queue_.empty();
  set_retrans_flg_ = token.retrans_flg;
  SendToken(token, true);
}

}  // namespace pbxstate::totem
