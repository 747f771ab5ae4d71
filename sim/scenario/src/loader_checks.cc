// checks: each check's text parsed (check.h), the backends it names when written as a mapping
// ({check: ..., backends: [...]}), and whether the scenario gives its metric any samples (a
// convergence metric needs its fault, a latency metric a workload that makes changes).
#include <algorithm>

#include "loader_impl.h"

namespace pbxstate::scenario::detail {
namespace {

// Maps a position inside a check's text to a column in the file, when the text can be found
// verbatim at the scalar's position (plain or quoted without escapes); otherwise the scalar's
// own column, which is still the right line.
int ColumnInScalar(std::string_view source, const Field& f, std::size_t offset) {
  const int line = f.mark.line;
  const int column = f.mark.column;
  if (line < 0 || column < 0) return column + 1;
  std::size_t start = 0;
  for (int l = 0; l < line; ++l) {
    start = source.find('\n', start);
    if (start == std::string_view::npos) return column + 1;
    ++start;
  }
  std::size_t end = source.find('\n', start);
  std::string_view text_line = source.substr(start, end == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : end - start);
  const std::string& value = f.node.Scalar();
  const auto col = static_cast<std::size_t>(column);
  if (col >= text_line.size()) return column + 1;
  std::size_t value_col = col;
  if (text_line[col] == '"' || text_line[col] == '\'') value_col = col + 1;
  if (text_line.substr(value_col, value.size()) != value) return column + 1;
  return static_cast<int>(value_col + offset) + 1;
}

// Whether a run of `calls` measures `metric` (a calls.<strategy>.* metric needs its strategy).
bool CallsMeasure(const Calls& calls, const std::string& metric) {
  auto has = [&](RoutingStrategy st) {
    return std::find(calls.strategies.begin(), calls.strategies.end(), st) !=
           calls.strategies.end();
  };
  if (metric == "calls.location.extra_hops_vs_blind_peer") {
    return has(RoutingStrategy::kLocation) && has(RoutingStrategy::kBlindPeer);
  }
  for (int i = 0; i < kRoutingStrategyCount; ++i) {
    const auto st = static_cast<RoutingStrategy>(i);
    if (metric.rfind("calls." + std::string(RoutingStrategyMetricName(st)) + ".", 0) == 0) {
      return has(st);
    }
  }
  return true;
}

}  // namespace

void Loader::ReadChecks(const Field& f) {
  auto items = ReadList(f, d_, "a list of checks, e.g. [\"lost == 0\"]", 0, 1000);
  if (!items) return;
  for (const Field& item : *items) {
    std::vector<std::string> backends;
    Field text_field = item;
    if (item.node.IsMap()) {
      auto text = ReadCheckWithBackends(item, &backends);
      if (!text) continue;
      text_field = *text;
    }
    auto text = ReadString(text_field, d_,
                           "a check '<metric> <op> <value>', e.g. 'lost == 0', or {check: '<metric> <op> <value>', "
                           "backends: [ns3, inproc]}");
    if (!text) continue;
    auto parsed = ParseCheck(*text);
    if (auto* err = std::get_if<CheckSyntaxError>(&parsed)) {
      YAML::Mark mark = text_field.mark;
      mark.column = ColumnInScalar(source_, text_field, err->offset) - 1;
      d_.Error(mark, text_field.path, err->message);
      continue;
    }
    Check check = std::get<Check>(std::move(parsed));
    check.line = text_field.mark.line + 1;
    check.column = text_field.mark.column + 1;
    check.backends = std::move(backends);
    s_.checks.push_back(std::move(check));
    check_fields_.push_back(text_field);
  }
}

std::optional<Field> Loader::ReadCheckWithBackends(const Field& item, std::vector<std::string>* backends) {
  MapReader m(item, d_);
  const bool keys_ok = m.AllowOnly({"check", "backends"});
  auto text = m.Require("check", "the check, '<metric> <op> <value>'");
  auto list_field = m.Require("backends", "the backends the check applies to, e.g. [ns3, inproc]");
  if (!list_field) return std::nullopt;
  auto list = ReadList(*list_field, d_, "a list of backends, e.g. [ns3, inproc]", 1, kBackendNames.size());
  if (!list) return std::nullopt;
  bool ok = keys_ok;
  for (const Field& b : *list) {
    const std::string name = b.node.IsScalar() ? b.node.Scalar() : std::string();
    const bool known = std::find(kBackendNames.begin(), kBackendNames.end(), name) != kBackendNames.end();
    if (!known) {
      d_.Error(b.mark, b.path, "expected a backend (" + BackendNameList() + "), got " + Describe(b.node));
      ok = false;
    } else if (std::find(backends->begin(), backends->end(), name) != backends->end()) {
      d_.Error(b.mark, b.path, "backend '" + name + "' is already listed; expected each backend once");
      ok = false;
    } else {
      backends->push_back(name);
    }
  }
  if (!ok || !text) return std::nullopt;
  return text;
}

void Loader::CheckChecks() {
  bool has[6] = {};  // indexed by ConvergenceAfter
  for (const Fault& f : s_.faults) {
    if (std::holds_alternative<Heal>(f.what)) has[int(ConvergenceAfter::kHeal)] = true;
    if (std::holds_alternative<Restart>(f.what)) has[int(ConvergenceAfter::kRestart)] = true;
    if (std::holds_alternative<Restore>(f.what)) has[int(ConvergenceAfter::kRestore)] = true;
    if (std::holds_alternative<Crash>(f.what)) has[int(ConvergenceAfter::kCrash)] = true;
  }
  has[int(ConvergenceAfter::kAnyFault)] = has[1] || has[2] || has[3] || has[4];
  static constexpr const char* kFaultName[] = {"", "heal", "restart", "restore", "crash",
                                               "heal, restart, restore or crash"};
  const Workload& w = s_.workload;
  const bool makes_changes = (w.rate_per_s > 0 && w.start < w.stop) || !w.changes.empty() ||
                             !w.bursts.empty();
  for (std::size_t i = 0; i < s_.checks.size(); ++i) {
    const Check& c = s_.checks[i];
    const MetricInfo* info = FindMetric(c.metric);
    const Field& f = check_fields_[i];
    const int need = static_cast<int>(info->needs);
    if (need != 0 && !has[need]) {
      d_.Error(f.mark, f.path,
               c.metric + " has no samples: expected a " + kFaultName[need] +
                   " fault in this scenario");
    } else if (!makes_changes &&
               (c.metric.rfind("delivery_latency.", 0) == 0 ||
                c.metric.rfind("stable_latency.", 0) == 0 || c.metric == "messages_per_change" ||
                c.metric == "bytes_per_change" || c.metric == "wan_frames_per_change")) {
      d_.Error(f.mark, f.path,
               c.metric + " has no samples: expected a workload that makes changes (rate, "
                          "bursts or changes)");
    } else if (c.metric == kMemoryGrowthMetric && !s_.memory) {
      d_.Error(f.mark, f.path, c.metric + " has no samples: expected a memory section (memory: {baseline: ...})");
    } else if (c.metric.rfind("calls.", 0) == 0 && !s_.calls) {
      d_.Error(f.mark, f.path, c.metric + " has no samples: expected a calls section");
    } else if (s_.calls && !CallsMeasure(*s_.calls, c.metric)) {
      d_.Error(f.mark, f.path,
               c.metric + " has no samples: calls.strategies does not list its strategy");
    } else if (node_count_ < 2 && (c.metric.rfind("delivery_latency.", 0) == 0 ||
                                   c.metric.rfind("stable_latency.", 0) == 0)) {
      d_.Error(f.mark, f.path, c.metric + " has no samples: expected at least two nodes");
    }
  }
}

}  // namespace pbxstate::scenario::detail
