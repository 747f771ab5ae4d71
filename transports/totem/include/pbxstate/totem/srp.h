// TotemSrp: one node's side of Corosync's Totem single-ring protocol, the state machine of
// exec/totemsrp.c at the level of its messages and timers (sim/ns3/COROSYNC_MODEL.md says what it
// keeps and what it leaves out). It sends and receives decoded packets and sets named timers
// through its SrpHost; it owns no socket and no clock, so a host (the ns-3 node application, a
// unit test) decides what time is and how packets travel.
//
// States: operational (a ring, the token rotating), gather (joins until every known process
// agrees, or consensus times out), commit (the commit token's two rotations), recovery (old-ring
// messages re-sent, then four token visits) and operational again with a new ring.
//
// Threading: none; every call comes from the host's one thread, and every upcall happens inside
// a call of the host's (OnPacket, OnTimer, Start*, SignalNewMessage, TransAck), never later.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <vector>

#include "pbxstate/totem/config.h"
#include "pbxstate/totem/wire.h"

namespace pbxstate::totem {

enum class MembState : std::uint8_t { kOperational, kGather, kCommit, kRecovery };
std::string_view MembStateName(MembState state);

enum class SrpTimer : std::uint8_t {
  kTokenLoss,        // the token timeout (effective token); consensus in gather
  kTokenRetransmit,  // resend the last token sent
  kTokenHold,        // the representative sends on an idle token it held
  kMergeDetect,      // idle representative's merge-detect multicast
  kJoin,             // gather: resend the join
  kConsensus,        // gather: consensus timeout
  kSendJoin,         // a join delayed by send_join
};
inline constexpr std::size_t kSrpTimerCount = 7;

// Packets queued for the ring at once (Corosync's MESSAGE_QUEUE_MAX: 4 MiB / MTU). A full queue
// refuses more (CPG answers TRY_AGAIN).
inline constexpr std::size_t kMaxQueuedPackets = 4 * 1024 * 1024 / 1500;
// Packets a node keeps between the oldest not yet received by all and the newest (Corosync's
// QUEUE_RTR_ITEMS_SIZE_MAX); flow control stops sending before it is reached.
inline constexpr std::uint64_t kMaxReceiveQueue = 16384;

class SrpHost {
 public:
  virtual ~SrpHost() = default;
  // Arms timer `t` to fire after `delay`, replacing a pending one; the host then calls OnTimer(t).
  virtual void SetTimer(SrpTimer t, Duration delay) = 0;
  virtual void CancelTimer(SrpTimer t) = 0;
  // One packet to one node / to every node the transport reaches, this one included (Corosync
  // receives its own multicasts). The host may lose either, as the network does.
  virtual void Unicast(NodeId to, const Packet& packet) = 0;
  virtual void Multicast(const Packet& packet) = 0;
  virtual std::uint64_t Random() = 0;
  // The token arrived and is valid: the layer above may Enqueue what it holds (totempg flushes
  // its packing buffer here) before this node multicasts.
  virtual void OnTokenReceived() = 0;
  // One packet's payload, in agreed order: every node of a ring delivers the same packets in the
  // same order.
  virtual void OnDeliver(NodeId origin, std::span<const std::uint8_t> payload) = 0;
  // A new ring is operational (Corosync's regular configuration). `transitional`: its members that
  // come from this node's previous ring.
  virtual void OnRingFormed(const RingId& ring, const std::vector<NodeId>& members,
                            const std::vector<NodeId>& transitional) = 0;
};

// What a node's protocol did, for tests and the run record.
struct SrpCounters {
  std::uint64_t tokens_sent = 0;          // tokens forwarded or retransmitted
  std::uint64_t token_retransmits = 0;
  std::uint64_t mcasts_sent = 0;          // new packets multicast
  std::uint64_t mcast_retransmits = 0;    // packets re-sent from a retransmit list
  std::uint64_t delivered = 0;            // packets delivered in agreed order
  std::uint64_t joins_sent = 0;
  std::uint64_t commit_tokens_sent = 0;
  std::uint64_t merge_detects_sent = 0;
  std::uint64_t hold_cancels_sent = 0;
  std::uint64_t rings_formed = 0;         // operational entered from recovery
  std::uint64_t token_losses = 0;         // token timeouts in the operational state
  std::uint64_t consensus_timeouts = 0;
  std::uint64_t foreign_packets = 0;      // packets of another ring that started gather
};

class TotemSrp {
 public:
  // `self` must be non-zero. `config` and `timeouts` are copied.
  TotemSrp(NodeId self, const TotemConfig& config, const TotemTimeouts& timeouts, SrpHost* host);
  TotemSrp(const TotemSrp&) = delete;
  TotemSrp& operator=(const TotemSrp&) = delete;

  // Starts operational in `ring` of `members` (sorted, holding self), as a cluster that formed
  // before the run: the representative sends the first token. Call once, before anything else.
  void StartFormed(const RingId& ring, const std::vector<NodeId>& members);
  // Starts as Corosync does when it boots: gather, knowing only itself; `last_ring_seq` is the
  // ring sequence it remembers from before (Corosync keeps it on disk). Call once.
  void StartGather(std::uint64_t last_ring_seq);

  // A packet of the ring protocol (not a ping) from node `packet.from`.
  void OnPacket(const Packet& packet);
  void OnTimer(SrpTimer t);

  // Queues one payload (at most kMaxMcastPayload bytes) to multicast in agreed order; it goes
  // out on one of this node's token visits. While the ring waits for its transitional ack it goes
  // to the synchronisation queue, which is sent first. Returns false when the queue is full,
  // unless `force` (the few control payloads of a ring change may exceed the bound).
  bool Enqueue(std::vector<std::uint8_t> payload, bool force = false);
  std::size_t QueueSpace() const;
  // A message is waiting to be sent (totemsrp_event_signal): cancels a held token.
  void SignalNewMessage();
  // Service synchronisation finished (totemsrp_trans_ack): the regular queue may go out again.
  void TransAck();

  MembState state() const { return state_; }
  const RingId& ring() const { return ring_; }
  const std::vector<NodeId>& members() const { return memb_; }
  bool waiting_trans_ack() const { return waiting_trans_ack_; }
  NodeId self() const { return self_; }
  const SrpCounters& counters() const { return counters_; }

 private:
  struct Stored {
    Mcast packet;
  };
  using SortQueue = std::map<std::uint64_t, Stored>;

  // ---- srp.cc: queues, delivery, the small handlers ----
  SortQueue& ActiveQueue();
  void UpdateAru();
  void DeliverUpTo(std::uint64_t end);
  void FreeMessages(std::uint64_t token_aru);
  void HandleMcast(const Mcast& m, NodeId from);
  void HandleForeign(NodeId sender);
  void HandleMergeDetect(const MergeDetect& m, NodeId from);
  void HandleHoldCancel(const HoldCancel& h);
  void MergeDetectTimeout();
  void RetransmitToken();
  void StartMergeDetect();
  void CancelMergeDetect();
  Packet MakePacket() const;
  void ResetTokenTimeouts();

  // ---- srp_token.cc: the token ----
  void HandleToken(const Token& token);
  void TokenSeqUnchanged(const Token& token);
  std::uint32_t FlowControlAllowed(const Token& token);
  std::uint32_t Retransmit(Token* token, std::uint32_t allowed);
  void RequestMissing(Token* token);
  std::uint32_t MulticastQueued(Token* token, std::uint32_t allowed);
  void UpdateTokenAru(Token* token, std::uint64_t last_aru);
  void RecoveryTokenVisit(Token* token);
  void SendToken(const Token& token, bool forward);
  void SendInitialToken();

  // ---- srp_membership.cc: gather, commit, recovery ----
  void GatherEnter();
  void SendJoin();
  void SendJoinNow();
  void HandleJoin(const Join& join, NodeId from);
  void ProcessJoin(const Join& join, NodeId from);
  bool IgnoreJoinUnderOperational(const Join& join, NodeId from) const;
  bool ConsensusAgreed() const;
  bool LowestInConfig() const;
  std::vector<NodeId> ActiveProcs() const;  // proc - failed
  void ConsensusTimeoutExpired();
  void TokenLossTimeout();
  void CreateCommitToken();
  void CommitEnter();
  void UpdateCommitToken();
  void SendCommitToken(Commit commit);
  void HandleCommit(const Commit& commit);
  void RecoveryEnter(const Commit& commit);
  void RecoveryTokenLoss();
  void OperationalEnter();
  void DeliverOldRing();

  NodeId self_;
  TotemConfig config_;
  TotemTimeouts timeouts_;
  SrpHost* host_;

  MembState state_ = MembState::kGather;
  RingId ring_;                    // my_ring_id
  std::vector<NodeId> memb_;       // my_memb_list: the ring's members, sorted
  std::vector<NodeId> proc_;       // my_proc_list (sorted)
  std::vector<NodeId> failed_;     // my_failed_list (sorted)
  std::set<NodeId> consensus_;
  std::uint64_t token_ring_id_seq_ = 0;  // highest ring sequence heard of
  bool failed_to_recv_ = false;

  // Token.
  bool token_discard_ = false;     // orf_token_discard: gather and commit ignore tokens
  std::int64_t my_token_seq_ = -1; // last token_seq handled on this ring
  std::uint64_t my_last_seq_ = 0;  // token.seq at the last visit
  std::uint32_t seq_unchanged_ = 0;
  bool token_held_ = false;
  bool merge_detect_outstanding_ = false;
  std::uint64_t my_last_aru_ = 0;
  std::uint32_t aru_count_ = 0;
  NodeId token_target_ = kNoNode;  // next member
  std::optional<Packet> last_token_;  // the last token or commit token sent, for retransmission

  // Messages.
  SortQueue regular_;               // this ring's packets by sequence number (the old ring's until
                                    // recovery ends)
  SortQueue recovery_;              // recovery: encapsulated old-ring packets
  std::map<std::uint64_t, std::uint32_t> miss_counts_;
  std::uint64_t my_aru_ = 0;
  std::uint64_t high_seq_received_ = 0;
  std::uint64_t high_delivered_ = 0;
  std::uint64_t last_released_ = 0;
  std::deque<std::vector<std::uint8_t>> new_queue_;    // regular sends
  std::deque<std::vector<std::uint8_t>> trans_queue_;  // sends while waiting for the trans ack
  std::deque<Mcast> retrans_queue_;                    // recovery: old-ring packets to re-send
  bool waiting_trans_ack_ = false;
  std::uint32_t my_trc_ = 0, my_pbl_ = 0, my_cbl_ = 0;  // flow control (fcc_calculate)

  // Commit and recovery.
  Commit commit_;
  std::vector<NodeId> new_memb_;
  std::vector<NodeId> trans_memb_;
  RingId old_ring_;                 // my_old_ring_id
  bool old_ring_saved_ = false;
  std::uint64_t old_ring_aru_ = 0;
  std::uint64_t old_ring_high_seq_received_ = 0;
  bool originated_token_ = false;
  bool set_retrans_flg_ = false;
  std::uint32_t retrans_flg_count_ = 0;
  std::uint32_t rotation_counter_ = 0;
  std::uint64_t install_seq_ = 0;
  bool received_flg_ = true;

  SrpCounters counters_;
};

}  // namespace pbxstate::totem
