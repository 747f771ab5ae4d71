// tc netem on one interface: what a node's outgoing frames go through. Delay, jitter, loss,
// duplication, reordering and a rate, each as netem applies it (tc-netem(8)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::netns {

struct NetemParams {
  Duration delay{};             // added to every frame
  Duration jitter{};            // +- uniformly (netem's default distribution is normal; we ask uniform)
  double loss = 0;              // fraction 0..1 of frames dropped
  double duplicate = 0;         // fraction 0..1 of frames sent twice
  double reorder = 0;           // fraction 0..1 of frames sent at once (ahead of delayed ones); needs delay
  std::uint64_t rate_bps = 0;   // 0: no rate limit
  // netem's queue, in packets: frames beyond it are dropped (tail drop).
  std::uint32_t limit_packets = 10000;

  friend bool operator==(const NetemParams&, const NetemParams&) = default;
};

// The arguments after "tc qdisc replace dev DEV root": "netem limit N delay ...". Refuses values
// netem cannot take (fractions outside 0..1, jitter larger than delay, reorder without delay).
Status NetemArguments(const NetemParams& p, std::vector<std::string>* args);

// Sets `dev`'s root qdisc in namespace `ns` to netem with `p` (replacing what was there).
Status ApplyNetem(const std::string& ns, const std::string& dev, const NetemParams& p);

// The root qdisc line of `dev` in `ns` as tc shows it ("qdisc netem 8001: root refcnt 2 limit ...").
Status ShowQdisc(const std::string& ns, const std::string& dev, std::string* line);

}  // namespace pbxstate::netns
