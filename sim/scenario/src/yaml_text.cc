#include "yaml_text.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include <yaml-cpp/eventhandler.h>

#include "utf8.h"

namespace pbxstate::scenario::detail {
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

// The path of the scalar (a key or a value) holding the byte at `offset`: of the scalars whose
// text is not UTF-8, the last one starting at or before it. Empty when there is none. Each node
// is visited once (aliases repeat nodes, and "billion laughs" files repeat them exponentially),
// and at most kMaxVisits nodes are looked at.
std::string PathHolding(const YAML::Node& root, std::size_t offset) {
  constexpr std::size_t kMaxVisits = 1'000'000;
  std::string best;
  int best_pos = -1;
  auto consider = [&](const YAML::Node& n, const std::string& path) {
    const int pos = n.Mark().pos;
    if (n.IsScalar() && pos >= 0 && static_cast<std::size_t>(pos) <= offset && pos > best_pos &&
        FindInvalidUtf8(n.Scalar())) {
      best = path;
      best_pos = pos;
    }
  };
  std::vector<std::pair<YAML::Node, std::string>> stack{{root, ""}};
  std::set<int> visited;  // positions of the collections seen: one node per position
  std::size_t visits = 0;
  while (!stack.empty() && visits++ < kMaxVisits) {
    auto [node, path] = std::move(stack.back());
    stack.pop_back();
    consider(node, path);
    if (!node.IsMap() && !node.IsSequence()) continue;
    if (!visited.insert(node.Mark().pos).second) continue;
    std::size_t index = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++index) {
      if (node.IsSequence()) {
        stack.emplace_back(*it, path + "[" + std::to_string(index) + "]");
        continue;
      }
      const YAML::Node key = it->first;
      const std::string key_path =
          JoinPath(path, key.IsScalar() ? PrintableText(key.Scalar()) : "?");
      consider(key, key_path);
      stack.emplace_back(it->second, key_path);
    }
  }
  return best;
}

}  // namespace

bool CheckUtf8(const std::string& text, Diagnostics& diag) {
  const std::optional<std::size_t> bad = FindInvalidUtf8(text);
  if (!bad) return true;
  YAML::Mark mark;  // 0-based, columns in bytes as yaml-cpp counts them
  mark.pos = static_cast<int>(*bad);
  mark.line = static_cast<int>(std::count(text.begin(), text.begin() + mark.pos, '\n'));
  const std::size_t newline = text.rfind('\n', *bad);  // text[*bad] is not '\n'
  mark.column = static_cast<int>(newline == std::string::npos ? *bad : *bad - newline - 1);
  // The tree only to name the field: its own errors are not this file's first problem.
  Diagnostics ignored(diag.file());
  std::string path;
  if (std::optional<YAML::Node> root = ParseOneDocument(text, ignored)) {
    path = PathHolding(*root, *bad);
  }
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[*bad]));
  diag.Error(mark, path,
             std::string("expected UTF-8 text, got the byte ") + byte +
                 ", which is not part of a UTF-8 character (save the file as UTF-8)");
  return false;
}

std::optional<YAML::Node> ParseOneDocument(const std::string& text, Diagnostics& diag) {
  DocumentCount docs;
  try {
    docs = CountDocuments(text);
  } catch (const YAML::Exception& e) {
    diag.Error(e.mark, "", "YAML syntax: " + e.msg);
    return std::nullopt;
  }
  if (docs.stuck) {
    diag.Error(docs.second_mark, "",
               "YAML syntax: unexpected '" + CharAt(text, docs.second_mark) +
                   "'; expected a key, a value or a comment");
    return std::nullopt;
  }
  if (docs.count > 1) {
    diag.Error(docs.second_mark, "", "expected one YAML document, found a second one here");
    return std::nullopt;
  }
  YAML::Node root;
  if (docs.count == 1) {
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      diag.Error(e.mark, "", "YAML syntax: " + e.msg);
      return std::nullopt;
    }
  }
  if (docs.count == 0 || root.IsNull()) {
    diag.Error(YAML::Mark(), "",
               "empty scenario; expected a mapping with at least name, duration and cluster");
    return std::nullopt;
  }
  return root;
}

}  // namespace pbxstate::scenario::detail
