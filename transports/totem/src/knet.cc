#include "pbxstate/totem/knet.h"

#include <utility>

namespace pbxstate::totem {

KnetLinks::KnetLinks(NodeId self, const std::vector<NodeId>& peers, const TotemTimeouts& timeouts,
                     std::uint32_t pong_count, std::function<void(NodeId, const Packet&)> send)
    : self_(self), timeouts_(timeouts), pong_count_(pong_count), send_(std::move(send)) {
  for (NodeId p : peers) {
    if (p != self) links_[p] = Link{};
  }
}

void KnetLinks::StartAllUp(MonoTime now) {
  for (auto& [id, link] : links_) {
    link = Link{};
    link.connected = true;
    link.ping_last = now;
    link.pinged = true;
    link.pong_timeout_adj = timeouts_.knet_ping_timeout * link.backoff;
  }
}

void KnetLinks::StartAllDown() {
  for (auto& [id, link] : links_) {
    link = Link{};
    link.pong_timeout_adj = timeouts_.knet_ping_timeout * link.backoff;
  }
}

void KnetLinks::LinkDown(Link& link) {
  link.received_pong = 0;
  link.pong_seen = false;
  link.backoff = kKnetBackoffStart;
  if (link.connected) {
    link.connected = false;
    ++counters_.links_down;
  }
}

void KnetLinks::Tick(MonoTime now) {
  if (++ticks_ % kKnetTicksPerAdjust == 0) {
    // _adjust_pong_timeouts, about once a second.
    for (auto& [id, link] : links_) {
      if (link.backoff > 1) --link.backoff;
      link.pong_timeout_adj = timeouts_.knet_ping_timeout * link.backoff + 2 * link.latency;
    }
  }
  for (auto& [id, link] : links_) {
    if (!link.pinged || now - link.ping_last >= timeouts_.knet_ping_interval) {
      Packet p;
      p.from = self_;
      p.body = Ping{++ping_seq_, now.time_since_epoch().count()};
      link.ping_last = now;
      link.pinged = true;
      ++counters_.pings_sent;
      send_(id, p);
    }
    if (link.pong_seen && now - link.pong_last >= link.pong_timeout_adj) LinkDown(link);
  }
}

void KnetLinks::OnPingPong(const Packet& packet, MonoTime now) {
  auto it = links_.find(packet.from);
  if (it == links_.end()) return;
  const Ping& ping = std::get<Ping>(packet.body);
  if (!packet.pong) {
    Packet reply;
    reply.from = self_;
    reply.pong = true;
    reply.body = ping;
    ++counters_.pongs_sent;
    send_(packet.from, reply);
    return;
  }
  Link& link = it->second;
  link.pong_seen = true;
  link.pong_last = now;
  const Duration latency = now - MonoTime(Duration(ping.sent_ns));
  if (latency > timeouts_.knet_ping_timeout || latency < Duration::zero()) return;  // too late: discarded
  if (link.latency_samples < kKnetLatencySamples) ++link.latency_samples;
  link.latency = (link.latency * (link.latency_samples - 1) + latency) / link.latency_samples;
  if (link.latency >= link.pong_timeout_adj || link.connected) return;
  if (link.received_pong >= pong_count_) {
    link.connected = true;
    ++counters_.links_up;
  } else {
    ++link.received_pong;
  }
}

bool KnetLinks::Up(NodeId peer) const {
  auto it = links_.find(peer);
  return it != links_.end() && it->second.connected;
}

}  // namespace pbxstate::totem
