// A node's changes on their way to its daemon's pipelined control connection (netns_workload.cc):
// handed by the driver at their planned time, written as the socket takes them, answered in
// order. The driver never waits on the socket: Write sends what the socket takes now
// (MSG_DONTWAIT) and keeps the rest of a line for the socket's next POLLOUT. pbxstated reads a
// connection's next request only once its last answer is written (daemon/src/control_server.h),
// so a daemon that reads slower than the driver hands leaves the changes here, where their wait
// is measured, instead of holding the driver's thread in send().
//
// A change's request line is made when its first byte goes into the socket (LineFn gets that
// instant): a registration's expiry and the change's time in the record are then, not when it was
// handed. At most one line is held made and partly written; it is bounded by the protocol's
// request line (control::kMaxRequestLineBytes), which pbxstated refuses beyond.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "pbxstate/harness/workload.h"
#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::runner::netns_run {

class ChangeQueue {
 public:
  struct Entry {
    const harness::PlannedChange* change = nullptr;
    Duration handed{};   // when the driver handed it (its lateness counts up to here)
    Duration written{};  // when its line's first byte went into the socket (once it has)
  };
  // The request line of `change` made at `written`, ending in '\n'.
  using LineFn = std::function<std::string(const harness::PlannedChange& change, Duration written)>;

  // At most `max_entries` (> 0) changes handed and not yet answered.
  explicit ChangeQueue(std::size_t max_entries);

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  bool full() const { return entries_.size() >= max_entries_; }
  // Something is still to be written: the caller polls the socket for POLLOUT.
  bool wants_write() const { return written_ < entries_.size(); }
  // Entries whose line is wholly written and whose answer has not come.
  std::size_t awaiting_answer() const { return written_; }

  // Queues `change` handed at `t`; false (nothing queued) when full.
  bool Hand(const harness::PlannedChange* change, Duration t);
  // Writes to `fd` what it takes now, never waiting: the lines of the entries in order, each made
  // by `line` at `now()` when its first byte goes. Fails on a socket error or a line over the
  // protocol's bound; a full socket is not an error (the rest waits for POLLOUT).
  Status Write(int fd, const std::function<Duration()>& now, const LineFn& line);
  // The oldest written entry, whose answer has come: taken off the queue into `*e`. False when no
  // entry is wholly written (an answer to no request).
  bool Answered(Entry* e);
  // The oldest entry waiting for its answer, and the oldest not wholly written (nullptr: none).
  const Entry* OldestAwaitingAnswer() const { return written_ > 0 ? &entries_.front() : nullptr; }
  const Entry* OldestUnwritten() const { return written_ < entries_.size() ? &entries_[written_] : nullptr; }
  // The write time of the oldest entry whose line has begun to go out (its record time), if any.
  std::optional<Duration> EarliestWritten() const {
    if (written_ > 0 || !line_.empty()) return entries_.front().written;
    return std::nullopt;
  }
  // Forgets everything (the daemon is gone).
  void Clear();

  // The most entries held at once, and the longest a change waited from handed to written
  // (`worst_wait_at`: when it was handed), since construction.
  std::size_t max_depth() const { return max_depth_; }
  Duration worst_wait() const { return worst_wait_; }
  Duration worst_wait_at() const { return worst_wait_at_; }

 private:
  const std::size_t max_entries_;
  std::deque<Entry> entries_;
  std::size_t written_ = 0;  // entries_[0, written_) wholly written
  std::string line_;         // entries_[written_]'s line, once made; its bytes from offset_ unsent
  std::size_t offset_ = 0;
  std::size_t max_depth_ = 0;
  Duration worst_wait_{}, worst_wait_at_{};
};

}  // namespace pbxstate::runner::netns_run
