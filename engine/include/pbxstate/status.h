// The outcome of an engine call that can be refused.
#pragma once

#include <string>
#include <utility>

namespace pbxstate {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,     // the caller passed something malformed (empty key, key too long, ...)
    kResourceExhausted,   // a configured bound would be exceeded; nothing was changed
    kFailedPrecondition,  // the call is not allowed in the engine's current state
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status ResourceExhausted(std::string msg) { return Status(Code::kResourceExhausted, std::move(msg)); }
  static Status FailedPrecondition(std::string msg) { return Status(Code::kFailedPrecondition, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace pbxstate
