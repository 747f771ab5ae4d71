/*
 * pbxstate.conf's engine options (pbxstate_engine_options.h), over the C API's view of the table
 * of engine settings.
 */
#include "pbxstate_engine_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pbxstate_settings.h"

/* The settings the module fixes, and at what (its buffers' sizes). */
static const struct {
	const char *key;
	uint64_t value;
} fixed_options[] = {
	{ "max_key_bytes", PBXSTATE_MAX_KEY_BYTES },
	{ "max_contact_bytes", PBXSTATE_MAX_CONTACT_BYTES },
};

uint64_t pbxstate_engine_option_fixed(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(fixed_options) / sizeof(fixed_options[0]); i++) {
		if (!strcasecmp(key, fixed_options[i].key)) {
			return fixed_options[i].value;
		}
	}
	return 0;
}

static void set_by_key(pbxstate_config *cfg, const char *key, uint64_t value)
{
	const int index = pbxstate_setting_find(key, strlen(key));

	if (index >= 0) {
		pbxstate_config_set(cfg, (size_t) index, value);
	}
}

void pbxstate_engine_options_init(pbxstate_config *cfg)
{
	size_t i;

	pbxstate_config_init(cfg);
	cfg->membership = PBXSTATE_MEMBERSHIP_TRANSPORT;
	/* Inside Asterisk a burst costs the two corosyncs most of its CPU, per CPG message and for as
	 * long as messages keep coming (asterisk/README.md, "Measured": 20,000 changes, 206 us of
	 * corosync CPU per change at 5 ms, 43 us at 20 ms, 4,954 against 7,603 changes/s). A lone
	 * change leaves at once whatever the window (adaptive batching); in a burst a change waits
	 * 20 ms at most. Under sustained load the pacing grows to 100 ms: corosync keeps its token
	 * spinning while a message comes every 20 ms ("Measured", run w100: 100 ms cut the corosyncs'
	 * CPU per change about 4 times), and a lone change still goes at once after 20 quiet ms. */
	set_by_key(cfg, "batch_window_ms", 20);
	set_by_key(cfg, "batch_window_max_ms", 100);
	set_by_key(cfg, "anti_entropy_interval_ms", 5000);
	set_by_key(cfg, "max_frame_bytes", CPG_MAX_FRAME_BYTES);
	for (i = 0; i < sizeof(fixed_options) / sizeof(fixed_options[0]); i++) {
		set_by_key(cfg, fixed_options[i].key, fixed_options[i].value);
	}
}

/* A decimal integer, nothing else (no sign, no space, no suffix). 0 on success. */
static int parse_uint(const char *value, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (value == NULL || value[0] < '0' || value[0] > '9') {
		return -1;
	}
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0') {
		return -1;
	}
	*out = v;
	return 0;
}

int pbxstate_engine_option_parse(pbxstate_config *cfg, const char *name, const char *value, char *why, size_t why_len)
{
	const size_t count = pbxstate_setting_count();
	size_t i;

	for (i = 0; i < count; i++) {
		const pbxstate_setting *s = pbxstate_setting_at(i);
		const char *what = s->unit == PBXSTATE_UNIT_MS ? "milliseconds" : s->unit == PBXSTATE_UNIT_BYTES ? "bytes" : "a count";
		uint64_t fixed;
		uint64_t v;

		if (strcasecmp(name, s->key)) {
			continue;
		}
		fixed = pbxstate_engine_option_fixed(s->key);
		if (fixed != 0) {
			snprintf(why, why_len, "fixed by res_pbxstate at %llu (its buffers are sized for it)", (unsigned long long) fixed);
			return PBXSTATE_OPTION_BAD;
		}
		if (parse_uint(value, &v) || v < s->min || v > s->max) {
			snprintf(why, why_len, "expected %s from %llu to %llu", what, (unsigned long long) s->min,
				(unsigned long long) s->max);
			return PBXSTATE_OPTION_BAD;
		}
		pbxstate_config_set(cfg, i, v);
		return PBXSTATE_OPTION_SET;
	}
	return PBXSTATE_OPTION_NOT_ENGINE;
}

int pbxstate_engine_options_check(const pbxstate_config *cfg, char *why, size_t why_len)
{
	return pbxstate_config_validate(cfg, why, why_len) == PBXSTATE_OK ? 0 : -1;
}

void pbxstate_engine_options_apply(const pbxstate_config *from, pbxstate_config *to)
{
	const size_t count = pbxstate_setting_count();
	size_t i;

	for (i = 0; i < count; i++) {
		pbxstate_config_set(to, i, pbxstate_config_get(from, i));
	}
}

int pbxstate_engine_options_differ(const pbxstate_config *a, const pbxstate_config *b)
{
	const size_t count = pbxstate_setting_count();
	size_t i;

	for (i = 0; i < count; i++) {
		if (pbxstate_config_get(a, i) != pbxstate_config_get(b, i)) {
			return 1;
		}
	}
	return 0;
}
