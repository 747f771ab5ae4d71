#include "pbxstate/gate/baseline.h"

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "pbxstate/scenario/text_file.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::gate {
namespace {

// A load failure: where (from a yaml-cpp mark) and which field.
struct LoadFailure {
  YAML::Mark mark;
  std::string field;
  std::string message;
};

std::string Where(const std::filesystem::path& path, const YAML::Mark& mark) {
  if (mark.line < 0) return path.string();
  return path.string() + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string TrimZeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// Whole nanoseconds in the largest unit among s, ms and us that keeps a digit before the point.
std::string FormatDurationValue(double ns_value) {
  if (IsInterrupted(ns_value)) return "interrupted";
  if (std::isinf(ns_value)) return "never";
  const long long ns = std::llround(ns_value);
  assert(ns >= 0);
  if (ns == 0) return "0ms";
  char buf[48];
  if (ns >= 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%lld.%09lld", ns / 1'000'000'000, ns % 1'000'000'000);
    return TrimZeros(buf) + "s";
  }
  if (ns >= 1'000'000) {
    std::snprintf(buf, sizeof buf, "%lld.%06lld", ns / 1'000'000, ns % 1'000'000);
    return TrimZeros(buf) + "ms";
  }
  std::snprintf(buf, sizeof buf, "%lld.%03lld", ns / 1'000, ns % 1'000);
  return TrimZeros(buf) + "us";
}

std::string FormatPercent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", fraction * 100);
  return TrimZeros(buf) + "%";
}

std::string Scalar(const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) throw LoadFailure{n.Mark(), field, "expected a scalar"};
  return n.Scalar();
}

double ParseValue(const YAML::Node& n, GateUnit unit, const std::string& field) {
  const std::string text = Scalar(n, field);
  if (unit == GateUnit::kDuration) {
    if (text == "never") return kNever;
    if (text == "interrupted") return kInterrupted;
    auto d = scenario::ParseDuration(text);
    if (!d) {
      throw LoadFailure{n.Mark(), field,
                        "expected a duration with a unit (\"12.5ms\"), never or interrupted, found \"" + text + "\""};
    }
    return static_cast<double>(d->count());
  }
  auto v = scenario::ParseDecimal(text);
  if (!v) throw LoadFailure{n.Mark(), field, "expected a non-negative decimal number, found \"" + text + "\""};
  if (unit == GateUnit::kCount && *v != std::floor(*v)) {
    throw LoadFailure{n.Mark(), field, "expected a whole number, found \"" + text + "\""};
  }
  return *v;
}

// The unit a metric is written in, from its name (baseline files do not repeat it).
std::optional<GateUnit> UnitOf(const std::string& name) {
  if (name.starts_with("convergence.") || name.starts_with("delivery_latency.") || name.starts_with("stable_latency.")) {
    return GateUnit::kDuration;
  }
  if (name == "messages_per_change" || name == "bytes_per_change") return GateUnit::kNumber;
  if (name == "lost" || name == "stale") return GateUnit::kCount;
  for (const char* st : {"calls.blind_peer.", "calls.location."}) {
    if (!name.starts_with(st)) continue;
    const std::string rest = name.substr(std::string(st).size());
    if (rest == "incomplete_ratio" || rest == "extra_hops.mean") return GateUnit::kNumber;
    if (rest == "looped") return GateUnit::kCount;
  }
  return std::nullopt;
}

std::uint64_t ParseSeed(const YAML::Node& n, const std::string& field) {
  const std::string seed = Scalar(n, field);
  if (seed.empty() || seed.find_first_not_of("0123456789") != std::string::npos || seed.size() > 19) {
    throw LoadFailure{n.Mark(), field, "expected a whole number"};
  }
  return std::stoull(seed);
}

// `seed: N` or `seeds: [N, ...]` (one of them): 1 to kMaxBaselineSeeds distinct seeds.
std::vector<std::uint64_t> ParseSeeds(const YAML::Node& root) {
  if (root["seed"] && root["seeds"]) throw LoadFailure{root["seeds"].Mark(), "seeds", "give seed or seeds, not both"};
  if (root["seed"]) return {ParseSeed(root["seed"], "seed")};
  const YAML::Node list = root["seeds"];
  if (!list) throw LoadFailure{root.Mark(), "seeds", "missing"};
  if (!list.IsSequence() || list.size() == 0) throw LoadFailure{list.Mark(), "seeds", "expected a list of seeds ([1, 2, 3])"};
  if (list.size() > kMaxBaselineSeeds) {
    throw LoadFailure{list.Mark(), "seeds", "more than " + std::to_string(kMaxBaselineSeeds) + " seeds"};
  }
  std::vector<std::uint64_t> seeds;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string field = "seeds[" + std::to_string(i) + "]";
    const std::uint64_t s = ParseSeed(list[i], field);
    if (std::find(seeds.begin(), seeds.end(), s) != seeds.end()) throw LoadFailure{list[i].Mark(), field, "given twice"};
    seeds.push_back(s);
  }
  return seeds;
}

Baseline Parse(const YAML::Node& root) {
  if (!root.IsMap()) throw LoadFailure{root.Mark(), "(top level)", "expected a mapping"};
  static const std::map<std::string, bool> kKeys = {
      {"format", true}, {"scenario", true}, {"file", true}, {"seed", false}, {"seeds", false},
      {"backend", true}, {"metrics", true}};
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (!kKeys.contains(key)) throw LoadFailure{kv.first.Mark(), key, "unknown field"};
  }
  for (const auto& [key, required] : kKeys) {
    if (required && !root[key]) throw LoadFailure{root.Mark(), key, "missing"};
  }
  if (Scalar(root["format"], "format") != kBaselineFormat) {
    throw LoadFailure{root["format"].Mark(), "format", "expected " + std::string(kBaselineFormat)};
  }
  Baseline b;
  b.scenario = Scalar(root["scenario"], "scenario");
  b.file = Scalar(root["file"], "file");
  b.backend = Scalar(root["backend"], "backend");
  b.seeds = ParseSeeds(root);
  const YAML::Node metrics = root["metrics"];
  if (!metrics.IsMap()) throw LoadFailure{metrics.Mark(), "metrics", "expected a mapping of metric names"};
  for (const auto& kv : metrics) {
    const std::string name = kv.first.Scalar();
    const std::string field = "metrics." + name;
    if (b.entries.size() >= kMaxBaselineMetrics) {
      throw LoadFailure{kv.first.Mark(), field, "more than " + std::to_string(kMaxBaselineMetrics) + " metrics"};
    }
    const std::optional<GateUnit> unit = UnitOf(name);
    if (!unit) throw LoadFailure{kv.first.Mark(), field, "not a gated metric"};
    for (const auto& e : b.entries) {
      if (e.metric.name == name) throw LoadFailure{kv.first.Mark(), field, "given twice"};
    }
    const YAML::Node& m = kv.second;
    if (!m.IsMap()) throw LoadFailure{m.Mark(), field, "expected {value: ..., tolerance: ...}"};
    for (const auto& f : m) {
      const std::string k = f.first.Scalar();
      if (k != "value" && k != "tolerance" && k != "floor") {
        throw LoadFailure{f.first.Mark(), field + "." + k, "unknown field (value, tolerance, floor)"};
      }
    }
    if (!m["value"]) throw LoadFailure{m.Mark(), field + ".value", "missing"};
    if (!m["tolerance"]) throw LoadFailure{m.Mark(), field + ".tolerance", "missing"};
    BaselineEntry e;
    e.metric.name = name;
    e.metric.unit = *unit;
    e.metric.value = ParseValue(m["value"], *unit, field + ".value");
    const std::string tol = Scalar(m["tolerance"], field + ".tolerance");
    const auto rel = scenario::ParsePercent(tol);
    if (!rel) throw LoadFailure{m["tolerance"].Mark(), field + ".tolerance", "expected a percentage (\"1%\"), found \"" + tol + "\""};
    e.tolerance.relative = *rel;
    if (m["floor"]) {
      e.tolerance.floor = ParseValue(m["floor"], *unit, field + ".floor");
      if (std::isinf(e.tolerance.floor)) throw LoadFailure{m["floor"].Mark(), field + ".floor", "must be finite"};
    }
    e.line = kv.first.Mark().line + 1;
    b.entries.push_back(std::move(e));
  }
  return b;
}

}  // namespace

Tolerance DefaultTolerance(const GateMetric& metric) {
  switch (metric.unit) {
    case GateUnit::kDuration: return Tolerance{0.01, 1e6};
    case GateUnit::kNumber: return Tolerance{0.01, 0};
    case GateUnit::kCount: return Tolerance{0, 0};
  }
  return Tolerance{};
}

std::filesystem::path BaselinePath(const std::filesystem::path& dir, const std::string& scenario_name) {
  return dir / (scenario_name + ".yaml");
}

std::string FormatGateValue(GateUnit unit, double value) {
  switch (unit) {
    case GateUnit::kDuration: return FormatDurationValue(value);
    case GateUnit::kCount: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.0f", value);
      return buf;
    }
    case GateUnit::kNumber: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6f", value);
      return TrimZeros(buf);
    }
  }
  return "?";
}

bool LoadBaseline(const std::filesystem::path& path, Baseline* out, std::string* error) {
  // Only a regular file, never more than the bound read (a FIFO would block, /dev/zero not end).
  std::string text;
  if (auto problem = scenario::ReadBoundedFile(path, kMaxBaselineBytes, &text)) {
    using Kind = scenario::FileProblem::Kind;
    *error = path.string() + ": " + problem->what;
    if (problem->kind == Kind::kTooLarge) {
      *error += ", larger than the " + std::to_string(kMaxBaselineBytes) + " bytes a baseline file may hold";
    } else {
      *error += problem->kind == Kind::kNotRegular ? "; expected a baseline file (a regular file)"
                                                   : "; expected a baseline file";
    }
    return false;
  }
  try {
    *out = Parse(YAML::Load(text));
  } catch (const LoadFailure& f) {
    *error = Where(path, f.mark) + ": " + f.field + ": " + f.message;
    return false;
  } catch (const YAML::Exception& e) {
    *error = Where(path, e.mark) + ": not valid YAML: " + e.msg;
    return false;
  }
  return true;
}

std::string FormatBaseline(const Baseline& b) {
  std::string s;
  s += "# pbxstate baseline for scenario " + b.scenario + ", written by `pbxstate baseline update`.\n";
  s += "# A metric fails the gate (`pbxstate check`) when its median over the runs (one per seed)\n";
  s += "# exceeds value + max(value * tolerance, floor). Updates keep seeds, tolerance and floor.\n";
  s += "format: " + std::string(kBaselineFormat) + "\n";
  s += "scenario: " + b.scenario + "\n";
  s += "file: " + b.file + "\n";
  if (b.seeds.size() == 1) {
    s += "seed: " + std::to_string(b.seeds[0]) + "\n";
  } else {
    s += "seeds: [";
    for (std::size_t i = 0; i < b.seeds.size(); ++i) s += (i ? ", " : "") + std::to_string(b.seeds[i]);
    s += "]\n";
  }
  s += "backend: " + b.backend + "\n";
  s += "metrics:\n";
  for (const BaselineEntry& e : b.entries) {
    std::string line = "  " + e.metric.name + ": {value: " + FormatGateValue(e.metric.unit, e.metric.value) +
                       ", tolerance: " + FormatPercent(e.tolerance.relative);
    if (e.tolerance.floor != 0) line += ", floor: " + FormatGateValue(e.metric.unit, e.tolerance.floor);
    line += "}";
    if (!e.metric.note.empty()) line += "  # " + e.metric.note;
    s += line + "\n";
  }
  return s;
}

Baseline MakeBaseline(const scenario::Scenario& s, const std::string& scenario_file, const std::string& backend,
                      const std::vector<std::uint64_t>& seeds, const std::vector<GateMetric>& metrics,
                      const Baseline* previous) {
  Baseline b;
  b.scenario = s.name;
  b.file = scenario_file;
  b.seeds = seeds;
  b.backend = backend;
  for (const GateMetric& m : metrics) {
    BaselineEntry e;
    e.metric = m;
    e.tolerance = DefaultTolerance(m);
    if (previous != nullptr) {
      for (const BaselineEntry& p : previous->entries) {
        if (p.metric.name == m.name) e.tolerance = p.tolerance;
      }
    }
    b.entries.push_back(std::move(e));
  }
  return b;
}

}  // namespace pbxstate::gate
