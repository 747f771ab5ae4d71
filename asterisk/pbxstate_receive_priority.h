/*
 * The scheduling of the node thread while it receives from corosync (asterisk/README.md, "The
 * receiving thread's priority").
 *
 * Corosync runs SCHED_RR at the highest priority by default (corosync.conf `system.sched_rr`).
 * A corosync thread that wakes on the CPU where the node thread handles a delivery preempts it, 20
 * to 30 us after the delivery began: before Asterisk's publish of the change, which then waits
 * for the CPU. While it waits for and dispatches CPG, the node thread takes SCHED_RR at
 * `receive_priority` (pbxstate.conf; corosync's default by default): a woken corosync thread of the same priority
 * does not preempt it and is placed on another CPU when one runs less urgent work. When to raise
 * and when to go back (at most PBXSTATE_RECEIVE_RT_CHANGES changes published and
 * PBXSTATE_RECEIVE_RT_MESSAGES CPG messages handled per dispatch, and when the dispatch returns)
 * is pbxstate_receive_budget.h's; this file applies it to the thread.
 *
 * Threading: the node thread only (the state is the calling thread's).
 */
#ifndef PBXSTATE_RECEIVE_PRIORITY_H
#define PBXSTATE_RECEIVE_PRIORITY_H

#include "pbxstate/corosync/c_cpg_host.h"

/* Called by the node thread when it starts: remembers its scheduling and checks, by raising and
 * restoring it once, that SCHED_RR at `priority` is permitted (CAP_SYS_NICE or RLIMIT_RTPRIO).
 * Logs the outcome once: a NOTICE when permitted, a WARNING naming the refusal when not (the
 * thread then keeps its scheduling). `priority` 0 disables it (logged at verbose level).
 * `host`'s `messages_received` counts the messages handled; it must outlive the thread's use.
 * Returns 1 when the raised priority is in use, 0 otherwise. */
int pbxstate_receive_priority_init(int priority, const pbxstate_cpg_host *host);

/* Before the thread sleeps in poll: `idle` nonzero when only corosync is expected to wake it;
 * then it sleeps raised unless the budget holds it back. Nothing when init returned 0. */
void pbxstate_receive_priority_sleep(int idle);

/* Woken, before the round's CPG dispatch; `corosync`: corosync's descriptor woke it. Woken by
 * corosync, the thread dispatches raised (raising now if it slept at its own, unless held back);
 * woken by anything else, it goes back to its own scheduling for the round. */
void pbxstate_receive_priority_begin(int corosync);

/* After each change published into Asterisk: counts it and the messages handled so far; the
 * thread's own scheduling is restored when a bound is reached. Nothing when not raised. */
void pbxstate_receive_priority_spend(void);

/* After the round's dispatch: restores the thread's own scheduling when still raised, and tells
 * the budget how many messages a dispatch woken by corosync handled. */
void pbxstate_receive_priority_end(void);

#endif
