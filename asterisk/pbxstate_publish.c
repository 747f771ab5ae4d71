/*
 * The cluster's changes into Asterisk's stasis caches (pbxstate_publish.h).
 */
#include "asterisk.h"

#include <string.h>

#include "asterisk/astobj2.h"
#include "asterisk/devicestate.h"
#include "asterisk/logger.h"
#include "asterisk/mwi.h"
#include "asterisk/stasis.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#include "pbxstate/latency_trace.h"

#include "pbxstate_peers.h"
#include "pbxstate_publish.h"
#include "pbxstate_receive_priority.h"
#include "pbxstate_settings.h"

#define RECONCILE_RETRY_NS 1000000000LL /* origins without a known EID: look again every second */

int pbxstate_publisher_wants_device(const struct pbxstate_publisher *p, const char *device)
{
	return p->settings->subscribe_devstate && pbxstate_filter_match(&p->settings->device_filter, device);
}

int pbxstate_publisher_wants_mailbox(const struct pbxstate_publisher *p, const char *mailbox)
{
	return p->settings->subscribe_mwi && pbxstate_filter_match(&p->settings->mailbox_filter, mailbox);
}

/* The message ast_publish_device_state_full() builds for a cachable state of another server,
 * with two steps less:
 *   - its look-up of the state already cached, to drop an unchanged one: the engine reports a
 *     contribution only when it changed, so on the live path that look-up (a walk of a hash
 *     chain of the device state cache, longer with every device) is work for nothing;
 *   - its look-up of the device's own topic in the topic pool (57 buckets in Asterisk 22: a chain
 *     of about 1,750 topics to compare at 100,000 devices): the message goes straight to
 *     devicestate:all, which the device's topic would forward it to. Everything that keeps or
 *     aggregates device state (the cache, hints, queues) subscribes there; the subscribers of a
 *     device's own topic (ARI device states, call completion) ignore per-server states and read
 *     only the aggregate, which the cache still publishes on the device's topic.
 * The struct is Asterisk's public one, filled as main/devicestate.c's device_state_alloc() fills
 * it. 0, or -1 when out of memory. */
static int publish_changed_device(const char *device, int state, const struct ast_eid *eid)
{
	const size_t len = strlen(device) + 1;
	struct ast_device_state_message *d;
	struct stasis_message *msg;
	struct stasis_topic *topic;
	char *name;

	d = ao2_alloc_options(sizeof(*d) + sizeof(*eid) + len, NULL, AO2_ALLOC_OPT_LOCK_NOLOCK);
	if (!d) {
		return -1;
	}
	d->stuff[0] = *eid;
	d->eid = &d->stuff[0];
	name = (char *) &d->stuff[1];
	memcpy(name, device, len);
	d->device = name;
	d->state = (enum ast_device_state) state;
	d->cachable = AST_DEVSTATE_CACHABLE;
	msg = stasis_message_create_full(ast_device_state_message_type(), d, eid);
	ao2_ref(d, -1);
	if (!msg) {
		return -1;
	}
	topic = ast_device_state_topic_all();
	if (topic) {
		stasis_publish(topic, msg);
	}
	ao2_ref(msg, -1);
	return topic ? 0 : -1;
}

/* `changed`: the engine says the contribution changed (the live path); otherwise (reconcile) the
 * state may equal the cached one, and Asterisk's own check drops it then. */
static void publish_device(struct pbxstate_publisher *p, const char *device, int state, const struct ast_eid *eid,
	int changed)
{
	int rc;

	PBXSTATE_TRACE(PBXSTATE_TRACE_RX_PUBLISH);
	rc = changed ? publish_changed_device(device, state, eid)
		: ast_publish_device_state_full(device, (enum ast_device_state) state, AST_DEVSTATE_CACHABLE,
			(struct ast_eid *) eid);
	PBXSTATE_TRACE(PBXSTATE_TRACE_RX_PUBLISHED);
	if (rc) {
		ast_log(LOG_WARNING, "pbxstate: Asterisk refused device state %s for %s\n", ast_devstate_str(state), device);
		return;
	}
	p->counters.published_devstate++;
}

static void clear_device(struct pbxstate_publisher *p, const char *device, const struct ast_eid *eid)
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
		p->counters.cleared++;
	}
	ao2_cleanup(clear);
	ao2_cleanup(cached);
}

static void publish_mailbox(struct pbxstate_publisher *p, const char *uniqueid, const pbxstate_mailbox_value *value,
	const struct ast_eid *eid)
{
	char box[PBXSTATE_MAX_KEY_BYTES + 1];
	char *context;
	int new_msgs = value->counts.new_messages > INT32_MAX ? INT32_MAX : (int) value->counts.new_messages;
	int old_msgs = value->counts.old_messages > INT32_MAX ? INT32_MAX : (int) value->counts.old_messages;
	int rc;

	ast_copy_string(box, uniqueid, sizeof(box));
	context = strchr(box, '@');
	if (context) {
		*context++ = '\0';
	}
	PBXSTATE_TRACE(PBXSTATE_TRACE_RX_PUBLISH);
	rc = ast_publish_mwi_state_full(box, context, new_msgs, old_msgs, NULL, (struct ast_eid *) eid);
	PBXSTATE_TRACE(PBXSTATE_TRACE_RX_PUBLISHED);
	if (rc) {
		ast_log(LOG_WARNING, "pbxstate: Asterisk refused MWI for %s\n", uniqueid);
		return;
	}
	p->counters.published_mwi++;
}

/* A mailbox removed cluster-wide (another server deleted it): out of Asterisk's MWI cache when
 * what is cached there is another server's value. Asterisk caches one MWI state per mailbox
 * whatever its EID ("all MWI events are local", main/mwi.c), the EID of its writer inside it; it
 * is deleted the way it was published, ast_delete_mwi_state_full() with that EID. A value of this
 * server's own voicemail stays: removing it is Asterisk's (it publishes it again at its next
 * change). */
static void clear_mailbox(struct pbxstate_publisher *p, const char *uniqueid)
{
	char box[PBXSTATE_MAX_KEY_BYTES + 1];
	char *context;
	struct stasis_message *cached;
	struct ast_eid eid;

	cached = stasis_cache_get(ast_mwi_state_cache(), ast_mwi_state_type(), uniqueid);
	if (!cached) {
		return;
	}
	eid = ((const struct ast_mwi_state *) stasis_message_data(cached))->eid;
	ao2_ref(cached, -1);
	if (!pbxstate_peers_has_eid(p->peers, &eid)) {
		return;
	}
	ast_copy_string(box, uniqueid, sizeof(box));
	context = strchr(box, '@');
	if (context) {
		*context++ = '\0';
	}
	if (!ast_delete_mwi_state_full(box, context, &eid)) {
		p->counters.cleared++;
	}
}

/* ---- The engine's listener (runs on the node thread, inside engine calls) ----------------- */

static void on_device_change(struct pbxstate_publisher *p, const pbxstate_view_change *c)
{
	const struct ast_eid *eid;

	if (c->origin == p->self) {
		return;
	}
	if (!pbxstate_publisher_wants_device(p, c->key)) {
		p->counters.filtered++;
		return;
	}
	if (!(eid = pbxstate_peers_eid(p->peers, p->engine, c->origin))) {
		/* Published by the reconcile pass once the origin's label is known. */
		p->counters.unlabeled++;
		p->reconcile_needed = 1;
		return;
	}
	if (c->new_contribution >= 0) {
		publish_device(p, c->key, c->new_contribution, eid, c->old_contribution != c->new_contribution);
	} else {
		clear_device(p, c->key, eid);
	}
}

static void on_mailbox_change(struct pbxstate_publisher *p, const pbxstate_view_change *c)
{
	const struct ast_eid *eid;

	/* A mailbox is one cluster-wide value (the latest write wins); it outlives its writer. No new
	 * value: removed cluster-wide (pbxstate_engine_remove_mailbox on another server). */
	if (!c->new_mailbox) {
		if (pbxstate_publisher_wants_mailbox(p, c->key)) {
			clear_mailbox(p, c->key);
		}
		return;
	}
	if (c->new_mailbox->writer == p->self) {
		return;
	}
	if (!pbxstate_publisher_wants_mailbox(p, c->key)) {
		p->counters.filtered++;
		return;
	}
	if (!(eid = pbxstate_peers_eid(p->peers, p->engine, c->new_mailbox->writer))) {
		p->counters.unlabeled++;
		p->reconcile_needed = 1;
		return;
	}
	publish_mailbox(p, c->key, c->new_mailbox, eid);
}

static void on_view_change(void *user, const pbxstate_view_change *c)
{
	struct pbxstate_publisher *p = user;

	PBXSTATE_TRACE(PBXSTATE_TRACE_RX_LISTENER);
	if (c->cause == PBXSTATE_CAUSE_LOCAL) {
		return;
	}
	if (c->kind == PBXSTATE_KIND_DEVICE) {
		on_device_change(p, c);
	} else if (c->kind == PBXSTATE_KIND_MAILBOX) {
		on_mailbox_change(p, c);
	}
	pbxstate_receive_priority_spend();  /* a burst's changes beyond the first few at the thread's own */
}

static void on_members_changed(void *user, const pbxstate_node_id *members, size_t count)
{
	struct pbxstate_publisher *p = user;
	(void) members;
	ast_verb(3, "pbxstate: %zu server(s) in the cluster\n", count);
	/* A newcomer's label arrives with its first frames: EIDs unknown so far may be known now. */
	p->reconcile_needed = 1;
}

pbxstate_listener pbxstate_publisher_listener(struct pbxstate_publisher *p)
{
	pbxstate_listener listener = { p, on_view_change, on_members_changed };
	return listener;
}

/* ---- Reconcile: publish every remote contribution whose origin's EID is now known -------- */

struct reconcile_pass {
	struct pbxstate_publisher *p;
	int missing;
};

static void reconcile_device(void *user, const char *device, size_t len, int aggregate,
	const pbxstate_contribution *contributions, size_t count)
{
	struct reconcile_pass *pass = user;
	struct pbxstate_publisher *p = pass->p;
	size_t i;
	(void) len;
	(void) aggregate;
	if (!pbxstate_publisher_wants_device(p, device)) {
		return;
	}
	for (i = 0; i < count; i++) {
		const struct ast_eid *eid;
		if (contributions[i].node == p->self) {
			continue;
		}
		if (!(eid = pbxstate_peers_eid(p->peers, p->engine, contributions[i].node))) {
			pass->missing++;
			continue;
		}
		/* Asterisk drops a cachable state equal to the cached one, so this publishes only news. */
		publish_device(p, device, contributions[i].state, eid, 0);
	}
}

static void reconcile_mailbox(void *user, const char *mailbox, size_t len, const pbxstate_mailbox_value *value)
{
	struct reconcile_pass *pass = user;
	struct pbxstate_publisher *p = pass->p;
	const struct ast_eid *eid;
	struct stasis_message *cached;
	(void) len;
	if (value->writer == p->self || !pbxstate_publisher_wants_mailbox(p, mailbox)) {
		return;
	}
	if (!(eid = pbxstate_peers_eid(p->peers, p->engine, value->writer))) {
		pass->missing++;
		return;
	}
	/* One cached MWI state per mailbox, whatever its EID (clear_mailbox above): compare with it. */
	cached = stasis_cache_get(ast_mwi_state_cache(), ast_mwi_state_type(), mailbox);
	if (cached) {
		const struct ast_mwi_state *m = stasis_message_data(cached);
		int same = m->new_msgs == (int) value->counts.new_messages && m->old_msgs == (int) value->counts.old_messages &&
			!ast_eid_cmp(&m->eid, eid);
		ao2_ref(cached, -1);
		if (same) {
			return;
		}
	}
	publish_mailbox(p, mailbox, value, eid);
}

void pbxstate_publisher_reconcile(struct pbxstate_publisher *p, int64_t now_ns)
{
	struct reconcile_pass pass = { p, 0 };
	pbxstate_engine_for_each_device(p->engine, reconcile_device, &pass);
	pbxstate_engine_for_each_mailbox(p->engine, reconcile_mailbox, &pass);
	p->reconcile_needed = pass.missing > 0;
	p->reconcile_due_ns = now_ns + RECONCILE_RETRY_NS;
}

/* ---- Prune: what was published for the other servers, out of Asterisk's caches ----------- */

/* Calls `prune` on every message `cache` holds of `type` (a copy of the cache: prune may publish). */
static void prune_each(struct pbxstate_publisher *p, struct stasis_cache *cache, struct stasis_message_type *type,
	int keep_wanted, void (*prune)(struct pbxstate_publisher *, struct stasis_message *, int))
{
	struct ao2_container *messages = stasis_cache_dump_all(cache, type);
	struct ao2_iterator it;
	struct stasis_message *msg;

	if (!messages) {
		return;
	}
	it = ao2_iterator_init(messages, 0);
	while ((msg = ao2_iterator_next(&it))) {
		prune(p, msg, keep_wanted);
		ao2_ref(msg, -1);
	}
	ao2_iterator_destroy(&it);
	ao2_ref(messages, -1);
}

/* Device states: Asterisk caches one per (device, EID), the message's EID its server's. */
static void prune_device(struct pbxstate_publisher *p, struct stasis_message *msg, int keep_wanted)
{
	const struct ast_device_state_message *d = stasis_message_data(msg);
	struct stasis_message *clear;

	if (!pbxstate_peers_has_eid(p->peers, stasis_message_eid(msg)) ||
		(keep_wanted && pbxstate_publisher_wants_device(p, d->device))) {
		return;
	}
	clear = stasis_cache_clear_create(msg);
	if (clear) {
		stasis_publish(ast_device_state_topic_all(), clear);
		p->counters.cleared++;
	}
	ao2_cleanup(clear);
}

/* MWI states: every message carries Asterisk's own EID ("all MWI events are local",
 * main/mwi.c), the writer's EID is inside the state; clear_mailbox deletes another server's. */
static void prune_mailbox(struct pbxstate_publisher *p, struct stasis_message *msg, int keep_wanted)
{
	const struct ast_mwi_state *m = stasis_message_data(msg);

	if (!keep_wanted || !pbxstate_publisher_wants_mailbox(p, m->uniqueid)) {
		clear_mailbox(p, m->uniqueid);
	}
}

void pbxstate_publisher_prune(struct pbxstate_publisher *p, int keep_wanted)
{
	prune_each(p, ast_device_state_cache(), ast_device_state_message_type(), keep_wanted, prune_device);
	prune_each(p, ast_mwi_state_cache(), ast_mwi_state_type(), keep_wanted, prune_mailbox);
}
