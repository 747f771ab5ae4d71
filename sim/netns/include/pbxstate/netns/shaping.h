// How a node's link gets its delay, loss and rate. tc netem does it all (ShapingMethod::kNetem);
// kernels built without sch_netem (CONFIG_NET_SCH_NETEM unset, as in some CI VMs) get the parts
// that can be done with what they have (kNftablesTbf): loss by an nftables rule dropping a
// random share of what the node receives (numgen random), the rate by a tbf root qdisc. Delay,
// jitter, duplication and reordering have no such substitute; asking for them there fails.
#pragma once

#include <filesystem>
#include <string>

#include "pbxstate/netns/netem.h"
#include "pbxstate/status.h"

namespace pbxstate::netns {

enum class ShapingMethod { kNetem, kNftablesTbf };
std::string_view ShapingMethodName(ShapingMethod m);

// Whether the running kernel accepts a netem qdisc (tried in a throwaway namespace; the answer
// is cached for the process).
bool KernelHasNetem();

// What `method` cannot do of `p` ("delay 200us", ...); empty when it can do all of it.
std::string Unsupported(const NetemParams& p, ShapingMethod method);

// Gives `dev` in namespace `ns` the link `p` by `method`, replacing what was there. With
// kNftablesTbf, what Unsupported names is ignored (the caller has decided and said so).
Status ApplyShaping(const std::string& ns, const std::string& dev, const NetemParams& p, ShapingMethod method,
                    const std::filesystem::path& script_path);

// The nft script for receive-side random loss of `loss` (0..1) on `dev` (table inet pbxstate_loss).
std::string LossScript(const std::string& dev, double loss);

}  // namespace pbxstate::netns
