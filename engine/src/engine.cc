// The public facade, local changes and queries.
#include <sodium.h>

#include <algorithm>

#include "engine_impl.h"
#include "hash.h"
#include "pbxstate/check.h"
#include "pbxstate/latency_trace.h"

namespace pbxstate {

EngineImpl::EngineImpl(const EngineConfig& config, Env* env)
    : config_(config),
      env_(env),
      unicast_reaches_everyone_(env->UnicastReachesEveryone()),
      limits_{config.max_frame_bytes, config.max_key_bytes, config.max_contact_bytes},
      auth_(config.cluster_keys) {
  pace_ = config_.batch_window;
  known_incarnation_[config_.node_id] = config_.incarnation;
  counted_.push_back(config_.node_id);
  OriginFor(config_.node_id).incarnation = config_.incarnation;
  for (const auto& [node, site] : config_.node_sites) site_nodes_[site].push_back(node);  // ascending ids
  whole_since_ns_ = env_->WallNow().time_since_epoch().count();
}

void EngineImpl::Start() {
  PBXSTATE_CHECK(!in_callback_);
  if (started_) return;
  started_ = true;
  const MonoTime now = env_->Now();
  started_at_ = now;
  // Info, not a warning, even when unauthenticated: simulations start hundreds of nodes, and
  // hosts show info lines at start-up.
  env_->Log(LogLevel::kInfo,
            "pbxstate: node " + std::to_string(config_.node_id) + " incarnation " + std::to_string(config_.incarnation) +
                " starting; " + AuthDescription());
  if (config_.relays_per_site > 0 && !config_.node_sites.empty() && !RelaysOn()) {
    env_->Log(LogLevel::kInfo, "pbxstate: no site relays (relays_per_site " + std::to_string(config_.relays_per_site) +
                                   "): this transport's unicast reaches every node anyway");
  }
  SendHeartbeat();
  if (config_.membership == MembershipSource::kHeartbeat) {
    heartbeat_due_ = Jittered(now, config_.heartbeat_interval);
    suspicion_due_ = now + config_.heartbeat_interval;
  }
  if (config_.anti_entropy_interval > 0ms) anti_entropy_due_ = Jittered(now, config_.anti_entropy_interval);
  FlushPending();
  Rearm();
}

std::string EngineImpl::AuthDescription() const {
  if (!auth_.enabled()) {
    return "traffic is UNAUTHENTICATED: no cluster key is configured, so anyone who can reach the transport can "
           "change this cluster's state";
  }
  std::string s = "traffic is authenticated: frames are sent with a MAC under key id " + std::to_string(auth_.key_id(0));
  if (auth_.key_count() > 1) s += "; key id " + std::to_string(auth_.key_id(1)) + " is accepted too";
  return s;
}

Status EngineImpl::SetClusterKeys(std::vector<std::string> keys) {
  if (Status s = CheckMutable(); !s.ok()) return s;
  if (Status s = ValidateClusterKeys(keys, config_); !s.ok()) return s;
  const bool was_enabled = auth_.enabled();
  auth_ = FrameAuthenticator(keys);
  // Pages kept for resending were cut for frames without a MAC and may not fit one now: those
  // sessions end, and their pullers ask again after sync_timeout.
  if (!was_enabled && auth_.enabled()) serves_.clear();
  // The old keys leave memory; config() reports the new ones.
  for (std::string& k : config_.cluster_keys) sodium_memzero(k.data(), k.size());
  config_.cluster_keys = std::move(keys);
  env_->Log(auth_.enabled() ? LogLevel::kInfo : LogLevel::kWarning, "pbxstate: cluster keys changed; " + AuthDescription());
  return Status::Ok();
}

Status EngineImpl::CheckKey(std::string_view key, const char* what) const {
  if (key.empty()) return Status::InvalidArgument(std::string(what) + " name is empty");
  if (key.size() > config_.max_key_bytes) {
    return Status::InvalidArgument(std::string(what) + " name is " + std::to_string(key.size()) +
                                   " bytes, more than max_key_bytes " + std::to_string(config_.max_key_bytes));
  }
  return Status::Ok();
}

Status EngineImpl::CheckMutable() const {
  if (in_callback_) return Status::FailedPrecondition("a ViewListener must not change the engine");
  return Status::Ok();
}

Status EngineImpl::CommitOwnChange(const codec::Record& rec) {
  const NodeId self = config_.node_id;
  const auto kind = static_cast<EntryKind>(rec.kind);
  // The id ApplyOwned interned or found, with no second look-up of the name. A removal of a
  // contact whose expiry and horizon came before the timer did leaves its entry with nothing,
  // and its name is released: the change is still held (its sequence number is claimed at the
  // flush) under the id the name had.
  // A lone device change leaves before it is applied (SendAloneFirst): its record is complete
  // already. A registration's is not (its entry may be superseded by expiry), so it queues.
  const bool sent = kind == EntryKind::kDevice && SendAloneFirst(rec);
  std::uint32_t id = 0;
  const bool changed = ApplyOwned(self, rec, ChangeCause::kLocal, &id);
  PBXSTATE_CHECK(changed);  // a fresh sequence number always wins
  (void)changed;
  OriginFor(self).ranges.AdvanceTo(own_seq_);
  StoreChanged();
  ++stats_.local_changes;
  if (sent) {
    CheckSentAsApplied(rec, id);
  } else {
    MarkPending(kind, id);
  }
  Rearm();
  return Status::Ok();
}

void EngineImpl::CheckSentAsApplied(const codec::Record& rec, std::uint32_t id) const {
  const codec::Record applied = static_cast<EntryKind>(rec.kind) == EntryKind::kDevice
                                    ? DeviceRecordFor(id, *FindContribution(id, config_.node_id))
                                    : MailboxRecordFor(id);
  PBXSTATE_CHECK(applied.key == rec.key && applied.seq == rec.seq && applied.removed == rec.removed);
  PBXSTATE_CHECK(applied.kind == static_cast<std::uint8_t>(EntryKind::kMailbox) || applied.state == rec.state);
  PBXSTATE_CHECK(applied.kind == static_cast<std::uint8_t>(EntryKind::kDevice) ||
                 (applied.counts == rec.counts && applied.hlc == rec.hlc && applied.writer == rec.writer));
}

Status EngineImpl::SetDeviceState(std::string_view device, DeviceState state) {
  if (Status s = CheckMutable(); !s.ok()) return s;
  if (Status s = CheckKey(device, "device"); !s.ok()) return s;
  if (static_cast<int>(state) >= kDeviceStateCount) return Status::InvalidArgument("device state out of range");
  const NodeId self = config_.node_id;
  if (auto id = devices_.Find(device)) {
    const Contribution* c = FindContribution(*id, self);
    if (c != nullptr && !c->dead && c->state == state) return Status::Ok();  // nothing changes; nothing to send
  } else if (!RoomForEntry()) {
    return Status::ResourceExhausted("max_entries (" + std::to_string(config_.max_entries) + ") reached");
  }
  codec::Record rec;
  rec.kind = static_cast<std::uint8_t>(EntryKind::kDevice);
  rec.key = device;
  rec.seq = ++own_seq_;
  rec.state = state;
  return CommitOwnChange(rec);
}

Status EngineImpl::SetMailbox(std::string_view mailbox, const MailboxCounts& counts) {
  if (Status s = CheckMutable(); !s.ok()) return s;
  if (Status s = CheckKey(mailbox, "mailbox"); !s.ok()) return s;
  // The name is looked up only when the store is full (RoomForEntry would say so): a write to a
  // mailbox held or not then costs no look-up before it is sent.
  if (EntriesHeld() >= config_.max_entries && !mailboxes_.Find(mailbox) && !RoomForEntry()) {
    return Status::ResourceExhausted("max_entries (" + std::to_string(config_.max_entries) + ") reached");
  }
  codec::Record rec;
  rec.counts = counts;
  return WriteLocalMailbox(mailbox, rec);
}

// A mailbox write of this node (a value in `rec.counts` or `rec.removed`): stamped with a fresh
// tick, applied, and sent with the next flush.
Status EngineImpl::WriteLocalMailbox(std::string_view mailbox, codec::Record& rec) {
  rec.kind = static_cast<std::uint8_t>(EntryKind::kMailbox);
  rec.key = mailbox;
  rec.hlc = hlc_.Tick(env_->WallNow().time_since_epoch().count());
  rec.writer = config_.node_id;
  const bool sent = SendAloneFirst(rec);  // before it is applied, as in CommitOwnChange
  std::uint32_t id = 0;
  const bool changed = ApplyMailbox(rec, ChangeCause::kLocal, &id);
  PBXSTATE_CHECK(changed);  // a fresh tick is greater than anything seen
  (void)changed;
  ++stats_.local_changes;
  if (sent) {
    CheckSentAsApplied(rec, id);
  } else {
    MarkPending(EntryKind::kMailbox, id);
  }
  Rearm();
  return Status::Ok();
}

Status EngineImpl::SetRegistration(std::string_view aor, const RegistrationInfo& info) {
  if (Status s = CheckMutable(); !s.ok()) return s;
  if (Status s = CheckKey(aor, "AOR"); !s.ok()) return s;
  if (info.contact.empty()) return Status::InvalidArgument("registration contact is empty");
  if (info.contact.size() + info.path.size() + info.user_agent.size() > config_.max_contact_bytes) {
    return Status::InvalidArgument("registration contact, path and user agent are longer together than "
                                   "max_contact_bytes " + std::to_string(config_.max_contact_bytes));
  }
  const WallTime now = env_->WallNow();
  if (info.expires <= now) return Status::InvalidArgument("registration expiry is not in the future");
  if (info.expires - now > config_.max_registration_ttl) {
    return Status::InvalidArgument("registration expiry is further out than max_registration_ttl");
  }
  const NodeId self = config_.node_id;
  std::int64_t horizon = info.expires.time_since_epoch().count();
  const Registration* r = nullptr;
  if (auto id = contacts_.Find(ContactEntryName(aor, info.contact))) r = FindRegistration(*id, self);
  if (r != nullptr) {
    if (!r->dead && r->expires_ns == horizon && r->status == info.status && r->rtt_us == info.rtt_us &&
        r->path == info.path && r->user_agent == info.user_agent) {
      return Status::Ok();
    }
    horizon = std::max(horizon, r->horizon_ns);
  } else if (!RoomForEntry()) {
    return Status::ResourceExhausted("max_entries (" + std::to_string(config_.max_entries) + ") reached");
  }
  if (r == nullptr || r->dead || r->expires_ns <= now.time_since_epoch().count()) {
    // A new contact at the bound replaces the one that expires first (config.h).
    const std::vector<std::uint32_t> live = LiveContactsOf(aor, self);
    if (live.size() >= config_.max_contacts_per_aor) {
      PBXSTATE_CHECK_EQ(live.size(), config_.max_contacts_per_aor);
      std::uint32_t first = live.front();  // live is in contact order: ties go to the smallest URI
      for (std::uint32_t id : live) {
        if (FindRegistration(id, self)->expires_ns < FindRegistration(first, self)->expires_ns) first = id;
      }
      const std::string evicted(contacts_[first].contact());
      if (Status s = RemoveContact(aor, evicted); !s.ok()) return s;
    }
  }
  codec::Record rec;
  rec.kind = static_cast<std::uint8_t>(EntryKind::kRegistration);
  rec.key = aor;
  rec.seq = ++own_seq_;
  rec.removed = false;
  rec.status = info.status;
  rec.expires_ns = info.expires.time_since_epoch().count();
  rec.horizon_ns = horizon;
  rec.rtt_us = info.rtt_us;
  rec.contact = info.contact;
  rec.path = info.path;
  rec.user_agent = info.user_agent;
  return CommitOwnChange(rec);
}

Status EngineImpl::RemoveRegistration(std::string_view aor) {
  if (Status s = CheckMutable(); !s.ok()) return s;
  if (Status s = CheckKey(aor, "AOR"); !s.ok()) return s;
  for (std::uint32_t id : LiveContactsOf(aor, config_.node_id)) {
    const std::string contact(contacts_[id].contact());
    if (Status s = RemoveContact(aor, contact); !s.ok()) return s;
  }
  return Status::Ok();
}

Status EngineImpl::RemoveContact(std::string_view aor, std::string_view contact) {
  if (Status s = CheckMutable(); !s.ok()) return s;
  if (Status s = CheckKey(aor, "AOR"); !s.ok()) return s;
  auto id = contacts_.Find(ContactEntryName(aor, contact));
  if (!id) return Status::Ok();
  const Registration* r = FindRegistration(*id, config_.node_id);
  if (r == nullptr || r->dead) return Status::Ok();
  codec::Record rec;
  rec.kind = static_cast<std::uint8_t>(EntryKind::kRegistration);
  rec.key = aor;
  rec.contact = contact;
  rec.seq = ++own_seq_;
  rec.removed = true;
  rec.expires_ns = r->expires_ns;
  rec.horizon_ns = r->horizon_ns;
  return CommitOwnChange(rec);
}

Status EngineImpl::RemoveDevice(std::string_view device) {
  if (Status s = CheckMutable(); !s.ok()) return s;
  if (Status s = CheckKey(device, "device"); !s.ok()) return s;
  auto id = devices_.Find(device);
  if (!id) return Status::Ok();
  const Contribution* c = FindContribution(*id, config_.node_id);
  if (c == nullptr || c->dead) return Status::Ok();
  codec::Record rec;
  rec.kind = static_cast<std::uint8_t>(EntryKind::kDevice);
  rec.key = device;
  rec.seq = ++own_seq_;
  rec.removed = true;
  return CommitOwnChange(rec);
}

Status EngineImpl::RemoveMailbox(std::string_view mailbox) {
  if (Status s = CheckMutable(); !s.ok()) return s;
  if (Status s = CheckKey(mailbox, "mailbox"); !s.ok()) return s;
  const std::optional<std::uint32_t> id = mailboxes_.Find(mailbox);
  if (!id || !mailboxes_[*id].Live()) return Status::Ok();
  codec::Record rec;
  rec.removed = true;
  return WriteLocalMailbox(mailbox, rec);
}

std::optional<DeviceState> EngineImpl::ClusterDeviceState(std::string_view device) const {
  auto id = devices_.Find(device);
  if (!id) return std::nullopt;
  return devices_[*id].aggregate;
}

std::vector<DeviceContribution> EngineImpl::DeviceContributions(std::string_view device) const {
  std::vector<DeviceContribution> out;
  auto id = devices_.Find(device);
  if (!id) return out;
  for (const Contribution& c : devices_[*id].contributions) {
    if (!c.dead) out.push_back({c.node, c.state, {origins_.at(c.node).incarnation, c.seq}});
  }
  return out;
}

std::optional<MailboxValue> EngineImpl::Mailbox(std::string_view mailbox) const {
  auto id = mailboxes_.Find(mailbox);
  if (!id || !mailboxes_[*id].Live()) return std::nullopt;
  return mailboxes_[*id].value;
}

namespace {
RegistrationView ViewOf(const ContactRecord& c, const Registration& r, std::uint64_t incarnation) {
  RegistrationView v;
  v.node = r.node;
  v.info.contact = c.contact();
  v.info.expires = WallTime(Duration(r.expires_ns));
  v.info.status = r.status;
  v.info.rtt_us = r.rtt_us;
  v.info.path = r.path;
  v.info.user_agent = r.user_agent;
  v.version = {incarnation, r.seq};
  return v;
}
}  // namespace

std::vector<RegistrationView> EngineImpl::Registrations(std::string_view aor) const {
  std::vector<RegistrationView> out;
  auto index = aor_index_.Find(aor);
  if (!index) return out;
  for (std::uint32_t id : aor_index_[*index].contact_ids) {
    for (const Registration& r : contacts_[id].regs) {
      if (!r.dead) out.push_back(ViewOf(contacts_[id], r, origins_.at(r.node).incarnation));
    }
  }
  std::sort(out.begin(), out.end(), [](const RegistrationView& a, const RegistrationView& b) {
    return std::tie(a.node, a.info.contact) < std::tie(b.node, b.info.contact);
  });
  return out;
}

std::vector<Location> EngineImpl::Locate(std::string_view aor) const {
  std::vector<Location> out;
  auto index = aor_index_.Find(aor);
  if (!index) return out;
  const MonoTime now = env_->Now();
  const NodeId self = config_.node_id;
  for (std::uint32_t id : aor_index_[*index].contact_ids) {
    for (const Registration& r : contacts_[id].regs) {
      if (r.dead) continue;
      Location l;
      l.node = r.node;
      l.contact = contacts_[id].contact();
      l.path = r.path;
      l.status = r.status;
      if (r.node == self) {
        l.reachable = true;
      } else {
        auto peer = peers_.find(r.node);
        l.reachable = peer != peers_.end() && peer->second.live && !peer->second.departing;
      }
      l.expires = WallTime(Duration(r.expires_ns));
      l.age = std::max(Duration::zero(), std::chrono::duration_cast<Duration>(now - r.learned));
      out.push_back(std::move(l));
    }
  }
  auto rank = [](const Location& l) {
    return l.reachable ? (l.status == ContactStatus::kReachable ? 0 : 1) : 2;
  };
  std::sort(out.begin(), out.end(), [&](const Location& a, const Location& b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    if ((a.node == self) != (b.node == self)) return a.node == self;
    if (a.age != b.age) return a.age < b.age;
    return std::tie(a.node, a.contact) < std::tie(b.node, b.contact);
  });
  return out;
}

void EngineImpl::ForEachDevice(const std::function<void(std::string_view, std::optional<DeviceState>,
                                                        std::span<const DeviceContribution>)>& fn) const {
  std::vector<DeviceContribution> cs;
  for (std::uint32_t id = 0; id < devices_.size(); ++id) {
    const DeviceRecord& d = devices_[id];
    if (!d.aggregate) continue;  // no live contribution: tombstones only, or a free slot
    cs.clear();
    for (const Contribution& c : d.contributions) {
      if (!c.dead) cs.push_back({c.node, c.state, {origins_.at(c.node).incarnation, c.seq}});
    }
    fn(d.name, d.aggregate, cs);
  }
}

void EngineImpl::ForEachMailbox(const std::function<void(std::string_view, const MailboxValue&)>& fn) const {
  for (std::uint32_t id = 0; id < mailboxes_.size(); ++id) {
    if (mailboxes_[id].Live()) fn(mailboxes_[id].name, *mailboxes_[id].value);
  }
}

void EngineImpl::ForEachRegistration(const std::function<void(std::string_view, const RegistrationView&)>& fn) const {
  for (std::uint32_t index = 0; index < aor_index_.size(); ++index) {
    const AorIndex& a = aor_index_[index];
    for (const RegistrationView& v : Registrations(a.name)) fn(a.name, v);
  }
}

ViewDigest EngineImpl::Digest() const {
  PBXSTATE_CHECK(!in_callback_);  // the change being told is not hashed yet (ApplyDevice, ApplyMailbox)
  ViewDigest d;
  std::uint64_t h = mailbox_hash_;
  for (const auto& [node, o] : origins_) h ^= o.hash;
  d.hash = Mix64(h);
  d.devices = stats_.device_entries;
  d.mailboxes = stats_.mailbox_entries;
  d.registrations = stats_.registration_entries;
  return d;
}

std::vector<NodeId> EngineImpl::Members() const { return counted_; }

void EngineImpl::SetCounted(NodeId node, bool counted) {
  auto it = std::lower_bound(counted_.begin(), counted_.end(), node);
  const bool present = it != counted_.end() && *it == node;
  if (counted && !present) counted_.insert(it, node);
  if (!counted && present) counted_.erase(it);
}

std::string_view EngineImpl::NodeLabel(NodeId node) const {
  if (node == config_.node_id) return config_.label;
  auto it = peers_.find(node);
  return it == peers_.end() ? std::string_view() : std::string_view(it->second.label);
}

void EngineImpl::Emit(const ViewChange& change) {
  PBXSTATE_TRACE(PBXSTATE_TRACE_RX_EMIT);
  if (listener_ == nullptr) return;
  PBXSTATE_CHECK(!in_callback_);
  in_callback_ = true;
  listener_->OnViewChange(change);
  in_callback_ = false;
}

void EngineImpl::NotifyMembers() {
  ++stats_.membership_changes;
  const bool whole = std::all_of(peers_.begin(), peers_.end(), [](const auto& np) { return np.second.live; });
  if (!whole) whole_since_ns_.reset();
  else if (!whole_since_ns_) whole_since_ns_ = env_->WallNow().time_since_epoch().count();
  if (listener_ == nullptr) return;
  in_callback_ = true;
  listener_->OnMembersChanged(counted_);
  in_callback_ = false;
}

// ---------------------------------------------------------------------------------------------
// Engine: forwards to EngineImpl, which keeps the public header free of the engine's internals.

Status Engine::Create(const EngineConfig& config, Env* env, std::unique_ptr<Engine>* out) {
  if (env == nullptr) return Status::InvalidArgument("env is null");
  // Validate() checks cluster_keys (and initialises libsodium when there are any).
  if (Status s = config.Validate(); !s.ok()) return s;
  out->reset(new Engine(std::make_unique<EngineImpl>(config, env)));
  return Status::Ok();
}

Engine::Engine(std::unique_ptr<EngineImpl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

void Engine::Start() { impl_->Start(); }
void Engine::OnFrame(NodeId from, std::span<const std::uint8_t> frame) { impl_->OnFrame(from, frame); }
void Engine::OnOverheard(NodeId from, NodeId to, std::span<const std::uint8_t> frame) {
  impl_->OnOverheard(from, to, frame);
}
void Engine::OnMembership(const MembershipView& view) { impl_->OnMembership(view); }
void Engine::OnTimer() { impl_->OnTimer(); }
void Engine::OnSendReady() { impl_->OnSendReady(); }
Status Engine::SetClusterKeys(std::vector<std::string> keys) { return impl_->SetClusterKeys(std::move(keys)); }
bool Engine::authenticated() const { return impl_->auth_.enabled(); }
Status Engine::SetDeviceState(std::string_view device, DeviceState state) { return impl_->SetDeviceState(device, state); }
Status Engine::SetMailbox(std::string_view mailbox, const MailboxCounts& counts) {
  return impl_->SetMailbox(mailbox, counts);
}
Status Engine::SetRegistration(std::string_view aor, const RegistrationInfo& info) {
  return impl_->SetRegistration(aor, info);
}
Status Engine::RemoveRegistration(std::string_view aor) { return impl_->RemoveRegistration(aor); }
Status Engine::RemoveContact(std::string_view aor, std::string_view contact) {
  return impl_->RemoveContact(aor, contact);
}
Status Engine::RemoveDevice(std::string_view device) { return impl_->RemoveDevice(device); }
Status Engine::RemoveMailbox(std::string_view mailbox) { return impl_->RemoveMailbox(mailbox); }
std::optional<DeviceState> Engine::ClusterDeviceState(std::string_view device) const {
  return impl_->ClusterDeviceState(device);
}
std::vector<DeviceContribution> Engine::DeviceContributions(std::string_view device) const {
  return impl_->DeviceContributions(device);
}
std::optional<MailboxValue> Engine::Mailbox(std::string_view mailbox) const { return impl_->Mailbox(mailbox); }
std::vector<RegistrationView> Engine::Registrations(std::string_view aor) const { return impl_->Registrations(aor); }
std::vector<Location> Engine::Locate(std::string_view aor) const { return impl_->Locate(aor); }
void Engine::ForEachDevice(const std::function<void(std::string_view, std::optional<DeviceState>,
                                                    std::span<const DeviceContribution>)>& fn) const {
  impl_->ForEachDevice(fn);
}
void Engine::ForEachMailbox(const std::function<void(std::string_view, const MailboxValue&)>& fn) const {
  impl_->ForEachMailbox(fn);
}
void Engine::ForEachRegistration(const std::function<void(std::string_view, const RegistrationView&)>& fn) const {
  impl_->ForEachRegistration(fn);
}
ViewDigest Engine::Digest() const { return impl_->Digest(); }
const EngineStats& Engine::stats() const {
  impl_->stats_.held_bytes = impl_->HeldBytes();
  return impl_->stats_;
}
NameCounts Engine::InternedNames() const {
  const EngineImpl& e = *impl_;
  return {e.devices_.names() + e.aor_index_.names() + e.contacts_.names() + e.mailboxes_.names(),
          e.devices_.size() + e.aor_index_.size() + e.contacts_.size() + e.mailboxes_.size()};
}
std::vector<NodeId> Engine::Members() const { return impl_->Members(); }
std::string_view Engine::NodeLabel(NodeId node) const { return impl_->NodeLabel(node); }
NodeId Engine::node_id() const { return impl_->config_.node_id; }
std::uint64_t Engine::incarnation() const { return impl_->config_.incarnation; }
const EngineConfig& Engine::config() const { return impl_->config_; }
void Engine::SetListener(ViewListener* listener) { impl_->listener_ = listener; }

}  // namespace pbxstate
