/*
 * The cluster node inside Asterisk: one pbxstate engine over Corosync CPG on a thread of its own.
 *
 * Asterisk's threads never call the engine. Local changes (the stasis subscriptions of
 * pbxstate_stasis.c) go through a bounded queue; the node's thread drains it into the engine,
 * dispatches CPG traffic and timers, and publishes the cluster's changes back into Asterisk with
 * the origin server's EID. When the queue is full a change is not lost: the queue is marked
 * overflowed and the thread re-reads this server's device and MWI state from Asterisk's caches
 * (a resync). One mutex serialises the engine between the thread and the CLI's queries.
 */
#ifndef PBXSTATE_NODE_H
#define PBXSTATE_NODE_H

#include <stdint.h>

#include "pbxstate/c_api.h"
#include "pbxstate/corosync/c_cpg_host.h"

struct pbxstate_settings;

/* The module's own counters (pbxstate show status). */
struct pbxstate_node_counters {
	uint64_t local_devstate;       /* local device state changes queued for the cluster */
	uint64_t local_mwi;            /* local MWI changes queued for the cluster */
	uint64_t local_contacts;       /* local PJSIP contact-state events queued for the cluster */
	uint64_t filtered;             /* local or remote changes a filter or switch kept out */
	uint64_t queue_overflows;      /* changes that met a full queue (each triggers a resync) */
	uint64_t resyncs;              /* re-reads of Asterisk's caches into the engine */
	uint64_t published_devstate;   /* remote device states published into Asterisk */
	uint64_t published_mwi;        /* remote MWI states published into Asterisk */
	uint64_t cleared;              /* Asterisk cache entries of departed servers cleared */
	uint64_t unlabeled;            /* remote changes held back: origin's EID not known yet */
	uint64_t engine_errors;        /* engine calls refused (logged) */
	uint64_t connect_attempts;     /* tries to reach corosync */
};

/* What a query sees, valid during the query callback only. */
struct pbxstate_node_view {
	pbxstate_engine *engine;              /* NULL until corosync answered */
	pbxstate_cpg_host *host;
	const struct pbxstate_settings *settings;
	const struct pbxstate_node_counters *counters;
	const char *state;                    /* "waiting for corosync", "joined", ... */
	size_t queue_depth, queue_capacity;
	int authenticated;
};

/* Starts the node with settings `s` (copied): opens the host, loads the keys, starts the thread,
 * which connects to corosync (retrying every second) and then joins. 0, or -1 after logging why
 * (a key file refused, a descriptor that cannot be opened). Call from load/reload only. */
int pbxstate_node_start(const struct pbxstate_settings *s);

/* Stops the thread, leaves the group (flushing for up to 2 s), destroys the engine, and clears
 * every entry this node published into Asterisk's caches. No-op when not started. */
void pbxstate_node_stop(void);

/* Applies the live-changeable settings (switches, filters, keys) of `s` to the running node:
 * entries that no longer pass are cleared from Asterisk's caches, newly passing ones published,
 * local state re-read. 0, or -1 after logging why (a key file refused: the old keys stay). */
int pbxstate_node_reconfigure(const struct pbxstate_settings *s);

/* From Asterisk's threads (stasis callbacks): a local change. Filtered, then queued. */
void pbxstate_node_local_device(const char *device, int state);
void pbxstate_node_local_mailbox(const char *uniqueid, int new_msgs, int old_msgs, int urgent_msgs);

/* Asks the thread to re-read this server's state from Asterisk's caches (after subscribing, so
 * that a change published before the subscription is not missed). */
void pbxstate_node_request_resync(void);

/* From the endpoint topic: a PJSIP contact-state event of this server (res_pjsip's labels:
 * Reachable, Unreachable, Unknown, NonQualified, Removed). Queued like the others. */
void pbxstate_node_local_contact(const char *aor, const char *uri, const char *status);

/* Runs fn with the node locked (engine calls allowed: queries only). -1 when not started. */
typedef void (*pbxstate_node_query_fn)(const struct pbxstate_node_view *view, void *arg);
int pbxstate_node_query(pbxstate_node_query_fn fn, void *arg);

/* The route node `node` announced ("" when none or not known yet), from inside a query. */
const char *pbxstate_node_route(const struct pbxstate_node_view *view, pbxstate_node_id node);

/* The EID (as text) of node `node`, from inside a query; "" when not known. `buf` >= 18 bytes. */
const char *pbxstate_node_eid_text(const struct pbxstate_node_view *view, pbxstate_node_id node, char *buf, size_t len);

#endif
