#include "pbxstate/status.h"

namespace pbxstate {

std::string Status::ToString() const {
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "invalid argument: " + message_;
    case Code::kResourceExhausted: return "resource exhausted: " + message_;
    case Code::kFailedPrecondition: return "failed precondition: " + message_;
  }
  return message_;
}

}  // namespace pbxstate
