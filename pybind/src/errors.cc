#include "errors.h"

#include <pybind11/eval.h>

#include "convert.h"

namespace pbxstate::python {
namespace {

// Executed in the module's namespace when it loads.
constexpr const char* kExceptionsSource = R"PY(
class ScenarioError(ValueError):
    """A scenario the loader refused.

    str() is exactly what `pbxstate validate` prints: one line per error, each
    "file:line:column: field.path: message". The attributes describe the first error:
    file, line and column (1-based; None when the error has no position, e.g. an unreadable
    file), path (the field's path such as "faults[0].partition[1][0]"; None for errors about
    the whole file) and message. errors lists one ScenarioError per error found, in file order
    (a ScenarioError about a single error lists itself). source is the YAML text the positions
    point into when it is not a file (Scenario.from_dict), else None.
    """

    def __init__(self, text, file="", line=None, column=None, path=None, message="", errors=None,
                 source=None):
        super().__init__(text)
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
        self.errors = list(errors) if errors else [self]
        self.source = source

    def __str__(self):
        return self.args[0]

    def __reduce__(self):
        errors = None if self.errors == [self] else self.errors
        return (type(self), (self.args[0], self.file, self.line, self.column, self.path,
                             self.message, errors, self.source))


class NodeDownError(RuntimeError):
    """A Cluster call about node i (a change, a query, a crash) found node i crashed."""
)PY";

py::object ModuleAttr(const char* name) { return py::module_::import("pbxstate").attr(name); }

py::object OrNone(int v) { return v > 0 ? py::object(py::int_(v)) : py::object(py::none()); }
py::object OrNone(const std::string& s) { return s.empty() ? py::object(py::none()) : py::object(py::str(s)); }

}  // namespace

void DefineExceptions(py::module_& m) {
  py::exec(kExceptionsSource, m.attr("__dict__"));
}

void RaiseScenarioErrors(const std::vector<scenario::ScenarioError>& errors, const std::optional<std::string>& source) {
  const py::object cls = ModuleAttr("ScenarioError");
  const py::object py_source = source ? py::object(py::str(*source)) : py::object(py::none());
  auto make = [&](const scenario::ScenarioError& e, const std::string& text, const py::object& all) {
    return cls(text, e.file, OrNone(e.line), OrNone(e.column), OrNone(e.path), e.message, all, py_source);
  };
  py::list items;
  std::string text;
  for (const scenario::ScenarioError& e : errors) {
    const std::string line = e.ToString();
    items.append(make(e, line, py::none()));
    text += (text.empty() ? "" : "\n") + line;
  }
  const py::object error = errors.size() == 1 ? items[0] : make(errors.front(), text, items);
  PyErr_SetObject(cls.ptr(), error.ptr());
  throw py::error_already_set();
}

void RaiseNodeDown(const std::string& message) { ThrowPython(ModuleAttr("NodeDownError"), message); }

}  // namespace pbxstate::python
