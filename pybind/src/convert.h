// Conversions every part of the binding shares: durations to and from Python's float seconds,
// and a refused engine/cluster call (Status) to the Python exception a caller expects.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "pbxstate/status.h"
#include "pbxstate/types.h"

namespace pbxstate::python {

namespace py = pybind11;

// Seconds as a Python float (nanosecond-exact up to about 104 days).
double ToSeconds(Duration d);

// `seconds` as a Duration. Raises ValueError naming `what` for NaN, infinity, a negative value, or
// more than kMaxSeconds (a duration that would overflow the nanosecond clock is a mistake, never
// an intention).
Duration FromSeconds(double seconds, const std::string& what);
inline constexpr double kMaxSeconds = 100.0 * 365 * 24 * 3600;

// Raises the Python exception for a refused call: ValueError for InvalidArgument (the caller
// passed something malformed), RuntimeError for the rest. Never returns.
[[noreturn]] void ThrowStatus(const Status& status);

// Raises an instance of `exception_class` (a Python exception type defined by the module) with
// `message`. Never returns.
[[noreturn]] void ThrowPython(const py::object& exception_class, const std::string& message);

}  // namespace pbxstate::python
