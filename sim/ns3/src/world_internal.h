// What world.cc (running a world) and world_build.cc (building it) share: the private parts of
// Ns3World's sites and links, the random stream layout and small conversions. Not installed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ns3/csma-channel.h>
#include <ns3/ipv4-address.h>
#include <ns3/ipv4-interface-container.h>
#include <ns3/nstime.h>
#include <ns3/queue-size.h>

#include "pbxstate/ns3/faults.h"
#include "pbxstate/ns3/world.h"

namespace pbxstate::ns3sim {

// Random stream numbers, fixed per object so a run depends only on seed, run and config (not on
// how many random variables ns-3 created before, e.g. in an earlier world in this process).
inline constexpr std::int64_t kAppStreamBase = 0;              // 2 per node
inline constexpr std::int64_t kErrorModelStreamBase = 1 << 22;  // 1 per device
inline constexpr std::int64_t kStartStream = 2 << 22;
inline constexpr std::int64_t kLinkStreamBase = (2 << 22) + 16;  // 1 per inter-site link
inline constexpr std::int64_t kCsmaStreamBase = 3 << 22;
inline constexpr std::int64_t kInternetStreamBase = 4 << 22;
inline constexpr std::int64_t kTotemStreamBase = 5 << 22;  // 1 per node (Corosync mode)

inline constexpr std::size_t kMaxSites = 250;   // site s uses 10.(s+1).0.0/16
inline constexpr std::uint32_t kMaxNodesPerSite = 65000;

inline ns3::Time ToNs3(Duration d) { return ns3::NanoSeconds(d.count()); }

// Site s's network, 10.(s+1).0.0/16.
inline ns3::Ipv4Address SiteNetwork(std::size_t site) {
  return ns3::Ipv4Address(static_cast<std::uint32_t>((10u << 24) | ((site + 1) << 16)));
}

struct Ns3World::Site {
  std::string name;
  std::uint32_t index = 0;
  LinkParams lan;
  std::vector<NodeId> nodes;
  ns3::Ptr<ns3::Node> router;              // null in a single-site world
  ns3::Ipv4Address router_address;         // router's LAN address
  ns3::Ptr<ns3::CsmaChannel> channel;           // kCsmaBus
  ns3::Ptr<SwitchedLanChannel> switch_channel;  // kSwitched
  std::vector<ns3::Ptr<FaultErrorModel>> receivers;  // every device on the LAN, router's too
};

struct Ns3World::Link {
  std::uint32_t a = 0, b = 0;  // site indices
  ns3::Ptr<JitterPointToPointChannel> channel;
  ns3::Ptr<FaultErrorModel> at_a, at_b;  // receive error models: at_b drops what travels a -> b
};

// What one step of Ns3World::Build hands to the next.
struct Ns3World::BuildState {
  // first_hop[s][t]: the index of the first link on the fewest-hops path from site s to site t.
  std::vector<std::vector<std::size_t>> first_hop;
  ns3::QueueSize queue_size;
  std::int64_t error_model_stream = kErrorModelStreamBase;
  std::vector<ns3::Ipv4InterfaceContainer> interfaces;              // per LAN and per link
  std::vector<std::pair<ns3::Ipv4Address, ns3::Ipv4Address>> link_ips;  // (a side, b side)
  std::vector<std::pair<std::uint32_t, std::uint32_t>> link_ifaces;     // interface index at a, at b
};

}  // namespace pbxstate::ns3sim
