// KnetLinks: kronosnet's link state between one node and each of its peers, as libknet 1.25
// keeps it (threads_heartbeat.c: _handle_heartbt_thread, _handle_check_each, _link_down,
// _adjust_pong_timeouts; threads_rx.c, the ping and pong branches; links.h:
// KNET_LINK_PONG_TIMEOUT_BACKOFF, KNET_LINK_PONG_TIMEOUT_LAT_MUL; threads_common.h:
// KNET_THREADS_TIMERES). Corosync's knet transport sends a packet to a peer only while the link is
// up, and knet drops data from a peer whose link is down.
//
// A heartbeat tick runs every 200 ms (the host calls Tick); on it every link whose last ping is
// ping_interval old is pinged, and a link whose last pong is older than its pong timeout goes
// down. A down link comes up on the pong that arrives once pong_count pongs were counted. The pong
// timeout is ping_timeout x backoff + 2 x measured latency; backoff starts at 10 when a link is
// created or goes down and falls by one per second (every fifth tick) to 1.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "pbxstate/totem/config.h"
#include "pbxstate/totem/wire.h"

namespace pbxstate::totem {

// knet's heartbeat thread period (KNET_THREADS_TIMERES, 200,000 us).
inline constexpr Duration kKnetTick = std::chrono::milliseconds(200);
// Ticks between two pong-timeout adjustments (one second).
inline constexpr std::uint32_t kKnetTicksPerAdjust = 5;
// The pong-timeout multiple a new or failed link starts at (KNET_LINK_PONG_TIMEOUT_BACKOFF).
inline constexpr std::uint32_t kKnetBackoffStart = 10;
// Latency samples averaged (knet_ping_precision's default).
inline constexpr std::uint32_t kKnetLatencySamples = 2048;

struct KnetCounters {
  std::uint64_t pings_sent = 0;
  std::uint64_t pongs_sent = 0;
  std::uint64_t links_up = 0;    // transitions to up
  std::uint64_t links_down = 0;  // transitions to down
};

class KnetLinks {
 public:
  // `send(to, packet)` puts one ping or pong on the wire. `peers`: every other node of the nodelist.
  KnetLinks(NodeId self, const std::vector<NodeId>& peers, const TotemTimeouts& timeouts, std::uint32_t pong_count,
            std::function<void(NodeId, const Packet&)> send);

  // Every link up (a cluster that formed before the run) or down (a node that just booted).
  void StartAllUp(MonoTime now);
  void StartAllDown();

  // The heartbeat tick (every kKnetTick): pings and the pong timeout check.
  void Tick(MonoTime now);
  // A ping or pong from `from` (packet.body holds a Ping).
  void OnPingPong(const Packet& packet, MonoTime now);

  bool Up(NodeId peer) const;
  const KnetCounters& counters() const { return counters_; }

 private:
  struct Link {
    bool connected = false;
    std::uint32_t received_pong = 0;
    bool pong_seen = false;        // pong_last is set
    MonoTime pong_last{};
    MonoTime ping_last{};
    bool pinged = false;
    std::uint32_t backoff = kKnetBackoffStart;
    Duration latency = Duration::zero();
    std::uint32_t latency_samples = 0;
    Duration pong_timeout_adj{};
  };
  void LinkDown(Link& link);

  NodeId self_;
  TotemTimeouts timeouts_;
  std::uint32_t pong_count_;
  std::function<void(NodeId, const Packet&)> send_;
  std::map<NodeId, Link> links_;
  std::uint64_t ping_seq_ = 0;
  std::uint32_t ticks_ = 0;
  KnetCounters counters_;
};

}  // namespace pbxstate::totem
