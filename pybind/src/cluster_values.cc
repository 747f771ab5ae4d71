#include "cluster_values.h"

#include <cstdio>
#include <string>

#include "convert.h"

namespace pbxstate::python {
namespace {

using inproc::LinkFaults;

double Probability(double p, const char* what) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw py::value_error(std::string("Network.") + what + ": expected a probability from 0 to 1, got " +
                          py::repr(py::float_(p)).cast<std::string>());
  }
  return p;
}

LinkFaults MakeNetwork(double delay, double jitter, double loss, double duplicate, double reorder, double reorder_delay) {
  LinkFaults f;
  f.delay = FromSeconds(delay, "Network.delay");
  f.jitter = FromSeconds(jitter, "Network.jitter");
  f.loss = Probability(loss, "loss");
  f.duplicate = Probability(duplicate, "duplicate");
  f.reorder = Probability(reorder, "reorder");
  f.reorder_delay = FromSeconds(reorder_delay, "Network.reorder_delay");
  return f;
}

// A duration in seconds, shortest form ("0.002").
std::string SecondsText(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", ToSeconds(d));
  return buf;
}

std::string NetworkRepr(const LinkFaults& f) {
  char buf[128];
  std::string out = "pbxstate.Network(delay=" + SecondsText(f.delay) + ", jitter=" + SecondsText(f.jitter);
  std::snprintf(buf, sizeof buf, ", loss=%g, duplicate=%g, reorder=%g", f.loss, f.duplicate, f.reorder);
  return out + buf + ", reorder_delay=" + SecondsText(f.reorder_delay) + ")";
}

std::string Repr(const Mailbox& mb) {
  return "<pbxstate.Mailbox new=" + std::to_string(mb.new_messages) + " old=" + std::to_string(mb.old_messages) +
         " urgent=" + std::to_string(mb.urgent_messages) + " writer=" + std::to_string(mb.writer) + ">";
}

void BindEngineStats(py::module_& m) {
  py::class_<EngineStats> s(m, "EngineStats", "One engine's counters (a copy; never reset while the node is up).");
  // The counters by their one list of names (stats.h), so a new counter appears here too. The
  // names are string literals: data() is NUL-terminated and lives for the program.
  for (const EngineStatField& f : EngineStatFields()) s.def_readonly(f.name.data(), f.member);
  s.def_property_readonly("dropped", [](const EngineStats& st) {
    py::dict d;
    for (int i = 0; i < kDropReasonCount; ++i) {
      d[py::str(std::string(DropReasonName(static_cast<DropReason>(i))))] = st.dropped[static_cast<std::size_t>(i)];
    }
    return d;
  }, "Received frames not used, by reason.");
  s.def_property_readonly("total_dropped", &EngineStats::total_dropped);
  s.def("__repr__", [](const EngineStats& st) {
    return "<pbxstate.EngineStats frames_out=" + std::to_string(st.frames_out) + " frames_in=" + std::to_string(st.frames_in) +
           " local_changes=" + std::to_string(st.local_changes) + " records_applied=" + std::to_string(st.records_applied) +
           " dropped=" + std::to_string(st.total_dropped()) + ">";
  });
}

}  // namespace

LinkFaults NetworkArg(const py::handle& v) {
  if (v.is_none()) return LinkFaults{};
  if (py::isinstance<LinkFaults>(v)) return v.cast<LinkFaults>();
  if (py::isinstance<py::dict>(v)) {
    return py::type::of<LinkFaults>()(**py::reinterpret_borrow<py::dict>(v)).cast<LinkFaults>();
  }
  throw py::type_error("network: expected a pbxstate.Network, a dict of its arguments or None, got " +
                       py::repr(v).cast<std::string>());
}

void BindClusterValues(py::module_& m) {
  BindEngineStats(m);

  py::class_<LinkFaults>(m, "Network", "What every link (or one directed link) does to frames: durations in seconds, probabilities 0..1.")
      .def(py::init(&MakeNetwork), py::kw_only(), py::arg("delay") = 0.001, py::arg("jitter") = 0.0, py::arg("loss") = 0.0,
           py::arg("duplicate") = 0.0, py::arg("reorder") = 0.0, py::arg("reorder_delay") = 0.02)
      .def_property_readonly("delay", [](const LinkFaults& f) { return ToSeconds(f.delay); })
      .def_property_readonly("jitter", [](const LinkFaults& f) { return ToSeconds(f.jitter); })
      .def_readonly("loss", &LinkFaults::loss)
      .def_readonly("duplicate", &LinkFaults::duplicate)
      .def_readonly("reorder", &LinkFaults::reorder)
      .def_property_readonly("reorder_delay", [](const LinkFaults& f) { return ToSeconds(f.reorder_delay); })
      .def("__eq__", [](const LinkFaults& a, const LinkFaults& b) { return a == b; })
      .def("__repr__", &NetworkRepr);

  py::class_<Mailbox>(m, "Mailbox", "A mailbox's cluster-wide value as one node shows it.")
      .def_readonly("new", &Mailbox::new_messages)
      .def_readonly("old", &Mailbox::old_messages)
      .def_readonly("urgent", &Mailbox::urgent_messages)
      .def_readonly("writer", &Mailbox::writer, "index of the node whose write won")
      .def("__eq__", [](const Mailbox& a, const Mailbox& b) {
        return a.new_messages == b.new_messages && a.old_messages == b.old_messages &&
               a.urgent_messages == b.urgent_messages && a.writer == b.writer;
      })
      .def("__repr__", [](const Mailbox& mb) { return Repr(mb); });

  py::class_<Registration>(m, "Registration", "A live contact of an AOR as one node shows it.")
      .def_readonly("node", &Registration::node, "index of the node holding it")
      .def_readonly("contact", &Registration::contact)
      .def_readonly("expires_in", &Registration::expires_in, "seconds from the cluster's now")
      .def_readonly("reachable", &Registration::reachable)
      .def_readonly("path", &Registration::path, "the REGISTER's Path headers ('' when none)")
      .def_readonly("user_agent", &Registration::user_agent, "its User-Agent ('' when none)")
      .def("__repr__", [](const Registration& r) {
        return "<pbxstate.Registration node=" + std::to_string(r.node) + " contact='" + r.contact + "' expires_in=" +
               py::repr(py::float_(r.expires_in)).cast<std::string>() + ">";
      });
}

}  // namespace pbxstate::python
