#include "pbxstate/totem/cpg.h"

#include <algorithm>

#include "pbxstate/check.h"

namespace pbxstate::totem {

namespace {

void Put32(std::vector<std::uint8_t>* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void Put64(std::vector<std::uint8_t>* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint64_t Get(std::span<const std::uint8_t> in, std::size_t at, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(in[at + i]) << (8 * i);
  return v;
}

constexpr std::size_t kBarrierBytes = 4 + 8 + 1 + 1;  // ring rep, ring seq, round, joined

}  // namespace

CpgLayer::CpgLayer(NodeId self, TotemSrp* srp, CpgClient* client) : self_(self), srp_(srp), client_(client) {
  PBXSTATE_CHECK(srp != nullptr && client != nullptr);
}

void CpgLayer::StartFormed(const std::vector<NodeId>& members, bool local_joined) {
  group_ = std::set<NodeId>(members.begin(), members.end());
  local_joined_ = local_joined;
  GiveView();
}

SendStatus CpgLayer::Send(NodeId dest, std::span<const std::uint8_t> payload) {
  if (!local_joined_ || dest == self_) return SendStatus::kUnreachable;
  if (payload.size() > kMaxClientMessage) return SendStatus::kTooLarge;
  if (sync_round_ != 0 || !Append(Kind::kData, dest, payload, false)) {
    ++counters_.try_again;
    return SendStatus::kTryAgain;
  }
  ++counters_.messages_sent;
  srp_->SignalNewMessage();
  return SendStatus::kOk;
}

void CpgLayer::Join() {
  local_joined_ = true;
  Append(Kind::kProcJoin, self_, {}, true);
  srp_->SignalNewMessage();
}

void CpgLayer::Leave() {
  local_joined_ = false;
  last_view_.clear();
  Append(Kind::kProcLeave, self_, {}, true);
  srp_->SignalNewMessage();
}

bool CpgLayer::Append(Kind kind, NodeId node, std::span<const std::uint8_t> bytes, bool force) {
  PBXSTATE_CHECK_LE(bytes.size(), kMaxClientMessage);
  if (!force && srp_->QueueSpace() == 0) return false;  // totempg's byte_count_send_ok
  if (pack_.size() + kRecordOverheadBytes + bytes.size() > kMaxMcastPayload && !FlushPack(force)) return false;
  pack_.push_back(static_cast<std::uint8_t>(kind));
  Put32(&pack_, node);
  pack_.push_back(static_cast<std::uint8_t>(bytes.size() & 0xFF));
  pack_.push_back(static_cast<std::uint8_t>(bytes.size() >> 8));
  pack_.insert(pack_.end(), bytes.begin(), bytes.end());
  return true;
}

bool CpgLayer::FlushPack(bool force) {
  if (pack_.empty()) return true;
  if (!srp_->Enqueue(pack_, force)) return false;
  ++counters_.packets_queued;
  pack_.clear();
  return true;
}

void CpgLayer::OnTokenReceived() { FlushPack(false); }

void CpgLayer::OnDeliver(NodeId origin, std::span<const std::uint8_t> payload) {
  std::size_t at = 0;
  while (at < payload.size()) {
    if (payload.size() - at < kRecordOverheadBytes) {
      ++counters_.malformed_records;
      return;
    }
    const auto kind = static_cast<Kind>(payload[at]);
    const auto node = static_cast<NodeId>(Get(payload, at + 1, 4));
    const auto length = static_cast<std::size_t>(Get(payload, at + 5, 2));
    at += kRecordOverheadBytes;
    if (payload.size() - at < length) {
      ++counters_.malformed_records;
      return;
    }
    const auto bytes = payload.subspan(at, length);
    at += length;
    switch (kind) {
      case Kind::kData:
        if (local_joined_ && origin != self_ && (node == kNoNode || node == self_)) {
          ++counters_.messages_delivered;
          client_->OnCpgDeliver(origin, bytes);
        }
        break;
      case Kind::kProcJoin:
        group_.insert(origin);
        GiveView();
        break;
      case Kind::kProcLeave:
        group_.erase(origin);
        GiveView();
        break;
      case Kind::kBarrier: HandleBarrier(origin, bytes); break;
      default: ++counters_.malformed_records; return;
    }
  }
}

void CpgLayer::OnRingFormed(const RingId& ring, const std::vector<NodeId>& members) {
  sync_ring_ = ring;
  sync_members_ = members;
  sync_round_ = 1;
  barriers_.clear();
  joined_in_sync_.clear();
  SendBarrier();
}

void CpgLayer::SendBarrier() {
  std::vector<std::uint8_t> b;
  Put32(&b, sync_ring_.rep);
  Put64(&b, sync_ring_.seq);
  b.push_back(static_cast<std::uint8_t>(sync_round_));
  b.push_back(local_joined_ ? 1 : 0);
  Append(Kind::kBarrier, self_, b, true);
  srp_->SignalNewMessage();
}

void CpgLayer::HandleBarrier(NodeId origin, std::span<const std::uint8_t> bytes) {
  if (bytes.size() != kBarrierBytes) {
    ++counters_.malformed_records;
    return;
  }
  const RingId ring{static_cast<NodeId>(Get(bytes, 0, 4)), Get(bytes, 4, 8)};
  const auto round = static_cast<std::uint32_t>(bytes[12]);
  if (sync_round_ == 0 || ring != sync_ring_ || round != sync_round_) return;  // an old ring's or round's
  barriers_.insert(origin);
  if (bytes[13] != 0) joined_in_sync_.insert(origin);
  for (NodeId m : sync_members_) {
    if (barriers_.count(m) == 0) return;
  }
  CompleteRound();
}

void CpgLayer::CompleteRound() {
  if (sync_round_ == kCpgActivateRound) {
    // cpg_sync_activate: the group is the new ring's joined processes.
    group_ = joined_in_sync_;
    GiveView();
  }
  if (sync_round_ == kSyncRounds) {
    sync_round_ = 0;
    ++counters_.syncs_completed;
    srp_->TransAck();
    return;
  }
  ++sync_round_;
  barriers_.clear();
  joined_in_sync_.clear();
  SendBarrier();
}

void CpgLayer::GiveView() {
  if (!local_joined_ || group_.count(self_) == 0) return;
  std::vector<NodeId> view(group_.begin(), group_.end());
  if (view == last_view_) return;
  last_view_ = view;
  ++counters_.views;
  client_->OnCpgView(view);
}

}  // namespace pbxstate::totem
