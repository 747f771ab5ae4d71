/*
 * This server's own state into the engine (pbxstate_local.h).
 */
#include "asterisk.h"

#include <string.h>

#include "asterisk/astobj2.h"
#include "asterisk/devicestate.h"
#include "asterisk/json.h"
#include "asterisk/logger.h"
#include "asterisk/mwi.h"
#include "asterisk/stasis.h"
#include "asterisk/stasis_endpoints.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#include "pbxstate/latency_trace.h"

#include "pbxstate_contacts.h"
#include "pbxstate_local.h"
#include "pbxstate_registrations.h"
#include "pbxstate_settings.h"

void pbxstate_local_engine_error(struct pbxstate_local *l, const char *what, const char *key, int rc)
{
	l->counters.engine_errors++;
	ast_log(LOG_WARNING, "pbxstate: engine refused %s '%s': %s (%s)\n", what, key, pbxstate_strerror(rc),
		pbxstate_engine_last_error(l->engine));
}

static void apply_device(struct pbxstate_local *l, const char *device, int state)
{
	int rc;

	PBXSTATE_TRACE(PBXSTATE_TRACE_TX_ENGINE);
	rc = pbxstate_engine_set_device_state(l->engine, device, strlen(device), state);
	PBXSTATE_TRACE(PBXSTATE_TRACE_TX_ENGINE_DONE);
	if (rc != PBXSTATE_OK) {
		pbxstate_local_engine_error(l, "device state of", device, rc);
	}
}

static void apply_mailbox(struct pbxstate_local *l, const char *mailbox, const pbxstate_mailbox_counts *counts)
{
	int rc;

	PBXSTATE_TRACE(PBXSTATE_TRACE_TX_ENGINE);
	rc = pbxstate_engine_set_mailbox(l->engine, mailbox, strlen(mailbox), counts);
	PBXSTATE_TRACE(PBXSTATE_TRACE_TX_ENGINE_DONE);
	if (rc != PBXSTATE_OK) {
		pbxstate_local_engine_error(l, "MWI of", mailbox, rc);
	}
}

/* Whether a local key may go to the cluster: names longer than the engine takes are not shared. */
static int shareable(const char *what, const char *key)
{
	if (strlen(key) <= PBXSTATE_MAX_KEY_BYTES) {
		return 1;
	}
	ast_log(LOG_WARNING, "pbxstate: %s name longer than %d bytes not shared: %.40s...\n", what,
		PBXSTATE_MAX_KEY_BYTES, key);
	return 0;
}

static void local_device(struct pbxstate_local *l, const struct ast_device_state_message *d)
{
	if (!l->settings->publish_devstate || !pbxstate_filter_match(&l->settings->device_filter, d->device)) {
		l->counters.filtered++;
		return;
	}
	if (!shareable("device", d->device)) {
		return;
	}
	l->counters.local_devstate++;
	apply_device(l, d->device, (int) d->state);
}

static void local_mailbox(struct pbxstate_local *l, const struct ast_mwi_state *m)
{
	pbxstate_mailbox_counts counts;

	if (!l->settings->publish_mwi || !pbxstate_filter_match(&l->settings->mailbox_filter, m->uniqueid)) {
		l->counters.filtered++;
		return;
	}
	if (m->new_msgs < 0 || m->old_msgs < 0 || !shareable("mailbox", m->uniqueid)) {
		return;
	}
	counts.new_messages = (uint32_t) m->new_msgs;
	counts.old_messages = (uint32_t) m->old_msgs;
	counts.urgent_messages = m->urgent_msgs > 0 ? (uint32_t) m->urgent_msgs : 0;
	l->counters.local_mwi++;
	apply_mailbox(l, m->uniqueid, &counts);
}

/* Asterisk removed this server's own state: its cached device state (ast_device_state_clear_cache:
 * a device deprovisioned, e.g. ARI's DELETE /deviceStates) or mailbox (ast_delete_mwi_state_full:
 * deleted from voicemail.conf or res_mwi_external). `cached` is the message the clear names. */
static void local_cleared(struct pbxstate_local *l, struct stasis_message *cached)
{
	struct stasis_message_type *type = stasis_message_type(cached);
	const char *what, *key;
	int rc;

	if (type == ast_device_state_message_type()) {
		key = ((const struct ast_device_state_message *) stasis_message_data(cached))->device;
		if (!l->settings->publish_devstate || !pbxstate_filter_match(&l->settings->device_filter, key)) {
			l->counters.filtered++;
			return;
		}
		what = "device";
	} else if (type == ast_mwi_state_type()) {
		key = ((const struct ast_mwi_state *) stasis_message_data(cached))->uniqueid;
		if (!l->settings->publish_mwi || !pbxstate_filter_match(&l->settings->mailbox_filter, key)) {
			l->counters.filtered++;
			return;
		}
		what = "mailbox";
	} else {
		return;
	}
	if (!shareable(what, key)) {
		return;
	}
	l->counters.local_removed++;
	rc = type == ast_device_state_message_type() ? pbxstate_engine_remove_device(l->engine, key, strlen(key))
		: pbxstate_engine_remove_mailbox(l->engine, key, strlen(key));
	if (rc != PBXSTATE_OK) {
		pbxstate_local_engine_error(l, type == ast_device_state_message_type() ? "removal of device" : "removal of mailbox",
			key, rc);
	}
}

static const char *json_text(struct ast_json *blob, const char *key)
{
	return ast_json_string_get(ast_json_object_get(blob, key));
}

static void local_contact(struct pbxstate_local *l, struct ast_endpoint_blob *b)
{
	const char *aor, *uri, *status;
	int reachable;

	if (!l->settings->share_registrations || !b || !b->blob) {
		return;
	}
	aor = json_text(b->blob, "aor");
	uri = json_text(b->blob, "uri");
	status = json_text(b->blob, "contact_status");
	if (ast_strlen_zero(aor) || ast_strlen_zero(uri) || ast_strlen_zero(status)) {
		return;
	}
	if (strlen(aor) > PBXSTATE_MAX_KEY_BYTES || strlen(uri) > PBXSTATE_MAX_CONTACT_BYTES) {
		ast_log(LOG_WARNING, "pbxstate: AOR or contact too long to share: %.40s %.40s...\n", aor, uri);
		return;
	}
	/* res_pjsip's labels: Reachable, Unreachable, Unknown, NonQualified (no qualify), Removed. */
	reachable = !strcasecmp(status, "Removed") ? -1 : !strcasecmp(status, "Unreachable") ? 0 : 1;
	l->counters.local_contacts++;
	if (reachable >= 0) {
		/* The event names the contact; its path and user agent are in res_pjsip's contact
		 * object (none for a permanent contact of pjsip.conf). */
		struct pbxstate_contact_details details;
		int in_pjsip = pbxstate_contacts_details(aor, uri, &details) == 0;

		pbxstate_registrations_apply_contact(l->registrations, l, aor, uri, reachable, in_pjsip ? &details : NULL);
	} else {
		pbxstate_registrations_apply_contact(l->registrations, l, aor, uri, reachable, NULL);
	}
}

/* A contact res_pjsip holds (a resync): into the table and the engine when they lack it. */
static void resync_contact(void *user, const char *aor, const char *uri, const struct pbxstate_contact_details *details)
{
	struct pbxstate_local *l = user;

	if (strlen(uri) > PBXSTATE_MAX_CONTACT_BYTES) {
		ast_log(LOG_WARNING, "pbxstate: contact too long to share: %.40s %.40s...\n", aor, uri);
		return;
	}
	if (pbxstate_registrations_sync_contact(l->registrations, l, aor, uri, details)) {
		l->counters.contacts_read++;
	}
}

void pbxstate_local_apply(struct pbxstate_local *l, struct stasis_message *msg)
{
	struct stasis_message_type *type = stasis_message_type(msg);

	if (type == ast_device_state_message_type()) {
		local_device(l, stasis_message_data(msg));
	} else if (type == ast_mwi_state_type()) {
		local_mailbox(l, stasis_message_data(msg));
	} else if (type == ast_endpoint_contact_state_type()) {
		local_contact(l, stasis_message_data(msg));
	} else if (type == stasis_cache_clear_type()) {
		local_cleared(l, stasis_message_data(msg));
	}
}

/* ---- Resync: this server's state re-read from Asterisk's caches -------------------------- */

static void resync_device(struct pbxstate_local *l, struct stasis_message *msg)
{
	const struct ast_device_state_message *d = stasis_message_data(msg);

	/* The engine ignores a state equal to this node's contribution: nothing is sent then. */
	if (pbxstate_filter_match(&l->settings->device_filter, d->device) && d->cachable == AST_DEVSTATE_CACHABLE
		&& strlen(d->device) <= PBXSTATE_MAX_KEY_BYTES) {
		apply_device(l, d->device, (int) d->state);
	}
}

static void resync_mailbox(struct pbxstate_local *l, struct stasis_message *msg)
{
	const struct ast_mwi_state *m = stasis_message_data(msg);
	pbxstate_mailbox_value current;
	pbxstate_mailbox_counts counts;
	const struct timeval *tv;
	int64_t published_ns;
	int found, differs;

	if (!pbxstate_filter_match(&l->settings->mailbox_filter, m->uniqueid) || strlen(m->uniqueid) > PBXSTATE_MAX_KEY_BYTES
		|| m->new_msgs < 0 || m->old_msgs < 0) {
		return;
	}
	counts.new_messages = (uint32_t) m->new_msgs;
	counts.old_messages = (uint32_t) m->old_msgs;
	counts.urgent_messages = m->urgent_msgs > 0 ? (uint32_t) m->urgent_msgs : 0;
	tv = stasis_message_timestamp(msg);
	published_ns = (int64_t) tv->tv_sec * 1000000000LL + (int64_t) tv->tv_usec * 1000LL;
	found = pbxstate_engine_mailbox(l->engine, m->uniqueid, strlen(m->uniqueid), &current) == PBXSTATE_OK;
	differs = !found || current.counts.new_messages != counts.new_messages
		|| current.counts.old_messages != counts.old_messages
		|| current.counts.urgent_messages != counts.urgent_messages;
	if (differs && (!found || published_ns > current.hlc_physical_ns)) {
		apply_mailbox(l, m->uniqueid, &counts);
	}
}

/* Calls `fn` for every message of `type` this server published into `cache`. */
static void for_each_own(struct pbxstate_local *l, struct stasis_cache *cache, struct stasis_message_type *type,
	void (*fn)(struct pbxstate_local *l, struct stasis_message *msg))
{
	struct ao2_container *messages = stasis_cache_dump_by_eid(cache, type, &ast_eid_default);
	struct ao2_iterator it;
	struct stasis_message *msg;

	if (!messages) {
		return;
	}
	it = ao2_iterator_init(messages, 0);
	while ((msg = ao2_iterator_next(&it))) {
		fn(l, msg);
		ao2_ref(msg, -1);
	}
	ao2_iterator_destroy(&it);
	ao2_ref(messages, -1);
}

void pbxstate_local_resync(struct pbxstate_local *l, int with_mwi)
{
	l->counters.resyncs++;
	if (l->settings->publish_devstate) {
		for_each_own(l, ast_device_state_cache(), ast_device_state_message_type(), resync_device);
	}
	if (l->settings->publish_mwi && with_mwi) {
		for_each_own(l, ast_mwi_state_cache(), ast_mwi_state_type(), resync_mailbox);
	}
	if (l->settings->share_registrations) {
		pbxstate_registrations_sync_begin(l->registrations);
		if (pbxstate_contacts_for_each(resync_contact, l) >= 0) {  /* -1: no res_pjsip, nothing read */
			l->counters.contacts_gone += pbxstate_registrations_sync_end(l->registrations, l);
		}
	}
}
