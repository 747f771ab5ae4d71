// The C API (c_api.h) over pbxstate::Engine.
//
// Everything here is a translation layer: C structs to C++ types and back, callbacks to virtual
// methods and back, exceptions to return codes. Engine semantics live in the engine.
#include "pbxstate/c_api.h"
#include "pbxstate/c_api_host.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <sodium.h>

#include "c_api_config.h"
#include "pbxstate/cluster_key.h"
#include "pbxstate/config.h"
#include "pbxstate/engine.h"
#include "pbxstate/env.h"
#include "pbxstate/stats.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace {

using pbxstate::ChangeCause;
using pbxstate::DeviceState;
using pbxstate::DropReason;
using pbxstate::EntryKind;
using pbxstate::Status;

// The C enums promise the C++ (and Asterisk) numeric values: a host casts between them.
template <typename E>
constexpr int AsInt(E e) {
  return static_cast<int>(static_cast<std::underlying_type_t<E>>(e));
}
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
static_assert(pbxstate::kClusterKeyBytes == PBXSTATE_CLUSTER_KEY_BYTES);
static_assert(AsInt(pbxstate::LogLevel::kDebug) == PBXSTATE_LOG_DEBUG);
static_assert(AsInt(pbxstate::LogLevel::kInfo) == PBXSTATE_LOG_INFO);
static_assert(AsInt(pbxstate::LogLevel::kWarning) == PBXSTATE_LOG_WARNING);
static_assert(AsInt(pbxstate::LogLevel::kError) == PBXSTATE_LOG_ERROR);
static_assert(std::is_same_v<pbxstate_node_id, pbxstate::NodeId>);

// Static names with a guaranteed NUL (the C++ *Name functions return string_views, which need
// not end in one). tests/engine/capi checks them against the C++ names.
constexpr std::array<const char*, PBXSTATE_DEVICE_STATE_COUNT> kDeviceStateNames = {
    "UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"};
constexpr std::array<const char*, 3> kEntryKindNames = {"device", "mailbox", "registration"};
constexpr std::array<const char*, 5> kChangeCauseNames = {"local", "remote", "departure", "restart", "expiry"};
constexpr std::array<const char*, PBXSTATE_DROP_REASON_COUNT> kDropReasonNames = {
    "truncated",  "bad_magic",         "bad_version", "unknown_type",   "oversize",  "malformed",
    "from_self",  "stale_incarnation", "not_member",  "too_many_nodes", "unexpected", "store_full",
    "bad_mac",    "unknown_key",       "replayed",    "unauthenticated", "auth_not_configured"};

template <std::size_t N>
const char* NameAt(const std::array<const char*, N>& names, int value) {
  if (value < 0 || static_cast<std::size_t>(value) >= N) return nullptr;
  return names[static_cast<std::size_t>(value)];
}

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

pbxstate_mailbox_value MailboxToC(const pbxstate::MailboxValue& v) {
  pbxstate_mailbox_value out{};
  out.counts.new_messages = v.counts.new_messages;
  out.counts.old_messages = v.counts.old_messages;
  out.counts.urgent_messages = v.counts.urgent_messages;
  out.hlc_physical_ns = v.hlc.physical_ns;
  out.hlc_logical = v.hlc.logical;
  out.writer = v.writer;
  return out;
}

// The contact points into `info`, which must outlive the result (std::string::c_str() is
// NUL-terminated, so the C side gets a C string for free).
pbxstate_registration RegistrationToC(const pbxstate::RegistrationInfo& info) {
  pbxstate_registration out{};
  out.contact = info.contact.c_str();
  out.contact_len = info.contact.size();
  out.expires_ns = info.expires.time_since_epoch().count();
  out.status = AsInt(info.status);
  out.rtt_us = info.rtt_us;
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

}  // namespace

// The opaque handle. It is the Env and the ViewListener of the C++ engine it owns, forwarding
// both to the C callbacks, and it polices the re-entrancy rules of the C contract (the C++ engine
// only asserts them, and assertions are off in release builds).
struct pbxstate_engine final : pbxstate::Env, pbxstate::ViewListener {
  pbxstate_env env{};
  pbxstate_listener listener{};
  bool has_listener = false;
  bool started = false;
  // > 0 while an env callback runs: no call at all is allowed into the engine.
  int in_env = 0;
  // > 0 while a listener or visitor callback runs: queries only. Mutable because the const
  // visitor queries raise it too.
  mutable int in_listener = 0;
  std::string last_error;
  // The key of the change being reported, NUL-terminated for the C listener. Reserved at create
  // to max_key_bytes so that reporting a change does not allocate.
  std::string change_key;
  // Set for an engine made by pbxstate::CreateCEngine (c_api_host.h): the C++ Env of a C++ host,
  // called directly instead of the C callbacks of `env`.
  pbxstate::Env* host_env = nullptr;
  std::unique_ptr<pbxstate::Engine> engine;

  // RAII counters for the callback flags, so that they are reset on every path.
  struct Scope {
    explicit Scope(int* counter) : c(counter) { ++*c; }
    ~Scope() { --*c; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    int* c;
  };

  // Records `message` as the reason of the last failure without ever throwing.
  void SetError(std::string_view message) noexcept {
    try {
      last_error.assign(message);
    } catch (...) {
      last_error.clear();  // clear() never allocates
    }
  }

  // ---- pbxstate::Env ----
  pbxstate::MonoTime Now() override {
    Scope s(&in_env);
    if (host_env != nullptr) return host_env->Now();
    return pbxstate::MonoTime(pbxstate::Duration(env.now_ns(env.user)));
  }
  pbxstate::WallTime WallNow() override {
    Scope s(&in_env);
    if (host_env != nullptr) return host_env->WallNow();
    return pbxstate::WallTime(pbxstate::Duration(env.wall_now_ns(env.user)));
  }
  void ScheduleWakeup(pbxstate::MonoTime at) override {
    Scope s(&in_env);
    if (host_env != nullptr) return host_env->ScheduleWakeup(at);
    env.schedule_wakeup(env.user, at.time_since_epoch().count());
  }
  std::optional<std::size_t> SendBacklog() override {
    Scope s(&in_env);
    if (host_env != nullptr) return host_env->SendBacklog();
    if (env.send_backlog == nullptr) return std::nullopt;
    const std::int64_t backlog = env.send_backlog(env.user);
    if (backlog < 0) return std::nullopt;
    return static_cast<std::size_t>(backlog);
  }
  static pbxstate::SendStatus SendStatusFromC(int rc) {
    switch (rc) {
      case PBXSTATE_SEND_OK: return pbxstate::SendStatus::kOk;
      case PBXSTATE_SEND_TRY_AGAIN: return pbxstate::SendStatus::kTryAgain;
      case PBXSTATE_SEND_TOO_LARGE: return pbxstate::SendStatus::kTooLarge;
      default: return pbxstate::SendStatus::kUnreachable;  // documented in c_api.h
    }
  }
  pbxstate::SendStatus Broadcast(std::span<const std::uint8_t> frame) override {
    Scope s(&in_env);
    if (host_env != nullptr) return host_env->Broadcast(frame);
    return SendStatusFromC(env.broadcast(env.user, frame.data(), frame.size()));
  }
  pbxstate::SendStatus Unicast(pbxstate::NodeId to, std::span<const std::uint8_t> frame) override {
    Scope s(&in_env);
    if (host_env != nullptr) return host_env->Unicast(to, frame);
    return SendStatusFromC(env.unicast(env.user, to, frame.data(), frame.size()));
  }
  std::uint64_t Random() override {
    Scope s(&in_env);
    if (host_env != nullptr) return host_env->Random();
    return env.random(env.user);
  }
  void Log(pbxstate::LogLevel level, std::string_view message) override {
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

  // ---- pbxstate::ViewListener ----
  void OnViewChange(const pbxstate::ViewChange& change) override {
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

  void OnMembersChanged(const std::vector<pbxstate::NodeId>& members) override {
    if (!has_listener || listener.members_changed == nullptr) return;
    Scope s(&in_listener);
    listener.members_changed(listener.user, members.data(), members.size());
  }
};

namespace {

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

// Runs `fn` (which returns a pbxstate_rc) with exceptions turned into codes.
template <typename Fn>
int Guard(pbxstate_engine* e, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    if (e != nullptr) e->SetError("out of memory");
    return PBXSTATE_E_NO_MEMORY;
  } catch (...) {
    if (e != nullptr) e->SetError("unexpected exception inside pbxstate");
    return PBXSTATE_E_INTERNAL;
  }
}

template <typename Fn>
int GuardConst(Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return PBXSTATE_E_NO_MEMORY;
  } catch (...) {
    return PBXSTATE_E_INTERNAL;
  }
}

int FromStatus(pbxstate_engine* e, const Status& status) {
  if (!status.ok()) e->SetError(status.message());
  return CodeOf(status);
}

// Fills a caller array following the buffer convention of c_api.h.
template <typename T, typename Src, typename Conv>
int FillOut(const std::vector<Src>& items, T* out, std::size_t capacity, std::size_t* count, Conv conv) {
  *count = items.size();
  const std::size_t n = std::min(capacity, items.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = conv(items[i]);
  return items.size() > capacity ? PBXSTATE_E_BUFFER_TOO_SMALL : PBXSTATE_OK;
}

}  // namespace

namespace {

// pbxstate_engine_create and pbxstate::CreateCEngine: the handle over the C callbacks of `env`
// or over the C++ Env `host_env` (exactly one of them is set).
int CreateHandle(const pbxstate_config* cfg, const pbxstate_env* env, pbxstate::Env* host_env, pbxstate_engine** out,
                 char* errbuf, std::size_t errbuf_len) {
  if (out != nullptr) *out = nullptr;
  CopyOut("", errbuf, errbuf_len);
  auto fail = [&](int rc, std::string_view why) {
    CopyOut(why, errbuf, errbuf_len);
    return rc;
  };
  if (out == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "out is NULL");
  if (cfg == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "cfg is NULL");
  if ((env == nullptr) == (host_env == nullptr)) return fail(PBXSTATE_E_INVALID_ARGUMENT, "env is NULL");
  try {
    pbxstate::EngineConfig config;
    std::string error;
    if (const int rc = pbxstate::capi::ConfigFromC(*cfg, &config, &error); rc != PBXSTATE_OK) return fail(rc, error);
    auto handle = std::make_unique<pbxstate_engine>();
    if (env != nullptr) handle->env = *env;
    handle->host_env = host_env;
    handle->change_key.reserve(config.max_key_bytes + 1);
    const Status status = pbxstate::Engine::Create(config, handle.get(), &handle->engine);
    if (!status.ok()) return fail(CodeOf(status), status.message());
    if (handle->engine == nullptr) return fail(PBXSTATE_E_INTERNAL, "engine creation returned no engine");
    handle->engine->SetListener(handle.get());
    *out = handle.release();
    return PBXSTATE_OK;
  } catch (const std::bad_alloc&) {
    return fail(PBXSTATE_E_NO_MEMORY, "out of memory");
  } catch (...) {
    return fail(PBXSTATE_E_INTERNAL, "unexpected exception inside pbxstate");
  }
}

}  // namespace

namespace pbxstate {

int CreateCEngine(const pbxstate_config* cfg, Env* env, pbxstate_engine** out, char* errbuf, std::size_t errbuf_len) {
  if (env == nullptr) {
    if (out != nullptr) *out = nullptr;
    CopyOut("env is NULL", errbuf, errbuf_len);
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return CreateHandle(cfg, nullptr, env, out, errbuf, errbuf_len);
}

Engine* EngineOf(pbxstate_engine* engine) { return engine == nullptr ? nullptr : engine->engine.get(); }

int CLogLevel(LogLevel level) { return AsInt(level); }

}  // namespace pbxstate

extern "C" {

const char* pbxstate_strerror(int rc) {
  switch (rc) {
    case PBXSTATE_OK: return "success";
    case PBXSTATE_E_INVALID_ARGUMENT: return "invalid argument";
    case PBXSTATE_E_RESOURCE_EXHAUSTED: return "resource exhausted";
    case PBXSTATE_E_FAILED_PRECONDITION: return "failed precondition";
    case PBXSTATE_E_NO_MEMORY: return "out of memory";
    case PBXSTATE_E_NOT_FOUND: return "not found";
    case PBXSTATE_E_BUFFER_TOO_SMALL: return "buffer too small";
    case PBXSTATE_E_REENTRANT: return "called from inside a callback";
    case PBXSTATE_E_INTERNAL: return "internal error";
    default: return "unknown error";
  }
}

const char* pbxstate_device_state_name(int state) { return NameAt(kDeviceStateNames, state); }

int pbxstate_device_state_parse(const char* name, size_t name_len) {
  std::string_view v;
  if (!ToView(name, name_len, &v)) return PBXSTATE_DEVICE_NONE;
  const auto parsed = pbxstate::ParseDeviceState(v);
  return parsed ? AsInt(*parsed) : PBXSTATE_DEVICE_NONE;
}

const char* pbxstate_entry_kind_name(int kind) { return NameAt(kEntryKindNames, kind); }
const char* pbxstate_change_cause_name(int cause) { return NameAt(kChangeCauseNames, cause); }
const char* pbxstate_drop_reason_name(int reason) { return NameAt(kDropReasonNames, reason); }

int pbxstate_engine_create(const pbxstate_config* cfg, const pbxstate_env* env, pbxstate_engine** out,
                           char* errbuf, size_t errbuf_len) {
  if (out != nullptr) *out = nullptr;
  CopyOut("", errbuf, errbuf_len);
  auto fail = [&](int rc, std::string_view why) {
    CopyOut(why, errbuf, errbuf_len);
    return rc;
  };
  if (env == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "env is NULL");
  if (env->now_ns == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "env.now_ns is NULL");
  if (env->wall_now_ns == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "env.wall_now_ns is NULL");
  if (env->schedule_wakeup == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "env.schedule_wakeup is NULL");
  if (env->broadcast == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "env.broadcast is NULL");
  if (env->unicast == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "env.unicast is NULL");
  if (env->random == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "env.random is NULL");
  return CreateHandle(cfg, env, nullptr, out, errbuf, errbuf_len);
}

void pbxstate_engine_destroy(pbxstate_engine* engine) {
  if (engine == nullptr) return;
  if (engine->in_env > 0 || engine->in_listener > 0) {
    engine->Log(pbxstate::LogLevel::kError,
                "c_api: pbxstate_engine_destroy called from inside a callback; refused (engine kept)");
    return;
  }
  try {
    // The engine first: its destructor may still reach its Env (this object), never the other
    // way round. Destructors do not throw; the catch only keeps the C boundary exception-free.
    engine->engine.reset();
  } catch (...) {
  }
  delete engine;
}

int pbxstate_engine_start(pbxstate_engine* engine) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  return Guard(engine, [&] {
    if (engine->started) {
      engine->SetError("already started");
      return static_cast<int>(PBXSTATE_E_FAILED_PRECONDITION);
    }
    engine->started = true;
    engine->engine->Start();
    return static_cast<int>(PBXSTATE_OK);
  });
}

const char* pbxstate_engine_last_error(const pbxstate_engine* engine) {
  return engine == nullptr ? "" : engine->last_error.c_str();
}

int pbxstate_engine_set_listener(pbxstate_engine* engine, const pbxstate_listener* listener) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  if (listener == nullptr) {
    engine->has_listener = false;
    engine->listener = pbxstate_listener{};
  } else {
    engine->listener = *listener;
    engine->has_listener = true;
  }
  return PBXSTATE_OK;
}

int pbxstate_engine_on_frame(pbxstate_engine* engine, pbxstate_node_id from, const uint8_t* frame,
                             size_t frame_len) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  if (frame == nullptr && frame_len != 0) {
    engine->SetError("frame is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return Guard(engine, [&] {
    engine->engine->OnFrame(from, std::span<const std::uint8_t>(frame, frame_len));
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_set_cluster_keys(pbxstate_engine* engine, const pbxstate_cluster_keys* c_keys) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  return Guard(engine, [&] {
    std::vector<std::string> keys;
    std::string error;
    const pbxstate_cluster_keys none{};
    if (const int rc = pbxstate::capi::KeysFromC(c_keys != nullptr ? *c_keys : none, "keys->key", "keys->previous", &keys, &error);
        rc != PBXSTATE_OK) {
      engine->SetError(error);
      return rc;
    }
    const int rc = FromStatus(engine, engine->engine->SetClusterKeys(std::move(keys)));
    return rc;
  });
}

int pbxstate_load_cluster_key(const char* path, uint8_t* key, size_t key_len, char* errbuf, size_t errbuf_len) {
  CopyOut("", errbuf, errbuf_len);
  auto fail = [&](int rc, std::string_view why) {
    CopyOut(why, errbuf, errbuf_len);
    return rc;
  };
  if (path == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "path is NULL");
  if (key == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "key is NULL");
  if (key_len != PBXSTATE_CLUSTER_KEY_BYTES) {
    return fail(PBXSTATE_E_INVALID_ARGUMENT, "key_len must be PBXSTATE_CLUSTER_KEY_BYTES (32)");
  }
  try {
    std::string loaded;
    const Status status = pbxstate::LoadClusterKey(path, &loaded);
    if (!status.ok()) return fail(CodeOf(status), status.message());
    std::memcpy(key, loaded.data(), PBXSTATE_CLUSTER_KEY_BYTES);
    sodium_memzero(loaded.data(), loaded.size());
    return static_cast<int>(PBXSTATE_OK);
  } catch (const std::bad_alloc&) {
    return fail(PBXSTATE_E_NO_MEMORY, "out of memory");
  } catch (...) {
    return fail(PBXSTATE_E_INTERNAL, "unexpected exception inside pbxstate");
  }
}

int pbxstate_engine_on_membership(pbxstate_engine* engine, uint64_t view_id, const pbxstate_node_id* members,
                                  size_t count) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  if (members == nullptr && count != 0) {
    engine->SetError("members is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return Guard(engine, [&] {
    pbxstate::MembershipView view;
    view.view_id = view_id;
    view.members.assign(members, members + count);
    // The C++ view is sorted and duplicate-free; CPG hands its list over in join order.
    std::sort(view.members.begin(), view.members.end());
    view.members.erase(std::unique(view.members.begin(), view.members.end()), view.members.end());
    if (!view.members.empty() && view.members.front() == PBXSTATE_NO_NODE) {
      engine->SetError("members: node id 0");
      return static_cast<int>(PBXSTATE_E_INVALID_ARGUMENT);
    }
    if (!std::binary_search(view.members.begin(), view.members.end(), engine->engine->node_id())) {
      engine->SetError("members: does not contain this node");
      return static_cast<int>(PBXSTATE_E_INVALID_ARGUMENT);
    }
    engine->engine->OnMembership(view);
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_on_timer(pbxstate_engine* engine) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  return Guard(engine, [&] {
    engine->engine->OnTimer();
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_on_send_ready(pbxstate_engine* engine) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  return Guard(engine, [&] {
    engine->engine->OnSendReady();
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_set_device_state(pbxstate_engine* engine, const char* device, size_t device_len, int state) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (!ToView(device, device_len, &key)) {
    engine->SetError("device is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  if (state < 0 || state >= PBXSTATE_DEVICE_STATE_COUNT) {
    engine->SetError("state: not a device state (0..8)");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return Guard(engine, [&] {
    return FromStatus(engine, engine->engine->SetDeviceState(key, static_cast<DeviceState>(state)));
  });
}

int pbxstate_engine_set_mailbox(pbxstate_engine* engine, const char* mailbox, size_t mailbox_len,
                                const pbxstate_mailbox_counts* counts) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (!ToView(mailbox, mailbox_len, &key) || counts == nullptr) {
    engine->SetError(counts == nullptr ? "counts is NULL" : "mailbox is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  pbxstate::MailboxCounts c;
  c.new_messages = counts->new_messages;
  c.old_messages = counts->old_messages;
  c.urgent_messages = counts->urgent_messages;
  return Guard(engine, [&] { return FromStatus(engine, engine->engine->SetMailbox(key, c)); });
}

int pbxstate_engine_set_registration(pbxstate_engine* engine, const char* aor, size_t aor_len,
                                     const pbxstate_registration* info) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (!ToView(aor, aor_len, &key) || info == nullptr) {
    engine->SetError(info == nullptr ? "info is NULL" : "aor is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  std::string_view contact;
  if (!ToView(info->contact, info->contact_len, &contact)) {
    engine->SetError("info.contact is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  if (info->status != PBXSTATE_CONTACT_REACHABLE && info->status != PBXSTATE_CONTACT_UNREACHABLE) {
    engine->SetError("info.status: not a pbxstate_contact_status");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return Guard(engine, [&] {
    pbxstate::RegistrationInfo r;
    r.contact.assign(contact);
    r.expires = pbxstate::WallTime(pbxstate::Duration(info->expires_ns));
    r.status = info->status == PBXSTATE_CONTACT_REACHABLE ? pbxstate::ContactStatus::kReachable
                                                          : pbxstate::ContactStatus::kUnreachable;
    r.rtt_us = info->rtt_us;
    return FromStatus(engine, engine->engine->SetRegistration(key, r));
  });
}

int pbxstate_engine_remove_registration(pbxstate_engine* engine, const char* aor, size_t aor_len) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (!ToView(aor, aor_len, &key)) {
    engine->SetError("aor is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return Guard(engine, [&] { return FromStatus(engine, engine->engine->RemoveRegistration(key)); });
}

int pbxstate_engine_device_state(const pbxstate_engine* engine, const char* device, size_t device_len,
                                 int* state) {
  if (state != nullptr) *state = PBXSTATE_DEVICE_NONE;
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (state == nullptr || !ToView(device, device_len, &key)) return PBXSTATE_E_INVALID_ARGUMENT;
  return GuardConst([&] {
    const auto s = engine->engine->ClusterDeviceState(key);
    if (!s) return static_cast<int>(PBXSTATE_E_NOT_FOUND);
    *state = AsInt(*s);
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_device_contributions(const pbxstate_engine* engine, const char* device, size_t device_len,
                                         pbxstate_contribution* out, size_t capacity, size_t* count) {
  if (count != nullptr) *count = 0;
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (count == nullptr || (out == nullptr && capacity != 0) || !ToView(device, device_len, &key)) {
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return GuardConst([&] {
    return FillOut(engine->engine->DeviceContributions(key), out, capacity, count, ContributionToC);
  });
}

int pbxstate_engine_mailbox(const pbxstate_engine* engine, const char* mailbox, size_t mailbox_len,
                            pbxstate_mailbox_value* out) {
  if (out != nullptr) *out = pbxstate_mailbox_value{};
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (out == nullptr || !ToView(mailbox, mailbox_len, &key)) return PBXSTATE_E_INVALID_ARGUMENT;
  return GuardConst([&] {
    const auto v = engine->engine->Mailbox(key);
    if (!v) return static_cast<int>(PBXSTATE_E_NOT_FOUND);
    *out = MailboxToC(*v);
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_registrations(const pbxstate_engine* engine, const char* aor, size_t aor_len,
                                  pbxstate_registration_fn fn, void* user, size_t* count) {
  if (count != nullptr) *count = 0;
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (!ToView(aor, aor_len, &key)) return PBXSTATE_E_INVALID_ARGUMENT;
  return GuardConst([&] {
    const std::string aor_copy(key);  // NUL-terminated for the visitor
    const auto regs = engine->engine->Registrations(key);
    if (count != nullptr) *count = regs.size();
    if (fn != nullptr) {
      pbxstate_engine::Scope s(&engine->in_listener);
      for (const auto& r : regs) {
        const pbxstate_registration_view v = RegistrationViewToC(r);
        fn(user, aor_copy.c_str(), aor_copy.size(), &v);
      }
    }
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_for_each_device(const pbxstate_engine* engine, pbxstate_device_fn fn, void* user) {
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  if (fn == nullptr) return PBXSTATE_E_INVALID_ARGUMENT;
  return GuardConst([&] {
    // Local buffers, not members: a visitor may run a nested query or visitor.
    std::string key;
    std::vector<pbxstate_contribution> contributions;
    pbxstate_engine::Scope s(&engine->in_listener);
    engine->engine->ForEachDevice([&](std::string_view device, std::optional<DeviceState> aggregate,
                                      std::span<const pbxstate::DeviceContribution> cs) {
      key.assign(device);
      contributions.clear();
      for (const auto& c : cs) contributions.push_back(ContributionToC(c));
      fn(user, key.c_str(), key.size(), DeviceToC(aggregate), contributions.data(), contributions.size());
    });
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_for_each_mailbox(const pbxstate_engine* engine, pbxstate_mailbox_fn fn, void* user) {
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  if (fn == nullptr) return PBXSTATE_E_INVALID_ARGUMENT;
  return GuardConst([&] {
    std::string key;
    pbxstate_engine::Scope s(&engine->in_listener);
    engine->engine->ForEachMailbox([&](std::string_view mailbox, const pbxstate::MailboxValue& value) {
      key.assign(mailbox);
      const pbxstate_mailbox_value v = MailboxToC(value);
      fn(user, key.c_str(), key.size(), &v);
    });
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_for_each_registration(const pbxstate_engine* engine, pbxstate_registration_fn fn, void* user) {
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  if (fn == nullptr) return PBXSTATE_E_INVALID_ARGUMENT;
  return GuardConst([&] {
    std::string key;
    pbxstate_engine::Scope s(&engine->in_listener);
    engine->engine->ForEachRegistration([&](std::string_view aor, const pbxstate::RegistrationView& r) {
      key.assign(aor);
      const pbxstate_registration_view v = RegistrationViewToC(r);
      fn(user, key.c_str(), key.size(), &v);
    });
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_members(const pbxstate_engine* engine, pbxstate_node_id* out, size_t capacity, size_t* count) {
  if (count != nullptr) *count = 0;
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  if (count == nullptr || (out == nullptr && capacity != 0)) return PBXSTATE_E_INVALID_ARGUMENT;
  return GuardConst([&] {
    return FillOut(engine->engine->Members(), out, capacity, count, [](pbxstate::NodeId n) { return n; });
  });
}

int pbxstate_engine_node_label(const pbxstate_engine* engine, pbxstate_node_id node, char* buf, size_t buf_len,
                               size_t* len) {
  if (len != nullptr) *len = 0;
  CopyOut("", buf, buf_len);
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  if (buf == nullptr && buf_len != 0) return PBXSTATE_E_INVALID_ARGUMENT;
  return GuardConst([&] {
    // This node's own label is its configuration, whether or not the engine lists itself.
    const std::string_view label = node == engine->engine->node_id()
                                       ? std::string_view(engine->engine->config().label)
                                       : engine->engine->NodeLabel(node);
    if (len != nullptr) *len = label.size();
    CopyOut(label, buf, buf_len);
    return static_cast<int>(buf_len > label.size() ? PBXSTATE_OK : PBXSTATE_E_BUFFER_TOO_SMALL);
  });
}

pbxstate_node_id pbxstate_engine_node_id(const pbxstate_engine* engine) {
  return engine == nullptr ? PBXSTATE_NO_NODE : engine->engine->node_id();
}

uint64_t pbxstate_engine_incarnation(const pbxstate_engine* engine) {
  return engine == nullptr ? 0 : engine->engine->incarnation();
}

int pbxstate_engine_digest(const pbxstate_engine* engine, pbxstate_digest* out) {
  if (out != nullptr) *out = pbxstate_digest{};
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  if (out == nullptr) return PBXSTATE_E_INVALID_ARGUMENT;
  return GuardConst([&] {
    const pbxstate::ViewDigest d = engine->engine->Digest();
    out->hash = d.hash;
    out->devices = d.devices;
    out->mailboxes = d.mailboxes;
    out->registrations = d.registrations;
    return static_cast<int>(PBXSTATE_OK);
  });
}

int pbxstate_engine_stats(const pbxstate_engine* engine, pbxstate_stats* out) {
  if (out != nullptr) *out = pbxstate_stats{};
  if (const int rc = CheckQuery(engine); rc != PBXSTATE_OK) return rc;
  if (out == nullptr) return PBXSTATE_E_INVALID_ARGUMENT;
  const pbxstate::EngineStats& s = engine->engine->stats();
  out->frames_out = s.frames_out;
  out->bytes_out = s.bytes_out;
  out->frames_in = s.frames_in;
  out->bytes_in = s.bytes_in;
  out->broadcasts_out = s.broadcasts_out;
  out->unicasts_out = s.unicasts_out;
  for (std::size_t i = 0; i < s.dropped.size(); ++i) out->dropped[i] = s.dropped[i];
  out->total_dropped = s.total_dropped();
  out->local_changes = s.local_changes;
  out->update_frames_sent = s.update_frames_sent;
  out->changes_held = s.changes_held;
  out->records_applied = s.records_applied;
  out->records_stale = s.records_stale;
  out->send_try_again = s.send_try_again;
  out->send_queue_overflow = s.send_queue_overflow;
  out->send_failed = s.send_failed;
  out->digests_sent = s.digests_sent;
  out->digests_received = s.digests_received;
  out->sync_sessions_started = s.sync_sessions_started;
  out->sync_sessions_completed = s.sync_sessions_completed;
  out->sync_sessions_abandoned = s.sync_sessions_abandoned;
  out->sync_serves_refused = s.sync_serves_refused;
  out->sync_pages_sent = s.sync_pages_sent;
  out->sync_pages_received = s.sync_pages_received;
  out->sync_pages_resent = s.sync_pages_resent;
  out->heartbeats_sent = s.heartbeats_sent;
  out->membership_changes = s.membership_changes;
  out->departures = s.departures;
  out->device_entries = s.device_entries;
  out->mailbox_entries = s.mailbox_entries;
  out->registration_entries = s.registration_entries;
  return PBXSTATE_OK;
}

}  // extern "C"
