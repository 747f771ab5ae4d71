// The in-process network's trace (cluster_impl.h): every delivery, drop, view change, membership,
// crash and start folded into one hash (Cluster::TraceHash) and handed to the trace hook.
#include <algorithm>

#include "cluster_impl.h"

namespace pbxstate::inproc {

std::uint64_t HashBytes(std::span<const std::uint8_t> bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then a finaliser for avalanche
  for (std::uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return Mix64(h ^ bytes.size());
}

std::uint64_t HashString(std::string_view s) {
  return HashBytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

TraceEvent Cluster::Impl::MakeTrace(TraceKind kind, std::size_t node) const {
  TraceEvent te;
  te.kind = kind;
  te.at = now_;
  te.node = node;
  return te;
}

void Cluster::Impl::Trace(const TraceEvent& te) {
  hasher_.Add(static_cast<std::uint64_t>(te.kind));
  hasher_.Add(static_cast<std::uint64_t>(Ns(te.at)));
  hasher_.Add(te.node);
  hasher_.Add(te.peer);
  hasher_.Add(te.bytes);
  hasher_.Add(te.frame_hash);
  hasher_.Add(static_cast<std::uint64_t>(te.drop_cause));
  if (te.change) {
    const ViewChange& c = *te.change;
    hasher_.Add(static_cast<std::uint64_t>(c.kind));
    hasher_.Add(static_cast<std::uint64_t>(c.cause));
    hasher_.Add(HashString(c.key));
    hasher_.Add(c.origin);
    hasher_.Add(c.version.incarnation);
    hasher_.Add(c.version.sequence);
    hasher_.AddOpt(c.old_contribution);
    hasher_.AddOpt(c.new_contribution);
    hasher_.AddOpt(c.old_aggregate);
    hasher_.AddOpt(c.new_aggregate);
    hasher_.AddMailbox(c.old_mailbox);
    hasher_.AddMailbox(c.new_mailbox);
    hasher_.AddRegistration(c.old_registration);
    hasher_.AddRegistration(c.new_registration);
  }
  if (te.members) {
    hasher_.Add(te.members->size());
    for (NodeId m : *te.members) hasher_.Add(m);
  }
  if (trace_hook_) {
    const bool outer = in_callback_;
    in_callback_ = true;
    trace_hook_(te);
    in_callback_ = outer;
  }
}

void Cluster::Impl::TraceViewChange(std::size_t i, const ViewChange& change) {
  TraceEvent te = MakeTrace(TraceKind::kViewChange, i);
  te.change = &change;
  Trace(te);
}

void Cluster::Impl::TraceMembers(TraceKind kind, std::size_t i, const std::vector<NodeId>& members) {
  TraceEvent te = MakeTrace(kind, i);
  te.members = &members;
  Trace(te);
}

}  // namespace pbxstate::inproc
