/*
 * The latency trace: a build option (cmake -DPBXSTATE_LATENCY_TRACE=ON, off by default) that
 * stamps CLOCK_MONOTONIC at each stage of one change's path through the Asterisk module, the CPG
 * host and the engine, into one bounded ring, so that a path's microseconds can be split stage by
 * stage (asterisk/README.md, "The latency trace"). Off, PBXSTATE_TRACE() compiles to nothing and
 * no code or state of this header exists in the build.
 *
 * On, it is the only global mutable state of the engine library: one ring per process, written
 * by any thread (an atomic slot counter; a stamp is a vDSO clock read, about 30 ns), read by
 * pbxstate_trace_dump(). The ring keeps the last PBXSTATE_TRACE_CAPACITY stamps.
 */
#ifndef PBXSTATE_LATENCY_TRACE_H
#define PBXSTATE_LATENCY_TRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every stage, once: X(enumerator, name). A receiver's path runs rx_poll .. rx_cpg_returned on the
 * node thread; an origin's, tx_stasis .. tx_done on a stasis callback thread. */
#define PBXSTATE_TRACE_STAGES(X) \
	X(PBXSTATE_TRACE_RX_POLL, "rx_poll")                 /* node thread: poll() returned */ \
	X(PBXSTATE_TRACE_RX_LOCKED, "rx_locked")             /* ... the node's lock taken */ \
	X(PBXSTATE_TRACE_RX_CPG_DISPATCH, "rx_cpg_dispatch") /* CPG host: cpg_dispatch() called */ \
	X(PBXSTATE_TRACE_RX_DELIVER, "rx_deliver")           /* libcpg called our deliver callback */ \
	X(PBXSTATE_TRACE_RX_ENVELOPE, "rx_envelope")         /* envelope and sender checked */ \
	X(PBXSTATE_TRACE_RX_ENGINE, "rx_engine")             /* engine: the frame handed to it */ \
	X(PBXSTATE_TRACE_RX_HEADER, "rx_header")             /* ... frame header decoded */ \
	X(PBXSTATE_TRACE_RX_MAC, "rx_mac")                   /* ... MAC and replay window checked */ \
	X(PBXSTATE_TRACE_RX_DECODED, "rx_decoded")           /* ... body decoded, sender a member */ \
	X(PBXSTATE_TRACE_RX_RECORD, "rx_record")             /* ... a record about to be applied */ \
	X(PBXSTATE_TRACE_RX_EMIT, "rx_emit")                 /* ... the change applied, for the listener */ \
	X(PBXSTATE_TRACE_RX_LISTENER, "rx_listener")         /* module: the engine's listener called */ \
	X(PBXSTATE_TRACE_RX_PUBLISH, "rx_publish")           /* ... Asterisk's publish called */ \
	X(PBXSTATE_TRACE_RX_PUBLISHED, "rx_published")       /* ... Asterisk's publish returned */ \
	X(PBXSTATE_TRACE_RX_APPLIED, "rx_applied")           /* engine: the frame's records applied */ \
	X(PBXSTATE_TRACE_RX_FRAME_DONE, "rx_frame_done")     /* ... OnFrame returned (timers re-armed) */ \
	X(PBXSTATE_TRACE_RX_CPG_RETURNED, "rx_cpg_returned") /* CPG host: cpg_dispatch() returned */ \
	X(PBXSTATE_TRACE_TX_STASIS, "tx_stasis")             /* module: the stasis callback entered */ \
	X(PBXSTATE_TRACE_TX_LOCKED, "tx_locked")             /* ... the node's lock taken (trylock) */ \
	X(PBXSTATE_TRACE_TX_ENGINE, "tx_engine")             /* ... the engine called */ \
	X(PBXSTATE_TRACE_TX_CHECKED, "tx_checked")           /* engine: the change checked, to send */ \
	X(PBXSTATE_TRACE_TX_FRAME, "tx_frame")               /* ... the transport ready: encoding */ \
	X(PBXSTATE_TRACE_TX_ENCODED, "tx_encoded")           /* ... the frame encoded */ \
	X(PBXSTATE_TRACE_TX_SEALED, "tx_sealed")             /* ... sealed (MAC) */ \
	X(PBXSTATE_TRACE_TX_MCAST, "tx_mcast")               /* CPG host: cpg_mcast_joined() called */ \
	X(PBXSTATE_TRACE_TX_MCAST_DONE, "tx_mcast_done")     /* ... cpg_mcast_joined() returned */ \
	X(PBXSTATE_TRACE_TX_ENGINE_DONE, "tx_engine_done")   /* module: the engine returned */ \
	X(PBXSTATE_TRACE_TX_DONE, "tx_done")                 /* ... the node's lock released */

#define PBXSTATE_TRACE_ENUM_(e, name) e,
typedef enum { PBXSTATE_TRACE_STAGES(PBXSTATE_TRACE_ENUM_) PBXSTATE_TRACE_STAGE_COUNT } pbxstate_trace_stage;
#undef PBXSTATE_TRACE_ENUM_

#define PBXSTATE_TRACE_CAPACITY 16384 /* stamps kept: 60 changes of each kind, about 15 per path */

#ifdef PBXSTATE_LATENCY_TRACE

/* Stamps `stage` now, with the calling thread's id. Any thread; never blocks, never allocates. */
void pbxstate_trace_stamp(pbxstate_trace_stage stage);

/* The stage's name ("rx_poll", ...), or "?" outside the enum. */
const char *pbxstate_trace_stage_name(pbxstate_trace_stage stage);

/* Calls `line` once per stamp held, oldest first, with a NUL-terminated line
 * "<ns> <thread id> <stage name>", then returns how many it gave. Stamps written while it runs
 * may be skipped or torn into the next dump's lines: dump when the path is quiet. */
size_t pbxstate_trace_dump(void (*line)(void *user, const char *text), void *user);

/* Forgets every stamp (for a fresh measurement). Call when the path is quiet. */
void pbxstate_trace_clear(void);

#define PBXSTATE_TRACE(stage) pbxstate_trace_stamp(stage)
#else
#define PBXSTATE_TRACE(stage) ((void) 0)
#endif

#ifdef __cplusplus
}
#endif

#endif /* PBXSTATE_LATENCY_TRACE_H */
