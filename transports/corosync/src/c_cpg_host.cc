// The C host of c_cpg_host.h: a CpgEnv whose engine is a C API engine made over it
// (c_api_host.h). The engine calls the CpgEnv as its Env directly, and the CpgEnv makes its
// upcalls on the C++ engine directly, as in pbxstated; the C program reaches the same engine
// through c_api.h. Nothing crosses C++ -> C -> C++ on the way.
#include "pbxstate/corosync/c_cpg_host.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "pbxstate/c_api_host.h"
#include "pbxstate/corosync/cpg_env.h"

namespace {

using pbxstate::corosync::CpgEnv;
using pbxstate::corosync::CpgEnvConfig;

void CopyOut(std::string_view text, char* buf, size_t len) {
  if (buf == nullptr || len == 0) return;
  const size_t n = std::min(text.size(), len - 1);
  if (n > 0) std::memcpy(buf, text.data(), n);
  buf[n] = '\0';
}

}  // namespace

struct pbxstate_cpg_host {
  pbxstate_cpg_log_fn log = nullptr;
  void* log_user = nullptr;
  std::unique_ptr<CpgEnv> env;
  pbxstate_engine* engine = nullptr;
  std::string fatal;  // NUL-terminated copy of the transport's fatal_error()

  // The host's and the engine's log lines, to the C log function (a fixed buffer: logging must
  // not allocate; it also reports allocation failures).
  void Log(pbxstate::LogLevel level, std::string_view message) const {
    if (log == nullptr) return;
    char line[1024];
    const size_t n = std::min(message.size(), sizeof line - 1);
    if (n > 0) std::memcpy(line, message.data(), n);
    line[n] = '\0';
    log(log_user, pbxstate::CLogLevel(level), line, n);
  }
};

extern "C" {

void pbxstate_cpg_host_config_init(pbxstate_cpg_host_config* cfg) {
  const pbxstate::corosync::CpgTransportConfig d;
  cfg->group = "pbxstate";
  cfg->max_queue_frames = d.max_queue_frames;
  cfg->max_queue_bytes = d.max_queue_bytes;
  cfg->max_message_bytes = d.max_message_bytes;
  cfg->retry_interval_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d.retry_interval).count());
  cfg->reconnect_min_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d.reconnect_min).count());
  cfg->reconnect_max_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d.reconnect_max).count());
  cfg->random_seed = 0;
}

int pbxstate_cpg_host_create(const pbxstate_cpg_host_config* cfg, pbxstate_cpg_log_fn log, void* log_user,
                             pbxstate_cpg_host** out, char* errbuf, size_t errbuf_len) {
  CopyOut("", errbuf, errbuf_len);
  if (out != nullptr) *out = nullptr;
  auto fail = [&](int rc, std::string_view why) {
    CopyOut(why, errbuf, errbuf_len);
    return rc;
  };
  if (out == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "out is NULL");
  if (cfg == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "cfg is NULL");
  if (cfg->group == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "group is NULL");
  // Durations above a day are configuration mistakes, and keep the conversions far from overflow.
  constexpr uint64_t kMaxMs = 24ull * 3600 * 1000;
  for (auto [name, value] : {std::pair{"retry_interval_ms", cfg->retry_interval_ms},
                             std::pair{"reconnect_min_ms", cfg->reconnect_min_ms},
                             std::pair{"reconnect_max_ms", cfg->reconnect_max_ms}}) {
    if (value > kMaxMs) return fail(PBXSTATE_E_INVALID_ARGUMENT, std::string(name) + ": more than a day");
  }
  try {
    CpgEnvConfig ec;
    ec.transport.group = cfg->group;
    ec.transport.max_queue_frames = cfg->max_queue_frames;
    ec.transport.max_queue_bytes = cfg->max_queue_bytes;
    ec.transport.max_message_bytes = cfg->max_message_bytes;
    ec.transport.retry_interval = std::chrono::milliseconds(cfg->retry_interval_ms);
    ec.transport.reconnect_min = std::chrono::milliseconds(cfg->reconnect_min_ms);
    ec.transport.reconnect_max = std::chrono::milliseconds(cfg->reconnect_max_ms);
    ec.random_seed = cfg->random_seed;
    if (const pbxstate::Status s = ec.transport.Validate(); !s.ok()) return fail(PBXSTATE_E_INVALID_ARGUMENT, s.message());
    auto host = std::make_unique<pbxstate_cpg_host>();
    host->log = log;
    host->log_user = log_user;
    pbxstate_cpg_host* raw = host.get();
    const pbxstate::Status s = CpgEnv::Create(
        std::move(ec), [raw](pbxstate::LogLevel level, std::string_view message) { raw->Log(level, message); },
        &host->env);
    if (!s.ok()) return fail(PBXSTATE_E_INTERNAL, "cannot open the host's descriptors: " + s.message());
    *out = host.release();
    return PBXSTATE_OK;
  } catch (const std::bad_alloc&) {
    return fail(PBXSTATE_E_NO_MEMORY, "out of memory");
  } catch (...) {
    return fail(PBXSTATE_E_INTERNAL, "unexpected exception inside pbxstate");
  }
}

int pbxstate_cpg_host_connect(pbxstate_cpg_host* host, char* errbuf, size_t errbuf_len) {
  CopyOut("", errbuf, errbuf_len);
  if (host == nullptr) {
    CopyOut("host is NULL", errbuf, errbuf_len);
    return PBXSTATE_E_INVALID_ARGUMENT;
  }
  try {
    const pbxstate::Status s = host->env->Connect();
    if (!s.ok()) {
      CopyOut(s.message(), errbuf, errbuf_len);
      return PBXSTATE_E_FAILED_PRECONDITION;
    }
    return PBXSTATE_OK;
  } catch (const std::bad_alloc&) {
    CopyOut("out of memory", errbuf, errbuf_len);
    return PBXSTATE_E_NO_MEMORY;
  } catch (...) {
    CopyOut("unexpected exception inside pbxstate", errbuf, errbuf_len);
    return PBXSTATE_E_INTERNAL;
  }
}

pbxstate_node_id pbxstate_cpg_host_local_node(const pbxstate_cpg_host* host) {
  return host == nullptr ? PBXSTATE_NO_NODE : host->env->local_node();
}

int pbxstate_cpg_host_create_engine(pbxstate_cpg_host* host, const pbxstate_config* cfg, pbxstate_engine** out,
                                    char* errbuf, size_t errbuf_len) {
  CopyOut("", errbuf, errbuf_len);
  if (out != nullptr) *out = nullptr;
  auto fail = [&](int rc, std::string_view why) {
    CopyOut(why, errbuf, errbuf_len);
    return rc;
  };
  if (host == nullptr || cfg == nullptr || out == nullptr) return fail(PBXSTATE_E_INVALID_ARGUMENT, "NULL argument");
  if (host->engine != nullptr) return fail(PBXSTATE_E_FAILED_PRECONDITION, "the host already has an engine");
  const pbxstate_node_id local = host->env->local_node();
  if (local == PBXSTATE_NO_NODE) return fail(PBXSTATE_E_FAILED_PRECONDITION, "not connected to corosync yet");
  if (cfg->node_id != PBXSTATE_NO_NODE && cfg->node_id != local) {
    return fail(PBXSTATE_E_INVALID_ARGUMENT, "node_id: " + std::to_string(cfg->node_id) +
                                                 " is not this node's corosync node id " + std::to_string(local));
  }
  pbxstate_config c = *cfg;
  c.node_id = local;
  c.membership = PBXSTATE_MEMBERSHIP_TRANSPORT;
  pbxstate_engine* engine = nullptr;
  if (const int rc = pbxstate::CreateCEngine(&c, host->env.get(), &engine, errbuf, errbuf_len); rc != PBXSTATE_OK) {
    return rc;
  }
  host->engine = engine;
  host->env->Attach(pbxstate::EngineOf(engine));  // a view that arrived before is delivered now
  *out = engine;
  return PBXSTATE_OK;
}

pbxstate_engine* pbxstate_cpg_host_engine(pbxstate_cpg_host* host) { return host == nullptr ? nullptr : host->engine; }

int pbxstate_cpg_host_fd(const pbxstate_cpg_host* host) { return host == nullptr ? -1 : host->env->fd(); }

void pbxstate_cpg_host_dispatch(pbxstate_cpg_host* host) {
  if (host == nullptr) return;
  try {
    host->env->Dispatch();
  } catch (const std::bad_alloc&) {
    host->Log(pbxstate::LogLevel::kError, "out of memory in dispatch; anti-entropy repairs what was missed");
  } catch (...) {
    host->Log(pbxstate::LogLevel::kError, "unexpected exception in dispatch");
  }
}

void pbxstate_cpg_host_batch_begin(pbxstate_cpg_host* host) {
  if (host != nullptr) host->env->BeginBatch();
}

void pbxstate_cpg_host_batch_end(pbxstate_cpg_host* host) {
  if (host == nullptr) return;
  try {
    host->env->EndBatch();
  } catch (const std::bad_alloc&) {
    host->Log(pbxstate::LogLevel::kError, "out of memory sending a batch; anti-entropy repairs what was missed");
  } catch (...) {
    host->Log(pbxstate::LogLevel::kError, "unexpected exception sending a batch");
  }
}

void pbxstate_cpg_host_leave(pbxstate_cpg_host* host, uint64_t flush_ms) {
  if (host == nullptr) return;
  try {
    host->env->Leave(std::chrono::milliseconds(std::min<uint64_t>(flush_ms, 60'000)));
  } catch (...) {
    host->Log(pbxstate::LogLevel::kError, "unexpected exception while leaving the group");
  }
}

int pbxstate_cpg_host_connected(const pbxstate_cpg_host* host) {
  return host != nullptr && host->env->transport().connected() ? 1 : 0;
}

const char* pbxstate_cpg_host_fatal_error(const pbxstate_cpg_host* host) {
  if (host == nullptr) return "";
  pbxstate_cpg_host* self = const_cast<pbxstate_cpg_host*>(host);
  try {
    self->fatal = host->env->transport().fatal_error();
  } catch (...) {
    self->fatal = "fatal transport error (message lost: out of memory)";
  }
  return self->fatal.c_str();
}

int pbxstate_cpg_host_stats_get(const pbxstate_cpg_host* host, pbxstate_cpg_host_stats* out) {
  if (host == nullptr || out == nullptr) return PBXSTATE_E_INVALID_ARGUMENT;
  const auto& t = host->env->transport();
  const auto& s = t.stats();
  *out = pbxstate_cpg_host_stats{};
  out->broadcasts_sent = s.broadcasts_sent;
  out->unicasts_sent = s.unicasts_sent;
  out->bytes_sent = s.bytes_sent;
  out->try_again = s.try_again;
  out->queued = s.queued;
  out->queue_full = s.queue_full;
  out->too_large = s.too_large;
  out->unreachable = s.unreachable;
  out->dropped_disconnected = s.dropped_disconnected;
  out->messages_received = s.messages_received;
  out->bytes_received = s.bytes_received;
  out->frames_delivered = s.frames_delivered;
  out->envelope_errors = s.envelope_errors;
  out->from_ignored_member = s.from_ignored_member;
  out->confchgs = s.confchgs;
  out->views = s.views;
  out->connects = s.connects;
  out->connect_failures = s.connect_failures;
  out->disconnects = s.disconnects;
  out->queue_frames = t.queue().frames();
  out->queue_bytes = t.queue().bytes();
  out->view_members = t.view().members.size();
  return PBXSTATE_OK;
}

void pbxstate_cpg_host_destroy(pbxstate_cpg_host* host) {
  if (host == nullptr) return;
  pbxstate_cpg_host_leave(host, 500);
  host->env->Attach(nullptr);
  pbxstate_engine_destroy(host->engine);  // the engine first: it may still reach its env
  host->engine = nullptr;
  delete host;
}

}  // extern "C"
