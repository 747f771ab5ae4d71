// The harness's side of pbxstated's control socket (daemon/CONTROL.md): newline-delimited JSON
// over a Unix stream socket. ControlClient makes request/response calls; EventStream is a
// connection turned into an event stream by `subscribe`.
//
// Bounds: a response line may be at most kMaxResponseBytes (the daemon's own bound plus its
// error line), an event line at most kMaxEventLineBytes; past them the call fails (the
// connection is not trusted any more). Every wait has a deadline.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::netns {

inline constexpr std::size_t kMaxResponseBytes = (64u << 20) + 4096;
inline constexpr std::size_t kMaxEventLineBytes = 1u << 20;
// Events read but not yet taken by the caller; beyond it ReadAvailable fails.
inline constexpr std::size_t kMaxPendingEvents = 1u << 20;

// The Status a response stands for: Ok for "ok": true, else the daemon's code and sentence.
Status ResponseStatus(const nlohmann::json& response);

class ControlClient {
 public:
  // Connects to `path`, retrying until `timeout` while the socket does not exist or refuses
  // (the daemon is starting).
  static Status Connect(const std::string& path, Duration timeout, std::unique_ptr<ControlClient>* out);
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Sends `request`, waits at most `timeout` for its one response line. A response with
  // "ok": false becomes an error Status carrying the daemon's code and sentence; `response`
  // is filled either way when a line arrived.
  Status Call(const nlohmann::json& request, Duration timeout, nlohmann::json* response);
  // The second half of Call: waits at most `timeout` for the next response line (so several
  // daemons can be asked at once: Send to each, then Receive from each).
  Status Receive(Duration timeout, nlohmann::json* response);

  // Pipelining (a connection used only this way): Send writes one request without waiting;
  // ReadResponses takes, without blocking, the responses that have arrived, in request order.
  // The caller counts what is outstanding and bounds it.
  Status Send(const nlohmann::json& request, Duration timeout);
  Status ReadResponses(std::vector<nlohmann::json>* responses);
  int fd() const { return fd_; }

  // Hands the connection over (for EventStream); the client is empty afterwards.
  int Release();
  // Bytes received after the last response (the start of an event stream).
  std::string TakeBuffered() { return std::move(buffered_); }

 private:
  explicit ControlClient(int fd) : fd_(fd) {}
  int fd_;
  std::string buffered_;  // bytes after the last complete line
};

class EventStream {
 public:
  // Connects to `path` (retrying for at most `timeout`; 0: one attempt) and sends `subscribe`
  // (its answer waited for at least 5 s); `t_mono_ns` gets the daemon's answer time.
  static Status Open(const std::string& path, Duration timeout, std::unique_ptr<EventStream>* out,
                     std::int64_t* t_mono_ns);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  int fd() const { return fd_; }
  // Reads whatever is available without blocking and appends every complete line, parsed, to
  // `events`. `*closed` is set when the daemon closed the stream. Fails on a line that is not
  // JSON or longer than kMaxEventLineBytes.
  Status ReadAvailable(std::vector<nlohmann::json>* events, bool* closed);

 private:
  explicit EventStream(int fd, std::string rest) : fd_(fd), buffered_(std::move(rest)) {}
  int fd_;
  std::string buffered_;
};

}  // namespace pbxstate::netns
