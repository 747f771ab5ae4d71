#include "engine_settings.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "convert.h"
#include "pbxstate/site_map.h"

namespace pbxstate::python {
namespace {

// The names, sorted: the table's rows and the site map.
std::string SettingNames() {
  std::vector<std::string> names{std::string(kSiteMapKey)};
  for (const EngineSetting& s : EngineSettings()) names.emplace_back(s.name);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// `ms` milliseconds as Python shows seconds ("0.001", "3600.0").
std::string SecondsText(std::uint64_t ms) { return py::repr(py::float_(static_cast<double>(ms) / 1000.0)).cast<std::string>(); }

// One setting from Python: a duration in seconds (int or float) or a count (int), within the row's
// range, else ValueError naming engine.<name> and the range in Python's units.
void SetFromPython(const EngineSetting& s, const py::handle& value, EngineConfig* config) {
  const std::string what = "engine." + std::string(s.name);
  if (s.is_duration()) {
    const Duration d = FromSeconds(value.cast<double>(), what);
    if (d < s.min_duration() || d > s.max_duration()) {
      throw py::value_error(what + ": expected a duration in seconds from " + SecondsText(s.min) + " to " +
                            SecondsText(s.max) + ", got " + py::repr(value).cast<std::string>());
    }
    config->*s.duration = d;
    return;
  }
  const long long n = value.cast<long long>();
  if (n < 0 || static_cast<std::uint64_t>(n) < s.min || static_cast<std::uint64_t>(n) > s.max) {
    throw py::value_error(what + ": expected an integer from " + std::to_string(s.min) + " to " + std::to_string(s.max) +
                          ", got " + std::to_string(n));
  }
  s.Set(config, static_cast<std::uint64_t>(n));
}

// engine.node_sites: the site map's text ("1-5:0, 6-10:1", site_map.h) or a dict {node: site}.
// Both are read by ParseSiteMap (a dict through its text), so they take the same values and are
// refused with the same sentences, prefixed with engine.node_sites. Whether the map suits the
// cluster (every node in it when relays_per_site > 0) is EngineConfig::Validate's, at Cluster().
std::map<NodeId, std::uint32_t> SiteMapFromPython(const py::handle& value) {
  const std::string what = "engine." + std::string(kSiteMapKey);
  std::string text;
  if (py::isinstance<py::str>(value)) {
    text = value.cast<std::string>();
  } else if (py::isinstance<py::dict>(value)) {
    for (auto [node, site] : py::reinterpret_borrow<py::dict>(value)) {
      if (!py::isinstance<py::int_>(node) || py::isinstance<py::bool_>(node) || !py::isinstance<py::int_>(site) ||
          py::isinstance<py::bool_>(site)) {
        throw py::type_error(what + ": expected integer nodes and sites, got " + py::repr(node).cast<std::string>() +
                             ": " + py::repr(site).cast<std::string>());
      }
      if (text.size() > kMaxSiteMapTextBytes) break;  // ParseSiteMap refuses it, naming the bound
      text += (text.empty() ? "" : ",") + py::str(node).cast<std::string>() + ":" + py::str(site).cast<std::string>();
    }
  } else {
    throw py::type_error(what + ": expected the site map's text (\"1-5:0, 6-10:1\") or a dict {node: site}, got " +
                         py::repr(value).cast<std::string>());
  }
  std::map<NodeId, std::uint32_t> sites;
  if (Status st = ParseSiteMap(text, &sites); !st.ok()) throw py::value_error(what + ": " + st.message());
  return sites;
}

}  // namespace

EngineConfig EngineArg(const py::handle& v) {
  EngineConfig config;
  if (v.is_none()) return config;
  if (!py::isinstance<py::dict>(v)) throw py::type_error("engine: expected a dict of engine settings or None");
  for (auto [key, value] : py::reinterpret_borrow<py::dict>(v)) {
    const std::string name = py::str(key).cast<std::string>();
    if (name == kSiteMapKey) {
      config.node_sites = SiteMapFromPython(value);
      continue;
    }
    const EngineSetting* s = FindEngineSettingByName(name);
    if (s == nullptr) throw py::value_error("engine: unknown setting '" + name + "'; expected one of " + SettingNames());
    SetFromPython(*s, value, &config);
  }
  return config;
}

py::list EngineSettingsTable() {
  const EngineConfig defaults;
  const EngineConfig permissive = PermissiveEngineConfig();
  py::list rows;
  for (const EngineSetting& s : EngineSettings()) {
    py::dict row;
    row["name"] = std::string(s.name);
    row["key"] = std::string(s.key);
    row["unit"] = std::string(SettingUnitName(s.unit));
    row["min"] = s.min;
    row["max"] = s.max;
    row["default"] = s.Get(defaults);
    row["permissive"] = s.Get(permissive);
    row["doc"] = std::string(s.doc);
    rows.append(row);
  }
  return rows;
}

void BindEngineSettings(py::module_& m) {
  m.def("engine_settings", &EngineSettingsTable,
        "The table of engine settings (engine/include/pbxstate/engine_settings.h): one dict per setting with\n"
        "name (the key of Cluster(engine={...})), key (pbxstated's), unit ('ms', 'count', 'bytes'), min, max,\n"
        "default and permissive (in the unit: milliseconds for durations, which Cluster takes in seconds) and doc.\n"
        "'permissive' is a configuration under which any one setting may take any value of its range.");
}

}  // namespace pbxstate::python
