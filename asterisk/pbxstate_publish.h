/*
 * The way back: the cluster's changes into Asterisk's stasis caches (pbxstate_publish.c).
 *
 * A remote device contribution is published under its origin server's EID
 * (ast_publish_device_state_full), so Asterisk's per-EID cache aggregates the cluster for hints,
 * queues and DEVICE_STATE(); a contribution that ends (departure, restart) is cleared from that
 * cache. A mailbox is one cluster-wide value (the latest write wins), published under its writer's
 * EID, and deleted from the MWI cache when another server removes it. Changes whose origin's EID is not known yet (its label arrives with its first frames) are
 * published by a reconcile pass once it is.
 *
 * Threading: the node thread (inside engine calls: the engine's listener), or with the node's lock
 * held.
 */
#ifndef PBXSTATE_PUBLISH_H
#define PBXSTATE_PUBLISH_H

#include <stdint.h>

#include "pbxstate/c_api.h"

struct pbxstate_peers;
struct pbxstate_settings;

struct pbxstate_publish_counters {
	uint64_t published_devstate;  /* remote device states published into Asterisk */
	uint64_t published_mwi;       /* remote MWI states published into Asterisk */
	uint64_t cleared;             /* Asterisk cache entries of departed servers, withdrawn devices and
	                               * removed mailboxes cleared */
	uint64_t unlabeled;           /* remote changes held back: origin's EID not known yet */
	uint64_t filtered;            /* remote changes a filter or switch kept out */
};

struct pbxstate_publisher {
	/* Set by the node when it creates its engine; the settings are the node's own. */
	pbxstate_engine *engine;
	pbxstate_node_id self;
	struct pbxstate_peers *peers;
	const struct pbxstate_settings *settings;
	/* A reconcile pass is wanted (some origin's EID was missing), not before reconcile_due_ns. */
	int reconcile_needed;
	int64_t reconcile_due_ns;
	struct pbxstate_publish_counters counters;
};

/* The engine listener that publishes `p`'s changes (p must outlive the engine's use of it). */
pbxstate_listener pbxstate_publisher_listener(struct pbxstate_publisher *p);

/* Publishes every remote contribution and mailbox the settings want whose origin's EID is known
 * (Asterisk drops a cachable state equal to the cached one, so only news is published), and
 * schedules another pass in a second if some EID was still missing. */
void pbxstate_publisher_reconcile(struct pbxstate_publisher *p, int64_t now_ns);

/* Clears from Asterisk's caches what was published under the other servers' EIDs: everything
 * (keep_wanted 0: the node stops), or what the settings no longer want (after a reconfigure). */
void pbxstate_publisher_prune(struct pbxstate_publisher *p, int keep_wanted);

/* Whether the settings let the other servers' `device` / `mailbox` into Asterisk. */
int pbxstate_publisher_wants_device(const struct pbxstate_publisher *p, const char *device);
int pbxstate_publisher_wants_mailbox(const struct pbxstate_publisher *p, const char *mailbox);

#endif
