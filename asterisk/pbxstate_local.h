/*
 * This server's own state into the engine (pbxstate_local.c): the messages of the inbox (device
 * states, MWI, PJSIP contact states) through the publish switches and filters, and the re-read of
 * Asterisk's caches (a resync) at start, periodically, after an inbox overflow and after a
 * reconfigure.
 *
 * Threading: the node thread, with the node's lock held.
 */
#ifndef PBXSTATE_LOCAL_H
#define PBXSTATE_LOCAL_H

#include <stdint.h>

#include "pbxstate/c_api.h"

struct pbxstate_registrations;
struct pbxstate_settings;
struct stasis_message;

struct pbxstate_local_counters {
	uint64_t local_devstate;  /* local device state changes handed to the engine */
	uint64_t local_mwi;       /* local MWI changes handed to the engine */
	uint64_t local_removed;   /* local device states cleared and mailboxes deleted (Asterisk's cache
	                           * clears), handed to the engine as removals */
	uint64_t local_contacts;  /* local PJSIP contact-state events applied */
	uint64_t contacts_read;   /* contacts a resync found in res_pjsip that the engine lacked (or had with
	                           * another path or user agent), told to it */
	uint64_t contacts_gone;   /* contacts a resync no longer found in res_pjsip, removed (their Removed
	                           * event was lost) */
	uint64_t filtered;        /* local changes a filter or switch kept out */
	uint64_t resyncs;         /* re-reads of Asterisk's caches into the engine */
	uint64_t engine_errors;   /* engine calls refused (logged) */
};

struct pbxstate_local {
	/* Set by the node when it creates its engine; the settings are the node's own. */
	pbxstate_engine *engine;
	pbxstate_node_id self;
	const struct pbxstate_settings *settings;
	struct pbxstate_registrations *registrations;
	struct pbxstate_local_counters counters;
};

/* Applies one message of the inbox (its reference stays the caller's): a device state, an MWI
 * state, a contact state, or Asterisk's cache clear of this server's device state
 * (ast_device_state_clear_cache) or mailbox (ast_delete_mwi_state_full), which removes this
 * node's contribution to the device (pbxstate_engine_remove_device) or the mailbox cluster-wide
 * (pbxstate_engine_remove_mailbox). */
void pbxstate_local_apply(struct pbxstate_local *l, struct stasis_message *msg);

/* Re-reads this server's own state from Asterisk's caches into the engine: device states always,
 * res_pjsip's contacts when registrations are shared (pbxstate_contacts.h: those registered
 * before the module loaded are learnt here, those res_pjsip no longer holds are removed), MWI
 * when `with_mwi`. Device states are this server's own contributions: re-applying one is
 * always right. A mailbox is one cluster-wide value (latest write wins), so a cached local MWI is
 * re-applied only when it was published after the cluster's current value was written; otherwise
 * a stale local cache would overwrite a newer write from another server. At start the cluster's
 * value may still be on its way (catch-up), so the node's first resync leaves MWI out. */
void pbxstate_local_resync(struct pbxstate_local *l, int with_mwi);

/* Counts and logs an engine call that was refused. */
void pbxstate_local_engine_error(struct pbxstate_local *l, const char *what, const char *key, int rc);

#endif
