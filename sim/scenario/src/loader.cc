// Loading a scenario: the YAML text into a tree, the tree through the Loader (loader_impl.h
// says which file reads which section), and the top level of the file.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "loader_impl.h"
#include "pbxstate/scenario/loader.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario {
namespace detail {

void Loader::Root(const Field& root) {
  MapReader m(root, d_, "a mapping of scenario keys (name, duration, cluster, ...)");
  if (!m.ok()) return;
  m.AllowOnly({"name", "description", "seed", "duration", "quiet", "cluster", "network",
               "transport", "engine", "workload", "calls", "faults", "checks"});
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
  if (auto f = m.Get("quiet")) {
    if (auto v = ReadDuration(*f, d_, 0ms, kMaxQuiet)) s_.quiet = *v;
  }
  if (auto f = m.Require("cluster", "a mapping with 'nodes' or 'sites'")) ReadCluster(*f);
  ReadNetwork(m.Get("network"));
  if (auto f = m.Get("transport")) {
    transport_field_ = *f;
    if (auto v = ReadEnum(*f, d_, {"broadcast", "multicast", "unicast"})) {
      s_.transport = static_cast<TransportMode>(*v);
    }
  }
  if (auto f = m.Get("engine")) ReadEngine(*f);
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

  if (d_.count() != 0) return;
  CheckEngine();
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

}  // namespace detail

namespace {

// Documents in a text, counted with yaml-cpp's event parser rather than YAML::LoadAll: on some
// inputs (", a": a flow separator at block level) LoadAll loops forever, allocating an empty
// document per turn without consuming input. Counting stops at two documents and notices a
// second document that starts where the first did.
struct DocumentCount {
  int count = 0;
  bool stuck = false;       // the parser made no progress between documents
  YAML::Mark second_mark;   // the second document's first node (or its start)
};

class DocumentCounter : public YAML::EventHandler {
 public:
  int documents = 0;
  YAML::Mark first_start, second_start, second_node;
  bool second_has_node = false;

  void OnDocumentStart(const YAML::Mark& mark) override {
    ++documents;
    if (documents == 1) first_start = mark;
    if (documents == 2) second_start = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnMapEnd() override {}

 private:
  void Node(const YAML::Mark& mark) {
    if (documents == 2 && !second_has_node) {
      second_node = mark;
      second_has_node = true;
    }
  }
};

// Throws YAML::Exception on a syntax error in the first two documents.
DocumentCount CountDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  while (counter.documents < 2 && parser.HandleNextDocument(counter)) {
  }
  DocumentCount c;
  c.count = counter.documents;
  if (c.count >= 2) {
    c.stuck = counter.second_start.pos == counter.first_start.pos;
    c.second_mark = counter.second_has_node && !c.stuck ? counter.second_node
                                                          : counter.second_start;
  }
  return c;
}

// The character at `mark` in `text`, for messages; "end of file" past the end.
std::string CharAt(const std::string& text, const YAML::Mark& mark) {
  if (mark.pos < 0 || static_cast<std::size_t>(mark.pos) >= text.size()) return "end of file";
  return std::string(1, text[static_cast<std::size_t>(mark.pos)]);
}

}  // namespace

LoadResult LoadScenarioString(std::string_view yaml, std::string file) {
  detail::Diagnostics diag(file);
  LoadResult result;
  const std::string text(yaml);
  DocumentCount docs;
  try {
    docs = CountDocuments(text);
  } catch (const YAML::Exception& e) {
    diag.Error(e.mark, "", "YAML syntax: " + e.msg);
    result.errors = diag.Take();
    return result;
  }
  if (docs.stuck) {
    diag.Error(docs.second_mark, "",
               "YAML syntax: unexpected '" + CharAt(text, docs.second_mark) +
                   "'; expected a key, a value or a comment");
  } else if (docs.count == 0) {
    diag.Error(YAML::Mark(), "",
               "empty scenario; expected a mapping with at least name, duration and cluster");
  } else if (docs.count > 1) {
    diag.Error(docs.second_mark, "", "expected one YAML document, found a second one here");
  } else {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      diag.Error(e.mark, "", "YAML syntax: " + e.msg);
      result.errors = diag.Take();
      return result;
    }
    if (root.IsNull()) {
      diag.Error(YAML::Mark(), "",
                 "empty scenario; expected a mapping with at least name, duration and cluster");
    } else {
      Scenario s;
      s.file = file;
      detail::Loader loader(diag, yaml, s);
      loader.Root(detail::Field{root, "", root.Mark()});
      if (diag.count() == 0) result.scenario = std::move(s);
    }
  }
  result.errors = diag.Take();
  return result;
}

LoadResult LoadScenarioFile(const std::filesystem::path& path) {
  std::error_code ec;
  // A directory opens as a stream on Linux and reads as empty; say what it is instead.
  const bool directory = std::filesystem::is_directory(path, ec);
  std::ifstream in;
  if (!directory) in.open(path, std::ios::binary);
  if (directory || !in) {
    LoadResult r;
    r.errors.push_back({path.string(), 0, 0, "",
                        directory ? "is a directory; expected a scenario file"
                                  : "cannot read the file; expected a readable scenario file"});
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return LoadScenarioString(text.str(), path.string());
}

}  // namespace pbxstate::scenario
