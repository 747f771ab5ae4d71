#include "change_queue.h"

#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "pbxstate/control/protocol.h"

namespace pbxstate::runner::netns_run {

ChangeQueue::ChangeQueue(std::size_t max_entries) : max_entries_(max_entries) { assert(max_entries > 0); }

bool ChangeQueue::Hand(const harness::PlannedChange* change, Duration t) {
  if (full()) return false;
  entries_.push_back({change, t, Duration{}});
  max_depth_ = std::max(max_depth_, entries_.size());
  return true;
}

Status ChangeQueue::Write(int fd, const std::function<Duration()>& now, const LineFn& line) {
  while (written_ < entries_.size()) {
    Entry& e = entries_[written_];
    if (line_.empty()) {
      e.written = now();
      line_ = line(*e.change, e.written);
      offset_ = 0;
      // The request line plus its newline: pbxstated refuses a longer one (daemon/CONTROL.md).
      if (line_.empty() || line_.back() != '\n' || line_.size() > control::kMaxRequestLineBytes + 1) {
        return Status::InvalidArgument("a change's request line of " + std::to_string(line_.size()) +
                                       " bytes: not one line within the control protocol's bound");
      }
      if (e.written - e.handed > worst_wait_) {
        worst_wait_ = e.written - e.handed;
        worst_wait_at_ = e.handed;
      }
    }
    const ssize_t n = send(fd, line_.data() + offset_, line_.size() - offset_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
      return Status::FailedPrecondition(std::string("control socket: send: ") + std::strerror(errno));
    }
    offset_ += static_cast<std::size_t>(n);
    if (offset_ < line_.size()) return Status::Ok();  // the socket took part: the rest at POLLOUT
    line_.clear();
    offset_ = 0;
    ++written_;
  }
  return Status::Ok();
}

bool ChangeQueue::Answered(Entry* e) {
  if (written_ == 0) return false;
  *e = entries_.front();
  entries_.pop_front();
  --written_;
  return true;
}

void ChangeQueue::Clear() {
  entries_.clear();
  written_ = 0;
  line_.clear();
  offset_ = 0;
}

}  // namespace pbxstate::runner::netns_run
