#include "fake_cpg.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

namespace fakecpg {

namespace {
constexpr cpg_handle_t kHandle = 0x1234;

void Signal() {
  if (S().fd < 0) return;
  const std::uint64_t one = 1;
  const ssize_t w = ::write(S().fd, &one, sizeof one);
  (void)w;
}
}  // namespace

State& S() {
  static State state;
  return state;
}

void Reset() {
  if (S().fd >= 0) ::close(S().fd);
  S() = State{};
}

void QueueConfchg(std::vector<cpg_address> members) {
  S().pending.push_back([members]() {
    cpg_name group{};
    S().model.cpg_confchg_fn(kHandle, &group, members.data(), members.size(), nullptr, 0, nullptr, 0);
  });
  Signal();
}

void QueueDeliver(std::uint32_t nodeid, std::uint32_t pid, std::vector<std::uint8_t> message) {
  S().pending.push_back([nodeid, pid, message]() mutable {
    cpg_name group{};
    S().model.cpg_deliver_fn(kHandle, &group, nodeid, pid, message.data(), message.size());
  });
  Signal();
}

}  // namespace fakecpg

using fakecpg::S;

extern "C" {

cs_error_t cpg_model_initialize(cpg_handle_t* handle, cpg_model_t /*model*/, cpg_model_data_t* model_data, void* context) {
  ++S().initialize_calls;
  if (!S().corosync_up) return CS_ERR_LIBRARY;
  std::memcpy(&S().model, model_data, sizeof S().model);
  S().context = context;
  if (S().fd < 0) S().fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  S().open = true;
  *handle = 0x1234;
  return CS_OK;
}

cs_error_t cpg_finalize(cpg_handle_t /*handle*/) {
  ++S().finalize_calls;
  S().open = false;
  S().pending.clear();
  return CS_OK;
}

cs_error_t cpg_fd_get(cpg_handle_t /*handle*/, int* fd) {
  *fd = S().fd;
  return CS_OK;
}

cs_error_t cpg_local_get(cpg_handle_t /*handle*/, unsigned int* local_nodeid) {
  if (!S().corosync_up) return CS_ERR_LIBRARY;
  *local_nodeid = S().nodeid;
  return CS_OK;
}

cs_error_t cpg_context_get(cpg_handle_t /*handle*/, void** context) {
  *context = S().context;
  return CS_OK;
}

cs_error_t cpg_join(cpg_handle_t /*handle*/, const cpg_name* /*group*/) {
  ++S().join_calls;
  return S().corosync_up ? CS_OK : CS_ERR_LIBRARY;
}

cs_error_t cpg_leave(cpg_handle_t /*handle*/, const cpg_name* /*group*/) {
  ++S().leave_calls;
  return CS_OK;
}

cs_error_t cpg_dispatch(cpg_handle_t /*handle*/, cs_dispatch_flags_t /*flags*/) {
  std::uint64_t count = 0;
  const ssize_t r = ::read(S().fd, &count, sizeof count);
  (void)r;
  if (!S().corosync_up) return CS_ERR_LIBRARY;
  while (!S().pending.empty() && S().open) {
    auto fn = std::move(S().pending.front());
    S().pending.pop_front();
    fn();
  }
  return CS_OK;
}

cs_error_t cpg_mcast_joined(cpg_handle_t /*handle*/, cpg_guarantee_t /*guarantee*/, const struct iovec* iovec,
                            unsigned int iov_len) {
  if (!S().corosync_up) return CS_ERR_LIBRARY;
  if (!S().mcast_answers.empty()) {
    const cs_error_t answer = S().mcast_answers.front();
    S().mcast_answers.pop_front();
    if (answer != CS_OK) return answer;
  }
  std::vector<std::uint8_t> message;
  for (unsigned int i = 0; i < iov_len; ++i) {
    const auto* p = static_cast<const std::uint8_t*>(iovec[i].iov_base);
    message.insert(message.end(), p, p + iovec[i].iov_len);
  }
  S().sent.push_back(std::move(message));
  return CS_OK;
}

}  // extern "C"
