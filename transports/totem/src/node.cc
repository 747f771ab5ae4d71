#include "pbxstate/totem/node.h"

#include <algorithm>

#include "pbxstate/check.h"

namespace pbxstate::totem {

TotemNode::TotemNode(NodeId self, const TotemConfig& config, const std::vector<NodeId>& nodelist, TotemNodeHost* host,
                     CpgClient* client)
    : self_(self),
      config_(config),
      nodelist_(nodelist),
      timeouts_(DeriveTimeouts(config, nodelist.size())),
      host_(host),
      srp_(self, config, timeouts_, this),
      cpg_(self, &srp_, client) {
  PBXSTATE_CHECK(std::is_sorted(nodelist_.begin(), nodelist_.end()));
  PBXSTATE_CHECK(std::binary_search(nodelist_.begin(), nodelist_.end(), self));
  if (config.transport == Transport::kKnet) {
    knet_ = std::make_unique<KnetLinks>(self, nodelist_, timeouts_, config.knet_pong_count,
                                        [this](NodeId to, const Packet& p) {
                                          std::vector<std::uint8_t> bytes;
                                          if (Encode(p, &bytes)) Send(to, bytes);
                                        });
  }
}

TotemNode::~TotemNode() = default;

void TotemNode::StartKnetTicks() {
  if (!knet_) return;
  // The heartbeat thread's phase is the process's own: a uniform draw within one tick.
  const auto tick_us = std::chrono::duration_cast<std::chrono::microseconds>(kKnetTick).count();
  host_->SetTimer(kKnetTickTimer, std::chrono::microseconds(host_->Random() % static_cast<std::uint64_t>(tick_us)));
}

void TotemNode::StartFormed(const RingId& ring, bool process_joined) {
  if (knet_) knet_->StartAllUp(host_->Now());
  StartKnetTicks();
  cpg_.StartFormed(nodelist_, process_joined);
  srp_.StartFormed(ring, nodelist_);
}

void TotemNode::StartBoot(std::uint64_t last_ring_seq) {
  if (knet_) knet_->StartAllDown();
  StartKnetTicks();
  srp_.StartGather(last_ring_seq);
}

void TotemNode::OnDatagram(NodeId from, std::span<const std::uint8_t> bytes) {
  Packet p;
  if (!Decode(bytes, &p) || p.from != from) {
    ++counters_.malformed;
    return;
  }
  if (std::holds_alternative<Ping>(p.body)) {
    if (knet_) knet_->OnPingPong(p, host_->Now());
    return;
  }
  if (knet_ && from != self_ && !knet_->Up(from)) {
    ++counters_.dropped_link_down;  // knet: "Source host not reachable yet. Discarding packet."
    return;
  }
  srp_.OnPacket(p);
}

void TotemNode::OnTimer(std::size_t timer) {
  if (timer == kKnetTickTimer) {
    if (!knet_) return;
    knet_->Tick(host_->Now());
    host_->SetTimer(kKnetTickTimer, kKnetTick);
    return;
  }
  PBXSTATE_CHECK_LT(timer, kSrpTimerCount);
  srp_.OnTimer(static_cast<SrpTimer>(timer));
}

void TotemNode::Send(NodeId to, const std::vector<std::uint8_t>& bytes) {
  if (to != self_) {
    ++counters_.datagrams_sent;
    counters_.bytes_sent += bytes.size();
  }
  host_->SendDatagram(to, bytes);
}

void TotemNode::Unicast(NodeId to, const Packet& packet) {
  if (!Encode(packet, &buffer_)) return;
  if (knet_ && to != self_ && !knet_->Up(to)) {
    ++counters_.dropped_link_down;
    return;
  }
  Send(to, buffer_);
}

void TotemNode::Multicast(const Packet& packet) {
  if (!Encode(packet, &buffer_)) return;
  if (knet_) {
    for (NodeId n : nodelist_) {
      if (n == self_) continue;
      if (knet_->Up(n)) {
        Send(n, buffer_);
      } else {
        ++counters_.dropped_link_down;
      }
    }
  } else {
    // One copy on the LAN (the host adds one per other site, as multicast routing would).
    ++counters_.datagrams_sent;
    counters_.bytes_sent += buffer_.size();
    host_->MulticastDatagram(buffer_);
  }
  host_->SendDatagram(self_, buffer_);  // Corosync hears its own multicasts
}

void TotemNode::OnRingFormed(const RingId& ring, const std::vector<NodeId>& members,
                             const std::vector<NodeId>& /*transitional*/) {
  host_->OnRingFormed(ring, members);
  cpg_.OnRingFormed(ring, members);
}

}  // namespace pbxstate::totem
