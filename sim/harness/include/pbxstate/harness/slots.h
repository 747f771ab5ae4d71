// The units a cluster's view is made of, as the harness compares them: one device's
// contribution from one node, one node's entry for one contact of one AOR, one mailbox. Values are
// compared by a hash of what a person would see and of the version that carries it (state and
// the owner's incarnation; contact, expiry, status and incarnation; counts, writer and the
// write's HLC), so the oracle and a node's view meet without sharing any engine code, and an
// entry of an ended incarnation or a mailbox value from another write never passes for the
// right one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pbxstate/engine.h"

namespace pbxstate::harness {

// The simulated epoch (pbxstate/types.h: kSimEpoch) in nanoseconds, the unit the oracle counts in.
inline constexpr std::int64_t kSimEpochNs =
    std::chrono::duration_cast<std::chrono::nanoseconds>(kSimEpoch.time_since_epoch()).count();

using SlotId = std::uint32_t;
using ValueHash = std::uint64_t;  // 0: nothing held
inline constexpr ValueHash kAbsent = 0;

struct SlotKey {
  EntryKind kind;
  std::string key;
  NodeId origin;  // the owner; kNoNode for a mailbox
  friend bool operator==(const SlotKey&, const SlotKey&) = default;
};

class SlotTable {
 public:
  SlotId Intern(EntryKind kind, std::string_view key, NodeId origin);
  const SlotKey& operator[](SlotId id) const { return slots_[id]; }
  std::size_t size() const { return slots_.size(); }

 private:
  std::vector<SlotKey> slots_;
  std::unordered_map<std::string, SlotId> ids_;
};

// `incarnation`: the owner's incarnation the entry belongs to.
ValueHash DeviceValue(DeviceState state, std::uint64_t incarnation);
// The slot key of contact `contact` of `aor` (a registration slot is (AOR, contact, owner)):
// "aor <contact>", readable in a report.
std::string RegistrationSlotKey(std::string_view aor, std::string_view contact);
// `expires_rel_ns`: expiry relative to kSimEpochNs, so a simulated run needs no real clock.
ValueHash RegistrationValue(std::string_view contact, std::string_view path, std::string_view user_agent,
                            std::int64_t expires_rel_ns, ContactStatus status, std::uint64_t incarnation);
ValueHash MailboxValueHash(const MailboxValue& value);

}  // namespace pbxstate::harness
