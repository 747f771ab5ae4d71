// pbxstate.Scenario: a scenario file loaded and checked exactly as the command line does it.
#pragma once

#include <pybind11/pybind11.h>

#include "pbxstate/scenario/scenario.h"

namespace pbxstate::python {

namespace py = pybind11;

using ScenarioClass = py::class_<scenario::Scenario>;

// Defines Scenario (loading, validation errors, read-only properties). Running it is added by
// BindRun.
ScenarioClass BindScenario(py::module_& m);

}  // namespace pbxstate::python
