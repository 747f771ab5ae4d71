/*
 * The cluster node inside Asterisk (pbxstate_node.h): the thread, the bounded queue from
 * Asterisk's threads, and the way back from the engine into Asterisk's stasis caches.
 */
#include "asterisk.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "asterisk/astobj2.h"
#include "asterisk/devicestate.h"
#include "asterisk/lock.h"
#include "asterisk/logger.h"
#include "asterisk/mwi.h"
#include "asterisk/stasis.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#include "pbxstate_node.h"
#include "pbxstate_settings.h"

#define CONNECT_RETRY_NS 1000000000LL   /* corosync not there: try again every second */
#define RECONCILE_RETRY_NS 1000000000LL /* origins without a known EID: look again every second */
#define POLL_MAX_MS 1000                /* the thread looks at `stop` at least this often */
#define FLUSH_ON_STOP_MS 2000
/* The safety net under the stasis subscription: a change published while the module was
 * subscribing can miss both the subscription and the first resync; this re-read repairs it. */
#define LOCAL_RESYNC_INTERVAL_NS 10000000000LL
#define MAX_EIDS 1024                   /* servers remembered (the engine's default max_nodes) */
#define MAX_DRAIN_PER_ROUND 4096        /* queue entries per round, so CPG is dispatched between */
/* libcpg's cpg_dispatch() keeps a 1 MiB receive buffer on the caller's stack (corosync's
 * IPC_DISPATCH_SIZE); Asterisk's default thread stack (about 500 KiB) overflows on the first large
 * delivery. */
#define NODE_THREAD_STACK (4u << 20)

enum { RESYNC_DEVICES = 1, RESYNC_ALL = 2 };

enum pending_kind { PENDING_DEVICE, PENDING_MAILBOX, PENDING_CONTACT };

struct pending_change {
	enum pending_kind kind;
	int state;                      /* device state; for a contact: 1 reachable, 0 not, -1 removed */
	pbxstate_mailbox_counts counts;
	char key[PBXSTATE_MAX_KEY_BYTES + 1];          /* device, mailbox@context or AOR */
	char contact[PBXSTATE_MAX_CONTACT_BYTES + 1];  /* PENDING_CONTACT only */
};

struct eid_entry {
	pbxstate_node_id node;
	struct ast_eid eid;
	char route[PBXSTATE_MAX_ROUTE + 1];  /* the second word of its label; "" when none */
};

/* This server's PJSIP contacts of one AOR, as the contact-state events told them (node thread
 * only). The engine holds one registration per AOR and server: the first reachable contact. */
#define MAX_CONTACTS_PER_AOR 8
#define MAX_LOCAL_AORS 65536
struct local_aor {
	size_t count;
	struct {
		char uri[PBXSTATE_MAX_CONTACT_BYTES + 1];
		int reachable;
	} contacts[MAX_CONTACTS_PER_AOR];
	char aor[];  /* the key */
};

/* Serialises the engine, the host and the node fields up to the queue's. Never taken while
 * queue_lock is held. */
AST_MUTEX_DEFINE_STATIC(node_lock);
/* The queue from Asterisk's threads, its counters and the wake descriptor. */
AST_MUTEX_DEFINE_STATIC(queue_lock);
/* The settings: read by stasis callbacks (filters) and the thread; written by reconfigure. */
AST_RWLOCK_DEFINE_STATIC(settings_lock);

static struct {
	pthread_t thread;
	int started;
	volatile int stop;
	int wake_fd;
	pbxstate_cpg_host *host;
	pbxstate_engine *engine;
	pbxstate_node_id self;
	char state[64];
	int authenticated;
	struct pbxstate_node_counters counters;
	int reconcile_needed;
	int64_t reconcile_due_ns;
	int64_t connect_due_ns;
	int64_t local_resync_due_ns;
	struct eid_entry eids[MAX_EIDS];
	size_t eid_count;
	struct ao2_container *aors;  /* struct local_aor, by name; node thread only */
	int64_t registration_refresh_due_ns;
	uint8_t key[PBXSTATE_CLUSTER_KEY_BYTES];
	uint8_t previous_key[PBXSTATE_CLUSTER_KEY_BYTES];
	int has_key, has_previous_key;

	/* Under queue_lock. */
	struct pending_change *ring;
	size_t ring_bytes;
	size_t capacity, head, count;
	int resync_needed;  /* 0 none, RESYNC_DEVICES, or RESYNC_ALL (MWI too) */

	/* Under settings_lock. */
	struct pbxstate_settings settings;
} node = { .wake_fd = -1 };

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void wake_thread(void)
{
	uint64_t one = 1;
	if (node.wake_fd >= 0 && write(node.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		ast_log(LOG_WARNING, "pbxstate: cannot wake the node thread: %s\n", strerror(errno));
	}
}

static void host_log(void *user, int level, const char *message, size_t len)
{
	(void) user;
	switch (level) {
	case PBXSTATE_LOG_DEBUG: ast_debug(1, "pbxstate: %.*s\n", (int) len, message); break;
	case PBXSTATE_LOG_INFO: ast_verb(3, "pbxstate: %.*s\n", (int) len, message); break;
	case PBXSTATE_LOG_WARNING: ast_log(LOG_WARNING, "pbxstate: %.*s\n", (int) len, message); break;
	default: ast_log(LOG_ERROR, "pbxstate: %.*s\n", (int) len, message); break;
	}
}

/* ---- EIDs of the other servers: their engine label is their Asterisk EID ---------------- */

static const struct ast_eid *eid_of(pbxstate_node_id id)
{
	char label[65];
	size_t i;
	struct ast_eid eid;

	for (i = 0; i < node.eid_count; i++) {
		if (node.eids[i].node == id) {
			return &node.eids[i].eid;
		}
	}
	char *route;

	if (!node.engine || pbxstate_engine_node_label(node.engine, id, label, sizeof(label), NULL) != PBXSTATE_OK
		|| ast_strlen_zero(label)) {
		return NULL;
	}
	/* The label is "<EID>" or "<EID> <route>" (try_join). */
	route = strchr(label, ' ');
	if (route) {
		*route++ = '\0';
	}
	if (strlen(label) != 17 || ast_str_to_eid(&eid, label)) {
		return NULL;
	}
	if (!ast_eid_cmp(&eid, &ast_eid_default)) {
		/* Another node claims our EID: publishing under it would overwrite our own entries. */
		ast_log(LOG_ERROR, "pbxstate: node %u announces this server's own EID %s; its state is ignored "
			"(give every server its own entityid in asterisk.conf)\n", id, label);
		return NULL;
	}
	if (node.eid_count == MAX_EIDS) {
		return NULL;
	}
	node.eids[node.eid_count].node = id;
	node.eids[node.eid_count].eid = eid;
	ast_copy_string(node.eids[node.eid_count].route, route ? route : "", sizeof(node.eids[node.eid_count].route));
	return &node.eids[node.eid_count++].eid;
}

/* Node `id`'s route ("" when it announced none or is not known yet); this server's own for self. */
static const char *route_of(pbxstate_node_id id)
{
	size_t i;
	if (id == node.self) {
		return node.settings.route;
	}
	if (!eid_of(id)) {
		return "";
	}
	for (i = 0; i < node.eid_count; i++) {
		if (node.eids[i].node == id) {
			return node.eids[i].route;
		}
	}
	return "";
}

static int is_our_remote_eid(const struct ast_eid *eid)
{
	size_t i;
	if (!eid) {
		return 0;
	}
	for (i = 0; i < node.eid_count; i++) {
		if (!ast_eid_cmp(&node.eids[i].eid, eid)) {
			return 1;
		}
	}
	return 0;
}

/* ---- Into Asterisk ------------------------------------------------------------------------ */

static void publish_device(const char *device, int state, const struct ast_eid *eid)
{
	if (ast_publish_device_state_full(device, (enum ast_device_state) state, AST_DEVSTATE_CACHABLE,
		(struct ast_eid *) eid)) {
		ast_log(LOG_WARNING, "pbxstate: Asterisk refused device state %s for %s\n", ast_devstate_str(state), device);
		return;
	}
	node.counters.published_devstate++;
}

static void clear_device(const char *device, const struct ast_eid *eid)
{
	struct stasis_message *cached;
	struct stasis_message *clear;

	cached = stasis_cache_get_by_eid(ast_device_state_cache(), ast_device_state_message_type(), device, eid);
	if (!cached) {
		return;
	}
	clear = stasis_cache_clear_create(cached);
	if (clear) {
		stasis_publish(ast_device_state_topic(device), clear);
		node.counters.cleared++;
	}
	ao2_cleanup(clear);
	ao2_cleanup(cached);
}

static void publish_mailbox(const char *uniqueid, const pbxstate_mailbox_value *value, const struct ast_eid *eid)
{
	char box[PBXSTATE_MAX_KEY_BYTES + 1];
	char *context;
	int new_msgs = value->counts.new_messages > INT32_MAX ? INT32_MAX : (int) value->counts.new_messages;
	int old_msgs = value->counts.old_messages > INT32_MAX ? INT32_MAX : (int) value->counts.old_messages;

	ast_copy_string(box, uniqueid, sizeof(box));
	context = strchr(box, '@');
	if (context) {
		*context++ = '\0';
	}
	if (ast_publish_mwi_state_full(box, context, new_msgs, old_msgs, NULL, (struct ast_eid *) eid)) {
		ast_log(LOG_WARNING, "pbxstate: Asterisk refused MWI for %s\n", uniqueid);
		return;
	}
	node.counters.published_mwi++;
}

/* Clears, from one of Asterisk's caches, the entries published under the EIDs of our peers that
 * `keep` does not want (every one when keep is NULL). */
static void prune_cache(struct stasis_cache *cache, struct stasis_message_type *type,
	int (*keep)(struct stasis_message *msg))
{
	struct ao2_container *messages = stasis_cache_dump_all(cache, type);
	struct ao2_iterator it;
	struct stasis_message *msg;

	if (!messages) {
		return;
	}
	it = ao2_iterator_init(messages, 0);
	while ((msg = ao2_iterator_next(&it))) {
		if (is_our_remote_eid(stasis_message_eid(msg)) && (!keep || !keep(msg))) {
			struct stasis_message *clear = stasis_cache_clear_create(msg);
			if (clear) {
				stasis_publish(type == ast_device_state_message_type() ? ast_device_state_topic_all() : ast_mwi_topic_all(),
					clear);
				node.counters.cleared++;
			}
			ao2_cleanup(clear);
		}
		ao2_ref(msg, -1);
	}
	ao2_iterator_destroy(&it);
	ao2_ref(messages, -1);
}

static int wants_remote_device(const char *device)
{
	int ok;
	ast_rwlock_rdlock(&settings_lock);
	ok = node.settings.subscribe_devstate && pbxstate_filter_match(&node.settings.device_filter, device);
	ast_rwlock_unlock(&settings_lock);
	return ok;
}

static int wants_remote_mailbox(const char *uniqueid)
{
	int ok;
	ast_rwlock_rdlock(&settings_lock);
	ok = node.settings.subscribe_mwi && pbxstate_filter_match(&node.settings.mailbox_filter, uniqueid);
	ast_rwlock_unlock(&settings_lock);
	return ok;
}

/* prune_cache's filters: what the switches and filters still let in from the other servers. */
static int keep_device(struct stasis_message *msg)
{
	return wants_remote_device(((const struct ast_device_state_message *) stasis_message_data(msg))->device);
}

static int keep_mailbox(struct stasis_message *msg)
{
	return wants_remote_mailbox(((const struct ast_mwi_state *) stasis_message_data(msg))->uniqueid);
}

/* ---- The engine's listener (runs on the node thread, inside engine calls) ----------------- */

static void on_view_change(void *user, const pbxstate_view_change *c)
{
	const struct ast_eid *eid;
	(void) user;

	if (c->cause == PBXSTATE_CAUSE_LOCAL) {
		return;
	}
	if (c->kind == PBXSTATE_KIND_DEVICE) {
		if (c->origin == node.self) {
			return;
		}
		if (!wants_remote_device(c->key)) {
			node.counters.filtered++;
			return;
		}
		if (!(eid = eid_of(c->origin))) {
			/* Published by the reconcile pass once the origin's label is known. */
			node.counters.unlabeled++;
			node.reconcile_needed = 1;
			return;
		}
		if (c->new_contribution >= 0) {
			publish_device(c->key, c->new_contribution, eid);
		} else {
			clear_device(c->key, eid);
		}
	} else if (c->kind == PBXSTATE_KIND_MAILBOX) {
		/* A mailbox is one cluster-wide value (the latest write wins); it outlives its writer. */
		if (!c->new_mailbox || c->new_mailbox->writer == node.self) {
			return;
		}
		if (!wants_remote_mailbox(c->key)) {
			node.counters.filtered++;
			return;
		}
		if (!(eid = eid_of(c->new_mailbox->writer))) {
			node.counters.unlabeled++;
			node.reconcile_needed = 1;
			return;
		}
		publish_mailbox(c->key, c->new_mailbox, eid);
	}
}

static void on_members_changed(void *user, const pbxstate_node_id *members, size_t count)
{
	(void) user;
	(void) members;
	ast_verb(3, "pbxstate: %zu server(s) in the cluster\n", count);
	/* A newcomer's label arrives with its first frames: EIDs unknown so far may be known now. */
	node.reconcile_needed = 1;
}

/* ---- Reconcile: publish every remote contribution whose origin's EID is now known -------- */

struct reconcile_pass {
	int missing;
};

static void reconcile_device(void *user, const char *device, size_t len, int aggregate,
	const pbxstate_contribution *contributions, size_t count)
{
	struct reconcile_pass *pass = user;
	size_t i;
	(void) len;
	(void) aggregate;
	if (!wants_remote_device(device)) {
		return;
	}
	for (i = 0; i < count; i++) {
		const struct ast_eid *eid;
		if (contributions[i].node == node.self) {
			continue;
		}
		if (!(eid = eid_of(contributions[i].node))) {
			pass->missing++;
			continue;
		}
		/* Asterisk drops a cachable state equal to the cached one, so this publishes only news. */
		publish_device(device, contributions[i].state, eid);
	}
}

static void reconcile_mailbox(void *user, const char *mailbox, size_t len, const pbxstate_mailbox_value *value)
{
	struct reconcile_pass *pass = user;
	const struct ast_eid *eid;
	struct stasis_message *cached;
	(void) len;
	if (value->writer == node.self || !wants_remote_mailbox(mailbox)) {
		return;
	}
	if (!(eid = eid_of(value->writer))) {
		pass->missing++;
		return;
	}
	cached = stasis_cache_get_by_eid(ast_mwi_state_cache(), ast_mwi_state_type(), mailbox, eid);
	if (cached) {
		const struct ast_mwi_state *m = stasis_message_data(cached);
		int same = m->new_msgs == (int) value->counts.new_messages && m->old_msgs == (int) value->counts.old_messages;
		ao2_ref(cached, -1);
		if (same) {
			return;
		}
	}
	publish_mailbox(mailbox, value, eid);
}

static void reconcile(void)
{
	struct reconcile_pass pass = { 0 };
	pbxstate_engine_for_each_device(node.engine, reconcile_device, &pass);
	pbxstate_engine_for_each_mailbox(node.engine, reconcile_mailbox, &pass);
	node.reconcile_needed = pass.missing > 0;
	node.reconcile_due_ns = mono_ns() + RECONCILE_RETRY_NS;
}

/* ---- Local changes into the engine --------------------------------------------------------- */

static void engine_error(const char *what, const char *key, int rc)
{
	node.counters.engine_errors++;
	ast_log(LOG_WARNING, "pbxstate: engine refused %s '%s': %s (%s)\n", what, key, pbxstate_strerror(rc),
		pbxstate_engine_last_error(node.engine));
}

static void apply_device(const char *device, int state)
{
	int rc = pbxstate_engine_set_device_state(node.engine, device, strlen(device), state);
	if (rc != PBXSTATE_OK) {
		engine_error("device state of", device, rc);
	}
}

static void apply_mailbox(const char *mailbox, const pbxstate_mailbox_counts *counts)
{
	int rc = pbxstate_engine_set_mailbox(node.engine, mailbox, strlen(mailbox), counts);
	if (rc != PBXSTATE_OK) {
		engine_error("MWI of", mailbox, rc);
	}
}

/* ---- This server's registrations ------------------------------------------------------------ */

static int aor_hash(const void *obj, int flags)
{
	const char *key = (flags & OBJ_SEARCH_MASK) == OBJ_SEARCH_KEY ? obj : ((const struct local_aor *) obj)->aor;
	return ast_str_hash(key);
}

static int aor_cmp(void *obj, void *arg, int flags)
{
	const struct local_aor *a = obj;
	const char *key = (flags & OBJ_SEARCH_MASK) == OBJ_SEARCH_KEY ? arg : ((const struct local_aor *) arg)->aor;
	return strcmp(a->aor, key) ? 0 : CMP_MATCH;
}

/* Hands the engine this server's registration of `a`: its first reachable contact (else its
 * first), valid for registration_ttl_ms. */
static void push_registration(const struct local_aor *a)
{
	pbxstate_registration reg;
	struct timespec wall;
	size_t i, pick = 0;
	uint64_t ttl_ms;
	int rc;

	for (i = 0; i < a->count; i++) {
		if (a->contacts[i].reachable) {
			pick = i;
			break;
		}
	}
	ast_rwlock_rdlock(&settings_lock);
	ttl_ms = node.settings.registration_ttl_ms;
	ast_rwlock_unlock(&settings_lock);
	clock_gettime(CLOCK_REALTIME, &wall);
	reg.contact = a->contacts[pick].uri;
	reg.contact_len = strlen(a->contacts[pick].uri);
	reg.expires_ns = (int64_t) wall.tv_sec * 1000000000LL + wall.tv_nsec + (int64_t) ttl_ms * 1000000LL;
	reg.status = a->contacts[pick].reachable ? PBXSTATE_CONTACT_REACHABLE : PBXSTATE_CONTACT_UNREACHABLE;
	reg.rtt_us = 0;
	rc = pbxstate_engine_set_registration(node.engine, a->aor, strlen(a->aor), &reg);
	if (rc != PBXSTATE_OK) {
		engine_error("registration of", a->aor, rc);
	}
}

/* A contact-state event of this server's PJSIP: `reachable` 1, 0, or -1 for a removed contact. */
static void apply_contact(const char *aor, const char *uri, int reachable)
{
	struct local_aor *a = ao2_find(node.aors, aor, OBJ_SEARCH_KEY);
	size_t i;

	if (!a) {
		if (reachable < 0) {
			return;
		}
		if (ao2_container_count(node.aors) >= MAX_LOCAL_AORS) {
			node.counters.engine_errors++;
			ast_log(LOG_WARNING, "pbxstate: more than %d registered AORs; %s not shared\n", MAX_LOCAL_AORS, aor);
			return;
		}
		a = ao2_alloc_options(sizeof(*a) + strlen(aor) + 1, NULL, AO2_ALLOC_OPT_LOCK_NOLOCK);
		if (!a) {
			return;
		}
		strcpy(a->aor, aor); /* Safe: allocated for it. */
		a->count = 0;
		ao2_link(node.aors, a);
	}
	for (i = 0; i < a->count && strcmp(a->contacts[i].uri, uri); i++) {
	}
	if (reachable < 0) {
		if (i < a->count) {
			memmove(&a->contacts[i], &a->contacts[i + 1], (a->count - i - 1) * sizeof(a->contacts[0]));
			a->count--;
		}
	} else if (i < a->count) {
		a->contacts[i].reachable = reachable;
	} else if (a->count < MAX_CONTACTS_PER_AOR) {
		ast_copy_string(a->contacts[a->count].uri, uri, sizeof(a->contacts[0].uri));
		a->contacts[a->count].reachable = reachable;
		a->count++;
	}
	if (a->count == 0) {
		int rc = pbxstate_engine_remove_registration(node.engine, aor, strlen(aor));
		if (rc != PBXSTATE_OK) {
			engine_error("removal of registration", aor, rc);
		}
		ao2_unlink(node.aors, a);
	} else {
		push_registration(a);
	}
	ao2_ref(a, -1);
}

static int refresh_one(void *obj, void *arg, int flags)
{
	(void) arg;
	(void) flags;
	push_registration(obj);
	return 0;
}

/* Every registration_ttl/2: this server's registrations get a new expiry, so they stay while
 * PJSIP holds them and lapse everywhere within a TTL of this server going silent. */
static void refresh_registrations(void)
{
	uint64_t ttl_ms;
	ao2_callback(node.aors, OBJ_NODATA, refresh_one, NULL);
	ast_rwlock_rdlock(&settings_lock);
	ttl_ms = node.settings.registration_ttl_ms;
	ast_rwlock_unlock(&settings_lock);
	node.registration_refresh_due_ns = mono_ns() + (int64_t) ttl_ms * 500000LL;
}

/* Our own contribution to `device` in the engine; -1 when none. */
static int own_contribution(const char *device)
{
	pbxstate_contribution c[MAX_EIDS];  /* 24 KiB: the node thread has a 4 MiB stack */
	size_t count = 0, i;
	pbxstate_engine_device_contributions(node.engine, device, strlen(device), c, ARRAY_LEN(c), &count);
	for (i = 0; i < count && i < ARRAY_LEN(c); i++) {
		if (c[i].node == node.self) {
			return c[i].state;
		}
	}
	return -1;
}

/* Re-reads this server's own state from Asterisk's caches into the engine: at start (device
 * states only), every LOCAL_RESYNC_INTERVAL_NS, after a queue overflow and after a reconfigure.
 *
 * Device states are this server's own contributions: re-applying one is always right. A mailbox is
 * one cluster-wide value (latest write wins), so a cached local MWI is re-applied only when it was
 * published after the cluster's current value was written; otherwise a stale local cache would
 * overwrite a newer write from another server. At start the cluster's value may still be on its
 * way (catch-up), so MWI waits for the first periodic pass. */
static void resync_local(int with_mwi)
{
	struct ao2_container *messages;
	struct ao2_iterator it;
	struct stasis_message *msg;
	int publish_devstate, publish_mwi;

	node.counters.resyncs++;
	ast_rwlock_rdlock(&settings_lock);
	publish_devstate = node.settings.publish_devstate;
	publish_mwi = node.settings.publish_mwi && with_mwi;
	ast_rwlock_unlock(&settings_lock);

	if (publish_devstate && (messages = stasis_cache_dump_by_eid(ast_device_state_cache(),
		ast_device_state_message_type(), &ast_eid_default))) {
		it = ao2_iterator_init(messages, 0);
		while ((msg = ao2_iterator_next(&it))) {
			const struct ast_device_state_message *d = stasis_message_data(msg);
			int pass;
			ast_rwlock_rdlock(&settings_lock);
			pass = pbxstate_filter_match(&node.settings.device_filter, d->device);
			ast_rwlock_unlock(&settings_lock);
			if (pass && d->cachable == AST_DEVSTATE_CACHABLE && strlen(d->device) <= PBXSTATE_MAX_KEY_BYTES
				&& own_contribution(d->device) != (int) d->state) {
				apply_device(d->device, (int) d->state);
			}
			ao2_ref(msg, -1);
		}
		ao2_iterator_destroy(&it);
		ao2_ref(messages, -1);
	}
	if (publish_mwi && (messages = stasis_cache_dump_by_eid(ast_mwi_state_cache(), ast_mwi_state_type(),
		&ast_eid_default))) {
		it = ao2_iterator_init(messages, 0);
		while ((msg = ao2_iterator_next(&it))) {
			const struct ast_mwi_state *m = stasis_message_data(msg);
			pbxstate_mailbox_value current;
			int pass;
			ast_rwlock_rdlock(&settings_lock);
			pass = pbxstate_filter_match(&node.settings.mailbox_filter, m->uniqueid);
			ast_rwlock_unlock(&settings_lock);
			if (pass && strlen(m->uniqueid) <= PBXSTATE_MAX_KEY_BYTES && m->new_msgs >= 0 && m->old_msgs >= 0) {
				pbxstate_mailbox_counts counts = { (uint32_t) m->new_msgs, (uint32_t) m->old_msgs,
					m->urgent_msgs > 0 ? (uint32_t) m->urgent_msgs : 0 };
				const struct timeval *tv = stasis_message_timestamp(msg);
				int64_t published_ns = (int64_t) tv->tv_sec * 1000000000LL + (int64_t) tv->tv_usec * 1000LL;
				int found = pbxstate_engine_mailbox(node.engine, m->uniqueid, strlen(m->uniqueid), &current) == PBXSTATE_OK;
				int differs = !found || current.counts.new_messages != counts.new_messages
					|| current.counts.old_messages != counts.old_messages
					|| current.counts.urgent_messages != counts.urgent_messages;
				if (differs && (!found || published_ns > current.hlc_physical_ns)) {
					apply_mailbox(m->uniqueid, &counts);
				}
			}
			ao2_ref(msg, -1);
		}
		ao2_iterator_destroy(&it);
		ao2_ref(messages, -1);
	}
}

/* Moves up to MAX_DRAIN_PER_ROUND queued changes into the engine. Returns nonzero when more wait. */
static int drain_queue(void)
{
	struct pending_change change;
	int resync = 0, more = 0;
	size_t n;

	for (n = 0; n < MAX_DRAIN_PER_ROUND; n++) {
		ast_mutex_lock(&queue_lock);
		if (node.count == 0) {
			resync = node.resync_needed;
			node.resync_needed = 0;
			ast_mutex_unlock(&queue_lock);
			break;
		}
		change = node.ring[node.head];
		node.head = (node.head + 1) % node.capacity;
		node.count--;
		more = node.count > 0;
		ast_mutex_unlock(&queue_lock);
		if (change.kind == PENDING_DEVICE) {
			apply_device(change.key, change.state);
		} else if (change.kind == PENDING_MAILBOX) {
			apply_mailbox(change.key, &change.counts);
		} else {
			apply_contact(change.key, change.contact, change.state);
		}
	}
	if (resync) {
		resync_local(resync == RESYNC_ALL);
	}
	return more;
}

/* Queues `change` and counts it in *counter. The wake descriptor is written under queue_lock,
 * which pbxstate_node_stop holds to close it. */
static void enqueue(const struct pending_change *change, uint64_t *counter)
{
	ast_mutex_lock(&queue_lock);
	if (node.ring && node.count < node.capacity) {
		node.ring[(node.head + node.count) % node.capacity] = *change;
		node.count++;
		(*counter)++;
		wake_thread();
	} else if (node.ring) {
		/* Not lost: the resync re-reads Asterisk's cache, which holds this change. */
		if (node.resync_needed != RESYNC_ALL) {
			ast_log(LOG_NOTICE, "pbxstate: the local change queue is full (%zu); this server's state will be "
				"re-read from Asterisk's caches\n", node.capacity);
		}
		node.resync_needed = RESYNC_ALL;
		node.counters.queue_overflows++;
		wake_thread();
	}
	ast_mutex_unlock(&queue_lock);
}

void pbxstate_node_local_device(const char *device, int state)
{
	struct pending_change change;
	int pass;

	ast_rwlock_rdlock(&settings_lock);
	pass = node.started && node.settings.publish_devstate && pbxstate_filter_match(&node.settings.device_filter, device);
	ast_rwlock_unlock(&settings_lock);
	if (!pass) {
		return;
	}
	if (strlen(device) > PBXSTATE_MAX_KEY_BYTES) {
		ast_log(LOG_WARNING, "pbxstate: device name longer than %d bytes not shared: %.40s...\n",
			PBXSTATE_MAX_KEY_BYTES, device);
		return;
	}
	memset(&change, 0, sizeof(change));
	change.kind = PENDING_DEVICE;
	change.state = state;
	ast_copy_string(change.key, device, sizeof(change.key));
	enqueue(&change, &node.counters.local_devstate);
}

void pbxstate_node_local_mailbox(const char *uniqueid, int new_msgs, int old_msgs, int urgent_msgs)
{
	struct pending_change change;
	int pass;

	ast_rwlock_rdlock(&settings_lock);
	pass = node.started && node.settings.publish_mwi && pbxstate_filter_match(&node.settings.mailbox_filter, uniqueid);
	ast_rwlock_unlock(&settings_lock);
	if (!pass || new_msgs < 0 || old_msgs < 0) {
		return;
	}
	if (strlen(uniqueid) > PBXSTATE_MAX_KEY_BYTES) {
		ast_log(LOG_WARNING, "pbxstate: mailbox name longer than %d bytes not shared: %.40s...\n",
			PBXSTATE_MAX_KEY_BYTES, uniqueid);
		return;
	}
	memset(&change, 0, sizeof(change));
	change.kind = PENDING_MAILBOX;
	change.counts.new_messages = (uint32_t) new_msgs;
	change.counts.old_messages = (uint32_t) old_msgs;
	change.counts.urgent_messages = urgent_msgs > 0 ? (uint32_t) urgent_msgs : 0;
	ast_copy_string(change.key, uniqueid, sizeof(change.key));
	enqueue(&change, &node.counters.local_mwi);
}

void pbxstate_node_local_contact(const char *aor, const char *uri, const char *status)
{
	struct pending_change change;
	int pass;

	ast_rwlock_rdlock(&settings_lock);
	pass = node.started && node.settings.share_registrations;
	ast_rwlock_unlock(&settings_lock);
	if (!pass || ast_strlen_zero(aor) || ast_strlen_zero(uri) || ast_strlen_zero(status)) {
		return;
	}
	if (strlen(aor) > PBXSTATE_MAX_KEY_BYTES || strlen(uri) > PBXSTATE_MAX_CONTACT_BYTES) {
		ast_log(LOG_WARNING, "pbxstate: AOR or contact too long to share: %.40s %.40s...\n", aor, uri);
		return;
	}
	memset(&change, 0, sizeof(change));
	change.kind = PENDING_CONTACT;
	/* res_pjsip's labels: Reachable, Unreachable, Unknown, NonQualified (no qualify), Removed. */
	change.state = !strcasecmp(status, "Removed") ? -1 : !strcasecmp(status, "Unreachable") ? 0 : 1;
	ast_copy_string(change.key, aor, sizeof(change.key));
	ast_copy_string(change.contact, uri, sizeof(change.contact));
	enqueue(&change, &node.counters.local_contacts);
}

/* ---- Keys ------------------------------------------------------------------------------------ */

/* Loads the key files of `s` into the node. 0, or -1 after logging (nothing changed). */
static int load_keys(const struct pbxstate_settings *s)
{
	uint8_t key[PBXSTATE_CLUSTER_KEY_BYTES], previous[PBXSTATE_CLUSTER_KEY_BYTES];
	char err[512];

	if (!ast_strlen_zero(s->key_file)
		&& pbxstate_load_cluster_key(s->key_file, key, sizeof(key), err, sizeof(err)) != PBXSTATE_OK) {
		ast_log(LOG_ERROR, "%s: option 'cluster_key_file': %s\n", PBXSTATE_CONFIG_FILE, err);
		return -1;
	}
	if (!ast_strlen_zero(s->previous_key_file)
		&& pbxstate_load_cluster_key(s->previous_key_file, previous, sizeof(previous), err, sizeof(err)) != PBXSTATE_OK) {
		ast_log(LOG_ERROR, "%s: option 'previous_key_file': %s\n", PBXSTATE_CONFIG_FILE, err);
		return -1;
	}
	node.has_key = !ast_strlen_zero(s->key_file);
	node.has_previous_key = !ast_strlen_zero(s->previous_key_file);
	if (node.has_key) {
		memcpy(node.key, key, sizeof(key));
	}
	if (node.has_previous_key) {
		memcpy(node.previous_key, previous, sizeof(previous));
	}
	return 0;
}

static pbxstate_cluster_keys current_keys(void)
{
	pbxstate_cluster_keys keys = { NULL, 0, NULL, 0 };
	if (node.has_key) {
		keys.key = node.key;
		keys.key_len = sizeof(node.key);
	}
	if (node.has_previous_key) {
		keys.previous = node.previous_key;
		keys.previous_len = sizeof(node.previous_key);
	}
	return keys;
}

/* ---- The thread ------------------------------------------------------------------------------ */

/* Called with node_lock held: connects to corosync and creates the engine. 0 on success. */
static int try_join(void)
{
	char err[512];
	char label[PBXSTATE_MAX_ROUTE + 32];
	char eid[32];
	pbxstate_config cfg;
	pbxstate_listener listener = { NULL, on_view_change, on_members_changed };
	struct timespec wall;

	node.counters.connect_attempts++;
	if (pbxstate_cpg_host_connect(node.host, err, sizeof(err)) != PBXSTATE_OK) {
		if (node.counters.connect_attempts == 1 || node.counters.connect_attempts % 60 == 0) {
			ast_log(LOG_WARNING, "pbxstate: corosync not reachable (%s); retrying every second\n", err);
		}
		ast_copy_string(node.state, "waiting for corosync", sizeof(node.state));
		return -1;
	}
	pbxstate_config_init(&cfg);
	ast_eid_to_str(eid, sizeof(eid), &ast_eid_default);
	clock_gettime(CLOCK_REALTIME, &wall);
	cfg.incarnation = (uint64_t) wall.tv_sec * 1000000ull + (uint64_t) wall.tv_nsec / 1000ull;
	cfg.label = label;
	ast_rwlock_rdlock(&settings_lock);
	/* The label tells the other servers this server's EID and route (PBXSTATE_LOCATION). */
	if (ast_strlen_zero(node.settings.route)) {
		ast_copy_string(label, eid, sizeof(label));
	} else {
		snprintf(label, sizeof(label), "%s %s", eid, node.settings.route);
	}
	pbxstate_engine_options_apply(&node.settings.engine, &cfg);  /* every engine option of pbxstate.conf */
	ast_rwlock_unlock(&settings_lock);
	cfg.max_key_bytes = PBXSTATE_MAX_KEY_BYTES;
	cfg.max_contact_bytes = PBXSTATE_MAX_CONTACT_BYTES;
	cfg.cluster_keys = current_keys();
	if (pbxstate_cpg_host_create_engine(node.host, &cfg, &node.engine, err, sizeof(err)) != PBXSTATE_OK) {
		ast_log(LOG_ERROR, "pbxstate: cannot create the engine: %s\n", err);
		ast_copy_string(node.state, "engine refused its configuration", sizeof(node.state));
		node.stop = 1;
		return -1;
	}
	node.self = pbxstate_engine_node_id(node.engine);
	pbxstate_engine_set_listener(node.engine, &listener);
	pbxstate_engine_start(node.engine);
	node.authenticated = node.has_key;
	if (!node.has_key) {
		ast_log(LOG_WARNING, "pbxstate: no cluster_key_file: cluster traffic is unauthenticated; anyone who "
			"can join the CPG group can change device state and MWI\n");
	}
	ast_log(LOG_NOTICE, "pbxstate: joined CPG group '%s' as corosync node %u, label '%s', incarnation %llu\n",
		node.settings.group, node.self, label, (unsigned long long) cfg.incarnation);
	ast_copy_string(node.state, "joined", sizeof(node.state));
	resync_local(0);
	node.local_resync_due_ns = mono_ns() + LOCAL_RESYNC_INTERVAL_NS;
	refresh_registrations();
	return 0;
}

static void *node_thread(void *arg)
{
	(void) arg;
	while (!node.stop) {
		struct pollfd fds[2];
		int timeout = POLL_MAX_MS;
		int more = 0;
		int64_t now = mono_ns();

		ast_mutex_lock(&node_lock);
		if (!node.engine && now >= node.connect_due_ns) {
			if (try_join()) {
				node.connect_due_ns = now + CONNECT_RETRY_NS;
			}
		}
		ast_mutex_unlock(&node_lock);
		if (node.stop) {
			break;
		}

		fds[0].fd = node.wake_fd;
		fds[0].events = POLLIN;
		fds[1].fd = pbxstate_cpg_host_fd(node.host);
		fds[1].events = POLLIN;
		if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
			ast_log(LOG_ERROR, "pbxstate: poll: %s\n", strerror(errno));
			usleep(100000);
		}
		if (fds[0].revents & POLLIN) {
			uint64_t drained;
			if (read(node.wake_fd, &drained, sizeof(drained)) < 0 && errno != EAGAIN) {
				ast_log(LOG_WARNING, "pbxstate: wake descriptor: %s\n", strerror(errno));
			}
		}

		ast_mutex_lock(&node_lock);
		if (node.engine) {
			const char *fatal;
			pbxstate_cpg_host_dispatch(node.host);
			more = drain_queue();
			if (node.reconcile_needed && mono_ns() >= node.reconcile_due_ns) {
				reconcile();
			}
			if (mono_ns() >= node.registration_refresh_due_ns) {
				refresh_registrations();
			}
			if (mono_ns() >= node.local_resync_due_ns) {
				resync_local(1);
				node.local_resync_due_ns = mono_ns() + LOCAL_RESYNC_INTERVAL_NS;
			}
			ast_copy_string(node.state, pbxstate_cpg_host_connected(node.host) ? "joined" : "reconnecting to corosync",
				sizeof(node.state));
			fatal = pbxstate_cpg_host_fatal_error(node.host);
			if (!ast_strlen_zero(fatal)) {
				ast_log(LOG_ERROR, "pbxstate: %s; the node stops (fix it, then 'module reload res_pbxstate')\n", fatal);
				ast_copy_string(node.state, "stopped: fatal transport error", sizeof(node.state));
				node.stop = 1;
			}
		}
		ast_mutex_unlock(&node_lock);
		if (more) {
			wake_thread();
		}
	}
	return NULL;
}

/* ---- Life cycle ------------------------------------------------------------------------------ */

int pbxstate_node_start(const struct pbxstate_settings *s)
{
	pbxstate_cpg_host_config hc;
	char err[512];

	if (node.started) {
		return 0;
	}
	pbxstate_settings_init(&node.settings);
	if (pbxstate_settings_copy(&node.settings, s)) {
		ast_log(LOG_ERROR, "pbxstate: out of memory\n");
		goto failed;
	}
	if (load_keys(s)) {
		goto failed;
	}
	node.capacity = s->max_pending;
	/* Mapped rather than malloc'd: megabytes that go back to the system at unload, whatever the
	 * allocator's thresholds (a malloc'd ring stayed resident after every unload/load cycle). */
	node.ring_bytes = node.capacity * sizeof(*node.ring);
	node.ring = mmap(NULL, node.ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (node.ring == MAP_FAILED) {
		node.ring = NULL;
		ast_log(LOG_ERROR, "pbxstate: cannot map a queue of %zu changes: %s\n", node.capacity, strerror(errno));
		goto failed;
	}
	node.head = node.count = 0;
	node.resync_needed = 0;
	node.aors = ao2_container_alloc_hash(AO2_ALLOC_OPT_LOCK_NOLOCK, 0, 1021, aor_hash, NULL, aor_cmp);
	if (!node.aors) {
		goto failed;
	}
	node.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (node.wake_fd < 0) {
		ast_log(LOG_ERROR, "pbxstate: eventfd: %s\n", strerror(errno));
		goto failed;
	}
	pbxstate_cpg_host_config_init(&hc);
	hc.group = s->group;
	if (pbxstate_cpg_host_create(&hc, host_log, NULL, &node.host, err, sizeof(err)) != PBXSTATE_OK) {
		ast_log(LOG_ERROR, "%s: option 'group': %s\n", PBXSTATE_CONFIG_FILE, err);
		goto failed;
	}
	memset(&node.counters, 0, sizeof(node.counters));
	node.engine = NULL;
	node.self = PBXSTATE_NO_NODE;
	node.eid_count = 0;
	node.reconcile_needed = 0;
	node.connect_due_ns = 0;
	node.stop = 0;
	ast_copy_string(node.state, "starting", sizeof(node.state));
	if (ast_pthread_create_stack(&node.thread, NULL, node_thread, NULL, NODE_THREAD_STACK, __FILE__, __FUNCTION__,
		__LINE__, "node_thread")) {
		ast_log(LOG_ERROR, "pbxstate: cannot start the node thread\n");
		goto failed;
	}
	ast_rwlock_wrlock(&settings_lock);
	node.started = 1;
	ast_rwlock_unlock(&settings_lock);
	return 0;

failed:
	if (node.host) {
		pbxstate_cpg_host_destroy(node.host);
		node.host = NULL;
	}
	if (node.wake_fd >= 0) {
		close(node.wake_fd);
	}
	node.wake_fd = -1;
	if (node.ring) {
		munmap(node.ring, node.ring_bytes);
	}
	node.ring = NULL;
	ao2_cleanup(node.aors);
	node.aors = NULL;
	pbxstate_settings_free(&node.settings);
	return -1;
}

void pbxstate_node_stop(void)
{
	if (!node.started) {
		return;
	}
	node.stop = 1;
	wake_thread();
	pthread_join(node.thread, NULL);

	ast_mutex_lock(&node_lock);
	/* Asterisk forgets the other servers: nothing would keep their entries current any more. */
	prune_cache(ast_device_state_cache(), ast_device_state_message_type(), NULL);
	prune_cache(ast_mwi_state_cache(), ast_mwi_state_type(), NULL);
	pbxstate_cpg_host_leave(node.host, FLUSH_ON_STOP_MS);
	pbxstate_cpg_host_destroy(node.host);
	node.host = NULL;
	node.engine = NULL;
	ao2_cleanup(node.aors);
	node.aors = NULL;
	ast_mutex_unlock(&node_lock);

	ast_rwlock_wrlock(&settings_lock);
	node.started = 0;
	ast_rwlock_unlock(&settings_lock);
	ast_mutex_lock(&queue_lock);
	munmap(node.ring, node.ring_bytes);
	node.ring = NULL;
	node.count = 0;
	close(node.wake_fd);
	node.wake_fd = -1;
	ast_mutex_unlock(&queue_lock);
	memset(node.key, 0, sizeof(node.key));
	memset(node.previous_key, 0, sizeof(node.previous_key));
	ast_rwlock_wrlock(&settings_lock);
	pbxstate_settings_free(&node.settings);
	ast_rwlock_unlock(&settings_lock);
}

int pbxstate_node_reconfigure(const struct pbxstate_settings *s)
{
	struct pbxstate_settings copy;
	int rc = 0;

	if (!node.started) {
		return -1;
	}
	pbxstate_settings_init(&copy);
	if (pbxstate_settings_copy(&copy, s)) {
		return -1;
	}
	ast_mutex_lock(&node_lock);
	if (load_keys(s)) {
		rc = -1;
	} else if (node.engine) {
		pbxstate_cluster_keys keys = current_keys();
		if (pbxstate_engine_set_cluster_keys(node.engine, node.has_key ? &keys : NULL) != PBXSTATE_OK) {
			ast_log(LOG_ERROR, "pbxstate: the engine refused the new keys: %s\n", pbxstate_engine_last_error(node.engine));
			rc = -1;
		} else {
			node.authenticated = node.has_key;
		}
	}
	ast_mutex_unlock(&node_lock);

	ast_rwlock_wrlock(&settings_lock);
	pbxstate_settings_free(&node.settings);
	node.settings = copy;  /* takes over the compiled filters */
	ast_rwlock_unlock(&settings_lock);

	ast_mutex_lock(&node_lock);
	if (node.engine) {
		prune_cache(ast_device_state_cache(), ast_device_state_message_type(), keep_device);
		prune_cache(ast_mwi_state_cache(), ast_mwi_state_type(), keep_mailbox);
		reconcile();
		resync_local(1);
	}
	ast_mutex_unlock(&node_lock);
	return rc;
}

void pbxstate_node_request_resync(void)
{
	ast_mutex_lock(&queue_lock);
	if (node.ring) {
		/* Devices only: at load the cluster's MWI values may still be on their way (catch-up). */
		if (node.resync_needed < RESYNC_DEVICES) {
			node.resync_needed = RESYNC_DEVICES;
		}
		wake_thread();
	}
	ast_mutex_unlock(&queue_lock);
}

int pbxstate_node_query(pbxstate_node_query_fn fn, void *arg)
{
	struct pbxstate_node_view view;

	if (!node.started) {
		return -1;
	}
	ast_mutex_lock(&node_lock);
	ast_rwlock_rdlock(&settings_lock);
	view.engine = node.engine;
	view.host = node.host;
	view.settings = &node.settings;
	view.counters = &node.counters;
	view.state = node.state;
	ast_mutex_lock(&queue_lock);
	view.queue_depth = node.count;
	view.queue_capacity = node.capacity;
	ast_mutex_unlock(&queue_lock);
	view.authenticated = node.authenticated;
	fn(&view, arg);
	ast_rwlock_unlock(&settings_lock);
	ast_mutex_unlock(&node_lock);
	return 0;
}

const char *pbxstate_node_route(const struct pbxstate_node_view *view, pbxstate_node_id id)
{
	(void) view;
	return route_of(id);
}

const char *pbxstate_node_eid_text(const struct pbxstate_node_view *view, pbxstate_node_id id, char *buf, size_t len)
{
	const struct ast_eid *eid;
	(void) view;
	if (id == node.self) {
		return ast_eid_to_str(buf, (int) len, &ast_eid_default);
	}
	eid = eid_of(id);
	if (!eid) {
		buf[0] = '\0';
		return buf;
	}
	return ast_eid_to_str(buf, (int) len, (struct ast_eid *) eid);
}
