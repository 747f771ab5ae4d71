#include "scenario_bindings.h"

#include <pybind11/stl.h>

#include <string>

#include "convert.h"
#include "errors.h"
#include "pbxstate/harness/recorder.h"
#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::python {
namespace {

using scenario::LoadResult;
using scenario::Scenario;

// The loaded scenario, or ScenarioError with every error the loader found.
Scenario Take(LoadResult result, const std::optional<std::string>& source) {
  if (!result.ok()) RaiseScenarioErrors(result.errors, source);
  return std::move(*result.scenario);
}

Scenario Load(const py::object& path) {
  const std::string file = py::module_::import("os").attr("fspath")(path).cast<std::string>();
  return Take(scenario::LoadScenarioFile(file), std::nullopt);
}

Scenario FromYaml(const std::string& text, const std::string& file) {
  return Take(scenario::LoadScenarioString(text, file), text);
}

// The dict is written out as YAML (PyYAML, block style, keys in the dict's order) and that text is
// loaded, so the loader and its errors are the command line's; positions point into the text,
// which the error carries as `source`.
Scenario FromDict(const py::handle& d) {
  if (!py::isinstance<py::dict>(d)) {
    throw py::type_error("Scenario.from_dict: expected a dict, got " + py::repr(py::type::of(d)).cast<std::string>());
  }
  py::object yaml = py::module_::import("yaml");
  std::string text;
  try {
    text = yaml.attr("safe_dump")(d, py::arg("sort_keys") = false, py::arg("default_flow_style") = false,
                                  py::arg("allow_unicode") = true)
               .cast<std::string>();
  } catch (py::error_already_set& e) {
    if (!e.matches(yaml.attr("YAMLError"))) throw;
    throw py::type_error(std::string("Scenario.from_dict: the dict holds a value YAML cannot represent: ") + e.what());
  }
  return Take(scenario::LoadScenarioString(text, "<dict>"), text);
}

std::string Describe(const Scenario& s) {
  return s.name + ", " + std::to_string(s.topology.node_count()) + " nodes, " + scenario::FormatDuration(s.duration) +
         " + " + scenario::FormatDetectionRelative(s.quiet) + " quiet, " + std::to_string(s.faults.size()) + " faults, " +
         std::to_string(s.checks.size()) + " checks";
}

}  // namespace

ScenarioClass BindScenario(py::module_& m) {
  ScenarioClass c(m, "Scenario",
                  "A scenario, loaded and checked exactly as `pbxstate validate` does it. Immutable.\n"
                  "Make one with Scenario.load(path), Scenario.from_yaml(text) or Scenario.from_dict(d);\n"
                  "each raises ScenarioError with every error found.");
  c.def_static("load", &Load, py::arg("path"),
               "Loads the scenario file at `path` (str or os.PathLike). Errors name the file as given.");
  c.def_static("from_yaml", &FromYaml, py::arg("text"), py::arg("file") = "<string>",
               "Loads a scenario from YAML text; errors name it `file`.");
  c.def_static("from_dict", &FromDict, py::arg("d"),
               "Loads a scenario from a dict shaped like a scenario file (the dict is written as YAML with\n"
               "PyYAML and loaded); errors name the file \"<dict>\" and point into that text (error.source).");
  c.def_property_readonly("name", [](const Scenario& s) { return s.name; });
  c.def_property_readonly("description", [](const Scenario& s) { return s.description; });
  c.def_property_readonly("file", [](const Scenario& s) { return s.file; }, "Where it was loaded from.");
  c.def_property_readonly("seed", [](const Scenario& s) { return s.seed; }, "The scenario's own seed.");
  c.def_property_readonly("nodes", [](const Scenario& s) { return s.topology.node_count(); });
  c.def_property_readonly("sites", [](const Scenario& s) {
    py::list out;
    for (const scenario::Site& site : s.topology.sites) {
      py::dict d;
      d["name"] = site.name.empty() ? py::object(py::none()) : py::object(py::str(site.name));
      d["nodes"] = site.node_count;
      d["first_node"] = site.first_node;
      out.append(d);
    }
    return out;
  }, "One dict per site (name, nodes, first_node); one site named None in the one-LAN form.");
  c.def_property_readonly("duration", [](const Scenario& s) { return ToSeconds(s.duration); },
                          "The active phase, in seconds.");
  c.def_property_readonly("quiet", [](const Scenario& s) { return ToSeconds(s.quiet.constant); },
                          "The quiet phase after it, in seconds; with quiet_plus_detection, what is added to the "
                          "run's failure-detection time.");
  c.def_property_readonly("quiet_plus_detection", [](const Scenario& s) { return s.quiet.plus_detection; },
                          "Whether the quiet phase was written 'detection + <duration>'.");
  c.def_property_readonly("end", [](const Scenario& s) {
    if (s.quiet.plus_detection && !s.detection) {
      throw py::value_error("the end of " + s.name + " depends on the failure-detection time of the membership that "
                            "runs it (quiet: " + scenario::FormatDetectionRelative(s.quiet) + ")");
    }
    return ToSeconds(s.end());
  }, "duration + quiet: when the final check happens, in seconds (ValueError when the quiet phase adds the "
     "run's detection time).");
  c.def_property_readonly("transport", [](const Scenario& s) { return std::string(scenario::TransportModeName(s.transport)); });
  c.def_property_readonly("faults", [](const Scenario& s) {
    py::list out;
    for (const scenario::Fault& f : s.faults) {
      py::dict d;
      d["at"] = ToSeconds(f.at);
      d["fault"] = harness::DescribeFault(f);
      d["line"] = f.pos.line;
      out.append(d);
    }
    return out;
  }, "One dict per fault, in time order: at (seconds), fault (text), line (in the file).");
  c.def_property_readonly("checks", [](const Scenario& s) {
    std::vector<std::string> out;
    for (const scenario::Check& ck : s.checks) out.push_back(ck.text);
    return out;
  }, "The checks' expressions as written (check_backends says where each applies).");
  c.def_property_readonly("check_backends", [](const Scenario& s) {
    std::vector<std::vector<std::string>> out;
    for (const scenario::Check& ck : s.checks) out.push_back(ck.backends);
    return out;
  }, "Per check, in the order of checks: the backends it applies to (names from pbxstate's backend "
     "list); empty: every backend.");
  c.def("__repr__", [](const Scenario& s) { return "<pbxstate.Scenario " + s.file + ": " + Describe(s) + ">"; });
  return c;
}

}  // namespace pbxstate::python
