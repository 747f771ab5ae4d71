#include "run_bindings.h"

#include <pybind11/stl.h>
#include <stdlib.h>  // mkdtemp

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "convert.h"
#include "interrupt.h"
#include "pbxstate/harness/recorder.h"
#include "pbxstate/harness/run_record.h"
#include "pbxstate/scenario/check.h"
#ifdef PBXSTATE_WITH_NS3
#include "pbxstate/runner/ns3_runner.h"
#endif

namespace pbxstate::python {
namespace {

namespace fs = std::filesystem;
using scenario::Scenario;

// Everything a finished run produced. Immutable once made.
struct RunData {
  Scenario scenario;  // as loaded (RunInfo::seed is the seed the run used)
  harness::RunResult result;
  std::vector<harness::CheckVerdict> verdicts;
  harness::RunInfo info;
  std::optional<fs::path> out;              // where the run wrote its record, if asked
  mutable std::optional<std::string> json;  // run.json's text, made by the first to_json()

  bool passed() const {
    for (const auto& v : verdicts) {
      if (v.failed()) return false;
    }
    return true;
  }
  std::optional<double> Metric(const std::string& name) const {
    auto it = result.metrics.find(name);
    if (it == result.metrics.end()) return std::nullopt;
    return it->second;
  }
};

// A duration family's summary (delivery_latency, stable_latency), in seconds.
struct Latency {
  std::size_t count = 0;
  double min = 0, p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;
};

// One check's verdict, in Python's units (durations in seconds).
struct CheckResult {
  std::string text, metric, op;
  bool passed = false, measured = false;
  py::object observed;  // None when not measured or infinite (a fault never recovered from)
  double limit = 0;
  py::object not_applicable;  // None, or why the run's backend is not held to the check
  std::vector<std::string> backends;  // the backends the check applies to; empty: every backend
};

bool IsDuration(const std::string& metric) {
  const scenario::MetricInfo* info = scenario::FindMetric(metric);
  return info != nullptr && info->kind == scenario::MetricKind::kDuration;
}
bool IsCount(const std::string& metric) {
  const scenario::MetricInfo* info = scenario::FindMetric(metric);
  return info == nullptr ? metric.rfind("engine.", 0) == 0 : info->kind == scenario::MetricKind::kCount;
}

// A metric's value for Python: seconds for durations, int for counts, None where run.json writes
// null (a fault never recovered from).
py::object MetricValue(const std::string& name, double v) {
  if (!std::isfinite(v)) return py::none();
  if (IsDuration(name)) return py::float_(v / 1e9);
  if (IsCount(name) && v == std::floor(v)) return py::int_(static_cast<long long>(v));
  return py::float_(v);
}

std::optional<Latency> LatencyOf(const RunData& r, const std::string& family, std::size_t count) {
  if (!r.Metric(family + ".p50")) return std::nullopt;
  Latency l;
  l.count = count;
  l.min = *r.Metric(family + ".min") / 1e9;
  l.p50 = *r.Metric(family + ".p50") / 1e9;
  l.p95 = *r.Metric(family + ".p95") / 1e9;
  l.p99 = *r.Metric(family + ".p99") / 1e9;
  l.max = *r.Metric(family + ".max") / 1e9;
  l.mean = *r.Metric(family + ".mean") / 1e9;
  return l;
}

fs::path PathArg(const py::handle& p) {
  return fs::path(py::module_::import("os").attr("fspath")(p).cast<std::string>());
}

// A fresh private folder under the system's temporary directory.
fs::path MakeTempDir() {
  std::string pattern = (fs::temp_directory_path() / "pbxstate-run-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("to_json: cannot create a temporary folder");
  return fs::path(pattern);
}

void WriteRecord(const RunData& r, const fs::path& dir) {
  std::string error;
  if (!harness::WriteRunRecord(dir, r.scenario, r.info, r.result, r.verdicts, &error)) {
    throw std::runtime_error("cannot write the run record: " + error);
  }
}

// run.json as the command line writes it: the harness's writer writes the record into a
// temporary folder and run.json is read back, so the text cannot drift from the CLI's.
std::string ToJson(const RunData& r) {
  if (r.json) return *r.json;
  const fs::path dir = MakeTempDir();
  std::string text;
  try {
    WriteRecord(r, dir);
    std::ifstream in(dir / "run.json", std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    if (!in) throw std::runtime_error("to_json: cannot read back " + (dir / "run.json").string());
    text = s.str();
  } catch (...) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    throw;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  r.json = text;
  return text;
}

// Where reports/*.py are, as the command line finds them: $PBXSTATE_REPORTS_DIR; else, for an
// installed module, the folder the install put them in, relative to this module's file
// (PBXSTATE_REPORTS_FROM_MODULE, from the install layout); else the source tree's reports/
// (compiled in; the build tree's module).
fs::path ReportsDir() {
  if (const char* env = std::getenv("PBXSTATE_REPORTS_DIR"); env != nullptr) return fs::path(env);
  const auto module_file = py::module_::import("pbxstate").attr("__file__").cast<std::string>();
  const fs::path installed = fs::path(module_file).parent_path() / PBXSTATE_REPORTS_FROM_MODULE;
  std::error_code ec;
  if (fs::is_directory(installed, ec)) return installed.lexically_normal();
  return fs::path(PBXSTATE_REPORTS_DIR);
}

// Writes the run record into `dir`, then report.html with reports/html_report.py run by Debian's
// /usr/bin/python3, as `pbxstate run` does. Returns report.html's path.
py::object WriteReport(const RunData& r, const py::handle& dir_arg) {
  const fs::path dir = PathArg(dir_arg);
  WriteRecord(r, dir);
  const fs::path script = ReportsDir() / "html_report.py";
  if (!fs::exists(script)) {
    throw std::runtime_error("write_report: " + script.string() +
                             " not found (install the pbxstate package, or set PBXSTATE_REPORTS_DIR to the reports/ folder); the run record is in " +
                             dir.string());
  }
  py::object subprocess = py::module_::import("subprocess");
  py::object done = subprocess.attr("run")(std::vector<std::string>{"/usr/bin/python3", script.string(), dir.string()},
                                           py::arg("stdout") = subprocess.attr("DEVNULL"),
                                           py::arg("stderr") = subprocess.attr("PIPE"), py::arg("text") = true);
  if (done.attr("returncode").cast<int>() != 0) {
    throw std::runtime_error("write_report: " + script.string() + " failed (exit " +
                             py::str(done.attr("returncode")).cast<std::string>() +
                             "); the run record is complete in " + dir.string() + ":\n" +
                             done.attr("stderr").cast<std::string>());
  }
  return py::module_::import("pathlib").attr("Path")((dir / "report.html").string());
}

#ifdef PBXSTATE_WITH_NS3
// ns-3's simulator is one per process: runs from different Python threads take turns.
std::mutex& Ns3Mutex() {
  static std::mutex m;
  return m;
}

// Set while this thread is inside a run. Python code can run inside one (a signal handler, when
// the run looks for Ctrl-C); a run started from there would wait for itself forever.
thread_local bool running_here = false;
#endif

std::shared_ptr<RunData> RunScenario(const Scenario& s, std::optional<std::uint64_t> seed, const py::object& out) {
#ifndef PBXSTATE_WITH_NS3
  (void)s;
  (void)seed;
  (void)out;
  throw std::runtime_error(
      "Scenario.run: this pbxstate module was built without ns-3 (install libns3-dev and rebuild); "
      "loading and validating scenarios, and Cluster, work without it");
#else
  if (running_here) throw std::runtime_error("Scenario.run: called from inside a run on the same thread (a signal handler?)");
  runner::RunOptions options;
  options.seed = seed;
  if (!out.is_none()) options.out = PathArg(out);
  InterruptWatch watch;
  options.should_stop = [&watch] { return watch.Poll(); };
  runner::RunOutcome outcome;
  Status st;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(Ns3Mutex());
    running_here = true;
    try {
      st = runner::RunNs3(s, options, &outcome);
    } catch (...) {
      running_here = false;
      throw;
    }
    running_here = false;
  }
  watch.RethrowIfRaised();
  if (outcome.stopped) throw std::runtime_error("Scenario.run: the run was stopped");
  if (!st.ok()) ThrowStatus(st);
  auto r = std::make_shared<RunData>();
  r->scenario = s;
  r->result = std::move(outcome.result);
  r->verdicts = std::move(outcome.verdicts);
  r->info = std::move(outcome.info);
  r->out = options.out;
  return r;
#endif
}

std::string Seconds3(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

// The values a Run hands out: a latency family's quantiles and one check's verdict.
void BindRunValues(py::module_& m) {
  py::class_<Latency>(m, "Latency", "Quantiles of a latency family over a run, in seconds.")
      .def_readonly("count", &Latency::count, "samples")
      .def_readonly("min", &Latency::min)
      .def_readonly("p50", &Latency::p50)
      .def_readonly("p95", &Latency::p95)
      .def_readonly("p99", &Latency::p99)
      .def_readonly("max", &Latency::max)
      .def_readonly("mean", &Latency::mean)
      .def("__repr__", [](const Latency& l) {
        return "<pbxstate.Latency count=" + std::to_string(l.count) + " p50=" + Seconds3(l.p50) + " p95=" + Seconds3(l.p95) +
               " p99=" + Seconds3(l.p99) + " max=" + Seconds3(l.max) + ">";
      });

  py::class_<CheckResult>(m, "Check", "One check of a run: text as written, passed, observed and limit (seconds for durations).")
      .def_readonly("text", &CheckResult::text)
      .def_readonly("metric", &CheckResult::metric)
      .def_readonly("op", &CheckResult::op)
      .def_readonly("passed", &CheckResult::passed)
      .def_readonly("measured", &CheckResult::measured)
      .def_readonly("observed", &CheckResult::observed, "None when not measured or never reached")
      .def_readonly("limit", &CheckResult::limit)
      .def_readonly("not_applicable", &CheckResult::not_applicable,
                    "None, or why the check does not apply to the run's backend (neither passed nor failed)")
      .def_readonly("backends", &CheckResult::backends, "The backends the check applies to, as written; empty: every backend")
      .def("__bool__", [](const CheckResult& c) { return c.passed || !c.not_applicable.is_none(); })
      .def("__repr__", [](const CheckResult& c) {
        const char* status = !c.not_applicable.is_none() ? "N/A " : c.passed ? "PASS " : "FAIL ";
        return std::string("<pbxstate.Check ") + status + "'" + c.text + "' observed " +
               py::repr(c.observed).cast<std::string>() + ">";
      });
}

// Run: the outcome of Scenario.run, its metrics, checks and record.
void BindRunClass(py::module_& m) {
  py::class_<RunData, std::shared_ptr<RunData>> run(m, "Run", "The outcome of Scenario.run: metrics, checks and the run record.");
  run.def_property_readonly("scenario", [](const RunData& r) { return r.scenario; })
      .def_property_readonly("seed", [](const RunData& r) { return r.info.seed; })
      .def_property_readonly("backend", [](const RunData& r) { return r.info.backend; })
      .def_property_readonly("passed", &RunData::passed, "Every check passed.")
      .def_property_readonly("lost", [](const RunData& r) { return static_cast<long long>(r.Metric("lost").value_or(0)); })
      .def_property_readonly("stale", [](const RunData& r) { return static_cast<long long>(r.Metric("stale").value_or(0)); })
      .def_property_readonly("changes", [](const RunData& r) { return static_cast<long long>(r.Metric("changes").value_or(0)); })
      .def_property_readonly("messages_per_change", [](const RunData& r) { return r.Metric("messages_per_change"); },
                             "Frames put on the network per local change; None without changes.")
      .def_property_readonly("bytes_per_change", [](const RunData& r) { return r.Metric("bytes_per_change"); })
      .def_property_readonly("delivery_latency",
                             [](const RunData& r) { return LatencyOf(r, "delivery_latency", r.result.deliveries.size()); },
                             "Latency (seconds), or None without samples.")
      .def_property_readonly("stable_latency", [](const RunData& r) {
        std::size_t n = 0;
        for (const auto& c : r.result.changes) n += c.stable.has_value() ? 1 : 0;
        return LatencyOf(r, "stable_latency", n);
      }, "Latency (seconds), or None without samples.")
      .def_property_readonly("convergence", [](const RunData& r) {
        py::list out;
        for (const harness::ConvergenceSample& c : r.result.convergence) {
          py::dict d;
          d["fault"] = c.fault;
          d["after"] = c.after;
          d["at"] = ToSeconds(c.fault_at);
          d["took"] = c.converged ? py::object(py::float_(ToSeconds(c.took))) : py::object(py::none());
          d["interrupted"] = c.interrupted;
          out.append(d);
        }
        return out;
      }, "One dict per fault end: fault (text), after (kind), at (s), took (s, None if not converged), "
         "interrupted (True when the next fault came before agreement).")
      .def_property_readonly("checks", [](const RunData& r) {
        std::vector<CheckResult> out;
        for (const harness::CheckVerdict& v : r.verdicts) {
          CheckResult c;
          c.text = v.check.text;
          c.metric = v.check.metric;
          c.op = std::string(scenario::CompareOpText(v.check.op));
          c.passed = v.pass;
          c.measured = v.measured;
          c.observed = v.measured ? MetricValue(v.check.metric, v.observed) : py::none();
          const bool dur = v.check.kind == scenario::MetricKind::kDuration;
          c.limit = dur ? v.check.threshold / 1e9 : v.check.threshold;
          c.not_applicable = v.applicable() ? py::object(py::none()) : py::object(py::str(v.not_applicable));
          c.backends = v.check.backends;
          out.push_back(std::move(c));
        }
        return out;
      })
      .def_property_readonly("metrics", [](const RunData& r) {
        py::dict d;
        for (const auto& [name, v] : r.result.metrics) d[py::str(name)] = MetricValue(name, v);
        return d;
      }, "Every metric by its check name; durations in seconds, None where never reached.")
      .def_property_readonly("discrepancies", [](const RunData& r) {
        py::list out;
        for (const harness::Discrepancy& d : r.result.discrepancies) out.append(py::dict(py::arg("node") = d.node, py::arg("what") = d.what));
        return out;
      }, "Final views that differ from the oracle (node numbers from 1, as in the scenario).")
      .def_property_readonly("nodes", [](const RunData& r) {
        py::list out;
        for (const harness::NodeSummary& n : r.result.nodes) {
          out.append(py::dict(py::arg("node") = n.node, py::arg("up_at_end") = n.up_at_end,
                              py::arg("incarnation") = n.incarnation, py::arg("frames_sent") = n.frames_sent,
                              py::arg("bytes_sent") = n.bytes_sent, py::arg("final_digest") = n.final_digest));
        }
        return out;
      }, "One dict per scenario node (numbered from 1).")
      .def_property_readonly("wall_seconds", [](const RunData& r) { return r.info.wall_seconds; })
      .def_property_readonly("events", [](const RunData& r) { return r.info.events; }, "Simulator events.")
      .def_property_readonly("out", [](const RunData& r) -> py::object {
        if (!r.out) return py::none();
        return py::module_::import("pathlib").attr("Path")(r.out->string());
      }, "The folder the run wrote its record to (Scenario.run(out=...)), or None.")
      .def("to_json", &ToJson, "run.json's text, exactly as `pbxstate run` writes it.")
      .def("write_report", &WriteReport, py::arg("dir"),
           "Writes the run record (run.json, timing.json, latencies.csv, changes.csv) and report.html\n"
           "into `dir`; returns report.html's path.")
      .def("__repr__", [](const RunData& r) {
        return "<pbxstate.Run " + r.scenario.name + " seed=" + std::to_string(r.info.seed) + " " +
               (r.passed() ? "passed" : "FAILED") + " lost=" + std::to_string(static_cast<long long>(r.Metric("lost").value_or(0))) +
               " stale=" + std::to_string(static_cast<long long>(r.Metric("stale").value_or(0))) +
               " changes=" + std::to_string(static_cast<long long>(r.Metric("changes").value_or(0))) + ">";
      });
}

}  // namespace

void BindRun(py::module_& m, ScenarioClass& scenario_class) {
  BindRunValues(m);
  BindRunClass(m);

  scenario_class.def("run", &RunScenario, py::arg("seed") = py::none(), py::arg("out") = py::none(),
                     "Runs the scenario in ns-3 (deterministic: same scenario, seed and build, same run.json) and\n"
                     "returns a Run. seed overrides the scenario's; out (a folder) receives the run record.\n"
                     "Releases the GIL while it runs; Ctrl-C stops it and raises KeyboardInterrupt.\n"
                     "Raises ValueError for a scenario the ns-3 backend cannot run.");
}

}  // namespace pbxstate::python
