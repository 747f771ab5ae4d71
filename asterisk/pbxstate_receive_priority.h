/*
 * The scheduling of the node thread while it receives from corosync (asterisk/README.md, "The
 * receiving thread's priority").
 *
 * Corosync runs SCHED_RR at the highest priority by default (corosync.conf `system.sched_rr`).
 * A corosync thread that wakes on the CPU where the node thread handles a delivery preempts it, 20
 * to 30 us after the delivery began: before Asterisk's publish of the change, which then waits
 * for the CPU. While it dispatches CPG, the node thread takes SCHED_RR at `receive_priority`
 * (pbxstate.conf; corosync's default by default): a woken corosync thread of the same priority
 * does not preempt it and is placed on another CPU when one runs less urgent work. The raised
 * priority covers at most PBXSTATE_RECEIVE_RT_CHANGES changes published into Asterisk per
 * dispatch; then, and when the dispatch returns, the thread goes back to the scheduling it had.
 *
 * Threading: the node thread only (the state is the calling thread's).
 */
#ifndef PBXSTATE_RECEIVE_PRIORITY_H
#define PBXSTATE_RECEIVE_PRIORITY_H

/* Changes published into Asterisk per dispatch at the raised priority: a lone change and a
 * small batch; a burst's frames (hundreds of changes, 100 to 250 us each) run at the thread's
 * own priority after these, so one wake-up holds the CPU at real-time priority for a few ms. */
#define PBXSTATE_RECEIVE_RT_CHANGES 16

/* Called by the node thread when it starts: remembers its scheduling and checks, by raising and
 * restoring it once, that SCHED_RR at `priority` is permitted (CAP_SYS_NICE or RLIMIT_RTPRIO).
 * Logs the outcome once: a NOTICE when permitted, a WARNING naming the refusal when not (the
 * thread then keeps its scheduling). `priority` 0 disables it (logged at verbose level).
 * Returns 1 when the raised priority is in use, 0 otherwise. */
int pbxstate_receive_priority_init(int priority);

/* Before a CPG dispatch: raises the calling thread and gives it PBXSTATE_RECEIVE_RT_CHANGES.
 * Nothing when init returned 0. */
void pbxstate_receive_priority_raise(void);

/* After each change published into Asterisk: spends one; the last one restores the thread's own
 * scheduling. Nothing when not raised. */
void pbxstate_receive_priority_spend(void);

/* After the dispatch: restores the thread's own scheduling when still raised. */
void pbxstate_receive_priority_restore(void);

#endif
