/*
 * res_pjsip's contacts as this server holds them, read through Asterisk's sorcery
 * (pbxstate_contacts.c).
 *
 * res_pjsip keeps each registered contact as a sorcery object of type "contact" in its sorcery
 * instance (module name "res_pjsip", id "<aor>;@<md5 of the URI>", fields uri, path, user_agent,
 * reg_server, expiration_time, ...). Sorcery is Asterisk's core API: reading those objects needs
 * no link to res_pjsip, and works whether res_pjsip is loaded before this module, after it, or not
 * at all (then there is nothing to read). Contact-state events say when a contact changes; these
 * objects say what it is: its path and user agent, and the contacts registered before the module
 * loaded (no event announces those again).
 *
 * Only this server's dynamic contacts are read: registered here (reg_server is this Asterisk's
 * systemname, as res_pjsip compares it) and not past their expiration_time. Permanent contacts of
 * pjsip.conf are no sorcery "contact" objects; they are known from their contact-state events
 * alone.
 *
 * Threading: any thread (sorcery locks its own); the module calls it from the node thread.
 */
#ifndef PBXSTATE_CONTACTS_H
#define PBXSTATE_CONTACTS_H

#include "pbxstate_settings.h"

/* What routing a call to a contact needs besides its URI (engine.h, RegistrationInfo). Each is
 * NUL-terminated, empty when the contact has none. */
struct pbxstate_contact_details {
	char path[PBXSTATE_MAX_CONTACT_BYTES + 1];        /* the REGISTER's Path headers, as res_pjsip stores them */
	char user_agent[PBXSTATE_MAX_CONTACT_BYTES + 1];  /* its User-Agent */
};

/* Called once per contact: `aor` and `uri` are NUL-terminated and valid during the call. */
typedef void (*pbxstate_contact_fn)(void *user, const char *aor, const char *uri,
	const struct pbxstate_contact_details *details);

/* Calls `fn` for every contact res_pjsip holds for this server now (AORs longer than
 * PBXSTATE_MAX_KEY_BYTES left out: the engine cannot take them). Returns how many, or -1 when
 * there is no res_pjsip sorcery instance (res_pjsip not loaded) or its contacts cannot be read. */
int pbxstate_contacts_for_each(pbxstate_contact_fn fn, void *user);

/* The path and user agent of this server's contact `uri` of `aor` into *out. 0 when found, -1
 * when res_pjsip holds no such contact (a permanent contact, one already removed, or no
 * res_pjsip) or `aor` is longer than PBXSTATE_MAX_KEY_BYTES: *out is then empty. */
int pbxstate_contacts_details(const char *aor, const char *uri, struct pbxstate_contact_details *out);

#endif
