// Values several sections use: node numbers, node sets, times within the scenario, key names,
// device states, and the small character classes behind them.
#include <algorithm>
#include <cctype>

#include "loader_impl.h"
#include "pbxstate/scenario/units.h"
#include "utf8.h"

namespace pbxstate::scenario::detail {
namespace {

// Asterisk's names, indexed by the enum's (Asterisk's) numeric value. Kept here rather than
// calling pbxstate::ParseDeviceState so that the scenario library needs only engine headers.
constexpr std::string_view kDeviceStateNames[kDeviceStateCount] = {
    "UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE",
    "ONHOLD"};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

SourcePos PosOf(const Field& f) { return {f.mark.line + 1, f.mark.column + 1}; }

bool IsPlainUint(const YAML::Node& n, std::uint64_t* out) {
  if (!n.IsScalar() || n.Tag() != "?") return false;
  const std::string& s = n.Scalar();
  if (s.empty() || s.size() > 9) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

bool IsNameChar(char c, bool allow_dot) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
         (allow_dot && c == '.');
}

KeyTextFault FindKeyTextFault(std::string_view s) {
  if (s.empty()) return {KeyTextFault::Kind::kEmpty};
  // The file is valid UTF-8 (LoadScenarioString refuses anything else), so s decodes.
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t at = i;
    const char32_t c = DecodeUtf8(s, i);
    if (IsControlCharacter(c)) return {KeyTextFault::Kind::kControl, c, at};
    if (IsSpaceCharacter(c)) return {KeyTextFault::Kind::kSpace, c, at};
  }
  return {};
}

std::optional<DeviceState> ParseDeviceStateName(const YAML::Node& n) {
  if (!n.IsScalar()) return std::nullopt;
  for (int i = 0; i < kDeviceStateCount; ++i) {
    if (EqualsIgnoreCase(n.Scalar(), kDeviceStateNames[i])) return static_cast<DeviceState>(i);
  }
  return std::nullopt;
}

std::optional<NodeId> Loader::ReadNode(const Field& f) {
  const std::uint64_t hi = cluster_ok_ ? node_count_ : kMaxNodes;
  std::uint64_t v = 0;
  const bool is_number = IsPlainUint(f.node, &v);
  if (!is_number || v < 1 || v > hi) {
    std::string expected = "expected a node number from 1 to " + std::to_string(hi);
    if (cluster_ok_) {
      expected += " (the cluster has " + std::to_string(node_count_) + " node" +
                  (node_count_ == 1 ? "" : "s") + ")";
    }
    d_.Error(f.mark, f.path,
             expected + ", got " + (is_number ? f.node.Scalar() : DescribeQuantity(f.node)));
    return std::nullopt;
  }
  return static_cast<NodeId>(v);
}

std::optional<std::vector<NodeId>> Loader::ReadNodeSetItem(const Field& item, std::uint64_t hi) {
  const Topology& t = s_.topology;
  std::vector<NodeId> these;
  std::uint64_t v = 0;
  bool good = false;
  if (IsPlainUint(item.node, &v)) {
    good = v >= 1 && v <= hi;
    if (good) these.push_back(static_cast<NodeId>(v));
  } else if (item.node.IsScalar()) {
    const std::string& s = item.node.Scalar();
    const auto dots = s.find("..");
    if (dots != std::string::npos) {
      YAML::Node lo_node(s.substr(0, dots)), hi_node(s.substr(dots + 2));
      lo_node.SetTag("?");
      hi_node.SetTag("?");
      std::uint64_t lo = 0, up = 0;
      good = IsPlainUint(lo_node, &lo) && IsPlainUint(hi_node, &up) && lo >= 1 && lo <= up &&
             up <= hi;
      if (good) {
        for (std::uint64_t n = lo; n <= up; ++n) these.push_back(static_cast<NodeId>(n));
      }
    } else if (auto site = t.FindSite(s); site && cluster_ok_) {
      good = true;
      for (NodeId n = 0; n < t.sites[*site].node_count; ++n) {
        these.push_back(t.sites[*site].first_node + n);
      }
    }
  }
  if (good) return these;
  std::string expected = "expected a node number from 1 to " + std::to_string(hi) +
                         (t.named_sites ? ", a range like '1..3' or a site name"
                                        : " or a range like '1..3'");
  const bool number = IsPlainUint(item.node, &v);
  d_.Error(item.mark, item.path,
           expected + ", got " + (number ? item.node.Scalar() : Describe(item.node)));
  return std::nullopt;
}

std::optional<std::vector<NodeId>> Loader::ReadNodeSet(const Field& f, std::string_view what,
                                                       std::map<NodeId, std::string>* taken) {
  auto items = ReadList(f, d_, what, 1, kMaxNodes);
  if (!items) return std::nullopt;
  const std::uint64_t hi = cluster_ok_ ? node_count_ : kMaxNodes;
  std::vector<NodeId> nodes;
  std::map<NodeId, std::string> local;
  std::map<NodeId, std::string>& used = taken ? *taken : local;
  bool ok = true;
  for (const Field& item : *items) {
    auto these = ReadNodeSetItem(item, hi);
    if (!these) {
      ok = false;
      continue;
    }
    for (NodeId n : *these) {
      if (auto it = used.find(n); it != used.end()) {
        d_.Error(item.mark, item.path,
                 "node " + std::to_string(n) + " is already listed at " + it->second +
                     "; expected each node once");
        ok = false;
        break;
      }
      used[n] = item.path;
      nodes.push_back(n);
    }
  }
  if (!ok) return std::nullopt;
  return nodes;
}

std::optional<Duration> Loader::ReadTime(const Field& f) {
  auto v = ReadDuration(f, d_, 0ms, kMaxDuration);
  if (!v) return std::nullopt;
  if (duration_ok_ && *v > s_.duration) {
    d_.Error(f.mark, f.path,
             "expected a time within the scenario's duration (0ms to " +
                 FormatDuration(s_.duration) + "), got " + f.node.Scalar());
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> Loader::ReadKey(const Field& f, std::string_view what) {
  auto v = ReadString(f, d_, what);
  if (!v) return std::nullopt;
  if (!CheckKeyText(f, *v, what)) return std::nullopt;
  key_uses_.push_back({f, v->size(), std::string(what)});
  return v;
}

bool Loader::CheckKeyText(const Field& f, std::string_view text, std::string_view what) {
  const KeyTextFault fault = FindKeyTextFault(text);
  const std::string expected = "expected " + std::string(what);
  const std::string where = " at byte " + std::to_string(fault.byte + 1);
  switch (fault.kind) {
    case KeyTextFault::Kind::kNone:
      return true;
    case KeyTextFault::Kind::kEmpty:
      d_.Error(f.mark, f.path, expected + ", got an empty text");
      return false;
    case KeyTextFault::Kind::kSpace:
      d_.Error(f.mark, f.path,
               expected + " without spaces, got " + Describe(f.node) +
                   (fault.character == ' '
                        ? ""
                        : " (" + CodePointName(fault.character) + where + " is a space)"));
      return false;
    case KeyTextFault::Kind::kControl:
      d_.Error(f.mark, f.path,
               expected + " without control characters, got " + Describe(f.node) + " (" +
                   CodePointName(fault.character) + where + ")");
      return false;
  }
  return false;
}

}  // namespace pbxstate::scenario::detail
