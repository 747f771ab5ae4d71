/*
 * pbxstate over Corosync CPG for C hosts (the Asterisk module res_pbxstate): one engine of
 * c_api.h joined to one CPG group, with the CPG transport of cpg_transport.h (agreed-order
 * multicast, addressed unicast, bounded send queue on CS_ERR_TRY_AGAIN, reconnection when the
 * local corosync restarts) and one file descriptor for the host's event loop.
 *
 * It is the C face of CpgEnv (cpg_env.h), which pbxstated uses: the same transport, the same
 * clocks, the same timer; transports/corosync/README.md explains the choices.
 *
 * Life cycle:
 *
 *   pbxstate_cpg_host_config hc;  pbxstate_cpg_host_config_init(&hc);  hc.group = "asterisk-state";
 *   pbxstate_cpg_host_create(&hc, log_fn, log_user, &host, err, sizeof err);
 *   pbxstate_cpg_host_connect(host, err, sizeof err);      (corosync must answer; retry later if not)
 *   pbxstate_config cfg;  pbxstate_config_init(&cfg);  cfg.label = eid; ...
 *   pbxstate_cpg_host_create_engine(host, &cfg, &engine, err, sizeof err);
 *   pbxstate_engine_set_listener(engine, &listener);  pbxstate_engine_start(engine);
 *   loop on one thread: poll(pbxstate_cpg_host_fd(host), POLLIN) -> pbxstate_cpg_host_dispatch(host);
 *                       local changes -> pbxstate_engine_set_device_state(engine, ...)
 *   pbxstate_cpg_host_leave(host, 2000);                   (graceful: flush, leave the group)
 *   pbxstate_cpg_host_destroy(host);                       (destroys the engine too)
 *
 * Threading: a host and its engine are one single-threaded unit. Every call on the host and on
 * its engine must come from one thread at a time (the host serialises, e.g. with a mutex); the
 * engine's listener runs inside pbxstate_cpg_host_dispatch() and inside the engine calls.
 *
 * Errors follow c_api.h: functions return a pbxstate_rc as int, fill `errbuf` (when not NULL)
 * with a NUL-terminated reason, and no C++ exception crosses this interface.
 */
#ifndef PBXSTATE_COROSYNC_C_CPG_HOST_H
#define PBXSTATE_COROSYNC_C_CPG_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "pbxstate/c_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CpgTransportConfig and CpgEnvConfig (cpg_transport.h, cpg_env.h) in C. Start from
 * pbxstate_cpg_host_config_init(), then change fields. */
typedef struct pbxstate_cpg_host_config {
  const char* group;           /* CPG group name, NUL-terminated, 1..128 bytes; copied at create */
  uint64_t max_queue_frames;   /* send queue after CS_ERR_TRY_AGAIN: messages... */
  uint64_t max_queue_bytes;    /* ...and bytes; when full the engine is told "try again" */
  uint64_t max_message_bytes;  /* largest CPG message (8-byte envelope + engine frame) */
  uint64_t retry_interval_ms;  /* retry of the queue head after CS_ERR_TRY_AGAIN */
  uint64_t reconnect_min_ms;   /* after losing corosync: first reconnect delay, doubling... */
  uint64_t reconnect_max_ms;   /* ...up to this */
  uint64_t random_seed;        /* engine's random source; 0: drawn from getrandom(2), logged */
} pbxstate_cpg_host_config;

/* Fills `cfg` with the transport's defaults (group "pbxstate"). `cfg` must not be NULL. */
void pbxstate_cpg_host_config_init(pbxstate_cpg_host_config* cfg);

/* Where the host's and the engine's log lines go: `level` is a pbxstate_log_level, `message`
 * NUL-terminated and valid for the call. Called on the thread that called into the host. */
typedef void (*pbxstate_cpg_log_fn)(void* user, int level, const char* message, size_t message_len);

typedef struct pbxstate_cpg_host pbxstate_cpg_host;

/* Creates a host in *out: validates `cfg`, opens its timer and epoll descriptors. Does not
 * contact corosync yet. `log` may be NULL (nothing logged); `log_user` must outlive the host.
 * On failure *out is NULL and `errbuf` names the field: PBXSTATE_E_INVALID_ARGUMENT,
 * PBXSTATE_E_NO_MEMORY, PBXSTATE_E_INTERNAL (a descriptor could not be opened: the failing call
 * and errno's text in `errbuf`). */
int pbxstate_cpg_host_create(const pbxstate_cpg_host_config* cfg, pbxstate_cpg_log_fn log, void* log_user,
                             pbxstate_cpg_host** out, char* errbuf, size_t errbuf_len);

/* Connects to this machine's corosync (this network namespace's), learns the node id and joins
 * the group. PBXSTATE_E_FAILED_PRECONDITION, with corosync's error named in `errbuf`, when
 * corosync cannot be reached or refuses the join; the host may call it again. After a success,
 * later losses of corosync are recovered inside pbxstate_cpg_host_dispatch(). */
int pbxstate_cpg_host_connect(pbxstate_cpg_host* host, char* errbuf, size_t errbuf_len);

/* This node's corosync node id; PBXSTATE_NO_NODE before the first successful connect. */
pbxstate_node_id pbxstate_cpg_host_local_node(const pbxstate_cpg_host* host);

/* Creates the host's engine (c_api.h) over this host's transport, clocks and timer, and attaches
 * it: frames, CPG views and wakeups reach it from pbxstate_cpg_host_dispatch(). `cfg` is used as
 * given except node_id (0 or the local node id; set to the local node id) and membership (set to
 * PBXSTATE_MEMBERSHIP_TRANSPORT). The engine is owned by the host: do not destroy it; it lives
 * until pbxstate_cpg_host_destroy(). Requires a successful connect and no engine yet
 * (PBXSTATE_E_FAILED_PRECONDITION). Configuration errors as pbxstate_engine_create. The host
 * calls pbxstate_engine_set_listener and pbxstate_engine_start itself. */
int pbxstate_cpg_host_create_engine(pbxstate_cpg_host* host, const pbxstate_config* cfg, pbxstate_engine** out,
                                    char* errbuf, size_t errbuf_len);

/* The host's engine, NULL before pbxstate_cpg_host_create_engine. */
pbxstate_engine* pbxstate_cpg_host_engine(pbxstate_cpg_host* host);

/* One descriptor, stable for the host's life, readable whenever pbxstate_cpg_host_dispatch has
 * work (a CPG message or view, a send retry, a reconnect attempt, the engine's wakeup). */
int pbxstate_cpg_host_fd(const pbxstate_cpg_host* host);

/* Does all due work; never blocks. The engine's upcalls (and so its listener) run inside. */
void pbxstate_cpg_host_dispatch(pbxstate_cpg_host* host);

/* A series of local changes made at once (e.g. a queue of them drained in one go): between
 * begin and end the engine holds every change, and at end they leave together, in as few frames
 * as fit, instead of the first alone and the rest after it (CpgEnv::BeginBatch in cpg_env.h).
 * Not nested; call end outside any engine call. */
void pbxstate_cpg_host_batch_begin(pbxstate_cpg_host* host);
void pbxstate_cpg_host_batch_end(pbxstate_cpg_host* host);

/* Graceful stop: hands queued messages to CPG for at most flush_ms, leaves the group, closes the
 * connection. No upcall after it. Idempotent. */
void pbxstate_cpg_host_leave(pbxstate_cpg_host* host, uint64_t flush_ms);

/* 1 while connected to corosync and joined, else 0. */
int pbxstate_cpg_host_connected(const pbxstate_cpg_host* host);

/* Non-empty when the host cannot go on and should be stopped: another process of this node id
 * is in the group, or corosync came back with another node id. "" otherwise. */
const char* pbxstate_cpg_host_fatal_error(const pbxstate_cpg_host* host);

/* The transport's counters (CpgTransportStats in cpg_transport.h, the same names). */
typedef struct pbxstate_cpg_host_stats {
  uint64_t broadcasts_sent, unicasts_sent, bytes_sent;
  uint64_t try_again, queued, queue_full, too_large, unreachable, dropped_disconnected;
  uint64_t messages_received, bytes_received, frames_delivered;
  uint64_t envelope_errors, from_ignored_member;
  uint64_t confchgs, views, connects, connect_failures, disconnects;
  uint64_t queue_frames, queue_bytes; /* in the send queue now */
  uint64_t view_members;              /* members of the current CPG view */
} pbxstate_cpg_host_stats;
int pbxstate_cpg_host_stats_get(const pbxstate_cpg_host* host, pbxstate_cpg_host_stats* out);

/* Leaves (flushing for at most 500 ms) if still joined, destroys the engine, then the host.
 * NULL is a no-op. Must not be called from inside the engine's listener. */
void pbxstate_cpg_host_destroy(pbxstate_cpg_host* host);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PBXSTATE_COROSYNC_C_CPG_HOST_H */
