// The one-node C host the C API's GoogleTest files share (capi_contract_test.cc,
// capi_auth_test.cc, capi_twin_test.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pbxstate/c_api.h"

namespace pbxstate_capi_test {

// A one-node host in C++ with C callbacks: a virtual clock, the frames it was asked to send,
// and switches for what the transport answers and for callbacks that misbehave.
struct Host {
  std::int64_t now = 1'000'000'000;
  bool has_wakeup = false;
  std::int64_t wakeup = 0;
  std::vector<std::vector<std::uint8_t>> sent;
  int broadcast_answer = PBXSTATE_SEND_OK;
  pbxstate_engine* engine = nullptr;
  // When set, the next broadcast callback tries to call into the engine and records the results.
  bool probe_from_env = false;
  int env_query_rc = -1, env_mutation_rc = -1;
  std::vector<std::string> logs;

  static Host* H(void* user) { return static_cast<Host*>(user); }
  static std::int64_t Now(void* u) { return H(u)->now; }
  static std::int64_t Wall(void* u) { return 1'700'000'000'000'000'000 + H(u)->now; }
  static void Wakeup(void* u, std::int64_t at) {
    H(u)->has_wakeup = true;
    H(u)->wakeup = at;
  }
  static int Broadcast(void* u, const std::uint8_t* f, std::size_t n) {
    Host* h = H(u);
    if (h->probe_from_env) {
      h->probe_from_env = false;
      int state = 0;
      h->env_query_rc = pbxstate_engine_device_state(h->engine, "d", 1, &state);
      h->env_mutation_rc = pbxstate_engine_set_device_state(h->engine, "e", 1, PBXSTATE_DEVICE_BUSY);
      pbxstate_engine_destroy(h->engine);  // refused: must not free the engine under itself
    }
    if (h->broadcast_answer == PBXSTATE_SEND_OK) h->sent.emplace_back(f, f + n);
    return h->broadcast_answer;
  }
  static int Unicast(void* u, pbxstate_node_id, const std::uint8_t* f, std::size_t n) {
    return Broadcast(u, f, n);
  }
  static std::uint64_t Random(void*) { return 4; }
  static void Log(void* u, int, const char* m, std::size_t n) { H(u)->logs.emplace_back(m, n); }

  pbxstate_env Env() {
    pbxstate_env env{};
    env.user = this;
    env.now_ns = Now;
    env.wall_now_ns = Wall;
    env.schedule_wakeup = Wakeup;
    env.broadcast = Broadcast;
    env.unicast = Unicast;
    env.random = Random;
    env.log = Log;
    return env;
  }
};

inline pbxstate_config TestConfig(pbxstate_node_id id = 1) {
  pbxstate_config cfg;
  pbxstate_config_init(&cfg);
  cfg.node_id = id;
  cfg.incarnation = 77;
  cfg.label = "n1";
  cfg.membership = PBXSTATE_MEMBERSHIP_TRANSPORT;
  return cfg;
}

}  // namespace pbxstate_capi_test
