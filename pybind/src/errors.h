// The module's own exception classes and how C++ raises them.
//
//   ScenarioError(ValueError)  a scenario the loader refused; attributes file, line, column, path,
//                              message, errors (one ScenarioError per error), source
//   NodeDownError(RuntimeError) a cluster call that needs node i up found it down
//
// They are Python classes (defined from Python source when the module loads) so that they carry
// plain attributes, pickle, and subclass the builtin exceptions the way Python code expects.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <vector>

#include "pbxstate/scenario/loader.h"

namespace pbxstate::python {

namespace py = pybind11;

// Defines ScenarioError and NodeDownError in `m`.
void DefineExceptions(py::module_& m);

// Raises ScenarioError for `errors` (not empty), in the loader's order: str() is what
// `pbxstate validate` prints, one line per error; the attributes are the first error's.
// `source` is the YAML text the errors point into when it is not a file the user has (the YAML
// made from a dict); nullopt otherwise. Never returns.
[[noreturn]] void RaiseScenarioErrors(const std::vector<scenario::ScenarioError>& errors,
                                      const std::optional<std::string>& source);

// Raises NodeDownError with `message`. Never returns.
[[noreturn]] void RaiseNodeDown(const std::string& message);

}  // namespace pbxstate::python
