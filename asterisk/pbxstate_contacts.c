/*
 * res_pjsip's contacts as this server holds them, read through Asterisk's sorcery
 * (pbxstate_contacts.h).
 */
#include "asterisk.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asterisk/astobj2.h"
#include "asterisk/config.h"
#include "asterisk/logger.h"
#include "asterisk/paths.h"
#include "asterisk/sorcery.h"
#include "asterisk/strings.h"
#include "asterisk/utils.h"

#include "pbxstate_contacts.h"

/* res_pjsip's sorcery instance (its module name) and its object type for contacts. */
#define PJSIP_SORCERY_MODULE "res_pjsip"
#define CONTACT_TYPE "contact"
/* What separates the AOR from the URI's hash in a dynamic contact's id (res_pjsip location.c). */
#define DYNAMIC_ID_SEPARATOR ";@"

/* A contact object's fields, as sorcery renders them (values owned by `fields`). */
struct contact_fields {
	struct ast_variable *fields;
	const char *uri, *path, *user_agent, *reg_server, *expiration_time;
};

static void fields_read(const struct ast_sorcery *sorcery, const void *contact, struct contact_fields *f)
{
	f->fields = ast_sorcery_objectset_create(sorcery, contact);
	f->uri = S_OR(ast_variable_find_in_list(f->fields, "uri"), "");
	f->path = S_OR(ast_variable_find_in_list(f->fields, "path"), "");
	f->user_agent = S_OR(ast_variable_find_in_list(f->fields, "user_agent"), "");
	f->reg_server = S_OR(ast_variable_find_in_list(f->fields, "reg_server"), "");
	f->expiration_time = S_OR(ast_variable_find_in_list(f->fields, "expiration_time"), "0");
}

/* Whether res_pjsip would use the contact on this server now: registered here (res_pjsip's own
 * comparison: reg_server against systemname, both empty by default) and not expired. */
static int fields_live_here(const struct contact_fields *f, time_t now)
{
	return f->fields && !ast_strlen_zero(f->uri) && !strcmp(f->reg_server, S_OR(ast_config_AST_SYSTEM_NAME, ""))
		&& strtoll(f->expiration_time, NULL, 10) > (long long) now;
}

static void fields_details(const struct contact_fields *f, struct pbxstate_contact_details *out)
{
	ast_copy_string(out->path, f->path, sizeof(out->path));
	ast_copy_string(out->user_agent, f->user_agent, sizeof(out->user_agent));
}

int pbxstate_contacts_for_each(pbxstate_contact_fn fn, void *user)
{
	struct ast_sorcery *sorcery = ast_sorcery_retrieve_by_module_name(PJSIP_SORCERY_MODULE);
	struct ao2_container *contacts;
	struct ao2_iterator it;
	void *contact;
	time_t now = time(NULL);
	int count = 0;

	if (!sorcery) {
		return -1;
	}
	contacts = ast_sorcery_retrieve_by_fields(sorcery, CONTACT_TYPE,
		AST_RETRIEVE_FLAG_MULTIPLE | AST_RETRIEVE_FLAG_ALL, NULL);
	if (!contacts) {
		ast_sorcery_unref(sorcery);
		return -1;
	}
	it = ao2_iterator_init(contacts, 0);
	while ((contact = ao2_iterator_next(&it))) {
		const char *id = ast_sorcery_object_get_id(contact);
		const char *sep = strstr(id, DYNAMIC_ID_SEPARATOR);
		struct contact_fields f;
		struct pbxstate_contact_details details;

		fields_read(sorcery, contact, &f);
		/* An AOR name longer than the engine takes cannot be shared (logged at its events). */
		if (sep && sep > id && (size_t) (sep - id) <= PBXSTATE_MAX_KEY_BYTES && fields_live_here(&f, now)) {
			char aor[PBXSTATE_MAX_KEY_BYTES + 1];

			ast_copy_string(aor, id, (size_t) (sep - id) + 1);
			fields_details(&f, &details);
			fn(user, aor, f.uri, &details);
			count++;
		}
		ast_variables_destroy(f.fields);
		ao2_ref(contact, -1);
	}
	ao2_iterator_destroy(&it);
	ao2_ref(contacts, -1);
	ast_sorcery_unref(sorcery);
	return count;
}

int pbxstate_contacts_details(const char *aor, const char *uri, struct pbxstate_contact_details *out)
{
	struct ast_sorcery *sorcery;
	char hash[33];
	char id[PBXSTATE_MAX_KEY_BYTES + sizeof(DYNAMIC_ID_SEPARATOR) + sizeof(hash)];
	void *contact;
	struct contact_fields f;
	int rc = -1;

	out->path[0] = out->user_agent[0] = '\0';
	if (strlen(aor) > PBXSTATE_MAX_KEY_BYTES) {
		return -1;
	}
	sorcery = ast_sorcery_retrieve_by_module_name(PJSIP_SORCERY_MODULE);
	if (!sorcery) {
		return -1;
	}
	/* res_pjsip's naming of a dynamic contact (location.c, ast_sip_location_add_contact). */
	ast_md5_hash(hash, uri);
	snprintf(id, sizeof(id), "%s" DYNAMIC_ID_SEPARATOR "%s", aor, hash);
	contact = ast_sorcery_retrieve_by_id(sorcery, CONTACT_TYPE, id);
	if (contact) {
		fields_read(sorcery, contact, &f);
		if (f.fields && !strcmp(f.uri, uri)) {
			fields_details(&f, out);
			rc = 0;
		}
		ast_variables_destroy(f.fields);
		ao2_ref(contact, -1);
	}
	ast_sorcery_unref(sorcery);
	return rc;
}
