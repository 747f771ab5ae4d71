// The client side of pbxstated's control socket (daemon/CONTROL.md): newline-delimited JSON over a
// Unix stream socket. Client makes request/response calls (one at a time, or pipelined);
// EventStream is a connection turned into an event stream by `subscribe`. Requests are encoded and
// responses and events decoded by this library's codec (protocol.h, replies.h, events.h).
//
// Bounds: a response line may be at most kMaxResponseBytes plus an error line's worth, an event
// line at most kMaxEventLineBytes, and at most kMaxPendingEvents events are read ahead; past them
// the call fails (the connection is not trusted any more). Every wait has a deadline.
//
// Threading: one thread per object, except that one thread may Send while another Receives on the
// same Client (the two directions share no state).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pbxstate/control/events.h"
#include "pbxstate/control/protocol.h"
#include "pbxstate/control/replies.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::control {

// What a client accepts as one response line: the daemon's bound plus its too_large error line.
inline constexpr std::size_t kMaxClientResponseBytes = kMaxResponseBytes + 4096;
// Events read but not yet taken by the caller; beyond it ReadAvailable fails.
inline constexpr std::size_t kMaxPendingEvents = 1u << 20;

class Client {
 public:
  // Connects to `path`, retrying until `timeout` while the socket does not exist or refuses (the
  // daemon is starting). A zero timeout tries once.
  static Status Connect(const std::string& path, Duration timeout, std::unique_ptr<Client>* out);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request` and waits at most `timeout` for its response, decoded as the reply of its op.
  // A refusal ("ok": false) is the daemon's Error as a Status (ToStatus); `reply` is set only on
  // success.
  Status Call(const Request& request, Duration timeout, Reply* reply);
  // Call, for an op whose reply type the caller knows (e.g. HelloReply for hello).
  template <typename R>
  Status CallFor(const Request& request, Duration timeout, R* reply) {
    Reply any;
    if (Status st = Call(request, timeout, &any); !st.ok()) return st;
    if (auto* r = std::get_if<R>(&any)) {
      *reply = std::move(*r);
      return Status::Ok();
    }
    return Status::InvalidArgument("control: '" + std::string(OpName(request.op)) + "' is not answered with that reply");
  }

  // A line sent as it is (for tests of the daemon's refusals), and its response undecoded.
  Status CallLine(std::string_view line, Duration timeout, nlohmann::json* response);

  // The halves of Call, so several daemons can be asked at once (Send to each, then Receive from
  // each) or requests pipelined on one connection. Receive takes the next response line
  // (`response` is set whenever a JSON object arrived, also for a refusal).
  Status Send(const Request& request, Duration timeout);
  Status Receive(Duration timeout, nlohmann::json* response);
  // Takes, without blocking, the response lines that have arrived, in request order. The caller
  // counts what is outstanding and bounds it.
  Status ReadResponses(std::vector<nlohmann::json>* responses);

  // Sends every request on this connection while reading the responses as they come (never
  // blocking on a full socket in either direction), all within `timeout`; responses[i] answers
  // requests[i]. For bursts: the daemon answers in order, one response in flight per connection.
  Status Pipeline(const std::vector<Request>& requests, Duration timeout, std::vector<nlohmann::json>* responses);

  int fd() const { return fd_; }

 private:
  friend class EventStream;
  explicit Client(int fd) : fd_(fd) {}
  Status SendText(const std::string& text, Duration timeout);
  // Moves complete lines of buffered_ into `out`; fails on one that is not a JSON object.
  Status TakeLines(std::vector<nlohmann::json>* out);

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
  // Reads whatever is available without blocking and appends every complete line, decoded, to
  // `events`. `*closed` is set when the daemon closed the stream. Fails on a line that is not an
  // event of this protocol or longer than kMaxEventLineBytes.
  Status ReadAvailable(std::vector<Event>* events, bool* closed);
  // ReadAvailable in a slice: stops receiving once `max_events` events have been appended (the
  // complete lines of the chunk last received, at most 64 KiB, and of what Open received after
  // the subscribe answer, are all decoded, so it may append that much more). `*drained` says whether it read everything available; when not, the
  // rest stays in the socket for the next call, in order.
  Status ReadSlice(std::vector<Event>* events, std::size_t max_events, bool* closed, bool* drained);
  // ReadAvailable, after waiting at most `timeout` for something to read.
  Status Wait(Duration timeout, std::vector<Event>* events, bool* closed);

 private:
  EventStream(int fd, std::string rest) : fd_(fd), buffered_(std::move(rest)) {}
  int fd_;
  std::string buffered_;
};

}  // namespace pbxstate::control
