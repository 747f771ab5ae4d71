#include "pbxstate/ns3/corosync_stack.h"

#include <limits>

#include <ns3/simulator.h>

namespace pbxstate::ns3t {

namespace {

ns3::Time ToNs3(Duration d) { return ns3::NanoSeconds(d.count()); }

}  // namespace

CorosyncStack::CorosyncStack(NodeId self, std::shared_ptr<const CorosyncModelConfig> config, DatagramPort* port,
                             Upcalls upcalls, ns3::Ptr<ns3::UniformRandomVariable> rng)
    : self_(self), config_(std::move(config)), port_(port), upcalls_(std::move(upcalls)), rng_(std::move(rng)) {
  node_ = std::make_unique<totem::TotemNode>(self_, config_->totem, config_->nodelist, this, this);
}

CorosyncStack::~CorosyncStack() {
  for (auto& t : timers_) ns3::Simulator::Cancel(t);
  ns3::Simulator::Cancel(processing_event_);
  ns3::Simulator::Cancel(upcall_event_);
}

void CorosyncStack::StartFormed(bool process_joined) {
  // The ring the cluster formed before the run: the lowest node is its representative.
  node_->StartFormed(totem::RingId{config_->nodelist.front(), 4}, process_joined);
}

void CorosyncStack::StartBoot(std::uint64_t last_ring_seq) { node_->StartBoot(last_ring_seq); }

void CorosyncStack::OnDatagram(NodeId from, std::span<const std::uint8_t> bytes) { Enqueue(from, bytes); }

void CorosyncStack::Enqueue(NodeId from, std::span<const std::uint8_t> bytes) {
  if (processing_.size() >= kMaxProcessingQueue) {
    ++counters_.processing_drops;
    return;
  }
  processing_.emplace_back(from, std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  if (!processing_event_.IsRunning()) {
    processing_event_ = ns3::Simulator::Schedule(ToNs3(config_->hop_processing), &CorosyncStack::ProcessHead, this);
  }
}

void CorosyncStack::ProcessHead() {
  auto [from, bytes] = std::move(processing_.front());
  processing_.pop_front();
  // The next one starts when this one is done: schedule it first, so a datagram queued while
  // handling this one waits its turn behind those already queued.
  if (!processing_.empty()) {
    processing_event_ = ns3::Simulator::Schedule(ToNs3(config_->hop_processing), &CorosyncStack::ProcessHead, this);
  }
  node_->OnDatagram(from, bytes);
}

MonoTime CorosyncStack::Now() { return MonoTime(Duration(ns3::Simulator::Now().GetNanoSeconds())); }

void CorosyncStack::SetTimer(std::size_t timer, Duration delay) {
  ns3::Simulator::Cancel(timers_.at(timer));
  timers_[timer] = ns3::Simulator::Schedule(ToNs3(std::max(delay, Duration::zero())), &CorosyncStack::FireTimer, this, timer);
}

void CorosyncStack::CancelTimer(std::size_t timer) { ns3::Simulator::Cancel(timers_.at(timer)); }

void CorosyncStack::FireTimer(std::size_t timer) { node_->OnTimer(timer); }

void CorosyncStack::SendDatagram(NodeId to, std::span<const std::uint8_t> bytes) {
  if (to == self_) {
    Enqueue(self_, bytes);  // loopback: no wire, but the same processing
    return;
  }
  port_->SendDatagramTo(to, bytes);
}

std::uint64_t CorosyncStack::Random() {
  const std::uint64_t hi = rng_->GetInteger(0, std::numeric_limits<std::uint32_t>::max());
  const std::uint64_t lo = rng_->GetInteger(0, std::numeric_limits<std::uint32_t>::max());
  return (hi << 32) | lo;
}

void CorosyncStack::OnCpgDeliver(NodeId from, std::span<const std::uint8_t> payload) {
  Upcall u;
  u.from = from;
  u.payload.assign(payload.begin(), payload.end());
  QueueUpcall(std::move(u), 2 * config_->client_ipc);  // the sender's cpg_mcast_joined, then the dispatch
}

void CorosyncStack::OnCpgView(const std::vector<NodeId>& members) {
  Upcall u;
  u.view = true;
  u.members = members;
  QueueUpcall(std::move(u), config_->client_ipc);
}

void CorosyncStack::QueueUpcall(Upcall upcall, Duration delay) {
  if (config_->client_ipc <= Duration::zero()) {
    if (upcall.view) {
      upcalls_.view(upcall.members);
    } else {
      upcalls_.deliver(upcall.from, upcall.payload);
    }
    return;
  }
  if (upcalls_queue_.size() >= kMaxProcessingQueue) {
    ++counters_.upcall_drops;
    return;
  }
  upcall.due = ns3::Simulator::Now() + ToNs3(delay);
  if (!upcalls_queue_.empty() && upcall.due < upcalls_queue_.back().due) upcall.due = upcalls_queue_.back().due;
  upcalls_queue_.push_back(std::move(upcall));
  if (!upcall_event_.IsRunning()) {
    upcall_event_ = ns3::Simulator::Schedule(upcalls_queue_.front().due - ns3::Simulator::Now(),
                                             &CorosyncStack::DeliverUpcalls, this);
  }
}

void CorosyncStack::DeliverUpcalls() {
  while (!upcalls_queue_.empty() && upcalls_queue_.front().due <= ns3::Simulator::Now()) {
    Upcall u = std::move(upcalls_queue_.front());
    upcalls_queue_.pop_front();
    if (u.view) {
      upcalls_.view(u.members);
    } else {
      upcalls_.deliver(u.from, u.payload);
    }
  }
  if (!upcalls_queue_.empty()) {
    upcall_event_ = ns3::Simulator::Schedule(upcalls_queue_.front().due - ns3::Simulator::Now(),
                                             &CorosyncStack::DeliverUpcalls, this);
  }
}

void CorosyncStack::DropClientUpcalls() {
  upcalls_queue_.clear();
  ns3::Simulator::Cancel(upcall_event_);
}

void CorosyncStack::OnRingFormed(const totem::RingId& ring, const std::vector<NodeId>& members) {
  if (upcalls_.ring) upcalls_.ring(ring, members);
}

}  // namespace pbxstate::ns3t
