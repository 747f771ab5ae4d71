#include "pbxstate/control/client.h"

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

namespace pbxstate::control {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr Duration kSubscribeTimeout = std::chrono::seconds(5);

int MsLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1000));
}

Status ConnectOnce(const std::string& path, int* fd_out) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) return Status::InvalidArgument(path + ": socket path too long");
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

// Receives at most one chunk of what is there, without blocking, into *buffer (callers split
// lines between chunks, so the buffer stays within a line's bound). Returns Ok with *closed at end
// of stream, *got_any when bytes arrived.
Status RecvAvailable(int fd, std::string* buffer, bool* closed, bool* got_any) {
  char buf[65536];
  *closed = false;
  *got_any = false;
  for (;;) {
    const ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got == 0) {
      *closed = true;
      return Status::Ok();
    }
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
      if (errno == ECONNRESET) {
        *closed = true;
        return Status::Ok();
      }
      return Status::FailedPrecondition(std::string("control socket: recv: ") + std::strerror(errno));
    }
    buffer->append(buf, static_cast<std::size_t>(got));
    *got_any = true;
    return Status::Ok();
  }
}

// Parses the complete lines of *buffer (as JSON objects) into `out` and drops them from it.
Status SplitLines(std::string* buffer, std::size_t max_line, std::vector<json>* out) {
  std::size_t start = 0;
  for (auto nl = buffer->find('\n'); nl != std::string::npos; nl = buffer->find('\n', start)) {
    json r = json::parse(buffer->begin() + static_cast<std::ptrdiff_t>(start),
                         buffer->begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
    if (r.is_discarded() || !r.is_object()) return Status::FailedPrecondition("control socket: a line that is not a JSON object");
    out->push_back(std::move(r));
    start = nl + 1;
  }
  buffer->erase(0, start);
  if (buffer->size() > max_line) return Status::ResourceExhausted("control socket: a line over the bound");
  return Status::Ok();
}

}  // namespace

// ---- Client ---------------------------------------------------------------------------------------

Status Client::Connect(const std::string& path, Duration timeout, std::unique_ptr<Client>* out) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int fd = -1;
    Status st = ConnectOnce(path, &fd);
    if (st.ok()) {
      out->reset(new Client(fd));
      return Status::Ok();
    }
    if (Clock::now() >= deadline) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

Status Client::SendText(const std::string& text, Duration timeout) {
  assert(fd_ >= 0);
  const auto deadline = Clock::now() + timeout;
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (Clock::now() >= deadline) return Status::FailedPrecondition("control socket: send timed out");
      pollfd p{fd_, POLLOUT, 0};
      poll(&p, 1, MsLeft(deadline));
      continue;
    }
    return Status::FailedPrecondition(std::string("control socket: send: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Status Client::Send(const Request& request, Duration timeout) { return SendText(RequestLine(request), timeout); }

Status Client::Receive(Duration timeout, json* response) {
  assert(fd_ >= 0);
  *response = json();
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      json r = json::parse(buffered_.begin(), buffered_.begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
      buffered_.erase(0, nl + 1);
      if (r.is_discarded() || !r.is_object()) return Status::FailedPrecondition("control socket: a response that is not a JSON object");
      *response = std::move(r);
      return Status::Ok();
    }
    if (buffered_.size() > kMaxClientResponseBytes) return Status::ResourceExhausted("control socket: response line over the bound");
    if (Clock::now() >= deadline) return Status::FailedPrecondition("control socket: no answer in time");
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, MsLeft(deadline)) <= 0) continue;
    bool closed = false, got_any = false;
    if (Status st = RecvAvailable(fd_, &buffered_, &closed, &got_any); !st.ok()) return st;
    if (closed && buffered_.find('\n') == std::string::npos) {
      return Status::FailedPrecondition("control socket: the daemon closed the connection");
    }
  }
}

Status Client::CallLine(std::string_view line, Duration timeout, json* response) {
  const auto deadline = Clock::now() + timeout;
  std::string text(line);
  if (text.empty() || text.back() != '\n') text += '\n';
  if (Status st = SendText(text, timeout); !st.ok()) return st;
  return Receive(std::chrono::duration_cast<Duration>(deadline - Clock::now()), response);
}

Status Client::Call(const Request& request, Duration timeout, Reply* reply) {
  json response;
  if (Status st = CallLine(RequestLine(request), timeout, &response); !st.ok()) {
    return Status::FailedPrecondition(st.message() + " (request '" + std::string(OpName(request.op)) + "')");
  }
  return DecodeReply(request.op, response, reply);
}

Status Client::TakeLines(std::vector<json>* out) { return SplitLines(&buffered_, kMaxClientResponseBytes, out); }

Status Client::ReadResponses(std::vector<json>* responses) {
  assert(fd_ >= 0);
  for (bool got_any = true; got_any;) {
    bool closed = false;
    if (Status st = RecvAvailable(fd_, &buffered_, &closed, &got_any); !st.ok()) return st;
    if (Status st = TakeLines(responses); !st.ok()) return st;
    if (closed) return Status::FailedPrecondition("control socket: the daemon closed the connection");
  }
  return Status::Ok();
}

Status Client::Pipeline(const std::vector<Request>& requests, Duration timeout, std::vector<json>* responses) {
  const auto deadline = Clock::now() + timeout;
  responses->clear();
  std::string out;
  std::size_t next = 0, offset = 0;
  while (responses->size() < requests.size()) {
    // Keep at most one request's worth unsent, so memory stays bounded by one line.
    if (offset == out.size() && next < requests.size()) {
      out = RequestLine(requests[next++]);
      offset = 0;
    }
    if (Clock::now() >= deadline) {
      return Status::FailedPrecondition("control socket: " + std::to_string(requests.size() - responses->size()) +
                                        " of " + std::to_string(requests.size()) + " pipelined requests unanswered in time");
    }
    pollfd p{fd_, static_cast<short>(POLLIN | (offset < out.size() ? POLLOUT : 0)), 0};
    if (poll(&p, 1, MsLeft(deadline)) <= 0) continue;
    if ((p.revents & POLLOUT) != 0 && offset < out.size()) {
      const ssize_t n = send(fd_, out.data() + offset, out.size() - offset, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        offset += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return Status::FailedPrecondition(std::string("control socket: send: ") + std::strerror(errno));
      }
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      if (Status st = ReadResponses(responses); !st.ok()) return st;
    }
    if (responses->size() > requests.size()) return Status::FailedPrecondition("control socket: more answers than requests");
  }
  return Status::Ok();
}

// ---- EventStream ----------------------------------------------------------------------------------

Status EventStream::Open(const std::string& path, Duration timeout, std::unique_ptr<EventStream>* out,
                         std::int64_t* t_mono_ns) {
  std::unique_ptr<Client> c;
  if (Status st = Client::Connect(path, timeout, &c); !st.ok()) return st;
  // Once connected, the daemon answers at once; give the answer its own bound.
  TimeReply r;
  if (Status st = c->CallFor(Request::Simple(Op::kSubscribe), std::max<Duration>(timeout, kSubscribeTimeout), &r);
      !st.ok()) {
    return st;
  }
  *t_mono_ns = r.t_mono_ns;
  const int fd = c->fd_;
  c->fd_ = -1;
  out->reset(new EventStream(fd, std::move(c->buffered_)));
  return Status::Ok();
}

EventStream::~EventStream() {
  if (fd_ >= 0) close(fd_);
}

Status EventStream::ReadAvailable(std::vector<Event>* events, bool* closed) {
  bool drained = false;
  return ReadSlice(events, kMaxPendingEvents + 1, closed, &drained);
}

Status EventStream::ReadSlice(std::vector<Event>* events, std::size_t max_events, bool* closed, bool* drained) {
  *drained = false;
  std::vector<json> lines;
  // Lines are taken as they come so the buffer stays within one line's bound.
  for (;;) {
    bool got_any = false;
    if (Status st = RecvAvailable(fd_, &buffered_, closed, &got_any); !st.ok()) return st;
    if (Status st = SplitLines(&buffered_, kMaxEventLineBytes, &lines); !st.ok()) return st;
    if (events->size() + lines.size() > kMaxPendingEvents) {
      return Status::ResourceExhausted("event stream: more than " + std::to_string(kMaxPendingEvents) + " events pending");
    }
    for (const json& line : lines) {
      Event e;
      if (Status st = DecodeEvent(line, &e); !st.ok()) return st;
      events->push_back(std::move(e));
    }
    lines.clear();
    if (*closed || !got_any) {
      *drained = true;
      return Status::Ok();
    }
    if (events->size() >= max_events) return Status::Ok();
  }
}

Status EventStream::Wait(Duration timeout, std::vector<Event>* events, bool* closed) {
  pollfd p{fd_, POLLIN, 0};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  poll(&p, 1, static_cast<int>(std::clamp<long long>(ms, 0, 1 << 30)));
  return ReadAvailable(events, closed);
}

}  // namespace pbxstate::control
