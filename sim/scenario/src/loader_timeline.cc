// Checks across sections, in time: every list of timed things in time order, each fault
// possible given the faults before it (a heal needs a cut, a restart a crash, a restore a
// degrade), and no change or registration storm on a node while it is crashed.
#include <algorithm>

#include "loader_impl.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario::detail {
namespace {

std::string TargetName(const Topology& t, const NetworkTarget& target) {
  if (target.kind == NetworkTarget::Kind::kLink) {
    return "the link " + t.sites[target.a].name + "-" + t.sites[target.b].name;
  }
  if (!t.named_sites) return "the LAN";
  return "the LAN of site " + t.sites[target.site].name;
}

}  // namespace

void Loader::CheckTimeOrder(const std::vector<Field>& at_fields, std::string_view list) {
  Duration last{};
  std::size_t last_index = 0;
  for (std::size_t i = 0; i < at_fields.size(); ++i) {
    auto at = ParseDuration(at_fields[i].node.Scalar());
    if (i > 0 && *at < last) {
      d_.Error(at_fields[i].mark, at_fields[i].path,
               "expected " + std::string(list) + " in time order: " + FormatDuration(*at) +
                   " is before " + std::string(list) + "[" + std::to_string(last_index) +
                   "] at " + FormatDuration(last));
    } else {
      last = *at;
      last_index = i;
    }
  }
}

void Loader::CheckTimeline() {
  CheckTimeOrder(fault_at_fields_, "faults");
  CheckTimeOrder(burst_at_fields_, "workload.bursts");
  CheckTimeOrder(change_at_fields_, "workload.changes");
  if (d_.count() != 0) return;
  CheckCrashedNodes(CheckFaultSequence());
}

std::vector<Loader::Down> Loader::CheckFaultSequence() {
  std::vector<Down> downs;
  std::map<NodeId, std::size_t> crashed;  // node -> index into downs
  bool cut = false;
  std::vector<NetworkTarget> degraded;
  for (std::size_t i = 0; i < s_.faults.size(); ++i) {
    const Fault& fault = s_.faults[i];
    const Field& f = fault_fields_[i];
    const std::string when = " at " + FormatDuration(fault.at);
    if (std::holds_alternative<Partition>(fault.what) ||
        std::holds_alternative<Isolate>(fault.what)) {
      cut = true;
    } else if (std::holds_alternative<Heal>(fault.what)) {
      if (!cut) {
        d_.Error(f.mark, f.path,
                 "heal" + when +
                     " without a partition in force; expected an earlier partition or isolate");
      }
      cut = false;
    } else if (const auto* crash = std::get_if<Crash>(&fault.what)) {
      if (auto it = crashed.find(crash->node); it != crashed.end()) {
        d_.Error(f.mark, f.path,
                 "node " + std::to_string(crash->node) + " is already crashed" + when +
                     " (by faults[" + std::to_string(downs[it->second].fault) +
                     "]); expected a running node");
      } else {
        crashed[crash->node] = downs.size();
        downs.push_back({crash->node, fault.at, Duration::max(), i});
      }
    } else if (const auto* restart = std::get_if<Restart>(&fault.what)) {
      if (auto it = crashed.find(restart->node); it == crashed.end()) {
        d_.Error(f.mark, f.path,
                 "node " + std::to_string(restart->node) + " is not crashed" + when +
                     "; expected a node crashed by an earlier fault");
      } else {
        downs[it->second].until = fault.at;
        crashed.erase(it);
      }
    } else if (const auto* degrade = std::get_if<Degrade>(&fault.what)) {
      if (std::find(degraded.begin(), degraded.end(), degrade->target) == degraded.end()) {
        degraded.push_back(degrade->target);
      }
    } else if (const auto* restore = std::get_if<Restore>(&fault.what)) {
      auto it = std::find(degraded.begin(), degraded.end(), restore->target);
      if (it == degraded.end()) {
        d_.Error(f.mark, f.path,
                 TargetName(s_.topology, restore->target) + " is not degraded" + when +
                     "; expected an earlier degrade of it");
      } else {
        degraded.erase(it);
      }
    }
  }
  return downs;
}

void Loader::CheckCrashedNodes(const std::vector<Down>& downs) {
  // Faults at an instant come before changes at the same instant, so a change at a crash's
  // time is refused and a change at a restart's time is made by the new incarnation.
  auto down_at = [&](NodeId node, Duration at) -> const Down* {
    for (const Down& d : downs) {
      if (d.node == node && d.from <= at && at < d.until) return &d;
    }
    return nullptr;
  };
  for (std::size_t i = 0; i < s_.workload.changes.size(); ++i) {
    const TimedChange& c = s_.workload.changes[i];
    if (const Down* d = down_at(c.node, c.at)) {
      const Field& f = change_node_fields_[i];
      d_.Error(f.mark, f.path,
               "node " + std::to_string(c.node) + " is crashed at " + FormatDuration(c.at) +
                   " (by faults[" + std::to_string(d->fault) +
                   "]); expected a running node to make the change");
    }
  }
  for (std::size_t i = 0; i < s_.workload.bursts.size(); ++i) {
    const Burst& b = s_.workload.bursts[i];
    const auto* reg = std::get_if<RegistrationStorm>(&b.what);
    if (reg == nullptr) continue;
    if (const Down* d = down_at(reg->node, b.at)) {
      const Field& f = burst_node_fields_[i];
      d_.Error(f.mark, f.path,
               "node " + std::to_string(reg->node) + " is crashed at " + FormatDuration(b.at) +
                   " (by faults[" + std::to_string(d->fault) +
                   "]); expected a running node to take the registrations");
    }
  }
}

}  // namespace pbxstate::scenario::detail
