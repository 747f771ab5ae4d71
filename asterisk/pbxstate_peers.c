/*
 * The other servers' EIDs and routes, from their engine labels (pbxstate_peers.h).
 */
#include "asterisk.h"

#include <string.h>

#include "asterisk/logger.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#include "pbxstate_peers.h"

void pbxstate_peers_reset(struct pbxstate_peers *peers)
{
	peers->count = 0;
}

static struct pbxstate_peer *find(struct pbxstate_peers *peers, pbxstate_node_id node)
{
	size_t i;
	for (i = 0; i < peers->count; i++) {
		if (peers->entries[i].node == node) {
			return &peers->entries[i];
		}
	}
	return NULL;
}

/* Learns node `node` from its label: "<EID>" or "<EID> <route>" (pbxstate_node.c announces it). */
static struct pbxstate_peer *learn(struct pbxstate_peers *peers, pbxstate_engine *engine, pbxstate_node_id node)
{
	char label[65];
	char *route;
	struct ast_eid eid;
	struct pbxstate_peer *p;

	if (!engine || pbxstate_engine_node_label(engine, node, label, sizeof(label), NULL) != PBXSTATE_OK
		|| ast_strlen_zero(label)) {
		return NULL;
	}
	route = strchr(label, ' ');
	if (route) {
		*route++ = '\0';
	}
	if (strlen(label) != 17 || ast_str_to_eid(&eid, label)) {
		return NULL;
	}
	if (!ast_eid_cmp(&eid, &ast_eid_default)) {
		ast_log(LOG_ERROR, "pbxstate: node %u announces this server's own EID %s; its state is ignored "
			"(give every server its own entityid in asterisk.conf)\n", node, label);
		return NULL;
	}
	if (peers->count == PBXSTATE_MAX_PEERS) {
		return NULL;
	}
	p = &peers->entries[peers->count++];
	p->node = node;
	p->eid = eid;
	ast_copy_string(p->route, route ? route : "", sizeof(p->route));
	return p;
}

const struct ast_eid *pbxstate_peers_eid(struct pbxstate_peers *peers, pbxstate_engine *engine, pbxstate_node_id node)
{
	struct pbxstate_peer *p = find(peers, node);
	if (!p) {
		p = learn(peers, engine, node);
	}
	return p ? &p->eid : NULL;
}

const char *pbxstate_peers_route(struct pbxstate_peers *peers, pbxstate_engine *engine, pbxstate_node_id node)
{
	struct pbxstate_peer *p = find(peers, node);
	if (!p) {
		p = learn(peers, engine, node);
	}
	return p ? p->route : "";
}

int pbxstate_peers_has_eid(const struct pbxstate_peers *peers, const struct ast_eid *eid)
{
	size_t i;
	if (!eid) {
		return 0;
	}
	for (i = 0; i < peers->count; i++) {
		if (!ast_eid_cmp(&peers->entries[i].eid, eid)) {
			return 1;
		}
	}
	return 0;
}
