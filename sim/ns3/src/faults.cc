#include "pbxstate/ns3/faults.h"

#include <array>

#include <ns3/node.h>
#include <ns3/packet.h>
#include <ns3/simulator.h>

namespace pbxstate::ns3sim {

bool CutTable::Blocks(ns3::Ipv4Address source, std::uint32_t receiver) const {
  auto it = index_by_address_.find(source.Get());
  if (it == index_by_address_.end() || receiver >= nodes_) return false;
  const std::uint32_t sender = it->second;
  for (const auto& group : groups_) {
    if (group[sender] != group[receiver]) return true;
  }
  for (const auto& cut : one_way_) {
    if (cut.from[sender] && cut.to[receiver]) return true;
  }
  return false;
}

NS_OBJECT_ENSURE_REGISTERED(FaultErrorModel);

ns3::TypeId FaultErrorModel::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("pbxstate::ns3sim::FaultErrorModel")
                               .SetParent<ns3::ErrorModel>()
                               .SetGroupName("Network")
                               .AddConstructor<FaultErrorModel>();
  return tid;
}

FaultErrorModel::FaultErrorModel() : rng_(ns3::CreateObject<ns3::UniformRandomVariable>()) {}

void FaultErrorModel::Setup(const CutTable* cuts, std::uint32_t receiver, ns3::Mac48Address own, Framing framing) {
  cuts_ = cuts;
  receiver_ = receiver;
  own_ = own;
  framing_ = framing;
}

bool FaultErrorModel::SourceOf(ns3::Ptr<const ns3::Packet> packet, ns3::Ipv4Address* source,
                               bool* for_other_station) const {
  // Read the serialized bytes directly: cheaper than deserializing header objects, and ns-3
  // keeps headers serialized in the packet buffer. Layout (CSMA, DIX or LLC/SNAP framing):
  // dst mac 6 | src mac 6 | type-or-length 2 | [LLC/SNAP 8] | IPv4 or ARP.
  std::array<std::uint8_t, 14 + 8 + 28> b{};
  const std::uint32_t n = packet->CopyData(b.data(), static_cast<std::uint32_t>(b.size()));
  *for_other_station = false;
  auto read_ip = [&](std::size_t at) {
    return ns3::Ipv4Address(static_cast<std::uint32_t>(b[at]) << 24 | static_cast<std::uint32_t>(b[at + 1]) << 16 |
                            static_cast<std::uint32_t>(b[at + 2]) << 8 | static_cast<std::uint32_t>(b[at + 3]));
  };
  if (framing_ == Framing::kRawIp) {
    // The switch delivers only frames for this station. IPv4 starts with version 4 in the high
    // nibble; ARP (Ethernet/IPv4) with hardware type 0x0001, sender IP at offset 14.
    if (n >= 20 && (b[0] >> 4) == 4) {
      *source = read_ip(12);
      return true;
    }
    if (n >= 18 && b[0] == 0 && b[1] == 1) {
      *source = read_ip(14);
      return true;
    }
    return false;
  }
  if (framing_ != Framing::kEthernet || n < 14) return false;
  const bool group = (b[0] & 0x01) != 0;  // broadcast or multicast destination
  if (!group) {
    std::array<std::uint8_t, 6> own{};
    own_.CopyTo(own.data());
    for (int i = 0; i < 6; ++i) {
      if (b[static_cast<std::size_t>(i)] != own[static_cast<std::size_t>(i)]) {
        *for_other_station = true;
        return false;
      }
    }
  }
  std::size_t off = 12;
  std::uint16_t type = static_cast<std::uint16_t>((b[off] << 8) | b[off + 1]);
  off = 14;
  if (type <= 1500) {  // 802.3 length: LLC/SNAP follows, its last two bytes are the type
    if (n < 22) return false;
    type = static_cast<std::uint16_t>((b[20] << 8) | b[21]);
    off = 22;
  }
  if (type == 0x0800 && n >= off + 20) {  // IPv4: source at offset 12
    *source = read_ip(off + 12);
    return true;
  }
  if (type == 0x0806 && n >= off + 18) {  // ARP (Ethernet/IPv4): sender IP at offset 14
    *source = read_ip(off + 14);
    return true;
  }
  return false;
}

bool FaultErrorModel::DoCorrupt(ns3::Ptr<ns3::Packet> packet) {
  if (framing_ != Framing::kOther) {
    ns3::Ipv4Address source;
    bool for_other_station = false;
    const bool has_source = SourceOf(packet, &source, &for_other_station);
    // A unicast frame for another station on the bus: the device would copy it, strip its
    // header and trailer and only then discard it. Discarding it here is the same outcome for
    // this station, much cheaper when 1,000 stations share the bus, and draws no random number.
    if (for_other_station) return true;
    if (has_source && cuts_ != nullptr && cuts_->active() && cuts_->Blocks(source, receiver_)) {
      ++dropped_by_cut_;
      return true;
    }
  }
  if (loss_ > 0.0 && (loss_ >= 1.0 || rng_->GetValue() < loss_)) {
    ++dropped_by_loss_;
    return true;
  }
  return false;
}

NS_OBJECT_ENSURE_REGISTERED(JitterPointToPointChannel);

ns3::TypeId JitterPointToPointChannel::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("pbxstate::ns3sim::JitterPointToPointChannel")
                               .SetParent<ns3::PointToPointChannel>()
                               .SetGroupName("PointToPoint")
                               .AddConstructor<JitterPointToPointChannel>();
  return tid;
}

JitterPointToPointChannel::JitterPointToPointChannel()
    : jitter_(ns3::Seconds(0)), rng_(ns3::CreateObject<ns3::UniformRandomVariable>()) {}

bool JitterPointToPointChannel::TransmitStart(ns3::Ptr<const ns3::Packet> packet,
                                              ns3::Ptr<ns3::PointToPointNetDevice> src, ns3::Time tx_time) {
  if (!IsInitialized()) return false;
  const std::uint32_t wire = src == GetSource(0) ? 0 : 1;
  ns3::Ptr<ns3::PointToPointNetDevice> dst = GetDestination(wire);
  ns3::Time delay = GetDelay();
  if (jitter_.IsStrictlyPositive()) {
    const double j = jitter_.GetSeconds();
    delay += ns3::Seconds(rng_->GetValue(-j, j));
    if (delay.IsNegative()) delay = ns3::Seconds(0);
  }
  // Same delivery as the base channel: the last bit arrives after the transmission time plus the
  // propagation delay, in the receiving node's context.
  ns3::Simulator::ScheduleWithContext(dst->GetNode()->GetId(), tx_time + delay, &ns3::PointToPointNetDevice::Receive,
                                      dst, packet->Copy());
  return true;
}

NS_OBJECT_ENSURE_REGISTERED(SwitchedLanChannel);

ns3::TypeId SwitchedLanChannel::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("pbxstate::ns3sim::SwitchedLanChannel")
                               .SetParent<ns3::SimpleChannel>()
                               .SetGroupName("Network")
                               .AddConstructor<SwitchedLanChannel>();
  return tid;
}

namespace {
std::uint64_t MacKey(ns3::Mac48Address mac) {
  std::array<std::uint8_t, 6> b{};
  mac.CopyTo(b.data());
  std::uint64_t k = 0;
  for (std::uint8_t x : b) k = (k << 8) | x;
  return k;
}
}  // namespace

void SwitchedLanChannel::Add(ns3::Ptr<ns3::SimpleNetDevice> device) {
  ns3::SimpleChannel::Add(device);  // keeps GetNDevices/GetDevice working
  ports_.push_back(device);
  by_mac_[MacKey(ns3::Mac48Address::ConvertFrom(device->GetAddress()))] = device;
}

void SwitchedLanChannel::Send(ns3::Ptr<ns3::Packet> packet, std::uint16_t protocol, ns3::Mac48Address to,
                              ns3::Mac48Address from, ns3::Ptr<ns3::SimpleNetDevice> sender) {
  auto deliver = [&](const ns3::Ptr<ns3::SimpleNetDevice>& port) {
    ns3::Simulator::ScheduleWithContext(port->GetNode()->GetId(), delay_, &ns3::SimpleNetDevice::Receive, port,
                                        packet->Copy(), protocol, to, from);
  };
  if (!to.IsGroup()) {  // unicast: to its owner only (an unknown MAC goes nowhere)
    auto it = by_mac_.find(MacKey(to));
    if (it != by_mac_.end() && it->second != sender) deliver(it->second);
    return;
  }
  for (const auto& port : ports_) {
    if (port != sender) deliver(port);
  }
}

}  // namespace pbxstate::ns3sim
