#include "device_state.h"

#include <string>

namespace pbxstate::python {

namespace {

constexpr DeviceState kAll[] = {DeviceState::kUnknown, DeviceState::kNotInUse, DeviceState::kInUse,
                                DeviceState::kBusy, DeviceState::kInvalid, DeviceState::kUnavailable,
                                DeviceState::kRinging, DeviceState::kRingInUse, DeviceState::kOnHold};

std::string AcceptedNames() {
  std::string out;
  for (DeviceState s : kAll) out += (out.empty() ? "" : ", ") + std::string(DeviceStateName(s));
  return out;
}

}  // namespace

void BindDeviceState(py::module_& m) {
  py::enum_<DeviceState> e(m, "DeviceState",
                           "Asterisk's device states (enum ast_device_state), with Asterisk's names and values.\n"
                           "Methods that take a state also accept its name as a string, in any case.");
  for (DeviceState s : kAll) e.value(std::string(DeviceStateName(s)).c_str(), s);
  e.def_static(
      "parse", [](const py::object& v) { return DeviceStateArg(v); }, py::arg("name"),
      "The state called `name` (any case); ValueError for anything else.");
}

DeviceState DeviceStateArg(const py::handle& value) {
  if (py::isinstance<DeviceState>(value)) return value.cast<DeviceState>();
  if (py::isinstance<py::str>(value)) {
    const std::string name = value.cast<std::string>();
    if (auto s = ParseDeviceState(name)) return *s;
    throw py::value_error("unknown device state '" + name + "'; expected one of " + AcceptedNames());
  }
  throw py::type_error("expected a DeviceState or a state name (" + AcceptedNames() + "), got " +
                        py::repr(value).cast<std::string>());
}

}  // namespace pbxstate::python
