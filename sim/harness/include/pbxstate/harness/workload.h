// A scenario's workload, expanded into the exact list of local changes a run makes.
//
// Expansion is a pure function of the scenario (its seed included): the same scenario gives the
// same list, so a run replays from its seed whatever the backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pbxstate/engine.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate::harness {

// One local change, to be made by `node` at simulated time `at`.
struct PlannedChange {
  Duration at{};
  NodeId node = kNoNode;
  EntryKind kind = EntryKind::kDevice;
  std::string key;
  DeviceState state = DeviceState::kNotInUse;  // kDevice
  MailboxCounts counts;                        // kMailbox
  // kDevice: withdraw the node's contribution (Engine::RemoveDevice) instead of setting a state.
  // kRegistration: remove instead of add/refresh; the contact `contact`, or with `contact`
  // empty every contact the node holds for the AOR. kMailbox: remove the mailbox cluster-wide
  // (Engine::RemoveMailbox) instead of writing `counts`.
  bool remove = false;
  std::string contact;                         // kRegistration: the contact added or removed
  std::string path, user_agent;                // kRegistration add
  Duration expires_in{};                       // kRegistration add: expiry relative to `at`
  ContactStatus status = ContactStatus::kReachable;
};

// Upper bound on planned changes; the loader's kMaxGeneratedChanges keeps scenarios below it.
inline constexpr std::size_t kMaxPlannedChanges = 10'000'000;

// Every change of the scenario's workload (steady generated load, bursts, explicit timed
// changes), ordered by time; equal times keep the order explicit > bursts > steady, then the
// order of generation. Steady changes and bursts are evenly spaced (scenarios/README.md).
// Generated mailbox writes never share an instant with another write to the same mailbox, so
// "last writer wins" has one answer.
std::vector<PlannedChange> ExpandWorkload(const scenario::Scenario& s);

// The node a generated key lives on (spread: even or random with the scenario's seed).
class KeyHomes {
 public:
  explicit KeyHomes(const scenario::Scenario& s);
  NodeId device(std::uint32_t i) const { return devices_[i]; }
  NodeId mailbox(std::uint32_t i) const { return mailboxes_[i]; }
  NodeId aor(std::uint32_t i) const { return aors_[i]; }

 private:
  std::vector<NodeId> devices_, mailboxes_, aors_;
};

}  // namespace pbxstate::harness
