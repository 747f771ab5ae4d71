// The scenario's `corosync:` section: the Corosync cluster the scenario's nodes run on. One
// definition for the backends that have Corosync: the ns-3 backend runs its Corosync model with
// it (sim/ns3/COROSYNC_MODEL.md; unless `ns3: heartbeats`), the netns and emu backends write it
// into every node's corosync.conf.
// scenarios/README.md ("corosync") is the reference for the keys.
#pragma once

#include <cstdint>

#include "pbxstate/totem/config.h"

namespace pbxstate::scenario {

// What a `crash` fault kills on a Corosync cluster.
enum class CrashKills : std::uint8_t {
  kProcess,  // the PBX process (pbxstated): corosync on the node sees it go and CPG says so at once
  kNode,     // the whole server, corosync included: the others notice by the token timeout
};

struct CorosyncSettings {
  // The keys written, Corosync 3.1.7's defaults for the rest (totem::TotemConfig).
  totem::TotemConfig totem;
  CrashKills crash = CrashKills::kProcess;
  // `ns3: model` (true): the ns-3 backend runs the engines over its Corosync model with these
  // settings. `ns3: heartbeats` (false): for netns and emu only; ns-3 runs UDP with heartbeats. A
  // written cluster.membership must agree (transport: true, heartbeat: false; the loader's rule).
  bool ns3_model = true;
  int line = 0, column = 0;  // where the section was written (1-based), for backends' refusals
};

}  // namespace pbxstate::scenario
