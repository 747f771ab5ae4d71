// CpgLayer: what lies between the ring and one CPG client process on a node: totempg's packing
// of messages into packets, service synchronisation after a ring change, and the CPG group of
// one process per node (exec/totempg.c: mcast_msg, callback_token_received_fn; exec/sync.c:
// sync_start, sync_barrier_handler; exec/cpg.c: cpg_sync_activate, downlist_inform_clients,
// joinlist_inform_clients, cpg_lib_exit_fn, the procjoin and procleave messages; exec/main.c:
// corosync_sending_allowed).
//
// A payload of the ring is a sequence of records (kind u8, node u32, length u16, bytes): the
// client's messages (to everyone, or addressed to one node as pbxstated's addressed frames are),
// process joins and leaves, and synchronisation barriers. Records are packed into one packet per
// token visit, as totempg packs messages, up to kMaxMcastPayload bytes.
//
// After a ring forms, every node multicasts a barrier per synchronisation round; a round ends
// when the barrier of every member is delivered. At the end of round kCpgActivateRound the group
// becomes the new ring's members whose process is joined, and the client gets its view; at the
// end of round kSyncRounds synchronisation is complete and the client may send again (before,
// Send answers kTryAgain, as CPG answers CS_ERR_TRY_AGAIN during synchronisation).
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "pbxstate/env.h"
#include "pbxstate/totem/srp.h"

namespace pbxstate::totem {

// Synchronisation rounds after a ring change (service list, then cmap, cpg, quorum, votequorum:
// the services with synchronisation, in service id order), and the round after which CPG
// delivers views (cpg is the second service).
inline constexpr std::uint32_t kSyncRounds = 5;
inline constexpr std::uint32_t kCpgActivateRound = 3;
// Bytes a record adds to a message.
inline constexpr std::size_t kRecordOverheadBytes = 7;
// The largest message a client may send (one record in one packet; the model does not fragment).
inline constexpr std::size_t kMaxClientMessage = kMaxMcastPayload - kRecordOverheadBytes;

// The CPG client of one node (pbxstated, or the engine in the ns-3 model).
class CpgClient {
 public:
  virtual ~CpgClient() = default;
  // A message from the process on node `from`, in agreed order.
  virtual void OnCpgDeliver(NodeId from, std::span<const std::uint8_t> payload) = 0;
  // The group's members (node ids of joined processes, sorted, this node included) changed.
  virtual void OnCpgView(const std::vector<NodeId>& members) = 0;
};

struct CpgCounters {
  std::uint64_t messages_sent = 0;       // client messages accepted by Send
  std::uint64_t messages_delivered = 0;  // client messages handed to the client
  std::uint64_t try_again = 0;           // Sends refused with kTryAgain
  std::uint64_t packets_queued = 0;      // packed payloads handed to the ring
  std::uint64_t views = 0;               // views given to the client
  std::uint64_t syncs_completed = 0;
  std::uint64_t malformed_records = 0;   // payloads that did not parse (never from this model)
};

class CpgLayer {
 public:
  CpgLayer(NodeId self, TotemSrp* srp, CpgClient* client);

  // A ring formed before the run: `members` all have a joined process; the client gets its view
  // now when `local_joined`.
  void StartFormed(const std::vector<NodeId>& members, bool local_joined);

  // The client multicasts `payload` to the group (`dest` kNoNode) or to one node.
  SendStatus Send(NodeId dest, std::span<const std::uint8_t> payload);
  // The local process joins the group (cpg_join) / is gone (its IPC closed: no more upcalls).
  void Join();
  void Leave();
  bool joined() const { return local_joined_; }
  bool syncing() const { return sync_round_ != 0; }

  // From the ring (see SrpHost).
  void OnTokenReceived();
  void OnDeliver(NodeId origin, std::span<const std::uint8_t> payload);
  void OnRingFormed(const RingId& ring, const std::vector<NodeId>& members);

  const CpgCounters& counters() const { return counters_; }

 private:
  enum class Kind : std::uint8_t { kData = 1, kProcJoin = 2, kProcLeave = 3, kBarrier = 4 };
  // Adds a record to the packing buffer, first handing a full buffer to the ring. Refuses (false)
  // when the ring's queue is full, unless `force` (joins, leaves and barriers always go: there
  // are a few per ring change).
  bool Append(Kind kind, NodeId node, std::span<const std::uint8_t> bytes, bool force);
  bool FlushPack(bool force);
  void SendBarrier();
  void HandleBarrier(NodeId origin, std::span<const std::uint8_t> bytes);
  void CompleteRound();
  void GiveView();

  NodeId self_;
  TotemSrp* srp_;
  CpgClient* client_;
  std::vector<std::uint8_t> pack_;  // records waiting for the next token visit
  std::set<NodeId> group_;          // nodes whose process is joined, as this node knows it
  bool local_joined_ = false;
  std::vector<NodeId> last_view_;
  // Synchronisation of the current ring.
  RingId sync_ring_;
  std::vector<NodeId> sync_members_;
  std::uint32_t sync_round_ = 0;  // 0: not synchronising
  std::set<NodeId> barriers_;     // members whose barrier of this round was delivered
  std::set<NodeId> joined_in_sync_;
  CpgCounters counters_;
};

}  // namespace pbxstate::totem
