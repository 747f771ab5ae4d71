/*
 * Local device state, MWI and contact-state changes, from Asterisk's stasis topics into the
 * node's inbox (pbxstate_stasis.h). Runs on Asterisk's threads, so it does the least it can: a
 * callback compares the EID and hands the message over: to the engine at once when the node is
 * idle (a lone change: pbxstate_node_apply_at_once), else a reference to it to the inbox, for the
 * node thread (a burst). It never waits for the node.
 *
 * Device states and MWI states are read in the publishing thread itself (the taps, below);
 * cache clears and contact states through subscriptions that each accept only their message types
 * (filtered inside stasis, before a message is queued for us). A clear is put in order with the
 * states the tap handed over (push_clear_in_order for a device, hand_over_mwi_clear for a mailbox).
 */
#include "asterisk.h"

#include "asterisk/devicestate.h"
#include "asterisk/logger.h"
#include "asterisk/mwi.h"
#include "asterisk/stasis.h"
#include "asterisk/stasis_endpoints.h"
#include "asterisk/taskprocessor.h"
#include "asterisk/utils.h"

#include "pbxstate/latency_trace.h"

#include "pbxstate_inbox.h"
#include "pbxstate_node.h"
#include "pbxstate_stasis.h"

static struct stasis_cache *devstate_tap_cache;
static struct stasis_caching_topic *devstate_tap;
static struct stasis_subscription *devstate_sub;
static struct stasis_cache *mwi_tap_cache;
static struct stasis_caching_topic *mwi_tap;
static struct stasis_subscription *mwi_sub;
static struct stasis_subscription *endpoint_sub;
/* Taken by the MWI tap around its hand-over of a state and by the MWI clear path around its
 * look-up and hand-over: hand_over_mwi_clear. Under it, nothing waits for the node. */
AST_MUTEX_DEFINE_STATIC(mwi_order_lock);

/* A lone change goes into the engine at once, from this thread, when the node is idle; otherwise
 * (a burst, the node busy) into the inbox, behind the changes already there. */
static void hand_over(struct stasis_message *msg)
{
	if (!pbxstate_node_apply_at_once(msg)) {
		pbxstate_inbox_push(msg);
	}
}

/* The message a cache clear names, when it is of `type` (a clear carries the cached message, or
 * one with its id and EID); NULL for any other message. */
static struct stasis_message *cleared(struct stasis_message *msg, struct stasis_message_type *type)
{
	struct stasis_message *id_message;

	if (stasis_message_type(msg) != stasis_cache_clear_type()) {
		return NULL;
	}
	id_message = stasis_message_data(msg);
	return id_message && stasis_message_type(id_message) == type ? id_message : NULL;
}

/* A clear of this server's own device state, into the inbox behind the states the tap pushed.
 * The tap pushes a state when it is published; this subscription sees the clear later, on its
 * taskprocessor. A device removed and published again at once (a reload) would then be withdrawn
 * after its new state. Asterisk publishes a device's states and its clear on the device's own
 * topic, which forwards to devicestate:all by taking on its subscribers (stasis_forward_all), so
 * Asterisk's device state cache is updated and the tap runs in the publisher's thread under that
 * topic's lock (publish_msg). Under that lock here, a cache that holds a state of this server for
 * the device again says that a newer state overtook the clear, and it is dropped;
 * otherwise it goes into the inbox before any later state can (a state finds the inbox not empty
 * then, so it is not applied at once either: pbxstate_node_apply_at_once). */
static void push_clear_in_order(struct stasis_message *msg, const char *device)
{
	/* Looked up before any lock is taken (the topic pool's lock comes first in Asterisk's order);
	 * it exists, the clear came through it. Borrowed: the pool keeps it. */
	struct stasis_topic *topic = ast_device_state_topic(device);
	struct stasis_topic *lock_on = topic ? topic : ast_device_state_topic_all();
	struct stasis_message *current;

	ao2_lock(lock_on);
	current = stasis_cache_get_by_eid(ast_device_state_cache(), ast_device_state_message_type(), device,
		&ast_eid_default);
	if (!current) {
		pbxstate_inbox_push(msg);
	}
	ao2_unlock(lock_on);
	ao2_cleanup(current);
}

/* The device state subscription takes cache clears only (the tap below takes the states). */
static void on_devstate(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	const struct ast_device_state_message *d;
	struct stasis_message *id_message;
	(void) data;
	(void) sub;

	/* ast_device_state_clear_cache() of this server's own state: the device was removed here.
	 * Clears of other EIDs are this module's own (a departed server's contribution) or another
	 * module's: not this server's to share. */
	if ((id_message = cleared(msg, ast_device_state_message_type()))) {
		d = stasis_message_data(id_message);
		if (d->eid && !ast_eid_cmp(d->eid, &ast_eid_default)) {
			push_clear_in_order(msg, d->device);
		}
	}
}

/* The device state tap: every message on devicestate:all, in the thread that publishes it. A
 * subscription's callback runs on its taskprocessor, and devicestate:all carries two messages per
 * change of this server (its own, then Asterisk's aggregate) and two per remote change this module
 * publishes (that one and the aggregate): each pushed to the taskprocessor and nearly each a
 * wake-up of its thread, to be dropped by the EID in all but one case. Measured at 100,000 new
 * devices (asterisk/README.md, the eighteenth run): 1.6 wake-ups and 9 to 11 us of that thread per
 * change on each server, and the publisher's pushes. A stasis cache's id function is the one
 * public callback Asterisk runs in the publisher's thread (its caching topic subscribes without a
 * mailbox, as Asterisk's own device state cache does), under the publishing topic's lock, for
 * every message: this one caches nothing (returns NULL) and hands this server's own cachable
 * states over, which is an EID comparison for every other message. One quirk of that callback:
 * for a cache clear it is given the cleared message, so a clear of this server's own state also
 * hands that last state over once, just before the clear itself (the subscription above)
 * withdraws it: the same value the cluster holds, then the removal, in that order. */
static const char *devstate_tap_fn(struct stasis_message *msg)
{
	const struct ast_device_state_message *d;

	if (stasis_message_type(msg) != ast_device_state_message_type()) {
		return NULL;
	}
	d = stasis_message_data(msg);
	/* A NULL EID is Asterisk's own aggregate; another EID is a server we (or another module)
	 * published for: neither goes to the cluster. Uncachable states (Local channels) are
	 * transient and not shared. */
	if (!d->eid || ast_eid_cmp(d->eid, &ast_eid_default) || d->cachable != AST_DEVSTATE_CACHABLE) {
		return NULL;
	}
	PBXSTATE_TRACE(PBXSTATE_TRACE_TX_STASIS);
	hand_over(msg);
	return NULL;
}

/* The MWI tap: every message on mwi:all, in the thread that publishes it, as the device state tap
 * does (above; Asterisk's MWI cache is such a caching topic too, main/mwi.c). A subscription would
 * push each update to its taskprocessor and wake its thread before anything is sent. Only this
 * server's own states go over: the message's EID is always Asterisk's own ("all MWI events are
 * local", main/mwi.c), the writer's is inside the state (the module publishes the cluster's values
 * with their writer's). The quirk of the id function (for a clear it is given the cleared message:
 * for MWI a fresh 0/0 state made by ast_delete_mwi_state_full) is avoided: a state goes over only
 * when Asterisk's MWI cache holds that very message, which it does for a state it has just taken
 * (it runs first, hand_over_mwi_clear says why; the publishing topic's lock, held here, keeps
 * others of this mailbox out) and never for a clear's, which it has just removed. */
static const char *mwi_tap_fn(struct stasis_message *msg)
{
	const struct ast_mwi_state *m;
	struct stasis_message *cached;

	if (stasis_message_type(msg) != ast_mwi_state_type()) {
		return NULL;
	}
	m = stasis_message_data(msg);
	if (ast_eid_cmp(&m->eid, &ast_eid_default)) {
		return NULL;
	}
	cached = stasis_cache_get(ast_mwi_state_cache(), ast_mwi_state_type(), m->uniqueid);
	if (cached == msg) {
		PBXSTATE_TRACE(PBXSTATE_TRACE_TX_STASIS);
		ast_mutex_lock(&mwi_order_lock);
		hand_over(msg);
		ast_mutex_unlock(&mwi_order_lock);
	}
	ao2_cleanup(cached);
	return NULL;
}

/* A clear of this server's own mailbox, handed over in order with the states the tap hands over.
 * The clear comes here later, on the subscription's thread; a state published after it goes over
 * at once through the tap, and the clear must not withdraw it. The device path locks the device's
 * topic (push_clear_in_order); a mailbox's topic cannot be looked up safely here:
 * ast_mwi_topic() creates the mailbox's state again when ast_delete_mwi_state_full removed it, and
 * returns its topic after dropping the reference. So the tap and this path take mwi_order_lock:
 * here, under it, Asterisk's MWI cache holding a state of this server for the mailbox again means
 * that a newer state overtook the clear (cached after the clear removed the entry), which is
 * dropped; otherwise the clear is handed over before any later state can be (that state's tap
 * waits for the lock, and a clear left in the inbox keeps the state out of the at-once path).
 * Exact because Asterisk's cache sees every message before the tap does: its caching topic was
 * the first subscriber of mwi:all (mwi_init, at core start, before any module), so it is first in
 * mwi:all's subscribers and in every mailbox topic's, whose subscribers are copied from mwi:all's
 * in order when the topic is made (stasis_forward_all, main/stasis_state.c state_alloc), and
 * publish_msg calls them in that order; a removal (topic_remove_subscription,
 * AST_VECTOR_REMOVE_ELEM_UNORDERED) moves the last subscriber into the removed one's slot, so the
 * first slot changes only when the cache itself unsubscribes (at Asterisk's shutdown). */
static void hand_over_mwi_clear(struct stasis_message *msg, const char *uniqueid)
{
	struct stasis_message *current;
	int overtaken;

	ast_mutex_lock(&mwi_order_lock);
	current = stasis_cache_get(ast_mwi_state_cache(), ast_mwi_state_type(), uniqueid);
	overtaken = current
		&& !ast_eid_cmp(&((const struct ast_mwi_state *) stasis_message_data(current))->eid, &ast_eid_default);
	if (!overtaken) {
		hand_over(msg);
	}
	ast_mutex_unlock(&mwi_order_lock);
	ao2_cleanup(current);
}

/* The MWI subscription takes cache clears only (the tap above takes the states):
 * ast_delete_mwi_state_full() of a mailbox of this server (app_voicemail at a reload that dropped
 * it, res_mwi_external's MWIDelete), whose clear names a state with this server's EID. */
static void on_mwi_clear(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	const struct ast_mwi_state *m;
	struct stasis_message *id_message;
	(void) data;
	(void) sub;

	if ((id_message = cleared(msg, ast_mwi_state_type()))) {
		m = stasis_message_data(id_message);
		if (!ast_eid_cmp(&m->eid, &ast_eid_default)) {
			PBXSTATE_TRACE(PBXSTATE_TRACE_TX_STASIS);
			hand_over_mwi_clear(msg, m->uniqueid);
		}
	}
}

/* A caching topic on `topic` whose cache's id function is `tap_fn`: called for every message on the
 * topic in the publisher's thread. */
static int tap(struct stasis_topic *topic, snapshot_get_id tap_fn, struct stasis_cache **cache,
	struct stasis_caching_topic **caching)
{
	*cache = stasis_cache_create(tap_fn);
	if (!*cache) {
		return -1;
	}
	*caching = stasis_caching_topic_create(topic, *cache);
	return *caching ? 0 : -1;
}

static void untap(struct stasis_cache **cache, struct stasis_caching_topic **caching)
{
	*caching = stasis_caching_unsubscribe_and_join(*caching);
	ao2_cleanup(*cache);
	*cache = NULL;
}

/* res_pjsip publishes every contact's state on the endpoint topic (created at registration,
 * Reachable/Unreachable by qualify, Removed at unregistration or expiry): that is this server's
 * registration table, without linking to res_pjsip. */
static void on_endpoint(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	const struct ast_eid *eid;
	(void) data;
	(void) sub;

	if (stasis_message_type(msg) != ast_endpoint_contact_state_type()) {
		return;
	}
	eid = stasis_message_eid(msg);
	if (eid && ast_eid_cmp(eid, &ast_eid_default)) {
		return;
	}
	hand_over(msg);
}

/* `also`: a second message type to accept, or NULL. */
static struct stasis_subscription *subscribe_one(struct stasis_topic *topic, stasis_subscription_cb cb,
	struct stasis_message_type *type, struct stasis_message_type *also)
{
	struct stasis_subscription *sub = stasis_subscribe(topic, cb, NULL);
	if (!sub) {
		return NULL;
	}
	stasis_subscription_accept_message_type(sub, type);
	if (also) {
		stasis_subscription_accept_message_type(sub, also);
	}
	stasis_subscription_set_filter(sub, STASIS_SUBSCRIPTION_FILTER_SELECTIVE);
	/* The callbacks above are O(1) (a comparison and a pointer into the inbox), so a deep queue
	 * here means the subscription's thread was not scheduled while a publisher ran, not that it
	 * is slow: measured on two busy cores, a burst of 2,000 device states queued 500 to 950
	 * messages on every subscriber of devicestate:all, Asterisk's own (hints, aggregates) included
	 * (asterisk/README.md, "Measured"). Asterisk's default alert at 500 would then warn, and make
	 * res_pjsip refuse calls, for a consumer that is keeping up; 10 times that, as res_corosync sets
	 * for its router, alerts only when this thread is really starved. The inbox (max_pending) is
	 * the module's own bound. */
	stasis_subscription_set_congestion_limits(sub, -1, 10 * AST_TASKPROCESSOR_HIGH_WATER_LEVEL);
	return sub;
}

int pbxstate_stasis_subscribe(void)
{
	int tapped;

	devstate_sub = subscribe_one(ast_device_state_topic_all(), on_devstate, stasis_cache_clear_type(), NULL);
	mwi_sub = subscribe_one(ast_mwi_topic_all(), on_mwi_clear, stasis_cache_clear_type(), NULL);
	endpoint_sub = subscribe_one(ast_endpoint_topic_all(), on_endpoint, ast_endpoint_contact_state_type(), NULL);
	tapped = !tap(ast_device_state_topic_all(), devstate_tap_fn, &devstate_tap_cache, &devstate_tap)
		&& !tap(ast_mwi_topic_all(), mwi_tap_fn, &mwi_tap_cache, &mwi_tap);
	if (!tapped || !devstate_sub || !mwi_sub || !endpoint_sub) {
		ast_log(LOG_ERROR, "pbxstate: cannot subscribe to Asterisk's device state, MWI and endpoint topics\n");
		pbxstate_stasis_unsubscribe();
		return -1;
	}
	return 0;
}

void pbxstate_stasis_unsubscribe(void)
{
	untap(&devstate_tap_cache, &devstate_tap);
	untap(&mwi_tap_cache, &mwi_tap);
	devstate_sub = stasis_unsubscribe_and_join(devstate_sub);
	mwi_sub = stasis_unsubscribe_and_join(mwi_sub);
	endpoint_sub = stasis_unsubscribe_and_join(endpoint_sub);
}
