#include "control_server.h"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cassert>
#include <cstring>
#include <vector>

#include "pbxstate/control/protocol.h"
#include "pbxstate/control/replies.h"
#include "pbxstate/corosync/posix_clock.h"

namespace pbxstate::daemon {

namespace {
constexpr std::uint64_t kListenerId = 0;
}  // namespace

using control::ErrorCode;
using control::ErrorLine;
using control::kMaxControlConnections;
using control::kMaxRequestLineBytes;
using control::kMaxSubscriberBufferBytes;

ControlServer::ControlServer(RequestFn on_request, LogFn log) : on_request_(std::move(on_request)), log_(std::move(log)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  assert(epoll_fd_ >= 0);
}

ControlServer::~ControlServer() {
  Close();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void ControlServer::Log(LogLevel level, std::string_view message) const {
  if (log_) log_(level, message);
}

Status ControlServer::Listen(const std::string& path) {
  assert(listen_fd_ < 0);
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("control socket path '" + path + "' must be 1.." +
                                   std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  // The parent directory (e.g. /run/pbxstated after a reboot) is created, 0700, when missing.
  const std::size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string parent = path.substr(0, slash);
    if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::FailedPrecondition("control socket directory " + parent + ": " + std::strerror(errno));
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::InvalidArgument("control socket path '" + path + "' exists and is not a socket");
    ::unlink(path.c_str());  // a socket left by an earlier run
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FailedPrecondition(std::string("socket(AF_UNIX): ") + std::strerror(errno));
  const mode_t old_mask = ::umask(0177);  // the socket is born 0600: no window where others may connect
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0 || ::listen(fd, 64) != 0) {
    const int e = bound != 0 ? bind_errno : errno;
    ::close(fd);
    return Status::FailedPrecondition("control socket " + path + ": " + std::strerror(e));
  }
  ::chmod(path.c_str(), 0600);
  listen_fd_ = fd;
  path_ = path;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerId;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  return Status::Ok();
}

std::size_t ControlServer::subscribers() const {
  std::size_t n = 0;
  for (const auto& [id, c] : connections_) n += c.subscriber ? 1 : 0;
  return n;
}

void ControlServer::Dispatch() {
  epoll_event events[64];
  const int n = epoll_wait(epoll_fd_, events, 64, 0);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t id = events[i].data.u64;
    if (id == kListenerId) {
      Accept();
      continue;
    }
    if (connections_.count(id) == 0) continue;  // closed earlier in this round
    if ((events[i].events & EPOLLOUT) != 0) {
      if (!WriteOut(id)) continue;
      ProcessInput(id);  // the next request may be waiting for this response to be out
      if (connections_.count(id) == 0) continue;
    }
    if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) OnReadable(id);
  }
}

void ControlServer::Accept() {
  while (true) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error on one pending connection: nothing else to do
    if (connections_.size() >= kMaxControlConnections) {
      ++stats_.connections_refused;
      const std::string line = ErrorLine({ErrorCode::kResourceExhausted,
                                          "too many control connections (at most " +
                                              std::to_string(kMaxControlConnections) + ")"});
      const ssize_t w = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
      (void)w;
      ::close(fd);
      continue;
    }
    ++stats_.connections_accepted;
    const std::uint64_t id = next_id_++;
    Connection& c = connections_[id];
    c.fd = fd;
    c.interest = EPOLLIN;
    epoll_event ev{};
    ev.events = c.interest;
    ev.data.u64 = id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
}

void ControlServer::OnReadable(std::uint64_t id) {
  Connection& c = connections_.at(id);
  char buf[16384];
  while (true) {
    std::size_t room = sizeof buf;
    if (!c.subscriber) {
      const std::size_t cap = kMaxRequestLineBytes + 1;
      if (c.in.size() >= cap) break;
      room = std::min(room, cap - c.in.size());
    }
    const ssize_t r = ::recv(c.fd, buf, room, 0);
    if (r == 0) {
      // End of input. Answer what is complete, then close once written.
      c.closing = true;
      break;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        CloseConnection(id);
        return;
      }
      break;
    }
    if (!c.subscriber) c.in.append(buf, static_cast<std::size_t>(r));  // subscribers take no requests
  }
  ProcessInput(id);
}

void ControlServer::ProcessInput(std::uint64_t id) {
  // Lines are consumed by offset and the buffer compacted once at the end: erasing each line from
  // the front would move up to 64 KiB per request.
  std::size_t consumed = 0;
  while (connections_.count(id) != 0) {
    Connection& c = connections_.at(id);
    if (c.subscriber || c.out_offset < c.out.size()) break;  // one response in flight at a time
    const std::size_t nl = c.in.find('\n', consumed);
    if (nl == std::string::npos || nl - consumed > kMaxRequestLineBytes) {
      if (c.in.size() - consumed > kMaxRequestLineBytes) {
        ++stats_.lines_too_long;
        c.in.clear();
        consumed = 0;
        c.closing = true;
        Append(id, ErrorLine({ErrorCode::kBadRequest, "request line longer than " +
                                                            std::to_string(kMaxRequestLineBytes) + " bytes"}));
        return;
      }
      break;
    }
    std::string line = c.in.substr(consumed, nl - consumed);
    consumed = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    ++stats_.requests;
    Reply reply = on_request_(line);
    if (connections_.count(id) == 0) return;
    if (reply.subscribe) connections_.at(id).subscriber = true;
    if (!Append(id, reply.line)) return;
  }
  if (connections_.count(id) == 0) return;
  Connection& c = connections_.at(id);
  c.in.erase(0, consumed);
  if (c.closing && c.out_offset >= c.out.size() && (c.subscriber || c.in.find('\n') == std::string::npos)) {
    CloseConnection(id);
    return;
  }
  UpdateInterest(id);
}

bool ControlServer::Append(std::uint64_t id, std::string_view data) {
  Connection& c = connections_.at(id);
  if (c.subscriber && c.out.size() - c.out_offset + data.size() > kMaxSubscriberBufferBytes) {
    ++stats_.subscribers_dropped;
    Log(LogLevel::kWarning, "control: dropping a subscriber more than " +
                                std::to_string(kMaxSubscriberBufferBytes) + " bytes behind");
    CloseConnection(id);
    return false;
  }
  if (c.out_offset > 0 && c.out_offset == c.out.size()) {
    c.out.clear();
    c.out_offset = 0;
  }
  c.out.append(data);
  return WriteOut(id);
}

bool ControlServer::WriteOut(std::uint64_t id) {
  Connection& c = connections_.at(id);
  while (c.out_offset < c.out.size()) {
    const ssize_t w = ::send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      CloseConnection(id);  // the peer went away
      return false;
    }
    c.out_offset += static_cast<std::size_t>(w);
  }
  if (c.out_offset == c.out.size()) {
    c.out.clear();
    c.out_offset = 0;
    // A closing connection still gets answers to the complete requests it sent before its end.
    const bool requests_waiting = !c.subscriber && c.in.find('\n') != std::string::npos;
    if (c.closing && !requests_waiting) {
      CloseConnection(id);
      return false;
    }
  } else if (c.out_offset > (1u << 20) && c.out_offset * 2 > c.out.size()) {
    c.out.erase(0, c.out_offset);  // keep memory proportional to what is still unsent
    c.out_offset = 0;
  }
  UpdateInterest(id);
  return true;
}

void ControlServer::UpdateInterest(std::uint64_t id) {
  Connection& c = connections_.at(id);
  std::uint32_t want = 0;
  const bool input_room = c.subscriber || c.in.size() <= kMaxRequestLineBytes;
  if (!c.closing && input_room) want |= EPOLLIN;
  if (c.out_offset < c.out.size()) want |= EPOLLOUT;
  if (want == c.interest) return;
  c.interest = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void ControlServer::CloseConnection(std::uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  ::close(it->second.fd);
  connections_.erase(it);
}

void ControlServer::Publish(const std::string& line) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, c] : connections_) {
    if (c.subscriber) ids.push_back(id);
  }
  for (std::uint64_t id : ids) {
    if (connections_.count(id) == 0) continue;
    ++stats_.events_published;
    Append(id, line);
  }
}

void ControlServer::Flush(Duration timeout) {
  const MonoTime deadline = corosync::PosixMonoNow() + timeout;
  while (corosync::PosixMonoNow() < deadline) {
    std::vector<pollfd> fds;
    std::vector<std::uint64_t> ids;
    for (const auto& [id, c] : connections_) {
      if (c.out_offset < c.out.size()) {
        fds.push_back(pollfd{c.fd, POLLOUT, 0});
        ids.push_back(id);
      }
    }
    if (fds.empty()) return;
    ::poll(fds.data(), fds.size(), 50);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0 && connections_.count(ids[i]) != 0) WriteOut(ids[i]);
    }
  }
}

void ControlServer::Close() {
  while (!connections_.empty()) CloseConnection(connections_.begin()->first);
  if (listen_fd_ >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    ::close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(path_.c_str());
  }
}

}  // namespace pbxstate::daemon
