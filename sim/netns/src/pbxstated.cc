#include "pbxstate/netns/pbxstated.h"

#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "pbxstate/control/client.h"

namespace pbxstate::netns {

Status StartPbxstated(NetnsCluster* cluster, NodeId node, const PbxstatedLaunch& launch, control::HelloReply* hello) {
  using Clock = std::chrono::steady_clock;
  if (Status st = cluster->StartDaemon(node, {launch.binary, "-c", launch.config.string()}, launch.log_name); !st.ok()) {
    return st;
  }
  const std::string output = (cluster->NodeDir(node) / launch.log_name).string();
  const auto deadline = Clock::now() + launch.timeout;
  Status last = Status::FailedPrecondition("not tried");
  while (Clock::now() < deadline) {
    if (!cluster->DaemonRunning(node)) {
      const int ws = cluster->daemon(node).wait_status();
      const std::string how = WIFEXITED(ws) ? "exited with " + std::to_string(WEXITSTATUS(ws))
                                            : "was killed by signal " + std::to_string(WTERMSIG(ws));
      return Status::FailedPrecondition("pbxstated on node " + std::to_string(node) + " " + how +
                                        " before answering (output: " + output + ")");
    }
    std::unique_ptr<control::Client> client;
    last = control::Client::Connect(launch.socket, Duration::zero(), &client);
    if (last.ok()) last = client->CallFor(control::Request::Simple(control::Op::kHello), std::chrono::seconds(5), hello);
    if (last.ok()) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::FailedPrecondition("pbxstated on node " + std::to_string(node) + " did not answer hello on " +
                                    launch.socket + " within the start timeout: " + last.message() + " (output: " +
                                    output + ")");
}

}  // namespace pbxstate::netns
