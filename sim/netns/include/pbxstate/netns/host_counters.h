// What a node's host dropped on its own side of the wire, from the kernel's counters inside its
// network namespace: a frame the emulated or bridged network delivered can still be lost in the
// host, between its interface and the process that reads the socket (a full UDP receive buffer,
// a full interface queue). A run records them per node (run.json "hosts") so that it can tell
// the host's loss from the network's (sim/emu/README.md, "sites-three-wan on real corosync").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pbxstate/status.h"

namespace pbxstate::netns {

// The kernel's counters of one namespace since it was made, each with its name in run.json, in
// this order:
// - /proc/net/snmp, "Udp:": `udp_in_datagrams` (delivered to a socket), `udp_in_errors` (every
//   datagram dropped on receive), `udp_rcvbuf_errors` (of those, a socket's receive buffer was
//   full: its reader behind), `udp_out_datagrams`, `udp_sndbuf_errors` (a full send buffer, or a
//   full interface queue, which the kernel reports to UDP as sent: a frame the process sent that
//   never reached the wire shows here, not in the interface's tx drops);
// - /proc/net/dev, summed over the namespace's interfaces but loopback: `iface_rx_dropped`,
//   `iface_tx_dropped` (a TAP whose reader, the emulator, did not keep up drops here).
using HostCounters = std::vector<std::pair<std::string, std::uint64_t>>;

// Parses the output of `cat /proc/net/snmp /proc/net/dev` run inside a namespace (/proc/net/dev
// begins at its "Inter-|" header line) into `out`. InvalidArgument, naming the file, its line and
// what is missing, when a table or a column is not there.
Status ParseHostCounters(std::string_view text, HostCounters* out);

}  // namespace pbxstate::netns
