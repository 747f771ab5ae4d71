/*
 * The cluster node inside Asterisk: one pbxstate engine over Corosync CPG on a thread of its own
 * (pbxstate_node.c), and the parts it runs, each with its own state:
 *
 *   pbxstate_inbox.c          this server's changes from Asterisk's stasis threads to the node
 *   pbxstate_local.c          ...and from the inbox into the engine (filters, resync)
 *   pbxstate_registrations.c  this server's PJSIP registrations in the location table
 *   pbxstate_publish.c        the cluster's changes back into Asterisk's caches, with the origin's EID
 *   pbxstate_peers.c          the other servers' EIDs and routes, from their engine labels
 *
 * Asterisk's threads never wait for the engine: a stasis callback hands its change to the engine
 * itself only when it gets the node's lock at once and the inbox is empty (a lone change: no
 * thread hop, no wake-up of the node thread), and appends it to the inbox otherwise (a burst, or
 * the node busy); the node's thread drains the inbox into the engine, dispatches CPG traffic and
 * timers, and publishes the cluster's changes into Asterisk. One mutex (the node's lock)
 * serialises the engine, the parts and the settings between the thread, the callbacks' lone
 * changes, reload and the CLI's queries.
 */
#ifndef PBXSTATE_NODE_H
#define PBXSTATE_NODE_H

#include <stdint.h>

#include "pbxstate/c_api.h"
#include "pbxstate/corosync/c_cpg_host.h"
#include "pbxstate_inbox.h"
#include "pbxstate_local.h"
#include "pbxstate_publish.h"

struct pbxstate_peers;
struct pbxstate_settings;

/* What a query sees, valid during the query callback only. */
struct pbxstate_node_view {
	pbxstate_engine *engine;              /* NULL until corosync answered */
	pbxstate_cpg_host *host;
	const struct pbxstate_settings *settings;
	const char *state;                    /* "waiting for corosync", "joined", ... */
	int authenticated;
	uint64_t connect_attempts;            /* tries to reach corosync */
	const struct pbxstate_local_counters *local;
	const struct pbxstate_publish_counters *published;
	struct pbxstate_inbox_stats inbox;
	uint64_t applied_at_once;             /* local changes the stasis callbacks applied themselves */
	struct pbxstate_peers *peers;
};

/* Starts the node with settings `s` (copied): opens the inbox and the host, loads the keys,
 * starts the thread, which connects to corosync (retrying every second) and then joins. 0, or -1
 * after logging why (a key file refused, a descriptor that cannot be opened). Call from
 * load/reload only. */
int pbxstate_node_start(const struct pbxstate_settings *s);

/* Stops the thread, leaves the group (flushing for up to 2 s), destroys the engine, clears every
 * entry this node published into Asterisk's caches, and closes the inbox. No-op when not started. */
void pbxstate_node_stop(void);

/* Applies the live-changeable settings (switches, filters, keys) of `s` to the running node:
 * entries that no longer pass are cleared from Asterisk's caches, newly passing ones published,
 * local state re-read. 0, or -1 after logging why (a key file refused: the old keys stay). */
int pbxstate_node_reconfigure(const struct pbxstate_settings *s);

/* Asks the thread to re-read this server's device states from Asterisk's caches (after
 * subscribing, so that a change published before the subscription is not missed). */
void pbxstate_node_request_resync(void);

/* From a stasis callback: applies this server's change `msg` to the engine now (and sends it, when
 * the transport is idle) if the node's lock is free at once and the inbox holds nothing (so it
 * comes after every change pushed before it) and no change went so within the batch window.
 * Returns 1 when applied; 0 when the caller must push it to the inbox (lock busy, inbox not empty,
 * within the window, node not joined, or called on the node thread: pbxstate_at_once.h). Never
 * blocks on the node. */
int pbxstate_node_apply_at_once(struct stasis_message *msg);

/* Runs fn with the node locked (engine calls allowed: queries only). -1 when not started. */
typedef void (*pbxstate_node_query_fn)(const struct pbxstate_node_view *view, void *arg);
int pbxstate_node_query(pbxstate_node_query_fn fn, void *arg);

/* The route node `node` announced ("" when none or not known yet), from inside a query. */
const char *pbxstate_node_route(const struct pbxstate_node_view *view, pbxstate_node_id node);

/* The EID (as text) of node `node`, from inside a query; "" when not known. `buf` >= 18 bytes. */
const char *pbxstate_node_eid_text(const struct pbxstate_node_view *view, pbxstate_node_id node, char *buf, size_t len);

#endif
