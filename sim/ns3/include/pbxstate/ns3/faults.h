// ns-3 fault mechanisms for pbxstate worlds: a receive error model that drops by loss rate and by
// partition cut, and a point-to-point channel with per-packet jitter.
//
// Why a custom ErrorModel: a partition between groups of nodes on one shared LAN cannot be made
// by cutting a link (there is only one bus) nor by a RateErrorModel (it drops at random, not by
// who sent the packet). A receive error model is ns-3's own per-packet hook on a device; this one
// reads the source IPv4 address of each frame and drops it when an active cut separates the
// source from this receiver. Loss is drawn per packet (RateErrorModel counts per byte unless its
// ErrorUnit is set to packets; here the unit is always the packet).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include <ns3/error-model.h>
#include <ns3/ipv4-address.h>
#include <ns3/mac48-address.h>
#include <ns3/nstime.h>
#include <ns3/point-to-point-channel.h>
#include <ns3/point-to-point-net-device.h>
#include <ns3/random-variable-stream.h>
#include <ns3/simple-channel.h>
#include <ns3/simple-net-device.h>

namespace pbxstate::ns3sim {

// The partitions in force, shared by every receiving device of a world. Nodes are numbered by a
// dense index 0..N-1 (the world's node id - 1).
class CutTable {
 public:
  explicit CutTable(std::size_t nodes) : nodes_(nodes) {}

  // Registers which address belongs to which node index (addresses outside are never cut).
  void AddAddress(ns3::Ipv4Address address, std::uint32_t index) { index_by_address_[address.Get()] = index; }

  // Symmetric cut: nodes whose group numbers differ cannot hear each other. `group[i]` is node
  // i's group. Size must be nodes().
  void AddGroups(std::vector<std::uint16_t> group) { groups_.push_back(std::move(group)); }
  // One-way cut: nodes with to[i] cannot hear nodes with from[j]. Sizes must be nodes().
  void AddOneWay(std::vector<bool> from, std::vector<bool> to) { one_way_.push_back({std::move(from), std::move(to)}); }
  void Clear() {
    groups_.clear();
    one_way_.clear();
  }
  bool active() const { return !groups_.empty() || !one_way_.empty(); }
  std::size_t nodes() const { return nodes_; }

  // Whether a packet from `source` must not reach node index `receiver`.
  bool Blocks(ns3::Ipv4Address source, std::uint32_t receiver) const;

 private:
  struct OneWay {
    std::vector<bool> from, to;
  };
  std::size_t nodes_;
  std::unordered_map<std::uint32_t, std::uint32_t> index_by_address_;
  std::vector<std::vector<std::uint16_t>> groups_;
  std::vector<OneWay> one_way_;
};

// Receive error model of one device. Drops (in this order): packets a cut forbids (only on a
// cluster node's Ethernet device, where `cuts` is set), then packets lost at the configured
// per-packet rate. Unicast frames for another station on the bus are discarded here, uncounted:
// the device would discard them anyway after copying and parsing them, and not drawing for them
// keeps a run's random draws independent of other stations' traffic.
class FaultErrorModel : public ns3::ErrorModel {
 public:
  static ns3::TypeId GetTypeId();
  FaultErrorModel();

  // How the frames this model sees begin.
  enum class Framing : std::uint8_t {
    kEthernet,  // CSMA: Ethernet header, then IPv4 or ARP
    kRawIp,     // SimpleNetDevice (switched LAN): the IPv4 or ARP packet itself
    kOther,     // PPP links: never parsed (cuts do not apply there)
  };
  // `cuts` may be null (routers, inter-site links): loss only. `receiver` is this node's index in
  // the cut table.
  void Setup(const CutTable* cuts, std::uint32_t receiver, ns3::Mac48Address own, Framing framing);
  void SetLossRate(double rate) { loss_ = rate; }
  double loss_rate() const { return loss_; }
  void SetRandomStream(std::int64_t stream) { rng_->SetStream(stream); }

  std::uint64_t dropped_by_cut() const { return dropped_by_cut_; }
  std::uint64_t dropped_by_loss() const { return dropped_by_loss_; }

 private:
  bool DoCorrupt(ns3::Ptr<ns3::Packet> packet) override;
  void DoReset() override {}
  // The frame's source IPv4 (IPv4 or ARP); false when it has none we can read.
  bool SourceOf(ns3::Ptr<const ns3::Packet> packet, ns3::Ipv4Address* source, bool* for_other_station) const;

  const CutTable* cuts_ = nullptr;
  std::uint32_t receiver_ = 0;
  ns3::Mac48Address own_;
  Framing framing_ = Framing::kOther;
  double loss_ = 0.0;
  ns3::Ptr<ns3::UniformRandomVariable> rng_;
  std::uint64_t dropped_by_cut_ = 0, dropped_by_loss_ = 0;
};

// A point-to-point channel whose propagation delay varies per packet: Delay + uniform(-Jitter,
// +Jitter), never below zero. Packets may overtake each other, as with netem's jitter. Both the
// Delay and the Jitter attribute are read per packet, so changing them mid-run takes effect at
// once. Used for inter-site links; ns-3's own channels have a constant delay.
class JitterPointToPointChannel : public ns3::PointToPointChannel {
 public:
  static ns3::TypeId GetTypeId();
  JitterPointToPointChannel();

  bool TransmitStart(ns3::Ptr<const ns3::Packet> packet, ns3::Ptr<ns3::PointToPointNetDevice> src,
                     ns3::Time tx_time) override;
  void SetJitter(ns3::Time jitter) { jitter_ = jitter; }
  ns3::Time jitter() const { return jitter_; }
  void SetRandomStream(std::int64_t stream) { rng_->SetStream(stream); }

 private:
  ns3::Time jitter_;
  ns3::Ptr<ns3::UniformRandomVariable> rng_;
};

// A switched Ethernet LAN: a SimpleChannel that forwards a unicast frame to the one device that
// owns the destination MAC (as a learning switch does once it has learnt it) and floods
// broadcast and multicast frames to every other port. Each port's rate is its own (the
// SimpleNetDevice's DataRate: full duplex), the channel's Delay is the port-to-port latency.
// Why: on a CSMA bus every unicast reaches every station, so at 1,000 nodes each digest or sync
// page costs 1,000 device events; here it costs one.
class SwitchedLanChannel : public ns3::SimpleChannel {
 public:
  static ns3::TypeId GetTypeId();
  // Port-to-port latency; read per frame, so a change applies to the next frame.
  void SetDelay(ns3::Time delay) {
    delay_ = delay;
    SetAttribute("Delay", ns3::TimeValue(delay));
  }
  void Add(ns3::Ptr<ns3::SimpleNetDevice> device) override;
  void Send(ns3::Ptr<ns3::Packet> packet, std::uint16_t protocol, ns3::Mac48Address to, ns3::Mac48Address from,
            ns3::Ptr<ns3::SimpleNetDevice> sender) override;

 private:
  ns3::Time delay_;
  std::vector<ns3::Ptr<ns3::SimpleNetDevice>> ports_;
  std::unordered_map<std::uint64_t, ns3::Ptr<ns3::SimpleNetDevice>> by_mac_;
};

}  // namespace pbxstate::ns3sim
