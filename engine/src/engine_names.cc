// Interned names: interning device and AOR names, releasing them when their last entry goes and
// reclaiming their ids once nothing refers to them (engine/README.md, "Names").
#include <algorithm>
#include <unordered_set>

#include "engine_impl.h"
#include "pbxstate/check.h"

namespace pbxstate {
namespace {

// Whether enough ids wait to make a reclaim's scan worth it.
template <class Record>
bool ReclaimDue(const Interner<Record>& names) {
  return names.released() >= std::max(kReclaimMinReleased, names.names() / 8);
}

}  // namespace

std::uint32_t EngineImpl::InternDevice(std::string_view name) {
  if (ReclaimDue(devices_)) ReclaimNames();
  return devices_.Add(name);
}

std::uint32_t EngineImpl::InternAor(std::string_view name) {
  if (ReclaimDue(aors_)) ReclaimNames();
  return aors_.Add(name);
}

void EngineImpl::ReleaseDeviceIfEmpty(std::uint32_t id) {
  if (!devices_[id].Holds()) devices_.Release(id);
}

void EngineImpl::ReleaseAorIfEmpty(std::uint32_t id) {
  if (!aors_[id].Holds()) aors_.Release(id);
}

void EngineImpl::ReclaimNames() {
  // An origin's aor_ids may name AORs it no longer holds a registration for; compacted, they
  // name none that is released. device_ids are exact: a released device has no contributor.
  for (auto& [origin, o] : origins_) CompactAorIds(o, origin);
  // A serving session reads its items by id until it ends (resends included): their ids must
  // keep naming the same records. Mailbox sessions name mailboxes, which are never released.
  std::unordered_set<std::uint32_t> served_devices, served_aors;
  for (const auto& [key, s] : serves_) {
    if (s.origin == codec::kMailboxOrigin) continue;
    served_devices.insert(s.items.begin(), s.items.begin() + static_cast<std::ptrdiff_t>(s.device_items));
    served_aors.insert(s.items.begin() + static_cast<std::ptrdiff_t>(s.device_items), s.items.end());
  }
  // A held change is read by id at the flush. Own device contributions are never removed, so a
  // held device is never released; a held registration can be (it expired past its horizon
  // before the flush) and keeps its id until the flush has passed.
  auto held = [&](EntryKind kind, std::uint32_t id) {
    return pending_set_.contains((static_cast<std::uint64_t>(kind) << 32) | id);
  };
  devices_.Reclaim([&](std::uint32_t id) { return served_devices.contains(id) || held(EntryKind::kDevice, id); });
  aors_.Reclaim([&](std::uint32_t id) { return served_aors.contains(id) || held(EntryKind::kRegistration, id); });
  for (const auto& [origin, o] : origins_) {
    for (std::uint32_t id : o.device_ids) PBXSTATE_CHECK(FindContribution(id, origin) != nullptr);
    for (std::uint32_t id : o.aor_ids) PBXSTATE_CHECK(FindRegistration(id, origin) != nullptr);
  }
}

}  // namespace pbxstate
