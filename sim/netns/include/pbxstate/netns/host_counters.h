// What a node's host dropped on its own side of the wire, from the kernel's counters inside its
// network namespace: a frame the emulated or bridged network delivered can still be lost in the
// host, between its interface and the process that reads the socket (a full UDP receive buffer,
// a full interface queue). A run records them per node (run.json "hosts") so that it can tell
// the host's loss from the network's (sim/emu/README.md, "sites-three-wan on real corosync").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pbxstate/status.h"

namespace pbxstate::netns {

// The kernel's counters of one namespace since it was made.
struct HostCounters {
  // /proc/net/snmp, "Udp:": datagrams delivered to a socket, and the ones that were not:
  // InErrors counts every datagram dropped on receive (RcvbufErrors included: the socket's
  // receive buffer was full, its reader behind).
  std::uint64_t udp_in_datagrams = 0;
  std::uint64_t udp_in_errors = 0;
  std::uint64_t udp_rcvbuf_errors = 0;
  // Datagrams sent, and the ones the host dropped on the way out: SndbufErrors counts a full
  // send buffer and (the kernel reports ENOBUFS as sent) a full interface queue, so a frame the
  // process sent that never reached the wire shows here, not in the interface's tx drops.
  std::uint64_t udp_out_datagrams = 0;
  std::uint64_t udp_sndbuf_errors = 0;
  // /proc/net/dev, summed over the namespace's interfaces but loopback: frames dropped on the way
  // in (rx) and out (tx; a TAP whose reader, the emulator, did not keep up drops here).
  std::uint64_t iface_rx_dropped = 0;
  std::uint64_t iface_tx_dropped = 0;
};

// Parses the output of `cat /proc/net/snmp /proc/net/dev` run inside a namespace (/proc/net/dev
// begins at its "Inter-|" header line) into `out`. InvalidArgument, naming the file, its line and
// what is missing, when a table or a column is not there.
Status ParseHostCounters(std::string_view text, HostCounters* out);

}  // namespace pbxstate::netns
