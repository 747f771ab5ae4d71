/*
 * pbxstate.conf: parsing, validation and comparison (pbxstate_settings.h).
 */
#include "asterisk.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "asterisk/config.h"
#include "asterisk/paths.h"
#include "asterisk/logger.h"
#include "asterisk/strings.h"

#include "pbxstate_engine_options.h"
#include "pbxstate_settings.h"

/* Bounds of the module's own options (the engine's are the engine's: pbxstate_engine_options.h). */
#define MIN_PENDING 16ull
#define MAX_PENDING 1048576ull
#define MIN_REGISTRATION_TTL_MS 60000ull
#define MAX_REGISTRATION_TTL_MS 86400000ull  /* and at most the engine option max_registration_ttl_ms */

void pbxstate_settings_init(struct pbxstate_settings *s)
{
	memset(s, 0, sizeof(*s));
	ast_copy_string(s->group, "asterisk-pbxstate", sizeof(s->group));
	s->publish_devstate = 1;
	s->subscribe_devstate = 1;
	s->publish_mwi = 1;
	s->subscribe_mwi = 1;
	pbxstate_engine_options_init(&s->engine);
	s->max_pending = 16384;
	s->share_registrations = 1;
	s->registration_ttl_ms = 3600000;
	s->receive_priority = sched_get_priority_max(SCHED_RR);  /* corosync's with system.sched_rr (its default) */
	/* Default route: Asterisk's systemname when set, else empty (PBXSTATE_LOCATION then gives the
	 * EID). Filled by pbxstate_settings_load. */
}

static void filter_free(struct pbxstate_filter *f)
{
	if (f->set) {
		regfree(&f->re);
	}
	f->set = 0;
	f->text[0] = '\0';
}

void pbxstate_settings_free(struct pbxstate_settings *s)
{
	filter_free(&s->device_filter);
	filter_free(&s->mailbox_filter);
}

/* Compiles `text` into f; on failure writes the reason to why. */
static int filter_set(struct pbxstate_filter *f, const char *text, char *why, size_t why_len)
{
	int rc;

	filter_free(f);
	if (ast_strlen_zero(text)) {
		return 0;
	}
	if (strlen(text) > PBXSTATE_MAX_FILTER) {
		snprintf(why, why_len, "longer than %d characters", PBXSTATE_MAX_FILTER);
		return -1;
	}
	rc = regcomp(&f->re, text, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char err[128];
		regerror(rc, &f->re, err, sizeof(err));
		snprintf(why, why_len, "not an extended regular expression: %s", err);
		return -1;
	}
	f->set = 1;
	ast_copy_string(f->text, text, sizeof(f->text));
	return 0;
}

int pbxstate_filter_match(const struct pbxstate_filter *f, const char *name)
{
	return !f->set || regexec(&f->re, name, 0, NULL, 0) == 0;
}

static int parse_bool(const char *value, int *out)
{
	if (ast_true(value)) {
		*out = 1;
		return 0;
	}
	if (ast_false(value)) {
		*out = 0;
		return 0;
	}
	return -1;
}

static int parse_ms(const char *value, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (ast_strlen_zero(value) || value[0] == '-' || value[0] == '+') {
		return -1;
	}
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		return -1;
	}
	*out = v;
	return 0;
}

#define BAD(v, ...) do { \
	char why_[256]; \
	snprintf(why_, sizeof(why_), __VA_ARGS__); \
	ast_log(LOG_ERROR, "%s line %d: option '%s' = '%s': %s\n", PBXSTATE_CONFIG_FILE, (v)->lineno, (v)->name, (v)->value, why_); \
	errors++; \
} while (0)

/*! One option of [general] into \a s; returns the number of errors it logged (0 or 1). */
static int parse_option(const struct ast_variable *v, struct pbxstate_settings *s)
{
	char why[200] = "";
	uint64_t n;
	int errors = 0;

	if (!strcasecmp(v->name, "group")) {
		if (ast_strlen_zero(v->value) || strlen(v->value) > PBXSTATE_MAX_GROUP) {
			BAD(v, "a CPG group name is 1 to %d characters", PBXSTATE_MAX_GROUP);
		} else {
			ast_copy_string(s->group, v->value, sizeof(s->group));
		}
	} else if (!strcasecmp(v->name, "publish_devstate")) {
		if (parse_bool(v->value, &s->publish_devstate)) {
			BAD(v, "expected yes or no");
		}
	} else if (!strcasecmp(v->name, "subscribe_devstate")) {
		if (parse_bool(v->value, &s->subscribe_devstate)) {
			BAD(v, "expected yes or no");
		}
	} else if (!strcasecmp(v->name, "publish_mwi")) {
		if (parse_bool(v->value, &s->publish_mwi)) {
			BAD(v, "expected yes or no");
		}
	} else if (!strcasecmp(v->name, "subscribe_mwi")) {
		if (parse_bool(v->value, &s->subscribe_mwi)) {
			BAD(v, "expected yes or no");
		}
	} else if (!strcasecmp(v->name, "device_filter")) {
		if (filter_set(&s->device_filter, v->value, why, sizeof(why))) {
			BAD(v, "%s", why);
		}
	} else if (!strcasecmp(v->name, "mailbox_filter")) {
		if (filter_set(&s->mailbox_filter, v->value, why, sizeof(why))) {
			BAD(v, "%s", why);
		}
	} else if (!strcasecmp(v->name, "max_pending")) {
		if (parse_ms(v->value, MIN_PENDING, MAX_PENDING, &n)) {
			BAD(v, "expected a count from %llu to %llu", MIN_PENDING, MAX_PENDING);
		} else {
			s->max_pending = (size_t) n;
		}
	} else if (!strcasecmp(v->name, "receive_priority")) {
		if (parse_ms(v->value, 0, (uint64_t) sched_get_priority_max(SCHED_RR), &n)) {
			BAD(v, "expected 0 (the thread's own scheduling) or a SCHED_RR priority from 1 to %d",
				sched_get_priority_max(SCHED_RR));
		} else {
			s->receive_priority = (int) n;
		}
	} else if (!strcasecmp(v->name, "share_registrations")) {
		if (parse_bool(v->value, &s->share_registrations)) {
			BAD(v, "expected yes or no");
		}
	} else if (!strcasecmp(v->name, "registration_ttl_ms")) {
		if (parse_ms(v->value, MIN_REGISTRATION_TTL_MS, MAX_REGISTRATION_TTL_MS, &n)) {
			BAD(v, "expected milliseconds from %llu to %llu", MIN_REGISTRATION_TTL_MS, MAX_REGISTRATION_TTL_MS);
		} else {
			s->registration_ttl_ms = n;
		}
	} else if (!strcasecmp(v->name, "route")) {
		if (strlen(v->value) > PBXSTATE_MAX_ROUTE || strpbrk(v->value, " \t,|")) {
			BAD(v, "a route is up to %d characters without spaces, commas or bars", PBXSTATE_MAX_ROUTE);
		} else {
			ast_copy_string(s->route, v->value, sizeof(s->route));
		}
	} else if (!strcasecmp(v->name, PBXSTATE_SITE_MAP_KEY)) {
		if (strlen(v->value) > PBXSTATE_MAX_NODE_SITES) {
			BAD(v, "at most %d characters (write consecutive nodes of a site as a range: 1-5:0)", PBXSTATE_MAX_NODE_SITES);
		} else if (pbxstate_site_map_check(v->value, why, sizeof(why)) != PBXSTATE_OK) {
			BAD(v, "%s", why);
		} else {
			ast_copy_string(s->node_sites, v->value, sizeof(s->node_sites));
			s->engine.node_sites = s->node_sites[0] ? s->node_sites : NULL;
		}
	} else if (!strcasecmp(v->name, "cluster_key_file")) {
		if (strlen(v->value) >= sizeof(s->key_file)) {
			BAD(v, "path too long");
		} else {
			ast_copy_string(s->key_file, v->value, sizeof(s->key_file));
		}
	} else if (!strcasecmp(v->name, "previous_key_file")) {
		if (strlen(v->value) >= sizeof(s->previous_key_file)) {
			BAD(v, "path too long");
		} else {
			ast_copy_string(s->previous_key_file, v->value, sizeof(s->previous_key_file));
		}
	} else {
		switch (pbxstate_engine_option_parse(&s->engine, v->name, v->value, why, sizeof(why))) {
		case PBXSTATE_OPTION_SET:
			break;
		case PBXSTATE_OPTION_BAD:
			BAD(v, "%s", why);
			break;
		default:
			BAD(v, "unknown option (see pbxstate.conf.sample)");
			break;
		}
	}
	return errors;
}

static int parse_general(struct ast_config *cfg, struct pbxstate_settings *s)
{
	struct ast_variable *v;
	int errors = 0;
	char why_all[256];

	for (v = ast_variable_browse(cfg, "general"); v; v = v->next) {
		errors += parse_option(v, s);
	}
	if (!ast_strlen_zero(s->previous_key_file) && ast_strlen_zero(s->key_file)) {
		ast_log(LOG_ERROR, "%s: option 'previous_key_file' is set without 'cluster_key_file'\n", PBXSTATE_CONFIG_FILE);
		errors++;
	}
	if (pbxstate_engine_options_check(&s->engine, why_all, sizeof(why_all))) {
		ast_log(LOG_ERROR, "%s: engine options: %s\n", PBXSTATE_CONFIG_FILE, why_all);
		errors++;
	}
	if (s->registration_ttl_ms > s->engine.max_registration_ttl_ms) {
		ast_log(LOG_ERROR, "%s: option 'registration_ttl_ms' (%llu) is longer than 'max_registration_ttl_ms' (%llu): "
			"the engine would refuse every registration\n", PBXSTATE_CONFIG_FILE,
			(unsigned long long) s->registration_ttl_ms, (unsigned long long) s->engine.max_registration_ttl_ms);
		errors++;
	}
	return errors ? -1 : 0;
}

int pbxstate_settings_load(struct pbxstate_settings *out)
{
	struct ast_flags flags = { 0 };
	struct ast_config *cfg;
	const char *cat = NULL;
	int errors = 0;

	cfg = ast_config_load(PBXSTATE_CONFIG_FILE, flags);
	if (cfg == CONFIG_STATUS_FILEMISSING || !cfg) {
		ast_log(LOG_ERROR, "%s: file missing (install asterisk/pbxstate.conf.sample as %s)\n",
			PBXSTATE_CONFIG_FILE, PBXSTATE_CONFIG_FILE);
		return -1;
	}
	if (cfg == CONFIG_STATUS_FILEINVALID) {
		ast_log(LOG_ERROR, "%s: not a valid configuration file (see the lines logged above)\n", PBXSTATE_CONFIG_FILE);
		return -1;
	}
	if (ast_strlen_zero(out->route) && !ast_strlen_zero(ast_config_AST_SYSTEM_NAME)
		&& strlen(ast_config_AST_SYSTEM_NAME) <= PBXSTATE_MAX_ROUTE && !strpbrk(ast_config_AST_SYSTEM_NAME, " \t,|")) {
		ast_copy_string(out->route, ast_config_AST_SYSTEM_NAME, sizeof(out->route));
	}
	while ((cat = ast_category_browse(cfg, cat))) {
		if (strcasecmp(cat, "general")) {
			ast_log(LOG_ERROR, "%s: unknown section [%s] (only [general])\n", PBXSTATE_CONFIG_FILE, cat);
			errors++;
		}
	}
	if (parse_general(cfg, out)) {
		errors++;
	}
	ast_config_destroy(cfg);
	if (errors) {
		pbxstate_settings_free(out);
		return -1;
	}
	return 0;
}

int pbxstate_settings_copy(struct pbxstate_settings *dst, const struct pbxstate_settings *src)
{
	char why[200];

	pbxstate_settings_free(dst);
	*dst = *src;
	dst->engine.node_sites = dst->node_sites[0] ? dst->node_sites : NULL;  /* its own copy, not src's */
	/* The compiled expressions are not copyable: compile again from their text. */
	dst->device_filter.set = 0;
	dst->mailbox_filter.set = 0;
	if (filter_set(&dst->device_filter, src->device_filter.text, why, sizeof(why))
		|| filter_set(&dst->mailbox_filter, src->mailbox_filter.text, why, sizeof(why))) {
		pbxstate_settings_free(dst);
		return -1;
	}
	return 0;
}

int pbxstate_settings_need_restart(const struct pbxstate_settings *a, const struct pbxstate_settings *b)
{
	return strcmp(a->group, b->group) != 0
		|| pbxstate_engine_options_differ(&a->engine, &b->engine)
		|| strcmp(a->node_sites, b->node_sites) != 0
		|| a->max_pending != b->max_pending
		|| a->receive_priority != b->receive_priority  /* taken by the node thread at its start */
		|| strcmp(a->route, b->route) != 0;  /* announced in the engine label at start */
}
