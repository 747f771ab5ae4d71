// The C API's handle and shared helpers (c_api_handle.h): the C enums' promise to match the C++
// values, the conversions, the handle as the engine's Env and ViewListener, the gatekeepers.
#include "c_api_handle.h"

#include <cstring>

#include "pbxstate/c_api_host.h"
#include "pbxstate/cluster_key.h"
#include "pbxstate/config.h"
#include "pbxstate/stats.h"

namespace pbxstate::capi {
namespace {

using pbxstate::ChangeCause;
using pbxstate::DeviceState;
using pbxstate::DropReason;
using pbxstate::EntryKind;
using pbxstate::Status;

// The C enums promise the C++ (and Asterisk) numeric values: checked here, once.
static_assert(AsInt(DeviceState::kUnknown) == PBXSTATE_DEVICE_UNKNOWN);
static_assert(AsInt(DeviceState::kNotInUse) == PBXSTATE_DEVICE_NOT_INUSE);
static_assert(AsInt(DeviceState::kInUse) == PBXSTATE_DEVICE_INUSE);
static_assert(AsInt(DeviceState::kBusy) == PBXSTATE_DEVICE_BUSY);
static_assert(AsInt(DeviceState::kInvalid) == PBXSTATE_DEVICE_INVALID);
static_assert(AsInt(DeviceState::kUnavailable) == PBXSTATE_DEVICE_UNAVAILABLE);
static_assert(AsInt(DeviceState::kRinging) == PBXSTATE_DEVICE_RINGING);
static_assert(AsInt(DeviceState::kRingInUse) == PBXSTATE_DEVICE_RINGINUSE);
static_assert(AsInt(DeviceState::kOnHold) == PBXSTATE_DEVICE_ONHOLD);
static_assert(pbxstate::kDeviceStateCount == PBXSTATE_DEVICE_STATE_COUNT);
static_assert(AsInt(EntryKind::kDevice) == PBXSTATE_KIND_DEVICE);
static_assert(AsInt(EntryKind::kMailbox) == PBXSTATE_KIND_MAILBOX);
static_assert(AsInt(EntryKind::kRegistration) == PBXSTATE_KIND_REGISTRATION);
static_assert(AsInt(ChangeCause::kLocal) == PBXSTATE_CAUSE_LOCAL);
static_assert(AsInt(ChangeCause::kRemote) == PBXSTATE_CAUSE_REMOTE);
static_assert(AsInt(ChangeCause::kDeparture) == PBXSTATE_CAUSE_DEPARTURE);
static_assert(AsInt(ChangeCause::kRestart) == PBXSTATE_CAUSE_RESTART);
static_assert(AsInt(ChangeCause::kExpiry) == PBXSTATE_CAUSE_EXPIRY);
static_assert(AsInt(pbxstate::ContactStatus::kReachable) == PBXSTATE_CONTACT_REACHABLE);
static_assert(AsInt(pbxstate::ContactStatus::kUnreachable) == PBXSTATE_CONTACT_UNREACHABLE);
static_assert(pbxstate::kDropReasonCount == PBXSTATE_DROP_REASON_COUNT);
static_assert(AsInt(DropReason::kTruncated) == PBXSTATE_DROP_TRUNCATED);
static_assert(AsInt(DropReason::kBadMagic) == PBXSTATE_DROP_BAD_MAGIC);
static_assert(AsInt(DropReason::kBadVersion) == PBXSTATE_DROP_BAD_VERSION);
static_assert(AsInt(DropReason::kUnknownType) == PBXSTATE_DROP_UNKNOWN_TYPE);
static_assert(AsInt(DropReason::kOversize) == PBXSTATE_DROP_OVERSIZE);
static_assert(AsInt(DropReason::kMalformed) == PBXSTATE_DROP_MALFORMED);
static_assert(AsInt(DropReason::kFromSelf) == PBXSTATE_DROP_FROM_SELF);
static_assert(AsInt(DropReason::kStaleIncarnation) == PBXSTATE_DROP_STALE_INCARNATION);
static_assert(AsInt(DropReason::kNotMember) == PBXSTATE_DROP_NOT_MEMBER);
static_assert(AsInt(DropReason::kTooManyNodes) == PBXSTATE_DROP_TOO_MANY_NODES);
static_assert(AsInt(DropReason::kUnexpected) == PBXSTATE_DROP_UNEXPECTED);
static_assert(AsInt(DropReason::kStoreFull) == PBXSTATE_DROP_STORE_FULL);
static_assert(AsInt(DropReason::kBadMac) == PBXSTATE_DROP_BAD_MAC);
static_assert(AsInt(DropReason::kUnknownKey) == PBXSTATE_DROP_UNKNOWN_KEY);
static_assert(AsInt(DropReason::kReplayed) == PBXSTATE_DROP_REPLAYED);
static_assert(AsInt(DropReason::kUnauthenticated) == PBXSTATE_DROP_UNAUTHENTICATED);
static_assert(AsInt(DropReason::kAuthNotConfigured) == PBXSTATE_DROP_AUTH_NOT_CONFIGURED);
static_assert(AsInt(DropReason::kSessionClosed) == PBXSTATE_DROP_SESSION_CLOSED);
static_assert(pbxstate::kClusterKeyBytes == PBXSTATE_CLUSTER_KEY_BYTES);
static_assert(AsInt(pbxstate::LogLevel::kDebug) == PBXSTATE_LOG_DEBUG);
static_assert(AsInt(pbxstate::LogLevel::kInfo) == PBXSTATE_LOG_INFO);
static_assert(AsInt(pbxstate::LogLevel::kWarning) == PBXSTATE_LOG_WARNING);
static_assert(AsInt(pbxstate::LogLevel::kError) == PBXSTATE_LOG_ERROR);
static_assert(std::is_same_v<pbxstate_node_id, pbxstate::NodeId>);

}  // namespace

int CodeOf(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk: return PBXSTATE_OK;
    case Status::Code::kInvalidArgument: return PBXSTATE_E_INVALID_ARGUMENT;
    case Status::Code::kResourceExhausted: return PBXSTATE_E_RESOURCE_EXHAUSTED;
    case Status::Code::kFailedPrecondition: return PBXSTATE_E_FAILED_PRECONDITION;
  }
  return PBXSTATE_E_INTERNAL;
}

// Copies `text` into a caller's buffer, truncating, always NUL-terminating when there is room.
void CopyOut(std::string_view text, char* buf, std::size_t buf_len) {
  if (buf == nullptr || buf_len == 0) return;
  const std::size_t n = std::min(text.size(), buf_len - 1);
  if (n > 0) std::memcpy(buf, text.data(), n);
  buf[n] = '\0';
}

// A (pointer, length) pair from C as a string_view; false when the pointer is NULL with a
// non-zero length (the only malformed combination).
bool ToView(const char* data, std::size_t len, std::string_view* out) {
  if (data == nullptr) {
    if (len != 0) return false;
    *out = std::string_view();
    return true;
  }
  *out = std::string_view(data, len);
  return true;
}

int DeviceToC(const std::optional<DeviceState>& s) { return s ? AsInt(*s) : PBXSTATE_DEVICE_NONE; }

pbxstate_mailbox_value MailboxToC(const MailboxValue& v) {
  pbxstate_mailbox_value out{};
  out.counts.new_messages = v.counts.new_messages;
  out.counts.old_messages = v.counts.old_messages;
  out.counts.urgent_messages = v.counts.urgent_messages;
  out.hlc_physical_ns = v.hlc.physical_ns;
  out.hlc_logical = v.hlc.logical;
  out.writer = v.writer;
  return out;
}

// The contact, path and user agent point into `info`, which must outlive the result
// (std::string::c_str() is NUL-terminated, so the C side gets C strings for free).
pbxstate_registration RegistrationToC(const pbxstate::RegistrationInfo& info) {
  pbxstate_registration out{};
  out.contact = info.contact.c_str();
  out.contact_len = info.contact.size();
  out.expires_ns = info.expires.time_since_epoch().count();
  out.status = AsInt(info.status);
  out.rtt_us = info.rtt_us;
  out.path = info.path.c_str();
  out.path_len = info.path.size();
  out.user_agent = info.user_agent.c_str();
  out.user_agent_len = info.user_agent.size();
  return out;
}

pbxstate_contribution ContributionToC(const pbxstate::DeviceContribution& c) {
  pbxstate_contribution out{};
  out.node = c.node;
  out.state = AsInt(c.state);
  out.incarnation = c.version.incarnation;
  out.sequence = c.version.sequence;
  return out;
}

pbxstate_registration_view RegistrationViewToC(const pbxstate::RegistrationView& r) {
  pbxstate_registration_view out{};
  out.node = r.node;
  out.info = RegistrationToC(r.info);
  out.incarnation = r.version.incarnation;
  out.sequence = r.version.sequence;
  return out;
}

// Gatekeepers for the re-entrancy rules. They record the reason in last_error.
int CheckMutable(pbxstate_engine* e) {
  if (e == nullptr) return PBXSTATE_E_INVALID_ARGUMENT;
  if (e->in_env > 0 || e->in_listener > 0) {
    e->SetError("called from inside a callback of this engine");
    return PBXSTATE_E_REENTRANT;
  }
  e->last_error.clear();
  return PBXSTATE_OK;
}
// Queries are allowed from listener callbacks but not from env callbacks (the engine is in the
// middle of changing itself then). A query does not reset last_error: it is const, and a listener
// inspecting the engine must not erase why the host's last call failed.
int CheckQuery(const pbxstate_engine* e) {
  if (e == nullptr) return PBXSTATE_E_INVALID_ARGUMENT;
  if (e->in_env > 0) return PBXSTATE_E_REENTRANT;
  return PBXSTATE_OK;
}
int FromStatus(pbxstate_engine* e, const Status& status) {
  if (!status.ok()) e->SetError(status.message());
  return CodeOf(status);
}

}  // namespace pbxstate::capi

using pbxstate::EntryKind;
using pbxstate::capi::AsInt;
using pbxstate::capi::DeviceToC;
using pbxstate::capi::MailboxToC;
using pbxstate::capi::RegistrationToC;

pbxstate::MonoTime pbxstate_engine::Now() {
  Scope s(&in_env);
  if (host_env != nullptr) return host_env->Now();
  return pbxstate::MonoTime(pbxstate::Duration(env.now_ns(env.user)));
}

pbxstate::WallTime pbxstate_engine::WallNow() {
  Scope s(&in_env);
  if (host_env != nullptr) return host_env->WallNow();
  return pbxstate::WallTime(pbxstate::Duration(env.wall_now_ns(env.user)));
}

void pbxstate_engine::ScheduleWakeup(pbxstate::MonoTime at) {
  Scope s(&in_env);
  if (host_env != nullptr) return host_env->ScheduleWakeup(at);
  env.schedule_wakeup(env.user, at.time_since_epoch().count());
}

std::optional<std::size_t> pbxstate_engine::SendBacklog() {
  Scope s(&in_env);
  if (host_env != nullptr) return host_env->SendBacklog();
  if (env.send_backlog == nullptr) return std::nullopt;
  const std::int64_t backlog = env.send_backlog(env.user);
  if (backlog < 0) return std::nullopt;
  return static_cast<std::size_t>(backlog);
}

pbxstate::SendStatus pbxstate_engine::SendStatusFromC(int rc) {
  switch (rc) {
    case PBXSTATE_SEND_OK: return pbxstate::SendStatus::kOk;
    case PBXSTATE_SEND_TRY_AGAIN: return pbxstate::SendStatus::kTryAgain;
    case PBXSTATE_SEND_TOO_LARGE: return pbxstate::SendStatus::kTooLarge;
    default: return pbxstate::SendStatus::kUnreachable;  // documented in c_api.h
  }
}

pbxstate::SendStatus pbxstate_engine::Broadcast(std::span<const std::uint8_t> frame) {
  Scope s(&in_env);
  if (host_env != nullptr) return host_env->Broadcast(frame);
  return SendStatusFromC(env.broadcast(env.user, frame.data(), frame.size()));
}

pbxstate::SendStatus pbxstate_engine::Unicast(pbxstate::NodeId to, std::span<const std::uint8_t> frame) {
  Scope s(&in_env);
  if (host_env != nullptr) return host_env->Unicast(to, frame);
  return SendStatusFromC(env.unicast(env.user, to, frame.data(), frame.size()));
}

bool pbxstate_engine::UnicastReachesEveryone() const {
  if (host_env != nullptr) return host_env->UnicastReachesEveryone();
  return env.unicast_reaches_everyone != 0;
}

std::uint64_t pbxstate_engine::Random() {
  Scope s(&in_env);
  if (host_env != nullptr) return host_env->Random();
  return env.random(env.user);
}

void pbxstate_engine::Log(pbxstate::LogLevel level, std::string_view message) {
  if (host_env != nullptr) {
    Scope s(&in_env);
    return host_env->Log(level, message);
  }
  if (env.log == nullptr) return;
  // A fixed buffer: logging must not allocate (it also reports allocation failures).
  char line[1024];
  const std::size_t n = std::min(message.size(), sizeof line - 1);
  if (n > 0) std::memcpy(line, message.data(), n);
  line[n] = '\0';
  Scope s(&in_env);
  env.log(env.user, pbxstate::CLogLevel(level), line, n);
}

void pbxstate_engine::OnViewChange(const pbxstate::ViewChange& change) {
  if (!has_listener || listener.view_change == nullptr) return;
  try {
    change_key.assign(change.key);  // within the reserved capacity: no allocation
  } catch (...) {
    // Cannot happen for keys within max_key_bytes; a change that cannot be reported is
    // logged rather than handed over with a key that is not NUL-terminated.
    Log(pbxstate::LogLevel::kError, "c_api: out of memory reporting a view change; change not reported");
    return;
  }
  pbxstate_view_change c{};
  c.kind = AsInt(change.kind);
  c.cause = AsInt(change.cause);
  c.key = change_key.c_str();
  c.key_len = change_key.size();
  c.origin = change.origin;
  c.incarnation = change.version.incarnation;
  c.sequence = change.version.sequence;
  c.old_contribution = DeviceToC(change.old_contribution);
  c.new_contribution = DeviceToC(change.new_contribution);
  c.old_aggregate = DeviceToC(change.old_aggregate);
  c.new_aggregate = DeviceToC(change.new_aggregate);
  if (change.kind != EntryKind::kDevice) {
    c.old_contribution = c.new_contribution = c.old_aggregate = c.new_aggregate = PBXSTATE_DEVICE_NONE;
  }
  pbxstate_mailbox_value old_mailbox{}, new_mailbox{};
  if (change.old_mailbox) {
    old_mailbox = MailboxToC(*change.old_mailbox);
    c.old_mailbox = &old_mailbox;
  }
  if (change.new_mailbox) {
    new_mailbox = MailboxToC(*change.new_mailbox);
    c.new_mailbox = &new_mailbox;
  }
  pbxstate_registration old_reg{}, new_reg{};
  if (change.old_registration != nullptr) {
    old_reg = RegistrationToC(*change.old_registration);
    c.old_registration = &old_reg;
  }
  if (change.new_registration != nullptr) {
    new_reg = RegistrationToC(*change.new_registration);
    c.new_registration = &new_reg;
  }
  Scope s(&in_listener);
  listener.view_change(listener.user, &c);
}

void pbxstate_engine::OnMembersChanged(const std::vector<pbxstate::NodeId>& members) {
  if (!has_listener || listener.members_changed == nullptr) return;
  Scope s(&in_listener);
  listener.members_changed(listener.user, members.data(), members.size());
}
