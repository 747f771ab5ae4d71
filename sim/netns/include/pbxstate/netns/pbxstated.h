// A pbxstated started on a node of a NetnsCluster and waited for: the blocking start that tests and
// benchmarks use (the runner starts its daemons without blocking, netns_runner). The daemon is the
// node's process NetnsCluster::kDaemonProcess.
#pragma once

#include <filesystem>
#include <string>

#include "pbxstate/control/replies.h"
#include "pbxstate/netns/cluster.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::netns {

struct PbxstatedLaunch {
  std::string binary;              // the pbxstated executable
  std::filesystem::path config;    // its configuration file (pbxstated -c)
  std::string socket;              // the control socket the configuration names
  std::string log_name = "pbxstated.out";  // stdout and stderr, in the node's folder
  Duration timeout = std::chrono::seconds(20);
};

// Starts the daemon and waits until it answers `hello` on its socket. Fails at once, naming its
// output and exit status, when the process exits before answering; after `timeout`, naming the
// socket. `hello` gets the answer.
Status StartPbxstated(NetnsCluster* cluster, NodeId node, const PbxstatedLaunch& launch, control::HelloReply* hello);

}  // namespace pbxstate::netns
