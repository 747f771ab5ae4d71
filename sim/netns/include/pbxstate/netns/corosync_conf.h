// corosync.conf for one node of a namespace cluster (corosync.conf(5)). Every node gets the
// same file but for its logging paths; corosync finds its own node id by matching its
// interface's address against the nodelist.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::netns {

enum class CorosyncTransport {
  kKnet,  // corosync's default: kronosnet, a unicast copy per peer
  kUdp,   // totem over UDP multicast (mcastaddr), one copy per frame on the LAN
};
std::string_view CorosyncTransportName(CorosyncTransport t);

struct CorosyncSpec {
  std::string cluster_name;              // 1..32 of [A-Za-z0-9_-]
  CorosyncTransport transport = CorosyncTransport::kKnet;
  std::vector<std::string> addresses;    // node i + 1's ring0 address; 1..16 of them
  std::string multicast_address = "239.255.18.1";  // kUdp only
  // Totem timings (corosync.conf(5)); a nullopt leaves the key out, so corosync's default
  // applies. token: how long without the token before a processor counts as failed (default
  // 3000 ms). token_coefficient: added to token per node beyond two (default 650 ms); 0 makes the
  // token the real timeout whatever the node count. consensus: when not given and the token is
  // exact (given, coefficient 0), 1.2 x token, corosync's own floor; otherwise left to corosync
  // (1.2 x the effective token).
  std::optional<Duration> token = std::chrono::milliseconds(1000);
  std::optional<Duration> token_coefficient = std::chrono::milliseconds(0);
  std::optional<Duration> consensus;
  Duration join = std::chrono::milliseconds(50);
};

// The file's text; refuses a spec corosync would refuse (no addresses, token under 100 ms,
// consensus under 1.2 x token, a name with other characters).
Status CorosyncConf(const CorosyncSpec& spec, std::string* text);

}  // namespace pbxstate::netns
