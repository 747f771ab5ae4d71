#include "json_values.h"

#include <cmath>

namespace pbxstate::python {

py::object ToPython(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(v.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(v.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(v.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float: return py::float_(v.get<double>());
    case nlohmann::json::value_t::string: return py::str(v.get_ref<const std::string&>());
    case nlohmann::json::value_t::array: {
      py::list out;
      for (const auto& item : v) out.append(ToPython(item));
      return out;
    }
    case nlohmann::json::value_t::object: {
      py::dict out;
      for (auto it = v.begin(); it != v.end(); ++it) out[py::str(it.key())] = ToPython(it.value());
      return out;
    }
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded: break;
  }
  return py::none();
}

nlohmann::json FromPython(const py::handle& value, const std::string& what) {
  if (value.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) {
    if (value.cast<py::int_>() < py::int_(0)) return value.cast<std::int64_t>();
    return value.cast<std::uint64_t>();
  }
  if (py::isinstance<py::float_>(value)) {
    const double d = value.cast<double>();
    if (!std::isfinite(d)) throw py::type_error(what + ": " + std::to_string(d) + " is not a JSON number");
    return d;
  }
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::dict>(value)) {
    nlohmann::json out = nlohmann::json::object();
    for (auto item : value.cast<py::dict>()) {
      if (!py::isinstance<py::str>(item.first)) throw py::type_error(what + ": a key that is not a string");
      const std::string key = item.first.cast<std::string>();
      out[key] = FromPython(item.second, what + "." + key);
    }
    return out;
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    nlohmann::json out = nlohmann::json::array();
    for (auto item : value) out.push_back(FromPython(item, what + "[]"));
    return out;
  }
  throw py::type_error(what + ": a " + std::string(py::str(value.get_type().attr("__name__"))) +
                       " cannot be sent as JSON");
}

}  // namespace pbxstate::python
