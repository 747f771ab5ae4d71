// pbxstate.netns: namespace clusters built by sim/netns (the code of --backend netns), for the live
// tests and the CPG benchmark.
#pragma once

#include <pybind11/pybind11.h>

namespace pbxstate::python {

namespace py = pybind11;

// Defines the submodule `netns` of `parent`: check_host(), leftovers(pid), Cluster, Process.
void BindNetns(py::module_& parent);

}  // namespace pbxstate::python
