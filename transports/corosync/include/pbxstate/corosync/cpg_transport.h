// pbxstate's transport over Corosync CPG (libcpg): one process's membership of one CPG group.
//
// What it does, in one place (transports/corosync/README.md has the reasoning):
//   - Joins the configured group. Every message is multicast in agreed order (CPG_TYPE_AGREED).
//   - Turns CPG configuration changes into MembershipViews: members = the corosync node ids that
//     have an accepted member in the group (GroupMembers: one process per node id; others ignored
//     and counted), view_id = a counter that grows with every delivered view and never goes back
//     for the life of this object, reconnects included.
//   - Unicast = an addressed frame on the group (addressed_frame.h); receivers that are not the
//     destination drop it after its 8-byte envelope.
//   - Flow control, owned here and nowhere else on the CPG path: when CPG answers
//     CS_ERR_TRY_AGAIN the message is kept in a bounded SendQueue and retried every
//     retry_interval (and after every dispatch), in order; later sends queue behind it. When the
//     queue is full the oldest queued message is dropped (counted in queue_full; the engine's
//     watermarks see the gap and anti-entropy repairs it) and the send is accepted: a send never
//     answers kTryAgain, so the engine never queues frames of its own behind this queue.
//   - Backlog: messages accepted by CPG and not yet delivered back to us (CPG delivers our own
//     multicasts to us in their agreed place: that is the confirmation), plus the queue. When it
//     drops to 0 the handler's OnSendReady() runs, from Dispatch(): the engine's adaptive
//     batching sends what it held back meanwhile (env.h, Env::SendBacklog).
//   - Recovery: when corosync goes away (CS_ERR_LIBRARY, CS_ERR_BAD_HANDLE) the handle is
//     finalised, queued messages are discarded (counted), the handler gets a view of this node
//     alone, and the transport reconnects and rejoins with exponential backoff between
//     reconnect_min and reconnect_max. While disconnected, sends are dropped and counted and answer
//     kOk: the view says nobody is reachable, and rejoining triggers the engine's catch-up.
//   - One file descriptor for a host's event loop: fd() is an epoll descriptor, stable for the
//     object's life, that becomes readable whenever Dispatch() has work (a CPG message, a retry or
//     reconnect timer, a connection to tear down).
//
// Threading: not thread-safe. Every method and every Handler upcall runs on the thread that calls
// Dispatch(); a host that runs the engine elsewhere serialises (the Asterisk module holds a lock).
#pragma once

#include <corosync/cpg.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pbxstate/corosync/group_members.h"
#include "pbxstate/corosync/send_queue.h"
#include "pbxstate/corosync/timer_fd.h"
#include "pbxstate/engine.h"
#include "pbxstate/env.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::corosync {

using namespace std::chrono_literals;

struct CpgTransportConfig {
  std::string group = "pbxstate";   // CPG group name: 1..128 bytes (CPG_MAX_NAME_LENGTH)
  // Send queue bounds (messages after CS_ERR_TRY_AGAIN). Envelope bytes count.
  std::size_t max_queue_frames = 4096;
  std::size_t max_queue_bytes = 16u << 20;
  // Largest CPG message (envelope + engine frame); larger sends answer kTooLarge. libcpg fragments
  // large messages itself; 1 MiB keeps one message well inside corosync's IPC buffers.
  std::size_t max_message_bytes = 1u << 20;
  Duration retry_interval = 5ms;    // retry of the queue head after CS_ERR_TRY_AGAIN
  Duration reconnect_min = 100ms;   // first reconnect delay after losing corosync; doubles...
  Duration reconnect_max = 5000ms;  // ...up to this

  // The message names the field.
  Status Validate() const;
};

// Counters, never reset. "messages" are CPG messages (envelope + one engine frame).
struct CpgTransportStats {
  std::uint64_t broadcasts_sent = 0;      // accepted by cpg_mcast_joined, directly or from the queue
  std::uint64_t unicasts_sent = 0;
  std::uint64_t bytes_sent = 0;           // envelope included
  std::uint64_t envelope_bytes_sent = 0;  // the 8-byte headers alone
  std::uint64_t try_again = 0;            // CS_ERR_TRY_AGAIN answers (direct sends and retries)
  std::uint64_t queued = 0;               // messages that had to wait in the send queue
  std::uint64_t queue_full = 0;           // queue at its bound: the oldest queued message dropped
  std::uint64_t too_large = 0;            // sends refused with kTooLarge
  std::uint64_t unreachable = 0;          // unicasts refused with kUnreachable (not in the view)
  std::uint64_t dropped_disconnected = 0; // sends, or queued messages, dropped without corosync
  std::uint64_t messages_received = 0;    // delivered by CPG, ours included
  std::uint64_t bytes_received = 0;
  std::uint64_t own_messages = 0;         // our own multicasts coming back (discarded)
  std::uint64_t frames_delivered = 0;     // handed to the engine
  std::uint64_t unicast_not_for_us = 0;   // addressed to another node: handed to OnOverheard
  std::uint64_t unicast_not_for_us_bytes = 0;
  std::uint64_t envelope_errors = 0;      // messages whose envelope does not parse (dropped)
  std::uint64_t from_ignored_member = 0;  // messages from a second process of a node id (dropped)
  std::uint64_t duplicate_members = 0;    // members ignored because their node id was taken
  std::uint64_t confchgs = 0;             // CPG configuration changes of our group
  std::uint64_t totem_confchgs = 0;       // totem ring changes
  std::uint64_t views = 0;                // membership views handed to the engine
  std::uint64_t connects = 0;             // successful joins, the first included
  std::uint64_t connect_failures = 0;     // failed attempts (corosync down, join refused)
  std::uint64_t disconnects = 0;          // connections lost
  std::uint64_t ring_id_node = 0, ring_id_seq = 0;  // last totem ring id seen
};

class CpgTransport {
 public:
  // What the transport delivers. Called from inside Dispatch() only (never from a send).
  class Handler {
   public:
    virtual ~Handler() = default;
    // A frame for this node from accepted member `from`. Bytes are borrowed for the call.
    virtual void OnFrame(NodeId from, std::span<const std::uint8_t> frame) = 0;
    // A frame that accepted member `from` addressed to `to`, another node (every member receives
    // every unicast: "Unicast: addressed frames on the group", README.md). Bytes are borrowed for
    // the call. The default drops it; CpgEnv hands it to Engine::OnOverheard.
    virtual void OnOverheard(NodeId /*from*/, NodeId /*to*/, std::span<const std::uint8_t> /*frame*/) {}
    // A new membership view (members sorted, this node included).
    virtual void OnView(const MembershipView& view) = 0;
    // backlog() dropped to 0 (see the header comment). Never called from inside a send.
    virtual void OnSendReady() {}
  };
  using LogFn = std::function<void(LogLevel, std::string_view)>;

  // `handler` must outlive the transport. `log` may be empty (nothing is logged). Creating the
  // epoll set and the retry timer can fail (descriptor or memory limits): open_status() says so,
  // and Connect() returns it.
  CpgTransport(CpgTransportConfig config, Handler* handler, LogFn log);
  ~CpgTransport();
  CpgTransport(const CpgTransport&) = delete;
  CpgTransport& operator=(const CpgTransport&) = delete;

  // First connection: validates the config, connects to the local corosync, learns this node's
  // id and joins the group. Fails (with corosync's error named) when corosync cannot be reached;
  // the caller may call it again. Later losses are recovered inside Dispatch().
  Status Connect();
  // Ok, or why the constructor could not create its descriptors (the transport is then unusable).
  const Status& open_status() const { return open_status_; }

  // This node's corosync node id (kNoNode before the first successful Connect).
  NodeId local_node() const { return local_node_; }

  // Poll it for readability (EPOLLIN/POLLIN), then call Dispatch(). Valid after construction.
  int fd() const { return epoll_fd_; }
  // Does all due work: CPG deliveries and configuration changes (upcalls), queue retries,
  // teardown of a dead connection, reconnect attempts. Never blocks.
  void Dispatch();

  // Env-shaped sends (see env.h for the statuses; kTryAgain is never answered).
  SendStatus Broadcast(std::span<const std::uint8_t> frame);
  SendStatus Unicast(NodeId to, std::span<const std::uint8_t> frame);

  // Messages this transport accepted and is not through with: queued, or taken by CPG and not yet
  // delivered back to us. 0 while disconnected (what was pending was dropped and counted).
  std::size_t backlog() const { return in_flight_ + queue_.frames(); }

  // Graceful stop: tries for at most `flush_timeout` to hand queued messages to CPG, then leaves
  // the group and closes the connection. No upcalls happen after it. Idempotent.
  void Leave(Duration flush_timeout);

  bool connected() const { return handle_ != 0; }
  // Non-empty when the transport cannot go on and the host should stop: this process is a second
  // member for its node id, or corosync came back with another node id.
  const std::string& fatal_error() const { return fatal_error_; }
  const MembershipView& view() const { return view_; }
  const CpgTransportStats& stats() const { return stats_; }
  const SendQueue& queue() const { return queue_; }
  const CpgTransportConfig& config() const { return config_; }

 private:
  static void DeliverThunk(cpg_handle_t handle, const cpg_name* group, std::uint32_t nodeid, std::uint32_t pid,
                           void* msg, std::size_t msg_len);
  static void ConfchgThunk(cpg_handle_t handle, const cpg_name* group, const cpg_address* members,
                           std::size_t member_count, const cpg_address* left, std::size_t left_count,
                           const cpg_address* joined, std::size_t joined_count);
  static void TotemConfchgThunk(cpg_handle_t handle, cpg_ring_id ring_id, std::uint32_t member_count,
                                const std::uint32_t* members);

  void OnDeliver(NodeId node, std::uint32_t pid, std::span<const std::uint8_t> message);
  void OnConfchg(std::span<const cpg_address> members);
  void OnTotemConfchg(const cpg_ring_id& ring_id);

  Status TryConnect();
  SendStatus Send(NodeId to, std::span<const std::uint8_t> frame);
  // Hands queued messages to CPG until it answers TRY_AGAIN or the queue is empty.
  void DrainQueue();
  // Counts a message CPG accepted.
  void CountSent(std::span<const std::uint8_t> message);
  // Marks the connection dead; the teardown runs at the next Dispatch (not inside a send).
  void MarkBroken(std::string_view where, int cs_error);
  void TearDown();
  void DeliverView();
  void RearmTimer();
  void Log(LogLevel level, std::string_view message) const;

  CpgTransportConfig config_;
  Handler* handler_;
  LogFn log_;
  cpg_name group_name_{};
  int epoll_fd_ = -1;
  TimerFd timer_;
  Status open_status_;
  cpg_handle_t handle_ = 0;
  int cpg_fd_ = -1;
  NodeId local_node_ = kNoNode;
  std::uint32_t local_pid_ = 0;
  std::unique_ptr<GroupMembers> members_;
  MembershipView view_;
  SendQueue queue_;
  std::size_t in_flight_ = 0;  // taken by cpg_mcast_joined, not yet delivered back to us
  bool ready_due_ = false;     // the backlog went to 0 during this Dispatch: tell the handler
  bool broken_ = false;      // connection dead, teardown pending
  bool leaving_ = false;     // Leave() started: no more upcalls
  bool left_ = false;
  std::optional<MonoTime> retry_due_;
  std::optional<MonoTime> reconnect_due_;
  Duration backoff_;
  std::string fatal_error_;
  CpgTransportStats stats_;
};

// "CS_ERR_TRY_AGAIN", ...: corosync's error names for log lines.
std::string_view CsErrorName(int cs_error);

}  // namespace pbxstate::corosync
