// JSON values (nlohmann::json, the control library's wire form) as Python values and back:
// objects are dicts, arrays lists, integers ints (unsigned ones too), null None.
#pragma once

#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>

namespace pbxstate::python {

namespace py = pybind11;

py::object ToPython(const nlohmann::json& value);
// Raises TypeError naming `what` for a value JSON cannot hold (a set, an object, a float NaN).
nlohmann::json FromPython(const py::handle& value, const std::string& what);

}  // namespace pbxstate::python
