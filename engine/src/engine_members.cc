// Membership (from the transport or the heartbeat failure detector), departures and timers.
#include <algorithm>
#include <utility>

#include "engine_impl.h"
#include "hash.h"
#include "pbxstate/check.h"

namespace pbxstate {

bool EngineImpl::IsLive(NodeId node) const {
  if (node == config_.node_id) return true;
  auto it = peers_.find(node);
  return it != peers_.end() && it->second.live;
}

bool EngineImpl::IsCounted(NodeId node) const {
  if (node == config_.node_id) return true;
  auto it = peers_.find(node);
  return it != peers_.end() && (it->second.live || it->second.departing);
}

void EngineImpl::OnMembership(const MembershipView& view) {
  PBXSTATE_CHECK(!in_callback_);
  if (config_.membership != MembershipSource::kTransport) {
    Drop(DropReason::kUnexpected);
    return;
  }
  view_id_ = view.view_id;
  std::set<NodeId> in_view;
  for (NodeId n : view.members) {
    if (n == config_.node_id || n == kNoNode || n == codec::kMailboxOrigin) continue;
    if (in_view.size() >= config_.max_nodes) {
      env_->Log(LogLevel::kError, "pbxstate: membership view larger than max_nodes; extra members ignored");
      break;
    }
    in_view.insert(n);
  }
  std::vector<NodeId> departed;
  for (const auto& [node, p] : peers_) {
    if (p.live && in_view.count(node) == 0) departed.push_back(node);
  }
  for (NodeId n : departed) PeerDeparted(n);
  bool joined = false;
  for (NodeId n : in_view) {
    if (!IsLive(n)) {
      PeerJoined(n);
      joined = true;
    }
  }
  // The mailbox fallback's clock times range exchanges that fail to settle a difference for
  // sync_timeout. A view change starts new differences: a merge brings the other side's writes
  // to every pair, a split the old ring's held-back frames at once. A clock that a same-side peer
  // started during the cut (nothing of that peer came back to stop it: AViewChangeRestartsTheClock)
  // made the first of these digests pull a whole set (mailbox-heal-100k on Corosync: 12 pulls
  // of 100,000 mailboxes; engine/README.md). A difference that outlives the view starts it again.
  if (joined || !departed.empty()) MailboxMembersChanged();
  // A departure abandons the pulls from that donor and frees their slots: the wants waiting for
  // a slot start now, from donors still in the view (with anti-entropy off, nothing else would
  // ever start them).
  if (!departed.empty()) StartPulls();
  Rearm();
}

void EngineImpl::HeardFrom(NodeId node, NodeId via) {
  Peer& p = peers_[node];
  p.last_heard = env_->Now();
  p.heard_via = via == node ? kNoNode : via;  // a relay's own frames in its RELAY: heard directly
  if (!p.live) PeerJoined(node);
}

void EngineImpl::SuspectSilentPeers(MonoTime now) {
  // Directly heard peers first. A relay's last RELAY frame carried the last frames of the peers
  // it relayed, and a speaker's last heartbeat said the last of its site-mates, so when it dies
  // they all fall silent at once: each is judged after the node it was heard through, and when
  // that one departs in this round or had departed, given a fresh suspect_after to be heard
  // through the node that replaces it. Links chain (a site-mate heard through its speaker,
  // whose heartbeat came through a relay here): one pass per link, at most one per peer, and a
  // fresh start passes down the chain (the speaker's news came through the dead relay, and so
  // did its site-mates'). A node whose link has itself been silent for StandInAfter() (a relay
  // or speaker is heard every heartbeat interval) is not judged yet: its last news may be older
  // than the link's (it had sent nothing for a while), and the link's silence, not its own, is
  // what it shows; it is judged once the link is heard again or departs.
  const auto silent = [&](const Peer& p) { return now - p.last_heard > config_.suspect_after; };
  const auto link_silent = [&](NodeId via) {
    return via != config_.node_id && now - peers_.at(via).last_heard > StandInAfter();
  };
  std::vector<NodeId> suspected;
  std::set<NodeId> judged, refreshed;
  for (const auto& [node, p] : peers_) {
    if (!p.live || p.heard_via != kNoNode) continue;
    judged.insert(node);
    if (silent(p)) suspected.push_back(node);
  }
  const auto departs = [&](NodeId n) { return !IsLive(n) || std::find(suspected.begin(), suspected.end(), n) != suspected.end(); };
  std::size_t passes = 0;
  for (bool progress = true; progress; ++passes) {
    PBXSTATE_CHECK_LE(passes, peers_.size() + 1);
    progress = false;
    for (auto& [node, p] : peers_) {
      if (!p.live || judged.count(node) != 0) continue;
      const NodeId via = p.heard_via;
      PBXSTATE_CHECK_NE(via, kNoNode);  // the direct ones were all judged above
      const bool via_departs = departs(via);
      if (!via_departs && via != config_.node_id && judged.count(via) == 0) continue;  // its link first
      judged.insert(node);
      progress = true;
      if (via_departs || refreshed.count(via) != 0) {
        p.heard_via = kNoNode;
        p.last_heard = now;
        refreshed.insert(node);
      } else if (silent(p) && !link_silent(via)) {
        suspected.push_back(node);
      }
    }
  }
  // Links in a cycle cannot be ordered: each is judged on its own silence.
  for (const auto& [node, p] : peers_) {
    if (p.live && judged.count(node) == 0 && silent(p)) suspected.push_back(node);
  }
  for (NodeId n : suspected) PeerDeparted(n);
  if (!suspected.empty()) StartPulls();  // as after a view without them (OnMembership)
}

void EngineImpl::PeerJoined(NodeId node) {
  Peer& p = peers_[node];
  PBXSTATE_CHECK(!p.live);
  p.live = true;
  p.departing = false;  // back within its grace: its entries never stopped counting
  SetCounted(node, true);
  p.summary.reset();
  p.joined_at = env_->Now();
  p.own_offer_read = false;
  if (config_.membership == MembershipSource::kHeartbeat) p.last_heard = env_->Now();
  if (config_.membership == MembershipSource::kTransport || AmongJoinHelpers(node)) {
    join_digest_targets_.insert(node);
    if (!join_digest_due_) join_digest_due_ = env_->Now() + config_.join_digest_holdoff;
  }
  NotifyMembers();
}

bool EngineImpl::AmongJoinHelpers(NodeId joiner) const {
  // Each node decides alone, from a hash of (joiner, itself), so that about join_digest_fanout
  // nodes help whatever each one's partial view of the cluster is. (A ring rule on the view
  // fails at a cold start: heartbeats sent at one instant arrive in id order, and every node
  // then finds itself first after each joiner it hears.)
  const std::size_t others = counted_.size() > 1 ? counted_.size() - 1 : 0;  // the joiner aside
  if (others <= config_.join_digest_fanout) return true;
  const std::uint64_t h = Mix64((static_cast<std::uint64_t>(joiner) << 32) ^ config_.node_id);
  return h % others < config_.join_digest_fanout;
}

void EngineImpl::PeerDeparted(NodeId node) {
  Peer& p = peers_[node];
  PBXSTATE_CHECK(p.live);
  p.live = false;
  p.departed_at = env_->Now();
  p.summary.reset();
  join_digest_targets_.erase(node);
  recheck_targets_.erase(node);
  ForgetSessionsWith(node);
  // Wants about the departed node's own entries are moot.
  wants_.erase(node);
  if (config_.departure_grace == 0ms) {
    SetCounted(node, false);
    DropOrigin(node, ChangeCause::kDeparture);
    ++stats_.departures;
  } else {
    p.departing = true;
    p.depart_deadline = env_->Now() + config_.departure_grace;
    if (!departure_due_ || p.depart_deadline < *departure_due_) departure_due_ = p.depart_deadline;
  }
  NotifyMembers();
}

MonoTime EngineImpl::Jittered(MonoTime base, Duration interval) {
  // +-10% so that nodes started together do not stay in lock step.
  const std::int64_t spread = interval.count() / 10;
  std::int64_t offset = 0;
  if (spread > 0) offset = static_cast<std::int64_t>(env_->Random() % static_cast<std::uint64_t>(2 * spread + 1)) - spread;
  return base + interval + Duration(offset);
}

void EngineImpl::SendHeartbeat() {
  // With speakers, only the speaker's heartbeat leaves the site, saying when it last heard the
  // others'; theirs stay inside it (engine/README.md, "Speakers").
  const bool speakers = SpeakersOn();
  const bool speaks = speakers && SpeaksForSite();
  codec::Heartbeat hb{SummaryHash(), config_.label, {}};
  if (speaks) hb.site_mates = SiteMatesHeard(config_.label.size());
  codec::BeginFrame(&frame_buf_, codec::FrameType::kHeartbeat, config_.node_id, config_.incarnation);
  codec::Writer w(&frame_buf_);
  codec::EncodeHeartbeat(w, hb);
  codec::EndFrame(&frame_buf_);
  if (speakers) {
    PBXSTATE_CHECK_LE(frame_buf_.size(), MaxPlainFrameBytes());
    SendToSites(Seal(kNoNode, frame_buf_), /*own_site_only=*/!speaks);
  } else {
    Send(kNoNode, frame_buf_);
  }
  ++stats_.heartbeats_sent;
  ++probe_rotation_;
  last_heartbeat_ = env_->Now();
}

void EngineImpl::OnTimer() {
  PBXSTATE_CHECK(!in_callback_);
  const MonoTime now = env_->Now();
  scheduled_wakeup_.reset();
  if (flush_due_ && now >= *flush_due_) FlushHeldIfDue(now);
  if (ack_due_ && now >= *ack_due_) SendHeldAcks();
  if (send_retry_due_ && now >= *send_retry_due_) {
    DrainSendQueue();
    SendHeldChanges();
  }
  ExpireRegistrations(env_->WallNow().time_since_epoch().count());
  ExpireMailboxTombstones(env_->WallNow().time_since_epoch().count());
  ExpireDeviceTombstones(now);
  if (relay_due_ && now >= *relay_due_) FlushRelay();
  if (suspicion_due_ && now >= *suspicion_due_) {
    SuspectSilentPeers(now);
    suspicion_due_ = now + std::max<Duration>(config_.heartbeat_interval / 4, 1ms);
  }
  if (departure_due_ && now >= *departure_due_) {
    departure_due_.reset();
    for (auto& [node, p] : peers_) {
      if (!p.departing) continue;
      if (p.depart_deadline <= now) {
        p.departing = false;
        SetCounted(node, false);
        DropOrigin(node, ChangeCause::kDeparture);
        ++stats_.departures;
        NotifyMembers();
      } else if (!departure_due_ || p.depart_deadline < *departure_due_) {
        departure_due_ = p.depart_deadline;
      }
    }
  }
  if (heartbeat_due_ && now >= *heartbeat_due_) {
    // Peers take any frame as a sign of life: a node that broadcast within the interval skips
    // its heartbeat, except every fourth interval, which refreshes its summary at its peers.
    // A site's speaker sends every interval: the other sites hear its site-mates through it.
    const bool recently_heard = now - last_broadcast_ < config_.heartbeat_interval;
    const bool speaks = SpeakersOn() && SpeaksForSite();
    if (speaks || !recently_heard || now - last_heartbeat_ >= 4 * config_.heartbeat_interval) SendHeartbeat();
    heartbeat_due_ = Jittered(now, config_.heartbeat_interval);
  }
  if (join_digest_due_ && now >= *join_digest_due_) SendJoinDigests();
  NoteSpeakerChange(now);
  if (recheck_due_ && now >= *recheck_due_) {
    recheck_due_.reset();
    for (NodeId n : std::exchange(recheck_targets_, {})) {
      if (IsLive(n)) SendDigest(n, static_cast<std::uint8_t>(codec::DigestMode::kOffer));
    }
  }
  if (anti_entropy_due_ && now >= *anti_entropy_due_) {
    AntiEntropyTick();
    anti_entropy_due_ = Jittered(now, config_.anti_entropy_interval);
  }
  if (sync_tick_due_ && now >= *sync_tick_due_) SyncTick(now);
  if (site_offer_due_ && now >= *site_offer_due_) OfferDigestToSiteMates();
  if (gap_round_due_ && now >= *gap_round_due_) GapRound(now);
  // After the sync tick: abandoning a pull there may ask for a repair round now.
  if (repair_due_ && now >= *repair_due_) {
    repair_due_.reset();
    AntiEntropyTick(/*repair=*/true);
  }
  const std::optional<MonoTime> next = Rearm();
  // Everything due was done: asking to be woken again at this instant would stall a simulator.
  PBXSTATE_CHECK(!next || *next > now);
  (void)next;
}

void EngineImpl::SendJoinDigests() {
  join_digest_due_.reset();
  const std::set<NodeId> targets = std::exchange(join_digest_targets_, {});
  // Without heartbeats, this is how new members learn our label.
  if (config_.membership == MembershipSource::kTransport) SendHeartbeat();
  // A node holding nothing has nothing to offer: at a cold start of N nodes this saves
  // N(N-1) digests.
  bool holds_something = mailbox_hash_ != 0;
  for (const auto& [node, o] : origins_) holds_something = holds_something || o.entries != 0 || o.ranges.watermark() != 0;
  if (!holds_something) return;
  for (NodeId n : targets) {
    if (IsLive(n)) SendDigest(n, static_cast<std::uint8_t>(codec::DigestMode::kJoin));
  }
}

std::optional<MonoTime> EngineImpl::Rearm() {
  std::optional<MonoTime> next;
  auto consider = [&](const std::optional<MonoTime>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  consider(flush_due_);
  consider(relay_due_);
  consider(send_retry_due_);
  consider(suspicion_due_);
  consider(departure_due_);
  consider(heartbeat_due_);
  consider(join_digest_due_);
  consider(recheck_due_);
  consider(anti_entropy_due_);
  consider(sync_tick_due_);
  consider(ack_due_);
  consider(repair_due_);
  consider(site_offer_due_);
  consider(gap_round_due_);
  if (!device_horizons_.empty()) consider(device_horizons_.front().at);
  // Expiries and mailbox horizons are on the calendar clock; map them onto the monotonic one.
  auto consider_wall = [&](std::int64_t at_ns) {
    const std::int64_t wall_ns = env_->WallNow().time_since_epoch().count();
    consider(env_->Now() + Duration(std::max<std::int64_t>(0, at_ns - wall_ns)));
  };
  if (!expiries_.empty()) consider_wall(expiries_.top().at_ns);
  // A mailbox tombstone goes at its horizon or the hold's end, whichever is later; never while
  // held. The hold is read only when a tombstone waits: its inputs are cold lines otherwise.
  if (!mailbox_horizons_.empty()) {
    if (const std::optional<std::int64_t> hold_end_ns = TombstoneHoldEndNs()) {
      consider_wall(std::max(mailbox_horizons_.top().at_ns, *hold_end_ns));
    }
  }
  if (next && (!scheduled_wakeup_ || *next != *scheduled_wakeup_)) {
    scheduled_wakeup_ = next;
    env_->ScheduleWakeup(*next);
  }
  return next;
}

}  // namespace pbxstate
