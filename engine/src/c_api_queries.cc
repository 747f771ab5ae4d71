// The C API's queries (c_api.h): a device's state and contributions, a mailbox, an AOR's
// registrations, the visitors, members, node labels, the digest and the stats. Each is allowed
// from a listener or visitor callback, never from an env callback (CheckQuery), and leaves
// last_error alone.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c_api_handle.h"
#include "pbxstate/c_api.h"
#include "pbxstate/engine.h"
#include "pbxstate/stats.h"
#include "pbxstate/types.h"

using pbxstate::DeviceState;
using pbxstate::capi::AsInt;
using pbxstate::capi::CheckQuery;
using pbxstate::capi::ContributionToC;
using pbxstate::capi::CopyOut;
using pbxstate::capi::DeviceToC;
using pbxstate::capi::FillOut;
using pbxstate::capi::GuardConst;
using pbxstate::capi::MailboxToC;
using pbxstate::capi::RegistrationViewToC;
using pbxstate::capi::ToView;

extern "C" {

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

// pbxstate_stats is EngineStats for C: every counter (EngineStatFields(), stats.cc, asserts that
// EngineStats holds nothing else) and every drop reason, plus total_dropped. A counter added to
// EngineStats without its field here fails the build.
static_assert(sizeof(pbxstate_stats) == sizeof(pbxstate::EngineStats) + sizeof(std::uint64_t),
              "EngineStats and pbxstate_stats (c_api.h) hold different counters: add the field and its copy below");

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
  out->mailbox_tombstones_evicted = s.mailbox_tombstones_evicted;
  out->send_try_again = s.send_try_again;
  out->send_queue_overflow = s.send_queue_overflow;
  out->send_failed = s.send_failed;
  out->frames_relayed = s.frames_relayed;
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
  out->held_bytes = s.held_bytes;
  return PBXSTATE_OK;
}

}  // extern "C"
