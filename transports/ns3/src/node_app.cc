#include "pbxstate/ns3/node_app.h"

#include <algorithm>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <ns3/inet-socket-address.h>
#include <ns3/simulator.h>
#include <ns3/udp-socket-factory.h>

namespace pbxstate::ns3t {

namespace {

// UDP 8 + IPv4 20 + Ethernet header 14 + FCS 4: what a datagram adds on an Ethernet wire.
constexpr std::uint64_t kDatagramOverheadBytes = 8 + 20 + 14 + 4;

MonoTime SimMonoNow() { return MonoTime(Duration(ns3::Simulator::Now().GetNanoSeconds())); }

WallTime SimWallNow() {
  // Simulation time zero is kSimEpoch on every node (simulated clocks are perfectly synchronised).
  return kSimEpoch + Duration(ns3::Simulator::Now().GetNanoSeconds());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PeerDirectory

bool PeerDirectory::Add(NodeId id, ns3::Ipv4Address address, std::uint32_t lan) {
  if (id == kNoNode || by_id_.count(id) != 0 || by_address_.count(address.Get()) != 0) return false;
  by_id_.emplace(id, Entry{address, lan});
  by_address_.emplace(address.Get(), id);
  order_.push_back(id);
  return true;
}

NodeId PeerDirectory::NodeAt(ns3::Ipv4Address address) const {
  auto it = by_address_.find(address.Get());
  return it == by_address_.end() ? kNoNode : it->second;
}

bool PeerDirectory::Find(NodeId id, ns3::Ipv4Address* address, std::uint32_t* lan) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  if (address != nullptr) *address = it->second.address;
  if (lan != nullptr) *lan = it->second.lan;
  return true;
}

// ---------------------------------------------------------------------------------------------
// The Env the engine sees: thin forwarding to the app, which owns the sockets and timers.

class NodeApp::AppEnv final : public Env {
 public:
  explicit AppEnv(NodeApp* app) : app_(app) {}
  MonoTime Now() override { return SimMonoNow(); }
  WallTime WallNow() override { return SimWallNow(); }
  void ScheduleWakeup(MonoTime at) override { app_->ScheduleWakeup(at); }
  SendStatus Broadcast(std::span<const std::uint8_t> frame) override { return app_->Broadcast(frame); }
  SendStatus Unicast(NodeId to, std::span<const std::uint8_t> frame) override { return app_->Unicast(to, frame); }
  // Over the Corosync model a unicast is a ring message every member receives (SendCpg), as on
  // the real CPG transport; over UDP it crosses the path to `to` alone.
  bool UnicastReachesEveryone() const override { return app_->config_.corosync != nullptr; }
  // UDP confirms nothing: a datagram handed to the socket is gone, and whether it reached anyone
  // is unknown to the sender. So this host reports no backlog, and the engine paces its live
  // updates itself (env.h; transports/ns3/README.md, "Decisions").
  std::optional<std::size_t> SendBacklog() override { return std::nullopt; }
  std::uint64_t Random() override { return app_->Random(); }
  void Log(LogLevel level, std::string_view message) override {
    // A 1,000-node run would drown in start-up lines: only warnings and errors are printed.
    if (level == LogLevel::kDebug || level == LogLevel::kInfo) return;
    std::clog << "[" << ns3::Simulator::Now().GetSeconds() << "s node " << app_->self_ << " "
              << LogLevelName(level) << "] " << message << "\n";
  }

 private:
  NodeApp* app_;
};

class NodeApp::Listener final : public ViewListener {
 public:
  Listener(NodeId node, ViewCollector* collector) : node_(node), collector_(collector) {}
  void OnViewChange(const ViewChange& change) override {
    if (collector_ != nullptr) collector_->OnViewChange(node_, ns3::Simulator::Now(), change);
  }
  void OnMembersChanged(const std::vector<NodeId>& members) override {
    if (collector_ != nullptr) collector_->OnMembersChanged(node_, ns3::Simulator::Now(), members);
  }

 private:
  NodeId node_;
  ViewCollector* collector_;
};

// ---------------------------------------------------------------------------------------------
// NodeApp

NS_OBJECT_ENSURE_REGISTERED(NodeApp);

ns3::TypeId NodeApp::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("pbxstate::ns3t::NodeApp")
                               .SetParent<ns3::Application>()
                               .SetGroupName("Applications")
                               .AddConstructor<NodeApp>();
  return tid;
}

NodeApp::NodeApp()
    : env_(std::make_unique<AppEnv>(this)),
      engine_rng_(ns3::CreateObject<ns3::UniformRandomVariable>()),
      jitter_rng_(ns3::CreateObject<ns3::UniformRandomVariable>()),
      totem_rng_(ns3::CreateObject<ns3::UniformRandomVariable>()) {}

NodeApp::~NodeApp() {
  StopEngine();
  corosync_.reset();
  CloseSocket();
}

bool NodeApp::Configure(const NodeAppConfig& config) {
  configured_ = false;
  if (config.peers == nullptr) return false;
  if (!config.peers->Find(config.engine.node_id, &self_address_, &self_lan_)) return false;
  // The incarnation is ours to choose; validate with a placeholder so a bad template is caught now.
  EngineConfig probe = config.engine;
  probe.incarnation = 1;
  if (!probe.Validate().ok()) return false;
  if (probe.max_frame_bytes > kMaxUdpPayload) return false;
  if (config.corosync != nullptr) {
    const auto& list = config.corosync->nodelist;
    if (probe.membership != MembershipSource::kTransport || probe.max_frame_bytes > totem::kMaxClientMessage ||
        !std::binary_search(list.begin(), list.end(), config.engine.node_id) ||
        !config.corosync->totem.Validate(list.size()).ok()) {
      return false;
    }
  }

  config_ = config;
  self_ = config.engine.node_id;
  remote_lan_peers_.clear();
  all_peers_.clear();
  for (NodeId id : config.peers->nodes()) {
    if (id == self_) continue;
    ns3::Ipv4Address address;
    std::uint32_t lan = 0;
    config.peers->Find(id, &address, &lan);
    all_peers_.push_back(address);
    if (lan != self_lan_) remote_lan_peers_.push_back(address);
  }
  engine_rng_->SetStream(config.rng_stream);
  jitter_rng_->SetStream(config.rng_stream + 1);
  if (config.corosync != nullptr) totem_rng_->SetStream(config.totem_rng_stream);
  listener_ = std::make_unique<Listener>(self_, config.collector);
  configured_ = true;
  return true;
}

void NodeApp::StartApplication() {
  if (engine_ != nullptr) return;
  if (config_.corosync != nullptr && !StartCorosync(true)) return;
  StartEngine();
}

void NodeApp::StopApplication() {
  Crash();
}

void NodeApp::DoDispose() {
  StopEngine();
  corosync_.reset();
  CloseSocket();
  tx_queue_ = nullptr;
  engine_rng_ = nullptr;
  jitter_rng_ = nullptr;
  totem_rng_ = nullptr;
  ns3::Application::DoDispose();
}

void NodeApp::Crash() {
  if (engine_ == nullptr) return;
  StopEngine();
  if (config_.corosync != nullptr) CrashCorosync();
  ++counters_.crashes;
  if (config_.collector != nullptr) config_.collector->OnNodeCrashed(self_, ns3::Simulator::Now());
}

void NodeApp::Restart() {
  if (engine_ != nullptr) return;
  if (config_.corosync == nullptr) {
    StartEngine();
    return;
  }
  // A whole node boots its corosync first; the new process then joins the group.
  if (corosync_ == nullptr && !StartCorosync(false)) return;
  if (StartEngine()) corosync_->node().ProcessJoin();
}

bool NodeApp::OpenSocket() {
  socket_ = ns3::Socket::CreateSocket(GetNode(), ns3::UdpSocketFactory::GetTypeId());
  if (socket_->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), config_.port)) != 0) {
    std::clog << "pbxstate ns-3 node " << self_ << ": cannot bind UDP port " << config_.port << "\n";
    socket_->Close();
    socket_ = nullptr;
    return false;
  }
  socket_->SetAllowBroadcast(true);
  socket_->SetRecvCallback(ns3::MakeCallback(&NodeApp::OnReadable, this));
  return true;
}

void NodeApp::CloseSocket() {
  for (auto& [ticket, d] : delayed_) ns3::Simulator::Cancel(d.event);
  delayed_.clear();
  DropKnetBacklog();
  if (socket_ != nullptr) {
    socket_->SetRecvCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
    socket_->Close();
    socket_ = nullptr;
  }
}

bool NodeApp::StartEngine() {
  if (!configured_) {
    std::clog << "pbxstate ns-3 node app: start refused, Configure() did not succeed\n";
    return false;
  }
  // In Corosync mode the socket is corosync's: open already, it outlives the engine.
  if (config_.corosync == nullptr && !OpenSocket()) return false;

  // Hosts take the wall clock in microseconds at start-up; in simulation two starts can fall in
  // the same microsecond, so the incarnation is also forced above the previous one.
  const auto wall_us = std::chrono::duration_cast<std::chrono::microseconds>(SimWallNow().time_since_epoch()).count();
  const std::uint64_t incarnation = std::max(last_incarnation_ + 1, static_cast<std::uint64_t>(wall_us));
  EngineConfig engine_config = config_.engine;
  engine_config.incarnation = incarnation;

  std::unique_ptr<Engine> engine;
  Status status = Engine::Create(engine_config, env_.get(), &engine);
  if (!status.ok()) {
    std::clog << "pbxstate ns-3 node " << self_ << ": engine refused its config: " << status.ToString() << "\n";
    if (config_.corosync == nullptr) CloseSocket();
    return false;
  }
  last_incarnation_ = incarnation;
  engine_ = std::move(engine);
  engine_->SetListener(listener_.get());
  ++counters_.starts;
  if (config_.collector != nullptr) config_.collector->OnNodeStarted(self_, ns3::Simulator::Now(), incarnation);
  engine_->Start();
  if (pending_view_) {
    const MembershipView view = std::move(*pending_view_);
    pending_view_.reset();
    if (config_.collector != nullptr) config_.collector->OnMembership(self_, ns3::Simulator::Now(), view.members);
    engine_->OnMembership(view);
  }
  return true;
}

void NodeApp::StopEngine() {
  if (wakeup_.IsRunning()) ns3::Simulator::Cancel(wakeup_);
  if (engine_ != nullptr) {
    engine_->SetListener(nullptr);
    engine_.reset();
  }
  // UDP mode: the socket is the engine's. Corosync mode: corosync's, closed with the node.
  if (config_.corosync == nullptr) CloseSocket();
}

void NodeApp::OnWakeup() {
  if (engine_ == nullptr) return;
  in_wakeup_ = true;
  engine_->OnTimer();
  in_wakeup_ = false;
}

void NodeApp::ScheduleWakeup(MonoTime at) {
  // The engine keeps one wakeup: a new request replaces the pending one.
  if (wakeup_.IsRunning()) ns3::Simulator::Cancel(wakeup_);
  std::int64_t delay_ns = std::max<std::int64_t>(0, (at - SimMonoNow()).count());
  if (delay_ns == 0 && in_wakeup_) {
    // The engine handled a wakeup and asks again for the same instant: simulated time would
    // never advance. A real host's timer fires a little late anyway (the Env contract allows
    // it), so deliver it one microsecond later and count it.
    delay_ns = 1000;
    ++counters_.wakeups_deferred;
  }
  wakeup_ = ns3::Simulator::Schedule(ns3::NanoSeconds(delay_ns), &NodeApp::OnWakeup, this);
}

void NodeApp::OnReadable(ns3::Ptr<ns3::Socket> socket) {
  std::vector<std::uint8_t>& buffer = rx_buffer_;
  ns3::Address from;
  while (ns3::Ptr<ns3::Packet> packet = socket->RecvFrom(from)) {
    if (engine_ == nullptr && corosync_ == nullptr) return;  // crashed while draining (cheap guard)
    if (!ns3::InetSocketAddress::IsMatchingType(from)) {
      ++counters_.frames_unknown_sender;
      continue;
    }
    const ns3::Ipv4Address source = ns3::InetSocketAddress::ConvertFrom(from).GetIpv4();
    if (source == self_address_) {
      ++counters_.frames_from_self;
      continue;
    }
    const NodeId sender = config_.peers->NodeAt(source);
    if (sender == kNoNode) {
      ++counters_.frames_unknown_sender;
      continue;
    }
    buffer.resize(packet->GetSize());
    packet->CopyData(buffer.data(), static_cast<std::uint32_t>(buffer.size()));
    if (corosync_ != nullptr) {
      corosync_->OnDatagram(sender, buffer);
      continue;
    }
    if (engine_ == nullptr) continue;
    ++counters_.frames_received;
    counters_.payload_bytes_received += buffer.size();
    engine_->OnFrame(sender, std::span<const std::uint8_t>(buffer.data(), buffer.size()));
  }
}

std::size_t NodeApp::DatagramsForBroadcast() const {
  if (config_.broadcast_mode == BroadcastMode::kUnicastFanout) return all_peers_.size();
  return 1 + remote_lan_peers_.size();
}

SendStatus NodeApp::Broadcast(std::span<const std::uint8_t> frame) {
  ++counters_.broadcast_calls;
  if (config_.corosync != nullptr) return SendCpg(kNoNode, frame);
  if (frame.size() > kMaxUdpPayload) return SendStatus::kTooLarge;
  if (config_.send_jitter.IsStrictlyPositive() &&
      delayed_.size() + DatagramsForBroadcast() > config_.max_delayed_datagrams) {
    ++counters_.jitter_queue_overflow;
    return SendStatus::kTryAgain;
  }
  ns3::Ptr<ns3::Packet> packet = ns3::Create<ns3::Packet>(frame.data(), static_cast<std::uint32_t>(frame.size()));
  if (config_.broadcast_mode == BroadcastMode::kUnicastFanout) {
    for (const auto& peer : all_peers_) Emit(packet->Copy(), peer);
    return SendStatus::kOk;
  }
  Emit(packet->Copy(), config_.lan_broadcast);
  for (const auto& peer : remote_lan_peers_) Emit(packet->Copy(), peer);
  return SendStatus::kOk;
}

SendStatus NodeApp::Unicast(NodeId to, std::span<const std::uint8_t> frame) {
  ++counters_.unicast_calls;
  ns3::Ipv4Address address;
  if (to == self_ || !config_.peers->Find(to, &address, nullptr)) return SendStatus::kUnreachable;
  if (config_.corosync != nullptr) return SendCpg(to, frame);
  if (frame.size() > kMaxUdpPayload) return SendStatus::kTooLarge;
  if (config_.send_jitter.IsStrictlyPositive() && delayed_.size() + 1 > config_.max_delayed_datagrams) {
    ++counters_.jitter_queue_overflow;
    return SendStatus::kTryAgain;
  }
  Emit(ns3::Create<ns3::Packet>(frame.data(), static_cast<std::uint32_t>(frame.size())), address);
  return SendStatus::kOk;
}

std::uint64_t NodeApp::Random() {
  const std::uint64_t hi = engine_rng_->GetInteger(0, std::numeric_limits<std::uint32_t>::max());
  const std::uint64_t lo = engine_rng_->GetInteger(0, std::numeric_limits<std::uint32_t>::max());
  return (hi << 32) | lo;
}

void NodeApp::Emit(ns3::Ptr<ns3::Packet> packet, ns3::Ipv4Address to) {
  if (!config_.send_jitter.IsStrictlyPositive()) {
    EmitNow(packet, to);
    return;
  }
  const ns3::Time delay = ns3::Seconds(jitter_rng_->GetValue(0.0, config_.send_jitter.GetSeconds()));
  const std::uint64_t ticket = next_ticket_++;
  Delayed& d = delayed_[ticket];
  d.packet = packet;
  d.to = to;
  d.event = ns3::Simulator::Schedule(delay, &NodeApp::EmitDelayed, this, ticket);
}

void NodeApp::EmitDelayed(std::uint64_t ticket) {
  auto it = delayed_.find(ticket);
  if (it == delayed_.end()) return;
  Delayed d = std::move(it->second);
  delayed_.erase(it);
  if (socket_ != nullptr) EmitNow(d.packet, d.to);
}

void NodeApp::EmitNow(ns3::Ptr<ns3::Packet> packet, ns3::Ipv4Address to) {
  if (config_.corosync != nullptr && (!knet_backlog_.empty() || TxQueueFull())) {
    HoldForKnet(packet, to);
    return;
  }
  Transmit(packet, to);
}

void NodeApp::Transmit(ns3::Ptr<ns3::Packet> packet, ns3::Ipv4Address to) {
  const std::uint32_t size = packet->GetSize();
  if (socket_->SendTo(packet, 0, ns3::InetSocketAddress(to, config_.port)) < 0) {
    // No route (interface down, node isolated): the datagram is lost, as on a real host whose
    // sendto fails; the engine's anti-entropy repairs what it carried.
    ++counters_.send_errors;
    return;
  }
  ++counters_.datagrams_sent;
  counters_.wire_bytes_sent += size + kDatagramOverheadBytes;
  if (config_.corosync == nullptr) {
    ++counters_.frames_sent;
    counters_.payload_bytes_sent += size;
    std::uint32_t lan = self_lan_;
    const NodeId node = config_.peers->NodeAt(to);  // kNoNode: the LAN's broadcast address
    if (node != kNoNode && config_.peers->Find(node, nullptr, &lan) && lan != self_lan_) {
      ++counters_.frames_sent_to_other_sites;
    }
  }
}

}  // namespace pbxstate::ns3t
