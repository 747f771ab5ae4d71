/*
 * The inbox from Asterisk's stasis threads to the node thread (pbxstate_inbox.h).
 */
#include "asterisk.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "asterisk/astobj2.h"
#include "asterisk/lock.h"
#include "asterisk/logger.h"
#include "asterisk/stasis.h"

#include "pbxstate_inbox.h"

/* Everything below is under `lock`. */
AST_MUTEX_DEFINE_STATIC(lock);
static struct {
	struct stasis_message **ring;  /* NULL while closed */
	size_t ring_bytes;
	size_t capacity, head, count, peak;
	enum pbxstate_resync resync;
	int wake_fd;
	int wake_armed;  /* a push into the empty inbox wakes the node thread (else it comes by itself) */
	uint64_t pushed, overflows;
} inbox = { .wake_fd = -1 };

/* Under `lock` (pbxstate_inbox_close holds it to close the descriptor). */
static void wake_locked(void)
{
	uint64_t one = 1;
	if (inbox.wake_fd >= 0 && write(inbox.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		ast_log(LOG_WARNING, "pbxstate: cannot wake the node thread: %s\n", strerror(errno));
	}
}

int pbxstate_inbox_open(size_t capacity)
{
	void *ring;
	int fd;

	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		ast_log(LOG_ERROR, "pbxstate: eventfd: %s\n", strerror(errno));
		return -1;
	}
	/* Mapped rather than malloc'd: it goes back to the system at close, whatever the allocator's
	 * thresholds (a malloc'd ring stayed resident after every unload/load cycle). */
	ring = mmap(NULL, capacity * sizeof(*inbox.ring), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ring == MAP_FAILED) {
		ast_log(LOG_ERROR, "pbxstate: cannot map an inbox of %zu changes: %s\n", capacity, strerror(errno));
		close(fd);
		return -1;
	}
	ast_mutex_lock(&lock);
	ast_assert(!inbox.ring);
	inbox.ring = ring;
	inbox.ring_bytes = capacity * sizeof(*inbox.ring);
	inbox.capacity = capacity;
	inbox.head = inbox.count = inbox.peak = 0;
	inbox.resync = PBXSTATE_RESYNC_NONE;
	inbox.pushed = inbox.overflows = 0;
	inbox.wake_fd = fd;
	inbox.wake_armed = 1;
	ast_mutex_unlock(&lock);
	return 0;
}

void pbxstate_inbox_close(void)
{
	ast_mutex_lock(&lock);
	if (inbox.ring) {
		while (inbox.count > 0) {
			ao2_ref(inbox.ring[inbox.head], -1);
			inbox.head = (inbox.head + 1) % inbox.capacity;
			inbox.count--;
		}
		munmap(inbox.ring, inbox.ring_bytes);
		inbox.ring = NULL;
	}
	if (inbox.wake_fd >= 0) {
		close(inbox.wake_fd);
	}
	inbox.wake_fd = -1;
	ast_mutex_unlock(&lock);
}

int pbxstate_inbox_push(struct stasis_message *msg)
{
	int rc = 0;

	ast_mutex_lock(&lock);
	if (!inbox.ring) {
		rc = -1;
	} else if (inbox.count < inbox.capacity) {
		inbox.ring[(inbox.head + inbox.count) % inbox.capacity] = ao2_bump(msg);
		inbox.pushed++;
		if (++inbox.count > inbox.peak) {
			inbox.peak = inbox.count;
		}
		if (inbox.count == 1 && inbox.wake_armed) {
			wake_locked();  /* the node thread drains everything before it sleeps again */
		}
	} else {
		/* Not lost: the resync re-reads Asterisk's caches, which hold this change. */
		if (inbox.resync != PBXSTATE_RESYNC_ALL) {
			ast_log(LOG_NOTICE, "pbxstate: the inbox of local changes is full (%zu); this server's state will "
				"be re-read from Asterisk's caches\n", inbox.capacity);
			wake_locked();
		}
		inbox.resync = PBXSTATE_RESYNC_ALL;
		inbox.overflows++;
		rc = -1;
	}
	ast_mutex_unlock(&lock);
	return rc;
}

int pbxstate_inbox_idle(void)
{
	int idle;

	ast_mutex_lock(&lock);
	idle = inbox.ring && inbox.count == 0 && inbox.resync == PBXSTATE_RESYNC_NONE;
	ast_mutex_unlock(&lock);
	return idle;
}

size_t pbxstate_inbox_take(struct stasis_message **out, size_t max)
{
	size_t n = 0;

	ast_mutex_lock(&lock);
	while (inbox.ring && inbox.count > 0 && n < max) {
		out[n++] = inbox.ring[inbox.head];
		inbox.head = (inbox.head + 1) % inbox.capacity;
		inbox.count--;
	}
	ast_mutex_unlock(&lock);
	return n;
}

enum pbxstate_resync pbxstate_inbox_take_resync(void)
{
	enum pbxstate_resync what;

	ast_mutex_lock(&lock);
	what = inbox.resync;
	inbox.resync = PBXSTATE_RESYNC_NONE;
	ast_mutex_unlock(&lock);
	return what;
}

void pbxstate_inbox_request_resync(enum pbxstate_resync what)
{
	ast_mutex_lock(&lock);
	if (inbox.ring) {
		if (inbox.resync < what) {
			inbox.resync = what;
		}
		wake_locked();
	}
	ast_mutex_unlock(&lock);
}

void pbxstate_inbox_wake(void)
{
	ast_mutex_lock(&lock);
	wake_locked();
	ast_mutex_unlock(&lock);
}

void pbxstate_inbox_disarm_wake(void)
{
	ast_mutex_lock(&lock);
	inbox.wake_armed = 0;
	ast_mutex_unlock(&lock);
}

int pbxstate_inbox_arm_wake(void)
{
	int waiting;

	ast_mutex_lock(&lock);
	inbox.wake_armed = 1;
	waiting = inbox.ring && inbox.count > 0;
	ast_mutex_unlock(&lock);
	return waiting;
}

int pbxstate_inbox_fd(void)
{
	int fd;

	ast_mutex_lock(&lock);
	fd = inbox.wake_fd;
	ast_mutex_unlock(&lock);
	return fd;
}

void pbxstate_inbox_clear_wake(void)
{
	uint64_t drained;

	ast_mutex_lock(&lock);
	if (inbox.wake_fd >= 0 && read(inbox.wake_fd, &drained, sizeof(drained)) < 0 && errno != EAGAIN) {
		ast_log(LOG_WARNING, "pbxstate: wake descriptor: %s\n", strerror(errno));
	}
	ast_mutex_unlock(&lock);
}

void pbxstate_inbox_stats_get(struct pbxstate_inbox_stats *out)
{
	ast_mutex_lock(&lock);
	out->depth = inbox.count;
	out->capacity = inbox.capacity;
	out->peak = inbox.peak;
	out->pushed = inbox.pushed;
	out->overflows = inbox.overflows;
	ast_mutex_unlock(&lock);
}
