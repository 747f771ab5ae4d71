// A scenario's network on the in-process cluster's links (transports/inproc). inproc has a
// directed link per pair of nodes and no shared medium, so every path becomes that pair's
// LinkFaults: within a site its LAN; between sites the sender's LAN, the link and the
// receiver's LAN in a row (delays add up; a frame survives each part's loss independently),
// with the link's jitter (delay +- jitter, uniform), the narrowest part's bandwidth, and a frame
// duplicated (held back) when any part duplicates (reorders) it. Each pair
// has that bandwidth to itself: a LAN is not one shared medium as in ns-3. Degradations replace a
// target's parameters until restored, as in scenarios/README.md.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "pbxstate/inproc/cluster.h"
#include "pbxstate/scenario/scenario.h"
#include "pbxstate/status.h"

namespace pbxstate::runner {

class InprocNetwork {
 public:
  explicit InprocNetwork(const scenario::Topology& topology);

  // The faults of a frame from a node of site `from` to a node of site `to` (may be equal),
  // under the parameters in force now.
  inproc::LinkFaults Path(std::size_t from, std::size_t to) const;

  // The target's parameters become the degrade's (the rest configured) / configured again.
  void Degrade(const scenario::Degrade& d);
  void Restore(const scenario::NetworkTarget& target);

  // Sets the links of `cluster` (node i is NodeId i + 1) to the paths in force: every link when
  // `target` is unset, else only the links whose path crosses the target.
  Status Apply(inproc::Cluster& cluster, const std::optional<scenario::NetworkTarget>& target = std::nullopt) const;

 private:
  const scenario::Topology& topology_;
  std::vector<scenario::LanParams> lans_;     // by site, in force now
  std::vector<scenario::LinkParams> links_;   // parallel to topology_.links, in force now
};

}  // namespace pbxstate::runner
