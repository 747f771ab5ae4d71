/*
 * The cluster node inside Asterisk (pbxstate_node.h): its life cycle, its thread, its keys, and
 * the queries of the CLI and PBXSTATE_LOCATION.
 */
#include "asterisk.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asterisk/astobj2.h"
#include "asterisk/lock.h"
#include "asterisk/logger.h"
#include "asterisk/stasis.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#include "pbxstate/latency_trace.h"

#include "pbxstate_at_once.h"
#include "pbxstate_inbox.h"
#include "pbxstate_local.h"
#include "pbxstate_node.h"
#include "pbxstate_peers.h"
#include "pbxstate_publish.h"
#include "pbxstate_receive_priority.h"
#include "pbxstate_registrations.h"
#include "pbxstate_settings.h"

#define CONNECT_RETRY_NS 1000000000LL   /* corosync not there: try again every second */
#define POLL_MAX_MS 1000                /* the thread looks at `stop` at least this often */
#define FLUSH_ON_STOP_MS 2000
/* The safety net under the stasis subscription: a change published while the module was
 * subscribing can miss both the subscription and the first resync; a re-read of Asterisk's caches
 * repairs it. 10 s after joining, then at doubling intervals up to 10 minutes: each pass costs
 * O(devices) (100,000 devices: a dump of Asterisk's cache), and after the first ones only the
 * inbox's overflow (which asks for its own pass) could still leave something out. */
#define LOCAL_RESYNC_FIRST_NS 10000000000LL
#define LOCAL_RESYNC_MAX_NS 600000000000LL
#define MAX_DRAIN_PER_ROUND 4096        /* inbox messages per round, so CPG is dispatched between */
#define DRAIN_BATCH 256                 /* ...taken from the inbox this many at a time */
/* After a drain, the next one waits this long (at most the batch window): in a burst the stasis
 * threads push faster than one change at a time would be worth a wake-up of the node thread, and
 * the engine holds those changes for its pacing anyway. Draining at every push woke the node
 * thread for nearly every change (the inbox was empty again each time): two context switches per
 * change, 5 times the CPU of a burst of changes to existing devices. */
#define DRAIN_GAP_NS 2000000LL
/* A drain that took at least this many changes was in a burst: the thread comes back after the gap
 * by itself, and pushes meanwhile do not wake it (pbxstate_inbox_disarm_wake). Fewer (a lone change,
 * or none: the burst is over) and the next push wakes it again. */
#define DRAIN_BURST_CHANGES 2
/* libcpg's cpg_dispatch() keeps a 1 MiB receive buffer on the caller's stack (corosync's
 * IPC_DISPATCH_SIZE); Asterisk's default thread stack (about 500 KiB) overflows on the first large
 * delivery. */
#define NODE_THREAD_STACK (4u << 20)

/* Serialises everything in `node` but `stop` between the thread, reload and queries. */
AST_MUTEX_DEFINE_STATIC(node_lock);

/* node_lock taken and released, each hold counted for this thread (pbxstate_at_once.h): a thread
 * that holds it never applies a change at once. */
static void node_lock_take(void)
{
	ast_mutex_lock(&node_lock);
	pbxstate_at_once_lock_taken();
}

static void node_lock_give(void)
{
	pbxstate_at_once_lock_released();
	ast_mutex_unlock(&node_lock);
}

static struct {
	pthread_t thread;
	int started;
	volatile int stop;
	pbxstate_cpg_host *host;
	pbxstate_engine *engine;
	char state[64];
	int authenticated;
	uint64_t connect_attempts;
	int64_t connect_due_ns;
	int64_t local_resync_due_ns;
	int64_t local_resync_interval_ns;
	struct pbxstate_settings settings;
	uint8_t key[PBXSTATE_CLUSTER_KEY_BYTES];
	uint8_t previous_key[PBXSTATE_CLUSTER_KEY_BYTES];
	int has_key, has_previous_key;
	struct pbxstate_peers peers;
	struct pbxstate_publisher publisher;
	struct pbxstate_local local;
	struct pbxstate_registrations registrations;
	uint64_t applied_at_once;
	int64_t batch_window_ns;        /* the engine's batch_window_ms */
	struct pbxstate_at_once at_once; /* when a stasis thread may apply a change itself */
	int inbox_waiting;              /* the inbox holds changes (or a burst goes on) not drained yet */
	int64_t drain_due_ns;           /* no drain of the inbox before this */
} node;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void host_log(void *user, int level, const char *message, size_t len)
{
	(void) user;
	switch (level) {
	case PBXSTATE_LOG_DEBUG: ast_debug(1, "pbxstate: %.*s\n", (int) len, message); break;
	case PBXSTATE_LOG_INFO: ast_verb(3, "pbxstate: %.*s\n", (int) len, message); break;
	case PBXSTATE_LOG_WARNING: ast_log(LOG_WARNING, "pbxstate: %.*s\n", (int) len, message); break;
	default: ast_log(LOG_ERROR, "pbxstate: %.*s\n", (int) len, message); break;
	}
}

/* ---- Keys ------------------------------------------------------------------------------------ */

/* Loads the key files of `s` into the node. 0, or -1 after logging (nothing changed). */
static int load_keys(const struct pbxstate_settings *s)
{
	uint8_t key[PBXSTATE_CLUSTER_KEY_BYTES], previous[PBXSTATE_CLUSTER_KEY_BYTES];
	char err[512];

	if (!ast_strlen_zero(s->key_file)
		&& pbxstate_load_cluster_key(s->key_file, key, sizeof(key), err, sizeof(err)) != PBXSTATE_OK) {
		ast_log(LOG_ERROR, "%s: option 'cluster_key_file': %s\n", PBXSTATE_CONFIG_FILE, err);
		return -1;
	}
	if (!ast_strlen_zero(s->previous_key_file)
		&& pbxstate_load_cluster_key(s->previous_key_file, previous, sizeof(previous), err, sizeof(err)) != PBXSTATE_OK) {
		ast_log(LOG_ERROR, "%s: option 'previous_key_file': %s\n", PBXSTATE_CONFIG_FILE, err);
		return -1;
	}
	node.has_key = !ast_strlen_zero(s->key_file);
	node.has_previous_key = !ast_strlen_zero(s->previous_key_file);
	if (node.has_key) {
		memcpy(node.key, key, sizeof(key));
	}
	if (node.has_previous_key) {
		memcpy(node.previous_key, previous, sizeof(previous));
	}
	return 0;
}

static pbxstate_cluster_keys current_keys(void)
{
	pbxstate_cluster_keys keys = { NULL, 0, NULL, 0 };
	if (node.has_key) {
		keys.key = node.key;
		keys.key_len = sizeof(node.key);
	}
	if (node.has_previous_key) {
		keys.previous = node.previous_key;
		keys.previous_len = sizeof(node.previous_key);
	}
	return keys;
}

/* ---- Joining ----------------------------------------------------------------------------- */

/* The engine's configuration from the settings; `label` (the EID and route the others learn this
 * server by) must outlive the call that uses the result. */
static void engine_config(pbxstate_config *cfg, char *label, size_t label_len)
{
	char eid[32];
	struct timespec wall;

	pbxstate_config_init(cfg);
	ast_eid_to_str(eid, sizeof(eid), &ast_eid_default);
	clock_gettime(CLOCK_REALTIME, &wall);
	cfg->incarnation = (uint64_t) wall.tv_sec * 1000000ull + (uint64_t) wall.tv_nsec / 1000ull;
	if (ast_strlen_zero(node.settings.route)) {
		ast_copy_string(label, eid, label_len);
	} else {
		snprintf(label, label_len, "%s %s", eid, node.settings.route);
	}
	cfg->label = label;
	pbxstate_engine_options_apply(&node.settings.engine, cfg);  /* every engine option of pbxstate.conf */
	cfg->node_sites = node.settings.node_sites[0] ? node.settings.node_sites : NULL;  /* copied at create */
	cfg->max_key_bytes = PBXSTATE_MAX_KEY_BYTES;
	cfg->max_contact_bytes = PBXSTATE_MAX_CONTACT_BYTES;
	cfg->cluster_keys = current_keys();
}

/* The parts work on the new engine from now on. */
static void attach_parts(void)
{
	const pbxstate_node_id self = pbxstate_engine_node_id(node.engine);

	pbxstate_peers_reset(&node.peers);
	node.publisher.engine = node.engine;
	node.publisher.self = self;
	node.publisher.peers = &node.peers;
	node.publisher.settings = &node.settings;
	node.local.engine = node.engine;
	node.local.self = self;
	node.local.settings = &node.settings;
	node.local.registrations = &node.registrations;
}

/* Called with node_lock held: connects to corosync and creates the engine. 0 on success. */
static int try_join(void)
{
	char err[512];
	char label[PBXSTATE_MAX_ROUTE + 32];
	pbxstate_config cfg;
	pbxstate_listener listener;

	node.connect_attempts++;
	if (pbxstate_cpg_host_connect(node.host, err, sizeof(err)) != PBXSTATE_OK) {
		if (node.connect_attempts == 1 || node.connect_attempts % 60 == 0) {
			ast_log(LOG_WARNING, "pbxstate: corosync not reachable (%s); retrying every second\n", err);
		}
		ast_copy_string(node.state, "waiting for corosync", sizeof(node.state));
		return -1;
	}
	engine_config(&cfg, label, sizeof(label));
	node.batch_window_ns = (int64_t) cfg.batch_window_ms * 1000000LL;
	pbxstate_at_once_reset(&node.at_once, node.batch_window_ns);
	node.drain_due_ns = 0;
	if (pbxstate_cpg_host_create_engine(node.host, &cfg, &node.engine, err, sizeof(err)) != PBXSTATE_OK) {
		ast_log(LOG_ERROR, "pbxstate: cannot create the engine: %s\n", err);
		ast_copy_string(node.state, "engine refused its configuration", sizeof(node.state));
		node.stop = 1;
		return -1;
	}
	attach_parts();
	listener = pbxstate_publisher_listener(&node.publisher);
	pbxstate_engine_set_listener(node.engine, &listener);
	pbxstate_engine_start(node.engine);
	node.authenticated = node.has_key;
	if (!node.has_key) {
		ast_log(LOG_WARNING, "pbxstate: no cluster_key_file: cluster traffic is unauthenticated; anyone who "
			"can join the CPG group can change device state and MWI\n");
	}
	ast_log(LOG_NOTICE, "pbxstate: joined CPG group '%s' as corosync node %u, label '%s', incarnation %llu\n",
		node.settings.group, node.local.self, label, (unsigned long long) cfg.incarnation);
	ast_copy_string(node.state, "joined", sizeof(node.state));
	pbxstate_local_resync(&node.local, 0);
	node.local_resync_interval_ns = LOCAL_RESYNC_FIRST_NS;
	node.local_resync_due_ns = mono_ns() + node.local_resync_interval_ns;
	pbxstate_registrations_refresh(&node.registrations, &node.local, mono_ns());
	return 0;
}

/* ---- The thread ------------------------------------------------------------------------------ */

/* Moves up to MAX_DRAIN_PER_ROUND inbox messages into the engine, then runs a requested resync.
 * Returns how many it moved; MAX_DRAIN_PER_ROUND or more means more messages may wait.
 *
 * Two changes or more, and a resync, are bracketed as one batch (pbxstate_cpg_host_batch_begin/end):
 * they leave together (one flush, full frames), or with the next changes if CPG still carries an
 * earlier message. A lone change is not bracketed: the engine judges it as a change applied at
 * once (pbxstate_node_apply_at_once), and sends it at once when CPG is idle and the quiet gap
 * before it ended the pacing. Bracketed, it waited a whole batch window: the bracket holds it
 * (the transport counts busy), and at the bracket's end the engine judges the pacing with that
 * change as its last activity, so a quiet gap before it no longer counts once the pacing had grown
 * past the window (each flush of held changes doubles it): a 21.2 ms median for lone changes
 * 50 ms apart that all took the inbox, 0.96 ms unbracketed (asterisk/README.md, the nineteenth run). */
static size_t drain_inbox(void)
{
	struct stasis_message *batch[DRAIN_BATCH];
	size_t taken = 0, n, i;
	enum pbxstate_resync resync;
	int bracketed;

	n = pbxstate_inbox_take(batch, ARRAY_LEN(batch));
	bracketed = n > 1;
	if (bracketed) {
		pbxstate_cpg_host_batch_begin(node.host);
	}
	for (;;) {
		for (i = 0; i < n; i++) {
			pbxstate_local_apply(&node.local, batch[i]);
			ao2_ref(batch[i], -1);
		}
		taken += n;
		if (n < ARRAY_LEN(batch) || taken >= MAX_DRAIN_PER_ROUND) {
			break;
		}
		n = pbxstate_inbox_take(batch, ARRAY_LEN(batch));
	}
	resync = pbxstate_inbox_take_resync();
	if (resync != PBXSTATE_RESYNC_NONE) {
		if (!bracketed) {
			pbxstate_cpg_host_batch_begin(node.host);
			bracketed = 1;
		}
		pbxstate_local_resync(&node.local, resync == PBXSTATE_RESYNC_ALL);
	}
	if (bracketed) {
		pbxstate_cpg_host_batch_end(node.host);
	}
	return n == ARRAY_LEN(batch) ? MAX(taken, MAX_DRAIN_PER_ROUND) : taken;
}

/* After a drain of `taken` changes: when the node thread looks at the inbox next, and whether
 * pushes meanwhile wake it. */
static void schedule_next_drain(size_t taken)
{
	if (taken >= MAX_DRAIN_PER_ROUND) {
		node.inbox_waiting = 1;  /* more wait: the next round, after CPG */
		node.drain_due_ns = 0;
		return;
	}
	node.drain_due_ns = mono_ns() + MIN(DRAIN_GAP_NS, node.batch_window_ns);
	if (taken >= DRAIN_BURST_CHANGES) {
		pbxstate_inbox_disarm_wake();
		node.inbox_waiting = 1;  /* back at drain_due_ns, woken by the poll's timeout */
	} else {
		node.inbox_waiting = pbxstate_inbox_arm_wake();
	}
}

/* One round with node_lock held and an engine: CPG (at the receive priority when corosync woke the
 * thread), the inbox (when it woke the thread and its drain is due), the timers (at the thread's
 * own scheduling). */
static void run_round(int cpg_ready)
{
	const char *fatal;
	size_t taken;

	pbxstate_receive_priority_begin(cpg_ready);
	pbxstate_cpg_host_dispatch(node.host);
	pbxstate_receive_priority_end();
	if (node.inbox_waiting && mono_ns() >= node.drain_due_ns) {
		taken = drain_inbox();
		schedule_next_drain(taken);
	}
	if (node.publisher.reconcile_needed && mono_ns() >= node.publisher.reconcile_due_ns) {
		pbxstate_publisher_reconcile(&node.publisher, mono_ns());
	}
	if (mono_ns() >= node.registrations.refresh_due_ns) {
		pbxstate_registrations_refresh(&node.registrations, &node.local, mono_ns());
	}
	if (mono_ns() >= node.local_resync_due_ns) {
		pbxstate_local_resync(&node.local, 1);
		node.local_resync_interval_ns = MIN(2 * node.local_resync_interval_ns, LOCAL_RESYNC_MAX_NS);
		node.local_resync_due_ns = mono_ns() + node.local_resync_interval_ns;
	}
	ast_copy_string(node.state, pbxstate_cpg_host_connected(node.host) ? "joined" : "reconnecting to corosync",
		sizeof(node.state));
	fatal = pbxstate_cpg_host_fatal_error(node.host);
	if (!ast_strlen_zero(fatal)) {
		ast_log(LOG_ERROR, "pbxstate: %s; the node stops (fix it, then 'module reload res_pbxstate')\n", fatal);
		ast_copy_string(node.state, "stopped: fatal transport error", sizeof(node.state));
		node.stop = 1;
	}
}

static void *node_thread(void *arg)
{
	(void) arg;
	pbxstate_at_once_mark_node_thread();
	pbxstate_receive_priority_init(node.settings.receive_priority, node.host);
	while (!node.stop) {
		struct pollfd fds[2] = { { .revents = 0 }, { .revents = 0 } };
		int timeout_ms = POLL_MAX_MS;

		node_lock_take();
		if (!node.engine && mono_ns() >= node.connect_due_ns && try_join()) {
			node.connect_due_ns = mono_ns() + CONNECT_RETRY_NS;
		}
		node_lock_give();
		if (node.stop) {
			break;
		}
		fds[0].fd = pbxstate_inbox_fd();
		fds[0].events = POLLIN;
		fds[1].fd = pbxstate_cpg_host_fd(node.host);
		fds[1].events = POLLIN;
		if (node.engine && node.inbox_waiting) {
			const int64_t wait_ns = node.drain_due_ns - mono_ns();
			timeout_ms = wait_ns <= 0 ? 0 : (int) MIN((wait_ns + 999999) / 1000000, POLL_MAX_MS);
		}
		/* Only corosync is expected: the thread sleeps raised, so that its wake-up takes a CPU at once. */
		pbxstate_receive_priority_sleep(node.engine && !node.inbox_waiting);
		if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR) {
			ast_log(LOG_ERROR, "pbxstate: poll: %s\n", strerror(errno));
			usleep(100000);
		}
		PBXSTATE_TRACE(PBXSTATE_TRACE_RX_POLL);
		if (fds[0].revents & POLLIN) {
			pbxstate_inbox_clear_wake();
			node.inbox_waiting = 1;
		}
		node_lock_take();
		PBXSTATE_TRACE(PBXSTATE_TRACE_RX_LOCKED);
		if (node.engine) {
			run_round((fds[1].revents & POLLIN) != 0);
		}
		node_lock_give();
	}
	return NULL;
}

/* A lone change costs least when the stasis thread that holds it sends it: the node thread would
 * be woken for that one change (a thread hop of 50 to 100 us on two busy cores, and the CPU of a
 * wake-up). Which changes go so, and why never on the node thread: pbxstate_at_once.h. The
 * callback never waits for the node. */
int pbxstate_node_apply_at_once(struct stasis_message *msg)
{
	int applied = 0;
	int64_t now;

	/* Checked before the lock: node_lock is recursive, and the node thread, or a reload or unload
	 * publishing under it, holds it. */
	if (pbxstate_at_once_on_node_thread() || pbxstate_at_once_holds_lock() || ast_mutex_trylock(&node_lock)) {
		return 0;
	}
	pbxstate_at_once_lock_taken();
	PBXSTATE_TRACE(PBXSTATE_TRACE_TX_LOCKED);
	now = mono_ns();
	if (node.engine && !node.stop && pbxstate_at_once_due(&node.at_once, now) && pbxstate_inbox_idle()) {
		pbxstate_at_once_taken(&node.at_once, now);
		/* Not bracketed as a batch: a message is at most one engine change, which the engine sends
		 * inside this call when CPG is idle and the window's pacing is over, and holds otherwise (it
		 * leaves with the next changes). A bracket would hold even a lone change until its end and
		 * arm the engine's flush timer for it: a system call before the send, another after. */
		pbxstate_local_apply(&node.local, msg);
		node.applied_at_once++;
		applied = 1;
	}
	node_lock_give();
	PBXSTATE_TRACE(PBXSTATE_TRACE_TX_DONE);
	return applied;
}

/* ---- Life cycle ------------------------------------------------------------------------------ */

/* Opens what the node runs with; on failure closes what was opened. 0, or -1 after logging. */
static int open_node(const struct pbxstate_settings *s)
{
	pbxstate_cpg_host_config hc;
	char err[512];

	pbxstate_settings_init(&node.settings);
	if (pbxstate_settings_copy(&node.settings, s)) {
		ast_log(LOG_ERROR, "pbxstate: out of memory\n");
	} else if (!load_keys(s) && !pbxstate_registrations_init(&node.registrations)
		&& !pbxstate_inbox_open(s->max_pending)) {
		pbxstate_cpg_host_config_init(&hc);
		hc.group = s->group;
		if (pbxstate_cpg_host_create(&hc, host_log, NULL, &node.host, err, sizeof(err)) == PBXSTATE_OK) {
			return 0;
		}
		ast_log(LOG_ERROR, "%s: option 'group': %s\n", PBXSTATE_CONFIG_FILE, err);
		pbxstate_inbox_close();
	}
	pbxstate_registrations_destroy(&node.registrations);
	pbxstate_settings_free(&node.settings);
	return -1;
}

int pbxstate_node_start(const struct pbxstate_settings *s)
{
	if (node.started) {
		return 0;
	}
	if (open_node(s)) {
		return -1;
	}
	memset(&node.publisher, 0, sizeof(node.publisher));
	memset(&node.local, 0, sizeof(node.local));
	node.engine = NULL;
	node.connect_attempts = 0;
	node.applied_at_once = 0;
	node.inbox_waiting = 0;
	node.drain_due_ns = 0;
	node.connect_due_ns = 0;
	node.stop = 0;
	ast_copy_string(node.state, "starting", sizeof(node.state));
	if (ast_pthread_create_stack(&node.thread, NULL, node_thread, NULL, NODE_THREAD_STACK, __FILE__, __FUNCTION__,
		__LINE__, "node_thread")) {
		ast_log(LOG_ERROR, "pbxstate: cannot start the node thread\n");
		pbxstate_cpg_host_destroy(node.host);
		node.host = NULL;
		pbxstate_inbox_close();
		pbxstate_registrations_destroy(&node.registrations);
		pbxstate_settings_free(&node.settings);
		return -1;
	}
	node_lock_take();
	node.started = 1;
	node_lock_give();
	return 0;
}

void pbxstate_node_stop(void)
{
	if (!node.started) {
		return;
	}
	node.stop = 1;
	pbxstate_inbox_wake();
	pthread_join(node.thread, NULL);

	node_lock_take();
	/* Asterisk forgets the other servers: nothing would keep their entries current any more. */
	if (node.engine) {
		pbxstate_publisher_prune(&node.publisher, 0);
	}
	pbxstate_cpg_host_leave(node.host, FLUSH_ON_STOP_MS);
	pbxstate_cpg_host_destroy(node.host);
	node.host = NULL;
	node.engine = NULL;
	pbxstate_registrations_destroy(&node.registrations);
	node.started = 0;
	memset(node.key, 0, sizeof(node.key));
	memset(node.previous_key, 0, sizeof(node.previous_key));
	pbxstate_settings_free(&node.settings);
	node_lock_give();
	pbxstate_inbox_close();
}

int pbxstate_node_reconfigure(const struct pbxstate_settings *s)
{
	struct pbxstate_settings copy;
	pbxstate_cluster_keys keys;
	int rc = 0;

	if (!node.started) {
		return -1;
	}
	pbxstate_settings_init(&copy);
	if (pbxstate_settings_copy(&copy, s)) {
		return -1;
	}
	node_lock_take();
	if (load_keys(s)) {
		rc = -1;
	} else if (node.engine) {
		keys = current_keys();
		if (pbxstate_engine_set_cluster_keys(node.engine, node.has_key ? &keys : NULL) != PBXSTATE_OK) {
			ast_log(LOG_ERROR, "pbxstate: the engine refused the new keys: %s\n", pbxstate_engine_last_error(node.engine));
			rc = -1;
		} else {
			node.authenticated = node.has_key;
		}
	}
	pbxstate_settings_free(&node.settings);
	node.settings = copy;  /* takes over the compiled filters; the parts point at node.settings */
	if (node.engine) {
		pbxstate_publisher_prune(&node.publisher, 1);
		pbxstate_publisher_reconcile(&node.publisher, mono_ns());
		pbxstate_local_resync(&node.local, 1);
	}
	node_lock_give();
	return rc;
}

void pbxstate_node_request_resync(void)
{
	/* Devices only: at load the cluster's MWI values may still be on their way (catch-up). */
	pbxstate_inbox_request_resync(PBXSTATE_RESYNC_DEVICES);
}

int pbxstate_node_query(pbxstate_node_query_fn fn, void *arg)
{
	struct pbxstate_node_view view;

	if (!node.started) {
		return -1;
	}
	node_lock_take();
	view.engine = node.engine;
	view.host = node.host;
	view.settings = &node.settings;
	view.state = node.state;
	view.authenticated = node.authenticated;
	view.connect_attempts = node.connect_attempts;
	view.local = &node.local.counters;
	view.published = &node.publisher.counters;
	pbxstate_inbox_stats_get(&view.inbox);
	view.applied_at_once = node.applied_at_once;
	view.peers = &node.peers;
	fn(&view, arg);
	node_lock_give();
	return 0;
}

const char *pbxstate_node_route(const struct pbxstate_node_view *view, pbxstate_node_id id)
{
	if (view->engine && id == pbxstate_engine_node_id(view->engine)) {
		return view->settings->route;
	}
	return pbxstate_peers_route(view->peers, view->engine, id);
}

const char *pbxstate_node_eid_text(const struct pbxstate_node_view *view, pbxstate_node_id id, char *buf, size_t len)
{
	const struct ast_eid *eid;
	if (view->engine && id == pbxstate_engine_node_id(view->engine)) {
		return ast_eid_to_str(buf, (int) len, &ast_eid_default);
	}
	eid = pbxstate_peers_eid(view->peers, view->engine, id);
	if (!eid) {
		buf[0] = '\0';
		return buf;
	}
	return ast_eid_to_str(buf, (int) len, (struct ast_eid *) eid);
}
