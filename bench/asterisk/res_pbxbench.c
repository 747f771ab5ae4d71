/*
 * res_pbxbench: the load and the probe of the Asterisk benchmark (bench/asterisk/README.md).
 *
 * On the origin server it publishes device states straight into stasis, as a channel driver does
 * (ast_publish_device_state, this server's EID, cachable), as fast as Asterisk takes them. On the
 * other server it counts what arrives on Asterisk's device state and MWI topics under the origin's
 * EID, with CLOCK_MONOTONIC times: both servers run on one host, in network namespaces, so an
 * arrival time minus a publish time is the end-to-end latency. Whatever clustering module runs
 * (res_pbxstate, res_corosync, none) is measured from the outside, by what Asterisk's own topics
 * carry.
 *
 * CLI (all times in ns of CLOCK_MONOTONIC):
 *   pbxbench publish <prefix> <count> <devices> [<first round>]
 *                                                 change i: device <prefix>/<i % devices> to INUSE
 *                                                 on even rounds (first round + i / devices),
 *                                                 NOT_INUSE on odd; then <prefix>/end-<n> to INUSE
 *                                                 (the marker; n counts the publish commands),
 *                                                 on a thread of its own; the CLI answers at once
 *   pbxbench published                            whether the run is over, and its start and end
 *   pbxbench verify <prefix> <devices> <state> <eid|local>
 *                                                 how many of <prefix>/0..devices-1 are not in
 *                                                 `state` in Asterisk's cache under that EID
 *   pbxbench ping <device> <state>                one change; prints its publish time
 *   pbxbench mwi <mailbox@context> <new> <old>    one MWI update; prints its publish time
 *   pbxbench series device|mwi <prefix> <count> <interval ms>
 *                                                 <count> single changes <interval> apart, on a
 *                                                 thread of its own (the CLI answers at once):
 *                                                 device <prefix>/<k> INUSE or BUSY (k even, odd),
 *                                                 or MWI <7000 + k>@<prefix> (new messages
 *                                                 k % 5 + 1 + 10 x the series' number: a series
 *                                                 on mailboxes an earlier one created changes
 *                                                 them); no console process of the harness runs
 *                                                 while they travel
 *   pbxbench series_times                         whether the series runs, then "<name> <publish
 *                                                 time>" per change published
 *   pbxbench watch <prefix> <eid|local>           counts device states of <prefix>/... and MWI from
 *                                                 that EID from now on (resets the counters)
 *   pbxbench report                               what the watch saw
 *   pbxbench arrival <device|mailbox>             when it first arrived since the watch ("-" if not)
 *   pbxbench arrivals                             "<name> <time>" per name the watch saw arrive
 *   pbxbench as <eid|local>                       the EID every publication above is made under
 *                                                 from now on: local (the default), this server's,
 *                                                 as a channel driver publishes; another EID, as a
 *                                                 clustering module publishes a remote server's
 *                                                 change on the server that receives it (see
 *                                                 publish_device): with no module loaded, what a
 *                                                 remote change costs this Asterisk at the least
 *
 * Built next to res_pbxstate (bench/asterisk/CMakeLists.txt), never installed.
 */

/*** MODULEINFO
	<support_level>extended</support_level>
 ***/

#include "asterisk.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asterisk/astobj2.h"
#include "asterisk/cli.h"
#include "asterisk/devicestate.h"
#include "asterisk/lock.h"
#include "asterisk/module.h"
#include "asterisk/mwi.h"
#include "asterisk/stasis.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#define MAX_NAMED 4096  /* single arrivals remembered per watch (latency probes) */
#define NAME_BYTES 80
#define MAX_SERIES 1000  /* changes per series (latency probes) */

static struct stasis_subscription *devstate_sub;
static struct stasis_subscription *mwi_sub;

/* The watch; under `lock`. */
AST_MUTEX_DEFINE_STATIC(lock);
static struct {
	int active;
	char prefix[NAME_BYTES];
	size_t prefix_len;
	int local;             /* watch this server's own EID (the floor: no clustering module) */
	struct ast_eid origin;
	uint64_t arrivals, mwi_arrivals;
	int64_t first_ns, last_ns, marker_ns;
	size_t named;
	struct {
		char name[NAME_BYTES];
		int64_t at_ns;
	} names[MAX_NAMED];
} watch;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* `pbxbench as`: the EID publications are made under; set between runs, read by the publishing
 * threads (a run or series is not started while it changes: the harness sets it first). */
static struct {
	int foreign;
	struct ast_eid eid;
} as;

/* One device state change. Under this server's EID: ast_publish_device_state, as a channel driver
 * does. Under another server's: the least a clustering module can make the receiving Asterisk do
 * for a remote change, which is what res_pbxstate's receive path publishes
 * (asterisk/pbxstate_publish.c, publish_changed_device): the message
 * ast_publish_device_state_full() would build, published straight to devicestate:all (no look-up
 * of the cached state, none of the device's own topic); the cache, its aggregate, hints and every
 * other subscriber still run for it. */
static void publish_device(const char *name, enum ast_device_state state)
{
	const size_t len = strlen(name) + 1;
	struct ast_device_state_message *d;
	struct stasis_message *msg;
	char *copy;

	if (!as.foreign) {
		ast_publish_device_state(name, state, AST_DEVSTATE_CACHABLE);
		return;
	}
	d = ao2_alloc_options(sizeof(*d) + sizeof(as.eid) + len, NULL, AO2_ALLOC_OPT_LOCK_NOLOCK);
	if (!d) {
		return;
	}
	d->stuff[0] = as.eid;
	d->eid = &d->stuff[0];
	copy = (char *) &d->stuff[1];
	memcpy(copy, name, len);
	d->device = copy;
	d->state = state;
	d->cachable = AST_DEVSTATE_CACHABLE;
	msg = stasis_message_create_full(ast_device_state_message_type(), d, &as.eid);
	ao2_ref(d, -1);
	if (msg) {
		stasis_publish(ast_device_state_topic_all(), msg);
		ao2_ref(msg, -1);
	}
}

/* One MWI update, under this server's EID or (`pbxbench as`) another's, as res_pbxstate and
 * res_corosync publish a remote one (ast_publish_mwi_state_full with the writer's EID). */
static void publish_mwi(const char *mailbox, const char *context, int new_msgs, int old_msgs)
{
	ast_publish_mwi_state_full(mailbox, context, new_msgs, old_msgs, NULL, as.foreign ? &as.eid : NULL);
}

static int from_watched(const struct ast_eid *eid)
{
	if (!eid) {
		return 0;  /* an aggregate */
	}
	return watch.local ? !ast_eid_cmp(eid, &ast_eid_default) : !ast_eid_cmp(eid, &watch.origin);
}

/* Under `lock`. */
static void remember(const char *name, int64_t now)
{
	size_t i;
	for (i = 0; i < watch.named; i++) {
		if (!strcmp(watch.names[i].name, name)) {
			return;
		}
	}
	if (watch.named < MAX_NAMED) {
		ast_copy_string(watch.names[watch.named].name, name, NAME_BYTES);
		watch.names[watch.named++].at_ns = now;
	}
}

static void on_devstate(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	const struct ast_device_state_message *d;
	int64_t now = mono_ns();
	(void) data;
	(void) sub;

	if (stasis_message_type(msg) != ast_device_state_message_type()) {
		return;
	}
	d = stasis_message_data(msg);
	ast_mutex_lock(&lock);
	if (watch.active && from_watched(d->eid) && !strncmp(d->device, watch.prefix, watch.prefix_len)
		&& d->device[watch.prefix_len] == '/') {
		if (!watch.arrivals++) {
			watch.first_ns = now;
		}
		watch.last_ns = now;
		if (!strncmp(d->device + watch.prefix_len + 1, "end-", 4)) {
			watch.marker_ns = now;
		}
		remember(d->device, now);
	}
	ast_mutex_unlock(&lock);
}

static void on_mwi(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	const struct ast_mwi_state *m;
	int64_t now = mono_ns();
	(void) data;
	(void) sub;

	if (stasis_message_type(msg) != ast_mwi_state_type()) {
		return;
	}
	m = stasis_message_data(msg);
	ast_mutex_lock(&lock);
	if (watch.active && from_watched(&m->eid)) {
		watch.mwi_arrivals++;
		remember(m->uniqueid, now);
	}
	ast_mutex_unlock(&lock);
}

/* The publishing run: one at a time, on a thread of its own so that the CLI answers at once
 * (a remote console gives up on a command that runs for long). Under `lock`. */
static struct {
	int running;
	char prefix[NAME_BYTES];
	unsigned long count, devices, first_round, markers;
	int64_t start_ns, end_ns;
} run;

static void *publish_thread(void *arg)
{
	char name[NAME_BYTES];
	unsigned long i;
	int64_t start = mono_ns(), end;
	(void) arg;

	for (i = 0; i < run.count; i++) {
		snprintf(name, sizeof(name), "%s/%lu", run.prefix, i % run.devices);
		publish_device(name, (run.first_round + i / run.devices) % 2 ? AST_DEVICE_NOT_INUSE : AST_DEVICE_INUSE);
	}
	snprintf(name, sizeof(name), "%s/end-%lu", run.prefix, run.markers);
	publish_device(name, AST_DEVICE_INUSE);
	end = mono_ns();
	ast_mutex_lock(&lock);
	run.start_ns = start;
	run.end_ns = end;
	run.running = 0;
	ast_mutex_unlock(&lock);
	return NULL;
}

static char *cli_publish(struct ast_cli_args *a)
{
	unsigned long count, devices, first_round = 0;
	pthread_t thread;

	if ((a->argc != 5 && a->argc != 6) || sscanf(a->argv[3], "%lu", &count) != 1
		|| sscanf(a->argv[4], "%lu", &devices) != 1 || !devices || strlen(a->argv[2]) > NAME_BYTES - 32
		|| (a->argc == 6 && sscanf(a->argv[5], "%lu", &first_round) != 1)) {
		return CLI_SHOWUSAGE;
	}
	ast_mutex_lock(&lock);
	if (run.running) {
		ast_mutex_unlock(&lock);
		ast_cli(a->fd, "busy\n");
		return CLI_FAILURE;
	}
	run.running = 1;
	ast_copy_string(run.prefix, a->argv[2], sizeof(run.prefix));
	run.count = count;
	run.devices = devices;
	run.first_round = first_round;
	run.markers++;
	run.start_ns = run.end_ns = 0;
	ast_mutex_unlock(&lock);
	if (ast_pthread_create_detached(&thread, NULL, publish_thread, NULL)) {
		ast_mutex_lock(&lock);
		run.running = 0;
		ast_mutex_unlock(&lock);
		ast_cli(a->fd, "cannot start the publishing thread\n");
		return CLI_FAILURE;
	}
	ast_cli(a->fd, "publishing %lu\n", count);
	return CLI_SUCCESS;
}

static char *cli_published(struct ast_cli_args *a)
{
	ast_mutex_lock(&lock);
	ast_cli(a->fd, "running %d start_ns %lld end_ns %lld\n", run.running, (long long) run.start_ns,
		(long long) run.end_ns);
	ast_mutex_unlock(&lock);
	return CLI_SUCCESS;
}

static char *cli_ping(struct ast_cli_args *a)
{
	int state;
	int64_t at;

	if (a->argc != 4 || (state = ast_devstate_val(a->argv[3])) == AST_DEVICE_UNKNOWN) {
		return CLI_SHOWUSAGE;
	}
	at = mono_ns();
	publish_device(a->argv[2], state);
	ast_cli(a->fd, "published_ns %lld\n", (long long) at);
	return CLI_SUCCESS;
}

static char *cli_mwi(struct ast_cli_args *a)
{
	char box[NAME_BYTES];
	char *context;
	int new_msgs, old_msgs;
	int64_t at;

	if (a->argc != 5 || sscanf(a->argv[3], "%d", &new_msgs) != 1 || sscanf(a->argv[4], "%d", &old_msgs) != 1) {
		return CLI_SHOWUSAGE;
	}
	ast_copy_string(box, a->argv[2], sizeof(box));
	context = strchr(box, '@');
	if (context) {
		*context++ = '\0';
	}
	at = mono_ns();
	publish_mwi(box, context, new_msgs, old_msgs);
	ast_cli(a->fd, "published_ns %lld\n", (long long) at);
	return CLI_SUCCESS;
}

/* A series of single changes, for latency: published by a thread of this module, so that the
 * harness only looks (two console commands) after the series is over. Under `lock`. */
static struct {
	int running, mwi;
	char prefix[NAME_BYTES];
	/* series started so far: a series on mailboxes an earlier one created sets other counts, so
	 * every update is a change (the existing-mailbox case: a count changes under a lit lamp) */
	unsigned long count, interval_ms, done, generation;
	int64_t published_ns[MAX_SERIES];
} series;

static void series_name(unsigned long k, char *name, size_t len)
{
	if (series.mwi) {
		snprintf(name, len, "%lu@%s", 7000 + k, series.prefix);
	} else {
		snprintf(name, len, "%s/%lu", series.prefix, k);
	}
}

static void *series_thread(void *arg)
{
	char name[NAME_BYTES];
	unsigned long k;
	int64_t at;
	(void) arg;

	for (k = 0; k < series.count; k++) {
		usleep(series.interval_ms * 1000);
		series_name(k, name, sizeof(name));
		at = mono_ns();
		if (series.mwi) {
			char *context = strchr(name, '@');
			*context++ = '\0';
			publish_mwi(name, context, (int) (k % 5 + 1 + 10 * (series.generation % 100)), (int) (k % 3));
		} else {
			publish_device(name, k % 2 ? AST_DEVICE_BUSY : AST_DEVICE_INUSE);
		}
		ast_mutex_lock(&lock);
		series.published_ns[k] = at;
		series.done = k + 1;
		ast_mutex_unlock(&lock);
	}
	ast_mutex_lock(&lock);
	series.running = 0;
	ast_mutex_unlock(&lock);
	return NULL;
}

static char *cli_series(struct ast_cli_args *a)
{
	unsigned long count, interval_ms;
	pthread_t thread;

	if (a->argc != 6 || (strcasecmp(a->argv[2], "device") && strcasecmp(a->argv[2], "mwi"))
		|| strlen(a->argv[3]) > NAME_BYTES - 32 || sscanf(a->argv[4], "%lu", &count) != 1 || !count
		|| count > MAX_SERIES || sscanf(a->argv[5], "%lu", &interval_ms) != 1 || interval_ms > 10000) {
		return CLI_SHOWUSAGE;
	}
	ast_mutex_lock(&lock);
	if (series.running) {
		ast_mutex_unlock(&lock);
		ast_cli(a->fd, "busy\n");
		return CLI_FAILURE;
	}
	series.running = 1;
	series.mwi = !strcasecmp(a->argv[2], "mwi");
	ast_copy_string(series.prefix, a->argv[3], sizeof(series.prefix));
	series.count = count;
	series.interval_ms = interval_ms;
	series.done = 0;
	series.generation++;
	ast_mutex_unlock(&lock);
	if (ast_pthread_create_detached(&thread, NULL, series_thread, NULL)) {
		ast_mutex_lock(&lock);
		series.running = 0;
		ast_mutex_unlock(&lock);
		ast_cli(a->fd, "cannot start the series thread\n");
		return CLI_FAILURE;
	}
	ast_cli(a->fd, "series of %lu\n", count);
	return CLI_SUCCESS;
}

static char *cli_series_times(struct ast_cli_args *a)
{
	char name[NAME_BYTES];
	unsigned long k;

	ast_mutex_lock(&lock);
	ast_cli(a->fd, "running %d\n", series.running);
	for (k = 0; k < series.done; k++) {
		series_name(k, name, sizeof(name));
		ast_cli(a->fd, "%s %lld\n", name, (long long) series.published_ns[k]);
	}
	ast_mutex_unlock(&lock);
	return CLI_SUCCESS;
}

static char *cli_watch(struct ast_cli_args *a)
{
	struct ast_eid eid;
	int local;

	if (a->argc != 4 || strlen(a->argv[2]) >= NAME_BYTES) {
		return CLI_SHOWUSAGE;
	}
	local = !strcasecmp(a->argv[3], "local");
	if (!local && ast_str_to_eid(&eid, a->argv[3])) {
		return CLI_SHOWUSAGE;
	}
	ast_mutex_lock(&lock);
	memset(&watch, 0, sizeof(watch));
	ast_copy_string(watch.prefix, a->argv[2], sizeof(watch.prefix));
	watch.prefix_len = strlen(watch.prefix);
	watch.local = local;
	if (!local) {
		watch.origin = eid;
	}
	watch.active = 1;
	ast_mutex_unlock(&lock);
	ast_cli(a->fd, "watching %s/ from %s\n", a->argv[2], a->argv[3]);
	return CLI_SUCCESS;
}

static char *cli_report(struct ast_cli_args *a)
{
	ast_mutex_lock(&lock);
	ast_cli(a->fd, "arrivals %llu mwi_arrivals %llu first_ns %lld last_ns %lld marker_ns %lld now_ns %lld\n",
		(unsigned long long) watch.arrivals, (unsigned long long) watch.mwi_arrivals, (long long) watch.first_ns,
		(long long) watch.last_ns, (long long) watch.marker_ns, (long long) mono_ns());
	ast_mutex_unlock(&lock);
	return CLI_SUCCESS;
}

static char *cli_arrival(struct ast_cli_args *a)
{
	size_t i;

	if (a->argc != 3) {
		return CLI_SHOWUSAGE;
	}
	ast_mutex_lock(&lock);
	for (i = 0; i < watch.named && strcmp(watch.names[i].name, a->argv[2]); i++) {
	}
	if (i < watch.named) {
		ast_cli(a->fd, "arrived_ns %lld\n", (long long) watch.names[i].at_ns);
	} else {
		ast_cli(a->fd, "arrived_ns -\n");
	}
	ast_mutex_unlock(&lock);
	return CLI_SUCCESS;
}

static char *cli_arrivals(struct ast_cli_args *a)
{
	size_t i;

	ast_mutex_lock(&lock);
	for (i = 0; i < watch.named; i++) {
		ast_cli(a->fd, "%s %lld\n", watch.names[i].name, (long long) watch.names[i].at_ns);
	}
	ast_mutex_unlock(&lock);
	return CLI_SUCCESS;
}

static char *cli_as(struct ast_cli_args *a)
{
	struct ast_eid eid;

	if (a->argc != 3) {
		return CLI_SHOWUSAGE;
	}
	if (!strcasecmp(a->argv[2], "local")) {
		as.foreign = 0;
	} else if (ast_str_to_eid(&eid, a->argv[2]) || !ast_eid_cmp(&eid, &ast_eid_default)) {
		ast_cli(a->fd, "not an EID of another server: %s\n", a->argv[2]);
		return CLI_SHOWUSAGE;
	} else {
		as.eid = eid;
		as.foreign = 1;
	}
	ast_cli(a->fd, "publishing as %s\n", a->argv[2]);
	return CLI_SUCCESS;
}

static char *cli_verify(struct ast_cli_args *a)
{
	unsigned long devices, i, wrong = 0, missing = 0;
	char name[NAME_BYTES];
	struct ast_eid eid;
	int state;

	if (a->argc != 6 || sscanf(a->argv[3], "%lu", &devices) != 1
		|| (state = ast_devstate_val(a->argv[4])) == AST_DEVICE_UNKNOWN) {
		return CLI_SHOWUSAGE;
	}
	if (!strcasecmp(a->argv[5], "local")) {
		eid = ast_eid_default;
	} else if (ast_str_to_eid(&eid, a->argv[5])) {
		return CLI_SHOWUSAGE;
	}
	for (i = 0; i < devices; i++) {
		struct stasis_message *msg;
		snprintf(name, sizeof(name), "%s/%lu", a->argv[2], i);
		msg = stasis_cache_get_by_eid(ast_device_state_cache(), ast_device_state_message_type(), name, &eid);
		if (!msg) {
			missing++;
			continue;
		}
		if ((int) ((const struct ast_device_state_message *) stasis_message_data(msg))->state != state) {
			wrong++;
		}
		ao2_ref(msg, -1);
	}
	ast_cli(a->fd, "checked %lu missing %lu wrong %lu\n", devices, missing, wrong);
	return CLI_SUCCESS;
}

static char *handle_pbxbench(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	switch (cmd) {
	case CLI_INIT:
		e->command = "pbxbench";
		e->usage = "Usage: pbxbench publish|published|ping|mwi|series|series_times|watch|report|arrival|arrivals|verify|as ... (bench/asterisk/res_pbxbench.c)\n";
		return NULL;
	case CLI_GENERATE:
		return NULL;
	}
	if (a->argc < 2) {
		return CLI_SHOWUSAGE;
	}
	if (!strcasecmp(a->argv[1], "publish")) {
		return cli_publish(a);
	} else if (!strcasecmp(a->argv[1], "published")) {
		return cli_published(a);
	} else if (!strcasecmp(a->argv[1], "ping")) {
		return cli_ping(a);
	} else if (!strcasecmp(a->argv[1], "mwi")) {
		return cli_mwi(a);
	} else if (!strcasecmp(a->argv[1], "watch")) {
		return cli_watch(a);
	} else if (!strcasecmp(a->argv[1], "report")) {
		return cli_report(a);
	} else if (!strcasecmp(a->argv[1], "arrival")) {
		return cli_arrival(a);
	} else if (!strcasecmp(a->argv[1], "arrivals")) {
		return cli_arrivals(a);
	} else if (!strcasecmp(a->argv[1], "series")) {
		return cli_series(a);
	} else if (!strcasecmp(a->argv[1], "series_times")) {
		return cli_series_times(a);
	} else if (!strcasecmp(a->argv[1], "verify")) {
		return cli_verify(a);
	} else if (!strcasecmp(a->argv[1], "as")) {
		return cli_as(a);
	}
	return CLI_SHOWUSAGE;
}

static struct ast_cli_entry cli_entries[] = {
	AST_CLI_DEFINE(handle_pbxbench, "pbxstate benchmark load and probe"),
};

static struct stasis_subscription *subscribe_one(struct stasis_topic *topic, stasis_subscription_cb cb,
	struct stasis_message_type *type)
{
	struct stasis_subscription *sub = stasis_subscribe(topic, cb, NULL);
	if (sub) {
		stasis_subscription_accept_message_type(sub, type);
		stasis_subscription_set_filter(sub, STASIS_SUBSCRIPTION_FILTER_SELECTIVE);
	}
	return sub;
}

static int unload_module(void)
{
	ast_cli_unregister_multiple(cli_entries, ARRAY_LEN(cli_entries));
	devstate_sub = stasis_unsubscribe_and_join(devstate_sub);
	mwi_sub = stasis_unsubscribe_and_join(mwi_sub);
	return 0;
}

static int load_module(void)
{
	devstate_sub = subscribe_one(ast_device_state_topic_all(), on_devstate, ast_device_state_message_type());
	mwi_sub = subscribe_one(ast_mwi_topic_all(), on_mwi, ast_mwi_state_type());
	if (!devstate_sub || !mwi_sub || ast_cli_register_multiple(cli_entries, ARRAY_LEN(cli_entries))) {
		unload_module();
		return AST_MODULE_LOAD_DECLINE;
	}
	return AST_MODULE_LOAD_SUCCESS;
}

AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_DEFAULT, "pbxstate benchmark load and probe",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = load_module,
	.unload = unload_module,
);
