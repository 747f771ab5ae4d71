// pbxstate.DeviceState: Asterisk's nine device states, with Asterisk's names and numbers.
#pragma once

#include <pybind11/pybind11.h>

#include "pbxstate/types.h"

namespace pbxstate::python {

namespace py = pybind11;

void BindDeviceState(py::module_& m);

// What a caller may pass as a state: a DeviceState, or its name as a string in any case
// ("INUSE", "inuse"). Raises ValueError naming the accepted names for an unknown name,
// TypeError for anything that is neither.
DeviceState DeviceStateArg(const py::handle& value);

}  // namespace pbxstate::python
