// The donor's side of catch-up sessions (engine/README.md, "Catch-up sessions"): a stream of pages
// over a snapshot of one origin, go-back-N with congestion control, shared by the pullers of that
// origin that ask while it runs.
#include <algorithm>
#include <iterator>

#include "engine_impl.h"
#include "pbxstate/check.h"

namespace pbxstate {

namespace {

// Whether `session` of `puller` is still a member of stream `s`.
bool IsMember(const ServeSession& s, NodeId puller, std::uint32_t session) {
  return std::any_of(s.members.begin(), s.members.end(),
                     [&](const ServeSession::Member& m) { return m.puller == puller && m.session == session; });
}

// A stream's members, go-back-N window and congestion state, after every change to it: the
// pages in flight are exactly acked..next_page-1, one mark each, in order, never more than the
// window; acked is the slowest member's; every member's pages lie within what was sent.
void CheckServe(const ServeSession& s, const EngineConfig& config) {
  PBXSTATE_CHECK(!s.members.empty());
  PBXSTATE_CHECK_LE(s.members.size(), codec::kMaxSyncPageAddressees);
  std::uint32_t slowest = s.next_page;
  bool all_cut = true;
  for (const ServeSession::Member& m : s.members) {
    PBXSTATE_CHECK_LE(m.first_page, m.acked);
    PBXSTATE_CHECK_LE(m.acked, m.cut_last ? m.last_page + 1 : s.next_page);
    PBXSTATE_CHECK_LE(m.covered, s.items.size());
    PBXSTATE_CHECK(!m.cut_last || m.covered == s.items.size());
    slowest = std::min(slowest, m.acked);
    all_cut = all_cut && m.cut_last;
  }
  PBXSTATE_CHECK_EQ(s.acked, slowest);
  PBXSTATE_CHECK_EQ(s.sent_last, all_cut);
  const std::size_t in_flight = s.next_page - s.acked;
  PBXSTATE_CHECK_EQ(s.unacked.size(), in_flight);
  PBXSTATE_CHECK_LE(in_flight, config.sync_window_pages);
  if (!s.unacked.empty()) {
    PBXSTATE_CHECK_EQ(s.unacked.front().page, s.acked);
    PBXSTATE_CHECK_EQ(s.unacked.back().page + 1, s.next_page);
    // A page names members only (ServeSession::Leave); the oldest names the slowest member, which
    // lacks it, and at a stream's end the newest names one too: no page is kept for nobody there.
    PBXSTATE_CHECK(!s.unacked.front().to.empty());
    PBXSTATE_CHECK(!s.sent_last || !s.unacked.back().to.empty());
    for (const ServeSession::Mark& m : s.unacked) {
      for (const codec::SyncPageAddressee& a : m.to) PBXSTATE_CHECK(IsMember(s, a.node, a.session));
    }
  }
  PBXSTATE_CHECK_LE(s.device_items, s.items.size());
  PBXSTATE_CHECK_LE(s.cursor, s.items.size());
  PBXSTATE_CHECK_GE(s.cwnd, 1.0);
  PBXSTATE_CHECK_LE(s.cwnd, std::max(2.0, static_cast<double>(config.sync_window_pages)));
  PBXSTATE_CHECK_GT(s.rto, Duration::zero());
}

// The stream serving `puller`'s `session` and the member's index in it; serves.end() if none.
std::pair<ServeMap::iterator, std::size_t> FindServe(ServeMap& serves, NodeId puller, std::uint32_t session) {
  for (auto it = serves.begin(); it != serves.end(); ++it) {
    const auto& members = it->second.members;
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (members[i].puller == puller && members[i].session == session) return {it, i};
    }
  }
  return {serves.end(), 0};
}

// The members of `s` among `to` that have not acknowledged page `page` (it is resent for them).
std::vector<NodeId> Waiting(const ServeSession& s, std::uint32_t page, const std::vector<codec::SyncPageAddressee>& to) {
  std::vector<NodeId> waiting;
  for (const codec::SyncPageAddressee& a : to) {
    const bool waits = std::any_of(s.members.begin(), s.members.end(), [&](const ServeSession::Member& m) {
      return m.puller == a.node && m.session == a.session && m.acked <= page;
    });
    if (waits) waiting.push_back(a.node);
  }
  return waiting;
}

// Whether `session` of `puller` is among the sessions this node finished serving to it.
bool ServedAlready(const std::map<NodeId, Peer>& peers, NodeId puller, std::uint32_t session) {
  auto p = peers.find(puller);
  if (p == peers.end()) return false;
  const std::deque<std::uint32_t>& done = p->second.served_sessions;
  return std::find(done.begin(), done.end(), session) != done.end();
}

// Remembers `session` of `puller` as finished here: served, timed out or refused.
void RememberServed(std::map<NodeId, Peer>& peers, NodeId puller, std::uint32_t session) {
  auto p = peers.find(puller);
  if (p == peers.end()) return;
  std::deque<std::uint32_t>& done = p->second.served_sessions;
  done.push_back(session);
  if (done.size() > kServedSessionMemory) done.pop_front();
  PBXSTATE_CHECK_LE(done.size(), kServedSessionMemory);
}

}  // namespace

void ServeSession::ForgetLeftSessions() {
  // A member that left must not find its old session in a page, which a restarted puller that
  // numbers its sessions from 1 again could take for its own.
  for (Mark& m : unacked) {
    const std::size_t named = m.to.size();
    std::erase_if(m.to, [&](const codec::SyncPageAddressee& a) { return !IsMember(*this, a.node, a.session); });
    m.frame_names_left = m.frame_names_left || m.to.size() != named;
  }
  // Once every member's last page is cut, pages past them all were for members that left: the
  // stream ends at the last page one lacks, and those are not sent again. (A page for nobody
  // before a later member's pages stays, unsent: the numbering runs on.)
  const bool all_cut = std::all_of(members.begin(), members.end(), [](const Member& m) { return m.cut_last; });
  while (all_cut && !unacked.empty() && unacked.back().to.empty()) {
    unacked.pop_back();
    --next_page;
  }
  in_flight = std::min(in_flight, unacked.size());
}

std::optional<Duration> ServeSession::AdvanceWindow(MonoTime now, const EngineConfig& config) {
  std::uint32_t slowest = next_page;
  for (const Member& m : members) slowest = std::min(slowest, m.acked);
  sent_last = std::all_of(members.begin(), members.end(), [](const Member& m) { return m.cut_last; });
  if (slowest <= acked) return std::nullopt;
  const double newly = slowest - acked;
  acked = slowest;
  std::optional<Duration> sample;
  while (!unacked.empty() && unacked.front().page < acked) {
    if (!unacked.front().resent) sample = now - unacked.front().sent;
    unacked.pop_front();
    if (in_flight > 0) --in_flight;
  }
  if (sample) {
    // RFC 6298: srtt and rttvar, rto = srtt + 4 rttvar, never below 1 ms.
    if (srtt == Duration{}) {
      srtt = *sample;
      rttvar = *sample / 2;
    } else {
      const Duration err = *sample > srtt ? *sample - srtt : srtt - *sample;
      rttvar = (3 * rttvar + err) / 4;
      srtt = (7 * srtt + *sample) / 8;
    }
    // At least twice the round trip and a fifth of sync_retransmit: on a link with a constant
    // delay rttvar falls to 0, and a timer of exactly one round trip fires as the ack lands.
    rto = std::clamp<Duration>(std::max(srtt + 4 * rttvar, 2 * srtt), config.sync_retransmit / 5, config.sync_timeout / 2);
  }
  if (ssthresh == 0 || cwnd < ssthresh) {
    cwnd += newly;  // slow start
  } else {
    cwnd += newly / cwnd;  // congestion avoidance
  }
  cwnd = std::min<double>(cwnd, static_cast<double>(config.sync_window_pages));
  PBXSTATE_CHECK_LE(rto, config.sync_timeout / 2 > config.sync_retransmit ? config.sync_timeout / 2 : config.sync_retransmit);
  return sample;
}

void EngineImpl::SendSyncRefuse(NodeId to, std::uint32_t session, codec::RefuseReason why) {
  SendControl(to, codec::FrameType::kSyncRefuse, [&](codec::Writer& w) { codec::EncodeSyncRefuse(w, {session, why}); });
}

void EngineImpl::HandleSyncRequest(NodeId from, const codec::SyncRequest& r) {
  if (FindServe(serves_, from, r.session).first != serves_.end()) return;  // a duplicated request: it runs
  if (ServedAlready(peers_, from, r.session)) return;                       // a late copy: the session is over
  auto refuse = [&](codec::RefuseReason why) {
    // The puller gives the session up on this answer; a copy of the request still on its way
    // must not start it here after all (a session nobody pulls would hold a slot until
    // sync_timeout, and the puller's next request would be refused for it again).
    RememberServed(peers_, from, r.session);
    SendSyncRefuse(from, r.session, why);
  };
  // With several pulls at once a puller's requests can arrive out of order: the greatest so far.
  auto started = [&] {
    if (auto p = peers_.find(from); p != peers_.end()) p->second.last_served_session = std::max(p->second.last_served_session, r.session);
  };
  if (JoinServe(from, r)) {
    started();
    StartPulls();  // arms the sync tick
    return;
  }
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
  s.origin = r.origin;
  if (r.origin == codec::kMailboxOrigin) {
    s.incarnation = 0;
    s.since = 0;
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
    s.since = o.incarnation == r.incarnation ? r.since : 0;
    s.incarnation = o.incarnation;
    s.donor_watermark = o.ranges.watermark();
    CompactDeviceIds(o, r.origin);
    for (std::uint32_t id : o.device_ids) {
      const Contribution* c = FindContribution(id, r.origin);
      if (c != nullptr && c->seq > s.since) s.items.push_back(id);
    }
    s.device_items = s.items.size();
    CompactContactIds(o, r.origin);
    for (std::uint32_t id : o.contact_ids) {
      const Registration* reg = FindRegistration(id, r.origin);
      if (reg != nullptr && reg->seq > s.since) s.items.push_back(id);
    }
  }
  s.members.push_back({from, r.session, 0, 0, 0, 0, 0, false, env_->Now(), MonoTime{}});
  const std::uint64_t number = serves_.empty() ? 0 : serves_.rbegin()->first + 1;
  auto [it, inserted] = serves_.emplace(number, std::move(s));
  PBXSTATE_CHECK(inserted);
  PBXSTATE_CHECK_LE(serves_.size(), 2 * config_.max_sync_serves);
  started();
  PumpServe(it->second);
  StartPulls();  // arms the sync tick
}

bool EngineImpl::JoinServe(NodeId from, const codec::SyncRequest& r) {
  // Only where one frame reaches all the members: elsewhere each gets its copy anyway, and the
  // window of a shared stream would move at its slowest member's pace. The mailbox set merges by
  // last writer from every donor that differs: not shared.
  if (!unicast_reaches_everyone_ || r.origin == codec::kMailboxOrigin) return false;
  for (auto& [key, s] : serves_) {
    // The snapshot holds every item above the joiner's watermark, and ends above it.
    if (s.origin != r.origin || s.incarnation != r.incarnation || r.since < s.since || r.since >= s.donor_watermark) {
      continue;
    }
    // Room in a page for one more addressee beside the largest record.
    if (s.members.size() >= codec::kMaxSyncPageAddressees ||
        codec::kFrameHeaderBytes + codec::SyncPagePrefixMaxBytes(s.members.size() + 1) +
                codec::MaxRecordBytes(config_.max_key_bytes, config_.max_contact_bytes) >
            MaxPlainFrameBytes()) {
      continue;
    }
    const bool member = std::any_of(s.members.begin(), s.members.end(), [&](const auto& m) { return m.puller == from; });
    if (member) continue;  // its earlier session here still runs: a stream of its own
    // It starts where the stream is and goes round the snapshot to there again.
    const std::size_t start = s.cursor == s.items.size() ? 0 : s.cursor;
    s.members.push_back({from, r.session, s.next_page, start, 0, s.next_page, 0, false, env_->Now(), MonoTime{}});
    s.sent_last = false;
    PumpServe(s);
    return true;
  }
  return false;
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

void EngineImpl::EncodeSyncPage(const ServeSession& s, const std::vector<codec::SyncPageAddressee>& to,
                                const std::vector<codec::Record>& records) {
  codec::SyncPage page;
  page.to = to;
  if (page.to.size() == 1) page.to.front().node = kNoNode;  // a plain page: for its receiver
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
  const auto budget = [&](std::size_t addressees) {
    return MaxPlainFrameBytes() - codec::kFrameHeaderBytes - codec::SyncPagePrefixMaxBytes(addressees);
  };
  // `may_share`: the frame names no one but the stream's members (a stored frame may name one
  // that has left since).
  const auto send = [&](const ServeSession::Mark& m, const std::vector<std::uint8_t>& frame, bool may_share) {
    const std::vector<NodeId> waiting = Waiting(s, m.page, m.to);
    // Where a unicast reaches every node anyway, one frame for all of them; elsewhere a copy each.
    const bool one_for_all = may_share && unicast_reaches_everyone_ && waiting.size() > 1;
    for (std::size_t i = 0; i < (one_for_all ? 1 : waiting.size()); ++i) {
      Send(one_for_all ? kNoNode : waiting[i], frame);
      ++stats_.sync_pages_sent;
      if (m.resent) ++stats_.sync_pages_resent;
    }
  };
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
      // Its sessions all left (ServeSession::Leave): members after it joined past it. Not sent.
      if (m.to.empty()) continue;
      if (CollectPageRecords(s, m.start, m.end, budget(m.to.size()), &records) == m.end) {
        EncodeSyncPage(s, m.to, records);
        send(m, std::vector<std::uint8_t>(frame_buf_), /*may_share=*/true);
      } else {
        // Grown past a frame since: as first sent, to each member alone if it names one gone.
        send(m, m.frame, /*may_share=*/!m.frame_names_left);
      }
      continue;
    }
    if (s.sent_last) break;
    // Members that joined past the start go round: from the end back to the first item.
    if (s.cursor == s.items.size()) s.cursor = 0;
    std::vector<codec::SyncPageAddressee> to;
    std::size_t stop = s.items.size();
    for (const ServeSession::Member& m : s.members) {
      if (m.cut_last) continue;
      to.push_back({m.puller, m.session, s.next_page - m.first_page, false});
      if (m.start > s.cursor) stop = std::min(stop, m.start);  // a page ends where a member started
    }
    PBXSTATE_CHECK(!to.empty());
    const std::size_t start = s.cursor;
    s.cursor = CollectPageRecords(s, start, stop, budget(to.size()), &records);
    PBXSTATE_CHECK(s.cursor > start || start == stop);  // every record fits a page
    for (ServeSession::Member& m : s.members) {
      if (m.cut_last || (m.covered += s.cursor - start) < s.items.size()) continue;
      m.cut_last = true;
      m.last_page = s.next_page;
      std::find_if(to.begin(), to.end(), [&](const auto& a) { return a.node == m.puller; })->last = true;
    }
    s.sent_last = std::all_of(s.members.begin(), s.members.end(), [](const auto& m) { return m.cut_last; });
    EncodeSyncPage(s, to, records);
    s.unacked.push_back({s.next_page, start, s.cursor, env_->Now(), false, frame_buf_, std::move(to)});
    s.in_flight = s.unacked.size();
    PBXSTATE_CHECK_LE(s.unacked.size(), config_.sync_window_pages);
    ++s.next_page;
    s.last_send = env_->Now();
    send(s.unacked.back(), s.unacked.back().frame, /*may_share=*/true);
  }
  CheckServe(s, config_);
}

void EngineImpl::HandleSyncAck(NodeId from, const codec::SyncAck& a) {
  auto [it, index] = FindServe(serves_, from, a.session);
  if (it == serves_.end()) {
    // A page resent while its ack was on the way is acked twice, and the second copy can land
    // after the first closed the session: expected. An ack for no session of ours is not.
    Drop(NoSessionReason(from, a.session, /*pulled=*/false));
    return;
  }
  ServeSession& s = it->second;
  ServeSession::Member& m = s.members[index];
  const std::uint32_t sent = (m.cut_last ? m.last_page + 1 : s.next_page) - m.first_page;
  if (a.next_page > sent) {
    Drop(DropReason::kMalformed);  // acknowledges a page never sent to it
    return;
  }
  if (m.first_page + a.next_page > m.acked) {
    m.acked = m.first_page + a.next_page;
    m.last_progress = env_->Now();
  }
  if (m.cut_last && m.acked > m.last_page) {  // it has every page of its session
    RememberServed(peers_, m.puller, m.session);
    s.Leave([&](const ServeSession::Member& x) { return x.puller == from && x.session == a.session; });
  }
  if (s.members.empty()) {
    serves_.erase(it);
  } else {
    if (auto rtt = s.AdvanceWindow(env_->Now(), config_)) NoteRoundTrip(from, *rtt);
    CheckServe(s, config_);
    PumpServe(s);
  }
  ArmSyncTick();
}

void EngineImpl::ServeTick(MonoTime now) {
  for (auto it = serves_.begin(); it != serves_.end();) {
    ServeSession& s = it->second;
    // A member gone or cut off for sync_timeout leaves; it will ask again, in a new session.
    s.Leave([&](const ServeSession::Member& m) {
      if (now - m.last_progress < config_.sync_timeout) return false;
      RememberServed(peers_, m.puller, m.session);
      return true;
    });
    if (s.members.empty()) {
      it = serves_.erase(it);
      continue;
    }
    s.AdvanceWindow(now, config_);
    if (!s.unacked.empty() && now - s.last_send >= s.rto) {
      // Where one frame reaches every member, members that acknowledged pages a slower one has
      // not (a member that joined since and acknowledged nothing does not count) are not kept
      // waiting. A slower one is first sent what it lacks again (a page lost for it alone: a
      // refusal would cost it every page of its session, its watermark moving only at the
      // last); holding the others back again with nothing acknowledged since, it is refused as
      // busy and asks again. One that acknowledged pages since is slower, not stuck, and is sent
      // its pages again instead.
      const bool ahead = std::any_of(s.members.begin(), s.members.end(),
                                     [&](const auto& m) { return m.acked > s.acked && m.acked > m.first_page; });
      s.Leave([&](const ServeSession::Member& m) {
        const bool stuck = m.resent_alone_at != MonoTime{} && m.last_progress <= m.resent_alone_at;
        if (!ahead || m.acked > s.acked || !stuck) return false;
        RememberServed(peers_, m.puller, m.session);
        ++stats_.sync_serves_refused;
        SendSyncRefuse(m.puller, m.session, codec::RefuseReason::kBusy);
        return true;
      });
      bool resend_alone = false;
      for (ServeSession::Member& m : s.members) {
        if (!ahead || m.acked > s.acked) continue;
        m.resent_alone_at = now;
        resend_alone = true;
      }
      // The timer starts again for the members left: at a stream's end no page may go out to
      // restart it, and the next tick would refuse the next slowest without a resend.
      if (ahead) s.last_send = now;
      // Back to the first unacknowledged page; each resent page goes to the members that lack it
      // (PumpServe), not to those ahead, and the window stays: the loss was one member's.
      if (resend_alone) s.in_flight = 0;
      if (!ahead) {
        // A timeout means congestion or loss: halve the threshold, restart from one page, back
        // the timer off, and go back to the first unacknowledged page.
        s.ssthresh = std::max(s.cwnd / 2, 1.0);
        s.cwnd = 1;
        s.rto = std::min<Duration>(s.rto * 2, config_.sync_timeout / 2);
        s.in_flight = 0;
      }
      s.AdvanceWindow(now, config_);
    }
    PumpServe(s);
    ++it;
  }
}

}  // namespace pbxstate
