/*
 * The raised priority's decision (pbxstate_receive_budget.h).
 */
#include <assert.h>
#include <string.h>

#include "pbxstate_receive_budget.h"

void pbxstate_receive_budget_init(struct pbxstate_receive_budget *b)
{
	memset(b, 0, sizeof(*b));
}

enum pbxstate_receive_step pbxstate_receive_budget_sleep(struct pbxstate_receive_budget *b, int idle)
{
	assert(!b->dispatching);
	return idle && !b->raised && !b->held_back ? PBXSTATE_RECEIVE_RAISE : PBXSTATE_RECEIVE_KEEP;
}

void pbxstate_receive_budget_raised(struct pbxstate_receive_budget *b, int ok)
{
	assert(!b->raised && !b->held_back);
	b->raised = ok != 0;
}

enum pbxstate_receive_step pbxstate_receive_budget_begin(struct pbxstate_receive_budget *b, int corosync,
	uint64_t messages)
{
	assert(!b->dispatching);
	if (!corosync) {
		if (!b->raised) {
			return PBXSTATE_RECEIVE_KEEP;
		}
		b->raised = 0;
		return PBXSTATE_RECEIVE_RESTORE;
	}
	b->dispatching = 1;
	b->changes = 0;
	b->messages_at_begin = messages;
	return b->raised || b->held_back ? PBXSTATE_RECEIVE_KEEP : PBXSTATE_RECEIVE_RAISE;
}

/* Messages handled since the dispatch began; the host's counter only grows. */
static uint64_t handled(const struct pbxstate_receive_budget *b, uint64_t messages)
{
	assert(messages >= b->messages_at_begin);
	return messages - b->messages_at_begin;
}

/* The thread goes back to its own scheduling now, `n` messages into the dispatch. */
static enum pbxstate_receive_step lower(struct pbxstate_receive_budget *b, uint64_t n)
{
	b->raised = 0;
	b->held_back = n > PBXSTATE_RECEIVE_RT_MESSAGES;
	return PBXSTATE_RECEIVE_RESTORE;
}

enum pbxstate_receive_step pbxstate_receive_budget_spend(struct pbxstate_receive_budget *b, uint64_t messages)
{
	uint64_t n;

	if (!b->raised || !b->dispatching) {
		return PBXSTATE_RECEIVE_KEEP;
	}
	n = handled(b, messages);
	if (++b->changes >= PBXSTATE_RECEIVE_RT_CHANGES || n >= PBXSTATE_RECEIVE_RT_MESSAGES) {
		return lower(b, n);
	}
	return PBXSTATE_RECEIVE_KEEP;
}

enum pbxstate_receive_step pbxstate_receive_budget_end(struct pbxstate_receive_budget *b, uint64_t messages)
{
	uint64_t n;

	if (!b->dispatching) {
		return PBXSTATE_RECEIVE_KEEP;
	}
	b->dispatching = 0;
	n = handled(b, messages);
	if (b->raised) {
		return lower(b, n);
	}
	if (n <= PBXSTATE_RECEIVE_RT_MESSAGES) {
		b->held_back = 0;
	}
	return PBXSTATE_RECEIVE_KEEP;
}
