// What the engine holds on the heap, counted from its containers (held_bytes.h). The measure a
// long run watches for growth (Engine::stats().held_bytes; engine/README.md, "Memory"): names
// that come and go must give their bytes back. Not counted: the scratch decode buffers (one
// frame's records each, bounded by max_frame_bytes) and the Env's and transport's own memory.
#include "engine_impl.h"

namespace pbxstate {

namespace hb = held_bytes;

std::uint64_t EngineImpl::HeldBytes() const {
  return sizeof(EngineImpl) + StoreBytes() + QueueBytes() + SessionBytes();
}

// Interned names with their entries, the mailbox index, what each origin's entries are known
// by, and the queues of expiries and tombstone horizons.
std::size_t EngineImpl::StoreBytes() const {
  std::size_t n = devices_.HeldBytes() + contacts_.HeldBytes() + aor_index_.HeldBytes() + mailboxes_.HeldBytes() +
                  mailbox_index_.HeldBytes();
  // A priority_queue's container is not reachable from outside: its size, at the vector's
  // growth by doubling, bounds its capacity within a factor of two; counted as its size.
  n += mailbox_horizons_.size() * sizeof(MailboxHorizon) + expiries_.size() * sizeof(ExpiryItem);
  n += hb::Of(device_horizons_) + hb::Of(origins_) + hb::Of(known_incarnation_);
  for (const auto& [node, o] : origins_) n += o.ranges.HeldBytes() + hb::Of(o.device_ids) + hb::Of(o.contact_ids);
  return n;
}

// Changes held for the next flush, frames waiting for the transport or for this node's relay.
std::size_t EngineImpl::QueueBytes() const {
  std::size_t n = pending_.HeldBytes() + hb::Of(send_queue_);
  for (const Outgoing& o : send_queue_) n += hb::Of(o.bytes);
  n += hb::Of(frame_buf_) + hb::Of(flush_records_) + hb::Of(sealed_buf_) + hb::Of(relay_buf_) + hb::Of(relay_held_);
  for (const auto& [origin, bytes] : relay_held_) n += hb::Of(bytes);
  return n;
}

// Peers, catch-up sessions and wants, mailbox repair's waiting peers, replay state, sites.
std::size_t EngineImpl::SessionBytes() const {
  std::size_t n = hb::Of(peers_) + hb::Of(wants_) + hb::Of(pulls_) + hb::Of(serves_) + hb::Of(replay_) +
                  hb::Of(counted_) + hb::Of(join_digest_targets_) + hb::Of(recheck_targets_) + hb::Of(site_nodes_) +
                  hb::Of(site_rtt_) + hb::Of(mailbox_repair_waiting_);
  for (const auto& [node, p] : peers_) n += hb::Of(p.label) + hb::Of(p.served_sessions);
  for (const auto& [node, w] : wants_) n += hb::Of(w.donors);
  for (const auto& [id, s] : pulls_) n += hb::Of(s.other_donors);
  for (const auto& [key, s] : serves_) {
    n += hb::Of(s.items) + hb::Of(s.unacked) + hb::Of(s.members);
    for (const ServeSession::Mark& m : s.unacked) n += hb::Of(m.frame) + hb::Of(m.to);
  }
  for (const auto& [site, nodes] : site_nodes_) n += hb::Of(nodes);
  return n;
}

}  // namespace pbxstate
