// Loading a scenario: the file (bounded, text_file.h), its text (UTF-8, one YAML document:
// yaml_text.h), the tree through the Loader (loader_impl.h says which file reads which
// section), and the top level of the file.
#include <algorithm>
#include <cctype>

#include <yaml-cpp/yaml.h>

#include "loader_impl.h"
#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/text_file.h"
#include "pbxstate/scenario/units.h"
#include "utf8.h"
#include "yaml_text.h"

namespace pbxstate::scenario {
namespace detail {

void Loader::Root(const Field& root) {
  MapReader m(root, d_, "a mapping of scenario keys (name, duration, cluster, ...)");
  if (!m.ok()) return;
  m.AllowOnly({"name", "description", "seed", "duration", "quiet", "cluster", "network",
               "transport", "engine", "corosync", "workload", "calls", "faults", "checks", "memory"});
  ReadName(m);
  if (auto f = m.Get("description")) {
    if (auto v = ReadString(*f, d_, "a text")) s_.description = *v;
  }
  if (auto f = m.Get("seed")) {
    if (auto v = ReadUint(*f, d_, 0, UINT64_MAX)) s_.seed = *v;
  }
  if (auto v = m.RequireDuration("duration", "the length of the active phase, e.g. 30s", 1ms,
                                 kMaxDuration)) {
    s_.duration = *v;
    duration_ok_ = true;
  }
  if (auto f = m.Get("quiet")) ReadQuiet(*f);
  if (auto f = m.Require("cluster", "a mapping with 'nodes' or 'sites'")) ReadCluster(*f);
  ReadNetwork(m.Get("network"));
  if (auto f = m.Get("transport")) {
    transport_field_ = *f;
    if (auto v = ReadEnum(*f, d_, {"broadcast", "multicast", "unicast"})) {
      s_.transport = static_cast<TransportMode>(*v);
    }
  }
  if (auto f = m.Get("engine")) ReadEngine(*f);
  if (auto f = m.Get("corosync")) ReadCorosync(*f);
  if (auto f = m.Get("workload")) {
    ReadWorkload(*f);
  } else {
    s_.workload.stop = s_.duration;
  }
  if (s_.workload.nodes.empty() && cluster_ok_) {
    for (NodeId n = 1; n <= node_count_; ++n) s_.workload.nodes.push_back(n);
  }
  if (auto f = m.Get("calls")) ReadCalls(*f);
  if (auto f = m.Get("faults")) ReadFaults(*f);
  if (auto f = m.Get("checks")) ReadChecks(*f);
  if (auto f = m.Get("memory")) ReadMemory(*f);

  if (d_.count() != 0) return;
  CheckEngine();
  CheckCorosync();
  CheckNs3Membership();
  CheckTransport();
  CheckWorkload();
  CheckChurn();
  CheckCalls();
  CheckTimeline();
  CheckChecks();
}

void Loader::ReadName(MapReader& m) {
  auto f = m.Require("name", "a scenario name");
  if (!f) return;
  auto v = ReadString(*f, d_, "a name");
  if (!v) return;
  const bool good =
      !v->empty() && v->size() <= 64 && std::isalnum(static_cast<unsigned char>((*v)[0])) &&
      std::all_of(v->begin(), v->end(), [](char c) { return IsNameChar(c, true); });
  if (good) {
    s_.name = *v;
  } else {
    d_.Error(f->mark, f->path,
             "expected a name of 1 to 64 letters, digits, '.', '_' or '-' starting with a "
             "letter or digit, got " + Describe(f->node));
  }
}

void Loader::ReadQuiet(const Field& f) {
  const bool relative = f.node.IsScalar() && f.node.Scalar().find("detection") != std::string::npos;
  if (!relative) {
    if (auto v = ReadDuration(f, d_, 0ms, kMaxQuiet)) s_.quiet = DetectionRelative{*v};
    return;
  }
  auto parsed = ParseDetectionRelative(f.node.Scalar());
  if (const auto* err = std::get_if<DetectionRelativeError>(&parsed)) {
    d_.Error(f.mark, f.path, err->message);
    return;
  }
  const DetectionRelative q = std::get<DetectionRelative>(parsed);
  if (q.constant > kMaxQuiet) {
    d_.Error(f.mark, f.path,
             "expected a duration from 0ms to " + FormatDuration(kMaxQuiet) + " after 'detection +', got " +
                 FormatDuration(q.constant));
    return;
  }
  s_.quiet = q;
}

// memory: {sample_every, baseline}: whole seconds (runners sample between simulated seconds), the
// baseline a sample instant within the active phase, and at most kMaxMemorySamplesPerNode.
void Loader::ReadMemory(const Field& f) {
  MapReader m(f, d_, "a mapping with 'baseline' and optionally 'sample_every'");
  if (!m.ok() || !m.AllowOnly({"sample_every", "baseline"})) return;
  MemorySampling mem;
  mem.pos = PosOf(f);
  if (!m.ReadIfPresent("sample_every", mem.sample_every, DurationIn(d_, 1s, kMaxDuration))) return;
  if (mem.sample_every % 1s != Duration{}) {
    d_.Error(m.Get("sample_every")->mark, m.Get("sample_every")->path,
             "expected whole seconds, got " + FormatDuration(mem.sample_every));
    return;
  }
  auto base = m.RequireDuration("baseline", "the instant growth is measured from, e.g. 1h", 0ms, kMaxDuration);
  if (!base) return;
  mem.baseline = *base;
  const Field bf = *m.Get("baseline");
  if (mem.baseline < mem.sample_every) {
    // The runners take the first sample at sample_every, none at time 0: a baseline before it
    // would leave the growth unmeasured, and its check failed as such.
    d_.Error(bf.mark, bf.path,
             "expected at least sample_every (" + FormatDuration(mem.sample_every) +
                 "): the first sample is taken then, got " + FormatDuration(mem.baseline));
    return;
  }
  if (mem.baseline % mem.sample_every != Duration{} || (duration_ok_ && mem.baseline > s_.duration)) {
    d_.Error(bf.mark, bf.path,
             "expected a multiple of sample_every (" + FormatDuration(mem.sample_every) +
                 ") within duration, got " + FormatDuration(mem.baseline));
    return;
  }
  if (duration_ok_ && (s_.duration + kMaxQuiet) / mem.sample_every > kMaxMemorySamplesPerNode) {
    d_.Error(f.mark, f.path,
             "expected at most " + std::to_string(kMaxMemorySamplesPerNode) +
                 " samples per node (duration + quiet over sample_every): a longer sample_every");
    return;
  }
  s_.memory = mem;
}

}  // namespace detail

LoadResult LoadScenarioString(std::string_view yaml, std::string file) {
  LoadResult result;
  if (auto bad = detail::FindInvalidUtf8(file)) {
    // The name goes into run.json and the pages, which are UTF-8.
    result.errors.push_back({detail::PrintableText(file), 0, 0, "",
                             "the file name is not UTF-8 (byte " + std::to_string(*bad + 1) +
                                 "); expected a UTF-8 file name"});
    return result;
  }
  detail::Diagnostics diag(file);
  const std::string text(yaml);
  if (detail::CheckUtf8(text, diag)) {
    if (std::optional<YAML::Node> root = detail::ParseOneDocument(text, diag)) {
      Scenario s;
      s.file = file;
      detail::Loader loader(diag, yaml, s);
      loader.Root(detail::Field{*root, "", root->Mark()});
      if (diag.count() == 0) result.scenario = std::move(s);
    }
  }
  result.errors = diag.Take();
  return result;
}

LoadResult LoadScenarioFile(const std::filesystem::path& path) {
  std::string text;
  const std::optional<FileProblem> problem = ReadBoundedFile(path, kMaxScenarioBytes, &text);
  if (!problem) return LoadScenarioString(text, path.string());
  std::string message;
  switch (problem->kind) {
    case FileProblem::Kind::kUnreadable:
      message = "cannot read the file; expected a readable scenario file";
      break;
    case FileProblem::Kind::kDirectory:
      message = "is a directory; expected a scenario file";
      break;
    case FileProblem::Kind::kNotRegular:
      message = problem->what + "; expected a scenario file (a regular file)";
      break;
    case FileProblem::Kind::kTooLarge:
      message = problem->what + "; expected a scenario file of at most " +
                std::to_string(kMaxScenarioBytes) + " bytes (16 MiB)";
      break;
  }
  LoadResult r;
  r.errors.push_back({detail::PrintableText(path.string()), 0, 0, "", message});
  return r;
}

}  // namespace pbxstate::scenario
