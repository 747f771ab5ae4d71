#include "fault_timeline.h"

#include <algorithm>
#include <set>

namespace pbxstate::swarm::detail {

std::vector<scenario::Fault> KeepTimeline(std::vector<scenario::Fault> faults,
                                          const std::function<bool(scenario::Partition&)>& keep_partition) {
  std::vector<scenario::Fault> out;
  bool cut = false;
  std::set<NodeId> crashed;
  std::vector<scenario::NetworkTarget> degraded;
  for (scenario::Fault& f : faults) {
    bool keep = true;
    if (auto* p = std::get_if<scenario::Partition>(&f.what)) {
      keep = keep_partition(*p);
      cut = cut || keep;
    } else if (std::holds_alternative<scenario::Isolate>(f.what)) {
      cut = true;
    } else if (std::holds_alternative<scenario::Heal>(f.what)) {
      keep = cut;
      cut = false;
    } else if (const auto* c = std::get_if<scenario::Crash>(&f.what)) {
      keep = crashed.insert(c->node).second;
    } else if (const auto* r = std::get_if<scenario::Restart>(&f.what)) {
      keep = crashed.erase(r->node) == 1;
    } else if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
      if (std::find(degraded.begin(), degraded.end(), d->target) == degraded.end()) degraded.push_back(d->target);
    } else if (const auto* re = std::get_if<scenario::Restore>(&f.what)) {
      const auto it = std::find(degraded.begin(), degraded.end(), re->target);
      keep = it != degraded.end();
      if (keep) degraded.erase(it);
    }
    if (keep) out.push_back(std::move(f));
  }
  return out;
}

}  // namespace pbxstate::swarm::detail
