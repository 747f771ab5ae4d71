// pbxstate.Cluster: N engines in one process on a virtual clock (transports/inproc), for
// unit-style tests from Python. Nodes are indices 0..size-1, as in inproc::Cluster.
#pragma once

#include <pybind11/pybind11.h>

namespace pbxstate::python {

namespace py = pybind11;

// Defines Cluster, Network, Mailbox, Registration and EngineStats.
void BindCluster(py::module_& m);

}  // namespace pbxstate::python
