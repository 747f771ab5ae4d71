#include "pbxstate/scenario/check.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <span>
#include <utility>

#include "pbxstate/scenario/detection.h"
#include "pbxstate/scenario/units.h"
#include "reader.h"

namespace pbxstate::scenario {
namespace {

struct Statistic {
  const char* suffix;
  const char* meaning;
};
constexpr std::array<Statistic, 6> kStatistics{{
    {"min", "smallest sample (quantile 0)"},
    {"p50", "median"},
    {"p95", "95th percentile"},
    {"p99", "99th percentile"},
    {"max", "largest sample (quantile 1)"},
    {"mean", "arithmetic mean"},
}};

// "ns3, inproc": backend names for messages and meanings.
using detail::Join;

std::vector<std::string_view> InProcess() { return {kInProcessBackends.begin(), kInProcessBackends.end()}; }

void AddFamily(std::vector<MetricInfo>& out, const std::string& family, const std::string& what,
               ConvergenceAfter needs) {
  for (const Statistic& s : kStatistics) {
    out.push_back({family + "." + s.suffix, MetricKind::kDuration, what + ": " + s.meaning, needs});
  }
}

// The oracle's verdict and the run's cost.
void AddOracleAndCost(std::vector<MetricInfo>& m) {
  m.push_back({"lost", MetricKind::kCount,
               "(entry, node) pairs where a live node shows nothing at the end for an entry the oracle "
               "says it must show"});
  m.push_back({"stale", MetricKind::kCount,
               "(entry, node) pairs where a live node shows a value the oracle does not accept at the "
               "end (older, of an ended incarnation, from a node it must not count), plus wrong "
               "aggregates, wrong members and engine self-contradictions"});
  m.push_back({"changes", MetricKind::kCount, "local changes made in the run (all nodes)"});
  m.push_back({"messages_per_change", MetricKind::kNumber,
               "frames put on the network divided by local changes (a unicast fan-out counts "
               "every copy)"});
  m.push_back({"bytes_per_change", MetricKind::kNumber,
               "bytes put on the network divided by local changes"});
  m.push_back({"wan_frames_per_change", MetricKind::kNumber,
               "of those frames, the ones addressed to a node of another site (crossing the WAN), "
               "divided by local changes; two sites or more",
               ConvergenceAfter::kNone, {kSiteCountingBackends.begin(), kSiteCountingBackends.end()}});
}

// Latencies of changes, and convergence after each kind of fault end.
void AddLatencyAndConvergence(std::vector<MetricInfo>& m) {
  AddFamily(m, "delivery_latency",
            "change at its origin to its application at one other node, over all (change, node) "
            "pairs",
            ConvergenceAfter::kNone);
  AddFamily(m, "stable_latency",
            "change at its origin to the moment every node that should see it does",
            ConvergenceAfter::kNone);
  AddFamily(m, "convergence.after_heal",
            "end of a partition or isolation (heal) to agreement of all live nodes, before the next "
            "fault",
            ConvergenceAfter::kHeal);
  AddFamily(m, "convergence.after_restart",
            "restart of a node to agreement of all live nodes, before the next fault",
            ConvergenceAfter::kRestart);
  AddFamily(m, "convergence.after_restore",
            "a link or LAN back to its configured loss and delay to agreement of all live nodes, "
            "before the next fault",
            ConvergenceAfter::kRestore);
  AddFamily(m, "convergence.after_crash",
            "crash of a node to agreement of the survivors without its contributions (includes "
            "failure detection and departure_grace), before the next fault",
            ConvergenceAfter::kCrash);
  AddFamily(m, "convergence.after_fault",
            "any of heal, restart, restore, crash to agreement", ConvergenceAfter::kAnyFault);
  // A fault end after which the next fault came before agreement is neither fast nor slow: it
  // is left out of the convergence figures above and counted here.
  m.push_back({"convergence.interrupted", MetricKind::kCount,
               "fault ends after which the next fault began before agreement (left out of the "
               "convergence figures)",
               ConvergenceAfter::kAnyFault});
  // What a heal moved against what differed (the runners that count bytes at view changes),
  // over the heals that converged.
  m.push_back({"heal_bytes", MetricKind::kCount,
               "bytes put on the network from each heal to agreement, summed over the heals that "
               "converged",
               ConvergenceAfter::kHeal, InProcess()});
  m.push_back({"heal_differing_bytes", MetricKind::kCount,
               "the codec's encoded size of the entries live nodes lacked at those heals, one record "
               "per (node, entry) they came to show",
               ConvergenceAfter::kHeal, InProcess()});
  m.push_back({"heal_bytes_ratio", MetricKind::kNumber,
               "heal_bytes / heal_differing_bytes: how many times what differed a heal moved",
               ConvergenceAfter::kHeal, InProcess()});
}

// Engine counters summed over all nodes and incarnations (pbxstate::EngineStats), and the growth
// of the engines' memory (held_bytes) over the run.
void AddEngineCounters(std::vector<MetricInfo>& m) {
  constexpr std::array<std::pair<const char*, const char*>, 25> kStats{{
      {"frames_out", "frames sent"},
      {"bytes_out", "bytes sent"},
      {"frames_in", "frames received"},
      {"bytes_in", "bytes received"},
      {"broadcasts_out", "broadcast or multicast sends"},
      {"unicasts_out", "unicast sends"},
      {"dropped", "received frames dropped, all reasons"},
      {"records_applied", "remote records that changed something"},
      {"records_stale", "remote records older than what was held"},
      {"send_try_again", "sends the transport answered with try-again"},
      {"send_queue_overflow", "frames dropped at max_send_queue_frames"},
      {"send_failed", "sends refused as too large or unreachable"},
      {"digests_sent", "anti-entropy digests sent"},
      {"digests_received", "anti-entropy digests received"},
      {"sync_sessions_started", "catch-up pulls begun"},
      {"sync_sessions_completed", "catch-up pulls completed"},
      {"sync_sessions_abandoned", "catch-up pulls abandoned (timeout, refusal, donor gone)"},
      {"sync_serves_refused", "catch-up requests refused at max_sync_serves"},
      {"sync_pages_sent", "catch-up pages sent"},
      {"sync_pages_received", "catch-up pages received"},
      {"sync_pages_resent", "catch-up pages sent again"},
      {"heartbeats_sent", "failure-detector heartbeats sent"},
      {"membership_changes", "membership views installed"},
      {"departures", "nodes whose entries were dropped after departure_grace"},
      {"frames_relayed", "frames of others passed on as a site's relay (relays_per_site)"},
  }};
  for (const auto& [name, meaning] : kStats) {
    m.push_back({std::string("engine.") + name, MetricKind::kCount,
                 std::string(meaning) + ", summed over all nodes"});
  }
  m.push_back({std::string(kMemoryGrowthMetric), MetricKind::kNumber,
               "the largest growth of one node's engine memory (held_bytes) from its sample at "
               "memory.baseline to its sample at the end, in percent of the former, over the nodes "
               "up at both"});
}

// Calls (a scenario's calls section), per routing strategy.
void AddCalls(std::vector<MetricInfo>& m) {
  m.push_back({"calls.total", MetricKind::kCount, "calls placed (each routed by every strategy)"});
  m.push_back({"calls.unroutable", MetricKind::kCount,
               "calls for a phone no live server held when the call arrived (left out of the ratios)"});
  for (const char* st : {"blind_peer", "location"}) {
    const std::string p = std::string("calls.") + st;
    m.push_back({p + ".completion_ratio", MetricKind::kNumber,
                 "routable calls that reached a server holding the phone, as a fraction"});
    m.push_back({p + ".completion_ratio.outside_faults", MetricKind::kNumber,
                 "the same, for calls placed while no fault was in force"});
    m.push_back({p + ".completion_ratio.inside_faults", MetricKind::kNumber,
                 "the same, for calls placed while a fault was in force"});
    m.push_back({p + ".looped", MetricKind::kCount, "calls that came back to a server they had visited"});
    m.push_back({p + ".hop_limit", MetricKind::kCount, "calls stopped by the hop limit"});
    m.push_back({p + ".failed_hops", MetricKind::kCount,
                 "calls lost on a hop to a server that was down or cut off from the sender"});
    m.push_back({p + ".stale_sends", MetricKind::kCount,
                 "hops sent to a server that, on arrival, no longer held the phone"});
    m.push_back({p + ".extra_hops.mean", MetricKind::kNumber,
                 "hops beyond the fewest possible (0 at the holder, else 1), mean over completed calls"});
    m.push_back({p + ".extra_hops.max", MetricKind::kNumber, "the same, the most"});
  }
  m.push_back({"calls.location.looped_on_current_views", MetricKind::kCount,
               "location calls that looped although every server on the way had applied every change of "
               "the phone made before it was asked",
               ConvergenceAfter::kNone, {kRealProcessBackends.begin(), kRealProcessBackends.end()}});
  m.push_back({"calls.location.extra_hops_vs_blind_peer", MetricKind::kNumber,
               "location's mean extra hops divided by blind-peer's (below 1: location does better)"});
}

void AddEndState(std::vector<MetricInfo>& m) {
  // The nodes' own reports at the end, beside the oracle's verdict (sim/runner/src/run_steps.h,
  // AddEndStateMetrics): what an oracle that compares values cannot see.
  m.push_back({"disagreeing_nodes", MetricKind::kCount,
               "live nodes whose view digest differs from that of the lowest-numbered live node they "
               "reach both ways at the end, or, where the runner asks the engines (" +
                   Join(kInProcessBackends) + "), whose membership is not exactly those nodes"});
  m.push_back({"frames_refused_auth", MetricKind::kCount,
               "frames refused as bad_mac, unknown_key, unauthenticated or auth_not_configured, all nodes"});
  m.push_back({"changes_refused", MetricKind::kCount, "planned changes the engines refused (bounds)"});
}

// Every metric a check may name, family by family (the order Metrics() lists them in).
std::vector<MetricInfo> BuildMetrics() {
  std::vector<MetricInfo> m;
  AddOracleAndCost(m);
  AddLatencyAndConvergence(m);
  AddEngineCounters(m);
  AddCalls(m);
  AddEndState(m);
  for (MetricInfo& info : m) {
    for ([[maybe_unused]] std::string_view b : info.measured_on) {
      assert(std::find(kBackendNames.begin(), kBackendNames.end(), b) != kBackendNames.end());
    }
    if (!info.measured_on.empty()) info.meaning += " (" + MeasuredOnNote(info) + ")";
  }
  return m;
}

bool IsMetricChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

std::size_t SkipSpaces(std::string_view s, std::size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return i;
}

std::string_view KindText(MetricKind kind) {
  switch (kind) {
    case MetricKind::kCount: return "a whole number without unit";
    case MetricKind::kNumber: return "a number without unit";
    case MetricKind::kDuration: return "a duration with a unit (ns, us, ms, s, min, h)";
  }
  return "";
}

}  // namespace

const std::vector<MetricInfo>& Metrics() {
  static const std::vector<MetricInfo> metrics = BuildMetrics();
  return metrics;
}

const MetricInfo* FindMetric(std::string_view name) {
  for (const MetricInfo& m : Metrics()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::string BackendNameList() { return Join(kBackendNames); }

bool MetricInfo::MeasuredOn(std::string_view backend) const {
  return measured_on.empty() || std::find(measured_on.begin(), measured_on.end(), backend) != measured_on.end();
}

std::string MeasuredOnNote(const MetricInfo& m) { return m.measured_on.empty() ? "" : "measured on " + Join(m.measured_on); }

std::string_view CompareOpText(CompareOp op) {
  switch (op) {
    case CompareOp::kLess: return "<";
    case CompareOp::kLessEqual: return "<=";
    case CompareOp::kGreater: return ">";
    case CompareOp::kGreaterEqual: return ">=";
    case CompareOp::kEqual: return "==";
    case CompareOp::kNotEqual: return "!=";
  }
  return "?";
}

double Check::Bound(Duration detection) const {
  return plus_detection ? threshold + static_cast<double>(detection.count()) : threshold;
}

bool Check::AppliesTo(std::string_view backend) const {
  return backends.empty() || std::find(backends.begin(), backends.end(), backend) != backends.end();
}

Check Check::Resolved(Duration detection) const {
  Check c = *this;
  c.threshold = Bound(detection);
  c.plus_detection = false;
  return c;
}

bool Check::Holds(double observed) const {
  assert(!plus_detection && "resolve a check with 'detection' first (Check::Resolved)");
  switch (op) {
    case CompareOp::kLess: return observed < threshold;
    case CompareOp::kLessEqual: return observed <= threshold;
    case CompareOp::kGreater: return observed > threshold;
    case CompareOp::kGreaterEqual: return observed >= threshold;
    case CompareOp::kEqual: return observed == threshold;
    case CompareOp::kNotEqual: return observed != threshold;
  }
  return false;
}

std::variant<Check, CheckSyntaxError> ParseCheck(std::string_view text) {
  std::size_t i = SkipSpaces(text, 0);
  const std::size_t metric_start = i;
  while (i < text.size() && IsMetricChar(text[i])) ++i;
  const std::string_view name = text.substr(metric_start, i - metric_start);
  if (name.empty()) {
    return CheckSyntaxError{metric_start,
                            "expected '<metric> <op> <value>' starting with a metric name, e.g. "
                            "'lost == 0'"};
  }
  const MetricInfo* metric = FindMetric(name);
  if (metric == nullptr) {
    return CheckSyntaxError{metric_start,
                            "unknown metric '" + std::string(name) +
                                "'; expected a metric listed in scenarios/README.md (e.g. lost, "
                                "stale, messages_per_change, stable_latency.p50, "
                                "convergence.after_heal.max)"};
  }

  i = SkipSpaces(text, i);
  const std::size_t op_start = i;
  // Two-character operators first, so "<=" is not read as "<" followed by "=".
  static constexpr std::pair<std::string_view, CompareOp> kOps[] = {
      {"<=", CompareOp::kLessEqual}, {">=", CompareOp::kGreaterEqual},
      {"==", CompareOp::kEqual},     {"!=", CompareOp::kNotEqual},
      {"<", CompareOp::kLess},       {">", CompareOp::kGreater}};
  std::optional<CompareOp> op;
  for (const auto& [spelling, candidate] : kOps) {
    if (text.substr(i, spelling.size()) == spelling) {
      op = candidate;
      i += spelling.size();
      break;
    }
  }
  if (!op) {
    return CheckSyntaxError{op_start, "expected an operator (<, <=, >, >=, ==, !=) after '" +
                                          std::string(name) + "'"};
  }

  i = SkipSpaces(text, i);
  // "detection + <duration>": the run's failure-detection time plus a constant (Check::Bound).
  const DetectionPrefix prefix = ReadDetectionPrefix(text, i);
  if ((prefix.present || prefix.error_at) && metric->kind != MetricKind::kDuration) {
    return CheckSyntaxError{i, "'detection' is a duration; only a duration metric's value may add it, and " +
                                   metric->name + " is not one"};
  }
  if (prefix.error_at) return CheckSyntaxError{*prefix.error_at, std::string(kDetectionPrefixExpected)};
  const bool plus_detection = prefix.present;
  i = prefix.value_at;
  const std::size_t value_start = i;
  std::size_t value_end = i;
  while (value_end < text.size() && text[value_end] != ' ' && text[value_end] != '\t') {
    ++value_end;
  }
  const std::string_view value = text.substr(value_start, value_end - value_start);
  const std::string expected = "expected " + std::string(KindText(metric->kind)) + " after '" +
                               std::string(CompareOpText(*op)) + "' for " + metric->name;
  if (value.empty()) return CheckSyntaxError{value_start, expected};

  double threshold = 0;
  if (metric->kind == MetricKind::kDuration) {
    auto d = ParseDuration(value);
    if (!d) return CheckSyntaxError{value_start, expected + ", got '" + std::string(value) + "'"};
    threshold = static_cast<double>(d->count());
  } else {
    auto n = ParseDecimal(value);
    if (!n || (metric->kind == MetricKind::kCount && *n != std::floor(*n))) {
      return CheckSyntaxError{value_start, expected + ", got '" + std::string(value) + "'"};
    }
    threshold = *n;
  }

  // Checked after the value so that "lost === 0" blames the value '=', not the trailing 0.
  const std::size_t rest = SkipSpaces(text, value_end);
  if (rest != text.size()) {
    return CheckSyntaxError{rest, "unexpected '" + std::string(text.substr(rest)) +
                                      "' after the value; a check is '<metric> <op> <value>'"};
  }

  Check check;
  check.text = std::string(text.substr(metric_start, value_end - metric_start));
  check.metric = metric->name;
  check.kind = metric->kind;
  check.op = *op;
  check.threshold = threshold;
  check.plus_detection = plus_detection;
  return check;
}

}  // namespace pbxstate::scenario
