// The engine's private state and the methods its implementation files share:
//   engine.cc          public facade, local changes, queries
//   store.cc           the entry store: applying versions, hashes, listener events, expiry
//   engine_names.cc    interned names: releasing a name no entry refers to, reclaiming its id
//   engine_net.cc      frames in and out: batching, send queue, dispatch of received frames
//   engine_sync.cc     digests, anti-entropy, pulls; engine_serve.cc: the donor's streams (state: sync_sessions.h)
//   engine_mailbox_repair.cc  range-digested repair of the mailbox set
//   engine_members.cc  membership, failure detector, departures, timers
//   engine_relay.cc    sites and relays: a frame for everyone once per site, passed on inside it
//   engine_speaker.cc  site speakers: the heartbeats and anti-entropy that cross the WAN
// The store's records (devices, contacts, mailboxes, origins, horizons): store_records.h.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "codec.h"
#include "devstate_aggregate.h"
#include "frame_auth.h"
#include "held_bytes.h"
#include "hlc.h"
#include "interner.h"
#include "mailbox_index.h"
#include "mailbox_repair_state.h"
#include "pending_changes.h"
#include "pbxstate/engine.h"
#include "received_ranges.h"
#include "replay_window.h"
#include "store_records.h"
#include "sync_sessions.h"
#include "pbxstate/check.h"

namespace pbxstate {

struct Peer {
  bool live = false;
  bool departing = false;  // left the membership, still counting until depart_deadline
  MonoTime depart_deadline{};
  MonoTime last_heard{};
  MonoTime departed_at{};  // when it last departed (a speaker's older news of it is not news)
  // The relay whose RELAY frame carried its last frame, or the speaker of its site whose
  // heartbeat said it was heard; kNoNode when its last frame came from it directly. When that
  // node departs, this one gets a fresh suspect_after to be heard through another.
  NodeId heard_via = kNoNode;
  std::optional<std::uint64_t> summary;  // from its last heartbeat
  std::string label;
  // Its catch-up sessions this node last finished serving (completed, timed out or refused), at
  // most kServedSessionMemory, oldest first: a copy of their SYNC_REQUEST that arrives later
  // (the puller resends it every sync_retransmit until a page or a refusal comes, and a round
  // trip can be longer than that) is a duplicate, not a new session.
  std::deque<std::uint32_t> served_sessions;
  // The greatest session id this node opened with it as the donor, and the greatest of its own
  // sessions this node started to serve (this incarnation of it; 0: none). Session ids only grow
  // (a node numbers its pulls from 1), so a page, refusal or ack for an id up to these that no
  // open session has is a late copy of a closed one (DropReason::kSessionClosed), however long
  // ago it closed, where served_sessions remembers only the last few.
  std::uint32_t last_pull_session = 0;
  std::uint32_t last_served_session = 0;
  // When it last joined this node's view, and whether a digest of its own entries from it has
  // been read since: until then, at a heal, its offer of its origin is on its way
  // (EngineImpl::OwnerOfferExpected).
  MonoTime joined_at{};
  bool own_offer_read = false;
};

// Released names wait for a reclaim until at least this many (and an eighth of the names held)
// do: below it a reclaim's scan would cost more than the slots it saves.
inline constexpr std::size_t kReclaimMinReleased = 64;

class EngineImpl {
 public:
  EngineImpl(const EngineConfig& config, Env* env);

  // ---- engine.cc ----
  void Start();
  Status SetDeviceState(std::string_view device, DeviceState state);
  Status SetMailbox(std::string_view mailbox, const MailboxCounts& counts);
  Status SetRegistration(std::string_view aor, const RegistrationInfo& info);
  Status RemoveRegistration(std::string_view aor);
  Status RemoveContact(std::string_view aor, std::string_view contact);
  Status RemoveDevice(std::string_view device);
  Status RemoveMailbox(std::string_view mailbox);
  Status WriteLocalMailbox(std::string_view mailbox, codec::Record& rec);
  std::optional<DeviceState> ClusterDeviceState(std::string_view device) const;
  std::vector<DeviceContribution> DeviceContributions(std::string_view device) const;
  std::optional<MailboxValue> Mailbox(std::string_view mailbox) const;
  std::vector<RegistrationView> Registrations(std::string_view aor) const;
  std::vector<Location> Locate(std::string_view aor) const;
  void ForEachDevice(const std::function<void(std::string_view, std::optional<DeviceState>,
                                              std::span<const DeviceContribution>)>& fn) const;
  void ForEachMailbox(const std::function<void(std::string_view, const MailboxValue&)>& fn) const;
  void ForEachRegistration(const std::function<void(std::string_view, const RegistrationView&)>& fn) const;
  ViewDigest Digest() const;
  std::vector<NodeId> Members() const;
  std::string_view NodeLabel(NodeId node) const;

  // Applies a change this node made to one of its own entries (its sequence number already
  // taken), and queues it for the other nodes.
  Status CommitOwnChange(const codec::Record& rec);

  // ---- store.cc ----
  // Applies one owned-entry record of `origin` (whose incarnation is current). Returns true when
  // it changed something. `entry_id`, when given, receives the id of the entry's name whenever
  // the record was taken (interned or found; the name may be released again by the return): a
  // caller that needs the id does not look the name up again.
  bool ApplyOwned(NodeId origin, const codec::Record& rec, ChangeCause cause, std::uint32_t* entry_id = nullptr);
  // Applies a mailbox write or removal (greatest (hlc, writer) wins). Returns true when it changed
  // the view (a removal taken as a tombstone of nothing, or of another removal, changes none).
  // `entry_id` as for ApplyOwned.
  bool ApplyMailbox(const codec::Record& rec, ChangeCause cause, std::uint32_t* entry_id = nullptr);
  // Drops every owned entry of `origin` and forgets its ranges (departure or restart).
  void DropOrigin(NodeId origin, ChangeCause cause);
  // Makes `incarnation` the current one of `origin`; returns false when it is older than one
  // already seen (the caller refuses what carried it).
  bool NoteIncarnation(NodeId origin, std::uint64_t incarnation);
  OriginState& OriginFor(NodeId origin);
  void ExpireRegistrations(std::int64_t now_ns);
  // Whether `their_hash`, a digest's hash of `origin` at the watermark this node holds, shows a
  // difference in content: takes the expiries due first; an origin with an expiry taken within
  // sync_retransmit differs maybe only by the digest's transit: `from` is offered this node's
  // digest after that instead (false then). engine/README.md, "Catch-up sessions".
  bool HashDiffers(NodeId origin, std::uint64_t their_hash, NodeId from);
  // Rebuilds the expiry heap from the registrations held: refreshes leave superseded items
  // behind, and the rebuild keeps the heap proportional to what is held.
  void RebuildExpiries();
  std::uint64_t MailboxSetHash() const { return mailbox_hash_; }
  codec::Record DeviceRecordFor(std::uint32_t device, const Contribution& c) const;
  codec::Record RegistrationRecordFor(std::uint32_t contact, const Registration& r) const;
  codec::Record MailboxRecordFor(std::uint32_t mailbox) const;
  const Contribution* FindContribution(std::uint32_t device, NodeId node) const;
  const Registration* FindRegistration(std::uint32_t contact, NodeId node) const;
  void CompactContactIds(OriginState& o, NodeId origin);
  void CompactDeviceIds(OriginState& o, NodeId origin);
  // The device branch of ApplyOwned.
  bool ApplyDevice(NodeId origin, const codec::Record& rec, ChangeCause cause, std::uint32_t* entry_id);
  // How long a removal's tombstone is kept (config.h, pbxstate::TombstoneKeep).
  Duration TombstoneKeep() const { return pbxstate::TombstoneKeep(config_); }
  // Drops the device tombstones whose horizon came (and their names with their last entry).
  void ExpireDeviceTombstones(MonoTime now);
  // When the tombstone of a mailbox removal stamped `hlc` goes, on the wall clock.
  std::int64_t MailboxHorizonNs(const HlcTimestamp& hlc) const { return hlc.physical_ns + TombstoneKeep().count(); }
  // Drops the mailbox tombstones whose horizon came, and their names, once TombstoneHoldEndNs()
  // has passed too.
  void ExpireMailboxTombstones(std::int64_t now_ns);
  // The wall time before which no mailbox tombstone goes: the keep counted from when every node
  // this one has heard of was last back in its view (whole_since_ns_); nullopt while one is away,
  // when no tombstone goes at all (engine/README.md, "Removing a mailbox": a removal survives any
  // partition that heals). No sentinel time: a caller must say what "held" means to it.
  std::optional<std::int64_t> TombstoneHoldEndNs() const;
  // Drops the mailbox tombstone with the earliest horizon if that horizon is at or before
  // `now_ns` (skipping superseded items); false when there is none.
  bool ReleaseOldestMailboxTombstone(std::int64_t now_ns);
  // Whether a mailbox removal stamped `hlc` is gone at wall time `now_ns`: its horizon and the
  // hold have both passed, so a copy of it that arrives now is stale, not kept again.
  bool MailboxTombstoneGone(const HlcTimestamp& hlc, std::int64_t now_ns) const {
    const std::optional<std::int64_t> hold_end_ns = TombstoneHoldEndNs();
    return hold_end_ns && *hold_end_ns <= now_ns && MailboxHorizonNs(hlc) <= now_ns;
  }
  // Whether one more entry fits under max_entries. At the bound it makes room by dropping the
  // oldest mailbox tombstone past its horizon (one held only for a node that is away), if any.
  bool RoomForEntry();

  // ---- engine_memory.cc ----
  // The bytes this engine holds on the heap, counted from its containers' capacities
  // (held_bytes.h; engine/README.md, "Memory"): the store (interned names and their entries),
  // the indexes (mailbox ranges, per-origin ids and ranges, expiry and tombstone queues), the
  // queues of frames and changes, the sessions, peers and replay state. O(slots + entries):
  // computed when Engine::stats() is read, not kept up to date.
  std::uint64_t HeldBytes() const;
  std::size_t StoreBytes() const;
  std::size_t QueueBytes() const;
  std::size_t SessionBytes() const;

  // ---- engine_names.cc ----
  // Interns a device or mailbox name, or the contact entry `entry_name` of `aor` (and `aor` in
  // aor_index_ when it is new), not held yet, reclaiming released ids first when enough wait
  // (ReclaimNames).
  std::uint32_t InternDevice(std::string_view name);
  std::uint32_t InternMailbox(std::string_view name);
  std::uint32_t InternContact(std::string_view entry_name, std::string_view aor);
  // Releases device `id` / contact entry `id` (and its AOR's index with its last contact entry)
  // when its record holds nothing any more (its last contribution, registration or tombstone
  // went). Call after the change's Emit: the event's key points into the record's name.
  void ReleaseDeviceIfEmpty(std::uint32_t id);
  void ReleaseContactIfEmpty(std::uint32_t id);
  // Forgets mailbox `id`, a tombstone whose horizon came: out of the index, its name released.
  void ReleaseMailboxTombstone(std::uint32_t id);
  // Hands released ids out again once nothing refers to them: drops them from every origin's
  // contact_ids (device_ids never hold them), and keeps released the ids a serving catch-up
  // session or a held change still names. O(ids held by origins + session items + slots);
  // InternDevice/InternContact call it once at least kReclaimMinReleased and an eighth of the
  // names held wait, so its cost per released name is constant.
  void ReclaimNames();
  // The live contacts `node` holds for `aor` (ids in contacts_), in contact order.
  std::vector<std::uint32_t> LiveContactsOf(std::string_view aor, NodeId node) const;

  // ---- engine_net.cc ----
  void OnFrame(NodeId from, std::span<const std::uint8_t> frame);
  // One frame, from `from` (the transport's sender), or, when `via` is a relay, carried in that
  // relay's RELAY frame (the sender is then the frame's own, checked by its MAC when keys are set).
  void Receive(NodeId from, std::span<const std::uint8_t> frame, NodeId via, NodeId overheard_to = kNoNode);
  // ---- overheard mailbox entries (engine_net.cc, engine_mailbox_repair.cc) ----
  // Engine::OnOverheard: Receive with overheard_to, the node a mailbox repair frame was addressed
  // to; Receive checks it as any frame, then hands it to ApplyOverheard.
  void OnOverheard(NodeId from, NodeId to, std::span<const std::uint8_t> frame);
  // A repair frame of `type` that `from` sent to another node, decoded: notes that an exchange
  // runs (mailbox_overhearing_.last), and applies MAILBOX_ENTRIES' records as HandleMailboxEntries
  // does, but answers nothing; a record already held (or held newer) is skipped uncounted.
  void ApplyOverheard(NodeId from, codec::FrameType type);
  // The earliest instant this node may open an exchange: its own and overheard repair traffic
  // quiet, its stagger over (StaggerMailboxRepair); nullopt: at once.
  std::optional<MonoTime> MailboxRepairOpensAt() const;
  bool MailboxRepairMayOpen(MonoTime now) const;
  void StaggerMailboxRepair(MonoTime now);  // holds openings for this node's rank in the view
  MailboxOverhearing mailbox_overhearing_;  // (mailbox_repair_state.h)
  // ---- end of overheard mailbox entries ----
  // Logs, at most once a second, which peer sent a mailbox frame whose body was refused for `why`
  // (other frame types are counted only).
  void LogRefusedBody(const codec::FrameHeader& h, DropReason why);
  // Applies the records of an UPDATES frame from `sender` (authenticated, its incarnation
  // current) and notes their sequence range, asking for what a gap left out.
  void ApplyUpdates(NodeId sender, const codec::Updates& updates);
  // The frames of a RELAY frame from `relay`, one by one.
  void ReceiveRelayed(NodeId relay, const codec::Relay& relay_frame);
  // Queues a local change for the other nodes: sent at once when batching is off or the
  // transport is ready, else held until it is (adaptive batching, EngineConfig::batch_window).
  void MarkPending(EntryKind kind, std::uint32_t id);
  void FlushPending();
  // A local change that would leave at once (nothing held, no flush armed, the transport ready:
  // MarkPending's test) is encoded, sealed and handed to the host here, before the engine applies
  // it, so that its digest, index and stats updates run while the frame travels. Returns whether
  // it was sent; the caller then applies `rec` and checks that the entry equals what was sent
  // (CheckSentAsApplied). `rec` must be what FlushPending would build from the applied entry.
  bool SendAloneFirst(const codec::Record& rec);
  // Aborts unless the entry `id` of this node, as applied, is the record SendAloneFirst sent.
  void CheckSentAsApplied(const codec::Record& rec, std::uint32_t id) const;
  // Encodes `records` (ascending sequence numbers) into UPDATES frames from flushed_seq_ up to
  // own_seq_, sends them and starts the next pacing interval (grown when `flushing_held`).
  void SendUpdates(std::span<const codec::Record> records, bool flushing_held);
  // Whether held changes may leave now: the engine's own send queue is empty, the host reports
  // no backlog (Env::SendBacklog: 0, or cannot tell), and the pacing since the last UPDATES
  // flush is over (PacingEnd).
  bool TransportReady();
  // When the pacing since the last flush ends (nullopt: no flush yet): pace_ after it, or
  // earlier, batch_window after the later of that flush and the last change made (a quiet gap
  // ends a stream's pacing: EngineConfig::batch_window_max). With pace_ at batch_window this is
  // the flush plus batch_window.
  std::optional<MonoTime> PacingEnd() const;
  // batch_window after the later of the last flush and the last change: a quiet gap ends there.
  MonoTime QuietGapEnd() const {
    PBXSTATE_CHECK(last_flush_);
    return (last_change_ ? std::max(*last_flush_, *last_change_) : *last_flush_) + config_.batch_window;
  }
  // Notes a local change as the last activity, after the caller judged the quiet gap before it;
  // a pacing that gap ended stays ended until the next flush (paced_until_ moves to its end).
  void NoteLocalChange();
  // The longest pacing interval: batch_window_max, or batch_window when that is longer.
  Duration LongestPace() const { return std::max(config_.batch_window, config_.batch_window_max); }
  // Sets flush_due_ for the held changes: the end of the pacing interval when nothing else
  // holds them, else held_since_ + pace_ (the upper bound).
  void ArmFlush();
  // flush_due_ has come: flush, unless the transport is busy and the bound is still ahead.
  void FlushHeldIfDue(MonoTime now);
  // Engine::OnSendReady, and the same after the engine's own send queue drained: the queue first,
  // then the changes held back.
  void OnSendReady();
  void SendHeldChanges();
  void Send(NodeId to, const std::vector<std::uint8_t>& frame);  // to == kNoNode: broadcast
  // The frame as it goes on the wire: `plain`, or sealed for `to` into sealed_buf_ with keys.
  const std::vector<std::uint8_t>& Seal(NodeId to, const std::vector<std::uint8_t>& plain);
  // Hands a wire frame to the host (or the send queue when it is congested) and counts it.
  void Transmit(NodeId to, const std::vector<std::uint8_t>& wire);

  // ---- engine_relay.cc (engine/README.md, "Sites and relays") ----
  // node_sites empty: every node is a site of its own, whose relay is itself: today's fan-out.
  // Never on a transport whose unicast reaches every node anyway (Env::UnicastReachesEveryone).
  bool RelaysOn() const {
    return config_.relays_per_site > 0 && !config_.node_sites.empty() && !unicast_reaches_everyone_;
  }
  // Whether frames may go to `node`: itself, a live peer, or (heartbeat membership, within
  // suspect_after of the start) a node of node_sites not heard of yet.
  bool PresumedUp(NodeId node) const;
  // The relay of `site` for frames of `origin`: one of the relays_per_site lowest-id nodes of the
  // site that are PresumedUp, picked by a hash of `origin`; when none is, the site's lowest-id
  // node of the probe rotation (a probe; ProbeTarget); kNoNode for a site nobody is in.
  NodeId RelayFor(std::uint32_t site, NodeId origin) const;
  // Where frames for a site where nobody is up go: its nodes in turn, one per heartbeat this node
  // sends (probe_rotation_), so that a down node cannot keep two sides of a healed cut apart.
  NodeId ProbeTarget(const std::vector<NodeId>& site_nodes) const;
  // A frame for everyone, sealed: one copy to each site's relay (held here when this node is its
  // own site's relay); with `own_site_only`, to this node's own site's relay alone.
  void SendToSites(const std::vector<std::uint8_t>& wire, bool own_site_only = false);
  // Sends a sealed HEARTBEAT straight to every node of this node's site it does not count as up.
  void ProbeDownSiteMates(const std::vector<std::uint8_t>& wire);
  // Holds `frame` of `origin` to pass on to the other live nodes of this node's site.
  void HoldForRelay(NodeId origin, std::span<const std::uint8_t> frame);
  // Sends the held frames, in one RELAY frame per destination (without the destination's own).
  void FlushRelay();

  // ---- engine_speaker.cc (engine/README.md, "Sites and relays", "Speakers") ----
  // Whether heartbeats and anti-entropy cross the WAN through site speakers: relays on, the
  // heartbeat failure detector, and more than one site. Otherwise nothing here changes anything.
  bool SpeakersOn() const {
    return RelaysOn() && config_.membership == MembershipSource::kHeartbeat && site_nodes_.size() > 1;
  }
  std::uint32_t OwnSite() const { return config_.node_sites.at(config_.node_id); }  // Validate() requires it
  // The speaker of `site`: its lowest-id node that is PresumedUp; kNoNode when none is.
  NodeId SpeakerOf(std::uint32_t site) const;
  // Whether this node speaks for its site (no lower-id site-mate is PresumedUp).
  bool SpeaksForSite() const { return SpeakerOf(OwnSite()) == config_.node_id; }
  // Whether this node acts for its site in anti-entropy across the WAN: it speaks for it, or it
  // is its standby (the next in line, the second lowest-id node of the site that is up) and has
  // not heard the speaker for StandInAfter() (engine/README.md, "Speakers", standby).
  bool ActsForSite() const;
  // How long a speaker's silence makes its standby stand in: two heartbeat intervals (a speaker
  // heartbeats every interval, without skipping), when that is shorter than suspect_after;
  // otherwise never before the speaker departs.
  Duration StandInAfter() const { return 2 * config_.heartbeat_interval; }
  // For this node's heartbeat as its site's speaker: how long ago it last heard each live
  // site-mate, as many as fit one frame beside `label_bytes` of label (rotating through them
  // when more are live).
  std::vector<codec::SiteMateHeard> SiteMatesHeard(std::size_t label_bytes);
  // A heartbeat of `speaker` (of another site; it came through `via` or straight) says when it
  // last heard its site-mates: each is heard then, through `speaker`, and joins when it had
  // departed before that instant.
  void NoteSiteMatesHeard(NodeId speaker, const std::vector<codec::SiteMateHeard>& mates);
  // The peers an anti-entropy round may offer its summary to (summary not known equal to
  // `mine`): with speakers, a site-mate, or, every other round of a speaker, another site's
  // speaker; with `repair`, either kind.
  std::vector<NodeId> AntiEntropyCandidates(std::uint64_t mine, bool repair);
  // A round trip measured to `node`: a sample of the WAN to its site if another (site_rtt_).
  void NoteRoundTrip(NodeId node, Duration rtt);
  // Of other sites' `speakers`, the nearest measured, then the lowest id (README, "Speakers").
  NodeId NearestSpeaker(const std::vector<NodeId>& speakers) const;
  // Whether this node knows it lacks changes of a node of another site: changes above a gap in
  // what it covered of that origin (a relay that died took the ones in between).
  bool LacksChangesOfOtherSites() const;
  // From OnTimer: when this node has just started to act for its site (its speaker departed or
  // fell silent, or at the start), its next anti-entropy round is now and goes to another site:
  // it may be the only one of its site to ask the others for what the silent speaker's site
  // missed.
  void NoteSpeakerChange(MonoTime now);
  // Records from `from` (a pull page, mailbox entries) changed this node's store: when this node
  // acts for its site and `from` is of another site, what it brought is likely missing at the
  // site-mates too (a relay that died took it from the whole site), and this node offers them
  // its digest soon (SpeakerHoldoff()), once for everything repaired meanwhile.
  void RepairedFrom(NodeId from);
  // An UPDATES frame of `origin` left a gap in what this node covered of it: when this node
  // acts for its site and `origin` is of another site, it asks another site's speaker after
  // SpeakerHoldoff() if the gap is still there (frames reordered on the way fill it meanwhile),
  // at most once per half anti_entropy_interval. The first frame through a new relay after a
  // relay died is what shows its loss: the repair starts then, not at the next round.
  void NoteGap(NodeId origin);
  // How long a speaker waits before acting on a repair (a pull of several origins completes
  // within it, and one digest covers them) or a gap (reordered frames arrive within it).
  Duration SpeakerHoldoff() const { return config_.sync_retransmit / 5; }
  // From OnTimer, when gap_round_due_ came.
  void GapRound(MonoTime now);
  // Offers this node's digest to every live site-mate (from OnTimer).
  void OfferDigestToSiteMates();
  void DrainSendQueue();
  void Drop(DropReason why) { ++stats_.dropped[static_cast<std::size_t>(why)]; }
  // With keys: checks the MAC, the destination and the replay state of an authenticated frame
  // from `from` whose header parsed, before anything else in it is used; records its counter
  // when it passes. Without keys: refuses a frame that carries a MAC. Counts what it refuses.
  // `overheard_to` (not kNoNode): the frame was overheard, addressed to that node, and its MAC
  // must name it.
  bool Authenticate(NodeId from, const codec::FrameHeader& h, NodeId overheard_to);
  // The largest unauthenticated frame to build: what the MAC and its header fields leave of
  // max_frame_bytes once Send seals it.
  // With relays, every frame is planned to fit, sealed, inside a RELAY frame that is itself sealed.
  std::size_t MaxPlainFrameBytes() const {
    const std::size_t auth = auth_.enabled() ? codec::kAuthOverheadBytes : 0;
    return config_.max_frame_bytes - auth - (RelaysOn() ? codec::kRelayOverheadBytes + auth : 0);
  }
  // The largest unauthenticated RELAY frame to build.
  std::size_t MaxPlainRelayFrameBytes() const {
    return config_.max_frame_bytes - (auth_.enabled() ? codec::kAuthOverheadBytes : 0);
  }
  Status SetClusterKeys(std::vector<std::string> keys);
  std::string AuthDescription() const;

  // ---- engine_sync.cc, engine_serve.cc ----
  // A hash of (origin, incarnation, watermark, content hash) for every origin held, and of the
  // mailbox set: equal summaries mean nothing to exchange. Cached until the store changes.
  std::uint64_t SummaryHash() const;
  void StoreChanged() { summary_cache_.reset(); }
  void SendDigest(NodeId to, std::uint8_t mode);
  // join_digest_holdoff after a view brought joiners: this node's digest to them (OnTimer).
  void SendJoinDigests();
  void HandleSummary(NodeId from, const codec::Summary& s);
  void HandleDigest(NodeId from, const codec::Digest& d);
  // Whether a want of `origin` that `from`'s digest offered asks the owner too, before the
  // owner's own offer comes (HandleDigest adds it as a donor, ranked first): where a unicast
  // reaches every node, `from` is not the owner, the owner is a site-mate that joined this node's
  // view less than OwnerOfferWindow() ago, and no digest of its own entries from it has been read
  // since (Peer::own_offer_read). At a heal every node offers each node of the other side what it
  // holds, and which digest a puller reads first (a join digest, an offer that answers a summary,
  // a reply) is the ring's order; asking whichever came first put an origin's streams at other
  // nodes than its owner, which the other pullers then followed (on emu nodes 3 and 6 served
  // 456 to 599 pages each). The owner holds all of its own entries: every puller asks it, one
  // stream per origin, without waiting for its offer (a wait for it, route20's, cost up to
  // join_digest_holdoff where an anti-entropy offer came before the join digests).
  bool OwnerOfferExpected(NodeId origin, NodeId from, MonoTime now) const;
  // How long after the owner joined it is asked before its offer: it sends its join digest
  // join_digest_holdoff after its own view changed, and sync_retransmit covers the views'
  // delivery apart and the trip; past that its offer is not on its way.
  Duration OwnerOfferWindow() const { return config_.join_digest_holdoff + config_.sync_retransmit; }
  // The whole-set fallback's clock (HandleDigest) stops when `from` is the peer whose digest
  // started it and `from`'s records changed this node's mailbox set (MailboxMovedBy: the
  // difference moved) or a digest, summary or heartbeat of it showed the sets equal (gone).
  void MailboxMovedBy(NodeId from) { MailboxSetEqualAt(from); }
  void MailboxSetEqualAt(NodeId from) {
    if (from == mailbox_differs_peer_) mailbox_differs_since_.reset();
  }
  // A transport view changed the members: the clock stops, whoever started it (OnMembership).
  void MailboxMembersChanged() {
    mailbox_differs_since_.reset();
    mailbox_overhearing_.stagger_due = true;
    mailbox_overhearing_.view_changed = env_->Now();
  }
  void HandleSyncRequest(NodeId from, const codec::SyncRequest& r);
  // Why a catch-up frame that fits no open session is dropped: kSessionClosed when `session` is
  // one this node opened with `peer` as its donor (`pulled`: a page or refusal) or started
  // serving to it (an ack), and is closed now; kUnexpected otherwise.
  DropReason NoSessionReason(NodeId peer, std::uint32_t session, bool pulled) const;
  // Refuses `to`'s session `session` for `why` (SYNC_REFUSE).
  void SendSyncRefuse(NodeId to, std::uint32_t session, codec::RefuseReason why);
  // Adds `from` to a stream whose snapshot covers request `r` ("Catch-up sessions"); false: none.
  bool JoinServe(NodeId from, const codec::SyncRequest& r);
  void HandleSyncPage(NodeId from, const codec::SyncPage& p, bool overheard = false);  // overheard: only noted
  // Applies a page of pull `it` (in order or past a gap); pulls_.end() if the pull ended on it.
  std::map<std::uint32_t, PullSession>::iterator ApplyPullPage(std::map<std::uint32_t, PullSession>::iterator it, NodeId from,
                                                              const codec::SyncPage& p);
  // Ends pull `it` at its last page (the donor's watermark `donor_watermark`), and goes on with
  // the other donors when that leaves this node short of the pull's target.
  void CompletePull(std::map<std::uint32_t, PullSession>::iterator it, std::uint64_t donor_watermark);
  void HandleSyncAck(NodeId from, const codec::SyncAck& a);
  void HandleSyncRefuse(NodeId from, const codec::SyncRefuse& r);
  // Notes that `donor` offers `origin` up to watermark `target` (or, `full`, content that
  // differs at an equal watermark; `full_at` is this node's watermark when a digest showed it with
  // another hash). For the mailbox set every differing donor is kept: each may hold the latest
  // write of some mailbox.
  void AddWant(NodeId origin, std::uint64_t incarnation, std::uint64_t target, bool full, NodeId donor,
               std::uint64_t full_at = 0);
  // Where `donor` stands among the donors of `origin`, lower asked first (engine/README.md,
  // "Catch-up sessions"): 0 the owner of the origin in this node's site, 1 another site-mate, 2
  // the owner in another site, 3 another node of another site. Without node_sites (or without
  // this node in it) every node is a site-mate.
  int DonorRank(NodeId origin, NodeId donor) const;
  // Whether a pull of `w` from its first donor waits for a site-mate's offer: the donor is of
  // another site, speakers are on, and this node does not act for its site; it waits at most
  // anti_entropy_interval from the first such offer (Want::far_after, set here), about one round
  // of its speaker's, and then asks across the WAN after all.
  bool WaitsForSiteMate(NodeId origin, Want& w, MonoTime now);
  // Whether this node already pulls its share of site-mate `donor`'s max_sync_serves (at least
  // one session): with speakers, a node that does not act for its site pulls what its speaker
  // fetched across the WAN from that site-mate, as do all its site-mates at once (the speaker
  // offers to all of them together). Past the donor's limit they would be refused and back off
  // for sync_retransmit or more (or wait to pull across the WAN); within it they take turns at
  // LAN speed.
  bool PullsShareOfSiteMate(NodeId origin, NodeId donor) const;
  // A full want whose hashes were compared at a watermark this node has since passed (a pull ran
  // meanwhile) is no reason to pull everything again: the want keeps its donors and target, and
  // the donors are offered this node's digest after sync_retransmit (recheck_targets_).
  void ForgetStaleFullPull(Want& w, MonoTime now);
  // Whether `w`, pulled from `since`, can join an overheard stream (whose donor it then asks first).
  bool FollowsStream(NodeId origin, Want& w, std::uint64_t since, MonoTime now);
  void StartPulls();
  // Sends (again) the SYNC_REQUEST that opens pull session `s`.
  void SendSyncRequest(PullSession& s);
  // Encodes a frame of `type` into frame_buf_, its body written by `encode_body(writer)`, and
  // sends it to `to`: the catch-up's requests, acks, refusals and digest pages.
  template <typename EncodeBody>
  void SendControl(NodeId to, codec::FrameType type, EncodeBody&& encode_body) {
    codec::BeginFrame(&frame_buf_, type, config_.node_id, config_.incarnation);
    codec::Writer w(&frame_buf_);
    encode_body(w);
    codec::EndFrame(&frame_buf_);
    Send(to, frame_buf_);
  }
  // Acknowledges the pages of `session` below `next` to `donor` (SYNC_ACK).
  void SendSyncAck(NodeId donor, std::uint32_t session, std::uint32_t next);
  // Acknowledges the pages of `s` below `next`: at once where a unicast reaches one node; where it
  // reaches every node (CPG), once the frames delivered with this one are read (ack_due_ is now:
  // the host runs the timer after its dispatch), one ack per session for all they brought. There
  // an ack is a message of the ring that every node receives, and a donor's window of pages comes
  // in one token visit: one ack per page was three in four of a heal's catch-up frames on emu.
  void HoldAck(PullSession& s, std::uint32_t next);
  void SendHeldAcks();  // ack_due_: every session's held ack leaves
  void AbandonPull(std::map<std::uint32_t, PullSession>::iterator it, bool retry_elsewhere);
  // A pull without progress for sync_timeout: abandoned, its donor asked again if still live.
  void AbandonSlowPull(std::map<std::uint32_t, PullSession>::iterator it);
  // The pause before a donor that let `s` time out without a page is asked again (SilentDonor).
  SilentDonor NextSilence(const PullSession& s) const;
  // The longest such pause: 4 sync_timeouts (engine/README.md, "Catch-up sessions").
  Duration SilentDonorPauseBound() const { return 4 * config_.sync_timeout; }
  // Goes on with what `s` (ended) was to bring: its other donors are wanted again (`full`: from
  // the start, else from the watermark reached), or, when it had none, a repair round looks for
  // another.
  void PullFromOthers(const PullSession& s, bool full);
  void BackOffFromBusyDonor(std::map<std::uint32_t, PullSession>::iterator it);
  // Whether `w` (after AddWant of `s`'s donor) lists that donor for `s`'s incarnation: only then
  // may it be moved within the list.
  static bool HoldsDonor(const Want& w, const PullSession& s);
  // Sends what the window of `s` allows: pages to resend after a timeout, then new ones, each cut
  // for the members whose last page is not cut yet; a page goes to its members still without it,
  // one frame for all where a unicast reaches everyone, else a copy each.
  void PumpServe(ServeSession& s);
  // Members silent for sync_timeout leave; at a retransmit timeout laggards are refused, or go back N.
  void ServeTick(MonoTime now);
  // Appends to `records` the current records of s.items from `start` on, stopping before `stop`
  // or before the first that would take the page past `budget` bytes. Returns where it stopped.
  std::size_t CollectPageRecords(const ServeSession& s, std::size_t start, std::size_t stop, std::size_t budget,
                                 std::vector<codec::Record>* records);
  // Encodes a page of `s` for `to` holding `records` into frame_buf_ (one addressee: a plain page).
  void EncodeSyncPage(const ServeSession& s, const std::vector<codec::SyncPageAddressee>& to,
                      const std::vector<codec::Record>& records);
  void SyncTick(MonoTime now);
  // Sets sync_tick_due_ to the earliest retransmit, timeout or retry among sessions and wants.
  void ArmSyncTick();
  // Offers this node's summary to one peer (whose summary differs, with heartbeats), or to up
  // to join_digest_fanout peers when `repair` (after a failed pull, to find another donor).
  void AntiEntropyTick(bool repair = false);
  void ForgetSessionsWith(NodeId node);

  // ---- engine_mailbox_repair.cc ----
  // The mailbox set differs from `peer`'s: opens a range exchange with it, or, while an exchange
  // is running here, remembers the peer for when it goes quiet.
  void StartMailboxRepair(NodeId peer);
  // Remembers `peer` for when this node is idle (each peer once, at most max_nodes), with the
  // opening it sent when there is one: that opening is answered then, in the peer's exchange.
  void DeferMailboxRepair(NodeId peer, std::optional<codec::MailboxRanges> opening);
  void HandleMailboxRanges(NodeId from, const codec::MailboxRanges& m);
  // Answers `m` from the store as it is now (children, entries, or nothing where equal).
  void AnswerMailboxRanges(NodeId from, const codec::MailboxRanges& m);
  void HandleMailboxEntries(NodeId from, const codec::MailboxEntries& e);
  // Sends `ranges` (one level, sorted) in as many MAILBOX_RANGES frames as max_frame_bytes needs.
  void SendMailboxRanges(NodeId to, codec::RangesMode mode, std::uint32_t level, std::uint64_t salt,
                         const std::vector<codec::MailboxRange>& ranges);
  // Sends the current values of mailboxes `ids` in MAILBOX_ENTRIES frames of max_frame_bytes.
  void SendMailboxEntries(NodeId to, const std::vector<std::uint32_t>& ids);
  // How long after its last frame an exchange counts as over: sync_retransmit / 5 (50 ms by
  // default). Shorter (10 ms) was measured worse at 20 servers and 100,000 mailboxes: exchanges
  // still running counted as over, ran side by side and brought the same entries twice.
  Duration MailboxRepairQuiet() const { return config_.sync_retransmit / 5; }
  // Whether a mailbox repair frame went either way in the last MailboxRepairQuiet().
  bool MailboxRepairBusy(MonoTime now) const;
  // When idle, opens the exchange with the next remembered peer (from SyncTick).
  void MailboxRepairTick(MonoTime now);
  // Opens (or answers) the waiting peers' exchanges in turn while this node is not busy.
  void MailboxRepairStartWaiting(MonoTime now);
  // A repair frame from mailbox_repair_crossed_ answered this node's opening: the peer is no
  // longer waiting.
  void MailboxRepairAnswered(NodeId peer);
  // A repair frame came from `peer`: an exchange this node opened with it got an answer.
  void NoteMailboxRepairAnswer(NodeId peer);
  // Quiet after an exchange this node opened, with anti-entropy off: queues its peer to be opened
  // again, until kMailboxRepairSilentRepeats openings in a row got no answer (the sets are equal,
  // as far as anyone can tell) or kMailboxRepairMaxRepeats repeats were made.
  void MailboxRepairRepeat();

  // ---- engine_members.cc ----
  void OnMembership(const MembershipView& view);
  void OnTimer();
  void HeardFrom(NodeId node, NodeId via = kNoNode);
  // The failure detector's round: departs live peers silent for suspect_after; a peer last heard
  // through a relay or a speaker only after that node (it then gets a fresh suspect_after when
  // that node departs in the same round or had departed).
  void SuspectSilentPeers(MonoTime now);
  void PeerJoined(NodeId node);
  void SetCounted(NodeId node, bool counted);
  // Whether this node is one of the join_digest_fanout that send `joiner` their digest.
  bool AmongJoinHelpers(NodeId joiner) const;
  void PeerDeparted(NodeId node);
  bool IsLive(NodeId node) const;      // counted and accepted: self, or a live peer
  bool IsCounted(NodeId node) const;   // its entries count: live or within its grace
  // Asks the Env for a wakeup at the earliest deadline; returns that deadline.
  std::optional<MonoTime> Rearm();
  void SendHeartbeat();
  MonoTime Jittered(MonoTime base, Duration interval);

  // ---- shared state ----
  void NotifyMembers();
  void Emit(const ViewChange& change);
  Status CheckKey(std::string_view key, const char* what) const;
  Status CheckMutable() const;
  std::uint64_t EntriesHeld() const {
    return stats_.device_entries + stats_.mailbox_entries + stats_.registration_entries + tombstones_ +
           device_tombstones_ + mailbox_tombstones_;
  }

  EngineConfig config_;
  Env* env_;
  // env_->UnicastReachesEveryone(), read once at construction (env.h: it never changes).
  const bool unicast_reaches_everyone_;
  codec::DecodeLimits limits_;
  ViewListener* listener_ = nullptr;
  bool in_callback_ = false;
  bool started_ = false;
  // The deadlines Rearm reads, together: every local change and every frame received ends in a
  // Rearm, and cold, each cache line of them is a miss (engine/README.md, "One change's cost").
  std::optional<MonoTime> flush_due_;        // when the held changes may leave (ArmFlush)
  std::optional<MonoTime> send_retry_due_;   // the send queue's next try
  std::optional<MonoTime> relay_due_;        // when relay_held_ leaves
  std::optional<MonoTime> site_offer_due_;   // RepairedFrom
  std::optional<MonoTime> gap_round_due_;    // NoteGap
  std::optional<MonoTime> heartbeat_due_;
  std::optional<MonoTime> anti_entropy_due_;
  std::optional<MonoTime> join_digest_due_;
  std::optional<MonoTime> departure_due_;
  std::optional<MonoTime> suspicion_due_;
  std::optional<MonoTime> sync_tick_due_;
  std::optional<MonoTime> ack_due_;          // HoldAck: when the held acknowledgements leave
  // A pull failed with no other donor known: one digest exchange now finds one, even when the
  // periodic anti-entropy is off.
  std::optional<MonoTime> repair_due_;
  std::optional<MonoTime> scheduled_wakeup_;  // the wakeup last asked of the Env
  EngineStats stats_;

  Interner<DeviceRecord> devices_;
  Interner<ContactRecord> contacts_;
  Interner<AorIndex> aor_index_;
  Interner<MailboxRecord> mailboxes_;
  std::uint64_t mailbox_hash_ = 0;
  MailboxIndex mailbox_index_;  // the same set as ranges, for repair; tombstones included (hash 0)
  std::uint64_t mailbox_tombstones_ = 0;  // removed mailboxes kept until their horizon
  // The wall time since which every node in peers_ is live (a view that held everyone it has heard
  // of); nullopt while one is away. Set at creation (no peer yet) and by NotifyMembers.
  std::optional<std::int64_t> whole_since_ns_;
  // One item per mailbox tombstone made, earliest horizon first; items of superseded tombstones
  // are skipped, and compacted away past 4 x mailbox_tombstones_ + 1,024.
  std::priority_queue<MailboxHorizon, std::vector<MailboxHorizon>, std::greater<>> mailbox_horizons_;
  std::uint64_t tombstones_ = 0;  // dead registrations kept to refuse older versions
  std::uint64_t device_tombstones_ = 0;  // dead device contributions, likewise
  // One item per device tombstone made, in deadline order (the keep is one duration on the
  // monotonic clock); items of superseded tombstones are skipped, and compacted away past
  // 2 x device_tombstones_ + 1,024.
  std::deque<DeviceHorizon> device_horizons_;
  mutable std::optional<std::uint64_t> summary_cache_;
  std::map<NodeId, OriginState> origins_;           // self included
  std::map<NodeId, std::uint64_t> known_incarnation_;  // survives drops; bounded by max_nodes
  std::priority_queue<ExpiryItem, std::vector<ExpiryItem>, std::greater<>> expiries_;
  HybridClock hlc_;

  std::uint64_t own_seq_ = 0;
  std::uint64_t flushed_seq_ = 0;     // own changes up to here were put in frames
  PendingChanges pending_;
  std::optional<MonoTime> held_since_;   // the first change held since the last flush
  std::optional<MonoTime> paced_until_;  // no UPDATES flush before this (pace_ after the last)
  std::optional<MonoTime> last_flush_;   // the last UPDATES flush (batching on)
  std::optional<MonoTime> last_change_;  // the last local change queued (batching on)
  // The pacing interval after the last flush: batch_window, doubled by each flush of held
  // changes up to LongestPace(), back to batch_window at a change sent at once.
  Duration pace_{};

  struct Outgoing {
    NodeId to;  // kNoNode: broadcast
    std::vector<std::uint8_t> bytes;
  };
  std::deque<Outgoing> send_queue_;
  std::vector<std::uint8_t> frame_buf_;
  // FlushPending's records, kept to reuse their capacity up to kFlushRecordsKept (a few KiB).
  static constexpr std::size_t kFlushRecordsKept = 64;
  std::vector<codec::Record> flush_records_;
  // Authentication (empty when config_.cluster_keys is): frames sealed with a counter that grows
  // by one per frame in this incarnation; per-sender replay state, kept for every sender ever
  // accepted (a departed node's too, so its old frames stay refused), at most max_nodes - 1.
  FrameAuthenticator auth_;
  std::uint64_t auth_counter_ = 0;
  std::map<NodeId, ReplayWindow> replay_;
  std::vector<std::uint8_t> sealed_buf_;
  codec::Updates updates_buf_;
  codec::SyncPage page_buf_;
  codec::Digest digest_buf_;
  codec::MailboxRanges ranges_buf_;
  codec::MailboxEntries mailbox_entries_buf_;

  std::map<NodeId, Peer> peers_;  // every node heard of, self excluded
  // Sites and relays: the nodes of every site of config_.node_sites, ascending; the frames held
  // to pass on (origin, sealed bytes; at most one RELAY frame's worth) and when they leave.
  std::map<std::uint32_t, std::vector<NodeId>> site_nodes_;
  std::vector<std::pair<NodeId, std::vector<std::uint8_t>>> relay_held_;
  std::size_t relay_held_bytes_ = 0;
  std::vector<std::uint8_t> relay_buf_;
  codec::Relay relay_in_buf_;
  // Speakers: where the next heartbeat's list of site-mates starts when not all fit one frame,
  // and the anti-entropy rounds made (a speaker's alternate between its site and the others).
  std::size_t site_mates_rotation_ = 0;
  std::uint64_t probe_rotation_ = 0;  // heartbeats sent: which node of a down site is probed
  std::uint64_t anti_entropy_rounds_ = 0;
  std::map<std::uint32_t, Duration> site_rtt_;  // other sites measured (NoteRoundTrip); bounded by node_sites
  bool acted_for_site_ = false;             // at the last NoteSpeakerChange
  bool remote_round_next_ = false;          // the next round of a speaker goes to another site
  std::optional<MonoTime> last_gap_round_;
  MonoTime started_at_{};
  // Nodes whose entries count (this one, live peers, departing ones within their grace),
  // sorted. Kept as joins and departures happen: a cold start of N nodes makes N(N-1) joins,
  // each reported to the listener with this list.
  std::vector<NodeId> counted_;
  std::uint64_t view_id_ = 0;
  MonoTime last_broadcast_{};       // any frame proves liveness: heartbeats are skipped after one
  MonoTime last_heartbeat_{};
  std::set<NodeId> join_digest_targets_;
  // Peers whose digest compared while an expiry may have been in flight (HashDiffers): they are
  // offered this node's digest at recheck_due_, when no digest can still be that old.
  std::set<NodeId> recheck_targets_;
  std::optional<MonoTime> recheck_due_;

  std::map<NodeId, Want> wants_;
  std::map<std::uint32_t, PullSession> pulls_;
  std::map<NodeId, OverheardStream> overheard_streams_;  // by origin, counted origins only
  ServeMap serves_;
  std::uint32_t next_session_id_ = 1;
  // Mailbox repair: when a repair frame last went either way, and the peers whose sets differed
  // while an exchange was running (each once, at most max_nodes), first come first served.
  std::optional<MonoTime> mailbox_repair_last_;
  // The peer of the exchange this node takes part in (opened or answered); one at a time.
  NodeId mailbox_repair_partner_ = kNoNode;
  // The peer this node last opened an exchange with, and when: two nodes that open exchanges with
  // each other at once (each heard the other's digest) go on with the one the smaller id opened.
  std::optional<std::pair<NodeId, MonoTime>> mailbox_repair_opened_;
  std::deque<MailboxRepairWaiter> mailbox_repair_waiting_;  // (mailbox_repair_state.h)
  // Exchanges this node has opened: with its id and incarnation, the seed of each
  // exchange's salt (not drawn from Env::Random, which also times digests and picks donors).
  std::uint64_t mailbox_repair_opened_count_ = 0;
  // The peer whose crossed opening this node did not answer, and queued for that alone: it may
  // have refused this node's opening (busy) rather than answered it. Its answer takes it off the
  // queue again; kNoNode when there is none.
  NodeId mailbox_repair_crossed_ = kNoNode;
  // With anti-entropy off: the exchange opened last, opened again once quiet (MailboxRepairRepeat).
  MailboxRepairRepeats mailbox_repair_repeats_;
  std::optional<MonoTime> malformed_logged_;  // refusals are logged at most once a second
  // The fallback to the whole-set pull (HandleDigest): since when mailbox_differs_peer_'s
  // digests have shown its mailbox set different from this node's, without a digest, summary or
  // heartbeat of it showing the two equal, records from it changing this node's set, or a
  // transport view changing the members, meanwhile.
  std::optional<MonoTime> mailbox_differs_since_;
  NodeId mailbox_differs_peer_ = kNoNode;
};

}  // namespace pbxstate
