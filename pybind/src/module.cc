// The Python module `pbxstate`: scenarios (load, validate, run in ns-3, run records and reports)
// and an in-process cluster of engines for unit-style tests. pybind/README.md is its guide.
#include <pybind11/pybind11.h>

#include "cluster_bindings.h"
#ifdef PBXSTATE_PYTHON_CONTROL
#include "control_bindings.h"
#include "netns_bindings.h"
#endif
#include "device_state.h"
#include "errors.h"
#include "pbxstate/harness/run_record.h"
#include "run_bindings.h"
#include "scenario_bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(pbxstate, m) {
  m.doc() =
      "pbxstate: shared PBX state (device state/BLF, MWI, registrations) across a cluster.\n\n"
      "Scenario.load(path).run() runs a scenario file in ns-3 and returns its metrics; Cluster(nodes=3)\n"
      "is an in-process deterministic cluster for unit-style tests; pbxstate.control talks to pbxstated and\n"
      "pbxstate.netns builds namespace clusters (Linux). pybind/README.md is the guide.";
  m.attr("__version__") = PBXSTATE_VERSION;
#ifdef PBXSTATE_WITH_NS3
  m.attr("HAVE_NS3") = true;
#else
  m.attr("HAVE_NS3") = false;
#endif
  m.def("build_identity", &pbxstate::harness::BuildIdentity, "The build's identity, as run.json records it.");
  pbxstate::python::DefineExceptions(m);
  pbxstate::python::BindDeviceState(m);
  auto scenario = pbxstate::python::BindScenario(m);
  pbxstate::python::BindRun(m, scenario);
  pbxstate::python::BindCluster(m);
#ifdef PBXSTATE_PYTHON_CONTROL
  pbxstate::python::BindControl(m);
  pbxstate::python::BindNetns(m);
#endif
}
