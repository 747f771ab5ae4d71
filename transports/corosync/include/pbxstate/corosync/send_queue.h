// Messages waiting for CPG after it answered CS_ERR_TRY_AGAIN, in send order.
//
// Bounded twice: at most `max_frames` messages and at most `max_bytes` bytes held (envelope
// included). Push refuses a message that would exceed either bound and changes nothing; the
// transport then answers the engine kTryAgain (nothing was sent, the engine keeps the frame and
// retries after its send_retry_interval), so nothing is lost silently and memory stays bounded.
// A single message larger than max_bytes can never be queued (the transport refuses it earlier as
// kTooLarge, because the queue must be able to hold any message it accepts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace pbxstate::corosync {

class SendQueue {
 public:
  // Requires max_frames >= 1 and max_bytes >= 1.
  SendQueue(std::size_t max_frames, std::size_t max_bytes);

  // Appends a copy of `message`. Returns false, and holds nothing new, when it would exceed
  // max_frames or max_bytes.
  bool Push(std::span<const std::uint8_t> message);

  // The oldest message. Requires !empty().
  const std::vector<std::uint8_t>& front() const;
  // Removes the oldest message. Requires !empty().
  void Pop();
  // Removes everything; returns how many messages were dropped.
  std::size_t Clear();

  bool empty() const { return messages_.empty(); }
  std::size_t frames() const { return messages_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::size_t max_frames() const { return max_frames_; }
  std::size_t max_bytes() const { return max_bytes_; }
  // The most frames ever held at once (a high-water mark for stats).
  std::size_t peak_frames() const { return peak_frames_; }

 private:
  std::size_t max_frames_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::size_t peak_frames_ = 0;
  std::deque<std::vector<std::uint8_t>> messages_;
};

}  // namespace pbxstate::corosync
