/*
 * The node thread's scheduling while it receives from corosync (pbxstate_receive_priority.h).
 */
#include "asterisk.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "asterisk/logger.h"
#include "asterisk/utils.h"

#include "pbxstate_receive_budget.h"
#include "pbxstate_receive_priority.h"

static struct {
	int enabled;                  /* init found the raised priority permitted */
	struct pbxstate_receive_budget budget;  /* when to raise and when to go back */
	const pbxstate_cpg_host *host;          /* its messages_received */
	pthread_t thread;             /* the thread that called init: the only one that raises */
	struct sched_param rt;        /* SCHED_RR at receive_priority */
	int own_policy;               /* the thread's scheduling before init, restored after each dispatch */
	struct sched_param own_param;
} rx;

/* 0, or the error number of pthread_setschedparam. */
static int set_own(void)
{
	return pthread_setschedparam(rx.thread, rx.own_policy, &rx.own_param);
}

/* The CPG messages the host has handled so far. */
static uint64_t messages_received(void)
{
	pbxstate_cpg_host_stats stats = { 0 };

	pbxstate_cpg_host_stats_get(rx.host, &stats);  /* refuses only a NULL host: init never takes one */
	return stats.messages_received;
}

int pbxstate_receive_priority_init(int priority, const pbxstate_cpg_host *host)
{
	int err;

	memset(&rx, 0, sizeof(rx));
	pbxstate_receive_budget_init(&rx.budget);
	rx.host = host;
	rx.thread = pthread_self();
	if (priority == 0) {
		ast_verb(3, "pbxstate: receive_priority = 0: the node thread receives from corosync at its own scheduling\n");
		return 0;
	}
	err = pthread_getschedparam(rx.thread, &rx.own_policy, &rx.own_param);
	if (!err && (rx.own_policy == SCHED_RR || rx.own_policy == SCHED_FIFO) && rx.own_param.sched_priority >= priority) {
		ast_verb(3, "pbxstate: the node thread runs real-time at priority %d already (Asterisk's own): kept\n",
			rx.own_param.sched_priority);
		return 0;
	}
	if (!err) {
		rx.rt.sched_priority = priority;
		err = pthread_setschedparam(rx.thread, SCHED_RR, &rx.rt);
	}
	if (err) {
		ast_log(LOG_WARNING, "pbxstate: the node thread keeps its own scheduling: SCHED_RR priority %d (option "
			"'receive_priority') refused: %s (needs CAP_SYS_NICE or RLIMIT_RTPRIO >= %d); a real-time corosync "
			"thread may then preempt it before it publishes a remote change into Asterisk\n",
			priority, strerror(err), priority);
		return 0;
	}
	err = set_own();
	ast_assert(err == 0);  /* going back to a policy the thread had is always permitted */
	rx.enabled = 1;
	ast_log(LOG_NOTICE, "pbxstate: the node thread waits for and dispatches corosync's deliveries at SCHED_RR priority %d "
		"(option 'receive_priority'), for at most %d changes published and %d messages handled per dispatch\n",
		priority, PBXSTATE_RECEIVE_RT_CHANGES, PBXSTATE_RECEIVE_RT_MESSAGES);
	return 1;
}

/* Applies a step of the budget to the thread. */
static void apply(enum pbxstate_receive_step step)
{
	if (step == PBXSTATE_RECEIVE_RAISE) {
		/* A refusal now (the limit lowered under a running Asterisk) leaves the thread as it was. */
		pbxstate_receive_budget_raised(&rx.budget, pthread_setschedparam(rx.thread, SCHED_RR, &rx.rt) == 0);
	} else if (step == PBXSTATE_RECEIVE_RESTORE) {
		set_own();  /* always permitted: see init */
	}
}

void pbxstate_receive_priority_sleep(int idle)
{
	if (rx.enabled) {
		ast_assert(pthread_equal(rx.thread, pthread_self()));
		apply(pbxstate_receive_budget_sleep(&rx.budget, idle));
	}
}

void pbxstate_receive_priority_begin(int corosync)
{
	if (rx.enabled) {
		ast_assert(pthread_equal(rx.thread, pthread_self()));
		apply(pbxstate_receive_budget_begin(&rx.budget, corosync, corosync ? messages_received() : 0));
	}
}

void pbxstate_receive_priority_spend(void)
{
	if (rx.budget.raised && rx.budget.dispatching) {
		apply(pbxstate_receive_budget_spend(&rx.budget, messages_received()));
	}
}

void pbxstate_receive_priority_end(void)
{
	if (rx.budget.dispatching) {
		apply(pbxstate_receive_budget_end(&rx.budget, messages_received()));
	}
}
