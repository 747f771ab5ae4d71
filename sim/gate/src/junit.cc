#include "pbxstate/gate/junit.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include "pbxstate/scenario/check.h"

namespace pbxstate::gate {
namespace {

// Escapes for attribute values and text alike; characters XML 1.0 does not allow (control
// characters other than tab, newline, return) become '?', so the document always parses.
std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
          out += '?';
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string ShowObserved(const scenario::Check& c, double v) {
  if (!std::isfinite(v)) return "never";
  if (c.kind == scenario::MetricKind::kDuration) return FormatGateValue(GateUnit::kDuration, v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

std::vector<JUnitCase> CasesForChecks(const std::string& scenario_name,
                                      const std::vector<harness::CheckVerdict>& verdicts) {
  std::vector<JUnitCase> cases;
  for (const harness::CheckVerdict& v : verdicts) {
    JUnitCase c;
    c.classname = "pbxstate." + scenario_name + ".checks";
    c.name = v.check.text;
    const std::string limit = std::string(scenario::CompareOpText(v.check.op)) + " " +
                              ShowObserved(v.check, v.check.threshold);
    if (!v.applicable()) {
      c.skipped = v.not_applicable;
    } else if (!v.measured) {
      c.failure = "not measured (limit " + limit + ")";
      c.details = "The run did not measure " + v.check.metric + "; a check that cannot be evaluated fails.";
    } else {
      const std::string seen = "observed " + ShowObserved(v.check, v.observed) + ", limit " + limit;
      if (v.pass) {
        c.details = seen;
      } else {
        c.failure = seen;
        c.details = v.check.metric + " = " + ShowObserved(v.check, v.observed) + " does not satisfy " + v.check.text +
                    (v.check.line > 0 ? " (scenario line " + std::to_string(v.check.line) + ")" : "");
      }
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<JUnitCase> CasesForBaseline(const std::string& scenario_name, const std::vector<MetricComparison>& rows) {
  std::vector<JUnitCase> cases;
  for (const MetricComparison& r : rows) {
    JUnitCase c;
    c.classname = "pbxstate." + scenario_name + ".baseline";
    c.name = r.name;
    const std::string text =
        "baseline " + (r.has_baseline ? FormatGateValue(r.unit, r.baseline) : std::string("-")) + ", observed " +
        (r.has_observed ? FormatGateValue(r.unit, r.observed) : std::string("-")) + " (" + FormatChange(r) +
        "), allowed +" + FormatGateValue(r.unit, r.allowed) + ": " + std::string(OutcomeName(r.outcome)) +
        (r.note.empty() ? "" : " [" + r.note + "]");
    if (Fails(r.outcome)) {
      c.failure = text;
    }
    c.details = text;
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string FormatJUnit(const std::vector<JUnitSuite>& suites) {
  std::size_t tests = 0, failures = 0, skipped = 0;
  double seconds = 0;
  for (const auto& s : suites) {
    tests += s.cases.size();
    seconds += s.seconds;
    for (const auto& c : s.cases) failures += c.failure ? 1 : 0;
    for (const auto& c : s.cases) skipped += c.skipped ? 1 : 0;
  }
  char time[32];
  std::snprintf(time, sizeof time, "%.3f", seconds);
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<testsuites name=\"pbxstate\" tests=\"" + std::to_string(tests) + "\" failures=\"" + std::to_string(failures) +
       "\" errors=\"0\" skipped=\"" + std::to_string(skipped) + "\" time=\"" + time + "\">\n";
  for (const auto& s : suites) {
    std::size_t f = 0, skips = 0;
    for (const auto& c : s.cases) f += c.failure ? 1 : 0;
    for (const auto& c : s.cases) skips += c.skipped ? 1 : 0;
    std::snprintf(time, sizeof time, "%.3f", s.seconds);
    x += "  <testsuite name=\"" + Escape(s.name) + "\" tests=\"" + std::to_string(s.cases.size()) + "\" failures=\"" +
         std::to_string(f) + "\" errors=\"0\" skipped=\"" + std::to_string(skips) + "\" time=\"" + time + "\">\n";
    if (!s.properties.empty()) {
      x += "    <properties>\n";
      for (const auto& [k, v] : s.properties) {
        x += "      <property name=\"" + Escape(k) + "\" value=\"" + Escape(v) + "\"/>\n";
      }
      x += "    </properties>\n";
    }
    for (const auto& c : s.cases) {
      x += "    <testcase classname=\"" + Escape(c.classname) + "\" name=\"" + Escape(c.name) + "\" time=\"0\"";
      if (c.failure) {
        x += ">\n      <failure message=\"" + Escape(*c.failure) + "\" type=\"" +
             (c.classname.ends_with(".baseline") ? "regression" : "check") + "\">" + Escape(c.details) +
             "</failure>\n    </testcase>\n";
      } else if (c.skipped) {
        x += ">\n      <skipped message=\"" + Escape(*c.skipped) + "\"/>\n    </testcase>\n";
      } else if (!c.details.empty()) {
        x += ">\n      <system-out>" + Escape(c.details) + "</system-out>\n    </testcase>\n";
      } else {
        x += "/>\n";
      }
    }
    x += "  </testsuite>\n";
  }
  x += "</testsuites>\n";
  return x;
}

bool WriteJUnit(const std::filesystem::path& path, const std::vector<JUnitSuite>& suites, std::string* error) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    *error = path.parent_path().string() + ": " + ec.message();
    return false;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << FormatJUnit(suites);
  out.close();
  if (!out) {
    *error = path.string() + ": cannot write";
    return false;
  }
  return true;
}

}  // namespace pbxstate::gate
