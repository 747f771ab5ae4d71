// NetnsCluster's attached interfaces (cluster.h, NodeLink::kAttached): a TAP per namespace whose
// descriptor the caller (the emulation backend) hands to ns-3.
#include <unistd.h>

#include <cassert>
#include <chrono>
#include <fstream>

#include "pbxstate/netns/cluster.h"
#include "pbxstate/netns/command.h"

namespace pbxstate::netns {

Status NetnsCluster::AttachTap(NodeId node, const TapConfig& config, int* fd) {
  assert(node >= 1 && node <= spec_.nodes);
  if (spec_.link != NodeLink::kAttached) {
    return Status::FailedPrecondition("node " + std::to_string(node) + ": a bridged namespace cluster has its veths already");
  }
  if (config.address != Address(node)) {
    return Status::InvalidArgument("node " + std::to_string(node) + ": the TAP's address " + config.address +
                                   " is not the node's " + Address(node));
  }
  std::string batch;
  if (Status st = TapBatch(config, &batch); !st.ok()) return st;
  const std::filesystem::path file = NodeDir(node) / "tap.ip";
  {
    std::ofstream f(file, std::ios::trunc);
    f << batch;
    if (!f) return Status::FailedPrecondition(file.string() + ": cannot write");
  }
  int tap = -1;
  if (Status st = OpenTap(names_.Namespace(node), config.interface, &tap); !st.ok()) return st;
  if (Status st = RunChecked({"ip", "-n", names_.Namespace(node), "-batch", file.string()}, std::chrono::seconds(10));
      !st.ok()) {
    close(tap);
    return st;
  }
  *fd = tap;
  return Status::Ok();
}

}  // namespace pbxstate::netns
