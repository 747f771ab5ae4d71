// corosync.conf for one node of a namespace cluster (corosync.conf(5)). Every node gets the
// same file but for its logging paths; corosync finds its own node id by matching its
// interface's address against the nodelist.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pbxstate/status.h"
#include "pbxstate/totem/config.h"
#include "pbxstate/types.h"

namespace pbxstate::netns {

// corosync's transport: knet (its default: kronosnet, a unicast copy per peer) or udp (totem over
// UDP multicast, mcastaddr, one copy per frame on the LAN). The same enum as the model's.
using CorosyncTransport = totem::Transport;
inline std::string_view CorosyncTransportName(CorosyncTransport t) { return totem::TransportName(t); }

struct CorosyncSpec {
  std::string cluster_name;              // 1..32 of [A-Za-z0-9_-]
  std::vector<std::string> addresses;    // node i + 1's ring0 address; 1..kMaxAttachedNodes of them
  std::string multicast_address = "239.255.18.1";  // udp only
  // The totem section: transport, token, token_coefficient, consensus (written only when set,
  // so corosync derives 1.2 x the effective token itself), join, merge, send_join, max_messages,
  // window_size. The scenario's `corosync:` section, Corosync's defaults without one.
  totem::TotemConfig totem;
  // corosync.conf(5) system.sched_rr: true (Corosync's default) lets corosync run itself at
  // SCHED_RR with the highest priority; false writes `sched_rr: no`, and corosync runs at ordinary
  // scheduling with the lowest nice value (system.priority's default, max).
  bool sched_rr = true;
};

// The file's text; refuses a spec corosync would refuse (no addresses, a name with other
// characters, totem settings TotemConfig::Validate refuses for this many nodes).
Status CorosyncConf(const CorosyncSpec& spec, std::string* text);

}  // namespace pbxstate::netns
