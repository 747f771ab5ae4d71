#include "pbxstate/corosync/send_queue.h"

#include <algorithm>

#include "pbxstate/check.h"

namespace pbxstate::corosync {

SendQueue::SendQueue(std::size_t max_frames, std::size_t max_bytes) : max_frames_(max_frames), max_bytes_(max_bytes) {
  PBXSTATE_CHECK_GE(max_frames_, std::size_t{1});
  PBXSTATE_CHECK_GE(max_bytes_, std::size_t{1});
}

bool SendQueue::Push(std::span<const std::uint8_t> message) {
  if (messages_.size() >= max_frames_) return false;
  if (message.size() > max_bytes_ - bytes_) return false;  // bytes_ <= max_bytes_ always
  messages_.emplace_back(message.begin(), message.end());
  bytes_ += message.size();
  peak_frames_ = std::max(peak_frames_, messages_.size());
  PBXSTATE_CHECK_LE(bytes_, max_bytes_);
  return true;
}

const std::vector<std::uint8_t>& SendQueue::front() const {
  PBXSTATE_CHECK(!messages_.empty());
  return messages_.front();
}

void SendQueue::Pop() {
  PBXSTATE_CHECK(!messages_.empty());
  PBXSTATE_CHECK_GE(bytes_, messages_.front().size());
  bytes_ -= messages_.front().size();
  messages_.pop_front();
}

std::size_t SendQueue::Clear() {
  const std::size_t n = messages_.size();
  messages_.clear();
  bytes_ = 0;
  return n;
}

}  // namespace pbxstate::corosync
