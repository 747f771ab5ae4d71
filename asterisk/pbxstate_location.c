/*
 * PBXSTATE_LOCATION(aor[,field]): where the cluster's shared registration table says an AOR can
 * be reached, for the dialplan (asterisk/README.md, "Routing calls"; sample dialplan in
 * asterisk/extensions.conf.sample).
 */
#include "asterisk.h"

#include <string.h>

#include "asterisk/app.h"
#include "asterisk/pbx.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#include "pbxstate_location.h"
#include "pbxstate_node.h"
#include "pbxstate_settings.h"

/*** DOCUMENTATION
	<function name="PBXSTATE_LOCATION" language="en_US">
		<synopsis>
			The cluster server that holds a live registration of an AOR.
		</synopsis>
		<syntax>
			<parameter name="aor" required="true" />
			<parameter name="field">
				<enumlist>
					<enum name="server"><para>The route the server announced (route in pbxstate.conf), or its EID when it announced none. The default.</para></enum>
					<enum name="eid"><para>The server's Entity ID.</para></enum>
					<enum name="node"><para>The server's corosync node id.</para></enum>
					<enum name="contact"><para>The chosen registration's contact URI.</para></enum>
					<enum name="path"><para>The chosen contact's Path (the REGISTER's Path headers as res_pjsip stored them, with support_path on the AOR); empty when none.</para></enum>
					<enum name="user_agent"><para>The chosen contact's User-Agent; empty when none.</para></enum>
					<enum name="contacts"><para>Every live contact URI of the AOR on every server, separated by &amp;, ordered by node id, then URI (at most 2047 bytes: contacts that do not fit are left out, with a warning).</para></enum>
					<enum name="local"><para>1 when this server holds a live registration, else 0.</para></enum>
					<enum name="count"><para>How many live contacts the AOR has on all servers together (a server holds one per contact URI).</para></enum>
				</enumlist>
			</parameter>
		</syntax>
		<description>
			<para>Empty when no server holds a live registration. With several contacts, the chosen one is this server's first, then a reachable one, then the lowest node id's (then the smallest URI).</para>
		</description>
	</function>
 ***/

struct location_query {
	const char *aor;
	size_t count;
	int have;                 /* a candidate was chosen */
	int is_local;
	pbxstate_node_id node;
	int reachable;
	char contact[PBXSTATE_MAX_CONTACT_BYTES + 1];
	char path[PBXSTATE_MAX_CONTACT_BYTES + 1];        /* the chosen contact's */
	char user_agent[PBXSTATE_MAX_CONTACT_BYTES + 1];  /* the chosen contact's */
	pbxstate_node_id self;
	char route[PBXSTATE_MAX_ROUTE + 1];
	char eid[32];
	char contacts[2048];      /* every live contact, '&'-separated */
	size_t contacts_len;
	int contacts_cut;         /* a contact did not fit */
};

/* Appends `uri` to q->contacts when it fits whole. */
static void add_contact(struct location_query *q, const char *uri)
{
	size_t n = strlen(uri);
	size_t sep = q->contacts_len ? 1 : 0;

	if (q->contacts_len + sep + n >= sizeof(q->contacts)) {
		q->contacts_cut = 1;
		return;
	}
	if (sep) {
		q->contacts[q->contacts_len++] = '&';
	}
	memcpy(q->contacts + q->contacts_len, uri, n);
	q->contacts_len += n;
	q->contacts[q->contacts_len] = '\0';
}

/* Better: this server first, then reachable, then the lowest node id (the engine's order). */
static void consider(void *user, const char *aor, size_t aor_len, const pbxstate_registration_view *r)
{
	struct location_query *q = user;
	int reachable = r->info.status == PBXSTATE_CONTACT_REACHABLE;
	int local = r->node == q->self;
	(void) aor;
	(void) aor_len;

	add_contact(q, r->info.contact);
	if (q->have && (q->is_local || (!local && (q->reachable || !reachable)))) {
		return;
	}
	q->have = 1;
	q->is_local = local;
	q->node = r->node;
	q->reachable = reachable;
	ast_copy_string(q->contact, r->info.contact, sizeof(q->contact));
	ast_copy_string(q->path, r->info.path, sizeof(q->path));
	ast_copy_string(q->user_agent, r->info.user_agent, sizeof(q->user_agent));
}

static void locate(const struct pbxstate_node_view *view, void *arg)
{
	struct location_query *q = arg;

	if (!view->engine) {
		return;
	}
	q->self = pbxstate_engine_node_id(view->engine);
	pbxstate_engine_registrations(view->engine, q->aor, strlen(q->aor), consider, q, &q->count);
	if (q->have) {
		ast_copy_string(q->route, pbxstate_node_route(view, q->node), sizeof(q->route));
		pbxstate_node_eid_text(view, q->node, q->eid, sizeof(q->eid));
	}
}

static int location_read(struct ast_channel *chan, const char *cmd, char *data, char *buf, size_t len)
{
	struct location_query q;
	AST_DECLARE_APP_ARGS(args,
		AST_APP_ARG(aor);
		AST_APP_ARG(field);
	);
	(void) chan;

	buf[0] = '\0';
	AST_STANDARD_APP_ARGS(args, data);
	if (ast_strlen_zero(args.aor)) {
		ast_log(LOG_WARNING, "%s: an AOR is required: %s(aor[,field])\n", cmd, cmd);
		return -1;
	}
	memset(&q, 0, sizeof(q));
	q.aor = args.aor;
	if (pbxstate_node_query(locate, &q)) {
		return 0;  /* not running: nobody known to hold it */
	}
	if (ast_strlen_zero(args.field) || !strcasecmp(args.field, "server")) {
		if (q.have) {
			ast_copy_string(buf, ast_strlen_zero(q.route) ? q.eid : q.route, len);
		}
	} else if (!strcasecmp(args.field, "eid")) {
		if (q.have) {
			ast_copy_string(buf, q.eid, len);
		}
	} else if (!strcasecmp(args.field, "node")) {
		if (q.have) {
			snprintf(buf, len, "%u", q.node);
		}
	} else if (!strcasecmp(args.field, "contact")) {
		if (q.have) {
			ast_copy_string(buf, q.contact, len);
		}
	} else if (!strcasecmp(args.field, "path")) {
		if (q.have) {
			ast_copy_string(buf, q.path, len);
		}
	} else if (!strcasecmp(args.field, "user_agent")) {
		if (q.have) {
			ast_copy_string(buf, q.user_agent, len);
		}
	} else if (!strcasecmp(args.field, "local")) {
		ast_copy_string(buf, q.have && q.is_local ? "1" : "0", len);
	} else if (!strcasecmp(args.field, "contacts")) {
		if (q.contacts_cut) {
			ast_log(LOG_WARNING, "%s: the contacts of %s are longer than %zu bytes; some are left out\n", cmd, q.aor,
				sizeof(q.contacts) - 1);
		}
		ast_copy_string(buf, q.contacts, len);
	} else if (!strcasecmp(args.field, "count")) {
		snprintf(buf, len, "%zu", q.count);
	} else {
		ast_log(LOG_WARNING, "%s: unknown field '%s' (server, eid, node, contact, path, user_agent, contacts, local, count)\n", cmd,
			args.field);
		return -1;
	}
	return 0;
}

static struct ast_custom_function location_function = {
	.name = "PBXSTATE_LOCATION",
	.read = location_read,
};

int pbxstate_location_register(void)
{
	return ast_custom_function_register(&location_function);
}

void pbxstate_location_unregister(void)
{
	ast_custom_function_unregister(&location_function);
}
