// A TAP device inside a network namespace, opened by this process, for the emulation backend: the
// descriptor carries the namespace's Ethernet frames, one whole frame per read and per write
// (IFF_TAP | IFF_NO_PI), and ns-3 reads and writes them (FdNetDevice, sim/ns3 emu.h).
//
// No helper program and no setuid: a TAP belongs to the network namespace its /dev/net/tun was
// opened in, so a short-lived thread enters the namespace (setns), opens /dev/net/tun there, makes
// the device (TUNSETIFF) and leaves; the descriptor works from any thread. The device is not
// persistent: it exists while the descriptor is open, so closing it, or this process dying, removes
// it. The descriptor is close-on-exec (no child process holds it).
#pragma once

#include <string>

#include "pbxstate/status.h"

namespace pbxstate::netns {

// What the namespace's side of the TAP looks like once configured.
struct TapConfig {
  std::string interface = "eth0";
  std::string mac;          // "00:00:00:00:00:01"
  std::string address;      // "10.1.0.2"
  int prefix_length = 24;
  std::string gateway;      // default route; empty: none (one LAN)
  int mtu = 1500;
};

// Opens a TAP named `interface` in namespace `namespace_name` (under /run/netns) and turns IPv6
// off in that namespace (the emulated networks are IPv4: no router solicitations, no duplicate
// address detection traffic). On success `*fd` is the TAP's descriptor, owned by the caller.
Status OpenTap(const std::string& namespace_name, const std::string& interface, int* fd);

// The `ip -batch` commands that give the namespace's TAP its MAC, MTU, address, routes (the
// default route, and 224.0.0.0/4 for corosync's multicast transport) and bring it and loopback
// up. Pure; InvalidArgument when a field is malformed.
Status TapBatch(const TapConfig& config, std::string* batch);

}  // namespace pbxstate::netns
