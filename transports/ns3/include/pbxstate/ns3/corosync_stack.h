// CorosyncStack: the Corosync model (transports/totem TotemNode) hosted on one ns-3 node: ns-3's
// clock and scheduler for its timers, the node application's UDP socket for its datagrams, and a
// processing delay per received datagram. The node application (NodeApp, in Corosync mode) owns
// one and routes the engine's frames through it as CPG messages; CPG's deliveries and views come
// back through Upcalls. sim/ns3/COROSYNC_MODEL.md describes the model.
//
// Processing: Corosync handles its packets one at a time on its main thread. Every datagram this
// node receives (its own loopback included) waits in a FIFO and is handled `hop_processing` after
// the previous one finished or after it arrived, whichever is later. At most kMaxProcessingQueue
// wait; beyond, datagrams are dropped and counted, as a full socket buffer drops them.
//
// Client IPC: a CPG client talks to its corosync over IPC (libqb): cpg_mcast_joined hands a
// message in, the dispatch hands deliveries and views out. The model charges both crossings of a
// message when corosync delivers it (2 x client_ipc before the client gets it; its send returns at
// once) and one crossing for a view, in one FIFO so the client sees them in corosync's order.
// A process that dies loses what was on its way to it.
//
// Threading: ns-3's one thread.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <ns3/event-id.h>
#include <ns3/nstime.h>
#include <ns3/ptr.h>
#include <ns3/random-variable-stream.h>

#include "pbxstate/totem/node.h"

namespace pbxstate::ns3t {

// What a scenario's `crash` does to a node whose engine runs over the Corosync model.
enum class CrashKind : std::uint8_t {
  kProcess,  // the engine's process dies, its corosync lives: CPG reports the leave at once
  kNode,     // the whole server dies: its corosync too; the others see it by token loss
};

// Datagrams queued for processing at one node, at most.
inline constexpr std::size_t kMaxProcessingQueue = 65536;

struct CorosyncModelConfig {
  totem::TotemConfig totem;
  std::vector<NodeId> nodelist;  // every node, sorted (corosync.conf's nodelist)
  // Time to handle one datagram (Corosync's CPU and knet's thread hand-offs) and one IPC
  // crossing between a CPG client and its corosync (see above). Chosen against the netns backend
  // on this project's two-core VM (sim/ns3/README.md, "Calibration": 50/150/100 us of processing
  // without IPC, then 100 us with 150 us of IPC, which put every delivery p50 within 0.73-0.96 of
  // the real median); a faster host has smaller ones.
  Duration hop_processing = std::chrono::microseconds(100);
  Duration client_ipc = std::chrono::microseconds(150);
  CrashKind crash = CrashKind::kProcess;
};

// How the stack's datagrams leave the node (the node application's socket).
class DatagramPort {
 public:
  virtual ~DatagramPort() = default;
  virtual void SendDatagramTo(NodeId to, std::span<const std::uint8_t> bytes) = 0;
  virtual void MulticastDatagram(std::span<const std::uint8_t> bytes) = 0;
};

struct CorosyncCounters {
  std::uint64_t processing_drops = 0;  // datagrams dropped on a full processing queue
  std::uint64_t upcall_drops = 0;      // deliveries dropped on a full IPC queue (never in practice)
};

class CorosyncStack final : public totem::TotemNodeHost, public totem::CpgClient {
 public:
  struct Upcalls {
    std::function<void(NodeId, std::span<const std::uint8_t>)> deliver;  // CPG message to the client
    std::function<void(const std::vector<NodeId>&)> view;                 // CPG view of the client
    std::function<void(const totem::RingId&, const std::vector<NodeId>&)> ring;  // ring formed (metrics)
  };
  CorosyncStack(NodeId self, std::shared_ptr<const CorosyncModelConfig> config, DatagramPort* port, Upcalls upcalls,
                ns3::Ptr<ns3::UniformRandomVariable> rng);
  ~CorosyncStack() override;  // cancels every pending event
  CorosyncStack(const CorosyncStack&) = delete;
  CorosyncStack& operator=(const CorosyncStack&) = delete;

  // See TotemNode::StartFormed and StartBoot.
  void StartFormed(bool process_joined);
  void StartBoot(std::uint64_t last_ring_seq);

  // A datagram from node `from` arrived on the socket: queued for processing.
  void OnDatagram(NodeId from, std::span<const std::uint8_t> bytes);
  // The client process died: what was on its way to it over IPC is gone.
  void DropClientUpcalls();

  totem::TotemNode& node() { return *node_; }
  const totem::TotemNode& node() const { return *node_; }
  const CorosyncCounters& counters() const { return counters_; }

 private:
  // TotemNodeHost
  MonoTime Now() override;
  void SetTimer(std::size_t timer, Duration delay) override;
  void CancelTimer(std::size_t timer) override;
  void SendDatagram(NodeId to, std::span<const std::uint8_t> bytes) override;
  void MulticastDatagram(std::span<const std::uint8_t> bytes) override { port_->MulticastDatagram(bytes); }
  std::uint64_t Random() override;
  void OnRingFormed(const totem::RingId& ring, const std::vector<NodeId>& members) override;
  // CpgClient: through the IPC FIFO to the upcalls.
  void OnCpgDeliver(NodeId from, std::span<const std::uint8_t> payload) override;
  void OnCpgView(const std::vector<NodeId>& members) override;

  struct Upcall {
    ns3::Time due;
    bool view = false;
    NodeId from = kNoNode;
    std::vector<std::uint8_t> payload;
    std::vector<NodeId> members;
  };
  void QueueUpcall(Upcall upcall, Duration delay);
  void DeliverUpcalls();
  void Enqueue(NodeId from, std::span<const std::uint8_t> bytes);
  void ProcessHead();
  void FireTimer(std::size_t timer);

  NodeId self_;
  std::shared_ptr<const CorosyncModelConfig> config_;
  DatagramPort* port_;
  Upcalls upcalls_;
  ns3::Ptr<ns3::UniformRandomVariable> rng_;
  std::unique_ptr<totem::TotemNode> node_;
  std::array<ns3::EventId, totem::kNodeTimerCount> timers_;
  std::deque<std::pair<NodeId, std::vector<std::uint8_t>>> processing_;
  ns3::EventId processing_event_;
  std::deque<Upcall> upcalls_queue_;  // due times never decrease
  ns3::EventId upcall_event_;
  CorosyncCounters counters_;
};

}  // namespace pbxstate::ns3t
