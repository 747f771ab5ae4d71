// The store's records (store.cc; engine/README.md, "Semantics"): one device's contributions, one
// contact's registrations per node, one mailbox's latest write, what this node knows of one
// origin's owned entries, and the queues of tombstone horizons and registration expiries that
// say when an entry goes. EngineImpl holds them (engine_impl.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec.h"
#include "held_bytes.h"
#include "pbxstate/engine.h"
#include "received_ranges.h"

namespace pbxstate {

struct Contribution {
  std::uint64_t seq;
  NodeId node;
  DeviceState state;  // kUnknown while dead
  // Removed by its owner, kept until its horizon (TombstoneKeep) so an older version that
  // arrives later is refused, as a registration's tombstone is.
  bool dead = false;
};

struct DeviceRecord {
  std::string name;
  std::vector<Contribution> contributions;  // sorted by node; tombstones included
  std::optional<DeviceState> aggregate;     // of the live contributions
  bool Holds() const { return !contributions.empty(); }
  std::size_t HeapBytes() const { return held_bytes::Of(name) + held_bytes::Of(contributions); }
};

// When a device tombstone made here may go (its monotonic deadline), and which one it is.
struct DeviceHorizon {
  MonoTime at;
  std::uint32_t device;
  NodeId node;
  std::uint64_t incarnation;  // the node's, when the tombstone was made
  std::uint64_t seq;
};

// One node's entry for one contact of one AOR.
struct Registration {
  std::uint64_t seq = 0;
  NodeId node = kNoNode;
  bool dead = false;  // removed, or expired but kept until horizon_ns to refuse older versions
  ContactStatus status = ContactStatus::kReachable;
  std::uint32_t rtt_us = 0;
  std::int64_t expires_ns = 0;
  std::int64_t horizon_ns = 0;
  MonoTime learned{};  // when this node applied this version (Locate's age)
  std::string path;        // empty while dead
  std::string user_agent;  // empty while dead
};

// The length prefix of a contact entry's name (ContactEntryName).
inline constexpr std::size_t kContactNamePrefixBytes = 2;
static_assert(codec::kMaxKeyBytes < (1u << (8 * kContactNamePrefixBytes)));

// The interned name of the contact entry (aor, contact): the AOR's length in two bytes, the AOR,
// the contact. No two (aor, contact) pairs share one.
std::string ContactEntryName(std::string_view aor, std::string_view contact);

// One contact of one AOR, as every node that holds it has it: a registration entry is
// (AOR, contact, node), so the contact is part of the key and its entries are per node.
struct ContactRecord {
  std::string name;  // ContactEntryName(aor, contact)
  std::vector<Registration> regs;  // sorted by node; tombstones included
  bool Holds() const { return !regs.empty(); }
  std::size_t HeapBytes() const {
    std::size_t n = held_bytes::Of(name) + held_bytes::Of(regs);
    for (const Registration& r : regs) n += held_bytes::Of(r.path) + held_bytes::Of(r.user_agent);
    return n;
  }
  std::string_view aor() const {
    const std::size_t n = static_cast<std::uint8_t>(name[0]) | (static_cast<std::size_t>(static_cast<std::uint8_t>(name[1])) << 8);
    return std::string_view(name).substr(kContactNamePrefixBytes, n);
  }
  std::string_view contact() const { return std::string_view(name).substr(kContactNamePrefixBytes + aor().size()); }
};

// The contact entries interned for one AOR (the AOR's queries walk them); released with its
// last contact entry.
struct AorIndex {
  std::string name;
  std::vector<std::uint32_t> contact_ids;  // ids in contacts_, in the order interned
  bool Holds() const { return !contact_ids.empty(); }
  std::size_t HeapBytes() const { return held_bytes::Of(name) + held_bytes::Of(contact_ids); }
};

struct MailboxRecord {
  std::string name;
  // The latest write: a value, or (removed) a removal's tombstone, its hlc and writer with no
  // counts, kept until its horizon (EngineImpl::MailboxHorizonNs) so that an older value arriving
  // later (a late frame, a repair from a node that missed the removal) is refused.
  std::optional<MailboxValue> value;
  bool removed = false;
  bool Holds() const { return value.has_value(); }
  std::size_t HeapBytes() const { return held_bytes::Of(name); }
  bool Live() const { return value.has_value() && !removed; }
};

// When a mailbox tombstone may go (on the wall clock: the removal's timestamp plus the keep, the
// same instant on every node up to clock skew), and which write it is.
struct MailboxHorizon {
  std::int64_t at_ns;
  std::uint32_t mailbox;
  HlcTimestamp hlc;
  NodeId writer;
  bool operator>(const MailboxHorizon& o) const { return at_ns > o.at_ns; }
};

// What this node knows of one origin's owned entries.
struct OriginState {
  explicit OriginState(std::size_t max_ranges) : ranges(max_ranges) {}
  std::uint64_t incarnation = 0;
  ReceivedRanges ranges;
  std::uint64_t hash = 0;                // xor of the hashes of its live entries
  std::uint64_t entries = 0;             // device contributions + registrations held (dead included)
  std::vector<std::uint32_t> device_ids;   // devices it holds a contribution or tombstone of (may repeat; compacted)
  std::vector<std::uint32_t> contact_ids;  // contacts it holds an entry for (may repeat; compacted)
  MonoTime expired_at{};  // when this node last took the expiry of one of its registrations
};
// When a registration held here expires, or its tombstone's horizon comes (wall clock), and which
// version it is: an item whose version was replaced since is skipped when it comes up.
struct ExpiryItem {
  std::int64_t at_ns;
  std::uint32_t contact;
  NodeId node;
  std::uint64_t seq;
  bool operator>(const ExpiryItem& o) const { return at_ns > o.at_ns; }
};

}  // namespace pbxstate
