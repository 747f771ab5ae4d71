/*
 * When the node thread raises its priority to receive from corosync and when it gives it back
 * (asterisk/README.md, "The receiving thread's priority"): the decision alone, no Asterisk and no
 * system call, so that it is unit-tested (tests/asterisk/receive_budget_test.cc);
 * pbxstate_receive_priority.c applies it to the thread.
 *
 * A dispatch at the raised priority is bounded twice, whichever comes first:
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

/* What the thread must do after a call: nothing, or go back to its own scheduling. */
enum pbxstate_receive_step {
	PBXSTATE_RECEIVE_KEEP = 0,
	PBXSTATE_RECEIVE_RESTORE = 1,
};

struct pbxstate_receive_budget {
	int dispatching;             /* between begin and end */
	int raised;                  /* the thread runs raised now */
	int held_back;               /* the last raised dispatch overran: no raise until a dispatch within bounds */
	unsigned changes;            /* changes published since the raise */
	uint64_t messages_at_begin;  /* the host's messages_received when the dispatch began */
};

/* A budget that has raised nothing. */
void pbxstate_receive_budget_init(struct pbxstate_receive_budget *b);

/* Before a dispatch that corosync's descriptor woke, with the host's `messages_received` now.
 * Returns 1 when the thread is to be raised (then call pbxstate_receive_budget_raised() with
 * whether that succeeded), 0 when it stays at its own scheduling (held back). Not nested. */
int pbxstate_receive_budget_begin(struct pbxstate_receive_budget *b, uint64_t messages);

/* The raise of the last begin succeeded (`ok` 1) or was refused (0: nothing is counted). */
void pbxstate_receive_budget_raised(struct pbxstate_receive_budget *b, int ok);

/* After each change published into Asterisk, with `messages_received` now: RESTORE when the
 * thread is raised and either bound is reached (then it is no longer raised), KEEP otherwise. */
enum pbxstate_receive_step pbxstate_receive_budget_spend(struct pbxstate_receive_budget *b, uint64_t messages);

/* After the dispatch, with `messages_received` now: RESTORE when still raised, KEEP otherwise
 * (and nothing after a dispatch that did not begin with begin: corosync did not wake it).
 * A restore here or in spend with more than PBXSTATE_RECEIVE_RT_MESSAGES messages handled since
 * the raise holds the next raises back; a dispatch that handled at most that many releases them. */
enum pbxstate_receive_step pbxstate_receive_budget_end(struct pbxstate_receive_budget *b, uint64_t messages);

#endif
