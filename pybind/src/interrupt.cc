#include "interrupt.h"

namespace pbxstate::python {

namespace py = pybind11;

InterruptWatch::InterruptWatch() : last_poll_(std::chrono::steady_clock::now()) {}

InterruptWatch::~InterruptWatch() {
  if (type_ == nullptr && value_ == nullptr && traceback_ == nullptr) return;
  py::gil_scoped_acquire gil;
  Py_XDECREF(type_);
  Py_XDECREF(value_);
  Py_XDECREF(traceback_);
}

bool InterruptWatch::Poll() {
  if (raised_) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_poll_ < kPollWallInterval) return false;
  last_poll_ = now;
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) {
    PyErr_Fetch(&type_, &value_, &traceback_);
    raised_ = true;
  }
  return raised_;
}

void InterruptWatch::RethrowIfRaised() {
  if (!raised_) return;
  raised_ = false;
  PyErr_Restore(type_, value_, traceback_);  // steals the references
  type_ = value_ = traceback_ = nullptr;
  throw py::error_already_set();
}

}  // namespace pbxstate::python
