/*
 * The inbox: this server's own changes on their way from Asterisk's stasis threads to the node
 * thread (pbxstate_inbox.c).
 *
 * A stasis callback must do as little as it can: every message it takes longer over than the
 * publisher takes to publish one waits in the subscription's taskprocessor queue, and a burst then
 * drives that queue past Asterisk's high-water mark. So a callback that cannot hand its change to
 * an idle node at once (pbxstate_node_apply_at_once) only takes a reference to the message and
 * appends the pointer here; the node thread does everything else (filters, strings, JSON, the
 * engine). The node thread is woken only when the inbox goes from empty to not empty, and not at
 * all while it has said it will come back by itself (in a burst: pbxstate_inbox_disarm_wake).
 *
 * Bounded: at most `capacity` messages. A message that finds the inbox full is not lost: the inbox
 * is marked overflowed, and the node thread re-reads this server's state from Asterisk's caches,
 * which hold that change (a resync).
 *
 * Threading: push from any thread; open, close, take and resync requests from the node's
 * life cycle and thread. One mutex, never held while calling out.
 */
#ifndef PBXSTATE_INBOX_H
#define PBXSTATE_INBOX_H

#include <stddef.h>
#include <stdint.h>

struct stasis_message;

/* What a resync re-reads: device states only, or MWI too. */
enum pbxstate_resync { PBXSTATE_RESYNC_NONE = 0, PBXSTATE_RESYNC_DEVICES = 1, PBXSTATE_RESYNC_ALL = 2 };

/* Opens the inbox with room for `capacity` messages (mapped, so that it goes back to the system
 * at close whatever the allocator keeps) and its wake descriptor. 0, or -1 after logging. */
int pbxstate_inbox_open(size_t capacity);

/* Drops every queued message (their references are released) and closes the descriptor. Pushes
 * after this are ignored. Safe when not open. */
void pbxstate_inbox_close(void);

/* From a stasis callback: queues `msg` (a reference is taken). Returns 0, or -1 when the inbox is
 * full (an overflow: a full resync is requested) or closed. */
int pbxstate_inbox_push(struct stasis_message *msg);

/* Whether the inbox is open, empty and has no resync pending: a change applied now by whoever
 * holds the node's lock comes after every change pushed before it (the node thread drains the
 * inbox only under that lock). */
int pbxstate_inbox_idle(void);

/* Node thread: moves up to `max` queued messages into `out`, oldest first; the caller owns their
 * references. Returns how many. */
size_t pbxstate_inbox_take(struct stasis_message **out, size_t max);

/* Node thread: the resync requested since the last call (and clears it). */
enum pbxstate_resync pbxstate_inbox_take_resync(void);

/* Asks the node thread for a resync of at least `what` and wakes it. */
void pbxstate_inbox_request_resync(enum pbxstate_resync what);

/* Node thread, in a burst: it will come back to the inbox by itself (its next drain is timed), so
 * pushes do not wake it; a wake-up it would only answer by waiting for that time costs the pushing
 * thread a system call and the node thread two context switches. Resyncs and overflows still wake. */
void pbxstate_inbox_disarm_wake(void);
/* Node thread, the burst over: pushes into the empty inbox wake it again. Returns nonzero when the
 * inbox holds messages already (pushed while disarmed: drain them, do not sleep on the descriptor). */
int pbxstate_inbox_arm_wake(void);
/* Wakes the node thread (poll the descriptor below). */
void pbxstate_inbox_wake(void);

/* The descriptor the node thread polls (readable when woken); -1 when closed. Reading it clears
 * the wake. */
int pbxstate_inbox_fd(void);
void pbxstate_inbox_clear_wake(void);

struct pbxstate_inbox_stats {
	size_t depth, capacity;   /* messages queued now, and the bound */
	size_t peak;              /* the most ever queued at once since open */
	uint64_t pushed;          /* messages queued since open */
	uint64_t overflows;       /* messages that met a full inbox (each requests a resync) */
};
void pbxstate_inbox_stats_get(struct pbxstate_inbox_stats *out);

#endif
