#include "pbxstate/netns/control_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace pbxstate::netns {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

int MsLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1000));
}

Status ConnectOnce(const std::string& path, int* fd_out) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return Status::InvalidArgument(path + ": socket path too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FailedPrecondition(std::string("socket: ") + std::strerror(errno));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    close(fd);
    return Status::FailedPrecondition(path + ": " + std::strerror(e));
  }
  *fd_out = fd;
  return Status::Ok();
}

Status SendAll(int fd, const std::string& line, Clock::time_point deadline) {
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (Clock::now() >= deadline) return Status::FailedPrecondition("control socket: send timed out");
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, MsLeft(deadline));
      continue;
    }
    return Status::FailedPrecondition(std::string("control socket: send: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Status Code(const json& r) {
  const std::string code = r.value("code", std::string("unknown"));
  const std::string msg = "pbxstated: " + code + ": " + r.value("error", std::string("(no sentence)"));
  if (code == "invalid_argument" || code == "bad_request") return Status::InvalidArgument(msg);
  if (code == "resource_exhausted" || code == "too_large") return Status::ResourceExhausted(msg);
  return Status::FailedPrecondition(msg);
}

}  // namespace

Status ControlClient::Connect(const std::string& path, Duration timeout, std::unique_ptr<ControlClient>* out) {
  const auto deadline = Clock::now() + timeout;
  Status last;
  for (;;) {
    int fd = -1;
    last = ConnectOnce(path, &fd);
    if (last.ok()) {
      out->reset(new ControlClient(fd));
      return Status::Ok();
    }
    if (Clock::now() >= deadline) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

ControlClient::~ControlClient() {
  if (fd_ >= 0) close(fd_);
}

int ControlClient::Release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

Status ControlClient::Call(const json& request, Duration timeout, json* response) {
  assert(fd_ >= 0);
  const auto deadline = Clock::now() + timeout;
  if (Status st = SendAll(fd_, request.dump() + "\n", deadline); !st.ok()) return st;
  Status st = Receive(std::chrono::duration_cast<Duration>(deadline - Clock::now()), response);
  if (!st.ok() && !response->is_object()) {
    return Status::FailedPrecondition(st.message() + " (request '" + request.value("op", std::string("?")) + "')");
  }
  return st;
}

Status ControlClient::Receive(Duration timeout, json* response) {
  assert(fd_ >= 0);
  *response = json();
  const auto deadline = Clock::now() + timeout;
  char buf[65536];
  for (;;) {
    const auto nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      const std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      json r = json::parse(line, nullptr, false);
      if (r.is_discarded() || !r.is_object()) return Status::FailedPrecondition("control socket: a response that is not a JSON object");
      *response = std::move(r);
      if (!response->value("ok", false)) return Code(*response);
      return Status::Ok();
    }
    if (buffered_.size() > kMaxResponseBytes) return Status::ResourceExhausted("control socket: response line over the bound");
    if (Clock::now() >= deadline) return Status::FailedPrecondition("control socket: no answer in time");
    pollfd p{fd_, POLLIN, 0};
    const int n = poll(&p, 1, MsLeft(deadline));
    if (n <= 0) continue;
    const ssize_t got = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (got == 0) return Status::FailedPrecondition("control socket: the daemon closed the connection");
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::FailedPrecondition(std::string("control socket: recv: ") + std::strerror(errno));
    }
    buffered_.append(buf, static_cast<std::size_t>(got));
  }
}

Status ResponseStatus(const json& response) { return response.value("ok", false) ? Status::Ok() : Code(response); }

Status ControlClient::Send(const json& request, Duration timeout) {
  assert(fd_ >= 0);
  return SendAll(fd_, request.dump() + "\n", Clock::now() + timeout);
}

Status ControlClient::ReadResponses(std::vector<json>* responses) {
  assert(fd_ >= 0);
  char buf[65536];
  for (;;) {
    const ssize_t got = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (got == 0) return Status::FailedPrecondition("control socket: the daemon closed the connection");
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Status::FailedPrecondition(std::string("control socket: recv: ") + std::strerror(errno));
    }
    buffered_.append(buf, static_cast<std::size_t>(got));
    std::size_t start = 0;
    for (auto nl = buffered_.find('\n'); nl != std::string::npos; nl = buffered_.find('\n', start)) {
      json r = json::parse(buffered_.begin() + static_cast<std::ptrdiff_t>(start),
                           buffered_.begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
      if (r.is_discarded() || !r.is_object()) return Status::FailedPrecondition("control socket: a response that is not a JSON object");
      responses->push_back(std::move(r));
      start = nl + 1;
    }
    buffered_.erase(0, start);
    if (buffered_.size() > kMaxResponseBytes) return Status::ResourceExhausted("control socket: response line over the bound");
  }
  return Status::Ok();
}

constexpr Duration kSubscribeTimeout = std::chrono::seconds(5);

Status EventStream::Open(const std::string& path, Duration timeout, std::unique_ptr<EventStream>* out,
                         std::int64_t* t_mono_ns) {
  std::unique_ptr<ControlClient> c;
  if (Status st = ControlClient::Connect(path, timeout, &c); !st.ok()) return st;
  json r;
  // Once connected, the daemon answers at once; give the answer its own bound.
  if (Status st = c->Call({{"op", "subscribe"}}, std::max<Duration>(timeout, kSubscribeTimeout), &r); !st.ok()) return st;
  *t_mono_ns = r.value("t_mono_ns", std::int64_t{0});
  std::string rest = c->TakeBuffered();
  const int fd = c->Release();
  out->reset(new EventStream(fd, std::move(rest)));
  return Status::Ok();
}

EventStream::~EventStream() {
  if (fd_ >= 0) close(fd_);
}

Status EventStream::ReadAvailable(std::vector<json>* events, bool* closed) {
  *closed = false;
  char buf[65536];
  for (;;) {
    const ssize_t got = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (got == 0) {
      *closed = true;
      break;
    }
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ECONNRESET) {
        *closed = true;
        break;
      }
      return Status::FailedPrecondition(std::string("event stream: recv: ") + std::strerror(errno));
    }
    buffered_.append(buf, static_cast<std::size_t>(got));
    // Take complete lines as they come so the buffer stays within one line's bound.
    std::size_t start = 0;
    for (auto nl = buffered_.find('\n'); nl != std::string::npos; nl = buffered_.find('\n', start)) {
      if (events->size() >= kMaxPendingEvents) return Status::ResourceExhausted("event stream: too many events pending");
      json e = json::parse(buffered_.begin() + static_cast<std::ptrdiff_t>(start),
                           buffered_.begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
      if (e.is_discarded() || !e.is_object()) return Status::FailedPrecondition("event stream: a line that is not a JSON object");
      events->push_back(std::move(e));
      start = nl + 1;
    }
    buffered_.erase(0, start);
    if (buffered_.size() > kMaxEventLineBytes) return Status::ResourceExhausted("event stream: a line over the bound");
  }
  return Status::Ok();
}

}  // namespace pbxstate::netns
