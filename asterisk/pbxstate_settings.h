/*
 * res_pbxstate's configuration: pbxstate.conf in Asterisk's config format (sample:
 * asterisk/pbxstate.conf.sample, which documents every option).
 *
 * Every engine setting is an option too, under its key (batch_window_ms, departure_grace_ms,
 * anti_entropy_interval_ms, max_sync_pulls, ...): pbxstate_engine_options.h, driven by the table
 * of engine settings, with the engine's ranges.
 *
 * The site map (node_sites, for relays_per_site) is an engine option too, in the engine's text
 * form (pbxstate/site_map.h, PBXSTATE_SITE_MAP_DOC), checked by pbxstate_site_map_check.
 *
 * Which options apply on `module reload`: the filters, the publish/subscribe switches and the
 * cluster keys (a key rotation) change live; the others (group, every engine option and the site
 * map, queue size, route, receive_priority) restart the node: it leaves the CPG group and joins again with a new incarnation, which
 * the peers treat as a restart (asterisk/README.md).
 */
#ifndef PBXSTATE_SETTINGS_H
#define PBXSTATE_SETTINGS_H

#include <limits.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "pbxstate/c_api.h"
#include "pbxstate_engine_options.h"

#define PBXSTATE_CONFIG_FILE "pbxstate.conf"
#define PBXSTATE_MAX_GROUP 128        /* CPG_MAX_NAME_LENGTH */
#define PBXSTATE_MAX_FILTER 256
#define PBXSTATE_MAX_KEY_BYTES 255    /* device names and mailbox@context, as the engine's default */
#define PBXSTATE_MAX_CONTACT_BYTES 511 /* contact URIs, as the engine's default max_contact_bytes */
#define PBXSTATE_MAX_ROUTE 40         /* route name: with the EID it is the engine label (<= 64) */
#define PBXSTATE_MAX_NODE_SITES 4096  /* node_sites text: ranges keep a map of many nodes short */

struct pbxstate_filter {
	int set;                               /* 0: everything passes */
	char text[PBXSTATE_MAX_FILTER + 1];    /* the extended regular expression as written */
	regex_t re;                            /* compiled when set */
};

struct pbxstate_settings {
	char group[PBXSTATE_MAX_GROUP + 1];
	int publish_devstate;     /* local device states go to the cluster */
	int subscribe_devstate;   /* the cluster's device states come into Asterisk */
	int publish_mwi;
	int subscribe_mwi;
	struct pbxstate_filter device_filter;   /* device names shared (both ways) */
	struct pbxstate_filter mailbox_filter;  /* mailbox@context shared (both ways) */
	int share_registrations;  /* this server's PJSIP contacts go to the cluster's location table */
	uint64_t registration_ttl_ms;  /* a shared registration lapses unless refreshed (every ttl/2) */
	char route[PBXSTATE_MAX_ROUTE + 1];  /* how the others reach this server (PBXSTATE_LOCATION) */
	pbxstate_config engine;   /* the engine options (pbxstate_engine_options.h); identity, label and keys unset;
	                           * engine.node_sites points at node_sites below when set (fixed up by copies) */
	char node_sites[PBXSTATE_MAX_NODE_SITES + 1];  /* the site map's text form (PBXSTATE_SITE_MAP_KEY); "": none */
	char key_file[PATH_MAX];            /* "" : unauthenticated */
	char previous_key_file[PATH_MAX];   /* "" : none (only with key_file) */
	size_t max_pending;                 /* bound of the queue from Asterisk's threads to the node */
	int receive_priority;               /* SCHED_RR priority of the node thread's CPG dispatch; 0: its own
	                                     * (pbxstate_receive_priority.h) */
};

/* Defaults, filters unset. */
void pbxstate_settings_init(struct pbxstate_settings *s);

/*
 * Reads pbxstate.conf into *out (which must be freshly initialised). Returns 0 on success; -1 on
 * any error, after logging each one as "pbxstate.conf line N: option 'x': why" (file missing,
 * unknown section or option, bad value); *out is then freed.
 */
int pbxstate_settings_load(struct pbxstate_settings *out);

/* Releases the compiled filters. Safe on an initialised or freed struct. */
void pbxstate_settings_free(struct pbxstate_settings *s);

/* Copies src into dst (dst freed first), recompiling the filters. 0, or -1 when out of memory. */
int pbxstate_settings_copy(struct pbxstate_settings *dst, const struct pbxstate_settings *src);

/* Nonzero when going from a to b needs the node to restart (see the header comment). */
int pbxstate_settings_need_restart(const struct pbxstate_settings *a, const struct pbxstate_settings *b);

/* Nonzero when `name` passes the filter (an unset filter passes everything). */
int pbxstate_filter_match(const struct pbxstate_filter *f, const char *name);

#endif
