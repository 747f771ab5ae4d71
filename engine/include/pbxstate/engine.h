// The engine: one node's share of the cluster's PBX state.
//
// An Engine holds this node's own entries (its device-state contributions, the registrations it
// holds, the MWI writes made here) and its view of everyone else's, keeps them in step with the
// other nodes through its Env, and tells a listener about every change of the cluster-wide view.
//
// Threading: single-threaded. Every method, upcalls included, must be called from one thread at a
// time (the host serialises). Nothing happens between calls: the engine never runs on its own.
//
// Re-entrancy: the engine calls its ViewListener from inside its own methods. A listener may call
// the const query methods; it must not call any non-const method (asserted).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pbxstate/config.h"
#include "pbxstate/env.h"
#include "pbxstate/stats.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate {

// A set of nodes that can currently reach each other, as the transport (or the failure
// detector) sees it. `members` is sorted and contains this node.
struct MembershipView {
  std::uint64_t view_id = 0;
  std::vector<NodeId> members;
};

// Why the cluster-wide view changed.
enum class ChangeCause : std::uint8_t {
  kLocal,      // a local change made through this engine's API
  kRemote,     // a frame from another node (live update or catch-up page)
  kDeparture,  // the owner left the membership and its grace ran out
  kRestart,    // the owner came back with a new incarnation; its old entries are void
  kExpiry,     // a registration reached its expiry
};
std::string_view ChangeCauseName(ChangeCause cause);

enum class EntryKind : std::uint8_t { kDevice = 0, kMailbox = 1, kRegistration = 2 };
std::string_view EntryKindName(EntryKind kind);

// One change of the cluster-wide view, as the listener sees it. Pointers and views are valid
// only during the callback.
struct ViewChange {
  EntryKind kind;
  ChangeCause cause;
  std::string_view key;   // device name, mailbox@context, or AOR
  NodeId origin;          // the node whose entry changed (device, registration), or the writer (MWI)
  Version version;        // the changed entry's version (device, registration); {0,0} for MWI

  // kDevice: the origin's contribution before/after (nullopt: none), and the cluster-wide
  // aggregate before/after (nullopt: no node contributes).
  std::optional<DeviceState> old_contribution, new_contribution;
  std::optional<DeviceState> old_aggregate, new_aggregate;

  // kMailbox: the cluster-wide value before/after.
  std::optional<MailboxValue> old_mailbox, new_mailbox;

  // kRegistration: the origin's entry for one contact of `key` before/after (nullptr: none
  // held); whichever is set names the contact.
  const RegistrationInfo* old_registration = nullptr;
  const RegistrationInfo* new_registration = nullptr;
};

// The bytes the wire codec spends on one record carrying `change`'s entry as it is after the
// change (engine/README.md, "Protocol"): what a peer that lacks that value must receive at
// least, frame headers aside. Computed by the codec's own record encoding, so a harness's
// denominator follows the wire format. A removal counts as the record that carries it (a
// registration's tombstone). A registration record also carries its owner's horizon (the latest
// expiry it gave the contact in its incarnation), which a view does not show: it is taken to be
// the expiry, which it is unless the contact was registered before with a later expiry.
std::size_t EncodedRecordBytes(const ViewChange& change);

class ViewListener {
 public:
  virtual ~ViewListener() = default;
  // Called for every change of an entry that is part of the cluster-wide view, local ones too,
  // once the entry holds its new value and before the engine's digest (Digest) and counters
  // (stats) count it: the listener is on the change's critical path, the bookkeeping is not.
  virtual void OnViewChange(const ViewChange& change) = 0;
  // Called when the set of live nodes changes (after OnMembership, or the failure detector).
  virtual void OnMembersChanged(const std::vector<NodeId>& /*members*/) {}
};

// One node's part of a device's state.
struct DeviceContribution {
  NodeId node;
  DeviceState state;
  Version version;
};

// One node's entry for one contact of an AOR.
struct RegistrationView {
  NodeId node;              // the node that holds the contact
  RegistrationInfo info;
  Version version;
};

// Where an AOR can be reached, as one node knows it now: one answer per live contact per server
// holding it (an AOR with a desk phone on one server and a softphone on another has two; a
// call forks to them). Routing a call uses `reachable` first, then the freshest knowledge.
struct Location {
  NodeId node = kNoNode;     // the server holding the contact
  std::string contact;       // its contact URI
  std::string path;          // the Path the contact registered with (RFC 3327); empty when none
  ContactStatus status = ContactStatus::kReachable;  // the contact's state as its holder last said
  // The holder is this node or a peer this node counts as live and not departing: a call sent
  // there now can arrive. False while the holder is gone but its grace has not run out.
  bool reachable = false;
  WallTime expires{};
  // How long ago this node learned this version of the entry (zero for its own entries made
  // just now). Knowledge is only as old as the last refresh the holder sent.
  Duration age{};
};

// A content hash of this node's cluster-wide view (every device contribution, mailbox value
// and live registration, without versions). Two nodes with equal digests hold the same view.
struct ViewDigest {
  std::uint64_t hash = 0;
  std::uint64_t devices = 0;        // device contributions held
  std::uint64_t mailboxes = 0;
  std::uint64_t registrations = 0;  // live registrations held
  friend bool operator==(const ViewDigest&, const ViewDigest&) = default;
};

// The key names an engine holds (engine/README.md, "Names"). A name is held while an entry refers
// to it; a slot is a record a name takes, kept for reuse once its name went.
struct NameCounts {
  std::uint64_t names = 0;  // devices, AORs, (AOR, contact) entries and mailboxes held (tombstones included)
  std::uint64_t slots = 0;  // at most the most names held at once plus those not yet reclaimed
};

class EngineImpl;

class Engine {
 public:
  // Creates an engine. `env` must outlive the engine. Fails when the config does not validate.
  // Nothing is sent until Start().
  static Status Create(const EngineConfig& config, Env* env, std::unique_ptr<Engine>* out);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Announces this node (a heartbeat or a catch-up request, by membership source) and arms
  // the periodic timers. Call once, after the transport can send.
  void Start();

  // ---- upcalls from the host ----

  // A frame arrived from `from`. The bytes are borrowed for the call. A frame that does not
  // parse, is too large, or comes from a node this engine must not trust is counted in
  // stats().dropped and otherwise ignored: bad input is never fatal.
  void OnFrame(NodeId from, std::span<const std::uint8_t> frame);

  // A frame that `from` addressed to `to`, another node, and that the transport carried here as
  // well: only a host whose Env::UnicastReachesEveryone() is true may call this (CpgEnv does; a
  // host may as well drop such frames, as before). The engine takes from it only what is right
  // whoever it was addressed to: the mailbox records of a MAILBOX_ENTRIES frame, last-writer-wins,
  // applied as if they had been sent here, and from a SYNC_PAGE the donor of that origin's stream,
  // which a pull of the origin then joins (engine/README.md, "Following a stream"); it answers
  // nothing. Any other frame is ignored and not counted as dropped. The frame is checked as
  // OnFrame checks one (MAC, replay window, sender in the membership); with keys, its MAC must
  // name `to` as its addressee (engine/README.md, "Mailbox repair", "Overheard entries"). `to` is
  // never kNoNode nor this node.
  void OnOverheard(NodeId from, NodeId to, std::span<const std::uint8_t> frame);

  // The transport's new membership view (MembershipSource::kTransport only; ignored and counted
  // otherwise). Nodes that left stop counting after departure_grace; nodes that joined are
  // caught up with a digest exchange.
  void OnMembership(const MembershipView& view);

  // The wakeup requested through Env::ScheduleWakeup is due.
  void OnTimer();

  // The host's transport went through every frame it had accepted: Env::SendBacklog() dropped
  // to 0. Called by hosts that report a backlog, each time that happens; a spurious call is
  // harmless. The engine retries the frames it queued after kTryAgain and sends the changes it
  // held back while the transport was busy (adaptive batching, EngineConfig::batch_window).
  void OnSendReady();

  // Replaces the cluster keys (EngineConfig::cluster_keys, same rules) on a running engine, for
  // a key rotation without downtime: every node goes from {A} to {A, B} (send with A, accept
  // both), then to {B, A}, then to {B}; at every step any two nodes accept each other's frames.
  // Frames built from now on use the new keys; frames already waiting for the transport keep
  // their MAC. Replay state is kept. Fails (changing nothing) when the keys do not validate or
  // when called from a listener. An empty list switches authentication off (logged as a warning).
  Status SetClusterKeys(std::vector<std::string> keys);
  // Whether frames are authenticated (cluster keys are configured).
  bool authenticated() const;

  // ---- local changes; each reaches the other nodes without waiting for a timer ----

  // Sets this node's contribution to `device`'s state.
  Status SetDeviceState(std::string_view device, DeviceState state);
  // Withdraws this node's contribution to `device` (the device was deprovisioned here, e.g.
  // deleted from realtime provisioning): one change, after which the cluster-wide aggregate is
  // that of the other nodes' contributions, or none. Not an error when none is held. The
  // removal is kept as a tombstone for a bounded time so an older version arriving later is
  // refused; then the device's name is freed once no node contributes (engine/README.md, "Names").
  // A later SetDeviceState contributes again.
  Status RemoveDevice(std::string_view device);
  // Writes `mailbox`'s counts; the cluster keeps the write with the latest hybrid logical clock.
  Status SetMailbox(std::string_view mailbox, const MailboxCounts& counts);
  // Removes `mailbox` (deleted from voicemail.conf, say): a write without counts that wins by
  // the latest hybrid logical clock like any other, so a later SetMailbox (on any node) brings it
  // back and an earlier one never does. The view then has no value for it (Mailbox() nullopt;
  // the listener hears a change whose new_mailbox is nullopt). Not an error when it is not held.
  // Every node keeps the removal as a tombstone until its timestamp plus a bounded keep, so a
  // node that missed it (cut off, a lost frame) does not write the old value back; then the
  // mailbox's name is freed (engine/README.md, "Names").
  Status RemoveMailbox(std::string_view mailbox);
  // Adds or refreshes the contact `info.contact` of `aor` on this node; the AOR's other contacts
  // here are untouched. `info.expires` must be in the future and within max_registration_ttl;
  // contact, path and user agent together within max_contact_bytes. A new contact when this node
  // already holds max_contacts_per_aor live contacts of `aor` first removes the one that expires
  // first (ties: the smallest contact URI), as one more change (EngineConfig).
  Status SetRegistration(std::string_view aor, const RegistrationInfo& info);
  // Removes every contact this node holds for `aor` (one change each). Removing what is not
  // held is not an error.
  Status RemoveRegistration(std::string_view aor);
  // Removes this node's contact `contact` of `aor`; not an error when it is not held.
  Status RemoveContact(std::string_view aor, std::string_view contact);

  // ---- queries ----

  // Asterisk's aggregate of every live node's contribution; nullopt when none contributes.
  std::optional<DeviceState> ClusterDeviceState(std::string_view device) const;
  // Every live node's contribution, ordered by node id.
  std::vector<DeviceContribution> DeviceContributions(std::string_view device) const;
  std::optional<MailboxValue> Mailbox(std::string_view mailbox) const;
  // The live (unexpired, not removed) contacts of `aor` on every node, ordered by node id, then
  // contact URI.
  std::vector<RegistrationView> Registrations(std::string_view aor) const;
  // Where `aor` can be reached from this node's view: every live contact, best first
  // (reachable holder with a reachable contact, then reachable holder, then the rest; within
  // each, this node first, then the freshest knowledge, then node id, then contact URI). Empty
  // when no server holds one. Costs O(contacts of the AOR); allocates the answer.
  std::vector<Location> Locate(std::string_view aor) const;

  // Visitors over the whole view, in no particular order, for dumps and convergence checks.
  void ForEachDevice(const std::function<void(std::string_view device, std::optional<DeviceState> aggregate,
                                              std::span<const DeviceContribution>)>& fn) const;
  void ForEachMailbox(const std::function<void(std::string_view mailbox, const MailboxValue&)>& fn) const;
  // One call per live contact per node, an AOR's contacts together.
  void ForEachRegistration(const std::function<void(std::string_view aor, const RegistrationView&)>& fn) const;

  ViewDigest Digest() const;
  // The counters; held_bytes is computed now, walking the store (O(entries)).
  const EngineStats& stats() const;
  // Names held and record slots allocated for them, every kind together.
  NameCounts InternedNames() const;
  // Nodes currently counted as live (this node included), sorted.
  std::vector<NodeId> Members() const;
  // The label a live node announced (EngineConfig::label), empty if not yet known.
  std::string_view NodeLabel(NodeId node) const;

  NodeId node_id() const;
  std::uint64_t incarnation() const;
  const EngineConfig& config() const;

  // The listener is borrowed; nullptr removes it.
  void SetListener(ViewListener* listener);

 private:
  explicit Engine(std::unique_ptr<EngineImpl> impl);
  std::unique_ptr<EngineImpl> impl_;
};

}  // namespace pbxstate
