/*
 * The other servers as Asterisk knows them (pbxstate_peers.c): each server announces its engine
 * label "<EID>" or "<EID> <route>", and its changes are published into Asterisk under that EID, so
 * that Asterisk's per-EID caches aggregate the cluster. The table learns a node's EID the first
 * time it is asked and the label is known, and keeps it while the node runs.
 *
 * Threading: the node thread, or a query holding the node's lock.
 */
#ifndef PBXSTATE_PEERS_H
#define PBXSTATE_PEERS_H

#include <stddef.h>

#include "asterisk/utils.h"

#include "pbxstate/c_api.h"
#include "pbxstate_settings.h"

#define PBXSTATE_MAX_PEERS 1024  /* servers remembered (the engine's default max_nodes) */

struct pbxstate_peer {
	pbxstate_node_id node;
	struct ast_eid eid;
	char route[PBXSTATE_MAX_ROUTE + 1];  /* "" when it announced none */
};

struct pbxstate_peers {
	struct pbxstate_peer entries[PBXSTATE_MAX_PEERS];
	size_t count;
};

/* Forgets every server (a new engine: node ids may mean other processes now). */
void pbxstate_peers_reset(struct pbxstate_peers *peers);

/* Node `node`'s EID, learnt from `engine`'s label of it; NULL while unknown, when the label is not
 * an EID, when it is this server's own EID (logged: publishing under it would overwrite our own
 * entries), or when the table is full. */
const struct ast_eid *pbxstate_peers_eid(struct pbxstate_peers *peers, pbxstate_engine *engine, pbxstate_node_id node);

/* Node `node`'s route ("" when none or not known yet). */
const char *pbxstate_peers_route(struct pbxstate_peers *peers, pbxstate_engine *engine, pbxstate_node_id node);

/* Whether `eid` is the EID of a server in the table (NULL: no). */
int pbxstate_peers_has_eid(const struct pbxstate_peers *peers, const struct ast_eid *eid);

#endif
