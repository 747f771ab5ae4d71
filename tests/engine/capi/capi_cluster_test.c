/*
 * The C API as a C host uses it: two engines wired together through C callbacks, a virtual clock
 * and a tiny frame queue, all in C. Built as C99 and as C11 with -Wall -Wextra -Werror -pedantic,
 * which is also the check that c_api.h is valid C.
 *
 * Exit status 0 when every check passed; each failed check prints its line.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pbxstate/c_api.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    ++g_checks;                                                            \
    if (!(cond)) {                                                         \
      ++g_failures;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                      \
  } while (0)

/* A call that must return PBXSTATE_OK; prints the engine's reason when it does not. */
#define CHECK_OK(engine, call)                                                                   \
  do {                                                                                           \
    int rc_ = (call);                                                                            \
    ++g_checks;                                                                                  \
    if (rc_ != PBXSTATE_OK) {                                                                    \
      ++g_failures;                                                                              \
      fprintf(stderr, "%s:%d: %s returned %d (%s): %s\n", __FILE__, __LINE__, #call, rc_,        \
              pbxstate_strerror(rc_), pbxstate_engine_last_error(engine));                       \
    }                                                                                            \
  } while (0)

#define STRLEN_ARGS(s) (s), strlen(s)

/* ---- a two-node world: virtual clock, frame queue, per-node wakeups ---- */

#define NODES 2
#define QUEUE_CAP 256
#define FRAME_CAP 1500 /* >= max_frame_bytes (1400 by default) */
#define MAX_RECORDED 64
#define WALL_EPOCH_NS INT64_C(1700000000000000000) /* wall clock = this + virtual monotonic time */

typedef struct frame {
  pbxstate_node_id from, to;
  size_t len;
  uint8_t bytes[FRAME_CAP];
} frame;

typedef struct recorded_change {
  pbxstate_view_change change; /* pointers inside are cleared: they die with the callback */
  char key[64];
  int has_new_mailbox;
  pbxstate_mailbox_value new_mailbox;
  int has_old_registration, has_new_registration;
  char new_contact[96];
  pbxstate_registration new_registration;
} recorded_change;

struct world;

typedef struct node {
  struct world* world;
  pbxstate_node_id id;
  pbxstate_engine* engine;
  int has_wakeup;
  int64_t wakeup_ns;
  uint64_t rng;
  /* what the listener saw */
  recorded_change changes[MAX_RECORDED];
  size_t change_count;
  pbxstate_node_id members[NODES];
  size_t member_count;
  int members_calls;
  /* the listener also probes the re-entrancy rules once */
  int probe_reentrancy;
  int reentrant_mutation_rc, reentrant_query_rc, reentrant_query_state;
} node;

typedef struct world {
  int64_t now_ns;
  node nodes[NODES];
  int link_up; /* 0: the network between the two nodes is cut */
  frame queue[QUEUE_CAP];
  size_t head, count;
  size_t frames_dropped_full;
} world;

static world g_world;

static node* find_node(world* w, pbxstate_node_id id) {
  size_t i;
  for (i = 0; i < NODES; ++i) {
    if (w->nodes[i].id == id) return &w->nodes[i];
  }
  return NULL;
}

static int enqueue(world* w, pbxstate_node_id from, pbxstate_node_id to, const uint8_t* bytes, size_t len) {
  frame* f;
  if (len > FRAME_CAP) return PBXSTATE_SEND_TOO_LARGE;
  if (w->count == QUEUE_CAP) {
    ++w->frames_dropped_full;
    return PBXSTATE_SEND_TRY_AGAIN; /* what CPG says when it is congested */
  }
  f = &w->queue[(w->head + w->count) % QUEUE_CAP];
  f->from = from;
  f->to = to;
  f->len = len;
  memcpy(f->bytes, bytes, len);
  ++w->count;
  return PBXSTATE_SEND_OK;
}

static int64_t env_now(void* user) { return ((node*)user)->world->now_ns; }
static int64_t env_wall(void* user) { return WALL_EPOCH_NS + ((node*)user)->world->now_ns; }
static void env_wakeup(void* user, int64_t at_ns) {
  node* n = (node*)user;
  n->has_wakeup = 1;
  n->wakeup_ns = at_ns;
}
static int env_broadcast(void* user, const uint8_t* bytes, size_t len) {
  node* n = (node*)user;
  size_t i;
  int rc = PBXSTATE_SEND_OK;
  if (!n->world->link_up) return PBXSTATE_SEND_OK; /* sent into a cut network: lost */
  for (i = 0; i < NODES && rc == PBXSTATE_SEND_OK; ++i) {
    if (n->world->nodes[i].id != n->id) rc = enqueue(n->world, n->id, n->world->nodes[i].id, bytes, len);
  }
  return rc;
}
static int env_unicast(void* user, pbxstate_node_id to, const uint8_t* bytes, size_t len) {
  node* n = (node*)user;
  if (find_node(n->world, to) == NULL || to == n->id) return PBXSTATE_SEND_UNREACHABLE;
  if (!n->world->link_up) return PBXSTATE_SEND_OK;
  return enqueue(n->world, n->id, to, bytes, len);
}
static uint64_t env_random(void* user) {
  /* xorshift64: deterministic per node */
  node* n = (node*)user;
  n->rng ^= n->rng << 13;
  n->rng ^= n->rng >> 7;
  n->rng ^= n->rng << 17;
  return n->rng;
}
static void env_log(void* user, int level, const char* message, size_t len) {
  /* The message must be NUL-terminated at len, as c_api.h promises. */
  CHECK(message[len] == '\0');
  if (level >= PBXSTATE_LOG_WARNING) fprintf(stderr, "[node %u] %s\n", (unsigned)((node*)user)->id, message);
}

static void on_view_change(void* user, const pbxstate_view_change* c) {
  node* n = (node*)user;
  recorded_change* r;
  CHECK(c->key != NULL && c->key[c->key_len] == '\0');
  if (n->probe_reentrancy) {
    int state = -2;
    n->probe_reentrancy = 0;
    n->reentrant_mutation_rc = pbxstate_engine_set_device_state(n->engine, STRLEN_ARGS("X"), PBXSTATE_DEVICE_BUSY);
    n->reentrant_query_rc = pbxstate_engine_device_state(n->engine, c->key, c->key_len, &state);
    n->reentrant_query_state = state;
  }
  if (n->change_count == MAX_RECORDED) return;
  r = &n->changes[n->change_count++];
  memset(r, 0, sizeof *r);
  r->change = *c;
  r->change.key = NULL;
  r->change.old_mailbox = r->change.new_mailbox = NULL;
  r->change.old_registration = r->change.new_registration = NULL;
  if (c->key_len < sizeof r->key) memcpy(r->key, c->key, c->key_len + 1);
  if (c->new_mailbox != NULL) {
    r->has_new_mailbox = 1;
    r->new_mailbox = *c->new_mailbox;
  }
  r->has_old_registration = c->old_registration != NULL;
  if (c->new_registration != NULL) {
    r->has_new_registration = 1;
    r->new_registration = *c->new_registration;
    CHECK(c->new_registration->contact[c->new_registration->contact_len] == '\0');
    if (c->new_registration->contact_len < sizeof r->new_contact) {
      memcpy(r->new_contact, c->new_registration->contact, c->new_registration->contact_len + 1);
    }
    r->new_registration.contact = r->new_contact;
  }
}

static void on_members_changed(void* user, const pbxstate_node_id* members, size_t count) {
  node* n = (node*)user;
  size_t i;
  ++n->members_calls;
  n->member_count = count;
  for (i = 0; i < count && i < NODES; ++i) n->members[i] = members[i];
}

/* Delivers frames and fires wakeups in time order until `until_ns`. */
static void run_until(world* w, int64_t until_ns) {
  long steps = 0;
  for (;;) {
    size_t i;
    node* due = NULL;
    if (++steps > 1000000) {
      CHECK(!"run_until: no quiescence (livelock?)");
      return;
    }
    if (w->count > 0) {
      frame* f = &w->queue[w->head];
      node* to = find_node(w, f->to);
      static frame copy; /* the queue slot is reused while the engine may enqueue */
      copy = *f;
      w->head = (w->head + 1) % QUEUE_CAP;
      --w->count;
      CHECK_OK(to->engine, pbxstate_engine_on_frame(to->engine, copy.from, copy.bytes, copy.len));
      continue;
    }
    for (i = 0; i < NODES; ++i) {
      node* n = &w->nodes[i];
      if (n->has_wakeup && n->wakeup_ns <= until_ns && (due == NULL || n->wakeup_ns < due->wakeup_ns)) due = n;
    }
    if (due == NULL) break;
    if (due->wakeup_ns > w->now_ns) w->now_ns = due->wakeup_ns;
    due->has_wakeup = 0;
    CHECK_OK(due->engine, pbxstate_engine_on_timer(due->engine));
  }
  if (until_ns > w->now_ns) w->now_ns = until_ns;
}

static void run_for_ms(world* w, int64_t ms) { run_until(w, w->now_ns + ms * 1000000); }

static const recorded_change* last_change(const node* n, int kind, const char* key) {
  size_t i = n->change_count;
  while (i-- > 0) {
    if (n->changes[i].change.kind == kind && strcmp(n->changes[i].key, key) == 0) return &n->changes[i];
  }
  return NULL;
}

static void set_view(world* w, node* n, uint64_t view_id, const pbxstate_node_id* members, size_t count) {
  (void)w;
  CHECK_OK(n->engine, pbxstate_engine_on_membership(n->engine, view_id, members, count));
}

typedef struct reg_seen {
  size_t calls;
  pbxstate_node_id node;
  char contact[96];
  char path[96];
  char user_agent[48];
  int64_t expires_ns;
  uint32_t rtt_us;
  int status;
} reg_seen;

static void collect_registration(void* user, const char* aor, size_t aor_len, const pbxstate_registration_view* r) {
  reg_seen* s = (reg_seen*)user;
  CHECK(aor[aor_len] == '\0');
  ++s->calls;
  s->node = r->node;
  s->expires_ns = r->info.expires_ns;
  s->rtt_us = r->info.rtt_us;
  s->status = r->info.status;
  if (r->info.contact_len < sizeof s->contact) memcpy(s->contact, r->info.contact, r->info.contact_len + 1);
  CHECK(r->info.path != NULL && r->info.path[r->info.path_len] == '\0');
  CHECK(r->info.user_agent != NULL && r->info.user_agent[r->info.user_agent_len] == '\0');
  if (r->info.path_len < sizeof s->path) memcpy(s->path, r->info.path, r->info.path_len + 1);
  if (r->info.user_agent_len < sizeof s->user_agent) {
    memcpy(s->user_agent, r->info.user_agent, r->info.user_agent_len + 1);
  }
}

typedef struct device_seen {
  size_t devices;
  int mystate_aggregate;
  size_t mystate_contributions;
} device_seen;

static void collect_device(void* user, const char* device, size_t device_len, int aggregate,
                           const pbxstate_contribution* contributions, size_t count) {
  device_seen* s = (device_seen*)user;
  (void)contributions;
  ++s->devices;
  if (device_len == strlen("Custom:mystate") && memcmp(device, "Custom:mystate", device_len) == 0) {
    s->mystate_aggregate = aggregate;
    s->mystate_contributions = count;
  }
}

int main(void) {
  world* w = &g_world;
  pbxstate_config cfg;
  pbxstate_env env;
  pbxstate_listener listener;
  char err[256];
  size_t i;
  int state = -2;
  size_t count = 0;
  const pbxstate_node_id both[2] = {2, 1}; /* any order: the API sorts */
  const pbxstate_node_id only1[1] = {1};
  const pbxstate_node_id only2[1] = {2};
  node* a = &w->nodes[0];
  node* b = &w->nodes[1];
  pbxstate_engine* bad = NULL;

  memset(w, 0, sizeof *w);
  w->link_up = 1;
  w->now_ns = INT64_C(1000000000);

  /* A configuration that does not validate is refused with a reason naming the field. */
  pbxstate_config_init(&cfg);
  memset(&env, 0, sizeof env);
  env.user = a;
  env.now_ns = env_now;
  env.wall_now_ns = env_wall;
  env.schedule_wakeup = env_wakeup;
  env.broadcast = env_broadcast;
  env.unicast = env_unicast;
  env.random = env_random;
  env.log = env_log;
  CHECK(pbxstate_engine_create(&cfg, &env, &bad, err, sizeof err) == PBXSTATE_E_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  CHECK(strstr(err, "node_id") != NULL);

  for (i = 0; i < NODES; ++i) {
    node* n = &w->nodes[i];
    char label[16];
    n->world = w;
    n->id = (pbxstate_node_id)(i + 1);
    n->rng = 0x9E3779B97F4A7C15u * (i + 1);
    pbxstate_config_init(&cfg);
    cfg.node_id = n->id;
    cfg.incarnation = 1000 + i;
    snprintf(label, sizeof label, "node-%c", (char)('a' + i));
    cfg.label = label; /* copied at create: the buffer may go */
    cfg.membership = PBXSTATE_MEMBERSHIP_TRANSPORT;
    cfg.batch_window_ms = 0;
    cfg.departure_grace_ms = 0;
    env.user = n;
    err[0] = 'x';
    CHECK(pbxstate_engine_create(&cfg, &env, &n->engine, err, sizeof err) == PBXSTATE_OK);
    CHECK(err[0] == '\0');
    if (n->engine == NULL) {
      fprintf(stderr, "create failed: %s\n", err);
      return 1;
    }
    memset(&listener, 0, sizeof listener);
    listener.user = n;
    listener.view_change = on_view_change;
    listener.members_changed = on_members_changed;
    CHECK_OK(n->engine, pbxstate_engine_set_listener(n->engine, &listener));
  }
  CHECK(pbxstate_engine_node_id(a->engine) == 1);
  CHECK(pbxstate_engine_incarnation(b->engine) == 1001);

  /* Start, then the transport's first view with both nodes. */
  for (i = 0; i < NODES; ++i) CHECK_OK(w->nodes[i].engine, pbxstate_engine_start(w->nodes[i].engine));
  CHECK(pbxstate_engine_start(a->engine) == PBXSTATE_E_FAILED_PRECONDITION);
  set_view(w, a, 1, both, 2);
  set_view(w, b, 1, both, 2);
  run_for_ms(w, 100);
  {
    pbxstate_node_id m[4];
    CHECK_OK(a->engine, pbxstate_engine_members(a->engine, m, 4, &count));
    CHECK(count == 2 && m[0] == 1 && m[1] == 2);
    CHECK(a->member_count == 2 && a->members[0] == 1 && a->members[1] == 2);
    /* Too small a buffer: the count still says how many there are. */
    CHECK(pbxstate_engine_members(a->engine, m, 1, &count) == PBXSTATE_E_BUFFER_TOO_SMALL);
    CHECK(count == 2 && m[0] == 1);
  }
  /* A membership view without this node is refused. */
  CHECK(pbxstate_engine_on_membership(a->engine, 2, only2, 1) == PBXSTATE_E_INVALID_ARGUMENT);
  CHECK(strlen(pbxstate_engine_last_error(a->engine)) > 0);

  /* ---- device state: Custom:mystate INUSE on A is seen on B ---- */
  b->probe_reentrancy = 1;
  CHECK_OK(a->engine, pbxstate_engine_set_device_state(a->engine, STRLEN_ARGS("Custom:mystate"), PBXSTATE_DEVICE_INUSE));
  run_for_ms(w, 10);
  {
    const recorded_change* r = last_change(b, PBXSTATE_KIND_DEVICE, "Custom:mystate");
    CHECK(r != NULL);
    if (r != NULL) {
      CHECK(r->change.cause == PBXSTATE_CAUSE_REMOTE);
      CHECK(r->change.origin == 1);
      CHECK(r->change.incarnation == 1000);
      CHECK(r->change.sequence > 0);
      CHECK(r->change.key_len == strlen("Custom:mystate"));
      CHECK(r->change.old_contribution == PBXSTATE_DEVICE_NONE);
      CHECK(r->change.new_contribution == PBXSTATE_DEVICE_INUSE);
      CHECK(r->change.old_aggregate == PBXSTATE_DEVICE_NONE);
      CHECK(r->change.new_aggregate == PBXSTATE_DEVICE_INUSE);
    }
    /* The listener may query but not mutate. */
    CHECK(b->reentrant_mutation_rc == PBXSTATE_E_REENTRANT);
    CHECK(b->reentrant_query_rc == PBXSTATE_OK);
    CHECK(b->reentrant_query_state == PBXSTATE_DEVICE_INUSE);
    /* A's own listener saw the local change too. */
    r = last_change(a, PBXSTATE_KIND_DEVICE, "Custom:mystate");
    CHECK(r != NULL && r->change.cause == PBXSTATE_CAUSE_LOCAL && r->change.new_aggregate == PBXSTATE_DEVICE_INUSE);
  }
  CHECK_OK(b->engine, pbxstate_engine_device_state(b->engine, STRLEN_ARGS("Custom:mystate"), &state));
  CHECK(state == PBXSTATE_DEVICE_INUSE);
  CHECK(strcmp(pbxstate_device_state_name(state), "INUSE") == 0);
  CHECK(pbxstate_engine_device_state(b->engine, STRLEN_ARGS("Custom:nobody"), &state) == PBXSTATE_E_NOT_FOUND);
  CHECK(state == PBXSTATE_DEVICE_NONE);

  /* RINGING on B together with INUSE on A aggregates to RINGINUSE, as in Asterisk. */
  CHECK_OK(b->engine, pbxstate_engine_set_device_state(b->engine, STRLEN_ARGS("Custom:mystate"), PBXSTATE_DEVICE_RINGING));
  run_for_ms(w, 10);
  CHECK_OK(a->engine, pbxstate_engine_device_state(a->engine, STRLEN_ARGS("Custom:mystate"), &state));
  CHECK(state == PBXSTATE_DEVICE_RINGINUSE);
  {
    pbxstate_contribution cs[4];
    CHECK_OK(a->engine, pbxstate_engine_device_contributions(a->engine, STRLEN_ARGS("Custom:mystate"), cs, 4, &count));
    CHECK(count == 2);
    CHECK(cs[0].node == 1 && cs[0].state == PBXSTATE_DEVICE_INUSE && cs[0].incarnation == 1000);
    CHECK(cs[1].node == 2 && cs[1].state == PBXSTATE_DEVICE_RINGING && cs[1].incarnation == 1001);
    CHECK(pbxstate_engine_device_contributions(a->engine, STRLEN_ARGS("Custom:mystate"), NULL, 0, &count) ==
          PBXSTATE_E_BUFFER_TOO_SMALL);
    CHECK(count == 2);
  }

  /* ---- MWI ---- */
  {
    pbxstate_mailbox_counts mc;
    pbxstate_mailbox_value v;
    const recorded_change* r;
    mc.new_messages = 3;
    mc.old_messages = 7;
    mc.urgent_messages = 1;
    CHECK_OK(a->engine, pbxstate_engine_set_mailbox(a->engine, STRLEN_ARGS("100@default"), &mc));
    run_for_ms(w, 10);
    CHECK_OK(b->engine, pbxstate_engine_mailbox(b->engine, STRLEN_ARGS("100@default"), &v));
    CHECK(v.counts.new_messages == 3 && v.counts.old_messages == 7 && v.counts.urgent_messages == 1);
    CHECK(v.writer == 1);
    CHECK(v.hlc_physical_ns >= WALL_EPOCH_NS);
    r = last_change(b, PBXSTATE_KIND_MAILBOX, "100@default");
    CHECK(r != NULL && r->change.cause == PBXSTATE_CAUSE_REMOTE && r->change.origin == 1 && r->has_new_mailbox &&
          r->new_mailbox.counts.new_messages == 3 && r->change.new_aggregate == PBXSTATE_DEVICE_NONE);
    /* A later write from B wins everywhere. */
    run_for_ms(w, 1);
    mc.new_messages = 0;
    CHECK_OK(b->engine, pbxstate_engine_set_mailbox(b->engine, STRLEN_ARGS("100@default"), &mc));
    run_for_ms(w, 10);
    CHECK_OK(a->engine, pbxstate_engine_mailbox(a->engine, STRLEN_ARGS("100@default"), &v));
    CHECK(v.counts.new_messages == 0 && v.writer == 2);
    CHECK(pbxstate_engine_mailbox(a->engine, STRLEN_ARGS("200@default"), &v) == PBXSTATE_E_NOT_FOUND);
  }

  /* ---- registrations, including expiry on the virtual wall clock ---- */
  {
    pbxstate_registration reg;
    reg_seen seen;
    const recorded_change* r;
    const char* contact = "sip:alice@198.18.0.7:5060";
    const char* path = "<sip:edge1.example;lr>,<sip:core.example;lr>";
    const char* user_agent = "Softphone/2.1";
    const int64_t expires = WALL_EPOCH_NS + w->now_ns + INT64_C(5000000000);
    memset(&reg, 0, sizeof reg);
    reg.contact = contact;
    reg.contact_len = strlen(contact);
    reg.expires_ns = expires;
    reg.status = PBXSTATE_CONTACT_REACHABLE;
    reg.rtt_us = 1200;
    reg.path = path;
    reg.path_len = strlen(path);
    reg.user_agent = user_agent;
    reg.user_agent_len = strlen(user_agent);
    CHECK_OK(b->engine, pbxstate_engine_set_registration(b->engine, STRLEN_ARGS("alice"), &reg));
    run_for_ms(w, 10);
    memset(&seen, 0, sizeof seen);
    CHECK_OK(a->engine, pbxstate_engine_registrations(a->engine, STRLEN_ARGS("alice"), collect_registration, &seen, &count));
    CHECK(count == 1 && seen.calls == 1);
    CHECK(seen.node == 2 && strcmp(seen.contact, contact) == 0 && seen.expires_ns == expires && seen.rtt_us == 1200 &&
          seen.status == PBXSTATE_CONTACT_REACHABLE && strcmp(seen.path, path) == 0 &&
          strcmp(seen.user_agent, user_agent) == 0);
    r = last_change(a, PBXSTATE_KIND_REGISTRATION, "alice");
    CHECK(r != NULL && r->change.cause == PBXSTATE_CAUSE_REMOTE && r->change.origin == 2 && r->has_new_registration &&
          !r->has_old_registration && strcmp(r->new_contact, contact) == 0);

    /* Refresh as unreachable, then let it expire: gone on both nodes with cause "expiry". */
    reg.status = PBXSTATE_CONTACT_UNREACHABLE;
    CHECK_OK(b->engine, pbxstate_engine_set_registration(b->engine, STRLEN_ARGS("alice"), &reg));
    run_for_ms(w, 10);
    memset(&seen, 0, sizeof seen);
    CHECK_OK(a->engine, pbxstate_engine_registrations(a->engine, STRLEN_ARGS("alice"), collect_registration, &seen, &count));
    CHECK(count == 1 && seen.status == PBXSTATE_CONTACT_UNREACHABLE);
    run_for_ms(w, 6000);
    CHECK_OK(a->engine, pbxstate_engine_registrations(a->engine, STRLEN_ARGS("alice"), NULL, NULL, &count));
    CHECK(count == 0);
    r = last_change(a, PBXSTATE_KIND_REGISTRATION, "alice");
    CHECK(r != NULL && r->change.cause == PBXSTATE_CAUSE_EXPIRY && !r->has_new_registration && r->has_old_registration);

    /* Register again and remove: the removal reaches A. */
    reg.expires_ns = WALL_EPOCH_NS + w->now_ns + INT64_C(60000000000);
    CHECK_OK(b->engine, pbxstate_engine_set_registration(b->engine, STRLEN_ARGS("bob"), &reg));
    run_for_ms(w, 10);
    CHECK_OK(a->engine, pbxstate_engine_registrations(a->engine, STRLEN_ARGS("bob"), NULL, NULL, &count));
    CHECK(count == 1);
    CHECK_OK(b->engine, pbxstate_engine_remove_registration(b->engine, STRLEN_ARGS("bob")));
    run_for_ms(w, 10);
    CHECK_OK(a->engine, pbxstate_engine_registrations(a->engine, STRLEN_ARGS("bob"), NULL, NULL, &count));
    CHECK(count == 0);
    r = last_change(a, PBXSTATE_KIND_REGISTRATION, "bob");
    CHECK(r != NULL && r->change.cause == PBXSTATE_CAUSE_REMOTE && !r->has_new_registration);
    /* Refused input: an expiry in the past. */
    reg.expires_ns = WALL_EPOCH_NS;
    CHECK(pbxstate_engine_set_registration(b->engine, STRLEN_ARGS("carol"), &reg) == PBXSTATE_E_INVALID_ARGUMENT);
    CHECK(strlen(pbxstate_engine_last_error(b->engine)) > 0);
  }

  /* ---- labels ---- */
  {
    char buf[32];
    size_t len = 0;
    CHECK_OK(a->engine, pbxstate_engine_node_label(a->engine, 1, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "node-a") == 0 && len == 6);
    CHECK(pbxstate_engine_node_label(a->engine, 1, buf, 4, &len) == PBXSTATE_E_BUFFER_TOO_SMALL);
    CHECK(strcmp(buf, "nod") == 0 && len == 6);
    /* The peer's label, carried over the wire. */
    CHECK_OK(a->engine, pbxstate_engine_node_label(a->engine, 2, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "node-b") == 0 && len == 6);
  }

  /* ---- membership change: a partition; B's contribution stops counting on A at once ---- */
  {
    const recorded_change* r;
    int calls_before = a->members_calls;
    w->link_up = 0;
    set_view(w, a, 2, only1, 1);
    set_view(w, b, 2, only2, 1);
    run_for_ms(w, 100);
    CHECK(a->members_calls > calls_before);
    CHECK(a->member_count == 1 && a->members[0] == 1);
    CHECK_OK(a->engine, pbxstate_engine_device_state(a->engine, STRLEN_ARGS("Custom:mystate"), &state));
    CHECK(state == PBXSTATE_DEVICE_INUSE);
    r = last_change(a, PBXSTATE_KIND_DEVICE, "Custom:mystate");
    CHECK(r != NULL && r->change.cause == PBXSTATE_CAUSE_DEPARTURE && r->change.origin == 2 &&
          r->change.old_contribution == PBXSTATE_DEVICE_RINGING && r->change.new_contribution == PBXSTATE_DEVICE_NONE &&
          r->change.old_aggregate == PBXSTATE_DEVICE_RINGINUSE && r->change.new_aggregate == PBXSTATE_DEVICE_INUSE);
    CHECK_OK(b->engine, pbxstate_engine_device_state(b->engine, STRLEN_ARGS("Custom:mystate"), &state));
    CHECK(state == PBXSTATE_DEVICE_RINGING);

    /* Heal: B comes back and re-announces; both agree again. */
    w->link_up = 1;
    set_view(w, a, 3, both, 2);
    set_view(w, b, 3, both, 2);
    run_for_ms(w, 3000);
    CHECK_OK(a->engine, pbxstate_engine_device_state(a->engine, STRLEN_ARGS("Custom:mystate"), &state));
    CHECK(state == PBXSTATE_DEVICE_RINGINUSE);
    CHECK(a->member_count == 2);
  }

  /* ---- whole-view visitors and digests ---- */
  {
    device_seen ds;
    pbxstate_digest da, db;
    memset(&ds, 0, sizeof ds);
    CHECK_OK(a->engine, pbxstate_engine_for_each_device(a->engine, collect_device, &ds));
    CHECK(ds.devices == 1 && ds.mystate_aggregate == PBXSTATE_DEVICE_RINGINUSE && ds.mystate_contributions == 2);
    CHECK_OK(a->engine, pbxstate_engine_digest(a->engine, &da));
    CHECK_OK(b->engine, pbxstate_engine_digest(b->engine, &db));
    CHECK(da.hash == db.hash && da.devices == 2 && db.devices == 2 && da.mailboxes == 1);
  }

  /* ---- stats, and a garbage frame that is counted, not fatal ---- */
  {
    pbxstate_stats sa, sb;
    uint64_t sum = 0;
    /* Longer than a frame header, so that it is the magic that is wrong, not the length. */
    uint8_t garbage[48];
    memset(garbage, 0, sizeof garbage);
    memcpy(garbage, "NOPE", 4);
    CHECK_OK(a->engine, pbxstate_engine_stats(a->engine, &sa));
    CHECK_OK(b->engine, pbxstate_engine_stats(b->engine, &sb));
    CHECK(sa.local_changes == 2); /* INUSE, one MWI write */
    CHECK(sb.local_changes == 6); /* RINGING, MWI, alice x2, bob set + remove */
    CHECK(sa.frames_out > 0 && sa.bytes_out > sa.frames_out && sa.broadcasts_out > 0);
    CHECK(sb.frames_in > 0 && sb.records_applied >= 2);
    CHECK(sa.device_entries == 2 && sa.mailbox_entries == 1);
    CHECK(sa.membership_changes >= 3);
    for (i = 0; i < PBXSTATE_DROP_REASON_COUNT; ++i) sum += sa.dropped[i];
    CHECK(sum == sa.total_dropped);
    CHECK_OK(a->engine, pbxstate_engine_on_frame(a->engine, 2, garbage, sizeof garbage));
    CHECK_OK(a->engine, pbxstate_engine_stats(a->engine, &sb));
    CHECK(sb.total_dropped == sa.total_dropped + 1);
    CHECK(sb.dropped[PBXSTATE_DROP_BAD_MAGIC] == sa.dropped[PBXSTATE_DROP_BAD_MAGIC] + 1);
    CHECK(strcmp(pbxstate_drop_reason_name(PBXSTATE_DROP_BAD_MAGIC), "bad_magic") == 0);
  }
  CHECK(w->frames_dropped_full == 0);

  for (i = 0; i < NODES; ++i) pbxstate_engine_destroy(w->nodes[i].engine);
  pbxstate_engine_destroy(NULL);

  printf("capi_cluster_test: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
