/*
 * This server's PJSIP registrations in the cluster's location table (pbxstate_registrations.c).
 *
 * res_pjsip's contact-state events say which contacts each AOR has here and whether they are
 * reachable; res_pjsip's contact objects (pbxstate_contacts.h) add each contact's path and user
 * agent, and the contacts registered before the module loaded, read at every resync of local
 * state (the first one when the node starts). At most MAX_CONTACTS_PER_AOR, 8, per AOR (the
 * engine's default max_contacts_per_aor); the engine holds each contact as its own entry, valid
 * for registration_ttl_ms and refreshed every ttl/2, so it lapses everywhere within a TTL of this
 * server going silent, and leaves at once with the server (departure). A removed contact is
 * removed from the engine alone; the AOR's others stay. A contact's URI, path and user agent
 * together are at most PBXSTATE_MAX_CONTACT_BYTES: the user agent is cut to fit; a contact whose
 * URI and path do not fit is not shared (logged), since a call to it could not be routed.
 *
 * Threading: the node thread, with the node's lock held.
 */
#ifndef PBXSTATE_REGISTRATIONS_H
#define PBXSTATE_REGISTRATIONS_H

#include <stdint.h>

struct pbxstate_contact_details;
struct pbxstate_local;

struct pbxstate_registrations {
	struct ao2_container *aors;  /* this server's contacts per AOR (struct local_aor, by name) */
	int64_t refresh_due_ns;      /* the next refresh of every registration's expiry */
	uint64_t pass;               /* the resync pass over res_pjsip's contacts under way or last done */
};

/* Allocates the table. 0, or -1 when out of memory. */
int pbxstate_registrations_init(struct pbxstate_registrations *r);
void pbxstate_registrations_destroy(struct pbxstate_registrations *r);

/* A contact-state event of this server's PJSIP: `reachable` 1, 0, or -1 for a removed contact;
 * `details` its path and user agent from res_pjsip's contact object, NULL when res_pjsip holds
 * none (a permanent contact of pjsip.conf: no path, no user agent, and a resync never removes
 * it). The engine learns the contact (or its removal) through `l`. */
void pbxstate_registrations_apply_contact(struct pbxstate_registrations *r, struct pbxstate_local *l,
	const char *aor, const char *uri, int reachable, const struct pbxstate_contact_details *details);

/* A resync pass over res_pjsip's contacts: sync_begin, then sync_contact for every contact
 * res_pjsip holds here now, then sync_end once every one was given (not after a failed read).
 *
 * sync_contact: added as reachable when the table lacks it (no event told it yet: registered
 * before the module loaded, or its event lost to an inbox overflow), its path and user agent
 * updated when they changed; its reachability stays what the events said. Returns 1 when the
 * engine was told, else 0.
 *
 * sync_end: removes, from the table and the engine, the contacts res_pjsip held and no longer
 * holds (a Removed event lost to an inbox overflow); returns how many. */
void pbxstate_registrations_sync_begin(struct pbxstate_registrations *r);
int pbxstate_registrations_sync_contact(struct pbxstate_registrations *r, struct pbxstate_local *l,
	const char *aor, const char *uri, const struct pbxstate_contact_details *details);
uint64_t pbxstate_registrations_sync_end(struct pbxstate_registrations *r, struct pbxstate_local *l);

/* Gives every registration a new expiry and schedules the next refresh at ttl/2. */
void pbxstate_registrations_refresh(struct pbxstate_registrations *r, struct pbxstate_local *l, int64_t now_ns);

#endif
