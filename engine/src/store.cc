// The entry store: versions, merge rules, per-origin hashes, listener events and expiry.
#include <algorithm>

#include "engine_impl.h"
#include "hash.h"
#include "pbxstate/check.h"

namespace pbxstate {
namespace {

// A device contribution's digest hash, Hasher().Add(0).Add(name).Add(node).Add(state): the
// name's part (DeviceNameHash) is hashed once per record applied, for the old and the new state.
Hasher DeviceNameHash(std::string_view name) { return Hasher().Add(0).Add(name); }
std::uint64_t DeviceHash(Hasher name_hash, NodeId node, DeviceState state) {
  return name_hash.Add(node).Add(static_cast<std::uint64_t>(state)).value();
}

std::uint64_t RegistrationHash(std::string_view name, const Registration& r) {
  if (r.dead) return 0;
  return Hasher()
      .Add(2)
      .Add(name)
      .Add(r.node)
      .Add(static_cast<std::uint64_t>(r.expires_ns))
      .Add(static_cast<std::uint64_t>(r.status))
      .Add(r.rtt_us)
      .Add(r.path)
      .Add(r.user_agent)
      .value();
}

std::uint64_t MailboxHash(std::string_view name, const MailboxValue& v) {
  return Hasher()
      .Add(1)
      .Add(name)
      .Add(v.counts.new_messages)
      .Add(v.counts.old_messages)
      .Add(v.counts.urgent_messages)
      .Add(static_cast<std::uint64_t>(v.hlc.physical_ns))
      .Add(v.hlc.logical)
      .Add(v.writer)
      .value();
}

// A mailbox's entry hash, in the set's hash and the repair index: 0 for a tombstone, so the
// hashes are those of the view (Engine::Digest compares views), a tombstone's going changes no
// hash, and a node holding the old value still differs from one holding the tombstone.
std::uint64_t MailboxEntryHash(const MailboxRecord& m) {
  return m.Live() ? MailboxHash(m.name, *m.value) : 0;
}

std::optional<DeviceState> Aggregate(const std::vector<Contribution>& cs) {
  DeviceStateAggregate agg;
  bool any = false;
  for (const Contribution& c : cs) {
    if (c.dead) continue;
    agg.Add(c.state);
    any = true;
  }
  if (!any) return std::nullopt;
  return agg.Result();
}

template <class T>
auto FindByNode(std::vector<T>& v, NodeId node) {
  return std::lower_bound(v.begin(), v.end(), node, [](const T& x, NodeId n) { return x.node < n; });
}

RegistrationInfo InfoOf(const ContactRecord& c, const Registration& r) {
  return RegistrationInfo{std::string(c.contact()), WallTime(Duration(r.expires_ns)), r.status, r.rtt_us, r.path,
                          r.user_agent};
}

}  // namespace

std::string ContactEntryName(std::string_view aor, std::string_view contact) {
  PBXSTATE_CHECK_LE(aor.size(), codec::kMaxKeyBytes);
  std::string name;
  name.reserve(kContactNamePrefixBytes + aor.size() + contact.size());
  name.push_back(static_cast<char>(aor.size() & 0xFF));
  name.push_back(static_cast<char>(aor.size() >> 8));
  name.append(aor);
  name.append(contact);
  return name;
}

std::vector<std::uint32_t> EngineImpl::LiveContactsOf(std::string_view aor, NodeId node) const {
  std::vector<std::uint32_t> out;
  const std::optional<std::uint32_t> a = aor_index_.Find(aor);
  if (!a) return out;
  // Live by the clock, even before the expiry timer has marked an expired one dead.
  const std::int64_t now_ns = env_->WallNow().time_since_epoch().count();
  for (std::uint32_t id : aor_index_[*a].contact_ids) {
    const Registration* r = FindRegistration(id, node);
    if (r != nullptr && !r->dead && r->expires_ns > now_ns) out.push_back(id);
  }
  std::sort(out.begin(), out.end(), [&](std::uint32_t x, std::uint32_t y) {
    return contacts_[x].contact() < contacts_[y].contact();
  });
  return out;
}

OriginState& EngineImpl::OriginFor(NodeId origin) {
  auto [it, inserted] = origins_.try_emplace(origin, config_.max_received_ranges);
  if (inserted) {
    auto k = known_incarnation_.find(origin);
    PBXSTATE_CHECK(k != known_incarnation_.end());  // NoteIncarnation comes first
    it->second.incarnation = k->second;
    StoreChanged();
  }
  return it->second;
}

bool EngineImpl::NoteIncarnation(NodeId origin, std::uint64_t incarnation) {
  if (origin == config_.node_id) return incarnation == config_.incarnation;
  auto it = known_incarnation_.find(origin);
  if (it == known_incarnation_.end()) {
    if (known_incarnation_.size() >= config_.max_nodes) {  // this node counts too
      Drop(DropReason::kTooManyNodes);
      return false;
    }
    known_incarnation_.emplace(origin, incarnation);
    return true;
  }
  if (incarnation < it->second) {
    Drop(DropReason::kStaleIncarnation);
    return false;
  }
  if (incarnation > it->second) {
    // The node restarted: whatever its old incarnation owned is void, and it lost its memory,
    // so sessions with it are dead and it needs to hear what we hold.
    it->second = incarnation;
    DropOrigin(origin, ChangeCause::kRestart);
    ForgetSessionsWith(origin);
    // It numbers its sessions from 1 again: none of its new ones is closed yet.
    if (auto p = peers_.find(origin); p != peers_.end()) p->second.last_served_session = 0;
    if (IsLive(origin) && (config_.membership == MembershipSource::kTransport || AmongJoinHelpers(origin))) {
      join_digest_targets_.insert(origin);
      if (!join_digest_due_) join_digest_due_ = env_->Now() + config_.join_digest_holdoff;
    }
  }
  return true;
}

const Contribution* EngineImpl::FindContribution(std::uint32_t device, NodeId node) const {
  const auto& cs = devices_[device].contributions;
  auto it = std::lower_bound(cs.begin(), cs.end(), node, [](const Contribution& c, NodeId n) { return c.node < n; });
  return (it != cs.end() && it->node == node) ? &*it : nullptr;
}

const Registration* EngineImpl::FindRegistration(std::uint32_t contact, NodeId node) const {
  const auto& rs = contacts_[contact].regs;
  auto it = std::lower_bound(rs.begin(), rs.end(), node, [](const Registration& r, NodeId n) { return r.node < n; });
  return (it != rs.end() && it->node == node) ? &*it : nullptr;
}

bool EngineImpl::ApplyDevice(NodeId origin, const codec::Record& rec, ChangeCause cause, std::uint32_t* entry_id) {
  OriginState& o = OriginFor(origin);
  std::optional<std::uint32_t> id = devices_.Find(rec.key);
  Contribution* held = nullptr;
  if (id) {
    auto it = FindByNode(devices_[*id].contributions, origin);
    if (it != devices_[*id].contributions.end() && it->node == origin) held = &*it;
  }
  if (held != nullptr && rec.seq <= held->seq) {
    ++stats_.records_stale;
    return false;
  }
  // A removal of what is not held is kept too, as a tombstone: an older version may follow.
  if (held == nullptr && !RoomForEntry()) {
    Drop(DropReason::kStoreFull);
    return false;
  }
  if (!id) id = InternDevice(rec.key);
  if (entry_id != nullptr) *entry_id = *id;
  DeviceRecord& d = devices_[*id];
  std::optional<DeviceState> old_contribution;
  if (held == nullptr) {
    held = &*d.contributions.insert(FindByNode(d.contributions, origin), Contribution{rec.seq, origin, rec.state, true});
    ++device_tombstones_;  // counted as a tombstone until made live below
    o.device_ids.push_back(*id);
    ++o.entries;
    if (o.device_ids.size() > 2 * o.entries + 16) CompactDeviceIds(o, origin);
  } else if (!held->dead) {
    old_contribution = held->state;
  }
  const std::optional<DeviceState> new_contribution =
      rec.removed ? std::nullopt : std::optional<DeviceState>(rec.state);
  held->seq = rec.seq;
  held->state = rec.removed ? DeviceState::kUnknown : rec.state;
  held->dead = rec.removed;
  const bool view_changed = old_contribution != new_contribution;
  if (view_changed) {
    // The listener first (it publishes the change on the host), then the digest and counters:
    // nothing it may call reads them (ViewListener's contract), and it cannot change the engine.
    const std::optional<DeviceState> old_aggregate = d.aggregate;
    d.aggregate = Aggregate(d.contributions);
    if (cause != ChangeCause::kLocal) ++stats_.records_applied;
    ViewChange ch{};
    ch.kind = EntryKind::kDevice;
    ch.cause = cause;
    ch.key = d.name;
    ch.origin = origin;
    ch.version = {o.incarnation, rec.seq};
    ch.old_contribution = old_contribution;
    ch.new_contribution = new_contribution;
    ch.old_aggregate = old_aggregate;
    ch.new_aggregate = d.aggregate;
    Emit(ch);
    const Hasher name_hash = DeviceNameHash(d.name);
    if (old_contribution) {
      o.hash ^= DeviceHash(name_hash, origin, *old_contribution);
      --stats_.device_entries;
      ++device_tombstones_;
    }
    if (new_contribution) {
      o.hash ^= DeviceHash(name_hash, origin, *new_contribution);
      --device_tombstones_;
      ++stats_.device_entries;
    }
    StoreChanged();
  }
  if (held->dead) {
    device_horizons_.push_back({env_->Now() + TombstoneKeep(), *id, origin, o.incarnation, rec.seq});
    if (device_horizons_.size() > 2 * device_tombstones_ + 1024) {
      std::erase_if(device_horizons_, [&](const DeviceHorizon& h) {
        const Contribution* c = FindContribution(h.device, h.node);
        return c == nullptr || !c->dead || c->seq != h.seq || origins_.at(h.node).incarnation != h.incarnation;
      });
    }
  }
  return view_changed;  // false: a newer version with the same value, the view is unchanged
}

void EngineImpl::RebuildExpiries() {
  std::vector<ExpiryItem> items;
  for (std::uint32_t c = 0; c < contacts_.size(); ++c) {
    for (const Registration& r : contacts_[c].regs) items.push_back({r.dead ? r.horizon_ns : r.expires_ns, c, r.node, r.seq});
  }
  expiries_ = decltype(expiries_)(std::greater<>(), std::move(items));
}

bool EngineImpl::ApplyOwned(NodeId origin, const codec::Record& rec, ChangeCause cause, std::uint32_t* entry_id) {
  OriginState& o = OriginFor(origin);
  const bool local = cause == ChangeCause::kLocal;
  const auto kind = static_cast<EntryKind>(rec.kind);

  if (kind == EntryKind::kDevice) return ApplyDevice(origin, rec, cause, entry_id);

  PBXSTATE_CHECK(kind == EntryKind::kRegistration);
  const std::int64_t now_ns = env_->WallNow().time_since_epoch().count();
  const std::string entry_name = ContactEntryName(rec.key, rec.contact);
  std::optional<std::uint32_t> id = contacts_.Find(entry_name);
  Registration* held = nullptr;
  if (id) {
    auto it = FindByNode(contacts_[*id].regs, origin);
    if (it != contacts_[*id].regs.end() && it->node == origin) held = &*it;
  }
  // With nothing held, a record is news even below the watermark (a full re-pull repairs a
  // hole that way). An old version of a removed registration cannot come back: its tombstone
  // is kept until the latest expiry its owner ever gave it, and past that the record is expired.
  if (held != nullptr && rec.seq <= held->seq) {
    ++stats_.records_stale;
    return false;
  }
  const bool live_new = !rec.removed && rec.expires_ns > now_ns;
  // A dead entry is kept while an older version of it could still arrive and be taken as news.
  const bool keep = live_new || rec.horizon_ns > now_ns;
  if (held == nullptr && !keep) return false;  // superseded and expired already: nothing to hold
  if (held == nullptr && !RoomForEntry()) {
    Drop(DropReason::kStoreFull);
    return false;
  }
  if (!id) id = InternContact(entry_name, rec.key);
  if (entry_id != nullptr) *entry_id = *id;
  ContactRecord& a = contacts_[*id];

  std::optional<RegistrationInfo> old_info;
  if (held != nullptr && !held->dead) old_info = InfoOf(a, *held);
  Registration next;
  next.seq = rec.seq;
  next.node = origin;
  next.dead = !live_new;
  next.status = rec.status;
  next.rtt_us = rec.rtt_us;
  next.expires_ns = rec.expires_ns;
  next.horizon_ns = rec.horizon_ns;
  next.learned = env_->Now();
  if (live_new) {
    next.path.assign(rec.path);
    next.user_agent.assign(rec.user_agent);
  }

  if (held != nullptr) {
    o.hash ^= RegistrationHash(a.name, *held);
    StoreChanged();
    if (held->dead) --tombstones_;
    else --stats_.registration_entries;
    if (keep) {
      *held = std::move(next);
    } else {
      a.regs.erase(FindByNode(a.regs, origin));
      --o.entries;
      held = nullptr;
    }
  } else {
    auto it = FindByNode(a.regs, origin);
    held = &*a.regs.insert(it, std::move(next));
    o.contact_ids.push_back(*id);
    ++o.entries;
    if (o.contact_ids.size() > 2 * o.entries + 16) CompactContactIds(o, origin);
  }
  if (held != nullptr) {
    o.hash ^= RegistrationHash(a.name, *held);
    StoreChanged();
    if (held->dead) ++tombstones_;
    else ++stats_.registration_entries;
    expiries_.push({held->dead ? held->horizon_ns : held->expires_ns, *id, origin, held->seq});
    if (expiries_.size() > 4 * (stats_.registration_entries + tombstones_) + 1024) RebuildExpiries();
  }
  if (!local) ++stats_.records_applied;
  std::optional<RegistrationInfo> new_info;
  if (held != nullptr && !held->dead) new_info = InfoOf(a, *held);
  if (old_info != new_info) {
    ViewChange ch{};
    ch.kind = EntryKind::kRegistration;
    ch.cause = cause;
    ch.key = a.aor();
    ch.origin = origin;
    ch.version = {o.incarnation, rec.seq};
    ch.old_registration = old_info ? &*old_info : nullptr;
    ch.new_registration = new_info ? &*new_info : nullptr;
    Emit(ch);
  }
  ReleaseContactIfEmpty(*id);  // its last registration was superseded by an expired one
  return true;
}

bool EngineImpl::ApplyMailbox(const codec::Record& rec, ChangeCause cause, std::uint32_t* entry_id) {
  const std::int64_t wall_ns = env_->WallNow().time_since_epoch().count();
  if (cause != ChangeCause::kLocal) {
    if (rec.hlc.physical_ns > wall_ns + config_.max_clock_skew.count()) {
      Drop(DropReason::kMalformed);
      return false;
    }
    hlc_.Observe(rec.hlc, wall_ns);
  }
  std::optional<std::uint32_t> id = mailboxes_.Find(rec.key);
  if (!id) {
    // A removal of a mailbox not held, past its horizon and this node's hold: every node has
    // dropped (or is dropping) its tombstone; keeping it again would pass it back and forth
    // between nodes forever.
    if (rec.removed && MailboxTombstoneGone(rec.hlc, wall_ns)) {
      ++stats_.records_stale;
      return false;
    }
    if (!RoomForEntry()) {
      Drop(DropReason::kStoreFull);
      return false;
    }
    id = InternMailbox(rec.key);
  }
  if (entry_id != nullptr) *entry_id = *id;
  MailboxRecord& m = mailboxes_[*id];
  const MailboxValue next{rec.removed ? MailboxCounts{} : rec.counts, rec.hlc, rec.writer};
  if (m.value && std::tie(m.value->hlc, m.value->writer) >= std::tie(next.hlc, next.writer)) {
    ++stats_.records_stale;
    return false;
  }
  const bool inserted = !m.value;
  const std::optional<MailboxValue> old = m.Live() ? m.value : std::nullopt;
  const bool was_removed = m.removed;
  m.value = next;
  m.removed = rec.removed;
  // A tombstone in place of nothing, or of another tombstone, leaves the view unchanged. A change
  // goes to the listener first (it publishes it on the host), then to the counters, the digest and
  // the index, as in ApplyDevice.
  const bool view_changed = old || !m.removed;
  if (view_changed) {
    if (cause != ChangeCause::kLocal) ++stats_.records_applied;
    ViewChange ch{};
    ch.kind = EntryKind::kMailbox;
    ch.cause = cause;
    ch.key = m.name;
    ch.origin = rec.writer;
    ch.old_mailbox = old;
    if (!m.removed) ch.new_mailbox = next;
    Emit(ch);
  }
  if (was_removed) --mailbox_tombstones_;
  if (old) --stats_.mailbox_entries;
  if (m.removed) ++mailbox_tombstones_;
  else ++stats_.mailbox_entries;
  const std::uint64_t old_hash = old ? MailboxHash(m.name, *old) : 0;  // MailboxEntryHash before the write
  const std::uint64_t next_hash = MailboxEntryHash(m);
  if (inserted) mailbox_index_.Insert(*id, MailboxIndex::Position(m.name), next_hash);
  else mailbox_index_.Update(*id, MailboxIndex::Position(m.name), next_hash);
  mailbox_hash_ ^= old_hash ^ next_hash;
  StoreChanged();
  if (m.removed) {
    mailbox_horizons_.push({MailboxHorizonNs(next.hlc), *id, next.hlc, next.writer});
    if (mailbox_horizons_.size() > 4 * mailbox_tombstones_ + 1024) {
      std::vector<MailboxHorizon> items;
      for (; !mailbox_horizons_.empty(); mailbox_horizons_.pop()) {
        const MailboxHorizon& h = mailbox_horizons_.top();
        const MailboxRecord& t = mailboxes_[h.mailbox];
        if (t.removed && t.value->hlc == h.hlc && t.value->writer == h.writer) items.push_back(h);
      }
      mailbox_horizons_ = decltype(mailbox_horizons_)(std::greater<>(), std::move(items));
    }
  }
  return view_changed;
}

void EngineImpl::ExpireMailboxTombstones(std::int64_t now_ns) {
  const std::optional<std::int64_t> hold_end_ns = TombstoneHoldEndNs();
  if (!hold_end_ns || now_ns < *hold_end_ns) return;  // held: a node is away, or came back within the keep
  while (ReleaseOldestMailboxTombstone(now_ns)) {
  }
}

bool EngineImpl::ReleaseOldestMailboxTombstone(std::int64_t now_ns) {
  while (!mailbox_horizons_.empty() && mailbox_horizons_.top().at_ns <= now_ns) {
    const MailboxHorizon h = mailbox_horizons_.top();
    mailbox_horizons_.pop();
    const MailboxRecord& m = mailboxes_[h.mailbox];
    // Superseded (a newer write or removal), or the id went to another name meanwhile: a
    // write's (hlc, writer) is unique in the cluster, so a tombstone that matches is this one.
    if (!m.removed || m.value->hlc != h.hlc || m.value->writer != h.writer) continue;
    ReleaseMailboxTombstone(h.mailbox);
    return true;
  }
  return false;
}

std::optional<std::int64_t> EngineImpl::TombstoneHoldEndNs() const {
  if (!whole_since_ns_) return std::nullopt;
  return *whole_since_ns_ + TombstoneKeep().count();
}

bool EngineImpl::RoomForEntry() {
  if (EntriesHeld() < config_.max_entries) return true;
  if (!ReleaseOldestMailboxTombstone(env_->WallNow().time_since_epoch().count())) return false;
  ++stats_.mailbox_tombstones_evicted;
  return true;
}

void EngineImpl::DropOrigin(NodeId origin, ChangeCause cause) {
  PBXSTATE_CHECK(origin != config_.node_id);
  auto oit = origins_.find(origin);
  if (oit != origins_.end()) {
    OriginState& o = oit->second;
    for (std::uint32_t id : o.device_ids) {
      DeviceRecord& d = devices_[id];
      auto it = FindByNode(d.contributions, origin);
      if (it == d.contributions.end() || it->node != origin) continue;  // a repeated id, already handled
      const DeviceState old_state = it->state;
      const std::uint64_t seq = it->seq;
      const bool was_live = !it->dead;
      d.contributions.erase(it);
      if (!was_live) {
        --device_tombstones_;
        ReleaseDeviceIfEmpty(id);
        continue;
      }
      --stats_.device_entries;
      const std::optional<DeviceState> old_aggregate = d.aggregate;
      d.aggregate = Aggregate(d.contributions);
      ViewChange ch{};
      ch.kind = EntryKind::kDevice;
      ch.cause = cause;
      ch.key = d.name;
      ch.origin = origin;
      ch.version = {o.incarnation, seq};
      ch.old_contribution = old_state;
      ch.old_aggregate = old_aggregate;
      ch.new_aggregate = d.aggregate;
      Emit(ch);
      ReleaseDeviceIfEmpty(id);
    }
    for (std::uint32_t id : o.contact_ids) {
      ContactRecord& a = contacts_[id];
      auto it = FindByNode(a.regs, origin);
      if (it == a.regs.end() || it->node != origin) continue;  // a repeated id, already handled
      const bool was_live = !it->dead;
      const RegistrationInfo old_info = InfoOf(a, *it);
      const std::uint64_t seq = it->seq;
      if (was_live) --stats_.registration_entries;
      else --tombstones_;
      a.regs.erase(it);
      if (was_live) {
        ViewChange ch{};
        ch.kind = EntryKind::kRegistration;
        ch.cause = cause;
        ch.key = a.aor();
        ch.origin = origin;
        ch.version = {o.incarnation, seq};
        ch.old_registration = &old_info;
        Emit(ch);
      }
      ReleaseContactIfEmpty(id);
    }
    origins_.erase(oit);
    StoreChanged();
  }
  wants_.erase(origin);
  for (auto it = pulls_.begin(); it != pulls_.end();) {
    auto next = std::next(it);
    if (it->second.origin == origin) AbandonPull(it, false);
    it = next;
  }
  for (auto it = serves_.begin(); it != serves_.end();) {
    if (it->second.origin == origin) it = serves_.erase(it);
    else ++it;
  }
}

void EngineImpl::CompactDeviceIds(OriginState& o, NodeId origin) {
  std::sort(o.device_ids.begin(), o.device_ids.end());
  o.device_ids.erase(std::unique(o.device_ids.begin(), o.device_ids.end()), o.device_ids.end());
  std::erase_if(o.device_ids, [&](std::uint32_t id) { return FindContribution(id, origin) == nullptr; });
}

void EngineImpl::ExpireDeviceTombstones(MonoTime now) {
  while (!device_horizons_.empty() && device_horizons_.front().at <= now) {
    const DeviceHorizon h = device_horizons_.front();
    device_horizons_.pop_front();
    DeviceRecord& d = devices_[h.device];
    auto it = FindByNode(d.contributions, h.node);
    // Superseded, restarted, or the slot went to another name meanwhile: that entry has an item of its own.
    if (it == d.contributions.end() || it->node != h.node || !it->dead || it->seq != h.seq ||
        origins_.at(h.node).incarnation != h.incarnation) {
      continue;
    }
    d.contributions.erase(it);
    --device_tombstones_;
    --origins_.at(h.node).entries;  // its device_ids entry goes at the next compaction
    StoreChanged();
    ReleaseDeviceIfEmpty(h.device);
  }
}

void EngineImpl::CompactContactIds(OriginState& o, NodeId origin) {
  std::sort(o.contact_ids.begin(), o.contact_ids.end());
  o.contact_ids.erase(std::unique(o.contact_ids.begin(), o.contact_ids.end()), o.contact_ids.end());
  std::erase_if(o.contact_ids, [&](std::uint32_t id) { return FindRegistration(id, origin) == nullptr; });
}

void EngineImpl::ExpireRegistrations(std::int64_t now_ns) {
  while (!expiries_.empty() && expiries_.top().at_ns <= now_ns) {
    const ExpiryItem item = expiries_.top();
    expiries_.pop();
    ContactRecord& a = contacts_[item.contact];
    auto it = FindByNode(a.regs, item.node);
    if (it == a.regs.end() || it->node != item.node || it->seq != item.seq) continue;  // superseded
    auto oit = origins_.find(item.node);
    PBXSTATE_CHECK(oit != origins_.end());
    OriginState& o = oit->second;
    if (!it->dead && it->expires_ns <= now_ns) {
      const RegistrationInfo old_info = InfoOf(a, *it);
      o.hash ^= RegistrationHash(a.name, *it);
      o.expired_at = env_->Now();
      StoreChanged();
      it->dead = true;
      it->path.clear();
      it->path.shrink_to_fit();
      it->user_agent.clear();
      it->user_agent.shrink_to_fit();
      --stats_.registration_entries;
      ++tombstones_;
      const std::uint64_t seq = it->seq;
      if (it->horizon_ns > now_ns) expiries_.push({it->horizon_ns, item.contact, item.node, seq});
      ViewChange ch{};
      ch.kind = EntryKind::kRegistration;
      ch.cause = ChangeCause::kExpiry;
      ch.key = a.aor();
      ch.origin = item.node;
      ch.version = {o.incarnation, seq};
      ch.old_registration = &old_info;
      Emit(ch);
      // Emit may not change the store (listeners cannot mutate), so `it` is still valid here.
      if (it->horizon_ns > now_ns) continue;
    }
    if (it->dead && it->horizon_ns <= now_ns) {
      a.regs.erase(it);
      --tombstones_;
      --o.entries;
      ReleaseContactIfEmpty(item.contact);
    }
  }
}

bool EngineImpl::HashDiffers(NodeId origin, std::uint64_t their_hash, NodeId from) {
  ExpireRegistrations(env_->WallNow().time_since_epoch().count());
  const OriginState& o = origins_.at(origin);
  if (o.hash == their_hash) return false;
  // An expiry changes the hash and not the watermark, at each node when its own timer takes it:
  // a digest composed before it and read after it differs by that alone. Compared again once
  // no digest can be that old: by then a real difference shows with no expiry in between.
  const MonoTime settled = o.expired_at + config_.sync_retransmit;
  if (o.expired_at == MonoTime{} || env_->Now() >= settled) return true;
  recheck_targets_.insert(from);
  if (!recheck_due_ || *recheck_due_ < settled) recheck_due_ = settled;
  return false;
}

codec::Record EngineImpl::DeviceRecordFor(std::uint32_t device, const Contribution& c) const {
  codec::Record r;
  r.kind = static_cast<std::uint8_t>(EntryKind::kDevice);
  r.key = devices_[device].name;
  r.seq = c.seq;
  r.state = c.state;
  r.removed = c.dead;
  return r;
}

codec::Record EngineImpl::RegistrationRecordFor(std::uint32_t contact, const Registration& reg) const {
  const ContactRecord& c = contacts_[contact];
  codec::Record r;
  r.kind = static_cast<std::uint8_t>(EntryKind::kRegistration);
  r.key = c.aor();
  r.contact = c.contact();
  r.seq = reg.seq;
  r.removed = reg.dead;
  r.status = reg.status;
  r.expires_ns = reg.expires_ns;
  r.horizon_ns = reg.horizon_ns;
  r.rtt_us = reg.rtt_us;
  if (!reg.dead) {
    r.path = reg.path;
    r.user_agent = reg.user_agent;
  }
  return r;
}

codec::Record EngineImpl::MailboxRecordFor(std::uint32_t mailbox) const {
  const MailboxRecord& m = mailboxes_[mailbox];
  PBXSTATE_CHECK(m.value);
  PBXSTATE_CHECK(!m.removed || m.value->counts == MailboxCounts{});
  codec::Record r;
  r.kind = static_cast<std::uint8_t>(EntryKind::kMailbox);
  r.key = m.name;
  r.removed = m.removed;
  r.counts = m.value->counts;
  r.hlc = m.value->hlc;
  r.writer = m.value->writer;
  return r;
}

}  // namespace pbxstate
