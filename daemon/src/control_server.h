// The control socket: a Unix stream socket carrying newline-delimited JSON (daemon/CONTROL.md).
// This file moves lines and enforces CONTROL.md's bounds; what a request means is the caller's
// (RequestFn).
//
// Bounds and what happens at them:
//   - a request line longer than kMaxRequestLineBytes: a bad_request line, then the connection is
//     closed once the line is written;
//   - kMaxControlConnections at once: a further connection is accepted, sent a resource_exhausted
//     line and closed (counted in connections_refused);
//   - one response in flight per connection: requests are read and answered in order, and a
//     connection's next request is taken only once its previous response is fully written, so a
//     connection holds at most one response (<= kMaxResponseBytes) plus kMaxRequestLineBytes of
//     unread input;
//   - a subscriber (a connection after `subscribe`) holds at most kMaxSubscriberBufferBytes of
//     unsent events; an event that would exceed it closes the connection instead (counted in
//     subscribers_dropped; the subscriber sees end-of-stream, never a silent gap).
//
// Threading: single-threaded; Dispatch() and Publish() on the host's loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "pbxstate/env.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::daemon {

struct ControlServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;   // beyond kMaxControlConnections
  std::uint64_t requests = 0;
  std::uint64_t lines_too_long = 0;
  std::uint64_t subscribers_dropped = 0;   // fell kMaxSubscriberBufferBytes behind
  std::uint64_t events_published = 0;      // event lines queued (once per subscriber)
};

class ControlServer {
 public:
  struct Reply {
    std::string line;         // the response, ending in '\n'
    bool subscribe = false;   // the connection becomes an event stream after this line
  };
  using RequestFn = std::function<Reply(std::string_view line)>;
  using LogFn = std::function<void(LogLevel, std::string_view)>;

  ControlServer(RequestFn on_request, LogFn log);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds and listens at `path` (mode 0600). A missing parent directory is created (one level,
  // mode 0700). A stale socket file at the path is replaced; any other file there is an error.
  // Operating-system failures (the epoll set the constructor could not create, socket, bind,
  // listen, epoll_ctl) are a Status naming the call.
  Status Listen(const std::string& path);
  // An epoll descriptor for the host's loop: readable when Dispatch() has work.
  int fd() const { return epoll_fd_; }
  void Dispatch();

  // Queues `line` (ending in '\n') to every subscriber.
  void Publish(const std::string& line);
  // Writes what is queued to every connection for at most `timeout` (blocking), for a graceful stop.
  void Flush(Duration timeout);
  // Closes every connection and the listener, and removes the socket file.
  void Close();

  std::size_t connections() const { return connections_.size(); }
  std::size_t subscribers() const;
  const ControlServerStats& stats() const { return stats_; }

 private:
  struct Connection {
    int fd = -1;
    std::string in;
    std::string out;
    std::size_t out_offset = 0;
    bool subscriber = false;
    bool closing = false;     // close once `out` is written
    std::uint32_t interest = 0;
  };

  void Accept();
  void OnReadable(std::uint64_t id);
  void ProcessInput(std::uint64_t id);
  // Appends and tries to write at once; false when the connection was closed.
  bool Append(std::uint64_t id, std::string_view data);
  // Writes what it can; false when the connection was closed.
  bool WriteOut(std::uint64_t id);
  // Sets the epoll events the connection waits for; false when epoll_ctl failed and the
  // connection was closed (a connection the loop cannot watch would never be answered).
  bool UpdateInterest(std::uint64_t id);
  void CloseConnection(std::uint64_t id);
  void Log(LogLevel level, std::string_view message) const;

  RequestFn on_request_;
  LogFn log_;
  int epoll_fd_ = -1;
  int epoll_errno_ = 0;  // why epoll_create1 failed in the constructor; Listen() reports it
  int listen_fd_ = -1;
  std::string path_;
  std::uint64_t next_id_ = 1;  // 0 is the listener
  std::map<std::uint64_t, Connection> connections_;
  ControlServerStats stats_;
};

}  // namespace pbxstate::daemon
