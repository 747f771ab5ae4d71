// The totem model's packets, as they travel in ns-3 UDP datagrams: what each carries and its
// byte layout. The layout is this model's own (little-endian, fixed-width fields); what each
// packet carries follows Corosync's totemsrp.c message types (struct orf_token, mcast, memb_join,
// memb_commit_token, memb_merge_detect, token_hold_cancel) and knet's ping and pong.
//
// Every packet starts with an 8-byte header: magic 0x544D ("MT"), version 1, type, and the node
// id of the node that put it on the wire. Decoding never trusts a length: a packet that is short,
// long, or has a count beyond its bound is refused, never read past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "pbxstate/types.h"

namespace pbxstate::totem {

// One datagram: the UDP payload of a 1500-byte MTU.
inline constexpr std::size_t kMaxPacketBytes = 1472;
// Ring members the model carries: a commit token of this many members fits one datagram (33
// bytes a member).
// (Corosync's knet limit is 384 nodes; clusters of more than about 32 are not run in practice.)
inline constexpr std::size_t kMaxRingMembers = 40;
// Retransmission requests one token carries (Corosync's RETRANSMIT_ENTRIES_MAX).
inline constexpr std::size_t kRetransmitEntriesMax = 30;
// Bytes of an mcast packet before its payload (header, ring, seq, origin, encapsulation).
inline constexpr std::size_t kMcastOverheadBytes = 8 + 12 + 8 + 4 + 1 + 12 + 8;
// The largest payload of one mcast packet.
inline constexpr std::size_t kMaxMcastPayload = kMaxPacketBytes - kMcastOverheadBytes;

// A ring's identity: the representative that formed it and a sequence that grows by 4 per ring.
struct RingId {
  NodeId rep = kNoNode;
  std::uint64_t seq = 0;
  friend bool operator==(const RingId&, const RingId&) = default;
};

enum class PacketType : std::uint8_t {
  kToken = 1,
  kMcast = 2,
  kJoin = 3,
  kCommit = 4,
  kMergeDetect = 5,
  kHoldCancel = 6,
  kPing = 7,
  kPong = 8,
};

// The ordering token (struct orf_token).
struct Token {
  RingId ring;
  std::int64_t token_seq = 0;  // grows by one per hop; older values are retransmissions
  std::uint64_t seq = 0;       // the highest message sequence number assigned on this ring
  std::uint64_t aru = 0;       // all received up to, as far as the token has seen
  NodeId aru_addr = kNoNode;   // who lowered aru last (kNoNode: everybody has seq)
  std::uint32_t fcc = 0;       // messages sent during the last rotation (flow control)
  std::uint32_t backlog = 0;   // messages queued ring-wide
  bool retrans_flg = false;    // recovery: someone still has old-ring messages to resend
  std::vector<std::uint64_t> rtr;  // sequence numbers somebody misses; at most kRetransmitEntriesMax
};

// A numbered multicast (struct mcast). In recovery, `encapsulated` packets carry an old ring's
// message with its old ring id and sequence number.
struct Mcast {
  RingId ring;
  std::uint64_t seq = 0;
  NodeId origin = kNoNode;  // the node that first sent it (retransmissions keep it)
  bool encapsulated = false;
  RingId old_ring;          // encapsulated only
  std::uint64_t old_seq = 0;
  std::vector<std::uint8_t> payload;  // at most kMaxMcastPayload
};

// Gather's join (struct memb_join): the sender's process and failed lists.
struct Join {
  std::uint64_t ring_seq = 0;
  std::vector<NodeId> proc;    // sorted, at most kMaxRingMembers
  std::vector<NodeId> failed;  // sorted, at most kMaxRingMembers
};

// One member's line of the commit token (struct memb_commit_token_memb_entry).
struct CommitEntry {
  RingId old_ring;
  std::uint64_t aru = 0;
  std::uint64_t high_delivered = 0;
  bool received_flg = false;
};

// The commit token (struct memb_commit_token): the new ring's members, sorted, and each
// member's entry, filled as it passes.
struct Commit {
  RingId ring;
  std::int64_t token_seq = 0;
  std::uint32_t memb_index = 0;
  std::vector<NodeId> members;       // at most kMaxRingMembers
  std::vector<CommitEntry> entries;  // one per member
};

struct MergeDetect {
  RingId ring;
};

struct HoldCancel {
  RingId ring;
};

// knet's link heartbeat: a ping is answered by a pong carrying the same seq and sent time.
struct Ping {
  std::uint64_t seq = 0;
  std::int64_t sent_ns = 0;  // the pinger's monotonic clock
};

struct Packet {
  NodeId from = kNoNode;  // the node that put it on the wire
  std::variant<Token, Mcast, Join, Commit, MergeDetect, HoldCancel, Ping> body;
  bool pong = false;      // body is a Ping answered (kPong)
};

// Encodes `packet` into `out` (replaced). Returns false when it would exceed kMaxPacketBytes or a
// list exceeds its bound (a caller bug: the model never builds such a packet).
bool Encode(const Packet& packet, std::vector<std::uint8_t>* out);
// Decodes one datagram. Returns false (and leaves *packet unspecified) for anything malformed.
bool Decode(std::span<const std::uint8_t> bytes, Packet* packet);

}  // namespace pbxstate::totem
