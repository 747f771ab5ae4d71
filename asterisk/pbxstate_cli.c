/*
 * res_pbxstate's CLI: pbxstate show status | members | devices [like PATTERN] | mailboxes
 * [like PATTERN] | registrations [like PATTERN]. Every command reads the engine through pbxstate_node_query (the node's lock is
 * held while it prints).
 */
#include "asterisk.h"

#include <string.h>
#include <time.h>

#include "asterisk/cli.h"
#include "asterisk/devicestate.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#include "pbxstate/latency_trace.h"

#include "pbxstate_cli.h"
#include "pbxstate_node.h"
#include "pbxstate_settings.h"

#define MAX_MEMBERS 1024

static const char *yes_no(int v)
{
	return v ? "yes" : "no";
}

/* "like PATTERN" matches as a substring, the way Asterisk's own "show ... like" commands do. */
static int like(const char *pattern, const char *name)
{
	return !pattern || strcasestr(name, pattern) != NULL;
}

/* Parses "<base words> [like PATTERN]": NULL pattern when absent; -1 for anything else. */
static int parse_like(struct ast_cli_args *a, int base, const char **pattern)
{
	*pattern = NULL;
	if (a->argc == base) {
		return 0;
	}
	if (a->argc == base + 2 && !strcasecmp(a->argv[base], "like")) {
		*pattern = a->argv[base + 1];
		return 0;
	}
	return -1;
}

/* ---- pbxstate show status -------------------------------------------------------------------- */

struct cli_ctx {
	struct ast_cli_args *a;
	const struct pbxstate_node_view *view;
	const char *pattern;
	size_t shown;
};

static void show_status(const struct pbxstate_node_view *v, void *arg)
{
	struct cli_ctx *ctx = arg;
	int fd = ctx->a->fd;
	const struct pbxstate_settings *s = v->settings;
	const struct pbxstate_local_counters *l = v->local;
	const struct pbxstate_publish_counters *p = v->published;
	char eid[32];

	ast_eid_to_str(eid, sizeof(eid), &ast_eid_default);
	ast_cli(fd, "State:                %s\n", v->state);
	ast_cli(fd, "CPG group:            %s\n", s->group);
	ast_cli(fd, "This server:          node %u, EID %s\n", v->engine ? pbxstate_engine_node_id(v->engine) : 0, eid);
	ast_cli(fd, "Authenticated:        %s\n", v->authenticated ? "yes (cluster key)" : "NO: traffic is unauthenticated");
	ast_cli(fd, "Device state:         publish %s, subscribe %s, filter %s\n", yes_no(s->publish_devstate),
		yes_no(s->subscribe_devstate), s->device_filter.set ? s->device_filter.text : "(all)");
	ast_cli(fd, "MWI:                  publish %s, subscribe %s, filter %s\n", yes_no(s->publish_mwi),
		yes_no(s->subscribe_mwi), s->mailbox_filter.set ? s->mailbox_filter.text : "(all)");
	ast_cli(fd, "Batch window:         %llu ms (up to %llu ms under load)\n", (unsigned long long) s->engine.batch_window_ms,
		(unsigned long long) MAX(s->engine.batch_window_ms, s->engine.batch_window_max_ms));
	ast_cli(fd, "Departure grace:      %llu ms\n", (unsigned long long) s->engine.departure_grace_ms);
	ast_cli(fd, "Inbox:                %zu of %zu (peak %zu), %llu queued, %llu overflow(s), %llu resync(s), "
		"%llu applied at once\n", v->inbox.depth, v->inbox.capacity, v->inbox.peak,
		(unsigned long long) v->inbox.pushed, (unsigned long long) v->inbox.overflows,
		(unsigned long long) l->resyncs, (unsigned long long) v->applied_at_once);
	ast_cli(fd, "Local changes sent:   %llu device state, %llu MWI, %llu contact states, %llu removals (%llu kept out "
		"by filters)\n", (unsigned long long) l->local_devstate, (unsigned long long) l->local_mwi,
		(unsigned long long) l->local_contacts, (unsigned long long) l->local_removed, (unsigned long long) l->filtered);
	ast_cli(fd, "Registrations:        share %s, TTL %llu ms, route '%s', %llu contact(s) read from res_pjsip "
		"at resyncs, %llu gone from it\n", yes_no(s->share_registrations), (unsigned long long) s->registration_ttl_ms,
		s->route, (unsigned long long) l->contacts_read, (unsigned long long) l->contacts_gone);
	ast_cli(fd, "Into Asterisk:        %llu device state, %llu MWI publications, %llu cache entries cleared, "
		"%llu held until their origin's EID was known, %llu kept out by filters\n",
		(unsigned long long) p->published_devstate, (unsigned long long) p->published_mwi,
		(unsigned long long) p->cleared, (unsigned long long) p->unlabeled, (unsigned long long) p->filtered);
	ast_cli(fd, "Engine errors:        %llu; corosync connection attempts %llu\n", (unsigned long long) l->engine_errors,
		(unsigned long long) v->connect_attempts);
	if (v->engine) {
		pbxstate_stats st;
		pbxstate_digest d;
		int i;

		pbxstate_engine_stats(v->engine, &st);
		pbxstate_engine_digest(v->engine, &d);
		ast_cli(fd, "Engine:               %llu frames out (%llu bytes), %llu frames in (%llu bytes)\n",
			(unsigned long long) st.frames_out, (unsigned long long) st.bytes_out,
			(unsigned long long) st.frames_in, (unsigned long long) st.bytes_in);
		ast_cli(fd, "Batching:             %llu local changes in %llu update frames, %llu held while CPG was busy\n",
			(unsigned long long) st.local_changes, (unsigned long long) st.update_frames_sent,
			(unsigned long long) st.changes_held);
		ast_cli(fd, "Entries:              %llu device contributions, %llu mailboxes, %llu registrations "
			"(digest %016llx)\n", (unsigned long long) d.devices, (unsigned long long) d.mailboxes,
			(unsigned long long) d.registrations, (unsigned long long) d.hash);
		ast_cli(fd, "Catch-up:             %llu sessions started, %llu completed, %llu abandoned\n",
			(unsigned long long) st.sync_sessions_started, (unsigned long long) st.sync_sessions_completed,
			(unsigned long long) st.sync_sessions_abandoned);
		/* A donor's resent pages are acknowledged again by the puller; an ack that arrives after
		 * the session finished is refused as "unexpected" below (harmless): shown so that such a
		 * count can be told from a real fault. */
		ast_cli(fd, "Catch-up pages:       %llu sent (%llu resent), %llu received, %llu requests refused\n",
			(unsigned long long) st.sync_pages_sent, (unsigned long long) st.sync_pages_resent,
			(unsigned long long) st.sync_pages_received, (unsigned long long) st.sync_serves_refused);
		ast_cli(fd, "Sites:                %llu frames of others passed on as this site's relay (node_sites)\n",
			(unsigned long long) st.frames_relayed);
		ast_cli(fd, "Membership:           %llu changes, %llu departures\n",
			(unsigned long long) st.membership_changes, (unsigned long long) st.departures);
		ast_cli(fd, "Frames refused:       %llu\n", (unsigned long long) st.total_dropped);
		for (i = 0; i < PBXSTATE_DROP_REASON_COUNT; i++) {
			if (st.dropped[i]) {
				ast_cli(fd, "  %-20s %llu\n", pbxstate_drop_reason_name(i), (unsigned long long) st.dropped[i]);
			}
		}
	}
	if (v->host) {
		pbxstate_cpg_host_stats h;
		pbxstate_cpg_host_stats_get(v->host, &h);
		ast_cli(fd, "CPG:                  %llu messages sent, %llu received, %llu try-again, queue %llu "
			"(%llu full), %llu reconnects, %llu failed connects\n",
			(unsigned long long) (h.broadcasts_sent + h.unicasts_sent), (unsigned long long) h.messages_received,
			(unsigned long long) h.try_again, (unsigned long long) h.queue_frames, (unsigned long long) h.queue_full,
			(unsigned long long) (h.connects > 0 ? h.connects - 1 : 0), (unsigned long long) h.connect_failures);
	}
}

static char *handle_show_status(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	struct cli_ctx ctx = { a, NULL, NULL, 0 };

	switch (cmd) {
	case CLI_INIT:
		e->command = "pbxstate show status";
		e->usage = "Usage: pbxstate show status\n"
			"       The cluster node's state, settings and counters.\n";
		return NULL;
	case CLI_GENERATE:
		return NULL;
	}
	if (a->argc != 3) {
		return CLI_SHOWUSAGE;
	}
	if (pbxstate_node_query(show_status, &ctx)) {
		ast_cli(a->fd, "pbxstate is not running (see the log for why)\n");
	}
	return CLI_SUCCESS;
}

/* ---- pbxstate show members ------------------------------------------------------------------- */

static void show_members(const struct pbxstate_node_view *v, void *arg)
{
	struct cli_ctx *ctx = arg;
	pbxstate_node_id members[MAX_MEMBERS];
	size_t count = 0, i;
	char eid[32];

	if (!v->engine) {
		ast_cli(ctx->a->fd, "Not in the cluster yet: %s\n", v->state);
		return;
	}
	pbxstate_engine_members(v->engine, members, ARRAY_LEN(members), &count);
	ast_cli(ctx->a->fd, "%-10s %-18s %s\n", "Node", "EID", "");
	for (i = 0; i < count && i < ARRAY_LEN(members); i++) {
		const char *text = pbxstate_node_eid_text(v, members[i], eid, sizeof(eid));
		ast_cli(ctx->a->fd, "%-10u %-18s %s\n", members[i], ast_strlen_zero(text) ? "(not known yet)" : text,
			members[i] == pbxstate_engine_node_id(v->engine) ? "this server" : "");
	}
	ast_cli(ctx->a->fd, "%zu server%s\n", count, ESS(count));
}

static char *handle_show_members(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	struct cli_ctx ctx = { a, NULL, NULL, 0 };

	switch (cmd) {
	case CLI_INIT:
		e->command = "pbxstate show members";
		e->usage = "Usage: pbxstate show members\n"
			"       The servers the cluster counts as live, with their Asterisk EIDs.\n";
		return NULL;
	case CLI_GENERATE:
		return NULL;
	}
	if (a->argc != 3) {
		return CLI_SHOWUSAGE;
	}
	if (pbxstate_node_query(show_members, &ctx)) {
		ast_cli(a->fd, "pbxstate is not running (see the log for why)\n");
	}
	return CLI_SUCCESS;
}

/* ---- pbxstate show devices [like PATTERN] ---------------------------------------------------- */

static void print_device(void *user, const char *device, size_t len, int aggregate,
	const pbxstate_contribution *contributions, size_t count)
{
	struct cli_ctx *ctx = user;
	struct ast_str *line;
	size_t i;
	(void) len;

	if (!like(ctx->pattern, device)) {
		return;
	}
	line = ast_str_create(128);
	if (!line) {
		return;
	}
	for (i = 0; i < count; i++) {
		char eid[32];
		const char *text = pbxstate_node_eid_text(ctx->view, contributions[i].node, eid, sizeof(eid));
		ast_str_append(&line, 0, "%s%s=%s", i ? " " : "",
			ast_strlen_zero(text) ? "?" : text, ast_devstate_str(contributions[i].state));
	}
	ast_cli(ctx->a->fd, "%-32s %-12s %s\n", device, aggregate < 0 ? "(none)" : ast_devstate_str(aggregate),
		ast_str_buffer(line));
	ast_free(line);
	ctx->shown++;
}

static void show_devices(const struct pbxstate_node_view *v, void *arg)
{
	struct cli_ctx *ctx = arg;

	if (!v->engine) {
		ast_cli(ctx->a->fd, "Not in the cluster yet: %s\n", v->state);
		return;
	}
	ctx->view = v;
	ast_cli(ctx->a->fd, "%-32s %-12s %s\n", "Device", "Cluster", "Per server (EID=state)");
	pbxstate_engine_for_each_device(v->engine, print_device, ctx);
	ast_cli(ctx->a->fd, "%zu device%s\n", ctx->shown, ESS(ctx->shown));
}

static char *handle_show_devices(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	struct cli_ctx ctx = { a, NULL, NULL, 0 };

	switch (cmd) {
	case CLI_INIT:
		e->command = "pbxstate show devices";
		e->usage = "Usage: pbxstate show devices [like PATTERN]\n"
			"       Every shared device: the cluster-wide state and each server's part.\n";
		return NULL;
	case CLI_GENERATE:
		return NULL;
	}
	if (parse_like(a, 3, &ctx.pattern)) {
		return CLI_SHOWUSAGE;
	}
	if (pbxstate_node_query(show_devices, &ctx)) {
		ast_cli(a->fd, "pbxstate is not running (see the log for why)\n");
	}
	return CLI_SUCCESS;
}

/* ---- pbxstate show mailboxes [like PATTERN] -------------------------------------------------- */

static void print_mailbox(void *user, const char *mailbox, size_t len, const pbxstate_mailbox_value *value)
{
	struct cli_ctx *ctx = user;
	char eid[32];
	const char *text;
	(void) len;

	if (!like(ctx->pattern, mailbox)) {
		return;
	}
	text = pbxstate_node_eid_text(ctx->view, value->writer, eid, sizeof(eid));
	ast_cli(ctx->a->fd, "%-32s %6u %6u %6u %s\n", mailbox, value->counts.new_messages, value->counts.old_messages,
		value->counts.urgent_messages, ast_strlen_zero(text) ? "?" : text);
	ctx->shown++;
}

static void show_mailboxes(const struct pbxstate_node_view *v, void *arg)
{
	struct cli_ctx *ctx = arg;

	if (!v->engine) {
		ast_cli(ctx->a->fd, "Not in the cluster yet: %s\n", v->state);
		return;
	}
	ctx->view = v;
	ast_cli(ctx->a->fd, "%-32s %6s %6s %6s %s\n", "Mailbox", "New", "Old", "Urgent", "Written by (EID)");
	pbxstate_engine_for_each_mailbox(v->engine, print_mailbox, ctx);
	ast_cli(ctx->a->fd, "%zu mailbox%s\n", ctx->shown, ctx->shown == 1 ? "" : "es");
}

static char *handle_show_mailboxes(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	struct cli_ctx ctx = { a, NULL, NULL, 0 };

	switch (cmd) {
	case CLI_INIT:
		e->command = "pbxstate show mailboxes";
		e->usage = "Usage: pbxstate show mailboxes [like PATTERN]\n"
			"       Every shared mailbox: the cluster-wide counts and the server that wrote them.\n";
		return NULL;
	case CLI_GENERATE:
		return NULL;
	}
	if (parse_like(a, 3, &ctx.pattern)) {
		return CLI_SHOWUSAGE;
	}
	if (pbxstate_node_query(show_mailboxes, &ctx)) {
		ast_cli(a->fd, "pbxstate is not running (see the log for why)\n");
	}
	return CLI_SUCCESS;
}

/* ---- pbxstate show registrations [like PATTERN] ---------------------------------------------- */

static void print_registration(void *user, const char *aor, size_t len, const pbxstate_registration_view *r)
{
	struct cli_ctx *ctx = user;
	char eid[32];
	const char *route;
	struct timespec now;
	int64_t left_s;
	(void) len;

	if (!like(ctx->pattern, aor)) {
		return;
	}
	route = pbxstate_node_route(ctx->view, r->node);
	if (ast_strlen_zero(route)) {
		route = pbxstate_node_eid_text(ctx->view, r->node, eid, sizeof(eid));
	}
	clock_gettime(CLOCK_REALTIME, &now);
	left_s = (r->info.expires_ns - ((int64_t) now.tv_sec * 1000000000LL + now.tv_nsec)) / 1000000000LL;
	ast_cli(ctx->a->fd, "%-24s %-20s %-11s %8lld %s%s%s%s%s%s\n", aor, ast_strlen_zero(route) ? "?" : route,
		r->info.status == PBXSTATE_CONTACT_REACHABLE ? "Reachable" : "Unreachable", (long long) left_s, r->info.contact,
		r->info.user_agent_len ? " ua='" : "", r->info.user_agent, r->info.user_agent_len ? "'" : "",
		r->info.path_len ? " path=" : "", r->info.path);
	ctx->shown++;
}

static void show_registrations(const struct pbxstate_node_view *v, void *arg)
{
	struct cli_ctx *ctx = arg;

	if (!v->engine) {
		ast_cli(ctx->a->fd, "Not in the cluster yet: %s\n", v->state);
		return;
	}
	ctx->view = v;
	ast_cli(ctx->a->fd, "%-24s %-20s %-11s %8s %s\n", "AOR", "Server", "Status", "Expires",
		"Contact [ua='User-Agent'] [path=Path]");
	pbxstate_engine_for_each_registration(v->engine, print_registration, ctx);
	ast_cli(ctx->a->fd, "%zu registration%s\n", ctx->shown, ESS(ctx->shown));
}

static char *handle_show_registrations(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	struct cli_ctx ctx = { a, NULL, NULL, 0 };

	switch (cmd) {
	case CLI_INIT:
		e->command = "pbxstate show registrations";
		e->usage = "Usage: pbxstate show registrations [like PATTERN]\n"
			"       Every live registration in the cluster: the AOR, the server holding it (its route or EID),\n"
			"       the contact's status, seconds until it lapses, and the contact, with its user agent and\n"
			"       path when it has them.\n";
		return NULL;
	case CLI_GENERATE:
		return NULL;
	}
	if (parse_like(a, 3, &ctx.pattern)) {
		return CLI_SHOWUSAGE;
	}
	if (pbxstate_node_query(show_registrations, &ctx)) {
		ast_cli(a->fd, "pbxstate is not running (see the log for why)\n");
	}
	return CLI_SUCCESS;
}

#ifdef PBXSTATE_LATENCY_TRACE
static void trace_line(void *user, const char *text)
{
	ast_cli(*(const int *) user, "%s\n", text);
}

/* The latency trace's stamps (a measurement build only: pbxstate/latency_trace.h), one per line,
 * for bench/asterisk/trace_stages.py; "clear" forgets them. */
static char *handle_show_trace(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	int fd;

	switch (cmd) {
	case CLI_INIT:
		e->command = "pbxstate show trace";
		e->usage = "Usage: pbxstate show trace [clear]\n"
			"       Lists the latency trace's stamps: <ns> <thread id> <stage>; 'clear' forgets them.\n";
		return NULL;
	case CLI_GENERATE:
		return NULL;
	}
	if (a->argc == 4 && !strcasecmp(a->argv[3], "clear")) {
		pbxstate_trace_clear();
		return CLI_SUCCESS;
	}
	if (a->argc != 3) {
		return CLI_SHOWUSAGE;
	}
	fd = a->fd;
	ast_cli(a->fd, "%zu stamps\n", pbxstate_trace_dump(trace_line, &fd));
	return CLI_SUCCESS;
}
#endif

static struct ast_cli_entry cli_commands[] = {
#ifdef PBXSTATE_LATENCY_TRACE
	AST_CLI_DEFINE(handle_show_trace, "Show the latency trace's stamps (a measurement build)"),
#endif
	AST_CLI_DEFINE(handle_show_status, "Show the pbxstate cluster node's state and counters"),
	AST_CLI_DEFINE(handle_show_members, "Show the servers in the pbxstate cluster"),
	AST_CLI_DEFINE(handle_show_devices, "Show the device states shared by the pbxstate cluster"),
	AST_CLI_DEFINE(handle_show_mailboxes, "Show the mailboxes shared by the pbxstate cluster"),
	AST_CLI_DEFINE(handle_show_registrations, "Show the registrations shared by the pbxstate cluster"),
};

int pbxstate_cli_register(void)
{
	return ast_cli_register_multiple(cli_commands, ARRAY_LEN(cli_commands));
}

void pbxstate_cli_unregister(void)
{
	ast_cli_unregister_multiple(cli_commands, ARRAY_LEN(cli_commands));
}
