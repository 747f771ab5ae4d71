// Digests, anti-entropy and catch-up sessions (obligations 2 and 3 of docs/ARCHITECTURE.md).
#include <algorithm>
#include <iterator>

#include "engine_impl.h"
#include "hash.h"
#include "pbxstate/check.h"

namespace pbxstate {

std::uint64_t EngineImpl::SummaryHash() const {
  if (summary_cache_) return *summary_cache_;
  Hasher h;
  for (const auto& [node, o] : origins_) {
    if (o.entries == 0 && o.ranges.watermark() == 0) continue;
    h.Add(node).Add(o.incarnation).Add(o.ranges.watermark()).Add(o.hash);
  }
  h.Add(mailbox_hash_);
  summary_cache_ = h.value();
  return *summary_cache_;
}

void EngineImpl::SendDigest(NodeId to, std::uint8_t mode) {
  std::vector<codec::DigestEntry> all;
  for (const auto& [node, o] : origins_) {
    if (o.entries == 0 && o.ranges.watermark() == 0) continue;
    all.push_back({node, o.incarnation, o.ranges.watermark(), o.hash});
  }
  const std::size_t per_page =
      (MaxPlainFrameBytes() - codec::kFrameHeaderBytes - codec::kDigestPrefixMaxBytes) / codec::kDigestEntryMaxBytes;
  PBXSTATE_CHECK_GT(per_page, 0u);
  std::size_t i = 0;
  do {
    const std::size_t j = std::min(all.size(), i + per_page);
    codec::Digest d;
    d.mode = static_cast<codec::DigestMode>(mode);
    d.mailbox_hash = mailbox_hash_;
    d.lo = i == 0 ? 1 : all[i].origin;
    d.hi = j == all.size() ? codec::kMailboxOrigin - 1 : all[j].origin - 1;
    d.entries.assign(all.begin() + static_cast<std::ptrdiff_t>(i), all.begin() + static_cast<std::ptrdiff_t>(j));
    SendControl(to, codec::FrameType::kDigest, [&](codec::Writer& w) { codec::EncodeDigest(w, d); });
    i = j;
  } while (i < all.size());
  ++stats_.digests_sent;
}

void EngineImpl::HandleSummary(NodeId from, const codec::Summary& s) {
  if (s.summary != SummaryHash()) {
    SendDigest(from, static_cast<std::uint8_t>(codec::DigestMode::kOffer));
  } else {
    MailboxSetEqualAt(from);  // the same summary: the same mailbox set
  }
}

void EngineImpl::HandleDigest(NodeId from, const codec::Digest& d) {
  ++stats_.digests_received;
  const NodeId self = config_.node_id;
  bool sender_behind = false;
  // Which side is newer cannot be told from a hash: the range exchange repairs both ways, so the
  // sender is not asked to start one of its own. An exchange is several round trips without
  // retransmission; when the sets have differed for sync_timeout through every exchange (heavy
  // loss), the whole-set pull with its acknowledged pages takes over, as before range repair.
  // The clock is the peer's whose digest started it, and only that peer stops it (its equal set
  // in a digest, summary or heartbeat, or its records changing this node's): the nodes that lack a write its writer's frames do not
  // reach agree with each other, and a clock their equal summaries stopped never ran out at them,
  // only at the writer, whose pull brings it nothing (swarm seed 87649; engine/README.md).
  if (d.mailbox_hash == mailbox_hash_) {
    MailboxSetEqualAt(from);
  } else if (!mailbox_differs_since_) {
    mailbox_differs_since_ = env_->Now();
    mailbox_differs_peer_ = from;
    StartMailboxRepair(from);
  } else if (env_->Now() - *mailbox_differs_since_ < config_.sync_timeout) {
    StartMailboxRepair(from);
  } else {
    mailbox_differs_since_ = env_->Now();
    mailbox_differs_peer_ = from;
    AddWant(codec::kMailboxOrigin, 0, 0, true, from);
    sender_behind = true;
  }
  // At a heal a want that another node's digest raised asks the owner first, before the owner's
  // own offer comes (OwnerOfferExpected): every puller asks it, one stream per origin.
  const MonoTime now = env_->Now();
  if (auto p = peers_.find(from); p != peers_.end() && d.lo <= from && from <= d.hi) p->second.own_offer_read = true;
  const auto ask_owner = [&](NodeId origin) {
    auto w = wants_.find(origin);
    if (w == wants_.end() || std::ranges::find(w->second.donors, origin) != w->second.donors.end() ||
        !OwnerOfferExpected(origin, from, now)) {
      return;
    }
    AddWant(origin, w->second.incarnation, w->second.target, false, origin);
  };
  for (const codec::DigestEntry& e : d.entries) {
    if (e.origin == self) {
      const OriginState& mine = origins_.at(self);
      if (e.incarnation != config_.incarnation || e.watermark < mine.ranges.watermark() || HashDiffers(self, e.hash, from)) {
        sender_behind = true;
      }
      continue;
    }
    // Entries of nodes we do not count as live are not ours to hold.
    if (!IsLive(e.origin)) continue;
    if (!NoteIncarnation(e.origin, e.incarnation)) {
      sender_behind = true;  // it still holds an incarnation we know has ended
      continue;
    }
    auto it = origins_.find(e.origin);
    const std::uint64_t my_wm = it == origins_.end() ? 0 : it->second.ranges.watermark();
    const bool held = it != origins_.end();
    if (e.watermark > my_wm) {
      AddWant(e.origin, e.incarnation, e.watermark, false, from);
      ask_owner(e.origin);
    } else if (e.watermark == my_wm && (held ? HashDiffers(e.origin, e.hash, from) : e.hash != 0)) {
      // Same coverage, different content: merge both ways, each pulling the other's in full.
      AddWant(e.origin, e.incarnation, e.watermark, true, from, my_wm);
      ask_owner(e.origin);
      sender_behind = true;
    } else if (e.watermark < my_wm) {
      sender_behind = true;
    }
  }
  if (!sender_behind) {
    for (auto it = origins_.lower_bound(d.lo); it != origins_.end() && it->first <= d.hi; ++it) {
      if (it->second.entries == 0 && it->second.ranges.watermark() == 0) continue;
      const bool listed = std::binary_search(
          d.entries.begin(), d.entries.end(), it->first,
          [](const auto& a, const auto& b) {
            if constexpr (std::is_same_v<std::decay_t<decltype(a)>, codec::DigestEntry>) {
              return a.origin < b;
            } else {
              return a < b.origin;
            }
          });
      if (!listed) {
        sender_behind = true;
        break;
      }
    }
  }
  if (d.mode == codec::DigestMode::kOffer && sender_behind) {
    SendDigest(from, static_cast<std::uint8_t>(codec::DigestMode::kReply));
  }
  StartPulls();
}

int EngineImpl::DonorRank(NodeId origin, NodeId donor) const {
  // A site-mate first: its pages cross a LAN, where a node of another site's cross the WAN.
  // Then, within either, the owner: the freshest donor of its own entries.
  const auto self_site = config_.node_sites.find(config_.node_id);
  const auto donor_site = config_.node_sites.find(donor);
  const bool far = self_site != config_.node_sites.end() &&
                   (donor_site == config_.node_sites.end() || donor_site->second != self_site->second);
  return (far ? 2 : 0) + (donor == origin ? 0 : 1);
}

namespace {

// The wanted origins in the order StartPulls tries them. Where a unicast reaches every node, from
// the want at this node's id modulo their count on, round: at a heal the nodes of one side want
// the same origins, and with more origins than pull slots each would start the same ones first,
// leaving the rest to start one at a time as pulls end, each alone at the end (on emu the fifth
// origin of the small side of call-routing-partition ran alone for the heal's last 0.6 s).
// Started at different wants, the pullers open streams of every origin at once and follow the
// others' (OverheardStream). Elsewhere in origin order, as before.
std::vector<NodeId> WantsInPullOrder(const std::map<NodeId, Want>& wants, NodeId self, bool rotate) {
  std::vector<NodeId> order;
  order.reserve(wants.size());
  for (const auto& [origin, w] : wants) order.push_back(origin);
  if (rotate && !order.empty()) {
    std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(self % order.size()), order.end());
  }
  return order;
}

// Notes page `p` of `donor`'s stream, for other pullers only (an owned origin the caller counts).
void NoteOverheardStream(std::map<NodeId, OverheardStream>& streams, NodeId donor, const codec::SyncPage& p, MonoTime now) {
  if (std::all_of(p.to.begin(), p.to.end(), [](const auto& a) { return a.last; })) {
    streams.erase(p.origin);  // its last page: the stream ends here
  } else {
    streams[p.origin] = {donor, p.incarnation, p.donor_watermark, now};
  }
}

}  // namespace

bool EngineImpl::FollowsStream(NodeId origin, Want& w, std::uint64_t since, MonoTime now) {
  auto o = overheard_streams_.find(origin);
  if (o == overheard_streams_.end()) return false;
  const OverheardStream& s = o->second;
  if (now - s.seen >= config_.sync_retransmit || s.incarnation != w.incarnation || since >= s.donor_watermark ||
      !IsLive(s.donor)) {
    return false;
  }
  // Asked first; it displaces the last donor of a full list.
  std::erase(w.donors, s.donor);
  w.donors.insert(w.donors.begin(), s.donor);
  if (w.donors.size() > kMaxWantDonors) w.donors.pop_back();
  return true;
}

void EngineImpl::StartPulls() {
  const MonoTime now = env_->Now();
  std::size_t follows = static_cast<std::size_t>(
      std::count_if(pulls_.begin(), pulls_.end(), [](const auto& p) { return p.second.follows; }));
  for (const NodeId origin : WantsInPullOrder(wants_, config_.node_id, unicast_reaches_everyone_)) {
    const bool slot_free = pulls_.size() - follows < config_.max_sync_pulls;
    if (!slot_free && follows >= config_.max_sync_pulls) break;
    auto it = wants_.find(origin);
    Want& w = it->second;
    if (w.not_before > now) continue;
    const bool busy = std::any_of(pulls_.begin(), pulls_.end(), [&](const auto& p) { return p.second.origin == origin; });
    if (busy) continue;
    std::erase_if(w.donors, [&](NodeId d) { return !IsLive(d) || d == config_.node_id; });
    const bool origin_ok = origin == codec::kMailboxOrigin ||
                           (IsLive(origin) && known_incarnation_.count(origin) != 0 &&
                            known_incarnation_.at(origin) == w.incarnation);
    std::uint64_t since = 0;
    if (origin != codec::kMailboxOrigin) {
      auto o = origins_.find(origin);
      const std::uint64_t wm = o == origins_.end() ? 0 : o->second.ranges.watermark();
      if (w.full && wm > w.full_at) ForgetStaleFullPull(w, now);
      // An earlier session may have covered what this donor offered: nothing left to pull.
      if (!w.full && wm >= w.target) {
        wants_.erase(it);
        continue;
      }
      since = w.full ? 0 : wm;
    }
    if (w.donors.empty() && origin_ok && !repair_due_) {
      // Every node that offered it has left the view (a cut during the catch-up): others may
      // hold it too, and with anti-entropy off nothing else would ever ask them. As when a
      // pull fails with no other donor (PullFromOthers): a repair round asks some peers.
      repair_due_ = now;
    }
    if (w.donors.empty() || !origin_ok) {
      wants_.erase(it);
      continue;
    }
    // A pull that joins an overheard stream costs nobody a slot; it takes one only when no
    // follower's is free.
    const bool follow = FollowsStream(origin, w, since, now) && follows < config_.max_sync_pulls;
    if (!follow && (!slot_free || WaitsForSiteMate(origin, w, now) || PullsShareOfSiteMate(origin, w.donors.front()))) {
      continue;
    }
    PullSession s;
    s.id = next_session_id_++;
    if (next_session_id_ == 0) next_session_id_ = 1;
    s.donor = w.donors.front();
    s.origin = origin;
    s.incarnation = w.incarnation;
    s.since = since;
    s.target = w.target;
    s.full = w.full;
    s.full_at = w.full_at;
    s.next_page = 0;
    s.last_progress = now;
    s.follows = follow;
    s.other_donors.assign(w.donors.begin() + 1, w.donors.end());
    s.silent = w.silent;
    wants_.erase(it);
    if (auto d = peers_.find(s.donor); d != peers_.end()) d->second.last_pull_session = s.id;  // ids only grow
    follows += follow ? 1 : 0;
    PBXSTATE_CHECK_LE(pulls_.size() + 1 - follows, config_.max_sync_pulls);
    PBXSTATE_CHECK_LE(follows, config_.max_sync_pulls);
    PBXSTATE_CHECK_NE(s.donor, config_.node_id);
    PBXSTATE_CHECK(pulls_.count(s.id) == 0);
    ++stats_.sync_sessions_started;
    SendSyncRequest(pulls_.emplace(s.id, std::move(s)).first->second);
  }
  ArmSyncTick();
}

void EngineImpl::SendSyncRequest(PullSession& s) {
  // A lost request would otherwise cost a whole sync_timeout; the donor ignores a duplicate of
  // a session it runs (HandleSyncRequest).
  s.last_request = env_->Now();
  SendControl(s.donor, codec::FrameType::kSyncRequest,
              [&](codec::Writer& w) { codec::EncodeSyncRequest(w, {s.id, s.origin, s.incarnation, s.since}); });
}

void EngineImpl::ArmSyncTick() {
  std::optional<MonoTime> next;
  auto consider = [&](MonoTime t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [key, s] : serves_) {
    if (!s.unacked.empty()) consider(s.last_send + s.rto);
    for (const ServeSession::Member& m : s.members) consider(m.last_progress + config_.sync_timeout);
  }
  for (const auto& [id, p] : pulls_) {
    consider(p.last_progress + config_.sync_timeout);
    if (p.next_page == 0) consider(p.last_request + config_.sync_retransmit);
  }
  for (const auto& [origin, w] : wants_) {
    if (w.not_before > MonoTime{}) consider(w.not_before);
    if (w.far_after > env_->Now()) consider(w.far_after);
  }
  if (const std::optional<MonoTime> open = MailboxRepairOpensAt()) {
    if (!mailbox_repair_waiting_.empty()) consider(*open);
    // Due at once when this is called after the tick (a repeat is decided at the next one).
    if (mailbox_repair_repeats_.peer != kNoNode) consider(std::max(*open, env_->Now() + Duration(1)));
  }
  sync_tick_due_ = next;
}

void EngineImpl::AbandonPull(std::map<std::uint32_t, PullSession>::iterator it, bool retry_elsewhere) {
  PullSession s = std::move(it->second);
  pulls_.erase(it);
  ++stats_.sync_sessions_abandoned;
  if (retry_elsewhere) PullFromOthers(s, s.full);
}

void EngineImpl::AbandonSlowPull(std::map<std::uint32_t, PullSession>::iterator it) {
  // A donor still in the view that sent nothing for sync_timeout is slow, not gone: on Corosync
  // a ring working off a backlog carried a request and its pages 3.9 s (wan-loss-corosync seed 2
  // on ns-3: node 8, back in the view, was the only holder of its last 142 changes). Its pages
  // then came to a closed session, and with no other donor the want was gone: the repair round
  // asks random peers, which lacked them too, and with anti-entropy off nothing asked again
  // (50 lost, 219 stale). It is asked again, after the others and a pause; a donor that never
  // answers (wedged, still in the view) is never given up either, but asked ever less often:
  // the pause doubles at each timeout in a row, up to SilentDonorPauseBound() (NextSilence).
  const PullSession s = it->second;
  AbandonPull(it, true);
  if (!IsLive(s.donor)) return;
  AddWant(s.origin, s.incarnation, s.target, s.full, s.donor, s.full_at);
  Want& w = wants_[s.origin];
  if (!HoldsDonor(w, s)) return;
  std::erase(w.donors, s.donor);
  w.donors.push_back(s.donor);
  w.silent = NextSilence(s);
  if (w.donors.front() == s.donor) w.not_before = env_->Now() + w.silent.pause;
}

SilentDonor EngineImpl::NextSilence(const PullSession& s) const {
  // Doubled when this origin's last pull timed out at the same donor too, with no page of it
  // since (HandleSyncPage clears the record) and no change of the members.
  const SilentDonor& last = s.silent;
  const bool again = last.donor == s.donor && last.pause > Duration{} && last.members_seen == stats_.membership_changes;
  const Duration pause = again ? std::min(2 * last.pause, SilentDonorPauseBound()) : config_.sync_retransmit;
  PBXSTATE_CHECK_LE(pause, SilentDonorPauseBound());
  return {s.donor, pause, stats_.membership_changes};
}

bool EngineImpl::HoldsDonor(const Want& w, const PullSession& s) {
  // AddWant declines a donor for a newer incarnation, or for a full list of donors ranked as well
  // or better (offers that came while the session ran). Moving a donor it declined would grow the
  // list past its bound, which the next AddWant's check finds (review of ed4419b).
  return w.incarnation == s.incarnation && std::ranges::find(w.donors, s.donor) != w.donors.end();
}

void EngineImpl::PullFromOthers(const PullSession& s, bool full) {
  for (NodeId d : s.other_donors) AddWant(s.origin, s.incarnation, s.target, full, d, s.full_at);
  if (s.other_donors.empty() && !repair_due_) repair_due_ = env_->Now();
}

void EngineImpl::BackOffFromBusyDonor(std::map<std::uint32_t, PullSession>::iterator it) {
  // The donor is alive and holds the data, only busy: ask the others first, then it again
  // after a pause, rather than starting a digest round that would bring more requests.
  PullSession s = std::move(it->second);
  pulls_.erase(it);
  ++stats_.sync_sessions_abandoned;
  for (NodeId d : s.other_donors) AddWant(s.origin, s.incarnation, s.target, s.full, d, s.full_at);
  AddWant(s.origin, s.incarnation, s.target, s.full, s.donor, s.full_at);
  // Behind the others of its own group only: a busy site-mate stays ahead of other sites' nodes
  // (its sessions on a LAN end soon; the far ones would cost WAN bytes), a busy far node goes last.
  Want& w = wants_[s.origin];
  if (!HoldsDonor(w, s)) return;
  std::erase(w.donors, s.donor);
  const bool far = DonorRank(s.origin, s.donor) >= 2;
  w.donors.insert(far ? w.donors.end()
                      : std::find_if(w.donors.begin(), w.donors.end(), [&](NodeId d) { return DonorRank(s.origin, d) >= 2; }),
                  s.donor);
  if (w.donors.front() == s.donor) {  // nobody else of its group to ask first: pause
    const auto spread = static_cast<std::uint64_t>(config_.sync_retransmit.count());
    w.not_before = env_->Now() + config_.sync_retransmit + Duration(static_cast<std::int64_t>(env_->Random() % (spread + 1)));
  }
}

DropReason EngineImpl::NoSessionReason(NodeId peer, std::uint32_t session, bool pulled) const {
  auto p = peers_.find(peer);
  const std::uint32_t last = p == peers_.end() ? 0 : pulled ? p->second.last_pull_session : p->second.last_served_session;
  return session != 0 && session <= last ? DropReason::kSessionClosed : DropReason::kUnexpected;
}

void EngineImpl::HandleSyncPage(NodeId from, const codec::SyncPage& p, bool overheard) {
  // A shared page names its pullers. One for others only reaches this node where a unicast
  // reaches everyone (a shared page sent once for all of them, or a plain page to another
  // puller that the host passed on as overheard): seen, not dropped.
  const auto mine = overheard ? p.to.end() : std::find_if(p.to.begin(), p.to.end(), [&](const auto& a) {
    return a.node == kNoNode || a.node == config_.node_id;
  });
  if (mine == p.to.end()) {
    if (!unicast_reaches_everyone_) {
      Drop(DropReason::kUnexpected);
    } else if (p.origin != codec::kMailboxOrigin && IsLive(p.origin)) {
      NoteOverheardStream(overheard_streams_, from, p, env_->Now());
      PBXSTATE_CHECK_LE(overheard_streams_.size(), config_.max_nodes);
      // A want of that origin waiting for a pull slot can follow the stream now.
      const bool pulled = std::any_of(pulls_.begin(), pulls_.end(), [&](const auto& s) { return s.second.origin == p.origin; });
      if (wants_.count(p.origin) != 0 && !pulled) StartPulls();
    }
    return;
  }
  const std::uint32_t session = mine->session;
  const std::uint32_t page_no = mine->page;
  const bool last = mine->last;
  auto it = pulls_.find(session);
  if (it == pulls_.end() || it->second.donor != from) {
    // A page resent while its ack was on the way, or sent before this node gave the session up.
    Drop(it == pulls_.end() ? NoSessionReason(from, session, /*pulled=*/true) : DropReason::kUnexpected);
    return;
  }
  if (p.origin != it->second.origin) {
    Drop(DropReason::kMalformed);
    return;
  }
  PullSession& pull = it->second;
  const bool known = page_no < pull.next_page || pull.ahead.count(page_no) != 0;
  if (known || page_no - pull.next_page >= config_.sync_window_pages) {
    // A duplicate is acknowledged again (its ack may have been lost); a page further ahead than a
    // window is dropped and the donor goes back after its retransmit timeout.
    if (!known) Drop(DropReason::kUnexpected);
    HoldAck(pull, pull.next_page);
    return;
  }
  it = ApplyPullPage(it, from, p);
  if (it == pulls_.end()) return;
  PBXSTATE_CHECK_LE(pulls_.size(), 2 * config_.max_sync_pulls);  // followers apart (PullSession::follows)
  PullSession& s = it->second;
  s.silent = {};  // it answers: a later timeout pauses from the start again
  ++stats_.sync_pages_received;
  if (page_no != s.next_page) {
    // Past a gap: kept, not progress; the cumulative acknowledgement still asks for the gap.
    s.ahead.insert(page_no);
    if (last) s.last_ahead_watermark = p.donor_watermark;
    PBXSTATE_CHECK_LT(s.ahead.size(), config_.sync_window_pages);
    HoldAck(s, s.next_page);
    return;
  }
  // The first page of a session whose request was sent once (last_progress is still the start,
  // the request was not sent again since): a round trip with no doubt about which copy it answers.
  if (s.next_page == 0 && s.last_request == s.last_progress) NoteRoundTrip(from, env_->Now() - s.last_request);
  ++s.next_page;
  while (s.ahead.erase(s.next_page) != 0) ++s.next_page;  // the gap filled: the pages past it count now
  s.last_progress = env_->Now();
  // A donor numbers nothing past a session's last page: with one kept past it, the pull waits.
  const std::optional<std::uint64_t> ends_at = last ? std::optional(p.donor_watermark) : s.last_ahead_watermark;
  if (ends_at && s.ahead.empty()) {
    SendSyncAck(from, session, s.next_page);  // at once: the pull ends here
    CompletePull(it, *ends_at);
  } else {
    HoldAck(s, s.next_page);
    ArmSyncTick();
  }
}

std::map<std::uint32_t, PullSession>::iterator EngineImpl::ApplyPullPage(std::map<std::uint32_t, PullSession>::iterator it,
                                                                         NodeId from, const codec::SyncPage& p) {
  const NodeId origin = p.origin;
  const std::uint32_t session = it->first;
  if (origin == codec::kMailboxOrigin) {
    for (const codec::Record& rec : p.records) {
      if (ApplyMailbox(rec, ChangeCause::kRemote)) {
        MailboxMovedBy(from);
        RepairedFrom(from);
      }
    }
    return it;
  }
  if (!IsLive(origin)) {
    AbandonPull(it, false);
    return pulls_.end();
  }
  PullSession saved = it->second;
  if (!NoteIncarnation(origin, p.incarnation)) {
    if (auto again = pulls_.find(session); again != pulls_.end()) AbandonPull(again, true);
    return pulls_.end();
  }
  // A newer incarnation voided the origin's entries and the sessions about them; this
  // donor serves the new incarnation from its start, so this session carries on as that.
  it = pulls_.find(session);
  // The target was a watermark of the ended incarnation: this donor's last page sets the new one.
  // Pages kept past a gap before (PullSession::ahead) are wanted again: voided with the entries.
  if (it == pulls_.end()) {
    it = pulls_.emplace(saved.id, saved).first;
  }
  if (p.incarnation != it->second.incarnation) {
    it->second.incarnation = p.incarnation;
    it->second.since = 0;
    it->second.target = 0;
    it->second.ahead.clear();
    it->second.last_ahead_watermark.reset();
  }
  for (const codec::Record& rec : p.records) {
    if (ApplyOwned(origin, rec, ChangeCause::kRemote)) RepairedFrom(from);
  }
  return it;
}

void EngineImpl::SendSyncAck(NodeId donor, std::uint32_t session, std::uint32_t next) {
  SendControl(donor, codec::FrameType::kSyncAck, [&](codec::Writer& w) { codec::EncodeSyncAck(w, {session, next}); });
}

void EngineImpl::HoldAck(PullSession& s, std::uint32_t next) {
  // A session's acks only grow (next_page): the one held is the latest, and it covers the ones it
  // replaces. An ack of nothing yet (a page past a gap before page 0) goes at once.
  if (!unicast_reaches_everyone_ || next == 0) {
    SendSyncAck(s.donor, s.id, next);
    return;
  }
  PBXSTATE_CHECK_GE(next, s.held_ack);
  s.held_ack = next;
  ack_due_ = env_->Now();
}

void EngineImpl::SendHeldAcks() {
  ack_due_.reset();
  // In session order: the same frames in the same order on every replay.
  for (auto& [id, s] : pulls_) {
    if (s.held_ack == 0) continue;
    SendSyncAck(s.donor, id, s.held_ack);
    s.held_ack = 0;
  }
}

void EngineImpl::CompletePull(std::map<std::uint32_t, PullSession>::iterator it, std::uint64_t donor_watermark) {
  PullSession& s = it->second;
  const NodeId origin = s.origin;
  // A donor that is behind what another one offered (its digest was sent before its own
  // catch-up, or it missed changes behind a cut) completes short of the target: the pull goes
  // on with the others, from the watermark reached (a full pull merged what differed already;
  // what is missing is newer). Without this, and with anti-entropy off, nothing would ever ask
  // again.
  bool short_of_target = false;
  if (origin != codec::kMailboxOrigin) {
    OriginState& o = OriginFor(origin);
    o.ranges.Add(s.since, donor_watermark);
    StoreChanged();
    short_of_target = o.ranges.watermark() < s.target;
  } else {
    // Mailboxes merge by last writer: another donor that differed may hold newer writes.
    for (NodeId d : s.other_donors) AddWant(codec::kMailboxOrigin, 0, 0, true, d);
  }
  ++stats_.sync_sessions_completed;
  const PullSession done = std::move(s);
  pulls_.erase(it);
  if (short_of_target) PullFromOthers(done, /*full=*/false);
  StartPulls();
}

void EngineImpl::HandleSyncRefuse(NodeId from, const codec::SyncRefuse& r) {
  auto it = pulls_.find(r.session);
  if (it == pulls_.end() || it->second.donor != from) {
    Drop(it == pulls_.end() ? NoSessionReason(from, r.session, /*pulled=*/true) : DropReason::kUnexpected);
    return;
  }
  if (r.reason == codec::RefuseReason::kBusy) {
    BackOffFromBusyDonor(it);
  } else {
    AbandonPull(it, true);
  }
  StartPulls();
}

void EngineImpl::SyncTick(MonoTime now) {
  sync_tick_due_.reset();
  ServeTick(now);
  for (auto it = pulls_.begin(); it != pulls_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_progress >= config_.sync_timeout) {
      AbandonSlowPull(it);
    } else if (it->second.next_page == 0 && now - it->second.last_request >= config_.sync_retransmit) {
      SendSyncRequest(it->second);  // no page yet: the request or its answer may have been lost
    }
    it = next;
  }
  for (auto& [origin, w] : wants_) {
    if (w.not_before <= now) w.not_before = MonoTime{};
  }
  MailboxRepairTick(now);
  StartPulls();
}

void EngineImpl::AntiEntropyTick(bool repair) {
  const std::uint64_t mine = SummaryHash();
  std::vector<NodeId> candidates = AntiEntropyCandidates(mine, repair);
  if (candidates.empty()) return;
  codec::BeginFrame(&frame_buf_, codec::FrameType::kSummary, config_.node_id, config_.incarnation);
  codec::Writer w(&frame_buf_);
  codec::EncodeSummary(w, {mine});
  codec::EndFrame(&frame_buf_);
  // One peer per round; a repair asks up to join_digest_fanout of them (every peer of a
  // 1,000-node cluster answering with a full digest would be a storm).
  const std::size_t asks = repair ? std::min(config_.join_digest_fanout, candidates.size()) : 1;
  const std::vector<std::uint8_t> frame = frame_buf_;
  if (!repair && SpeakersOn() && config_.node_sites.at(candidates.front()) != OwnSite()) {
    // A round to another site's speaker (all candidates are then): the nearest, whose exchange
    // ends soonest and whose pages cross the shortest WAN link.
    Send(NearestSpeaker(candidates), frame);
    return;
  }
  for (std::size_t i = 0; i < asks; ++i) {
    const std::size_t pick = i + static_cast<std::size_t>(env_->Random() % (candidates.size() - i));
    std::swap(candidates[i], candidates[pick]);
    Send(candidates[i], frame);
  }
}

void EngineImpl::ForgetSessionsWith(NodeId node) {
  for (auto it = pulls_.begin(); it != pulls_.end();) {
    auto next = std::next(it);
    if (it->second.donor == node) AbandonPull(it, true);
    it = next;
  }
  for (auto it = serves_.begin(); it != serves_.end();) {
    it->second.Leave([&](const ServeSession::Member& m) { return m.puller == node; });
    if (it->second.members.empty()) {
      it = serves_.erase(it);
      continue;
    }
    it->second.AdvanceWindow(env_->Now(), config_);  // the others go on without it
    PumpServe(it->second);
    ++it;
  }
  std::erase_if(overheard_streams_, [&](const auto& e) { return e.first == node || e.second.donor == node; });
  // A restarted puller numbers its sessions from 1 again.
  if (auto p = peers_.find(node); p != peers_.end()) p->second.served_sessions.clear();
  for (auto& [origin, w] : wants_) std::erase(w.donors, node);
  // A mailbox exchange cut off with its peer, or one that was waiting for it: others may hold
  // the difference too, and with anti-entropy off nothing else would ask them (as StartPulls
  // does for a want whose donors all left).
  const auto waits = [node](const MailboxRepairWaiter& w) { return w.peer == node; };
  const bool exchange_cut = mailbox_repair_partner_ == node && MailboxRepairBusy(env_->Now());
  const bool was_waiting = std::any_of(mailbox_repair_waiting_.begin(), mailbox_repair_waiting_.end(), waits);
  if ((exchange_cut || was_waiting) && !repair_due_) repair_due_ = env_->Now();
  std::erase_if(mailbox_repair_waiting_, waits);
  if (mailbox_repair_crossed_ == node) mailbox_repair_crossed_ = kNoNode;
}

}  // namespace pbxstate
