// pbxstated's configuration file (YAML; daemon/src/daemon_config.h is the reader) for one node of
// a namespace cluster: its control socket, its log, its CPG group and the engine settings of the
// scenario. The daemon fills in node id (corosync's, which is the node's number here) and
// incarnation itself, and always takes membership from CPG.
#pragma once

#include <cstdint>
#include <string>

#include "pbxstate/config.h"
#include "pbxstate/status.h"

namespace pbxstate::netns {

struct PbxstatedSpec {
  std::string control_socket;  // at most 107 bytes (sun_path)
  std::string log_file;        // empty: stderr
  std::string group;           // CPG group name
  std::string label;           // the engine label (<= 64 bytes)
  std::uint64_t random_seed = 0;
  EngineConfig engine;         // identity, membership and cluster_keys are ignored
  std::string key_file;        // auth.key_file (written by the caller, mode 0600); empty: none
};

// The file's text: every engine setting of the table (engine_settings.h) under its key. Refuses,
// naming the field, a setting outside its range and an engine duration that is not a whole number
// of milliseconds (the daemon's file takes *_ms integers).
Status PbxstatedConfig(const PbxstatedSpec& spec, std::string* text);

}  // namespace pbxstate::netns
