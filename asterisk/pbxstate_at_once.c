/*
 * When a change of this server skips the inbox (pbxstate_at_once.h).
 */
#include "pbxstate_at_once.h"

static _Thread_local int on_node_thread;

void pbxstate_at_once_mark_node_thread(void)
{
	on_node_thread = 1;
}

int pbxstate_at_once_on_node_thread(void)
{
	return on_node_thread;
}

static _Thread_local int node_lock_holds;

void pbxstate_at_once_lock_taken(void)
{
	node_lock_holds++;
}

void pbxstate_at_once_lock_released(void)
{
	if (node_lock_holds > 0) {
		node_lock_holds--;
	}
}

int pbxstate_at_once_holds_lock(void)
{
	return node_lock_holds > 0;
}

void pbxstate_at_once_reset(struct pbxstate_at_once *g, int64_t window_ns)
{
	g->window_ns = window_ns;
	g->next_ns = 0;
}

int pbxstate_at_once_due(const struct pbxstate_at_once *g, int64_t now_ns)
{
#ifdef PBXSTATE_AT_ONCE_NEVER
	(void) g;
	(void) now_ns;
	return 0;
#else
	return now_ns >= g->next_ns;
#endif
}

void pbxstate_at_once_taken(struct pbxstate_at_once *g, int64_t now_ns)
{
	g->next_ns = now_ns + g->window_ns;
}
