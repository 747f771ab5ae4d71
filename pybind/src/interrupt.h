// Ctrl-C for C++ work that runs with the GIL released (a scenario run, cluster.advance).
//
// Python's SIGINT handler only notes the signal; KeyboardInterrupt is raised when someone calls
// PyErr_CheckSignals on the main thread with the GIL held. Long C++ work releases the GIL (so other
// Python threads run), so it must come back now and then to ask. InterruptWatch does that at most
// once per kPollWallInterval of wall time, whatever the caller's own polling rate, so polling is
// cheap for callers and Ctrl-C is noticed within a fraction of a second.
//
// Threading: one watch belongs to the thread that makes the long call. Off the main thread,
// PyErr_CheckSignals never raises (Python runs signal handlers on the main thread only), so such a
// call is not interruptible: documented in pybind/README.md.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>

namespace pbxstate::python {

inline constexpr std::chrono::milliseconds kPollWallInterval{20};

class InterruptWatch {
 public:
  InterruptWatch();
  // Drops an exception that was kept and never re-raised. Takes the GIL itself.
  ~InterruptWatch();
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

  // Call with the GIL released. Returns true once a Python signal handler has raised (usually
  // KeyboardInterrupt); the exception is kept for Rethrow(). Cheap when called often.
  bool Poll();

  // Call with the GIL held. When Poll() kept an exception, raises it (throws
  // py::error_already_set); otherwise does nothing.
  void RethrowIfRaised();

 private:
  std::chrono::steady_clock::time_point last_poll_;
  bool raised_ = false;
  PyObject* type_ = nullptr;   // the kept exception (owned references), set when raised_
  PyObject* value_ = nullptr;
  PyObject* traceback_ = nullptr;
};

}  // namespace pbxstate::python
