// Site speakers (engine/README.md, "Sites and relays", "Speakers"): only one node of a site, its
// speaker, sends heartbeats and anti-entropy to the other sites; its heartbeat says when it last
// heard each of its site-mates, so that the other sites need no frame of theirs to keep them.
#include <algorithm>

#include "engine_impl.h"
#include "pbxstate/check.h"

namespace pbxstate {

NodeId EngineImpl::SpeakerOf(std::uint32_t site) const {
  auto it = site_nodes_.find(site);
  if (it == site_nodes_.end()) return kNoNode;
  for (NodeId node : it->second) {
    if (PresumedUp(node)) return node;
  }
  return kNoNode;
}

bool EngineImpl::ActsForSite() const {
  if (!SpeakersOn()) return false;
  // The speaker, then its standby: the two lowest-id nodes of the site that are up.
  NodeId speaker = kNoNode;
  for (NodeId node : site_nodes_.at(OwnSite())) {
    if (!PresumedUp(node)) continue;
    if (speaker == kNoNode) {
      if (node == config_.node_id) return true;
      speaker = node;
      continue;
    }
    if (node != config_.node_id) return false;  // a later one: neither speaker nor standby
    // The standby. A speaker heartbeats every interval, so two without a frame of it mean it
    // is gone or cut off from here, long before the failure detector says so (suspect_after):
    // until then nobody of this site would ask the others for what they send to the silent
    // speaker as their relay, which it no longer passes on. A speaker never heard (a cold
    // start) is not silent.
    auto p = peers_.find(speaker);
    if (StandInAfter() >= config_.suspect_after || p == peers_.end()) return false;
    return env_->Now() - p->second.last_heard > StandInAfter();
  }
  return false;
}

std::vector<codec::SiteMateHeard> EngineImpl::SiteMatesHeard(std::size_t label_bytes) {
  PBXSTATE_CHECK(SpeakersOn() && SpeaksForSite());
  const MonoTime now = env_->Now();
  const std::int64_t cap_ms = std::chrono::duration_cast<std::chrono::milliseconds>(config_.suspect_after).count();
  std::vector<codec::SiteMateHeard> live;
  for (NodeId node : site_nodes_.at(OwnSite())) {
    if (node == config_.node_id || !IsLive(node)) continue;
    const std::int64_t age = std::chrono::duration_cast<std::chrono::milliseconds>(now - peers_.at(node).last_heard).count();
    live.push_back({node, static_cast<std::uint32_t>(std::clamp<std::int64_t>(age, 0, cap_ms))});
  }
  // The summary, the label with its length, the count: the rest of a frame holds the site-mates.
  const std::size_t fixed = codec::kFrameHeaderBytes + 8 + 5 + label_bytes + 5;
  PBXSTATE_CHECK_LT(fixed, MaxPlainFrameBytes());
  const std::size_t fit = std::min(codec::kMaxNodes, (MaxPlainFrameBytes() - fixed) / codec::kSiteMateHeardMaxBytes);
  PBXSTATE_CHECK_GT(fit, 0u);
  if (live.size() <= fit) return live;
  // More than one frame's worth (a site of over a hundred nodes at the default frame size): a
  // window that moves on each heartbeat, so that each is listed within a few heartbeats.
  std::vector<codec::SiteMateHeard> some;
  some.reserve(fit);
  for (std::size_t i = 0; i < fit; ++i) some.push_back(live[(site_mates_rotation_ + i) % live.size()]);
  site_mates_rotation_ = (site_mates_rotation_ + fit) % live.size();
  return some;
}

void EngineImpl::NoteSiteMatesHeard(NodeId speaker, const std::vector<codec::SiteMateHeard>& mates) {
  if (!SpeakersOn()) return;
  auto speaker_site = config_.node_sites.find(speaker);
  // Only another site's node speaks for its site here; inside a site everyone is heard directly.
  if (speaker_site == config_.node_sites.end() || speaker_site->second == OwnSite()) return;
  PBXSTATE_CHECK(IsLive(speaker));  // HeardFrom ran for this very frame
  const MonoTime now = env_->Now();
  for (const codec::SiteMateHeard& m : mates) {
    if (m.node == config_.node_id || m.node == speaker) continue;
    auto site = config_.node_sites.find(m.node);
    if (site == config_.node_sites.end() || site->second != speaker_site->second) continue;  // not its to say
    // News as old as suspect_after says nothing; the transit time is not known and not taken
    // off (it makes a node look heard up to one WAN delay later than it was).
    if (std::chrono::milliseconds(m.age_ms) >= config_.suspect_after) continue;
    const MonoTime heard = now - std::chrono::milliseconds(m.age_ms);
    Peer& p = peers_[m.node];  // a node of node_sites: bounded by the map
    if (!p.live) {
      // Heard by its speaker after it departed here (a cut that healed, a node that came back):
      // it is up. Heard before: that is what departed it, and it stays departed.
      if (heard <= p.departed_at) continue;
      PeerJoined(m.node);
    } else if (heard <= p.last_heard) {
      continue;
    }
    p.last_heard = heard;
    p.heard_via = speaker;
    PBXSTATE_CHECK(p.live);
    PBXSTATE_CHECK_LE(p.last_heard, now);
  }
}

std::vector<NodeId> EngineImpl::AntiEntropyCandidates(std::uint64_t mine, bool repair) {
  std::vector<NodeId> local, remote;
  const bool speakers = SpeakersOn();
  const bool acts = ActsForSite();
  // A standby standing in heard the other sites through its silent speaker: their summaries
  // here are as old as that silence, and one that was equal then says nothing now.
  const bool stands_in = acts && !SpeaksForSite();
  for (const auto& [node, p] : peers_) {
    if (!p.live) continue;
    auto site = config_.node_sites.find(node);
    const bool remote_speaker = speakers && acts && site != config_.node_sites.end() &&
                                site->second != OwnSite() && SpeakerOf(site->second) == node;
    // With heartbeats we know whose summary differs; without, any peer may.
    if (config_.membership == MembershipSource::kHeartbeat && p.summary && *p.summary == mine &&
        !(stands_in && remote_speaker)) {
      continue;
    }
    if (!speakers) {
      local.push_back(node);
      continue;
    }
    if (site == config_.node_sites.end()) continue;  // not in the map: not a node of the cluster's sites
    if (site->second == OwnSite()) {
      local.push_back(node);
    } else if (remote_speaker) {
      remote.push_back(node);
    }
  }
  PBXSTATE_CHECK(acts || remote.empty());  // only a speaker's (or standby's) anti-entropy crosses the WAN
  if (repair) {
    local.insert(local.end(), remote.begin(), remote.end());
    return local;
  }
  if (!acts) return local;
  // A speaker alternates: its site-mates offer it their summaries anyway, and the other sites
  // are reached through it alone. A speaker that knows it lacks changes of another site (a gap)
  // asks there at once, and so does one that just started to act for its site (a standby
  // included). When one side has nobody to ask, the other is asked.
  const bool remote_round = anti_entropy_rounds_++ % 2 == 0 || remote_round_next_ || LacksChangesOfOtherSites();
  remote_round_next_ = false;
  if (remote_round ? !remote.empty() : local.empty()) return remote;
  return local;
}

void EngineImpl::NoteRoundTrip(NodeId node, Duration rtt) {
  auto site = config_.node_sites.find(node);
  if (!SpeakersOn() || site == config_.node_sites.end() || site->second == OwnSite()) return;
  auto [it, fresh] = site_rtt_.emplace(site->second, rtt);
  if (!fresh) it->second = (7 * it->second + rtt) / 8;
  PBXSTATE_CHECK_LE(site_rtt_.size(), site_nodes_.size());
}

NodeId EngineImpl::NearestSpeaker(const std::vector<NodeId>& speakers) const {
  // The engine knows no network map, only what it measured (NoteRoundTrip: a page's ack at a
  // donor, a pull's first page); until then, a stable order (ids) rather than a random pick, so
  // that every round of a speaker asks the same site (engine/README.md, "Speakers").
  PBXSTATE_CHECK(!speakers.empty());
  const auto key = [this](NodeId n) {
    auto it = site_rtt_.find(config_.node_sites.at(n));
    return std::make_pair(it == site_rtt_.end() ? Duration::max() : it->second, n);
  };
  return *std::min_element(speakers.begin(), speakers.end(), [&](NodeId a, NodeId b) { return key(a) < key(b); });
}

bool EngineImpl::LacksChangesOfOtherSites() const {
  for (const auto& [node, o] : origins_) {
    if (o.ranges.range_count() == 0 || node == config_.node_id) continue;
    auto site = config_.node_sites.find(node);
    if (site != config_.node_sites.end() && site->second != OwnSite()) return true;
  }
  return false;
}

void EngineImpl::NoteSpeakerChange(MonoTime now) {
  const bool acts = ActsForSite();
  if (acts && !acted_for_site_ && anti_entropy_due_) {
    anti_entropy_due_ = now;
    remote_round_next_ = true;
  }
  acted_for_site_ = acts;
}

void EngineImpl::RepairedFrom(NodeId from) {
  if (!SpeakersOn() || site_offer_due_ || !ActsForSite()) return;
  auto site = config_.node_sites.find(from);
  if (site == config_.node_sites.end() || site->second == OwnSite()) return;
  site_offer_due_ = env_->Now() + SpeakerHoldoff();
}

void EngineImpl::NoteGap(NodeId origin) {
  if (!SpeakersOn() || gap_round_due_ || !ActsForSite()) return;
  auto site = config_.node_sites.find(origin);
  if (site == config_.node_sites.end() || site->second == OwnSite()) return;
  gap_round_due_ = env_->Now() + SpeakerHoldoff();
}

void EngineImpl::GapRound(MonoTime now) {
  gap_round_due_.reset();
  if (!SpeakersOn() || !LacksChangesOfOtherSites()) return;
  if (last_gap_round_ && now - *last_gap_round_ < config_.anti_entropy_interval / 2) return;
  last_gap_round_ = now;
  remote_round_next_ = true;
  AntiEntropyTick();
}

void EngineImpl::OfferDigestToSiteMates() {
  site_offer_due_.reset();
  if (!SpeakersOn()) return;
  for (NodeId node : site_nodes_.at(OwnSite())) {
    if (node != config_.node_id && IsLive(node)) SendDigest(node, static_cast<std::uint8_t>(codec::DigestMode::kOffer));
  }
}

}  // namespace pbxstate
