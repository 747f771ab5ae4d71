/*
 * This server's PJSIP registrations in the cluster's location table (pbxstate_registrations.h).
 */
#include "asterisk.h"

#include <string.h>
#include <time.h>

#include "asterisk/astobj2.h"
#include "asterisk/logger.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#include "pbxstate_local.h"
#include "pbxstate_registrations.h"
#include "pbxstate_settings.h"

#define MAX_CONTACTS_PER_AOR 8
#define MAX_LOCAL_AORS 65536

/* This server's PJSIP contacts of one AOR, as the contact-state events told them. */
struct local_aor {
	size_t count;
	struct {
		char uri[PBXSTATE_MAX_CONTACT_BYTES + 1];
		int reachable;
	} contacts[MAX_CONTACTS_PER_AOR];
	char aor[];  /* the key */
};

static int aor_hash(const void *obj, int flags)
{
	const char *key = (flags & OBJ_SEARCH_MASK) == OBJ_SEARCH_KEY ? obj : ((const struct local_aor *) obj)->aor;
	return ast_str_hash(key);
}

static int aor_cmp(void *obj, void *arg, int flags)
{
	const struct local_aor *a = obj;
	const char *key = (flags & OBJ_SEARCH_MASK) == OBJ_SEARCH_KEY ? arg : ((const struct local_aor *) arg)->aor;
	return strcmp(a->aor, key) ? 0 : CMP_MATCH;
}

int pbxstate_registrations_init(struct pbxstate_registrations *r)
{
	r->aors = ao2_container_alloc_hash(AO2_ALLOC_OPT_LOCK_NOLOCK, 0, 1021, aor_hash, NULL, aor_cmp);
	r->refresh_due_ns = 0;
	return r->aors ? 0 : -1;
}

void pbxstate_registrations_destroy(struct pbxstate_registrations *r)
{
	ao2_cleanup(r->aors);
	r->aors = NULL;
}

/* Hands the engine this server's contact `i` of `a`, valid for registration_ttl_ms. Every
 * contact of an AOR is its own entry in the engine (engine/README.md, "Registrations"). */
static void push_contact(struct pbxstate_local *l, const struct local_aor *a, size_t i)
{
	pbxstate_registration reg;
	struct timespec wall;
	int rc;

	memset(&reg, 0, sizeof(reg));
	clock_gettime(CLOCK_REALTIME, &wall);
	reg.contact = a->contacts[i].uri;
	reg.contact_len = strlen(a->contacts[i].uri);
	reg.expires_ns = (int64_t) wall.tv_sec * 1000000000LL + wall.tv_nsec
		+ (int64_t) l->settings->registration_ttl_ms * 1000000LL;
	reg.status = a->contacts[i].reachable ? PBXSTATE_CONTACT_REACHABLE : PBXSTATE_CONTACT_UNREACHABLE;
	reg.rtt_us = 0;
	rc = pbxstate_engine_set_registration(l->engine, a->aor, strlen(a->aor), &reg);
	if (rc != PBXSTATE_OK) {
		pbxstate_local_engine_error(l, "registration of", a->aor, rc);
	}
}

/* Hands the engine every contact of `a`. */
static void push_registration(struct pbxstate_local *l, const struct local_aor *a)
{
	size_t i;

	for (i = 0; i < a->count; i++) {
		push_contact(l, a, i);
	}
}

/* The AOR's entry, created when `create`; NULL when absent (or the table is full). */
static struct local_aor *find_aor(struct pbxstate_registrations *r, struct pbxstate_local *l, const char *aor,
	int create)
{
	struct local_aor *a = ao2_find(r->aors, aor, OBJ_SEARCH_KEY);

	if (a || !create) {
		return a;
	}
	if (ao2_container_count(r->aors) >= MAX_LOCAL_AORS) {
		l->counters.engine_errors++;
		ast_log(LOG_WARNING, "pbxstate: more than %d registered AORs; %s not shared\n", MAX_LOCAL_AORS, aor);
		return NULL;
	}
	a = ao2_alloc_options(sizeof(*a) + strlen(aor) + 1, NULL, AO2_ALLOC_OPT_LOCK_NOLOCK);
	if (!a) {
		return NULL;
	}
	strcpy(a->aor, aor); /* Safe: allocated for it. */
	a->count = 0;
	ao2_link(r->aors, a);
	return a;
}

/* Applies the event to the AOR's contact list; returns the contact's index, or -1 when it was
 * removed or did not fit (MAX_CONTACTS_PER_AOR). */
static int update_contacts(struct local_aor *a, const char *uri, int reachable)
{
	size_t i;

	for (i = 0; i < a->count && strcmp(a->contacts[i].uri, uri); i++) {
	}
	if (reachable < 0) {
		if (i < a->count) {
			memmove(&a->contacts[i], &a->contacts[i + 1], (a->count - i - 1) * sizeof(a->contacts[0]));
			a->count--;
		}
		return -1;
	}
	if (i < a->count) {
		a->contacts[i].reachable = reachable;
		return (int) i;
	}
	if (a->count < MAX_CONTACTS_PER_AOR) {
		ast_copy_string(a->contacts[a->count].uri, uri, sizeof(a->contacts[0].uri));
		a->contacts[a->count].reachable = reachable;
		return (int) a->count++;
	}
	return -1;
}

void pbxstate_registrations_apply_contact(struct pbxstate_registrations *r, struct pbxstate_local *l,
	const char *aor, const char *uri, int reachable)
{
	struct local_aor *a = find_aor(r, l, aor, reachable >= 0);
	int i;

	if (!a) {
		return;
	}
	i = update_contacts(a, uri, reachable);
	if (reachable < 0) {
		int rc = pbxstate_engine_remove_contact(l->engine, aor, strlen(aor), uri, strlen(uri));
		if (rc != PBXSTATE_OK) {
			pbxstate_local_engine_error(l, "removal of contact of", aor, rc);
		}
	} else if (i >= 0) {
		push_contact(l, a, (size_t) i);
	}
	if (a->count == 0) {
		ao2_unlink(r->aors, a);
	}
	ao2_ref(a, -1);
}

static int refresh_one(void *obj, void *arg, int flags)
{
	(void) flags;
	push_registration(arg, obj);
	return 0;
}

void pbxstate_registrations_refresh(struct pbxstate_registrations *r, struct pbxstate_local *l, int64_t now_ns)
{
	ao2_callback(r->aors, OBJ_NODATA, refresh_one, l);
	r->refresh_due_ns = now_ns + (int64_t) l->settings->registration_ttl_ms * 500000LL;
}
