// Digests, anti-entropy and catch-up sessions (obligations 2 and 3 of docs/ARCHITECTURE.md).
#include <algorithm>
#include <iterator>

#include "engine_impl.h"
#include "hash.h"
#include "pbxstate/check.h"

namespace pbxstate {

namespace {

// A served session's go-back-N window and congestion state, after every change to it: the pages
// in flight are exactly acked..next_page-1, one mark each, in order, never more than the window;
// the cursor stays within the snapshot; the congestion window and timer stay usable.
void CheckServe(const ServeSession& s, const EngineConfig& config) {
  PBXSTATE_CHECK_LE(s.acked, s.next_page);
  const std::size_t in_flight = s.next_page - s.acked;
  PBXSTATE_CHECK_EQ(s.unacked.size(), in_flight);
  PBXSTATE_CHECK_LE(in_flight, config.sync_window_pages);
  if (!s.unacked.empty()) {
    PBXSTATE_CHECK_EQ(s.unacked.front().page, s.acked);
    PBXSTATE_CHECK_EQ(s.unacked.back().page + 1, s.next_page);
    PBXSTATE_CHECK_LE(s.unacked.back().start, s.cursor);
  }
  PBXSTATE_CHECK_LE(s.device_items, s.items.size());
  PBXSTATE_CHECK_LE(s.cursor, s.items.size());
  PBXSTATE_CHECK(!s.sent_last || s.cursor == s.items.size());
  PBXSTATE_CHECK(!s.sent_last || s.next_page > 0);
  PBXSTATE_CHECK_GE(s.cwnd, 1.0);
  PBXSTATE_CHECK_LE(s.cwnd, std::max(2.0, static_cast<double>(config.sync_window_pages)));
  PBXSTATE_CHECK_GT(s.rto, Duration::zero());
}

}  // namespace

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
    codec::BeginFrame(&frame_buf_, codec::FrameType::kDigest, config_.node_id, config_.incarnation);
    codec::Writer w(&frame_buf_);
    codec::EncodeDigest(w, d);
    codec::EndFrame(&frame_buf_);
    Send(to, frame_buf_);
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
    } else if (e.watermark == my_wm && (held ? HashDiffers(e.origin, e.hash, from) : e.hash != 0)) {
      // Same coverage, different content: merge both ways, each pulling the other's in full.
      AddWant(e.origin, e.incarnation, e.watermark, true, from, my_wm);
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

void EngineImpl::StartPulls() {
  const MonoTime now = env_->Now();
  for (auto it = wants_.begin(); it != wants_.end() && pulls_.size() < config_.max_sync_pulls;) {
    const NodeId origin = it->first;
    Want& w = it->second;
    if (w.not_before > now) {
      ++it;
      continue;
    }
    const bool busy = std::any_of(pulls_.begin(), pulls_.end(), [&](const auto& p) { return p.second.origin == origin; });
    if (busy) {
      ++it;
      continue;
    }
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
        it = wants_.erase(it);
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
      it = wants_.erase(it);
      continue;
    }
    if (WaitsForSiteMate(origin, w, now) || PullsShareOfSiteMate(origin, w.donors.front())) {
      ++it;
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
    s.other_donors.assign(w.donors.begin() + 1, w.donors.end());
    it = wants_.erase(it);
    if (auto d = peers_.find(s.donor); d != peers_.end()) d->second.last_pull_session = s.id;  // ids only grow
    PBXSTATE_CHECK_LT(pulls_.size(), config_.max_sync_pulls);
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
  codec::BeginFrame(&frame_buf_, codec::FrameType::kSyncRequest, config_.node_id, config_.incarnation);
  codec::Writer wr(&frame_buf_);
  codec::EncodeSyncRequest(wr, {s.id, s.origin, s.incarnation, s.since});
  codec::EndFrame(&frame_buf_);
  Send(s.donor, frame_buf_);
}

void EngineImpl::ArmSyncTick() {
  std::optional<MonoTime> next;
  auto consider = [&](MonoTime t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [key, s] : serves_) {
    if (!s.unacked.empty()) consider(s.last_send + s.rto);
    consider(s.last_progress + config_.sync_timeout);
  }
  for (const auto& [id, p] : pulls_) {
    consider(p.last_progress + config_.sync_timeout);
    if (p.next_page == 0) consider(p.last_request + config_.sync_retransmit);
  }
  for (const auto& [origin, w] : wants_) {
    if (w.not_before > MonoTime{}) consider(w.not_before);
    if (w.far_after > env_->Now()) consider(w.far_after);
  }
  if (!mailbox_repair_waiting_.empty() && mailbox_repair_last_) {
    consider(*mailbox_repair_last_ + MailboxRepairQuiet());
  }
  if (mailbox_repair_repeats_.peer != kNoNode && mailbox_repair_last_) {
    // Due at once when this is called after the tick (a repeat is decided at the next one).
    consider(std::max(*mailbox_repair_last_ + MailboxRepairQuiet(), env_->Now() + Duration(1)));
  }
  sync_tick_due_ = next;
}

void EngineImpl::AbandonPull(std::map<std::uint32_t, PullSession>::iterator it, bool retry_elsewhere) {
  PullSession s = std::move(it->second);
  pulls_.erase(it);
  ++stats_.sync_sessions_abandoned;
  if (retry_elsewhere) PullFromOthers(s, s.full);
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

bool EngineImpl::ServedAlready(NodeId puller, std::uint32_t session) const {
  auto p = peers_.find(puller);
  if (p == peers_.end()) return false;
  const std::deque<std::uint32_t>& done = p->second.served_sessions;
  return std::find(done.begin(), done.end(), session) != done.end();
}

DropReason EngineImpl::NoSessionReason(NodeId peer, std::uint32_t session, bool pulled) const {
  auto p = peers_.find(peer);
  const std::uint32_t last = p == peers_.end() ? 0 : pulled ? p->second.last_pull_session : p->second.last_served_session;
  return session != 0 && session <= last ? DropReason::kSessionClosed : DropReason::kUnexpected;
}

void EngineImpl::RememberServed(NodeId puller, std::uint32_t session) {
  auto p = peers_.find(puller);
  if (p == peers_.end()) return;
  std::deque<std::uint32_t>& done = p->second.served_sessions;
  done.push_back(session);
  if (done.size() > kServedSessionMemory) done.pop_front();
  PBXSTATE_CHECK_LE(done.size(), kServedSessionMemory);
}

std::map<std::pair<NodeId, std::uint32_t>, ServeSession>::iterator EngineImpl::FinishServe(
    std::map<std::pair<NodeId, std::uint32_t>, ServeSession>::iterator it) {
  RememberServed(it->second.puller, it->second.id);
  return serves_.erase(it);
}

void EngineImpl::HandleSyncRequest(NodeId from, const codec::SyncRequest& r) {
  if (serves_.count({from, r.session}) != 0) return;  // a duplicated request: the session is running
  if (ServedAlready(from, r.session)) return;          // a late copy: the session is over
  auto refuse = [&](codec::RefuseReason why) {
    // The puller gives the session up on this answer; a copy of the request still on its way
    // must not start it here after all (a session nobody pulls would hold a slot until
    // sync_timeout, and the puller's next request would be refused for it again).
    RememberServed(from, r.session);
    codec::BeginFrame(&frame_buf_, codec::FrameType::kSyncRefuse, config_.node_id, config_.incarnation);
    codec::Writer w(&frame_buf_);
    codec::EncodeSyncRefuse(w, {r.session, why});
    codec::EndFrame(&frame_buf_);
    Send(from, frame_buf_);
  };
  // A session whose last page is sent waits only for acks, and a puller opens its next session
  // the moment a page completes one: its request and its last ack cross, and the request may
  // land first. Such sessions count apart, up to as many again (engine/README.md, "Catch-up
  // sessions").
  const auto finishing = static_cast<std::size_t>(
      std::count_if(serves_.begin(), serves_.end(), [](const auto& e) { return e.second.sent_last; }));
  if (serves_.size() - finishing >= config_.max_sync_serves || serves_.size() >= 2 * config_.max_sync_serves) {
    ++stats_.sync_serves_refused;
    refuse(codec::RefuseReason::kBusy);
    return;
  }
  ServeSession s;
  s.id = r.session;
  s.puller = from;
  s.origin = r.origin;
  if (r.origin == codec::kMailboxOrigin) {
    s.incarnation = 0;
    s.donor_watermark = 0;
    for (std::uint32_t id = 0; id < mailboxes_.size(); ++id) {
      if (mailboxes_[id].value) s.items.push_back(id);
    }
    s.device_items = 0;
  } else {
    auto it = origins_.find(r.origin);
    if (it == origins_.end() || !IsCounted(r.origin)) {
      refuse(codec::RefuseReason::kNotHeld);
      return;
    }
    OriginState& o = it->second;
    if (o.incarnation < r.incarnation) {
      refuse(codec::RefuseReason::kStale);
      return;
    }
    // A request about an older incarnation is answered with the current one in full.
    const std::uint64_t since = o.incarnation == r.incarnation ? r.since : 0;
    s.incarnation = o.incarnation;
    s.donor_watermark = o.ranges.watermark();
    CompactDeviceIds(o, r.origin);
    for (std::uint32_t id : o.device_ids) {
      const Contribution* c = FindContribution(id, r.origin);
      if (c != nullptr && c->seq > since) s.items.push_back(id);
    }
    s.device_items = s.items.size();
    CompactContactIds(o, r.origin);
    for (std::uint32_t id : o.contact_ids) {
      const Registration* reg = FindRegistration(id, r.origin);
      if (reg != nullptr && reg->seq > since) s.items.push_back(id);
    }
  }
  s.last_progress = env_->Now();
  auto [it, inserted] = serves_.emplace(std::make_pair(from, r.session), std::move(s));
  PBXSTATE_CHECK(inserted);
  PBXSTATE_CHECK_LE(serves_.size(), 2 * config_.max_sync_serves);
  // With several pulls at once a puller's requests can arrive out of order: the greatest so far.
  if (auto p = peers_.find(from); p != peers_.end()) p->second.last_served_session = std::max(p->second.last_served_session, r.session);
  PumpServe(it->second);
  StartPulls();  // arms the sync tick
}

std::size_t EngineImpl::CollectPageRecords(const ServeSession& s, std::size_t start, std::size_t stop,
                                           std::size_t budget, std::vector<codec::Record>* records) {
  std::size_t bytes = 0;
  std::size_t i = start;
  for (; i < stop; ++i) {
    const std::uint32_t id = s.items[i];
    codec::Record rec;
    bool have = true;
    if (s.origin == codec::kMailboxOrigin) {
      have = mailboxes_[id].value.has_value();  // a tombstone gone past its horizon since the snapshot
      if (have) rec = MailboxRecordFor(id);
    } else if (i < s.device_items) {
      const Contribution* c = FindContribution(id, s.origin);
      have = c != nullptr;
      if (have) rec = DeviceRecordFor(id, *c);
    } else {
      const Registration* reg = FindRegistration(id, s.origin);
      have = reg != nullptr;  // gone past its horizon since the snapshot
      if (have) rec = RegistrationRecordFor(id, *reg);
    }
    if (!have) continue;
    const std::size_t n = codec::EncodedRecordBytes(rec);
    if (bytes + n > budget) break;
    bytes += n;
    records->push_back(rec);
  }
  return i;
}

void EngineImpl::EncodeSyncPage(const ServeSession& s, std::uint32_t page_no, bool last,
                                const std::vector<codec::Record>& records) {
  codec::SyncPage page;
  page.session = s.id;
  page.page = page_no;
  page.last = last;
  page.origin = s.origin;
  page.incarnation = s.incarnation;
  page.donor_watermark = s.donor_watermark;
  codec::BeginFrame(&frame_buf_, codec::FrameType::kSyncPage, config_.node_id, config_.incarnation);
  codec::Writer w(&frame_buf_);
  codec::EncodeSyncPagePrefix(w, page, static_cast<std::uint32_t>(records.size()));
  for (const codec::Record& rec : records) codec::EncodeRecord(w, rec);
  codec::EndFrame(&frame_buf_);
  PBXSTATE_CHECK_LE(frame_buf_.size(), MaxPlainFrameBytes());
}

void EngineImpl::PumpServe(ServeSession& s) {
  const std::size_t budget = MaxPlainFrameBytes() - codec::kFrameHeaderBytes - codec::kSyncPagePrefixMaxBytes;
  std::vector<codec::Record> records;
  if (s.rto == Duration{}) s.rto = config_.sync_retransmit;
  const auto window = std::min<std::size_t>(config_.sync_window_pages, std::max<std::size_t>(1, static_cast<std::size_t>(s.cwnd)));
  while (s.in_flight < window) {
    records.clear();
    if (s.in_flight < s.unacked.size()) {  // after a timeout: go back N, the very same items
      ServeSession::Mark& m = s.unacked[s.in_flight++];
      m.sent = env_->Now();
      m.resent = true;
      s.last_send = m.sent;
      ++stats_.sync_pages_sent;
      ++stats_.sync_pages_resent;
      if (CollectPageRecords(s, m.start, m.end, budget, &records) == m.end) {
        EncodeSyncPage(s, m.page, m.end == s.items.size(), records);
        Send(s.puller, frame_buf_);
      } else {
        Send(s.puller, m.frame);  // grown past a frame since: as first sent
      }
      continue;
    }
    if (s.sent_last) break;
    const std::size_t start = s.cursor;
    s.cursor = CollectPageRecords(s, start, s.items.size(), budget, &records);
    const bool last = s.cursor == s.items.size();
    EncodeSyncPage(s, s.next_page, last, records);
    s.unacked.push_back({s.next_page, start, s.cursor, env_->Now(), false, frame_buf_});
    s.in_flight = s.unacked.size();
    PBXSTATE_CHECK_LE(s.unacked.size(), config_.sync_window_pages);
    ++s.next_page;
    s.sent_last = last;
    s.last_send = env_->Now();
    ++stats_.sync_pages_sent;
    Send(s.puller, frame_buf_);
  }
  CheckServe(s, config_);
}

void EngineImpl::HandleSyncAck(NodeId from, const codec::SyncAck& a) {
  auto it = serves_.find({from, a.session});
  if (it == serves_.end()) {
    // A page resent while its ack was on the way is acked twice, and the second copy can land
    // after the first closed the session: expected. An ack for no session of ours is not.
    Drop(NoSessionReason(from, a.session, /*pulled=*/false));
    return;
  }
  ServeSession& s = it->second;
  if (a.next_page > s.next_page) {
    Drop(DropReason::kMalformed);  // acknowledges a page never sent
    return;
  }
  if (a.next_page > s.acked) {
    const MonoTime now = env_->Now();
    const double newly = a.next_page - s.acked;
    s.acked = a.next_page;
    std::optional<Duration> sample;
    while (!s.unacked.empty() && s.unacked.front().page < s.acked) {
      if (!s.unacked.front().resent) sample = now - s.unacked.front().sent;
      s.unacked.pop_front();
      if (s.in_flight > 0) --s.in_flight;
    }
    if (sample) {
      NoteRoundTrip(from, *sample);
      // RFC 6298: srtt and rttvar, rto = srtt + 4 rttvar, never below 1 ms.
      if (s.srtt == Duration{}) {
        s.srtt = *sample;
        s.rttvar = *sample / 2;
      } else {
        const Duration err = *sample > s.srtt ? *sample - s.srtt : s.srtt - *sample;
        s.rttvar = (3 * s.rttvar + err) / 4;
        s.srtt = (7 * s.srtt + *sample) / 8;
      }
      // At least twice the round trip and a fifth of sync_retransmit: on a link with a constant
      // delay rttvar falls to 0, and a timer of exactly one round trip fires as the ack lands.
      s.rto = std::clamp<Duration>(std::max(s.srtt + 4 * s.rttvar, 2 * s.srtt), config_.sync_retransmit / 5,
                                   config_.sync_timeout / 2);
    }
    if (s.ssthresh == 0 || s.cwnd < s.ssthresh) {
      s.cwnd += newly;                 // slow start
    } else {
      s.cwnd += newly / s.cwnd;        // congestion avoidance
    }
    s.cwnd = std::min<double>(s.cwnd, static_cast<double>(config_.sync_window_pages));
    s.last_progress = now;
    PBXSTATE_CHECK_LE(s.rto, config_.sync_timeout / 2 > config_.sync_retransmit ? config_.sync_timeout / 2
                                                                                 : config_.sync_retransmit);
  }
  CheckServe(s, config_);
  if (s.sent_last && s.acked == s.next_page) {
    FinishServe(it);
  } else {
    PumpServe(s);
  }
  ArmSyncTick();
}

void EngineImpl::HandleSyncPage(NodeId from, const codec::SyncPage& p) {
  auto it = pulls_.find(p.session);
  if (it == pulls_.end() || it->second.donor != from) {
    // A page resent while its ack was on the way, or sent before this node gave the session up.
    Drop(it == pulls_.end() ? NoSessionReason(from, p.session, /*pulled=*/true) : DropReason::kUnexpected);
    return;
  }
  if (p.origin != it->second.origin) {
    Drop(DropReason::kMalformed);
    return;
  }
  auto ack = [&](std::uint32_t next) {
    codec::BeginFrame(&frame_buf_, codec::FrameType::kSyncAck, config_.node_id, config_.incarnation);
    codec::Writer w(&frame_buf_);
    codec::EncodeSyncAck(w, {p.session, next});
    codec::EndFrame(&frame_buf_);
    Send(from, frame_buf_);
  };
  if (p.page != it->second.next_page) {
    // A duplicate is acknowledged again (its ack may have been lost); a page past a gap is
    // dropped and the donor goes back after its retransmit timeout.
    if (p.page > it->second.next_page) Drop(DropReason::kUnexpected);
    ack(it->second.next_page);
    return;
  }
  const NodeId origin = p.origin;
  if (origin != codec::kMailboxOrigin) {
    if (!IsLive(origin)) {
      AbandonPull(it, false);
      return;
    }
    PullSession saved = it->second;
    if (!NoteIncarnation(origin, p.incarnation)) {
      if (auto again = pulls_.find(p.session); again != pulls_.end()) AbandonPull(again, true);
      return;
    }
    // A newer incarnation voided the origin's entries and the sessions about them; this
    // donor serves the new incarnation from its start, so this session carries on as that.
    it = pulls_.find(p.session);
    // The target was a watermark of the ended incarnation: this donor's last page sets the new one.
    if (it == pulls_.end()) {
      saved.incarnation = p.incarnation;
      saved.since = 0;
      saved.target = 0;
      it = pulls_.emplace(saved.id, saved).first;
    } else if (p.incarnation != it->second.incarnation) {
      it->second.incarnation = p.incarnation;
      it->second.since = 0;
      it->second.target = 0;
    }
    for (const codec::Record& rec : p.records) {
      if (ApplyOwned(origin, rec, ChangeCause::kRemote)) RepairedFrom(from);
    }
  } else {
    for (const codec::Record& rec : p.records) {
      if (ApplyMailbox(rec, ChangeCause::kRemote)) {
        MailboxMovedBy(from);
        RepairedFrom(from);
      }
    }
  }
  PBXSTATE_CHECK_LE(pulls_.size(), config_.max_sync_pulls);
  PullSession& s = it->second;
  PBXSTATE_CHECK_EQ(p.page, s.next_page);  // in order: anything else was acknowledged above
  // The first page of a session whose request was sent once (last_progress is still the start,
  // the request was not sent again since): a round trip with no doubt about which copy it answers.
  if (s.next_page == 0 && s.last_request == s.last_progress) NoteRoundTrip(from, env_->Now() - s.last_request);
  ++s.next_page;
  s.last_progress = env_->Now();
  ++stats_.sync_pages_received;
  ack(s.next_page);
  if (p.last) {
    // A donor that is behind what another one offered (its digest was sent before its own
    // catch-up, or it missed changes behind a cut) completes short of the target: the pull goes
    // on with the others, from the watermark reached (a full pull merged what differed already;
    // what is missing is newer). Without this, and with anti-entropy off, nothing would ever ask
    // again.
    bool short_of_target = false;
    if (origin != codec::kMailboxOrigin) {
      OriginState& o = OriginFor(origin);
      o.ranges.Add(s.since, p.donor_watermark);
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
  } else {
    ArmSyncTick();
  }
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
  for (auto it = serves_.begin(); it != serves_.end();) {
    ServeSession& s = it->second;
    if (now - s.last_progress >= config_.sync_timeout) {
      it = FinishServe(it);  // the puller is gone or cut off; it will ask again, in a new session
      continue;
    }
    if (!s.unacked.empty() && now - s.last_send >= s.rto) {
      // A timeout means congestion or loss: halve the threshold, restart from one page, back
      // the timer off, and go back to the first unacknowledged page.
      s.ssthresh = std::max(s.cwnd / 2, 1.0);
      s.cwnd = 1;
      s.rto = std::min<Duration>(s.rto * 2, config_.sync_timeout / 2);
      s.in_flight = 0;
      PumpServe(s);
    }
    ++it;
  }
  for (auto it = pulls_.begin(); it != pulls_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_progress >= config_.sync_timeout) {
      AbandonPull(it, true);
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
    if (it->second.puller == node) it = serves_.erase(it);
    else ++it;
  }
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
