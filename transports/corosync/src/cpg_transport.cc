#include "pbxstate/corosync/cpg_transport.h"

#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "pbxstate/check.h"
#include "pbxstate/latency_trace.h"
#include "pbxstate/corosync/addressed_frame.h"
#include "pbxstate/corosync/posix_clock.h"

namespace pbxstate::corosync {

std::string_view CsErrorName(int cs_error) {
  switch (cs_error) {
    case CS_OK: return "CS_OK";
    case CS_ERR_LIBRARY: return "CS_ERR_LIBRARY";
    case CS_ERR_VERSION: return "CS_ERR_VERSION";
    case CS_ERR_INIT: return "CS_ERR_INIT";
    case CS_ERR_TIMEOUT: return "CS_ERR_TIMEOUT";
    case CS_ERR_TRY_AGAIN: return "CS_ERR_TRY_AGAIN";
    case CS_ERR_INVALID_PARAM: return "CS_ERR_INVALID_PARAM";
    case CS_ERR_NO_MEMORY: return "CS_ERR_NO_MEMORY";
    case CS_ERR_BAD_HANDLE: return "CS_ERR_BAD_HANDLE";
    case CS_ERR_BUSY: return "CS_ERR_BUSY";
    case CS_ERR_ACCESS: return "CS_ERR_ACCESS";
    case CS_ERR_NOT_EXIST: return "CS_ERR_NOT_EXIST";
    case CS_ERR_NAME_TOO_LONG: return "CS_ERR_NAME_TOO_LONG";
    case CS_ERR_EXIST: return "CS_ERR_EXIST";
    case CS_ERR_NO_SPACE: return "CS_ERR_NO_SPACE";
    case CS_ERR_INTERRUPT: return "CS_ERR_INTERRUPT";
    case CS_ERR_NOT_SUPPORTED: return "CS_ERR_NOT_SUPPORTED";
    case CS_ERR_MESSAGE_ERROR: return "CS_ERR_MESSAGE_ERROR";
    case CS_ERR_QUEUE_FULL: return "CS_ERR_QUEUE_FULL";
    case CS_ERR_TOO_BIG: return "CS_ERR_TOO_BIG";
    case CS_ERR_SECURITY: return "CS_ERR_SECURITY";
    default: return "CS_ERR_(other)";
  }
}

Status CpgTransportConfig::Validate() const {
  auto bad = [](const char* field, const std::string& why) {
    return Status::InvalidArgument(std::string("CpgTransportConfig.") + field + ": " + why);
  };
  if (group.empty() || group.size() > CPG_MAX_NAME_LENGTH) {
    return bad("group", "must be 1.." + std::to_string(CPG_MAX_NAME_LENGTH) + " bytes");
  }
  if (max_queue_frames == 0) return bad("max_queue_frames", "must be at least 1");
  if (max_message_bytes <= kAddressedHeaderBytes) return bad("max_message_bytes", "must exceed the 8-byte envelope");
  if (max_queue_bytes < max_message_bytes) {
    return bad("max_queue_bytes", "must hold at least one message of max_message_bytes");
  }
  if (retry_interval <= 0ms) return bad("retry_interval", "must be positive");
  if (reconnect_min <= 0ms) return bad("reconnect_min", "must be positive");
  if (reconnect_max < reconnect_min) return bad("reconnect_max", "must not be shorter than reconnect_min");
  return Status::Ok();
}

CpgTransport::CpgTransport(CpgTransportConfig config, Handler* handler, LogFn log)
    : config_(std::move(config)),
      handler_(handler),
      log_(std::move(log)),
      queue_(std::max<std::size_t>(config_.max_queue_frames, 1), std::max<std::size_t>(config_.max_queue_bytes, 1)),
      backoff_(config_.reconnect_min) {
  PBXSTATE_CHECK(handler_ != nullptr);
  local_pid_ = static_cast<std::uint32_t>(::getpid());
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    open_status_ = Status::FailedPrecondition(std::string("epoll_create1: ") + std::strerror(errno));
    return;
  }
  if (Status s = timer_.Open(); !s.ok()) {
    open_status_ = s;
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = timer_.fd();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_.fd(), &ev) != 0) {
    open_status_ = Status::FailedPrecondition(std::string("epoll_ctl(retry timer): ") + std::strerror(errno));
  }
}

CpgTransport::~CpgTransport() {
  if (handle_ != 0) {
    leaving_ = true;
    cpg_finalize(handle_);
    handle_ = 0;
  }
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void CpgTransport::Log(LogLevel level, std::string_view message) const {
  if (log_) log_(level, message);
}

Status CpgTransport::Connect() {
  if (!open_status_.ok()) return open_status_;
  if (Status s = config_.Validate(); !s.ok()) return s;
  PBXSTATE_CHECK(handle_ == 0);
  return TryConnect();
}

Status CpgTransport::TryConnect() {
  PBXSTATE_CHECK(handle_ == 0);
  reconnect_due_.reset();
  group_name_ = cpg_name{};
  group_name_.length = static_cast<std::uint32_t>(config_.group.size());
  std::memcpy(group_name_.value, config_.group.data(), config_.group.size());

  cpg_model_v1_data_t model{};
  model.model = CPG_MODEL_V1;
  model.cpg_deliver_fn = &CpgTransport::DeliverThunk;
  model.cpg_confchg_fn = &CpgTransport::ConfchgThunk;
  model.cpg_totem_confchg_fn = &CpgTransport::TotemConfchgThunk;
  model.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;

  auto fail = [this](std::string what, cpg_handle_t h) {
    if (h != 0) cpg_finalize(h);
    ++stats_.connect_failures;
    reconnect_due_ = PosixMonoNow() + backoff_;
    backoff_ = std::min(backoff_ * 2, config_.reconnect_max);
    RearmTimer();
    return Status::FailedPrecondition(std::move(what));
  };

  cpg_handle_t h = 0;
  cs_error_t rc = cpg_model_initialize(&h, CPG_MODEL_V1, reinterpret_cast<cpg_model_data_t*>(&model), this);
  if (rc != CS_OK) {
    return fail("cannot reach corosync: cpg_model_initialize: " + std::string(CsErrorName(rc)) +
                    " (is corosync running in this network namespace?)",
                0);
  }
  unsigned int node = 0;
  rc = cpg_local_get(h, &node);
  if (rc != CS_OK) return fail("cpg_local_get: " + std::string(CsErrorName(rc)), h);
  if (node == kNoNode) return fail("corosync reports node id 0", h);
  if (local_node_ != kNoNode && node != local_node_) {
    fatal_error_ = "corosync came back with node id " + std::to_string(node) + " instead of " +
                   std::to_string(local_node_) + "; the engine's identity cannot change";
    Log(LogLevel::kError, fatal_error_);
    cpg_finalize(h);
    return Status::FailedPrecondition(fatal_error_);
  }
  int fd = -1;
  rc = cpg_fd_get(h, &fd);
  if (rc != CS_OK) return fail("cpg_fd_get: " + std::string(CsErrorName(rc)), h);
  rc = cpg_join(h, &group_name_);
  if (rc != CS_OK) return fail("cpg_join(" + config_.group + "): " + std::string(CsErrorName(rc)), h);

  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return fail(std::string("epoll_ctl(cpg fd): ") + std::strerror(errno), h);
  }
  const bool first = local_node_ == kNoNode;
  local_node_ = node;
  handle_ = h;
  cpg_fd_ = fd;
  broken_ = false;
  backoff_ = config_.reconnect_min;
  if (members_ == nullptr) members_ = std::make_unique<GroupMembers>(CpgMember{local_node_, local_pid_});
  members_->ResetToSelf();
  if (first) {
    view_.members = {local_node_};
  }
  ++stats_.connects;
  Log(LogLevel::kInfo, std::string(first ? "joined" : "rejoined") + " CPG group '" + config_.group + "' as node " +
                           std::to_string(local_node_) + " pid " + std::to_string(local_pid_));
  RearmTimer();
  return Status::Ok();
}

// ---- CPG callbacks ---------------------------------------------------------------------------

namespace {
CpgTransport* FromHandle(cpg_handle_t handle) {
  void* context = nullptr;
  if (cpg_context_get(handle, &context) != CS_OK) return nullptr;
  return static_cast<CpgTransport*>(context);
}
}  // namespace

void CpgTransport::DeliverThunk(cpg_handle_t handle, const cpg_name* /*group*/, std::uint32_t nodeid,
                                std::uint32_t pid, void* msg, std::size_t msg_len) {
  PBXSTATE_TRACE(PBXSTATE_TRACE_RX_DELIVER);
  CpgTransport* self = FromHandle(handle);
  if (self == nullptr) return;
  self->OnDeliver(nodeid, pid, std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(msg), msg_len));
}

void CpgTransport::ConfchgThunk(cpg_handle_t handle, const cpg_name* /*group*/, const cpg_address* members,
                                std::size_t member_count, const cpg_address* /*left*/, std::size_t /*left_count*/,
                                const cpg_address* /*joined*/, std::size_t /*joined_count*/) {
  CpgTransport* self = FromHandle(handle);
  if (self == nullptr) return;
  self->OnConfchg(std::span<const cpg_address>(members, member_count));
}

void CpgTransport::TotemConfchgThunk(cpg_handle_t handle, cpg_ring_id ring_id, std::uint32_t /*member_count*/,
                                     const std::uint32_t* /*members*/) {
  CpgTransport* self = FromHandle(handle);
  if (self == nullptr) return;
  self->OnTotemConfchg(ring_id);
}

void CpgTransport::OnDeliver(NodeId node, std::uint32_t pid, std::span<const std::uint8_t> message) {
  ++stats_.messages_received;
  stats_.bytes_received += message.size();
  if (leaving_ || broken_) return;
  if (node == local_node_ && pid == local_pid_) {
    // CPG delivers our multicasts to us too, in their agreed place: the confirmation that the
    // ring carried it. In agreed order our own messages come back in the order we sent them.
    ++stats_.own_messages;
    if (in_flight_ > 0 && --in_flight_ == 0 && queue_.empty()) ready_due_ = true;
    return;
  }
  if (!members_->Accepts(node, pid)) {
    ++stats_.from_ignored_member;
    return;
  }
  AddressedHeader header;
  std::span<const std::uint8_t> payload;
  const EnvelopeError err = DecodeAddressedHeader(message, &header, &payload);
  if (err != EnvelopeError::kNone) {
    // Counted always; logged for the first few so a foreign writer in our group is visible.
    if (++stats_.envelope_errors <= 10) {
      Log(LogLevel::kWarning, "dropped a " + std::to_string(message.size()) + "-byte CPG message from node " +
                                  std::to_string(node) + " pid " + std::to_string(pid) + ": envelope " +
                                  std::string(EnvelopeErrorName(err)));
    }
    return;
  }
  if (header.kind == FrameKind::kUnicast && header.destination != local_node_) {
    ++stats_.unicast_not_for_us;
    stats_.unicast_not_for_us_bytes += message.size();
    handler_->OnOverheard(node, header.destination, payload);
    return;
  }
  ++stats_.frames_delivered;
  PBXSTATE_TRACE(PBXSTATE_TRACE_RX_ENVELOPE);
  handler_->OnFrame(node, payload);
}

void CpgTransport::OnConfchg(std::span<const cpg_address> members) {
  ++stats_.confchgs;
  if (leaving_ || broken_) return;
  std::vector<CpgMember> list;
  list.reserve(members.size());
  for (const cpg_address& a : members) list.push_back(CpgMember{a.nodeid, a.pid});
  const GroupMembers::Update update = members_->Apply(list);
  for (const CpgMember& m : update.newly_ignored) {
    ++stats_.duplicate_members;
    Log(LogLevel::kWarning, "ignoring CPG member pid " + std::to_string(m.pid) + " on node " + std::to_string(m.node) +
                                ": another process already serves that node id");
  }
  if (update.self_is_duplicate) {
    fatal_error_ = "another process already serves corosync node " + std::to_string(local_node_) +
                   " in CPG group '" + config_.group + "'; this one stops";
    Log(LogLevel::kError, fatal_error_);
    return;
  }
  if (update.nodes_changed) DeliverView();
}

void CpgTransport::OnTotemConfchg(const cpg_ring_id& ring_id) {
  ++stats_.totem_confchgs;
  stats_.ring_id_node = ring_id.nodeid;
  stats_.ring_id_seq = ring_id.seq;
}

void CpgTransport::DeliverView() {
  view_.view_id += 1;
  view_.members = members_ != nullptr ? members_->Nodes() : std::vector<NodeId>{local_node_};
  ++stats_.views;
  std::string text = "membership view " + std::to_string(view_.view_id) + ":";
  for (NodeId n : view_.members) text += " " + std::to_string(n);
  Log(LogLevel::kInfo, text);
  handler_->OnView(view_);
}

// ---- sending ---------------------------------------------------------------------------------

SendStatus CpgTransport::Broadcast(std::span<const std::uint8_t> frame) { return Send(kNoNode, frame); }

SendStatus CpgTransport::Unicast(NodeId to, std::span<const std::uint8_t> frame) {
  if (to == kNoNode || to == local_node_ || members_ == nullptr || !members_->HasNode(to)) {
    ++stats_.unreachable;
    return SendStatus::kUnreachable;
  }
  return Send(to, frame);
}

SendStatus CpgTransport::Send(NodeId to, std::span<const std::uint8_t> frame) {
  if (frame.size() > config_.max_message_bytes - kAddressedHeaderBytes) {
    ++stats_.too_large;
    return SendStatus::kTooLarge;
  }
  if (handle_ == 0 || broken_ || leaving_) {
    ++stats_.dropped_disconnected;
    return SendStatus::kOk;
  }
  const AddressedHeader header{to == kNoNode ? FrameKind::kBroadcast : FrameKind::kUnicast, to};
  const auto envelope = EncodeAddressedHeader(header);

  auto enqueue = [&]() {
    std::vector<std::uint8_t> message;
    message.reserve(envelope.size() + frame.size());
    message.insert(message.end(), envelope.begin(), envelope.end());
    message.insert(message.end(), frame.begin(), frame.end());
    // At the bound the oldest message goes: the queue stays bounded and this transport stays the
    // only owner of flow control on the path (the engine is never told to keep frames itself).
    // The message always fits once the others are gone: Validate() makes max_queue_bytes hold a
    // message of max_message_bytes.
    while (!queue_.Push(message)) {
      PBXSTATE_CHECK(!queue_.empty());
      queue_.Pop();
      if (++stats_.queue_full == 1 || stats_.queue_full % 1000 == 0) {
        Log(LogLevel::kWarning, "CPG send queue full (" + std::to_string(queue_.max_frames()) + " messages, " +
                                    std::to_string(queue_.max_bytes()) + " bytes): dropped the oldest queued message (" +
                                    std::to_string(stats_.queue_full) + " so far); anti-entropy repairs what it carried");
      }
    }
    ++stats_.queued;
    if (!retry_due_) {
      retry_due_ = PosixMonoNow() + config_.retry_interval;
      RearmTimer();
    }
    return SendStatus::kOk;
  };

  if (!queue_.empty()) return enqueue();  // keep send order behind what already waits

  iovec iov[2];
  iov[0].iov_base = const_cast<std::uint8_t*>(envelope.data());
  iov[0].iov_len = envelope.size();
  iov[1].iov_base = const_cast<std::uint8_t*>(frame.data());
  iov[1].iov_len = frame.size();
  PBXSTATE_TRACE(PBXSTATE_TRACE_TX_MCAST);
  const cs_error_t rc = cpg_mcast_joined(handle_, CPG_TYPE_AGREED, iov, frame.empty() ? 1 : 2);
  PBXSTATE_TRACE(PBXSTATE_TRACE_TX_MCAST_DONE);
  switch (rc) {
    case CS_OK:
      ++in_flight_;
      if (to == kNoNode) {
        ++stats_.broadcasts_sent;
      } else {
        ++stats_.unicasts_sent;
      }
      stats_.bytes_sent += envelope.size() + frame.size();
      stats_.envelope_bytes_sent += envelope.size();
      return SendStatus::kOk;
    case CS_ERR_TRY_AGAIN:
      ++stats_.try_again;
      return enqueue();
    case CS_ERR_TOO_BIG:
      ++stats_.too_large;
      return SendStatus::kTooLarge;
    default:
      MarkBroken("cpg_mcast_joined", rc);
      ++stats_.dropped_disconnected;
      return SendStatus::kOk;
  }
}

void CpgTransport::CountSent(std::span<const std::uint8_t> message) {
  PBXSTATE_CHECK_GE(message.size(), kAddressedHeaderBytes);
  if (message[3] == static_cast<std::uint8_t>(FrameKind::kBroadcast)) {
    ++stats_.broadcasts_sent;
  } else {
    ++stats_.unicasts_sent;
  }
  stats_.bytes_sent += message.size();
  stats_.envelope_bytes_sent += kAddressedHeaderBytes;
}

void CpgTransport::DrainQueue() {
  retry_due_.reset();
  while (!queue_.empty() && handle_ != 0 && !broken_) {
    const std::vector<std::uint8_t>& message = queue_.front();
    iovec iov{};
    iov.iov_base = const_cast<std::uint8_t*>(message.data());
    iov.iov_len = message.size();
    const cs_error_t rc = cpg_mcast_joined(handle_, CPG_TYPE_AGREED, &iov, 1);
    if (rc == CS_OK) {
      CountSent(message);
      queue_.Pop();
      ++in_flight_;
      continue;
    }
    if (rc == CS_ERR_TRY_AGAIN) {
      ++stats_.try_again;
      retry_due_ = PosixMonoNow() + config_.retry_interval;
      break;
    }
    MarkBroken("cpg_mcast_joined (queued)", rc);
    break;
  }
  RearmTimer();
}

// ---- connection life -------------------------------------------------------------------------

void CpgTransport::MarkBroken(std::string_view where, int cs_error) {
  if (broken_) return;
  broken_ = true;
  Log(LogLevel::kWarning, "lost corosync: " + std::string(where) + ": " + std::string(CsErrorName(cs_error)));
  RearmTimer();  // fires at once: the teardown happens in the next Dispatch, outside any send
}

void CpgTransport::TearDown() {
  PBXSTATE_CHECK(handle_ != 0);
  // A failed DEL is harmless: cpg_finalize closes the descriptor, which leaves the set anyway.
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, cpg_fd_, nullptr);
  cpg_finalize(handle_);
  handle_ = 0;
  cpg_fd_ = -1;
  broken_ = false;
  ++stats_.disconnects;
  const std::size_t dropped = queue_.Clear();
  stats_.dropped_disconnected += dropped;
  in_flight_ = 0;  // never coming back: the connection that carried them is gone
  ready_due_ = true;
  retry_due_.reset();
  reconnect_due_ = PosixMonoNow() + backoff_;
  backoff_ = std::min(backoff_ * 2, config_.reconnect_max);
  Log(LogLevel::kWarning, "disconnected from corosync (" + std::to_string(dropped) +
                              " queued messages dropped); reconnecting");
  if (members_ != nullptr) {
    const bool alone = members_->Nodes().size() == 1;
    members_->ResetToSelf();
    if (!alone) DeliverView();  // nobody is reachable without corosync
  }
  RearmTimer();
}

void CpgTransport::Dispatch() {
  timer_.Drain();
  if (left_) return;
  if (handle_ != 0 && !broken_) {
    PBXSTATE_TRACE(PBXSTATE_TRACE_RX_CPG_DISPATCH);
    const cs_error_t rc = cpg_dispatch(handle_, CS_DISPATCH_ALL);
    PBXSTATE_TRACE(PBXSTATE_TRACE_RX_CPG_RETURNED);
    if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN) MarkBroken("cpg_dispatch", rc);
  }
  if (handle_ != 0 && broken_) TearDown();
  if (handle_ != 0 && !queue_.empty()) DrainQueue();
  if (handle_ != 0 && broken_) TearDown();
  if (ready_due_ && backlog() == 0 && !leaving_) {
    ready_due_ = false;
    handler_->OnSendReady();
  }
  if (handle_ == 0 && fatal_error_.empty() && reconnect_due_ && PosixMonoNow() >= *reconnect_due_) {
    const Status s = TryConnect();
    if (!s.ok() && fatal_error_.empty()) {
      Log(LogLevel::kDebug, "reconnect failed: " + s.message());
    }
  }
  RearmTimer();
}

void CpgTransport::RearmTimer() {
  if (left_) {
    timer_.Disarm();
    return;
  }
  std::optional<MonoTime> due;
  auto consider = [&due](std::optional<MonoTime> t) {
    if (t && (!due || *t < *due)) due = t;
  };
  if (broken_) consider(PosixMonoNow());
  if (handle_ != 0) consider(retry_due_);
  if (handle_ == 0) consider(reconnect_due_);
  if (due) {
    timer_.ArmAt(*due);
  } else {
    timer_.Disarm();
  }
}

void CpgTransport::Leave(Duration flush_timeout) {
  if (left_) return;
  leaving_ = true;
  if (handle_ != 0 && !broken_) {
    const MonoTime deadline = PosixMonoNow() + flush_timeout;
    while (!queue_.empty() && !broken_ && PosixMonoNow() < deadline) {
      // Deliveries keep flowing (corosync must not be blocked on our dispatch queue); with
      // leaving_ set they reach nobody.
      cpg_dispatch(handle_, CS_DISPATCH_ALL);
      DrainQueue();
      if (!queue_.empty()) std::this_thread::sleep_for(config_.retry_interval);
    }
    if (!queue_.empty()) {
      Log(LogLevel::kWarning, "leaving with " + std::to_string(queue_.frames()) + " messages still queued");
    }
    for (int attempt = 0; attempt < 50; ++attempt) {
      const cs_error_t rc = cpg_leave(handle_, &group_name_);
      if (rc != CS_ERR_TRY_AGAIN) break;
      std::this_thread::sleep_for(config_.retry_interval);
    }
  }
  if (handle_ != 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, cpg_fd_, nullptr);  // as in TearDown: a failure is harmless
    cpg_finalize(handle_);
    handle_ = 0;
    cpg_fd_ = -1;
  }
  stats_.dropped_disconnected += queue_.Clear();
  in_flight_ = 0;
  left_ = true;
  RearmTimer();
  Log(LogLevel::kInfo, "left CPG group '" + config_.group + "'");
}

}  // namespace pbxstate::corosync
