// The small value types pbxstate.Cluster hands to and takes from Python: Network (a link's
// faults), Mailbox, Registration and EngineStats.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "pbxstate/inproc/cluster.h"

namespace pbxstate::python {

namespace py = pybind11;

// A mailbox's cluster-wide value as one node shows it.
struct Mailbox {
  std::uint32_t new_messages = 0, old_messages = 0, urgent_messages = 0;
  std::size_t writer = 0;  // node index
};

// A live registration as one node shows it.
struct Registration {
  std::size_t node = 0;  // node index holding it
  std::string contact;
  double expires_in = 0;  // seconds from the cluster's now
  bool reachable = true;
  std::string path;        // the REGISTER's Path headers ("" when none)
  std::string user_agent;  // its User-Agent ("" when none)
};

// Defines Network, Mailbox, Registration and EngineStats in `m`.
void BindClusterValues(py::module_& m);

// What a caller may pass as a network: None (the defaults), a Network, or a dict of Network's
// keyword arguments. TypeError for anything else; ValueError for values out of range.
inproc::LinkFaults NetworkArg(const py::handle& v);

}  // namespace pbxstate::python
