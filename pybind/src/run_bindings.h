// pbxstate.Run and Scenario.run: a scenario run in ns-3, its metrics as Python values, its run
// record (run.json through the harness's own writer) and its HTML report.
#pragma once

#include <pybind11/pybind11.h>

#include "scenario_bindings.h"

namespace pbxstate::python {

// Defines Run, Latency and Check, and adds run() to `scenario_class`.
void BindRun(py::module_& m, ScenarioClass& scenario_class);

}  // namespace pbxstate::python
