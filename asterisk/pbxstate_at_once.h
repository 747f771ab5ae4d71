/*
 * When a change of this server skips the inbox (pbxstate_node_apply_at_once): the thread that
 * holds it hands it to the engine itself, which sends it at once. The decision alone, no Asterisk
 * header and no lock, so that it is unit-tested (tests/asterisk/at_once_test.cc); the node
 * (pbxstate_node.c) applies it, with its lock taken by trylock.
 *
 * Two rules:
 * - Never on the node thread, nor on a thread that holds the node's lock. That lock is recursive
 *   (Asterisk's mutexes are): the node thread, which holds it while it publishes the cluster's
 *   changes into Asterisk, or a reload or unload publishing under it, would get it again by
 *   trylock if Asterisk handed it a state of this server's EID (the device state tap runs in the
 *   publishing thread), and would re-enter the engine from inside one of the engine's own calls.
 *   Such a change goes to the inbox instead, which the node thread drains.
 * - One change per batch window: a lone change is the first after a quiet window (the engine sends
 *   it at once then); the ones that follow within the window would only be held by the engine's
 *   pacing, so they go to the inbox, a pointer each, and the publishing thread does the least it can
 *   (applying every change whose lock was free let a subscription's queue reach 34,302 in a burst
 *   of 100,000 changes to 1,000 devices: the callback ran the engine for nearly all of it).
 *
 * Threading: the thread marker and the lock count are per thread; a gate is the node's, under
 * the node's lock.
 */
#ifndef PBXSTATE_AT_ONCE_H
#define PBXSTATE_AT_ONCE_H

#include <stdint.h>

/* The node thread calls this once, when it starts. */
void pbxstate_at_once_mark_node_thread(void);

/* Nonzero on the thread that called pbxstate_at_once_mark_node_thread(). */
int pbxstate_at_once_on_node_thread(void);

/* The node's lock taken and released by this thread: pbxstate_node.c counts every hold, since
 * other threads than the node thread publish into Asterisk while they hold it (a reload's
 * reconcile and an unload's prune publish from inside the engine's iteration), and the tap's
 * trylock would succeed there too. Calls pair up; the count never goes below 0. */
void pbxstate_at_once_lock_taken(void);
void pbxstate_at_once_lock_released(void);

/* Nonzero while this thread holds the node's lock (taken more times than released). */
int pbxstate_at_once_holds_lock(void);

struct pbxstate_at_once {
	int64_t window_ns;  /* the engine's batch window */
	int64_t next_ns;    /* no change applied at once before this */
};

/* A gate for an engine whose batch window is `window_ns`: the next change may go at once. */
void pbxstate_at_once_reset(struct pbxstate_at_once *g, int64_t window_ns);

/* Whether a change at `now_ns` may go into the engine at once as far as the window says: not
 * within the window of the last change that went at once; never in the measurement build that
 * sends every change through the inbox (PBXSTATE_AT_ONCE_NEVER: asterisk/CMakeLists.txt,
 * res_pbxstate_inbox_only). The caller checks the rest: not on the node thread nor holding the
 * node's lock (before it takes the lock), the node joined, its inbox idle. */
int pbxstate_at_once_due(const struct pbxstate_at_once *g, int64_t now_ns);

/* A change went at once at `now_ns`: the window starts. */
void pbxstate_at_once_taken(struct pbxstate_at_once *g, int64_t now_ns);

#endif
