// The engine settings pbxstate.Cluster(engine={...}) accepts: EngineConfig fields by name,
// durations in seconds, sizes as ints.
#pragma once

#include <pybind11/pybind11.h>

#include "pbxstate/config.h"

namespace pbxstate::python {

namespace py = pybind11;

// The settings in `v` (None or a dict) over EngineConfig's defaults. ValueError names an unknown
// setting (listing the known ones) or a value out of range; the engine validates the result.
EngineConfig EngineArg(const py::handle& v);

}  // namespace pbxstate::python
