// TotemNode: one node's Corosync as the model has it: the ring protocol (TotemSrp), knet's links
// (transport knet) and the CPG layer with its client, behind one host interface. The host owns
// the clock, the timers and the datagrams (in the ns-3 backend: transports/ns3 CorosyncStack).
//
// Threading: none; all calls on the host's thread. Upcalls (host sends and timers, the client's
// deliveries and views) happen inside the node's entry points (Start*, OnDatagram, OnTimer, Send,
// ProcessJoin, ProcessLeave), never later.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "pbxstate/totem/config.h"
#include "pbxstate/totem/cpg.h"
#include "pbxstate/totem/knet.h"
#include "pbxstate/totem/srp.h"

namespace pbxstate::totem {

// Timers of a node: the ring's (SrpTimer values) and knet's heartbeat tick.
inline constexpr std::size_t kKnetTickTimer = kSrpTimerCount;
inline constexpr std::size_t kNodeTimerCount = kSrpTimerCount + 1;

class TotemNodeHost {
 public:
  virtual ~TotemNodeHost() = default;
  virtual MonoTime Now() = 0;
  // Arms timer `timer` (< kNodeTimerCount) after `delay`, replacing a pending one; the host then
  // calls TotemNode::OnTimer(timer).
  virtual void SetTimer(std::size_t timer, Duration delay) = 0;
  virtual void CancelTimer(std::size_t timer) = 0;
  // One datagram to node `to` (this node included: Corosync hears its own multicasts and a
  // ring of one passes the token to itself) / to every other node of the LAN or site (UDP
  // multicast; transport udp only).
  virtual void SendDatagram(NodeId to, std::span<const std::uint8_t> bytes) = 0;
  virtual void MulticastDatagram(std::span<const std::uint8_t> bytes) = 0;
  virtual std::uint64_t Random() = 0;
  // A new ring is operational on this node (for metrics and tests).
  virtual void OnRingFormed(const RingId& /*ring*/, const std::vector<NodeId>& /*members*/) {}
};

struct TotemNodeCounters {
  std::uint64_t datagrams_sent = 0;     // every copy, loopback excluded
  std::uint64_t bytes_sent = 0;         // their UDP payload bytes
  std::uint64_t malformed = 0;          // datagrams that did not decode, or lied about their sender
  std::uint64_t dropped_link_down = 0;  // knet: sends to, or data from, a peer whose link is down
};

class TotemNode : private SrpHost {
 public:
  // `nodelist`: every node of corosync.conf's nodelist, this one included (ids sorted).
  TotemNode(NodeId self, const TotemConfig& config, const std::vector<NodeId>& nodelist, TotemNodeHost* host,
            CpgClient* client);
  ~TotemNode() override;
  TotemNode(const TotemNode&) = delete;
  TotemNode& operator=(const TotemNode&) = delete;

  // The cluster formed before the run: a ring of the whole nodelist, knet links up, every
  // process joined (this one when `process_joined`). Call once.
  void StartFormed(const RingId& ring, bool process_joined);
  // Corosync starting: gather alone, knet links down; `last_ring_seq` from its ring id file.
  void StartBoot(std::uint64_t last_ring_seq);

  void OnDatagram(NodeId from, std::span<const std::uint8_t> bytes);
  void OnTimer(std::size_t timer);

  // The local CPG client (see CpgLayer).
  SendStatus Send(NodeId dest, std::span<const std::uint8_t> payload) { return cpg_.Send(dest, payload); }
  void ProcessJoin() { cpg_.Join(); }
  void ProcessLeave() { cpg_.Leave(); }

  const TotemSrp& srp() const { return srp_; }
  const CpgLayer& cpg() const { return cpg_; }
  const KnetLinks* knet() const { return knet_.get(); }
  const TotemTimeouts& timeouts() const { return timeouts_; }
  const TotemNodeCounters& counters() const { return counters_; }

 private:
  // SrpHost
  void SetTimer(SrpTimer t, Duration delay) override { host_->SetTimer(static_cast<std::size_t>(t), delay); }
  void CancelTimer(SrpTimer t) override { host_->CancelTimer(static_cast<std::size_t>(t)); }
  void Unicast(NodeId to, const Packet& packet) override;
  void Multicast(const Packet& packet) override;
  std::uint64_t Random() override { return host_->Random(); }
  void OnTokenReceived() override { cpg_.OnTokenReceived(); }
  void OnDeliver(NodeId origin, std::span<const std::uint8_t> payload) override { cpg_.OnDeliver(origin, payload); }
  void OnRingFormed(const RingId& ring, const std::vector<NodeId>& members,
                    const std::vector<NodeId>& transitional) override;

  void Send(NodeId to, const std::vector<std::uint8_t>& bytes);
  void StartKnetTicks();

  NodeId self_;
  TotemConfig config_;
  std::vector<NodeId> nodelist_;
  TotemTimeouts timeouts_;
  TotemNodeHost* host_;
  TotemSrp srp_;
  CpgLayer cpg_;
  std::unique_ptr<KnetLinks> knet_;  // transport knet only
  std::vector<std::uint8_t> buffer_;
  TotemNodeCounters counters_;
};

}  // namespace pbxstate::totem
