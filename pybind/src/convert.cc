#include "convert.h"

#include <cmath>

namespace pbxstate::python {

double ToSeconds(Duration d) { return static_cast<double>(d.count()) / 1e9; }

Duration FromSeconds(double seconds, const std::string& what) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxSeconds) {
    throw py::value_error(what + ": expected a duration in seconds from 0 to " +
                          std::to_string(static_cast<long long>(kMaxSeconds)) + ", got " + py::repr(py::float_(seconds)).cast<std::string>());
  }
  return Duration(static_cast<Duration::rep>(std::llround(seconds * 1e9)));
}

void ThrowStatus(const Status& status) {
  if (status.code() == Status::Code::kInvalidArgument) throw py::value_error(status.message());
  throw std::runtime_error(status.message());
}

void ThrowPython(const py::object& exception_class, const std::string& message) {
  PyErr_SetString(exception_class.ptr(), message.c_str());
  throw py::error_already_set();
}

}  // namespace pbxstate::python
