// For a C++ host that gives a C program its engine (transports/corosync's c_cpg_host.h, which the
// Asterisk module uses): the engine of c_api.h over the host's C++ Env, with no C callback in
// between. The C program calls the engine through c_api.h as usual; the host makes the engine's
// upcalls (OnFrame, OnMembership, OnTimer, OnSendReady) on the C++ Engine directly.
//
// Without this, such a host would cross C++ -> C -> C++ twice per call: its Env behind the C
// callbacks of pbxstate_env, and the C API's upcall functions in front of its C++ upcalls, each
// way through a translation table of its own.
#pragma once

#include <cstddef>

#include "pbxstate/c_api.h"
#include "pbxstate/engine.h"
#include "pbxstate/env.h"

namespace pbxstate {

// pbxstate_engine_create with a C++ Env: the same configuration rules, errors and listener, but
// every Env call of the engine goes to `env` (borrowed; it must outlive the engine). The C API's
// re-entrancy guards still hold for the C program's calls. Destroy with pbxstate_engine_destroy.
int CreateCEngine(const pbxstate_config* cfg, Env* env, pbxstate_engine** out, char* errbuf, std::size_t errbuf_len);

// The C++ engine inside `engine` (nullptr for nullptr), for the host's upcalls. The host must not
// make them from inside an Env method or a listener callback of this engine (env.h, engine.h).
Engine* EngineOf(pbxstate_engine* engine);

// The pbxstate_log_level of `level`, for a host that passes the engine's log lines on to a C log
// function (the one mapping between the two; static_asserts in c_api_handle.cc keep it in step).
int CLogLevel(LogLevel level);

}  // namespace pbxstate
