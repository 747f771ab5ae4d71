/*
 * pbxstate C API: the engine of engine.h for C hosts (the Asterisk module res_pbxstate).
 *
 * The C++ API (engine.h, env.h) is the reference; this header is a thin, allocation-light layer
 * over it with the same semantics. Read engine/README.md for what the engine promises.
 *
 * General contract, for every function below unless its comment says otherwise:
 *
 *  - Threading. An engine is single-threaded: every call on one pbxstate_engine* (upcalls
 *    included) must come from one thread at a time; the host serialises. Distinct engines are
 *    independent and may live on different threads. The library has no global mutable state.
 *
 *  - Callbacks. The engine calls the host's pbxstate_env callbacks and pbxstate_listener
 *    callbacks only from inside a call the host made on that engine, on the host's thread.
 *    From inside an env callback the host must not call this engine at all; from inside a
 *    listener (or visitor) callback it may call the query functions only. A forbidden call is
 *    refused with PBXSTATE_E_REENTRANT and has no effect. Callbacks must return normally (no
 *    longjmp, no C++ exception).
 *
 *  - Strings. Keys (device names, mailbox@context, AORs), contacts and labels are passed as
 *    pointer + length and need not be NUL-terminated; they are copied by the call, never kept.
 *    A NULL pointer is accepted only with length 0. Strings the library hands out (keys and
 *    contacts in callbacks, names from the *_name functions) are NUL-terminated as well.
 *
 *  - Errors. Functions that can fail return a pbxstate_rc as int (0 is success). No C++
 *    exception ever crosses this interface: out of memory is PBXSTATE_E_NO_MEMORY. A call that
 *    fails with PBXSTATE_E_INVALID_ARGUMENT, PBXSTATE_E_RESOURCE_EXHAUSTED,
 *    PBXSTATE_E_FAILED_PRECONDITION or PBXSTATE_E_REENTRANT changed nothing; after
 *    PBXSTATE_E_NO_MEMORY or PBXSTATE_E_INTERNAL the call may have been partly applied, the
 *    engine can still be used and destroyed, and anti-entropy repairs what peers missed.
 *    pbxstate_engine_last_error() tells why the last call on an engine failed.
 *
 *  - ABI. Structs are plain data filled by the caller or the library as stated; the library is
 *    linked statically into its host (the same build provides header and code), so structs carry
 *    no size/version field.
 *
 * A host's life cycle (the Asterisk module's, with CPG):
 *
 *   pbxstate_config cfg;  pbxstate_config_init(&cfg);
 *   cfg.node_id = cpg_local_nodeid;  cfg.incarnation = wall_clock_us;  cfg.label = eid_string;
 *   cfg.membership = PBXSTATE_MEMBERSHIP_TRANSPORT;  cfg.anti_entropy_interval_ms = 0;
 *   pbxstate_env env = { .user = mod, .now_ns = ..., ... };      (every callback but log)
 *   pbxstate_engine_create(&cfg, &env, &engine, err, sizeof err);
 *   pbxstate_engine_set_listener(engine, &listener);   (view_change -> publish to stasis)
 *   pbxstate_engine_start(engine);
 *   on the module's event thread, serialised:
 *     CPG deliver        -> pbxstate_engine_on_frame(engine, nodeid, msg, len)
 *       (a unicast addressed to another node: pbxstate_engine_on_overheard, or dropped)
 *     CPG confchg        -> pbxstate_engine_on_membership(engine, ++view, ids, n)
 *     wakeup due         -> pbxstate_engine_on_timer(engine)
 *     local stasis event -> pbxstate_engine_set_device_state / set_mailbox / ...
 *   pbxstate_engine_destroy(engine);
 *
 * Compiles as C99 and later, and as C++.
 */
#ifndef PBXSTATE_C_API_H
#define PBXSTATE_C_API_H

#include <stddef.h>
#include <stdint.h>

#include "pbxstate/engine_settings.h"
#include "pbxstate/site_map.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------- */
/* Basic types                                                                                  */

/* A cluster member's id, chosen by the host (CPG node id). 0 is never a valid node. */
typedef uint32_t pbxstate_node_id;
#define PBXSTATE_NO_NODE 0u /* a plain literal: no cast for C++ hosts built with -Wold-style-cast */

/* Return codes. Functions return them as int so that a host can pass them on unchanged. */
typedef enum pbxstate_rc {
  PBXSTATE_OK = 0,
  PBXSTATE_E_INVALID_ARGUMENT = 1,    /* malformed argument (NULL, empty or too long key, ...) */
  PBXSTATE_E_RESOURCE_EXHAUSTED = 2,  /* a configured bound would be exceeded */
  PBXSTATE_E_FAILED_PRECONDITION = 3, /* not allowed in the engine's current state */
  PBXSTATE_E_NO_MEMORY = 4,           /* an allocation failed */
  PBXSTATE_E_NOT_FOUND = 5,           /* query: no such entry */
  PBXSTATE_E_BUFFER_TOO_SMALL = 6,    /* query: caller's buffer too small (see the function) */
  PBXSTATE_E_REENTRANT = 7,           /* called from inside a callback where that is forbidden */
  PBXSTATE_E_INTERNAL = 8             /* an unexpected failure inside the library */
} pbxstate_rc;

/* A static, NUL-terminated description of `rc` ("invalid argument", ...); "unknown error" for a
 * value that is not a pbxstate_rc. Never NULL. Thread-safe. */
const char* pbxstate_strerror(int rc);

/* Asterisk's device states with Asterisk's numeric values (enum ast_device_state), so a host
 * casts between the two. Where a device state is optional, -1 (PBXSTATE_DEVICE_NONE) means
 * "none": no contribution, or no node contributes. */
typedef enum pbxstate_device_state {
  PBXSTATE_DEVICE_NONE = -1,
  PBXSTATE_DEVICE_UNKNOWN = 0,
  PBXSTATE_DEVICE_NOT_INUSE = 1,
  PBXSTATE_DEVICE_INUSE = 2,
  PBXSTATE_DEVICE_BUSY = 3,
  PBXSTATE_DEVICE_INVALID = 4,
  PBXSTATE_DEVICE_UNAVAILABLE = 5,
  PBXSTATE_DEVICE_RINGING = 6,
  PBXSTATE_DEVICE_RINGINUSE = 7,
  PBXSTATE_DEVICE_ONHOLD = 8
} pbxstate_device_state;
#define PBXSTATE_DEVICE_STATE_COUNT 9

/* "NOT_INUSE", "RINGINUSE", ... for 0..8; NULL for anything else (including -1). Static. */
const char* pbxstate_device_state_name(int state);
/* The state named `name` (case-insensitive, the names above); -1 when it names none. */
int pbxstate_device_state_parse(const char* name, size_t name_len);

typedef enum pbxstate_entry_kind {
  PBXSTATE_KIND_DEVICE = 0,
  PBXSTATE_KIND_MAILBOX = 1,
  PBXSTATE_KIND_REGISTRATION = 2
} pbxstate_entry_kind;
/* "device", ...; NULL for an unknown value. Static. */
const char* pbxstate_entry_kind_name(int kind);

/* Why the cluster-wide view changed. */
typedef enum pbxstate_change_cause {
  PBXSTATE_CAUSE_LOCAL = 0,     /* a local change made through this engine */
  PBXSTATE_CAUSE_REMOTE = 1,    /* a frame from another node */
  PBXSTATE_CAUSE_DEPARTURE = 2, /* the owner left the membership and its grace ran out */
  PBXSTATE_CAUSE_RESTART = 3,   /* the owner came back with a new incarnation */
  PBXSTATE_CAUSE_EXPIRY = 4     /* a registration reached its expiry */
} pbxstate_change_cause;
/* "local", ...; NULL for an unknown value. Static. */
const char* pbxstate_change_cause_name(int cause);

typedef enum pbxstate_contact_status {
  PBXSTATE_CONTACT_REACHABLE = 0,
  PBXSTATE_CONTACT_UNREACHABLE = 1
} pbxstate_contact_status;

typedef struct pbxstate_mailbox_counts {
  uint32_t new_messages;
  uint32_t old_messages;
  uint32_t urgent_messages;
} pbxstate_mailbox_counts;

/* A mailbox's cluster-wide value: the write with the greatest (hlc, writer). */
typedef struct pbxstate_mailbox_value {
  pbxstate_mailbox_counts counts;
  int64_t hlc_physical_ns; /* hybrid logical clock of the winning write: wall ns since epoch */
  uint32_t hlc_logical;    /* ... and its logical counter */
  pbxstate_node_id writer; /* the node that made the winning write */
} pbxstate_mailbox_value;

/* One contact of an AOR on one node (engine.h's RegistrationInfo). As an argument
 * (pbxstate_engine_set_registration) `contact`, `path` and `user_agent` are borrowed for the call
 * (NULL only with length 0; an empty path or user agent means none); handed out by the library
 * all three are NUL-terminated (empty when none) and valid only during the callback that
 * received them. contact_len + path_len + user_agent_len is at most the engine's
 * max_contact_bytes. */
typedef struct pbxstate_registration {
  const char* contact;  /* contact URI, e.g. "sip:alice@198.18.0.7:5060" */
  size_t contact_len;
  int64_t expires_ns;   /* absolute wall time, ns since the Unix epoch; gone everywhere then */
  int status;           /* pbxstate_contact_status */
  uint32_t rtt_us;      /* last qualify round trip, 0 when unknown */
  /* What routing a call to the contact needs besides its URI: the REGISTER's Path headers
   * (RFC 3327: the proxies a request to the contact must traverse, as the registrar stores
   * them, e.g. "<sip:edge1.example;lr>,<sip:core.example;lr>"), and its User-Agent. */
  const char* path;
  size_t path_len;
  const char* user_agent;
  size_t user_agent_len;
} pbxstate_registration;

/* ------------------------------------------------------------------------------------------- */
/* Configuration                                                                                */

typedef enum pbxstate_membership_source {
  PBXSTATE_MEMBERSHIP_TRANSPORT = 0, /* the host calls pbxstate_engine_on_membership (CPG) */
  PBXSTATE_MEMBERSHIP_HEARTBEAT = 1  /* the engine's own heartbeat failure detector */
} pbxstate_membership_source;

/* Bytes of a cluster key. */
#define PBXSTATE_CLUSTER_KEY_BYTES 32

/* The cluster keys (EngineConfig::cluster_keys; engine/README.md "Authentication"), borrowed for
 * the call that takes them. key NULL (and key_len 0): frames are unauthenticated. Otherwise
 * key_len must be PBXSTATE_CLUSTER_KEY_BYTES (pbxstate_load_cluster_key reads a key file): every
 * frame sent carries a MAC under `key`. previous: NULL, or a second key whose frames are accepted
 * too, during a rotation (only together with `key`). */
typedef struct pbxstate_cluster_keys {
  const uint8_t* key;
  size_t key_len;
  const uint8_t* previous;
  size_t previous_len;
} pbxstate_cluster_keys;

/* The fields of pbxstate_config generated from one row of the table of engine settings
 * (engine_settings.h): `name` for counts and bytes, `name_ms` for durations (milliseconds). */
#define PBXSTATE_CONFIG_FIELD_MS(name) uint64_t name##_ms;
#define PBXSTATE_CONFIG_FIELD_COUNT(name) uint64_t name;
#define PBXSTATE_CONFIG_FIELD_BYTES(name) uint64_t name;
#define PBXSTATE_CONFIG_FIELD(name, unit, min, max, doc) PBXSTATE_CONFIG_FIELD_##unit(name)

/* EngineConfig (config.h) in C: read that header for what each field does. Durations are
 * milliseconds (fields ending in _ms). Always start from pbxstate_config_init(), then change
 * fields: that keeps a host correct when fields are added. */
typedef struct pbxstate_config {
  /* identity */
  pbxstate_node_id node_id; /* required, non-zero, unique in the cluster */
  uint64_t incarnation;     /* required, non-zero, greater at every start (wall clock in us) */
  const char* label;        /* NUL-terminated, <= 64 bytes, NULL for none; copied at create */
  int membership;           /* pbxstate_membership_source */

  /* One uint64_t per row of engine_settings.h, in its order: batch_window_ms, max_batch_changes,
   * max_frame_bytes, ... max_clock_skew_ms. Ranges and docs: pbxstate_setting_at() below. */
  PBXSTATE_ENGINE_SETTINGS(PBXSTATE_CONFIG_FIELD)

  /* authentication (pbxstate_cluster_keys above); all NULL after pbxstate_config_init: frames
   * are unauthenticated. The key bytes are copied at create. */
  pbxstate_cluster_keys cluster_keys;

  /* sites (EngineConfig::node_sites, for relays_per_site): the site map in its text form
   * (site_map.h, PBXSTATE_SITE_MAP_DOC: "1-5:0, 6-10:1"), NUL-terminated, at most
   * PBXSTATE_SITE_MAP_MAX_TEXT_BYTES; NULL (after pbxstate_config_init) or "": no map. Copied at
   * create. */
  const char* node_sites;
} pbxstate_config;

/* The table of engine settings (engine_settings.h) seen from C: a host that reads settings from
 * its own configuration walks it instead of copying names and ranges. */
typedef enum pbxstate_setting_unit {
  PBXSTATE_UNIT_MS = 0,    /* a duration in milliseconds */
  PBXSTATE_UNIT_COUNT = 1,
  PBXSTATE_UNIT_BYTES = 2
} pbxstate_setting_unit;

typedef struct pbxstate_setting {
  const char* name;       /* EngineConfig's member, "batch_window" */
  const char* key;        /* the pbxstate_config field, "batch_window_ms" (name for counts) */
  int unit;               /* pbxstate_setting_unit */
  const char* unit_name;  /* "ms", "count", "bytes" */
  uint64_t min;           /* inclusive, in `unit` */
  uint64_t max;           /* inclusive, in `unit` */
  uint64_t default_value; /* the engine's default (pbxstate_config_init), in `unit` */
  uint64_t permissive;    /* its value in pbxstate_config_permissive(), in `unit` */
  const char* doc;        /* one line */
  size_t offset;          /* offsetof(pbxstate_config, <key>): where its uint64_t lives */
} pbxstate_setting;

/* Number of engine settings. Thread-safe. */
size_t pbxstate_setting_count(void);
/* Setting `index` (0 <= index < pbxstate_setting_count(), in the order of pbxstate_config's
 * fields), static; NULL for an index beyond. Thread-safe. */
const pbxstate_setting* pbxstate_setting_at(size_t index);
/* The index of the setting whose `key` is exactly `key` (key_len bytes), or -1. Thread-safe. */
int pbxstate_setting_find(const char* key, size_t key_len);
/* The value of setting `index` in `cfg` (0 for a NULL cfg or an index beyond the table). */
uint64_t pbxstate_config_get(const pbxstate_config* cfg, size_t index);
/* Sets setting `index` of `cfg` to `value` (in its unit). PBXSTATE_E_INVALID_ARGUMENT, with
 * `cfg` unchanged, for a NULL cfg, an index beyond the table or a value outside [min, max]. */
int pbxstate_config_set(pbxstate_config* cfg, size_t index, uint64_t value);

/* Reads the cluster key file `path` (NUL-terminated) into `key` (key_len must be
 * PBXSTATE_CLUSTER_KEY_BYTES). The file holds 32 raw bytes or 64 hexadecimal digits and a
 * newline, and must not be readable or writable by group or others (mode 0600 or 0400).
 * PBXSTATE_E_INVALID_ARGUMENT when an argument is NULL or key_len is wrong, or when the file is
 * refused: the reason, naming the file (and its mode when that is the reason), goes to `errbuf`
 * as in pbxstate_engine_create. `key` is untouched on failure. Thread-safe. */
int pbxstate_load_cluster_key(const char* path, uint8_t* key, size_t key_len, char* errbuf, size_t errbuf_len);

/* Checks the text form of a site map (`text`, NUL-terminated; NULL is the empty map) as
 * pbxstate_config's node_sites is read: PBXSTATE_OK, or PBXSTATE_E_INVALID_ARGUMENT with the
 * reason, naming the item, in `errbuf` (as pbxstate_engine_create writes it). For a host that
 * reports a bad map at the line that sets it. Thread-safe. */
int pbxstate_site_map_check(const char* text, char* errbuf, size_t errbuf_len);

/* Fills `cfg` with the engine's defaults (those of EngineConfig), node_id 0, incarnation 0,
 * label NULL, membership PBXSTATE_MEMBERSHIP_HEARTBEAT, node_sites NULL. `cfg` must not be NULL.
 * Cannot fail. */
void pbxstate_config_init(pbxstate_config* cfg);

/* Checks `cfg` as pbxstate_engine_create would (every setting's range, the rules between them,
 * the label, the membership source, the keys, the site map), except node_id and incarnation,
 * which a host fills in at start (node_id 0 is checked as the site map's first node, or 1). PBXSTATE_OK, or PBXSTATE_E_INVALID_ARGUMENT with the reason, naming the field,
 * in `errbuf` (as pbxstate_engine_create writes it). For a host that reads its configuration
 * before it can create the engine (res_pbxstate at load). */
int pbxstate_config_validate(const pbxstate_config* cfg, char* errbuf, size_t errbuf_len);

/* Fills `cfg` with PermissiveEngineConfig() (config.h): node 1, incarnation 1, heartbeat
 * membership, and settings under which any single setting may then take any value of its range
 * (for range tests of a host's configuration). `cfg` must not be NULL. Cannot fail. */
void pbxstate_config_permissive(pbxstate_config* cfg);

/* ------------------------------------------------------------------------------------------- */
/* Environment: the host's clock and transport (env.h in C)                                     */

typedef enum pbxstate_send_status {
  PBXSTATE_SEND_OK = 0,          /* handed to the network (may still be lost) */
  PBXSTATE_SEND_TRY_AGAIN = 1,   /* congested (CS_ERR_TRY_AGAIN): nothing sent, engine retries */
  PBXSTATE_SEND_TOO_LARGE = 2,   /* larger than the transport carries: nothing sent, counted */
  PBXSTATE_SEND_UNREACHABLE = 3  /* unicast to an unknown node: nothing sent */
} pbxstate_send_status;

/* The values of pbxstate::LogLevel (env.h). */
typedef enum pbxstate_log_level {
  PBXSTATE_LOG_DEBUG = 0,
  PBXSTATE_LOG_INFO = 1,
  PBXSTATE_LOG_WARNING = 2,
  PBXSTATE_LOG_ERROR = 3
} pbxstate_log_level;

/* The host's side of the engine. Every callback receives `user` as its first argument. The
 * struct is copied at create; `user` and whatever it points to must outlive the engine.
 * Callbacks run on the host's thread from inside an engine call and must not call this
 * engine (see the general contract). All but `log` are required. */
typedef struct pbxstate_env {
  void* user;
  /* Monotonic time in ns, host-chosen epoch; never decreases. */
  int64_t (*now_ns)(void* user);
  /* Calendar time in ns since the Unix epoch (registration expiry, MWI clock). */
  int64_t (*wall_now_ns)(void* user);
  /* Call pbxstate_engine_on_timer() once now_ns() >= at_ns. A later request replaces the
   * earlier one; a late or repeated wakeup is harmless. */
  void (*schedule_wakeup)(void* user, int64_t at_ns);
  /* Send `frame` to every other member / to node `to`. The bytes are borrowed for the call
   * only. Return a pbxstate_send_status; any other value counts as PBXSTATE_SEND_UNREACHABLE. */
  int (*broadcast)(void* user, const uint8_t* frame, size_t frame_len);
  int (*unicast)(void* user, pbxstate_node_id to, const uint8_t* frame, size_t frame_len);
  /* A uniformly distributed 64-bit value from the host's (seeded) generator. */
  uint64_t (*random)(void* user);
  /* Optional (NULL: discard). `message` is NUL-terminated, `message_len` bytes, valid for the
   * call; messages longer than 1023 bytes are truncated. `level` is a pbxstate_log_level. */
  void (*log)(void* user, int level, const char* message, size_t message_len);
  /* Optional (NULL: this host cannot tell). Env::SendBacklog in env.h: how many frames the
   * host accepted and is not through with yet (queued, being sent, sent and not confirmed);
   * a negative value means "cannot tell" (UDP). A host that answers with a count must call
   * pbxstate_engine_on_send_ready() every time it drops to 0, and answer with a count always. */
  int64_t (*send_backlog)(void* user);
  /* Env::UnicastReachesEveryone in env.h: non-zero when a unicast travels to every member and
   * all but its addressee discard it (CPG). The host may then hand the engine the unicasts it
   * carried for other nodes (pbxstate_engine_on_overheard). 0 (a zeroed struct): a unicast goes
   * to its addressee alone (UDP). Read once, at create. */
  int unicast_reaches_everyone;
} pbxstate_env;

/* ------------------------------------------------------------------------------------------- */
/* Lifetime                                                                                     */

typedef struct pbxstate_engine pbxstate_engine;

/* Creates an engine in *out. `cfg` and `env` are copied (see pbxstate_env for `user`). Nothing is
 * sent until pbxstate_engine_start(). On failure *out is NULL, nothing is left allocated, and
 * when `errbuf` is not NULL a NUL-terminated reason (truncated to errbuf_len - 1 bytes) is
 * written there: PBXSTATE_E_INVALID_ARGUMENT for a NULL argument, a missing callback or a
 * configuration that does not validate (the message names the field), PBXSTATE_E_NO_MEMORY. */
int pbxstate_engine_create(const pbxstate_config* cfg, const pbxstate_env* env,
                           pbxstate_engine** out, char* errbuf, size_t errbuf_len);

/* Destroys the engine: no callback runs during or after this call. NULL is a no-op. Must not be
 * called from inside a callback of this engine; such a call is refused (the engine stays alive,
 * and an error is logged). */
void pbxstate_engine_destroy(pbxstate_engine* engine);

/* Announces this node and arms the periodic timers. Call once, when the transport can send;
 * a second call is refused with PBXSTATE_E_FAILED_PRECONDITION. */
int pbxstate_engine_start(pbxstate_engine* engine);

/* Why the last failing call on `engine` failed: NUL-terminated, owned by the engine, valid until
 * the next call on it; "" when there is nothing to say. NULL engine gives "". */
const char* pbxstate_engine_last_error(const pbxstate_engine* engine);

/* ------------------------------------------------------------------------------------------- */
/* Listener: changes of the cluster-wide view                                                   */

/* One change of the cluster-wide view. The struct and every pointer in it are valid only during
 * the callback; copy what you keep. */
typedef struct pbxstate_view_change {
  int kind;                 /* pbxstate_entry_kind */
  int cause;                /* pbxstate_change_cause */
  const char* key;          /* device, mailbox@context or AOR; key[key_len] == '\0' */
  size_t key_len;
  pbxstate_node_id origin;  /* owner of the changed entry; the writer for a mailbox */
  uint64_t incarnation;     /* the changed entry's version (device, registration); 0 for MWI */
  uint64_t sequence;

  /* PBXSTATE_KIND_DEVICE: the origin's contribution and the cluster-wide aggregate, before and
   * after, as pbxstate_device_state; -1 for none. All four are -1 for the other kinds. */
  int old_contribution, new_contribution;
  int old_aggregate, new_aggregate;

  /* PBXSTATE_KIND_MAILBOX: the cluster-wide value before/after; NULL for none (new_mailbox NULL:
   * the mailbox was removed). */
  const pbxstate_mailbox_value* old_mailbox;
  const pbxstate_mailbox_value* new_mailbox;

  /* PBXSTATE_KIND_REGISTRATION: the origin's registration before/after; NULL for none. */
  const pbxstate_registration* old_registration;
  const pbxstate_registration* new_registration;
} pbxstate_view_change;

/* Callbacks run from inside engine calls, on the host's thread; they may call the query
 * functions of this engine and nothing else on it. Either may be NULL. */
typedef struct pbxstate_listener {
  void* user;
  /* Every change of an entry of the cluster-wide view, local ones included. */
  void (*view_change)(void* user, const pbxstate_view_change* change);
  /* The set of live nodes changed; `members` is sorted, includes this node, valid for the call. */
  void (*members_changed)(void* user, const pbxstate_node_id* members, size_t count);
} pbxstate_listener;

/* Installs `listener` (copied; its `user` must stay valid while installed) or removes the
 * current one when `listener` is NULL. */
int pbxstate_engine_set_listener(pbxstate_engine* engine, const pbxstate_listener* listener);

/* ------------------------------------------------------------------------------------------- */
/* Upcalls from the host                                                                        */

/* A frame arrived from node `from`; the bytes are borrowed for the call. A frame that does not
 * parse or must not be trusted is counted in the stats and ignored: it is not an error, the call
 * returns PBXSTATE_OK. `frame` may be NULL only with frame_len 0. */
int pbxstate_engine_on_frame(pbxstate_engine* engine, pbxstate_node_id from,
                             const uint8_t* frame, size_t frame_len);

/* A unicast that node `from` addressed to node `to`, another node, which the transport carried
 * here too (Engine::OnOverheard in engine.h; engine/README.md, "Overheard entries"); the bytes
 * are borrowed for the call. The engine applies the mailbox records of a MAILBOX_ENTRIES frame
 * among them, last-writer-wins, as if sent here, and answers nothing; any other frame is ignored
 * and not counted as dropped. The frame is checked as pbxstate_engine_on_frame checks one (MAC
 * naming `to`, replay window, sender in the view): a frame that fails is counted in the stats and
 * ignored, and the call returns PBXSTATE_OK. PBXSTATE_E_FAILED_PRECONDITION when the env's
 * unicast_reaches_everyone is 0 (such a host never carries others' unicasts);
 * PBXSTATE_E_INVALID_ARGUMENT when `to` is PBXSTATE_NO_NODE or this node (hand that frame to
 * pbxstate_engine_on_frame), or `frame` is NULL with a non-zero frame_len. A host may as well
 * drop such frames: nothing then changes but the repair's speed. */
int pbxstate_engine_on_overheard(pbxstate_engine* engine, pbxstate_node_id from, pbxstate_node_id to,
                                 const uint8_t* frame, size_t frame_len);

/* The transport's new membership view (PBXSTATE_MEMBERSHIP_TRANSPORT; with the heartbeat
 * source it is ignored and counted by the engine). `members` (borrowed) lists the nodes of the
 * view in any order, duplicates allowed; it must contain this node and no 0:
 * PBXSTATE_E_INVALID_ARGUMENT otherwise. `view_id` is the host's counter of views. */
int pbxstate_engine_on_membership(pbxstate_engine* engine, uint64_t view_id,
                                  const pbxstate_node_id* members, size_t count);

/* Replaces the engine's cluster keys on a running engine (`keys` and the bytes it points to are
 * copied), for a key rotation without downtime: every node goes from key=A to key=A with
 * previous=B (send A, accept both), then key=B with previous=A, then key=B alone.
 * A NULL `keys`, or keys->key NULL, switches authentication off. Frames built afterwards use the
 * new keys. PBXSTATE_E_INVALID_ARGUMENT (nothing changed) when the keys do not validate: wrong
 * length, equal keys, a previous key without a key. */
int pbxstate_engine_set_cluster_keys(pbxstate_engine* engine, const pbxstate_cluster_keys* keys);

/* The wakeup requested through pbxstate_env.schedule_wakeup is due (or the host is not sure:
 * an early or repeated call is harmless). */
int pbxstate_engine_on_timer(pbxstate_engine* engine);

/* The host's transport went through every frame it had accepted (its send_backlog callback
 * dropped to 0): the engine retries what it queued and sends the changes it held back
 * (Engine::OnSendReady in engine.h). A spurious call is harmless. */
int pbxstate_engine_on_send_ready(pbxstate_engine* engine);

/* ------------------------------------------------------------------------------------------- */
/* Local changes; each reaches the other nodes without waiting for a timer                      */

/* Sets this node's contribution to `device`'s state (0..8, PBXSTATE_E_INVALID_ARGUMENT else). */
int pbxstate_engine_set_device_state(pbxstate_engine* engine, const char* device,
                                     size_t device_len, int state);

/* Withdraws this node's contribution to `device` (deprovisioned here); withdrawing none is not
 * an error. The device's name is freed once no node contributes and the removal's tombstone
 * has gone (engine.h, Engine::RemoveDevice). */
int pbxstate_engine_remove_device(pbxstate_engine* engine, const char* device, size_t device_len);

/* Writes `mailbox`'s counts (copied); the cluster keeps the latest write by hybrid clock. */
int pbxstate_engine_set_mailbox(pbxstate_engine* engine, const char* mailbox, size_t mailbox_len,
                                const pbxstate_mailbox_counts* counts);

/* Removes `mailbox` (deleted from voicemail.conf): a write without counts that wins by hybrid
 * clock like any other, so a later pbxstate_engine_set_mailbox on any node brings it back.
 * Removing one not held is not an error. Afterwards the mailbox has no value
 * (PBXSTATE_E_NOT_FOUND) and the listener hears a change whose new_mailbox is NULL; its name is
 * freed once the removal's tombstone has gone (engine.h, Engine::RemoveMailbox). */
int pbxstate_engine_remove_mailbox(pbxstate_engine* engine, const char* mailbox, size_t mailbox_len);

/* Adds or refreshes this node's contact `info->contact` of `aor` (`info` and its contact are
 * copied); the AOR's other contacts on this node stay (engine.h, Engine::SetRegistration: at
 * max_contacts_per_aor a new contact replaces the one expiring first). `info->expires_ns` must
 * lie in the future and within max_registration_ttl_ms. */
int pbxstate_engine_set_registration(pbxstate_engine* engine, const char* aor, size_t aor_len,
                                     const pbxstate_registration* info);

/* Removes every contact this node holds for `aor`; removing none is not an error. */
int pbxstate_engine_remove_registration(pbxstate_engine* engine, const char* aor, size_t aor_len);

/* Removes this node's contact `contact` of `aor`; removing one that is not held is not an error. */
int pbxstate_engine_remove_contact(pbxstate_engine* engine, const char* aor, size_t aor_len, const char* contact,
                                   size_t contact_len);

/* ------------------------------------------------------------------------------------------- */
/* Queries. Allowed from listener and visitor callbacks. None changes the engine.               */

/* Buffer convention: a query that fills a caller array of `capacity` elements sets *count to the
 * number of elements there are, writes the first min(capacity, *count) of them, and returns
 * PBXSTATE_E_BUFFER_TOO_SMALL when capacity < *count. `out` may be NULL when capacity is 0 (to
 * ask for the size). `count` must not be NULL. */

/* *state = Asterisk's aggregate of every live node's contribution; PBXSTATE_E_NOT_FOUND and
 * *state = -1 when no node contributes. */
int pbxstate_engine_device_state(const pbxstate_engine* engine, const char* device,
                                 size_t device_len, int* state);

/* One node's part of a device's state. */
typedef struct pbxstate_contribution {
  pbxstate_node_id node;
  int state;  /* pbxstate_device_state, never -1 */
  uint64_t incarnation;
  uint64_t sequence;
} pbxstate_contribution;

/* Every live node's contribution to `device`, ordered by node id (buffer convention above; no
 * contribution is *count = 0 and PBXSTATE_OK). */
int pbxstate_engine_device_contributions(const pbxstate_engine* engine, const char* device,
                                         size_t device_len, pbxstate_contribution* out,
                                         size_t capacity, size_t* count);

/* The mailbox's cluster-wide value in *out; PBXSTATE_E_NOT_FOUND (and *out zeroed) when none. */
int pbxstate_engine_mailbox(const pbxstate_engine* engine, const char* mailbox,
                            size_t mailbox_len, pbxstate_mailbox_value* out);

/* A live registration, as handed to visitors: `info.contact` is NUL-terminated. */
typedef struct pbxstate_registration_view {
  pbxstate_node_id node;  /* the node that holds it */
  pbxstate_registration info;
  uint64_t incarnation;
  uint64_t sequence;
} pbxstate_registration_view;

/* Calls `fn` for each live registration of `aor`, ordered by node id, and sets *count (may be
 * NULL) to how many there were. `fn` may be NULL (just count). The view is valid during `fn`. */
typedef void (*pbxstate_registration_fn)(void* user, const char* aor, size_t aor_len,
                                         const pbxstate_registration_view* registration);
int pbxstate_engine_registrations(const pbxstate_engine* engine, const char* aor, size_t aor_len,
                                  pbxstate_registration_fn fn, void* user, size_t* count);

/* Visitors over the whole view, in no particular order (dumps, CLI, convergence checks). Each
 * calls `fn` (not NULL) once per entry; arguments are valid during the call only; `key` is
 * NUL-terminated. A device's `aggregate` is -1 when no live node contributes. */
typedef void (*pbxstate_device_fn)(void* user, const char* device, size_t device_len, int aggregate,
                                   const pbxstate_contribution* contributions, size_t count);
typedef void (*pbxstate_mailbox_fn)(void* user, const char* mailbox, size_t mailbox_len,
                                    const pbxstate_mailbox_value* value);
int pbxstate_engine_for_each_device(const pbxstate_engine* engine, pbxstate_device_fn fn, void* user);
int pbxstate_engine_for_each_mailbox(const pbxstate_engine* engine, pbxstate_mailbox_fn fn, void* user);
int pbxstate_engine_for_each_registration(const pbxstate_engine* engine, pbxstate_registration_fn fn,
                                          void* user);

/* Nodes currently counted as live (this node included), sorted (buffer convention above). */
int pbxstate_engine_members(const pbxstate_engine* engine, pbxstate_node_id* out, size_t capacity,
                            size_t* count);

/* The label node `node` announced (pbxstate_config.label; this node's own for node_id), "" when
 * not known yet. Copied NUL-terminated into `buf`; *len (may be NULL) = the label's length.
 * PBXSTATE_E_BUFFER_TOO_SMALL when buf_len <= label length: `buf` then holds as much as fits,
 * still NUL-terminated when buf_len > 0. */
int pbxstate_engine_node_label(const pbxstate_engine* engine, pbxstate_node_id node, char* buf,
                               size_t buf_len, size_t* len);

/* This engine's node id and incarnation (0 for a NULL engine). Never fail. */
pbxstate_node_id pbxstate_engine_node_id(const pbxstate_engine* engine);
uint64_t pbxstate_engine_incarnation(const pbxstate_engine* engine);

/* A content hash of the cluster-wide view: equal digests, same view. */
typedef struct pbxstate_digest {
  uint64_t hash;
  uint64_t devices;       /* device contributions held */
  uint64_t mailboxes;
  uint64_t registrations; /* live registrations held */
} pbxstate_digest;
int pbxstate_engine_digest(const pbxstate_engine* engine, pbxstate_digest* out);

/* Why a received frame was not used (DropReason in stats.h, same order). */
typedef enum pbxstate_drop_reason {
  PBXSTATE_DROP_TRUNCATED = 0,
  PBXSTATE_DROP_BAD_MAGIC = 1,
  PBXSTATE_DROP_BAD_VERSION = 2,
  PBXSTATE_DROP_UNKNOWN_TYPE = 3,
  PBXSTATE_DROP_OVERSIZE = 4,
  PBXSTATE_DROP_MALFORMED = 5,
  PBXSTATE_DROP_FROM_SELF = 6,
  PBXSTATE_DROP_STALE_INCARNATION = 7,
  PBXSTATE_DROP_NOT_MEMBER = 8,
  PBXSTATE_DROP_TOO_MANY_NODES = 9,
  PBXSTATE_DROP_UNEXPECTED = 10,
  PBXSTATE_DROP_STORE_FULL = 11,
  PBXSTATE_DROP_BAD_MAC = 12,             /* with keys: the MAC does not match */
  PBXSTATE_DROP_UNKNOWN_KEY = 13,         /* with keys: a key id none of the keys has */
  PBXSTATE_DROP_REPLAYED = 14,            /* with keys: a frame seen before, or meant for another node */
  PBXSTATE_DROP_UNAUTHENTICATED = 15,     /* with keys: a frame without a MAC */
  PBXSTATE_DROP_AUTH_NOT_CONFIGURED = 16, /* without keys: a frame with a MAC */
  PBXSTATE_DROP_SESSION_CLOSED = 17       /* a late sync page, refusal or ack of a closed session */
} pbxstate_drop_reason;
#define PBXSTATE_DROP_REASON_COUNT 18
/* "truncated", ...; NULL for an unknown value. Static. */
const char* pbxstate_drop_reason_name(int reason);

/* EngineStats (stats.h) in C: counters since creation, never reset. */
typedef struct pbxstate_stats {
  uint64_t frames_out, bytes_out;
  uint64_t frames_in, bytes_in;
  uint64_t broadcasts_out, unicasts_out;
  uint64_t dropped[PBXSTATE_DROP_REASON_COUNT]; /* indexed by pbxstate_drop_reason */
  uint64_t total_dropped;

  uint64_t local_changes;
  uint64_t update_frames_sent; /* UPDATES frames built for local changes */
  uint64_t changes_held;       /* local changes held back while the transport was busy */
  uint64_t records_applied;
  uint64_t records_stale;
  uint64_t mailbox_tombstones_evicted; /* held for an away node, dropped at max_entries */

  uint64_t send_try_again;
  uint64_t send_queue_overflow;
  uint64_t send_failed;
  uint64_t frames_relayed; /* frames of others passed on as a site's relay */

  uint64_t digests_sent, digests_received;
  uint64_t sync_sessions_started;
  uint64_t sync_sessions_completed;
  uint64_t sync_sessions_abandoned;
  uint64_t sync_serves_refused;
  uint64_t sync_pages_sent, sync_pages_received;
  uint64_t sync_pages_resent;

  uint64_t heartbeats_sent;
  uint64_t membership_changes;
  uint64_t departures;

  uint64_t device_entries, mailbox_entries, registration_entries; /* held now */
  uint64_t held_bytes; /* bytes the engine holds on the heap now (stats.h) */
} pbxstate_stats;

/* Copies the engine's counters into *out. */
int pbxstate_engine_stats(const pbxstate_engine* engine, pbxstate_stats* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PBXSTATE_C_API_H */
