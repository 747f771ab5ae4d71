// pbxstate.control: pbxstated's control protocol through the C++ control library (control/).
#pragma once

#include <pybind11/pybind11.h>

namespace pbxstate::python {

namespace py = pybind11;

// Defines the submodule `control` of `parent`: ops(), encode_request, decode_response,
// decode_event, Client, EventStream, ControlError.
void BindControl(py::module_& parent);

}  // namespace pbxstate::python
