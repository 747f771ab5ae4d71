// The engine settings pbxstate.Cluster(engine={...}) accepts: the rows of the table of engine
// settings (engine_settings.h) by name, durations in seconds, sizes as ints, each within its row's
// range; and node_sites, the site map (site_map.h, not a row of the table): its text or a dict
// {node: site}.
#pragma once

#include <pybind11/pybind11.h>

#include "pbxstate/config.h"

namespace pbxstate::python {

namespace py = pybind11;

// The settings in `v` (None or a dict) over EngineConfig's defaults. ValueError names an unknown
// setting (listing the known ones), a value out of range or a site map ParseSiteMap refuses
// (TypeError: a value of the wrong type); the engine validates the result.
EngineConfig EngineArg(const py::handle& v);

// Defines pbxstate.engine_settings(): the table (engine_settings.h) as a list of dicts, so that
// Python code (the tests) walks the same rows.
void BindEngineSettings(py::module_& m);

}  // namespace pbxstate::python
