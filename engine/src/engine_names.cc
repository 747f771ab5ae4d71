// Interned names: interning device, contact-entry and AOR names, releasing them when their last entry goes and
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

std::uint32_t EngineImpl::InternMailbox(std::string_view name) {
  if (ReclaimDue(mailboxes_)) ReclaimNames();
  return mailboxes_.Add(name);
}

std::uint32_t EngineImpl::InternContact(std::string_view entry_name, std::string_view aor) {
  if (ReclaimDue(contacts_) || ReclaimDue(aor_index_)) ReclaimNames();
  const std::uint32_t id = contacts_.Add(entry_name);
  std::optional<std::uint32_t> index = aor_index_.Find(aor);
  if (!index) index = aor_index_.Add(aor);
  aor_index_[*index].contact_ids.push_back(id);
  return id;
}

void EngineImpl::ReleaseDeviceIfEmpty(std::uint32_t id) {
  if (!devices_[id].Holds()) devices_.Release(id);
}

void EngineImpl::ReleaseContactIfEmpty(std::uint32_t id) {
  if (contacts_[id].Holds()) return;
  const std::optional<std::uint32_t> index = aor_index_.Find(contacts_[id].aor());
  PBXSTATE_CHECK(index);
  std::vector<std::uint32_t>& ids = aor_index_[*index].contact_ids;
  auto it = std::find(ids.begin(), ids.end(), id);
  PBXSTATE_CHECK(it != ids.end());
  ids.erase(it);  // the others keep their order
  contacts_.Release(id);
  if (ids.empty()) aor_index_.Release(*index);
}

void EngineImpl::ReleaseMailboxTombstone(std::uint32_t id) {
  MailboxRecord& m = mailboxes_[id];
  PBXSTATE_CHECK(m.removed && m.value);
  mailbox_index_.Remove(id, MailboxIndex::Position(m.name));  // its hash was 0: no hash changes
  --mailbox_tombstones_;
  m.value.reset();
  m.removed = false;
  StoreChanged();
  mailboxes_.Release(id);
}

void EngineImpl::ReclaimNames() {
  // An origin's device_ids and contact_ids may name entries it no longer holds; compacted, they
  // name none that is released.
  for (auto& [origin, o] : origins_) {
    CompactDeviceIds(o, origin);
    CompactContactIds(o, origin);
  }
  // A serving session reads its items by id until it ends (resends included): their ids must
  // keep naming the same records.
  std::unordered_set<std::uint32_t> served_devices, served_contacts, served_mailboxes;
  for (const auto& [key, s] : serves_) {
    if (s.origin == codec::kMailboxOrigin) {
      served_mailboxes.insert(s.items.begin(), s.items.end());
      continue;
    }
    served_devices.insert(s.items.begin(), s.items.begin() + static_cast<std::ptrdiff_t>(s.device_items));
    served_contacts.insert(s.items.begin() + static_cast<std::ptrdiff_t>(s.device_items), s.items.end());
  }
  // A held change is read by id at the flush. A held device, mailbox or registration can be
  // released (a removal whose tombstone's horizon, or a registration that expired past its
  // horizon, came before the flush) and keeps its id until the flush has passed.
  auto held = [&](EntryKind kind, std::uint32_t id) { return pending_.Contains(kind, id); };
  devices_.Reclaim([&](std::uint32_t id) { return served_devices.contains(id) || held(EntryKind::kDevice, id); });
  contacts_.Reclaim([&](std::uint32_t id) { return served_contacts.contains(id) || held(EntryKind::kRegistration, id); });
  mailboxes_.Reclaim([&](std::uint32_t id) { return served_mailboxes.contains(id) || held(EntryKind::kMailbox, id); });
  // Nothing keeps an AOR index's id: queries find it by name.
  aor_index_.Reclaim([](std::uint32_t) { return false; });
  std::size_t indexed = 0;
  for (std::uint32_t index = 0; index < aor_index_.size(); ++index) indexed += aor_index_[index].contact_ids.size();
  PBXSTATE_CHECK_EQ(indexed, contacts_.names());
  for (const auto& [origin, o] : origins_) {
    for (std::uint32_t id : o.device_ids) PBXSTATE_CHECK(FindContribution(id, origin) != nullptr);
    for (std::uint32_t id : o.contact_ids) PBXSTATE_CHECK(FindRegistration(id, origin) != nullptr);
  }
  // Every mailbox name held is a value or a tombstone, and the repair's index holds exactly those.
  PBXSTATE_CHECK_EQ(stats_.mailbox_entries + mailbox_tombstones_, mailboxes_.names());
  PBXSTATE_CHECK_EQ(std::uint64_t{mailbox_index_.Stats(0, 0).count}, std::uint64_t{mailboxes_.names()});
}

}  // namespace pbxstate
