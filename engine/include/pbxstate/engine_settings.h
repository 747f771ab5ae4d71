/*
 * The table of engine settings: every tunable number of EngineConfig (config.h), one row each.
 * It is the one definition of a setting's name, unit, range and one-line doc. Everything that
 * reads or writes engine settings is driven by it:
 *
 *   EngineConfig::Validate          the ranges (config.cc; cross-field rules stay there)
 *   EngineSettings() (config.h)     the C++ view, with a pointer to EngineConfig's member
 *   pbxstate_config (c_api.h)       its fields are generated from the rows (name, or name_ms)
 *   pbxstate_setting_at() (c_api.h) the C view, for C hosts (res_pbxstate's pbxstate.conf)
 *   the scenario loader             engine: section, durations with a unit ("250ms")
 *   pbxstated's configuration       engine: section, durations as integer *_ms keys
 *   the netns pbxstated writer      writes every row
 *   the Python bindings             pbxstate.Cluster(engine={...}), durations in seconds
 *
 * and each of them has a test that walks the rows (min and max accepted, one below and one above
 * refused). Adding a setting: a member in EngineConfig (with its default and a comment saying
 * why), one row here, and the engine code that uses it; nothing else.
 *
 * X(name, unit, min, max, doc):
 *   name  EngineConfig's member; the key of scenario files and of Python's engine dict.
 *   unit  MS: a duration (EngineConfig holds a Duration; C, pbxstated and pbxstate.conf carry
 *         whole milliseconds under the key name_ms); COUNT or BYTES: an integer (std::size_t).
 *   min, max  the inclusive range, in the unit (milliseconds for MS). The bounds are what the
 *         engine supports: the codec's limits where there is one (frame, key and contact sizes,
 *         nodes; config.cc checks them against codec.h), otherwise the value beyond which a
 *         setting is a typo rather than a choice.
 *   doc   one line: what the setting does.
 *
 * One setting is not a number and so not a row: the site map (EngineConfig::node_sites), whose
 * key, doc and text form are defined once in site_map.h.
 *
 * Cross-field rules (sync_timeout > sync_retransmit, suspect_after > heartbeat_interval, a frame
 * holds one record of max_key_bytes and max_contact_bytes) are EngineConfig::Validate's; the
 * configuration PermissiveEngineConfig() (config.h) lets every setting take any value of its
 * range. Plain C: this header is included by c_api.h.
 */
#ifndef PBXSTATE_ENGINE_SETTINGS_H
#define PBXSTATE_ENGINE_SETTINGS_H

/* clang-format off */
#define PBXSTATE_ENGINE_SETTINGS(X) \
  X(batch_window,          MS,    0,    10000,      "local changes are collected this long and sent together, several per frame; 0: each at once") \
  X(batch_window_max,      MS,    0,    10000,      "under sustained load the pacing between flushes doubles from batch_window up to this; at or below batch_window: it stays there") \
  X(max_batch_changes,     COUNT, 1,    1000000,    "a pending batch is sent at once when it holds this many changed keys") \
  X(max_frame_bytes,       BYTES, 256,  1048576,    "largest frame the engine builds (with its MAC); must not exceed what the transport carries") \
  X(send_retry_interval,   MS,    1,    10000,      "after the transport answered try-again, the engine retries after this long") \
  X(max_send_queue_frames, COUNT, 1,    1000000,    "frames waiting for the transport; at the bound the oldest is dropped (send_queue_overflow)") \
  X(anti_entropy_interval, MS,    0,    3600000,    "a digest is offered to one peer this often; 0: only on joins and heals") \
  X(join_digest_holdoff,   MS,    0,    10000,      "nodes joining within this long share one digest broadcast") \
  X(join_digest_fanout,    COUNT, 1,    4096,       "with heartbeat membership, about this many nodes send a newcomer their digest") \
  X(sync_window_pages,     COUNT, 1,    1024,       "unacknowledged pages in flight per catch-up session") \
  X(max_sync_pulls,        COUNT, 1,    64,         "catch-up sessions this node pulls at once") \
  X(max_sync_serves,       COUNT, 1,    64,         "catch-up sessions this node serves at once that still send pages (as many again may wait for their last ack); more are refused") \
  X(sync_retransmit,       MS,    1,    60000,      "a donor's first retransmit timeout for unacknowledged pages (then adapted to round trips)") \
  X(sync_timeout,          MS,    2,    600000,     "a catch-up session without progress this long is abandoned; longer than sync_retransmit") \
  X(departure_grace,       MS,    0,    3600000,    "a departed node's contributions keep counting this long; 0: they stop at once") \
  X(heartbeat_interval,    MS,    1,    60000,      "with heartbeat membership, a heartbeat is broadcast this often") \
  X(suspect_after,         MS,    2,    600000,     "with heartbeat membership, a node silent this long has departed; longer than heartbeat_interval") \
  X(max_key_bytes,         BYTES, 1,    1024,       "longest device, mailbox or AOR name") \
  X(max_contact_bytes,     BYTES, 0,    2048,       "longest registration contact, path and user agent together") \
  X(max_contacts_per_aor,  COUNT, 1,    1024,       "contacts one node holds per AOR; a new contact at the bound replaces the one expiring first") \
  X(max_nodes,             COUNT, 1,    4096,       "nodes tracked, this one included; frames about more are dropped") \
  X(max_entries,           COUNT, 1,    4294967296, "entries held in all; local changes beyond are refused, remote ones dropped") \
  X(max_registration_ttl,  MS,    1000, 2592000000, "a registration expiring further out than this is refused") \
  X(max_received_ranges,   COUNT, 1,    65536,      "out-of-order sequence ranges remembered per origin") \
  X(max_clock_skew,        MS,    1,    86400000,   "a mailbox write stamped further than this ahead of the local clock is refused") \
  X(relays_per_site,       COUNT, 0,    64,         "with node_sites, a frame for everyone goes once to each site, to one of this many lowest-id live nodes there, which passes it on; 0: to every peer") \
  X(relay_window,          MS,    0,    10000,      "a relay holds the frames it passes on this long and sends them together; 0: each at once")
/* clang-format on */

#endif /* PBXSTATE_ENGINE_SETTINGS_H */
