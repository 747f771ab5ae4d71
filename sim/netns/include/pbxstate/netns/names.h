// Names and addresses of everything one run creates on the host, derived from pbxstate's pid so
// that leftovers are identifiable (and removable once that pid is gone) and two runs on one host
// never collide:
//   namespace   pbxst-<pid>-<node>
//   bridge      pbxbr<pid>                 (in the host's namespace; IFNAMSIZ: at most 15 chars)
//   veth pair   pbxv<pid>n<node> (host side, on the bridge) / eth0 in the node's namespace
//   address     198.18.0.<node>/24          (RFC 2544 benchmarking range, 198.18.0.0/15 only)
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "pbxstate/types.h"

namespace pbxstate::netns {

// A namespace cluster on a bridge (the netns backend) has at most this many nodes (one host, two
// cores: real processes).
inline constexpr std::uint32_t kMaxNodes = 16;
// A cluster whose interfaces the caller attaches (the emulation backend, NodeLink::kAttached) has
// at most this many: what one host holds is then bounded by the emulator's real-time lag, which
// every emulated run measures and judges (sim/runner emu_runner.h).
inline constexpr std::uint32_t kMaxAttachedNodes = 64;
inline constexpr const char* kNodeInterface = "eth0";
inline constexpr int kPrefixLength = 24;

class RunNames {
 public:
  explicit RunNames(pid_t pid);
  pid_t pid() const { return pid_; }
  std::string Namespace(NodeId node) const;      // pbxst-<pid>-<node>
  std::string Bridge() const;                    // pbxbr<pid>
  std::string HostVeth(NodeId node) const;       // pbxv<pid>n<node>
  std::string PeerVethTemp(NodeId node) const;   // pbxp<pid>n<node>, renamed to eth0 in the namespace
  std::string Address(NodeId node) const;        // 198.18.0.<node>
  std::string Tag() const;                       // pbxst-<pid>: in every path and command line of the run

 private:
  pid_t pid_;
};

// The pid that created `namespace_name` when it is one of ours ("pbxst-<pid>-<node>").
std::optional<pid_t> OwnerOfNamespace(const std::string& namespace_name);
// The pid that created `link_name` when it is one of our bridges or host-side veths.
std::optional<pid_t> OwnerOfLink(const std::string& link_name);

}  // namespace pbxstate::netns
