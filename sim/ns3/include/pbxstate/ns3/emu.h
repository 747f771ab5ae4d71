// Emulation: real hosts on an Ns3World's network, with ns-3 running in real time.
//
// The world is built exactly as for a simulated run: the same sites, addresses, MACs, switch,
// channels, receive error models, routers, routes and random streams (Ns3World::Create).
// EmulatedHosts then makes each cluster node the network card of a real host (a network namespace
// running real processes, sim/netns):
//   - the node's application (its engine) is held: its start time is put beyond any run, so it
//     never starts and never sends;
//   - the node's IP stack stops hearing its LAN device (it holds the host's address and would
//     answer the host's ARP requests and send ICMP errors for the host's datagrams);
//   - an FdNetDevice on the node reads and writes the host's Ethernet frames on a descriptor (a
//     TAP device in the host's namespace, IFF_TAP | IFF_NO_PI), and a port joins it to the LAN
//     device: frames pass unchanged both ways, same MACs, same IP addresses. The host's TAP takes
//     the LAN device's MAC (HostInterface), so the switch delivers unicasts to it, the receive
//     error models read its frames' source addresses (cuts, loss), the channels delay and pace
//     them, the routers forward them between sites, and the inter-site links delay, jitter and
//     lose them: every fault of the world acts on the host's real traffic, through the world's
//     own fault code.
//   - Isolate(node) sets the node's IPv4 interface down; the port reads that flag and passes
//     nothing either way while it is down.
// Why a pass-through port and not ns-3's BridgeNetDevice: a bridge has a MAC of its own and drops
// frames addressed to its port's MAC; here the port's MAC is the host's, and a two-port
// pass-through needs no learning.
//
// Real time: SelectSimulator(kRealtime) before the world is created makes ns-3 pace its events on
// the wall clock (RealtimeSimulatorImpl in best-effort mode: when it falls behind it runs late
// rather than aborting; RealtimeLagProbe measures how late) and enables IPv4 header checksums
// (the routers rewrite the hosts' IP headers; a kernel drops a header whose checksum is zero).
//
// Threading: the FdNetDevices' reader threads hand frames to the simulator with
// ScheduleWithContext (thread-safe in the real-time implementation); everything else here runs in
// the thread that runs the simulation (or before it runs), except RealtimeLagProbe::stats().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <ns3/fd-net-device.h>
#include <ns3/ptr.h>

#include "pbxstate/ns3/world.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::ns3sim {

enum class SimulatorKind : std::uint8_t {
  kDiscreteEvent,  // ns-3's default: simulated time jumps from event to event (deterministic)
  kRealtime,       // events run at their time on the wall clock (emulation)
};

// Selects the simulator of the next world (ns-3's global values SimulatorImplementationType and
// ChecksumEnabled). Call it while no world exists; the choice stays until the next call.
void SelectSimulator(SimulatorKind kind);

// What the host's interface must be configured with to be the node's network card.
struct HostInterface {
  std::string mac;            // "02:06:00:00:00:01": the ns-3 LAN device's MAC
  std::string address;        // "10.1.0.2"
  int prefix_length = 16;     // the site's network (10.(site+1).0.0/16)
  std::string gateway;        // the site's router; empty in a single-site world
  std::uint16_t mtu = 1500;
};

// What the ports carried, summed over every host.
struct EmuCounters {
  std::uint64_t frames_from_hosts = 0;   // read from a host's descriptor, put on the LAN
  std::uint64_t frames_to_hosts = 0;     // taken from the LAN, written to a host's descriptor
  std::uint64_t dropped_isolated = 0;    // either way while the node was isolated
  std::uint64_t dropped_send = 0;        // the LAN device's queue or the descriptor refused it
  // Packets the world's device queues dropped on the way between two hosts (full queues; every
  // device of the world but the hosts' own descriptors): a WAN link's (point-to-point devices,
  // either end) or a LAN device's (a node's or a site router's). Only these two, the loss and
  // cut error models and the hosts' own sockets drop traffic between hosts.
  std::uint64_t dropped_wan_queue = 0;
  std::uint64_t dropped_lan_queue = 0;
};

// Real hosts in place of a world's engines (see the header comment).
class EmulatedHosts {
 public:
  // `world` must have just been created (its simulation never run) and must outlive this object.
  // Holds every node's application and mutes every node's IP stack on its LAN device.
  static Status Create(Ns3World* world, std::unique_ptr<EmulatedHosts>* out);
  ~EmulatedHosts();
  EmulatedHosts(const EmulatedHosts&) = delete;
  EmulatedHosts& operator=(const EmulatedHosts&) = delete;

  // The interface node `node`'s host must have; InvalidArgument for an unknown node.
  Status Interface(NodeId node, HostInterface* out) const;
  // Gives node `node` an FdNetDevice on `fd` (whole Ethernet frames per read and write, no
  // packet-information header) joined to its LAN device. The device owns `fd` from then on
  // (closed when the world is destroyed). Before the simulation runs; once per node.
  Status Attach(NodeId node, int fd);
  // In the simulation's thread, or once it has stopped.
  EmuCounters counters() const;
  // What each host's port carried and refused, index node - 1 (the world's queue drops, which
  // are not a port's, are 0 there). In the simulation's thread, or once it has stopped.
  std::vector<EmuCounters> node_counters() const;

 private:
  class Port;
  class QueueDrops;
  explicit EmulatedHosts(Ns3World* world);

  Ns3World* world_;
  std::vector<ns3::Ptr<Port>> ports_;  // index = node id - 1; null until attached
  ns3::Ptr<QueueDrops> queue_drops_;
};

// A probe later than this is counted in LagStats::over_1ms and handed to RealtimeLagProbe::OnLate
// (the lag witness attributes only these).
inline constexpr Duration kLateProbe = std::chrono::milliseconds(1);

// How far the real-time simulator ran behind the wall clock, from probe events.
struct LagStats {
  Duration interval{};         // between probes
  std::uint64_t probes = 0;
  Duration worst{};            // the latest a probe ran after its time
  Duration worst_at{};         // simulated (= wall-clock) time of that probe
  Duration p50{}, p99{};       // over every probe (10 us resolution; 100 ms and above pooled)
  std::uint64_t over_1ms = 0;  // probes that ran more than 1 ms late
};

// A periodic event in a real-time simulation that measures, each time it runs, how late it runs:
// the wall clock (RealtimeSimulatorImpl::RealtimeNow) minus its simulated time. ns-3 runs events
// in time order, so an event is late exactly when the simulator is behind; a probe every
// `interval` sees every lag that lasts longer than that.
class RealtimeLagProbe {
 public:
  explicit RealtimeLagProbe(Duration interval);
  // Schedules the first probe `interval` from now. In the simulation's thread or before it runs;
  // the simulator must be the real-time one.
  Status Start();
  // A copy of the figures so far; callable from any thread.
  LagStats stats() const;
  // Forgets the figures so far (probing goes on); callable from any thread.
  void Reset();
  // `hook` runs in the simulation's thread for each probe more than 1 ms late, with the probe's
  // simulated time and its lag (the emulator's lag witness notes it); it must not block. Before Start.
  void OnLate(std::function<void(Duration due, Duration lag)> hook) { on_late_ = std::move(hook); }

 private:
  void Probe();

  static constexpr std::size_t kBuckets = 10'000;  // 10 us each: 0 .. 100 ms
  const Duration interval_;
  mutable std::mutex mu_;
  LagStats stats_;
  std::vector<std::uint64_t> histogram_;
  std::function<void(Duration, Duration)> on_late_;
};

}  // namespace pbxstate::ns3sim
