/*
 * res_pbxstate's engine options: every engine setting is an option of pbxstate.conf's [general]
 * under its key (batch_window_ms, max_sync_pulls, ...; durations in milliseconds), with the
 * engine's own range. Driven by the table of engine settings (engine_settings.h) through the C
 * API's view (pbxstate_setting_at), so this module holds no copy of names or ranges.
 *
 * Independent of Asterisk's headers (only the C API and libc), so tests/asterisk unit-tests it on
 * machines without Asterisk.
 */
#ifndef PBXSTATE_ENGINE_OPTIONS_H
#define PBXSTATE_ENGINE_OPTIONS_H

#include <stddef.h>

#include "pbxstate/c_api.h"

/* Fills `cfg` with the module's engine defaults: the engine's (pbxstate_config_init), CPG
 * membership, and the module's own choices: batch_window_ms 5 (a burst of local changes in one
 * CPG message for a few ms of lamp latency), anti_entropy_interval_ms 5000 (CPG is reliable; the
 * slow exchange repairs what a full engine queue dropped), max_frame_bytes CPG_MAX_FRAME_BYTES
 * (below), and the two settings the module fixes (pbxstate_engine_option_fixed). */
/* The engine's largest frame on CPG. While a frame is on the ring (CPG has not delivered it back
 * yet), changes wait and then leave together (adaptive batching): larger frames mean fewer CPG
 * messages in a burst, and corosync's cost is per message far more than per byte (asterisk/README.md,
 * "Measured"). libcpg carries up to 1 MiB; knet fragments what exceeds the MTU. */
#define CPG_MAX_FRAME_BYTES 65000

void pbxstate_engine_options_init(pbxstate_config *cfg);

/* The value the module fixes setting `key` at, or 0 when the setting is configurable: the module's
 * buffers are sized for max_key_bytes (PBXSTATE_MAX_KEY_BYTES) and max_contact_bytes
 * (PBXSTATE_MAX_CONTACT_BYTES), so pbxstate.conf cannot change them. */
uint64_t pbxstate_engine_option_fixed(const char *key);

/* Results of pbxstate_engine_option_parse. */
#define PBXSTATE_OPTION_NOT_ENGINE (-1) /* `name` is not an engine option: the caller's to handle */
#define PBXSTATE_OPTION_SET 0           /* `value` parsed into `cfg` */
#define PBXSTATE_OPTION_BAD 1           /* an engine option with a bad value: `why` says why */

/* When `name` (case-insensitive) is the key of an engine setting: parses `value`, a decimal
 * integer in the setting's unit within its range, into `cfg` (PBXSTATE_OPTION_SET), or writes the
 * reason to `why` ("expected milliseconds from 0 to 10000") and leaves `cfg` unchanged
 * (PBXSTATE_OPTION_BAD; also for a setting the module fixes). PBXSTATE_OPTION_NOT_ENGINE
 * otherwise. */
int pbxstate_engine_option_parse(pbxstate_config *cfg, const char *name, const char *value, char *why, size_t why_len);

/* The engine's own verdict on the options together (pbxstate_config_validate): 0, or -1 with the
 * reason, naming the setting, in `why` (e.g. max_frame_bytes too small for one record of the
 * module's fixed max_key_bytes and max_contact_bytes). */
int pbxstate_engine_options_check(const pbxstate_config *cfg, char *why, size_t why_len);

/* Copies every engine setting of `from` into `to`, leaving `to`'s identity, label, membership and
 * keys alone. */
void pbxstate_engine_options_apply(const pbxstate_config *from, pbxstate_config *to);

/* Nonzero when `a` and `b` differ in any engine setting (a change restarts the node). */
int pbxstate_engine_options_differ(const pbxstate_config *a, const pbxstate_config *b);

#endif
