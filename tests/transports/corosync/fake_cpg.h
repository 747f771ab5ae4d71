// A scripted stand-in for libcpg, for the unit test of CpgTransport alone (the live test uses the
// real library and real corosync). Linked into cpg_transport_test only: its extern "C" cpg_*
// definitions in the executable take precedence over libcpg.so's.
//
// The test plays corosync: it decides what cpg_mcast_joined answers, queues configuration
// changes and deliveries for the next cpg_dispatch, and can take corosync "down" (dispatch and
// sends answer CS_ERR_LIBRARY, initialisation fails) and "up" again.
#pragma once

#include <corosync/cpg.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

namespace fakecpg {

struct State {
  bool corosync_up = true;
  std::uint32_t nodeid = 1;
  std::deque<cs_error_t> mcast_answers;          // next answers of cpg_mcast_joined; empty: CS_OK
  std::vector<std::vector<std::uint8_t>> sent;   // messages accepted, iovecs joined
  std::deque<std::function<void()>> pending;     // callbacks the next cpg_dispatch runs
  int initialize_calls = 0;
  int join_calls = 0;
  int leave_calls = 0;
  int finalize_calls = 0;
  bool open = false;
  // The handle's model and context, as given to cpg_model_initialize.
  cpg_model_v1_data_t model{};
  void* context = nullptr;
  int fd = -1;  // an eventfd, readable while `pending` is not empty
};

State& S();
// Forgets everything (closes the eventfd).
void Reset();
void QueueConfchg(std::vector<cpg_address> members);
void QueueDeliver(std::uint32_t nodeid, std::uint32_t pid, std::vector<std::uint8_t> message);

}  // namespace fakecpg
