/*
 * When the node thread raises its priority to receive from corosync and when it gives it back
 * (asterisk/README.md, "The receiving thread's priority"): the decision alone, no Asterisk and no
 * system call, so that it is unit-tested (tests/asterisk/receive_budget_test.cc);
 * pbxstate_receive_priority.c applies it to the thread.
 *
 * The thread sleeps raised while only corosync is expected to wake it, so that the wake-up itself
 * preempts the normal threads of a busy CPU and no system call stands between the wake-up and
 * the dispatch; it goes back to its own scheduling for any other work of its round. A dispatch at
 * the raised priority is bounded twice, whichever comes first:
 * - PBXSTATE_RECEIVE_RT_CHANGES changes published into Asterisk;
 * - PBXSTATE_RECEIVE_RT_MESSAGES CPG messages handled (the CPG host's `messages_received`: every
 *   message libcpg delivered, those that publish nothing included: digests, acknowledgements,
 *   repair frames, this server's own multicasts coming back, refused ones).
 * Both are checked at every published change. A message that publishes nothing gives the module no
 * call before the dispatch returns (libcpg's CS_DISPATCH_ALL runs the CPG host's callbacks, not
 * the module's), so such messages are counted at the next published change or at the dispatch's
 * end. When the thread had handled more than PBXSTATE_RECEIVE_RT_MESSAGES messages by then (it
 * overran the bound between two of its checks), it is held back: the dispatches after it run at
 * the thread's own priority until one handles at most that many. Under a sustained flood of
 * messages that publish nothing, one dispatch runs raised; how long that one lasts is libcpg's
 * (it returns when corosync's queue to this process is empty).
 *
 * Threading: the caller's (the node thread's); a budget is one thread's state.
 */
#ifndef PBXSTATE_RECEIVE_BUDGET_H
#define PBXSTATE_RECEIVE_BUDGET_H

#include <stdint.h>

/* Changes published into Asterisk per dispatch at the raised priority: a lone change and a
 * small batch; a burst's frames (hundreds of changes, 100 to 250 us each) run at the thread's
 * own priority after these, so one wake-up holds the CPU at real-time priority for a few ms. */
#define PBXSTATE_RECEIVE_RT_CHANGES 16

/* CPG messages handled per dispatch at the raised priority: as many as the changes, so that 16
 * lone changes, each in its own message, are all published raised. A message that publishes
 * nothing costs the engine's receive (envelope, MAC check, decode: about 20 us in the twelfth
 * run's trace, RUNS.md), under a publish's 100 to 265 us; the raised time per dispatch is at most
 * 16 publishes and 16 messages, about 4.6 ms. */
#define PBXSTATE_RECEIVE_RT_MESSAGES PBXSTATE_RECEIVE_RT_CHANGES

/* What the thread must do after a call: nothing, go back to its own scheduling, or raise. */
enum pbxstate_receive_step {
	PBXSTATE_RECEIVE_KEEP = 0,
	PBXSTATE_RECEIVE_RESTORE = 1,
	PBXSTATE_RECEIVE_RAISE = 2,
};

struct pbxstate_receive_budget {
	int dispatching;             /* between begin (woken by corosync) and end */
	int raised;                  /* the thread runs (or sleeps) raised now */
	int held_back;               /* a raised dispatch overran: no raise until a dispatch within bounds */
	unsigned changes;            /* changes published in this dispatch */
	uint64_t messages_at_begin;  /* the host's messages_received when the dispatch began */
};

/* A budget that has raised nothing. */
void pbxstate_receive_budget_init(struct pbxstate_receive_budget *b);

/* Before the thread sleeps until corosync or other work wakes it. `idle`: nothing but corosync
 * is expected to wake it (no inbox drain pending). RAISE when it is to sleep raised, so that
 * corosync's wake-up puts it on a CPU at once (then call pbxstate_receive_budget_raised() with
 * whether the raise succeeded); KEEP otherwise (raised already, held back, or not idle). */
enum pbxstate_receive_step pbxstate_receive_budget_sleep(struct pbxstate_receive_budget *b, int idle);

/* The raise asked for by sleep or begin succeeded (`ok` 1) or was refused (0). */
void pbxstate_receive_budget_raised(struct pbxstate_receive_budget *b, int ok);

/* Woken, before the round's dispatch; `corosync`: corosync's descriptor woke the thread, with the
 * host's `messages_received` now. Woken by corosync: the dispatch is counted from here, and RAISE
 * when the thread is not raised and not held back (it slept at its own), else KEEP. Woken by
 * something else: RESTORE when raised (the round's work runs at the thread's own), else KEEP.
 * Not nested. */
enum pbxstate_receive_step pbxstate_receive_budget_begin(struct pbxstate_receive_budget *b, int corosync,
	uint64_t messages);

/* After each change published into Asterisk, with `messages_received` now: RESTORE when the
 * thread is raised in a dispatch and either bound is reached (then it is no longer raised), KEEP
 * otherwise. */
enum pbxstate_receive_step pbxstate_receive_budget_spend(struct pbxstate_receive_budget *b, uint64_t messages);

/* After the dispatch, with `messages_received` now: RESTORE when still raised, KEEP otherwise
 * (and nothing after a dispatch that corosync did not wake).
 * A restore here or in spend with more than PBXSTATE_RECEIVE_RT_MESSAGES messages handled since
 * the dispatch began holds the next raises back; a dispatch that handled at most that many
 * releases them. */
enum pbxstate_receive_step pbxstate_receive_budget_end(struct pbxstate_receive_budget *b, uint64_t messages);

#endif
