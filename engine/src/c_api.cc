// The C API (c_api.h) over pbxstate::Engine.
//
// Everything here is a translation layer: C structs to C++ types and back, callbacks to virtual
// methods and back, exceptions to return codes. Engine semantics live in the engine.
// This file: the names, the handle's creation and destruction, the host's events and changes;
// the queries are in c_api_queries.cc, the handle and the shared helpers in c_api_handle.{h,cc},
// the configuration in c_api_config.cc.
#include "pbxstate/c_api.h"
#include "pbxstate/c_api_host.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sodium.h>

#include "c_api_config.h"
#include "c_api_handle.h"
#include "pbxstate/cluster_key.h"
#include "pbxstate/config.h"
#include "pbxstate/engine.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

using pbxstate::DeviceState;
using pbxstate::Status;
using pbxstate::capi::AsInt;
using pbxstate::capi::CheckMutable;
using pbxstate::capi::CodeOf;
using pbxstate::capi::CopyOut;
using pbxstate::capi::FromStatus;
using pbxstate::capi::Guard;
using pbxstate::capi::ToView;

namespace {

// Static names with a guaranteed NUL (the C++ *Name functions return string_views, which need
// not end in one). tests/engine/capi checks them against the C++ names.
constexpr std::array<const char*, PBXSTATE_DEVICE_STATE_COUNT> kDeviceStateNames = {
    "UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"};
constexpr std::array<const char*, 3> kEntryKindNames = {"device", "mailbox", "registration"};
constexpr std::array<const char*, 5> kChangeCauseNames = {"local", "remote", "departure", "restart", "expiry"};
constexpr std::array<const char*, PBXSTATE_DROP_REASON_COUNT> kDropReasonNames = {
    "truncated",  "bad_magic",         "bad_version", "unknown_type",   "oversize",  "malformed",
    "from_self",  "stale_incarnation", "not_member",  "too_many_nodes", "unexpected", "store_full",
    "bad_mac",    "unknown_key",       "replayed",    "unauthenticated", "auth_not_configured", "session_closed"};

template <std::size_t N>
const char* NameAt(const std::array<const char*, N>& names, int value) {
  if (value < 0 || static_cast<std::size_t>(value) >= N) return nullptr;
  return names[static_cast<std::size_t>(value)];
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

int pbxstate_engine_on_overheard(pbxstate_engine* engine, pbxstate_node_id from, pbxstate_node_id to,
                                 const uint8_t* frame, size_t frame_len) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  if (!engine->UnicastReachesEveryone()) {
    engine->SetError("the env's unicast_reaches_everyone is 0: no unicast for another node comes here");
    return PBXSTATE_E_FAILED_PRECONDITION;
  }
  if (to == PBXSTATE_NO_NODE || to == engine->engine->node_id()) {
    engine->SetError(to == PBXSTATE_NO_NODE ? "to is PBXSTATE_NO_NODE" : "to is this node: use pbxstate_engine_on_frame");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  if (frame == nullptr && frame_len != 0) {
    engine->SetError("frame is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return Guard(engine, [&] {
    engine->engine->OnOverheard(from, to, std::span<const std::uint8_t>(frame, frame_len));
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
  std::string_view path, user_agent;
  if (!ToView(info->path, info->path_len, &path) || !ToView(info->user_agent, info->user_agent_len, &user_agent)) {
    engine->SetError(info->path == nullptr && info->path_len != 0 ? "info.path is NULL" : "info.user_agent is NULL");
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
    r.path.assign(path);
    r.user_agent.assign(user_agent);
    return FromStatus(engine, engine->engine->SetRegistration(key, r));
  });
}

int pbxstate_engine_remove_device(pbxstate_engine* engine, const char* device, size_t device_len) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (!ToView(device, device_len, &key)) {
    engine->SetError("device is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return Guard(engine, [&] { return FromStatus(engine, engine->engine->RemoveDevice(key)); });
}

int pbxstate_engine_remove_mailbox(pbxstate_engine* engine, const char* mailbox, size_t mailbox_len) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key;
  if (!ToView(mailbox, mailbox_len, &key)) {
    engine->SetError("mailbox is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return Guard(engine, [&] { return FromStatus(engine, engine->engine->RemoveMailbox(key)); });
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

int pbxstate_engine_remove_contact(pbxstate_engine* engine, const char* aor, size_t aor_len, const char* contact,
                                   size_t contact_len) {
  if (const int rc = CheckMutable(engine); rc != PBXSTATE_OK) return rc;
  std::string_view key, uri;
  if (!ToView(aor, aor_len, &key) || !ToView(contact, contact_len, &uri)) {
    engine->SetError(aor == nullptr ? "aor is NULL" : "contact is NULL");
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  return Guard(engine, [&] { return FromStatus(engine, engine->engine->RemoveContact(key, uri)); });
}

}  // extern "C"
