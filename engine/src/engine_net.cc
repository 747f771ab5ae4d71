// Frames in and out: dispatch of received frames, batching of local changes, the send queue.
#include <algorithm>
#include <limits>

#include "engine_impl.h"
#include "pbxstate/check.h"
#include "pbxstate/latency_trace.h"

namespace pbxstate {

void EngineImpl::OnFrame(NodeId from, std::span<const std::uint8_t> frame) {
  PBXSTATE_TRACE(PBXSTATE_TRACE_RX_ENGINE);
  PBXSTATE_CHECK(!in_callback_);
  ++stats_.frames_in;
  stats_.bytes_in += frame.size();
  Receive(from, frame, kNoNode);
  Rearm();
  PBXSTATE_TRACE(PBXSTATE_TRACE_RX_FRAME_DONE);
}

void EngineImpl::OnOverheard(NodeId from, NodeId to, std::span<const std::uint8_t> frame) {
  PBXSTATE_CHECK(!in_callback_);
  // The host's side of the contract (engine.h): only where a unicast reaches every node, and
  // only what was addressed to another node.
  PBXSTATE_CHECK(unicast_reaches_everyone_);
  PBXSTATE_CHECK(to != kNoNode && to != config_.node_id);
  mailbox_overhearing_.delivered = true;
  // Of use: mailbox repair's records (last-writer-wins whoever they were for) and the sign that an
  // exchange runs, and a catch-up page's stream (which a want of its origin follows); the rest
  // was never this node's to receive, so it is not counted as dropped either, nor is a header
  // that does not parse.
  codec::FrameHeader h{};
  std::span<const std::uint8_t> body;
  if (codec::DecodeHeader(frame, limits_, &h, &body)) return;
  if (h.type != codec::FrameType::kMailboxEntries && h.type != codec::FrameType::kMailboxRanges &&
      h.type != codec::FrameType::kSyncPage) {
    return;
  }
  Receive(from, frame, kNoNode, to);
  Rearm();
}

void EngineImpl::Receive(NodeId from, std::span<const std::uint8_t> frame, NodeId via, NodeId overheard_to) {
  codec::FrameHeader h{};
  std::span<const std::uint8_t> body;
  if (auto err = codec::DecodeHeader(frame, limits_, &h, &body)) {
    Drop(*err);
    return;
  }
  PBXSTATE_TRACE(PBXSTATE_TRACE_RX_HEADER);
  if (via != kNoNode) {
    // Carried by a relay: only the frames a node sends to everyone, and never a RELAY in a RELAY
    // (which would let one frame fan out without bound). The sender is the frame's own.
    if (h.type != codec::FrameType::kUpdates && h.type != codec::FrameType::kHeartbeat) {
      Drop(DropReason::kMalformed);
      return;
    }
    from = h.sender;
  }
  // Before the sender, the incarnation or a byte of the body is used: the MAC and replay state.
  if (!Authenticate(from, h, overheard_to)) return;  // counted there
  PBXSTATE_TRACE(PBXSTATE_TRACE_RX_MAC);
  if (h.sender == config_.node_id) {
    Drop(DropReason::kFromSelf);
    return;
  }
  // The transport knows who sent the frame; a header that claims someone else is not trusted.
  if (h.sender != from) {
    Drop(DropReason::kMalformed);
    return;
  }
  // Decode the whole body before anything in it (or its header) changes our state.
  std::optional<DropReason> err;
  switch (h.type) {
    case codec::FrameType::kUpdates: err = codec::DecodeUpdates(body, limits_, &updates_buf_); break;
    case codec::FrameType::kSyncPage: err = codec::DecodeSyncPage(body, limits_, &page_buf_); break;
    case codec::FrameType::kDigest: err = codec::DecodeDigest(body, &digest_buf_); break;
    case codec::FrameType::kMailboxRanges: err = codec::DecodeMailboxRanges(body, &ranges_buf_); break;
    case codec::FrameType::kMailboxEntries:
      err = codec::DecodeMailboxEntries(body, limits_, &mailbox_entries_buf_);
      break;
    case codec::FrameType::kRelay: err = codec::DecodeRelay(body, limits_, &relay_in_buf_); break;
    default: break;
  }
  codec::Heartbeat hb;
  codec::Summary summary;
  codec::SyncRequest request;
  codec::SyncAck ack;
  codec::SyncRefuse refuse;
  switch (h.type) {
    case codec::FrameType::kHeartbeat: err = codec::DecodeHeartbeat(body, &hb); break;
    case codec::FrameType::kSummary: err = codec::DecodeSummary(body, &summary); break;
    case codec::FrameType::kSyncRequest: err = codec::DecodeSyncRequest(body, &request); break;
    case codec::FrameType::kSyncAck: err = codec::DecodeSyncAck(body, &ack); break;
    case codec::FrameType::kSyncRefuse: err = codec::DecodeSyncRefuse(body, &refuse); break;
    default: break;
  }
  if (err) {
    Drop(*err);
    LogRefusedBody(h, *err);
    return;
  }
  if (config_.membership == MembershipSource::kTransport && !IsLive(h.sender)) {
    Drop(DropReason::kNotMember);
    return;
  }
  if (!NoteIncarnation(h.sender, h.incarnation)) return;  // counted there
  if (config_.membership == MembershipSource::kHeartbeat) HeardFrom(h.sender, via);
  PBXSTATE_TRACE(PBXSTATE_TRACE_RX_DECODED);
  if (overheard_to != kNoNode && h.type == codec::FrameType::kSyncPage) return HandleSyncPage(h.sender, page_buf_, true);
  if (overheard_to != kNoNode) return ApplyOverheard(h.sender, h.type);  // a repair frame (OnOverheard)
  switch (h.type) {
    case codec::FrameType::kUpdates: ApplyUpdates(h.sender, updates_buf_); break;
    case codec::FrameType::kHeartbeat: {
      Peer& p = peers_[h.sender];
      p.summary = hb.summary;
      p.label.assign(hb.label);
      if (!hb.site_mates.empty()) NoteSiteMatesHeard(h.sender, hb.site_mates);
      // With heartbeat membership, nodes whose summaries are equal send each other no summary
      // and no digest: a heartbeat is where a peer that was repaired shows its set equal again.
      if (hb.summary == SummaryHash()) MailboxSetEqualAt(h.sender);
      break;
    }
    case codec::FrameType::kSummary: HandleSummary(h.sender, summary); break;
    case codec::FrameType::kDigest: HandleDigest(h.sender, digest_buf_); break;
    case codec::FrameType::kSyncRequest: HandleSyncRequest(h.sender, request); break;
    case codec::FrameType::kSyncPage: HandleSyncPage(h.sender, page_buf_); break;
    case codec::FrameType::kSyncAck: HandleSyncAck(h.sender, ack); break;
    case codec::FrameType::kSyncRefuse: HandleSyncRefuse(h.sender, refuse); break;
    case codec::FrameType::kMailboxRanges: HandleMailboxRanges(h.sender, ranges_buf_); break;
    case codec::FrameType::kMailboxEntries: HandleMailboxEntries(h.sender, mailbox_entries_buf_); break;
    case codec::FrameType::kRelay: ReceiveRelayed(h.sender, relay_in_buf_); break;
  }
  // A frame for everyone that came straight from its sender asks this node, a relay, to pass it
  // on to the rest of its site (engine/README.md, "Sites and relays").
  if (RelaysOn() && via == kNoNode &&
      (h.type == codec::FrameType::kUpdates || h.type == codec::FrameType::kHeartbeat)) {
    ++stats_.frames_relayed;
    HoldForRelay(h.sender, frame);
  }
}

void EngineImpl::LogRefusedBody(const codec::FrameHeader& h, DropReason why) {
  if (h.type != codec::FrameType::kMailboxRanges && h.type != codec::FrameType::kMailboxEntries) return;
  // Named, so that an operator sees which peer sends what (at most once a second: a peer cannot
  // flood the log).
  const MonoTime now = env_->Now();
  if (malformed_logged_ && now - *malformed_logged_ < std::chrono::seconds(1)) return;
  malformed_logged_ = now;
  env_->Log(LogLevel::kWarning, std::string("refused ") +
                                    (h.type == codec::FrameType::kMailboxRanges ? "MAILBOX_RANGES" : "MAILBOX_ENTRIES") +
                                    " frame from node " + std::to_string(h.sender) + ": " + std::string(DropReasonName(why)));
}

void EngineImpl::ApplyUpdates(NodeId sender, const codec::Updates& updates) {
  for (const codec::Record& rec : updates.records) {
    PBXSTATE_TRACE(PBXSTATE_TRACE_RX_RECORD);
    if (rec.kind == static_cast<std::uint8_t>(EntryKind::kMailbox)) {
      if (ApplyMailbox(rec, ChangeCause::kRemote)) MailboxMovedBy(sender);
    } else {
      ApplyOwned(sender, rec, ChangeCause::kRemote);
    }
  }
  OriginState& o = OriginFor(sender);
  o.ranges.Add(updates.from_seq, updates.to_seq);
  StoreChanged();
  if (o.ranges.range_count() != 0) NoteGap(sender);
  PBXSTATE_TRACE(PBXSTATE_TRACE_RX_APPLIED);
}

bool EngineImpl::Authenticate(NodeId from, const codec::FrameHeader& h, NodeId overheard_to) {
  if (!auth_.enabled()) {
    if (!h.authenticated) return true;
    Drop(DropReason::kAuthNotConfigured);
    return false;
  }
  if (!h.authenticated) {
    Drop(DropReason::kUnauthenticated);
    return false;
  }
  if (auto err = auth_.Verify(h)) {
    Drop(*err);
    return false;
  }
  // The MAC vouches for the header; what follows only needs it to be consistent. A unicast meant
  // for another node is someone replaying it here (its counter was never seen here, so the window
  // alone would not catch it), unless the transport says it overheard it addressed so.
  const bool addressed_here = overheard_to != kNoNode ? h.to == overheard_to : (h.to == kNoNode || h.to == config_.node_id);
  if (!addressed_here) {
    Drop(DropReason::kReplayed);
    return false;
  }
  // Our own frames and frames whose transport sender disagrees are refused by OnFrame; they must
  // not create or move replay state.
  if (h.sender == config_.node_id || h.sender != from) return true;
  auto it = replay_.find(h.sender);
  if (it == replay_.end()) {
    if (replay_.size() + 1 >= config_.max_nodes) {  // this node counts too
      Drop(DropReason::kTooManyNodes);
      return false;
    }
    it = replay_.emplace(h.sender, ReplayWindow{}).first;
  }
  if (auto err = it->second.Accept(h.incarnation, h.counter)) {
    Drop(*err);
    return false;
  }
  return true;
}

void EngineImpl::MarkPending(EntryKind kind, std::uint32_t id) {
  pending_.Add(kind, id);
  PBXSTATE_CHECK_LE(pending_.size(), config_.max_batch_changes);
  if (config_.batch_window == 0ms) {
    FlushPending();
    return;
  }
  // Ready or not is judged before this change counts as the last one: the quiet gap before it.
  const bool ready = TransportReady();
  NoteLocalChange();
  if (pending_.size() >= config_.max_batch_changes || ready) {
    FlushPending();
    return;
  }
  // Held: it leaves with the others when the transport is ready (OnSendReady, or the end of the
  // pacing interval), one pacing interval after the first held change at the latest.
  ++stats_.changes_held;
  if (!held_since_) held_since_ = env_->Now();
  ArmFlush();
}

void EngineImpl::ArmFlush() {
  PBXSTATE_CHECK(held_since_);
  const MonoTime bound = *held_since_ + pace_;
  MonoTime due = bound;
  // Only the pacing interval holds the changes back: they leave when it ends. Otherwise the
  // transport is busy and OnSendReady (or the engine's retry) comes first, or the bound.
  const std::optional<std::size_t> backlog = env_->SendBacklog();
  const std::optional<MonoTime> pacing_end = PacingEnd();
  if (pacing_end && *pacing_end < due && send_queue_.empty() && (!backlog || *backlog == 0)) due = *pacing_end;
  flush_due_ = due;
}

std::optional<MonoTime> EngineImpl::PacingEnd() const {
  if (!paced_until_) return std::nullopt;
  return std::min(*paced_until_, QuietGapEnd());
}

void EngineImpl::NoteLocalChange() {
  const MonoTime now = env_->Now();
  // A quiet gap before this change ended the pacing; counting the change as the last activity
  // must not start it again. Else changes held by a busy transport or a host's bracket (CpgEnv's
  // batch) after the gap would wait, once the pacing has grown, up to a window past the
  // transport's OnSendReady. In a stream the gap has not ended and the pacing is left as it is.
  if (paced_until_) {
    const MonoTime gap_end = QuietGapEnd();
    if (gap_end <= now && gap_end < *paced_until_) {
      paced_until_ = gap_end;  // PacingEnd() stays at or before now until the next flush
      // However a gap ends the pacing, flushes stay a window apart: the batched frame count.
      PBXSTATE_CHECK_GE(*paced_until_, *last_flush_ + config_.batch_window);
    }
  }
  last_change_ = now;
}

bool EngineImpl::TransportReady() {
  if (!send_queue_.empty()) return false;
  if (const std::optional<std::size_t> backlog = env_->SendBacklog(); backlog && *backlog != 0) return false;
  const std::optional<MonoTime> pacing_end = PacingEnd();
  return !pacing_end || env_->Now() >= *pacing_end;
}

void EngineImpl::FlushHeldIfDue(MonoTime now) {
  PBXSTATE_CHECK(flush_due_ && now >= *flush_due_);
  if (held_since_ && now < *held_since_ + pace_ && !TransportReady()) {
    ArmFlush();  // the transport became busy meanwhile: OnSendReady, or the bound
  } else {
    FlushPending();
  }
}

void EngineImpl::OnSendReady() {
  PBXSTATE_CHECK(!in_callback_);
  if (!send_queue_.empty()) DrainSendQueue();
  SendHeldChanges();
  Rearm();
}

void EngineImpl::SendHeldChanges() {
  if (pending_.empty()) return;
  if (TransportReady()) {
    FlushPending();
  } else if (held_since_) {
    ArmFlush();  // ready but for the pacing interval: its end
  }
}

void EngineImpl::FlushPending() {
  const bool flushing_held = held_since_.has_value();
  flush_due_.reset();
  held_since_.reset();
  if (pending_.empty()) return;
  const NodeId self = config_.node_id;
  // A member reused from flush to flush: a lone change allocates no record list.
  std::vector<codec::Record>& records = flush_records_;
  records.clear();
  records.reserve(pending_.size());
  for (const auto& [kind, id] : pending_) {
    switch (kind) {
      case EntryKind::kDevice: {
        // Gone only when it was removed and its tombstone's horizon came before the flush.
        if (const Contribution* c = FindContribution(id, self)) records.push_back(DeviceRecordFor(id, *c));
        break;
      }
      case EntryKind::kRegistration:
        // Gone only when it expired past its horizon before the flush: nothing left to say.
        if (const Registration* r = FindRegistration(id, self)) records.push_back(RegistrationRecordFor(id, *r));
        break;
      case EntryKind::kMailbox:
        // Gone only when it was removed and its tombstone's horizon came before the flush.
        if (mailboxes_[id].value) records.push_back(MailboxRecordFor(id));
        break;
    }
  }
  pending_.Clear();
  // Frames carry ascending sequence ranges; each claims the changes up to its highest record,
  // the last one up to own_seq_, so coalesced-away changes leave no gap at the receivers.
  // Usually sorted already (pending_ is in change order): then stable_sort's buffer is not needed.
  const auto by_seq = [](const codec::Record& a, const codec::Record& b) { return a.seq < b.seq; };
  if (!std::is_sorted(records.begin(), records.end(), by_seq)) std::stable_sort(records.begin(), records.end(), by_seq);
  SendUpdates(records, flushing_held);
  // A burst's list is given back: what stays held between flushes is small.
  if (records.capacity() > kFlushRecordsKept) std::vector<codec::Record>().swap(records);
}

bool EngineImpl::SendAloneFirst(const codec::Record& rec) {
  PBXSTATE_TRACE(PBXSTATE_TRACE_TX_CHECKED);
  // Anything held, or a flush armed, goes first: the change then queues behind it (MarkPending).
  if (!pending_.empty() || held_since_ || flush_due_) return false;
  if (config_.batch_window > 0ms) {
    if (!TransportReady()) return false;
    NoteLocalChange();  // as MarkPending notes it, after judging the quiet gap before it
  }
  SendUpdates(std::span<const codec::Record>(&rec, 1), false);
  return true;
}

void EngineImpl::SendUpdates(std::span<const codec::Record> records, bool flushing_held) {
  const NodeId self = config_.node_id;
  const std::size_t budget = MaxPlainFrameBytes() - codec::kFrameHeaderBytes - codec::kUpdatesPrefixMaxBytes;
  std::size_t i = 0;
  std::uint64_t from = flushed_seq_;
  while (i < records.size() || from < own_seq_) {
    std::size_t j = i, bytes = 0;
    std::uint64_t max_seq = from;
    while (j < records.size()) {
      const std::size_t n = codec::EncodedRecordBytes(records[j]);
      if (bytes + n > budget) break;
      bytes += n;
      max_seq = std::max(max_seq, records[j].seq);
      ++j;
    }
    PBXSTATE_CHECK(j > i || i == records.size());  // Validate() guarantees one record fits a frame
    const std::uint64_t to = j == records.size() ? own_seq_ : max_seq;
    PBXSTATE_TRACE(PBXSTATE_TRACE_TX_FRAME);
    codec::BeginFrame(&frame_buf_, codec::FrameType::kUpdates, self, config_.incarnation);
    codec::Writer w(&frame_buf_);
    codec::EncodeUpdatesPrefix(w, from, to, static_cast<std::uint32_t>(j - i));
    for (const codec::Record& r : records.subspan(i, j - i)) codec::EncodeRecord(w, r);
    codec::EndFrame(&frame_buf_);
    PBXSTATE_TRACE(PBXSTATE_TRACE_TX_ENCODED);
    PBXSTATE_CHECK_LE(frame_buf_.size(), MaxPlainFrameBytes());
    ++stats_.update_frames_sent;
    Send(kNoNode, frame_buf_);
    from = to;
    i = j;
    if (i == records.size()) break;
  }
  flushed_seq_ = own_seq_;
  // Pacing, for every host: the next flush is at least one pacing interval away, so that under
  // load an interval's changes share frames (TransportReady); the interval grows while every
  // flush carries held changes (a stream) and is back at batch_window after a change sent at
  // once. A lone change after a quiet window still leaves at once (PacingEnd).
  if (config_.batch_window > 0ms) {
    pace_ = flushing_held ? std::min(std::max(2 * pace_, config_.batch_window), LongestPace()) : config_.batch_window;
    last_flush_ = env_->Now();
    paced_until_ = *last_flush_ + pace_;
  }
}

void EngineImpl::Send(NodeId to, const std::vector<std::uint8_t>& plain) {
  PBXSTATE_CHECK_LE(plain.size(), MaxPlainFrameBytes());
  const std::vector<std::uint8_t>& wire = Seal(to, plain);
  if (to == kNoNode && RelaysOn()) {
    SendToSites(wire);
    return;
  }
  Transmit(to, wire);
}

const std::vector<std::uint8_t>& EngineImpl::Seal(NodeId to, const std::vector<std::uint8_t>& plain) {
  if (!auth_.enabled()) return plain;
  // Every frame gets a counter of its own, even one that waits in the send queue: a frame is
  // sealed once and sent at most once (to a relay per site, when relays are on).
  PBXSTATE_CHECK_LT(auth_counter_, std::numeric_limits<std::uint64_t>::max());
  auth_.Seal(plain, to, ++auth_counter_, &sealed_buf_);
  PBXSTATE_TRACE(PBXSTATE_TRACE_TX_SEALED);
  PBXSTATE_CHECK_LE(sealed_buf_.size(), config_.max_frame_bytes);
  return sealed_buf_;
}

void EngineImpl::Transmit(NodeId to, const std::vector<std::uint8_t>& frame) {
  PBXSTATE_CHECK_LE(frame.size(), config_.max_frame_bytes);
  if (send_queue_.empty()) {
    const SendStatus st = to == kNoNode ? env_->Broadcast(frame) : env_->Unicast(to, frame);
    switch (st) {
      case SendStatus::kOk:
        ++stats_.frames_out;
        stats_.bytes_out += frame.size();
        ++(to == kNoNode ? stats_.broadcasts_out : stats_.unicasts_out);
        if (to == kNoNode) last_broadcast_ = env_->Now();
        return;
      case SendStatus::kTryAgain:
        ++stats_.send_try_again;
        break;  // queue it below
      case SendStatus::kTooLarge:
      case SendStatus::kUnreachable:
        ++stats_.send_failed;
        return;
    }
  }
  if (send_queue_.size() >= config_.max_send_queue_frames) {
    send_queue_.pop_front();
    ++stats_.send_queue_overflow;
  }
  send_queue_.push_back({to, frame});
  PBXSTATE_CHECK_LE(send_queue_.size(), config_.max_send_queue_frames);
  if (!send_retry_due_) send_retry_due_ = env_->Now() + config_.send_retry_interval;
}

void EngineImpl::DrainSendQueue() {
  send_retry_due_.reset();
  while (!send_queue_.empty()) {
    const Outgoing& out = send_queue_.front();
    const SendStatus st = out.to == kNoNode ? env_->Broadcast(out.bytes) : env_->Unicast(out.to, out.bytes);
    if (st == SendStatus::kTryAgain) {
      ++stats_.send_try_again;
      send_retry_due_ = env_->Now() + config_.send_retry_interval;
      return;
    }
    if (st == SendStatus::kOk) {
      ++stats_.frames_out;
      stats_.bytes_out += out.bytes.size();
      ++(out.to == kNoNode ? stats_.broadcasts_out : stats_.unicasts_out);
    } else {
      ++stats_.send_failed;
    }
    send_queue_.pop_front();
  }
}

}  // namespace pbxstate
