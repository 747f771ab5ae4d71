// Sites and relays (engine/README.md, "Sites and relays"): a frame for everyone goes once to each
// site, to a relay there, which passes it on to the other live nodes of its site in RELAY frames.
#include <algorithm>

#include "engine_impl.h"
#include "hash.h"
#include "pbxstate/check.h"

namespace pbxstate {

bool EngineImpl::PresumedUp(NodeId node) const {
  if (node == config_.node_id) return true;
  auto it = peers_.find(node);
  if (it != peers_.end()) return it->second.live;
  // Never heard of: at a cold start nobody has heard anyone yet, and frames must go somewhere.
  // Past suspect_after, a node never heard is as good as departed.
  return config_.membership == MembershipSource::kHeartbeat && started_ &&
         env_->Now() - started_at_ < config_.suspect_after;
}

NodeId EngineImpl::RelayFor(std::uint32_t site, NodeId origin) const {
  auto it = site_nodes_.find(site);
  if (it == site_nodes_.end()) return kNoNode;
  // The lowest-id nodes of the site that are up, at most relays_per_site of them (bounded: the
  // setting is at most 64). The hash of the origin spreads origins over them and keeps each
  // origin on one relay while the set holds.
  NodeId candidates[64];
  std::size_t n = 0;
  for (NodeId node : it->second) {
    if (n == config_.relays_per_site) break;
    if (PresumedUp(node)) candidates[n++] = node;
  }
  PBXSTATE_CHECK_LE(n, std::size(candidates));
  // Nobody there is up (the site is cut off, or every node of it crashed): a probe, so that two
  // sides that each think the other departed hear each other again after a heal.
  if (n == 0) return ProbeTarget(it->second);
  return candidates[Mix64(origin) % n];
}

NodeId EngineImpl::ProbeTarget(const std::vector<NodeId>& site_nodes) const {
  if (site_nodes.empty()) return kNoNode;
  // The site's nodes in turn, one per heartbeat sent here: when the probed node is back (or
  // was only cut off), its frames make it, and the others it relays, live again. Always the
  // lowest-id node, as before, kept two sides apart for good when it was down on both sides
  // of a healed cut; in turn, a site with any node up is found within as many heartbeats as
  // it has nodes.
  return site_nodes[probe_rotation_ % site_nodes.size()];
}

void EngineImpl::SendToSites(const std::vector<std::uint8_t>& wire, bool own_site_only) {
  // A copy: holding the frame may flush a RELAY frame, which reuses the sealing buffer.
  const std::vector<std::uint8_t> frame = wire;
  const NodeId self = config_.node_id;
  const std::uint32_t own_site = config_.node_sites.at(self);  // Validate() requires it
  for (const auto& [site, nodes] : site_nodes_) {
    if (own_site_only && site != own_site) continue;
    const NodeId relay = RelayFor(site, self);
    if (relay == kNoNode) continue;  // nobody up there
    if (relay == self) {
      PBXSTATE_CHECK_EQ(site, own_site);
      HoldForRelay(self, frame);
    } else {
      Transmit(relay, frame);
    }
  }
  if (static_cast<codec::FrameType>(frame[3]) == codec::FrameType::kHeartbeat) ProbeDownSiteMates(frame);
  // Everyone hears it (through the relays): it proves this node alive as a heartbeat would.
  last_broadcast_ = env_->Now();
}

void EngineImpl::ProbeDownSiteMates(const std::vector<std::uint8_t>& wire) {
  // A site-mate this node counts as departed gets no RELAY frame from it; if this node is its
  // own site's relay (everyone else down in its view), nothing of it would reach the site at
  // all. Its heartbeat, sent straight to them, is how the two sides find each other after a cut
  // inside a site; it costs a frame per heartbeat per site-mate down, only while one is.
  const NodeId self = config_.node_id;
  for (NodeId to : site_nodes_.at(config_.node_sites.at(self))) {
    if (to != self && !PresumedUp(to)) Transmit(to, wire);
  }
}

void EngineImpl::HoldForRelay(NodeId origin, std::span<const std::uint8_t> frame) {
  const std::size_t bytes = codec::RelayedFrameBytes(frame.size());
  // A RELAY frame's header and count, at their widest, come on top of the carried frames.
  const std::size_t budget = MaxPlainRelayFrameBytes() - codec::kFrameHeaderBytes - 5;
  PBXSTATE_CHECK_LE(bytes, budget);  // MaxPlainFrameBytes() leaves room for this
  if (relay_held_bytes_ + bytes > budget) FlushRelay();
  relay_held_.emplace_back(origin, std::vector<std::uint8_t>(frame.begin(), frame.end()));
  relay_held_bytes_ += bytes;
  PBXSTATE_CHECK_LE(relay_held_bytes_, budget);
  if (config_.relay_window == 0ms) {
    FlushRelay();
  } else if (!relay_due_) {
    relay_due_ = env_->Now() + config_.relay_window;
  }
}

void EngineImpl::FlushRelay() {
  relay_due_.reset();
  if (relay_held_.empty()) return;
  const NodeId self = config_.node_id;
  std::vector<std::span<const std::uint8_t>> frames;
  frames.reserve(relay_held_.size());
  for (NodeId to : site_nodes_.at(config_.node_sites.at(self))) {
    if (to == self || !PresumedUp(to)) continue;
    frames.clear();
    for (const auto& [origin, bytes] : relay_held_) {
      if (origin != to) frames.emplace_back(bytes);
    }
    if (frames.empty()) continue;
    codec::BeginFrame(&relay_buf_, codec::FrameType::kRelay, self, config_.incarnation);
    codec::Writer w(&relay_buf_);
    codec::EncodeRelay(w, frames);
    codec::EndFrame(&relay_buf_);
    PBXSTATE_CHECK_LE(relay_buf_.size(), MaxPlainRelayFrameBytes());
    Transmit(to, Seal(to, relay_buf_));
  }
  relay_held_.clear();
  relay_held_bytes_ = 0;
}

void EngineImpl::ReceiveRelayed(NodeId relay, const codec::Relay& relay_frame) {
  // The carried frames are decoded into the same buffers as any frame: copy their views first
  // (they point into the RELAY frame, which the caller owns until we return).
  const std::vector<std::span<const std::uint8_t>> frames = relay_frame.frames;
  for (std::span<const std::uint8_t> f : frames) Receive(kNoNode, f, relay);
}

}  // namespace pbxstate
