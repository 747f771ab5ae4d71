// NodeApp in Corosync mode: the engine's frames as CPG messages over the Corosync model
// and knet's transmit path (node_app.h says what the mode does).
#include <iostream>

#include <ns3/inet-socket-address.h>
#include <ns3/ipv4.h>
#include <ns3/pointer.h>
#include <ns3/simulator.h>

#include "pbxstate/check.h"
#include "pbxstate/ns3/node_app.h"

namespace pbxstate::ns3t {

bool NodeApp::StartCorosync(bool formed) {
  if (socket_ == nullptr && !OpenSocket()) return false;
  if (tx_queue_ == nullptr) {
    ns3::Ptr<ns3::Ipv4> ipv4 = GetNode()->GetObject<ns3::Ipv4>();
    const std::int32_t lan = ipv4 != nullptr ? ipv4->GetInterfaceForAddress(self_address_) : -1;
    if (lan >= 0) tx_queue_ = TransmitQueue(ipv4->GetNetDevice(static_cast<std::uint32_t>(lan)));
  }
  CorosyncStack::Upcalls upcalls;
  upcalls.deliver = [this](NodeId from, std::span<const std::uint8_t> payload) { DeliverCpg(from, payload); };
  upcalls.view = [this](const std::vector<NodeId>& members) { DeliverView(members); };
  upcalls.ring = [this](const totem::RingId& ring, const std::vector<NodeId>& members) {
    last_ring_seq_ = ring.seq;
    if (config_.collector != nullptr) config_.collector->OnRingFormed(self_, ns3::Simulator::Now(), members);
  };
  DatagramPort* port = this;
  corosync_ = std::make_unique<CorosyncStack>(self_, config_.corosync, port, std::move(upcalls), totem_rng_);
  if (formed) {
    corosync_->StartFormed(true);
  } else {
    corosync_->StartBoot(last_ring_seq_);
  }
  return true;
}

void NodeApp::CrashCorosync() {
  pending_view_.reset();
  if (corosync_ == nullptr) return;
  if (config_.corosync->crash == CrashKind::kProcess) {
    // corosync sees the client's IPC connection close and multicasts its leave.
    corosync_->DropClientUpcalls();
    corosync_->node().ProcessLeave();
    return;
  }
  last_ring_seq_ = std::max(last_ring_seq_, corosync_->node().srp().ring().seq);
  corosync_.reset();
  CloseSocket();
}

void NodeApp::DeliverCpg(NodeId from, std::span<const std::uint8_t> payload) {
  if (engine_ == nullptr) return;
  ++counters_.frames_received;
  counters_.payload_bytes_received += payload.size();
  engine_->OnFrame(from, payload);
}

void NodeApp::DeliverView(const std::vector<NodeId>& members) {
  const MembershipView view{++view_id_, members};
  if (engine_ == nullptr) {
    pending_view_ = view;
    return;
  }
  if (config_.collector != nullptr) config_.collector->OnMembership(self_, ns3::Simulator::Now(), view.members);
  engine_->OnMembership(view);
}

SendStatus NodeApp::SendCpg(NodeId to, std::span<const std::uint8_t> frame) {
  if (corosync_ == nullptr) return SendStatus::kTryAgain;
  const SendStatus st = corosync_->node().Send(to, frame);
  if (st == SendStatus::kOk) {
    ++counters_.frames_sent;
    counters_.payload_bytes_sent += frame.size();
  } else if (st == SendStatus::kTryAgain) {
    ++counters_.cpg_try_again;
  }
  return st;
}

void NodeApp::SendDatagramTo(NodeId to, std::span<const std::uint8_t> bytes) {
  ns3::Ipv4Address address;
  if (socket_ == nullptr || !config_.peers->Find(to, &address, nullptr)) return;
  if (config_.send_jitter.IsStrictlyPositive() && delayed_.size() >= config_.max_delayed_datagrams) {
    ++counters_.jitter_queue_overflow;
    return;  // lost, as on a full queue
  }
  Emit(ns3::Create<ns3::Packet>(bytes.data(), static_cast<std::uint32_t>(bytes.size())), address);
}

void NodeApp::MulticastDatagram(std::span<const std::uint8_t> bytes) {
  if (socket_ == nullptr) return;
  if (config_.send_jitter.IsStrictlyPositive() &&
      delayed_.size() + 1 + remote_lan_peers_.size() > config_.max_delayed_datagrams) {
    ++counters_.jitter_queue_overflow;
    return;
  }
  // UDP multicast within the LAN is its broadcast; routers carry a copy to every other site.
  ns3::Ptr<ns3::Packet> packet = ns3::Create<ns3::Packet>(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
  Emit(packet->Copy(), config_.lan_broadcast);
  for (const auto& peer : remote_lan_peers_) Emit(packet->Copy(), peer);
}

ns3::Ptr<ns3::Queue<ns3::Packet>> TransmitQueue(ns3::Ptr<ns3::NetDevice> device) {
  ns3::PointerValue queue;
  if (device == nullptr || !device->GetAttributeFailSafe("TxQueue", queue)) return nullptr;
  return queue.Get<ns3::Queue<ns3::Packet>>();
}

bool NodeApp::TxQueueFull() const {
  return tx_queue_ != nullptr && tx_queue_->GetNPackets() >= tx_queue_->GetMaxSize().GetValue();
}

void NodeApp::HoldForKnet(ns3::Ptr<ns3::Packet> packet, ns3::Ipv4Address to) {
  if (knet_backlog_.size() >= kMaxKnetBacklog) {
    ++counters_.knet_tx_dropped;
    return;
  }
  knet_backlog_.emplace_back(std::move(packet), to);
  ++counters_.knet_tx_waits;
  if (!knet_retry_.IsRunning()) {
    knet_retry_ = ns3::Simulator::Schedule(ns3::NanoSeconds(kKnetTxRetry.count()), &NodeApp::KnetRetry, this);
  }
}

void NodeApp::KnetRetry() {
  PBXSTATE_CHECK(socket_ != nullptr);  // closing the socket drops the backlog and this event
  while (!knet_backlog_.empty() && !TxQueueFull()) {
    auto [packet, to] = std::move(knet_backlog_.front());
    knet_backlog_.pop_front();
    Transmit(packet, to);
  }
  if (!knet_backlog_.empty()) {
    knet_retry_ = ns3::Simulator::Schedule(ns3::NanoSeconds(kKnetTxRetry.count()), &NodeApp::KnetRetry, this);
  }
}

void NodeApp::DropKnetBacklog() {
  knet_backlog_.clear();
  ns3::Simulator::Cancel(knet_retry_);
}

}  // namespace pbxstate::ns3t
