// EmulatedHosts (pbxstate/ns3/emu.h): real hosts as the network cards of a world's cluster nodes,
// and the world's hook that hands out those nodes.
#include <array>
#include <cstdio>
#include <sstream>

#include <ns3/application.h>
#include <ns3/boolean.h>
#include <ns3/global-value.h>
#include <ns3/ipv4-static-routing-helper.h>
#include <ns3/ipv4-routing-table-entry.h>
#include <ns3/ipv4-static-routing.h>
#include <ns3/ipv4.h>
#include <ns3/mac48-address.h>
#include <ns3/node-list.h>
#include <ns3/node.h>
#include <ns3/point-to-point-net-device.h>
#include <ns3/pointer.h>
#include <ns3/queue.h>
#include <ns3/simple-ref-count.h>
#include <ns3/string.h>
#include <ns3/uinteger.h>

#include "pbxstate/ns3/emu.h"

namespace pbxstate::ns3sim {

namespace {

// The LAN's interface on a cluster node's IPv4 (0 is loopback); the world builds it so.
constexpr std::uint32_t kLanInterface = 1;
// A held application's start time: beyond any run (a scenario lasts at most 25 hours), and far
// enough below ns-3's largest time that the real-time synchronizer's wait cannot overflow.
const ns3::Time kHeldStart = ns3::Seconds(100.0 * 365.25 * 86400);
// Frames a host's FdNetDevice may have read and not yet handed to the simulator. Past it the
// reader drops the frame and pauses 100 ms (FdNetDevice::ReceiveCallback): far above what a
// cluster's bursts need, so that it never happens unnoticed (the lag probe would show it).
constexpr std::uint32_t kRxQueueFrames = 4096;
constexpr std::uint16_t kHostMtu = 1500;

bool Discard(ns3::Ptr<ns3::NetDevice>, ns3::Ptr<const ns3::Packet>, std::uint16_t, const ns3::Address&) {
  return true;
}

std::string MacText(ns3::Mac48Address mac) {
  std::array<std::uint8_t, 6> b{};
  mac.CopyTo(b.data());
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return text;
}

std::string Ipv4Text(ns3::Ipv4Address address) {
  std::ostringstream out;
  address.Print(out);
  return out.str();
}

}  // namespace

void SelectSimulator(SimulatorKind kind) {
  const bool realtime = kind == SimulatorKind::kRealtime;
  ns3::GlobalValue::Bind("SimulatorImplementationType",
                         ns3::StringValue(realtime ? "ns3::RealtimeSimulatorImpl" : "ns3::DefaultSimulatorImpl"));
  ns3::GlobalValue::Bind("ChecksumEnabled", ns3::BooleanValue(realtime));
}

ns3::Ptr<ns3::Node> Ns3World::ClusterNode(NodeId node) const {
  if (node == kNoNode || node > cluster_nodes_.GetN()) return nullptr;
  return cluster_nodes_.Get(node - 1);
}

// Joins one host's FdNetDevice and its node's LAN device. Both directions copy the frame and send
// it on unchanged (source and destination MACs, protocol); nothing passes while the node's IPv4
// interface is down (Ns3World::Isolate).
class EmulatedHosts::Port : public ns3::SimpleRefCount<Port> {
 public:
  Port(ns3::Ptr<ns3::Ipv4> ipv4, ns3::Ptr<ns3::NetDevice> lan, ns3::Ptr<ns3::FdNetDevice> host)
      : ipv4_(std::move(ipv4)), lan_(std::move(lan)), host_(std::move(host)) {}

  bool FromHost(ns3::Ptr<ns3::NetDevice>, ns3::Ptr<const ns3::Packet> packet, std::uint16_t protocol,
                const ns3::Address& from, const ns3::Address& to, ns3::NetDevice::PacketType) {
    if (!ipv4_->IsUp(kLanInterface)) {
      ++counters_.dropped_isolated;
    } else if (lan_->SendFrom(packet->Copy(), from, to, protocol)) {
      ++counters_.frames_from_hosts;
    } else {
      ++counters_.dropped_send;  // the LAN device's queue is full
    }
    return true;
  }

  bool FromLan(ns3::Ptr<ns3::NetDevice>, ns3::Ptr<const ns3::Packet> packet, std::uint16_t protocol,
               const ns3::Address& from, const ns3::Address& to, ns3::NetDevice::PacketType type) {
    // On a CSMA bus every station sees every unicast; one for another station is not the host's.
    if (type == ns3::NetDevice::PACKET_OTHERHOST) return true;
    if (!ipv4_->IsUp(kLanInterface)) {
      ++counters_.dropped_isolated;
    } else if (host_->SendFrom(packet->Copy(), from, to, protocol)) {
      ++counters_.frames_to_hosts;
    } else {
      ++counters_.dropped_send;  // the descriptor refused the write
    }
    return true;
  }

  const EmuCounters& counters() const { return counters_; }

 private:
  ns3::Ptr<ns3::Ipv4> ipv4_;
  ns3::Ptr<ns3::NetDevice> lan_;
  ns3::Ptr<ns3::FdNetDevice> host_;
  EmuCounters counters_;
};

// Counts what the world's device queues drop (EmuCounters::dropped_wan_queue, dropped_lan_queue)
// through each queue's "Drop" trace: with no queue discs installed (the world removes them),
// a device's transmit queue is where a full path drops.
class EmulatedHosts::QueueDrops : public ns3::SimpleRefCount<QueueDrops> {
 public:
  // Connects to every device queue of the world's nodes (ns-3's NodeList: the one world alive).
  void Watch() {
    for (auto it = ns3::NodeList::Begin(); it != ns3::NodeList::End(); ++it) {
      for (std::uint32_t d = 0; d < (*it)->GetNDevices(); ++d) {
        ns3::Ptr<ns3::NetDevice> dev = (*it)->GetDevice(d);
        ns3::PointerValue queue;
        if (!dev->GetAttributeFailSafe("TxQueue", queue)) continue;
        auto q = queue.Get<ns3::Queue<ns3::Packet>>();
        if (q == nullptr) continue;
        const bool is_link = ns3::DynamicCast<ns3::PointToPointNetDevice>(dev) != nullptr;
        q->TraceConnectWithoutContext("Drop", ns3::MakeCallback(is_link ? &QueueDrops::OnWanDrop : &QueueDrops::OnLanDrop,
                                                                 ns3::Ptr<QueueDrops>(this)));
      }
    }
  }
  void OnWanDrop(ns3::Ptr<const ns3::Packet>) { ++wan; }
  void OnLanDrop(ns3::Ptr<const ns3::Packet>) { ++lan; }
  std::uint64_t wan = 0, lan = 0;
};

Status EmulatedHosts::Create(Ns3World* world, std::unique_ptr<EmulatedHosts>* out) {
  std::unique_ptr<EmulatedHosts> hosts(new EmulatedHosts(world));
  for (NodeId id : world->nodes()) {
    ns3::Ptr<ns3::Node> node = world->ClusterNode(id);
    ns3::Ptr<ns3::Ipv4> ipv4 = node->GetObject<ns3::Ipv4>();
    if (ipv4 == nullptr || ipv4->GetNInterfaces() <= kLanInterface) {
      return Status::FailedPrecondition("emulation: node " + std::to_string(id) + " has no LAN interface");
    }
    for (std::uint32_t a = 0; a < node->GetNApplications(); ++a) node->GetApplication(a)->SetStartTime(kHeldStart);
    ipv4->GetNetDevice(kLanInterface)->SetReceiveCallback(ns3::MakeCallback(&Discard));
  }
  hosts->ports_.resize(world->nodes().size());
  hosts->queue_drops_ = ns3::Create<QueueDrops>();
  hosts->queue_drops_->Watch();
  *out = std::move(hosts);
  return Status::Ok();
}

EmulatedHosts::EmulatedHosts(Ns3World* world) : world_(world) {}
EmulatedHosts::~EmulatedHosts() = default;

Status EmulatedHosts::Interface(NodeId id, HostInterface* out) const {
  ns3::Ptr<ns3::Node> node = world_->ClusterNode(id);
  if (node == nullptr) return Status::InvalidArgument("emulation: unknown node " + std::to_string(id));
  ns3::Ptr<ns3::Ipv4> ipv4 = node->GetObject<ns3::Ipv4>();
  const ns3::Ipv4InterfaceAddress address = ipv4->GetAddress(kLanInterface, 0);
  HostInterface h;
  h.mac = MacText(ns3::Mac48Address::ConvertFrom(ipv4->GetNetDevice(kLanInterface)->GetAddress()));
  h.address = Ipv4Text(address.GetLocal());
  h.prefix_length = static_cast<int>(address.GetMask().GetPrefixLength());
  h.mtu = kHostMtu;
  ns3::Ipv4StaticRoutingHelper helper;
  ns3::Ptr<ns3::Ipv4StaticRouting> routing = helper.GetStaticRouting(ipv4);
  for (std::uint32_t r = 0; routing != nullptr && r < routing->GetNRoutes(); ++r) {
    const ns3::Ipv4RoutingTableEntry route = routing->GetRoute(r);
    if (route.IsDefault()) h.gateway = Ipv4Text(route.GetGateway());
  }
  *out = std::move(h);
  return Status::Ok();
}

Status EmulatedHosts::Attach(NodeId id, int fd) {
  ns3::Ptr<ns3::Node> node = world_->ClusterNode(id);
  if (node == nullptr) return Status::InvalidArgument("emulation: unknown node " + std::to_string(id));
  if (ports_[id - 1] != nullptr) return Status::FailedPrecondition("emulation: node " + std::to_string(id) + " has a host already");
  if (fd < 0) return Status::InvalidArgument("emulation: node " + std::to_string(id) + ": no descriptor");
  ns3::Ptr<ns3::Ipv4> ipv4 = node->GetObject<ns3::Ipv4>();
  ns3::Ptr<ns3::NetDevice> lan = ipv4->GetNetDevice(kLanInterface);
  // A TAP gives no back-pressure, so the node's LAN device holds what the host's qdisc would.
  if (!SetTransmitQueuePackets(lan, kHostTxQueuePackets)) {
    return Status::FailedPrecondition("emulation: node " + std::to_string(id) + "'s LAN device has no transmit queue");
  }
  auto host = ns3::CreateObject<ns3::FdNetDevice>();
  host->SetAddress(lan->GetAddress());
  host->SetMtu(kHostMtu);
  host->SetAttribute("RxQueueSize", ns3::UintegerValue(kRxQueueFrames));
  host->SetFileDescriptor(fd);
  node->AddDevice(host);  // sets the device's receive callback to the node's: replaced below
  host->SetReceiveCallback(ns3::MakeCallback(&Discard));
  auto port = ns3::Create<Port>(ipv4, lan, host);
  host->SetPromiscReceiveCallback(ns3::MakeCallback(&Port::FromHost, port));
  lan->SetPromiscReceiveCallback(ns3::MakeCallback(&Port::FromLan, port));
  ports_[id - 1] = port;
  return Status::Ok();
}

EmuCounters EmulatedHosts::counters() const {
  EmuCounters total;
  for (const auto& port : ports_) {
    if (port == nullptr) continue;
    const EmuCounters& c = port->counters();
    total.frames_from_hosts += c.frames_from_hosts;
    total.frames_to_hosts += c.frames_to_hosts;
    total.dropped_isolated += c.dropped_isolated;
    total.dropped_send += c.dropped_send;
  }
  total.dropped_wan_queue = queue_drops_->wan;
  total.dropped_lan_queue = queue_drops_->lan;
  return total;
}

std::vector<EmuCounters> EmulatedHosts::node_counters() const {
  std::vector<EmuCounters> out(ports_.size());
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    if (ports_[i] != nullptr) out[i] = ports_[i]->counters();
  }
  return out;
}

}  // namespace pbxstate::ns3sim
