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

#include "pbxstate_contacts.h"
#include "pbxstate_local.h"
#include "pbxstate_registrations.h"
#include "pbxstate_settings.h"

#define MAX_CONTACTS_PER_AOR 8
#define MAX_LOCAL_AORS 65536

/* One contact of this server: its URI, path and user agent in one buffer ("uri\0path\0agent\0"),
 * together at most PBXSTATE_MAX_CONTACT_BYTES, the engine's max_contact_bytes. */
struct local_contact {
	int reachable;
	int in_pjsip;         /* res_pjsip holds it as a contact object (not a permanent contact) */
	uint64_t seen_pass;   /* the last resync pass that found it there */
	size_t uri_len, path_len, user_agent_len;
	char text[PBXSTATE_MAX_CONTACT_BYTES + 3];
};

/* This server's PJSIP contacts of one AOR, as the contact-state events and res_pjsip's contact
 * objects told them. */
struct local_aor {
	size_t count;
	struct local_contact contacts[MAX_CONTACTS_PER_AOR];
	char aor[];  /* the key */
};

static const char *contact_uri(const struct local_contact *c)
{
	return c->text;
}

static const char *contact_path(const struct local_contact *c)
{
	return c->text + c->uri_len + 1;
}

static const char *contact_user_agent(const struct local_contact *c)
{
	return c->text + c->uri_len + 1 + c->path_len + 1;
}

/* Fills `c` with `uri` and `d` (NULL: no path, no user agent). The user agent is cut to what the
 * bound leaves (it only informs); a URI and path longer together than the bound do not fit (a
 * contact without its path cannot be routed to): -1, `c` unchanged. */
static int contact_fill(struct local_contact *c, const char *uri, const struct pbxstate_contact_details *d)
{
	const char *path = d ? d->path : "", *agent = d ? d->user_agent : "";
	size_t uri_len = strlen(uri), path_len = strlen(path);

	if (uri_len + path_len > PBXSTATE_MAX_CONTACT_BYTES) {
		return -1;
	}
	c->uri_len = uri_len;
	c->path_len = path_len;
	c->user_agent_len = MIN(strlen(agent), PBXSTATE_MAX_CONTACT_BYTES - uri_len - path_len);
	memcpy(c->text, uri, uri_len + 1);
	memcpy(c->text + uri_len + 1, path, path_len + 1);
	memcpy(c->text + uri_len + 1 + path_len + 1, agent, c->user_agent_len);
	c->text[uri_len + 1 + path_len + 1 + c->user_agent_len] = '\0';
	return 0;
}

/* Whether `d` says something other than what `c` holds (a user agent cut to the bound counts as
 * the same). */
static int contact_details_differ(const struct local_contact *c, const struct pbxstate_contact_details *d)
{
	return strcmp(contact_path(c), d->path) || strncmp(contact_user_agent(c), d->user_agent, c->user_agent_len)
		|| (strlen(d->user_agent) != c->user_agent_len
			&& c->uri_len + c->path_len + c->user_agent_len < PBXSTATE_MAX_CONTACT_BYTES);
}

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
	r->pass = 0;
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
	const struct local_contact *c = &a->contacts[i];
	pbxstate_registration reg;
	struct timespec wall;
	int rc;

	memset(&reg, 0, sizeof(reg));
	clock_gettime(CLOCK_REALTIME, &wall);
	reg.contact = contact_uri(c);
	reg.contact_len = c->uri_len;
	reg.path = contact_path(c);
	reg.path_len = c->path_len;
	reg.user_agent = contact_user_agent(c);
	reg.user_agent_len = c->user_agent_len;
	reg.expires_ns = (int64_t) wall.tv_sec * 1000000000LL + wall.tv_nsec
		+ (int64_t) l->settings->registration_ttl_ms * 1000000LL;
	reg.status = c->reachable ? PBXSTATE_CONTACT_REACHABLE : PBXSTATE_CONTACT_UNREACHABLE;
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

/* The index of `uri` among a's contacts; a->count when absent. */
static size_t contact_index(const struct local_aor *a, const char *uri)
{
	size_t i;

	for (i = 0; i < a->count && strcmp(contact_uri(&a->contacts[i]), uri); i++) {
	}
	return i;
}

static void forget_contact(struct local_aor *a, size_t i)
{
	memmove(&a->contacts[i], &a->contacts[i + 1], (a->count - i - 1) * sizeof(a->contacts[0]));
	a->count--;
}

/* Removes this server's contact `uri` of `a` from the table and the engine. */
static void remove_contact(struct pbxstate_local *l, struct local_aor *a, const char *uri)
{
	size_t i = contact_index(a, uri);
	int rc;

	if (i < a->count) {
		forget_contact(a, i);
	}
	rc = pbxstate_engine_remove_contact(l->engine, a->aor, strlen(a->aor), uri, strlen(uri));
	if (rc != PBXSTATE_OK) {
		pbxstate_local_engine_error(l, "removal of contact of", a->aor, rc);
	}
}

/* Adds `uri` to `a` (reachable, with `d`) or updates it; returns its index, or -1 when it did not
 * fit (MAX_CONTACTS_PER_AOR, or its URI and path together over the bound; logged). */
static int upsert_contact(struct pbxstate_local *l, struct local_aor *a, const char *uri,
	const struct pbxstate_contact_details *d)
{
	size_t i = contact_index(a, uri);

	if (i == a->count && a->count == MAX_CONTACTS_PER_AOR) {
		l->counters.engine_errors++;
		ast_log(LOG_WARNING, "pbxstate: AOR %s has more than %d contacts here; %s not shared\n", a->aor,
			MAX_CONTACTS_PER_AOR, uri);
		return -1;
	}
	if (contact_fill(&a->contacts[i], uri, d)) {
		l->counters.engine_errors++;
		ast_log(LOG_WARNING, "pbxstate: contact and path of %s longer together than %d bytes; %.40s... not "
			"shared\n", a->aor, PBXSTATE_MAX_CONTACT_BYTES, uri);
		return -1;
	}
	if (i == a->count) {
		a->contacts[i].reachable = 1;
		a->contacts[i].seen_pass = 0;
		a->count++;
	}
	a->contacts[i].in_pjsip = d != NULL;
	return (int) i;
}

/* Drops the AOR's entry once it holds no contact (and the caller's reference). */
static void release_aor(struct pbxstate_registrations *r, struct local_aor *a)
{
	if (a->count == 0) {
		ao2_unlink(r->aors, a);
	}
	ao2_ref(a, -1);
}

void pbxstate_registrations_apply_contact(struct pbxstate_registrations *r, struct pbxstate_local *l,
	const char *aor, const char *uri, int reachable, const struct pbxstate_contact_details *details)
{
	struct local_aor *a = find_aor(r, l, aor, reachable >= 0);
	int i;

	if (!a) {
		return;
	}
	i = reachable < 0 ? -1 : upsert_contact(l, a, uri, details);
	if (i >= 0) {
		a->contacts[i].reachable = reachable;
		push_contact(l, a, (size_t) i);
	} else {
		remove_contact(l, a, uri);
	}
	release_aor(r, a);
}

int pbxstate_registrations_sync_contact(struct pbxstate_registrations *r, struct pbxstate_local *l,
	const char *aor, const char *uri, const struct pbxstate_contact_details *details)
{
	struct local_aor *a = find_aor(r, l, aor, 1);
	size_t known;
	int i, pushed = 0;

	if (!a) {
		return 0;
	}
	known = contact_index(a, uri);
	if (known == a->count || contact_details_differ(&a->contacts[known], details)) {
		i = upsert_contact(l, a, uri, details);
		if (i >= 0) {
			push_contact(l, a, (size_t) i);
			pushed = 1;
		} else if (known < a->count) {
			remove_contact(l, a, uri);
		}
		known = contact_index(a, uri);
	}
	if (known < a->count) {
		a->contacts[known].in_pjsip = 1;
		a->contacts[known].seen_pass = r->pass;
	}
	release_aor(r, a);
	return pushed;
}

void pbxstate_registrations_sync_begin(struct pbxstate_registrations *r)
{
	r->pass++;
}

struct sync_end {
	struct pbxstate_registrations *r;
	struct pbxstate_local *l;
	uint64_t removed;
};

/* Removes a's contacts res_pjsip held and the pass did not find; matches an AOR left empty. */
static int drop_unseen(void *obj, void *arg, int flags)
{
	struct local_aor *a = obj;
	struct sync_end *e = arg;
	size_t i = a->count;
	(void) flags;

	while (i-- > 0) {
		const struct local_contact *c = &a->contacts[i];
		char uri[PBXSTATE_MAX_CONTACT_BYTES + 1];

		if (c->in_pjsip && c->seen_pass != e->r->pass) {
			ast_copy_string(uri, contact_uri(c), sizeof(uri));  /* the removal moves the others */
			remove_contact(e->l, a, uri);
			e->removed++;
		}
	}
	return a->count == 0 ? CMP_MATCH : 0;
}

uint64_t pbxstate_registrations_sync_end(struct pbxstate_registrations *r, struct pbxstate_local *l)
{
	struct sync_end e = { r, l, 0 };

	ao2_callback(r->aors, OBJ_NODATA | OBJ_MULTIPLE | OBJ_UNLINK, drop_unseen, &e);
	return e.removed;
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
