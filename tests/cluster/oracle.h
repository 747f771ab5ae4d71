// The oracle: the state a cluster must hold at the end of a run, computed from the workload log
// and the membership history alone, from engine/README.md's semantics, sharing no code with the
// engine.
//
// It is exact only for workloads that keep these rules (the scenario generator does):
//  - MWI writes come only from nodes that never crash in the run, at pairwise distinct instants
//    (so "greatest (hlc, writer)" is "last in time", with no dependence on logical counters);
//  - every registration expires either well before or well after the final check;
//  - the final check happens after every fault has ended and a quiet period has passed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pbxstate/engine.h"
#include "pbxstate/inproc/cluster.h"
#include "pbxstate/types.h"

namespace pbxstate::testing {

// One local change as it was applied (accepted by its engine).
struct Op {
  enum class Type { kDevice, kMailbox, kSetRegistration, kRemoveRegistration };
  Type type = Type::kDevice;
  std::size_t node = 0;              // cluster index
  std::uint64_t incarnation = 0;     // the node's incarnation when it made the change
  WallTime wall;                     // when (every node's wall clock is the same)
  std::string key;                   // device, mailbox or AOR
  DeviceState state = DeviceState::kUnknown;
  MailboxCounts counts;
  RegistrationInfo registration;
};

// Asterisk's ast_devstate_aggregate_add over `states`, starting from INVALID, written from
// Asterisk's main/devicestate.c (state_order table plus the ringing/inuse flags).
// nullopt for an empty list.
std::optional<DeviceState> AsteriskAggregate(const std::vector<DeviceState>& states);

struct ExpectedMailbox {
  MailboxCounts counts;
  NodeId writer = kNoNode;
  WallTime wall;  // the winning write's instant: its HLC physical part
};

struct Expected {
  // device -> (node id -> contribution). Devices with no live contributor are absent.
  std::map<std::string, std::map<NodeId, DeviceState>> devices;
  std::map<std::string, ExpectedMailbox> mailboxes;
  // (aor, node id) -> registration
  std::map<std::pair<std::string, NodeId>, RegistrationInfo> registrations;
  // node id -> incarnation of every node live at the end: the version every owned entry carries.
  std::map<NodeId, std::uint64_t> live;
};

// `live_incarnations`: for each node up at the end (all connected, past every grace), its
// incarnation. `check_time`: the wall-clock instant of the check.
Expected ComputeExpected(const std::vector<Op>& log, const std::map<NodeId, std::uint64_t>& live_incarnations,
                         WallTime check_time);

// Compares every up node of `cluster` with `expected`: membership, device contributions (states
// and incarnations) and aggregates, mailbox values, live registrations, plus the point queries
// against the visitors. Returns one line per difference (at most `limit`); empty when equal.
std::vector<std::string> CompareWithExpected(const inproc::Cluster& cluster, const Expected& expected,
                                             std::size_t limit = 20);

std::string ToString(const std::optional<DeviceState>& state);

}  // namespace pbxstate::testing
