// The C API's handle (struct pbxstate_engine) and what every C entry point shares: conversions
// between the C and the C++ types, the re-entrancy gatekeepers, exceptions turned into return
// codes. Private to engine/src: c_api.cc (names, lifecycle, host events, changes) and
// c_api_queries.cc (queries, visitors, digest, stats) are its users; c_api_handle.cc defines it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pbxstate/c_api.h"
#include "pbxstate/engine.h"
#include "pbxstate/env.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::capi {

// The C enums promise the C++ (and Asterisk) numeric values: a host casts between them.
template <typename E>
constexpr int AsInt(E e) {
  return static_cast<int>(static_cast<std::underlying_type_t<E>>(e));
}

// The C return code of a Status.
int CodeOf(const Status& status);

// Copies `text` into a caller's buffer, truncating, always NUL-terminating when there is room.
void CopyOut(std::string_view text, char* buf, std::size_t buf_len);

// A (pointer, length) pair from C as a string_view; false when the pointer is NULL with a
// non-zero length (the only malformed combination).
bool ToView(const char* data, std::size_t len, std::string_view* out);

// The C++ values as the C structs and codes (PBXSTATE_DEVICE_NONE for no state).
int DeviceToC(const std::optional<DeviceState>& s);
pbxstate_mailbox_value MailboxToC(const MailboxValue& v);
// The contact points into `info`, which must outlive the result.
pbxstate_registration RegistrationToC(const RegistrationInfo& info);
pbxstate_contribution ContributionToC(const DeviceContribution& c);
pbxstate_registration_view RegistrationViewToC(const RegistrationView& r);

}  // namespace pbxstate::capi

// The opaque handle. It is the Env and the ViewListener of the C++ engine it owns, forwarding
// both to the C callbacks, and it polices the re-entrancy rules of the C contract: where the C++
// engine stops the process (PBXSTATE_CHECK), a C host gets PBXSTATE_E_REENTRANT.
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
  pbxstate::MonoTime Now() override;
  pbxstate::WallTime WallNow() override;
  void ScheduleWakeup(pbxstate::MonoTime at) override;
  std::optional<std::size_t> SendBacklog() override;
  static pbxstate::SendStatus SendStatusFromC(int rc);
  pbxstate::SendStatus Broadcast(std::span<const std::uint8_t> frame) override;
  pbxstate::SendStatus Unicast(pbxstate::NodeId to, std::span<const std::uint8_t> frame) override;
  // The C++ host's answer, or the C env's unicast_reaches_everyone: the engine reads it once, at
  // create, and pbxstate_engine_on_overheard asks it again (it never changes).
  bool UnicastReachesEveryone() const override;
  std::uint64_t Random() override;
  void Log(pbxstate::LogLevel level, std::string_view message) override;

  // ---- pbxstate::ViewListener ----
  void OnViewChange(const pbxstate::ViewChange& change) override;

  void OnMembersChanged(const std::vector<pbxstate::NodeId>& members) override;
};

namespace pbxstate::capi {

// Gatekeepers for the re-entrancy rules. They record the reason in last_error.
int CheckMutable(pbxstate_engine* e);

// Queries are allowed from listener callbacks but not from env callbacks (the engine is in the
// middle of changing itself then). A query does not reset last_error: it is const, and a listener
// inspecting the engine must not erase why the host's last call failed.
int CheckQuery(const pbxstate_engine* e);

int FromStatus(pbxstate_engine* e, const Status& status);

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

// Fills a caller array following the buffer convention of c_api.h.
template <typename T, typename Src, typename Conv>
int FillOut(const std::vector<Src>& items, T* out, std::size_t capacity, std::size_t* count, Conv conv) {
  *count = items.size();
  const std::size_t n = std::min(capacity, items.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = conv(items[i]);
  return items.size() > capacity ? PBXSTATE_E_BUFFER_TOO_SMALL : PBXSTATE_OK;
}

}  // namespace pbxstate::capi
