// Checks: assertions on a run's metrics, written as "<metric> <op> <value>", for example
// "lost == 0", "convergence.after_heal.max < 2s", "messages_per_change < 20". The runner computes
// every metric named here; scenarios/README.md lists them with their meaning. A duration's value
// may be "detection + <duration>": the membership's failure-detection time of the run
// (scenario.h, DetectionTime) plus a constant, so that one check holds each membership to the
// bound its own timing allows. A check may name the backends it applies to
// (`{check: "heal_bytes_ratio < 4", backends: [ns3, inproc]}`): on any other backend it is
// reported "not applicable", neither passed nor failed.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pbxstate/types.h"

namespace pbxstate::scenario {

// What a metric counts, which decides how its threshold is written and compared.
enum class MetricKind {
  kCount,     // a whole number of things; threshold without unit ("lost == 0")
  kNumber,    // a real number; threshold without unit ("messages_per_change < 20")
  kDuration,  // a time; threshold with a duration unit ("stable_latency.p50 < 400ms")
};

// The fault kinds whose end a convergence measurement starts from. A check on a convergence
// metric needs at least one such fault in its scenario, or the metric has no samples.
enum class ConvergenceAfter { kNone, kHeal, kRestart, kRestore, kCrash, kAnyFault };

// The backends a run can have, as `pbxstate run --backend` names them: the one list a check's
// `backends` and a metric's `measured_on` are read against.
inline constexpr std::array<std::string_view, 4> kBackendNames = {"ns3", "inproc", "netns", "emu"};
// The backends whose engines run in the runner's own process (ns-3's nodes, inproc's cluster):
// the runner counts the bytes they put on the network at any instant (heal_bytes) and asks each
// engine its membership at the end (disagreeing_nodes). netns and emu drive pbxstated daemons
// over control sockets, whose frames corosync carries.
inline constexpr std::array<std::string_view, 2> kInProcessBackends = {"ns3", "inproc"};
// The backends of real processes (pbxstated over control sockets): the runner knows when it
// asked each daemon and when each daemon applied each change (calls.location.looped_on_current_views).
inline constexpr std::array<std::string_view, 2> kRealProcessBackends = {"netns", "emu"};
// The backend that counts the engines' frames per destination site (wan_frames_per_change).
inline constexpr std::array<std::string_view, 1> kSiteCountingBackends = {"ns3"};

struct MetricInfo {
  std::string name;     // "stable_latency.p50"
  MetricKind kind;
  // One line for --help and the schema reference; ends with MeasuredOnNote when measured_on is
  // not empty (Metrics() derives it).
  std::string meaning;
  ConvergenceAfter needs = ConvergenceAfter::kNone;
  // The backends whose runs measure it, names from kBackendNames; empty: every backend. On any
  // other a check on it is not applicable (harness::EvaluateChecks), as a check whose `backends`
  // leaves the run's backend out is.
  std::vector<std::string_view> measured_on = {};

  // Whether a run on `backend` (a name from kBackendNames) measures this metric.
  bool MeasuredOn(std::string_view backend) const;
};

// "measured on ns3, inproc" for a metric measured on some backends only, "" for one measured on
// every backend: the words the meaning and scenarios/README.md's metric table give it.
std::string MeasuredOnNote(const MetricInfo& m);

// Every metric a check may name, in documentation order. Duration families expand to one
// metric per statistic: .min .p50 .p95 .p99 .max .mean.
const std::vector<MetricInfo>& Metrics();

// The growth of the engines' memory from the scenario's memory.baseline to the end, in percent
// (scenario.h, MemorySampling): the one name the checks table, the loader and the recorder use.
inline constexpr std::string_view kMemoryGrowthMetric = "memory_growth_pct";

// The metric called `name`, or nullptr.
const MetricInfo* FindMetric(std::string_view name);

// "ns3, inproc, netns, emu": kBackendNames for messages.
std::string BackendNameList();

enum class CompareOp { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };
std::string_view CompareOpText(CompareOp op);  // "<", "<=", ...

struct Check {
  std::string text;     // as written, for reports
  std::string metric;   // a name from Metrics()
  MetricKind kind = MetricKind::kCount;
  CompareOp op = CompareOp::kLess;
  // In the metric's base unit: counts and numbers as written, durations in nanoseconds (exact
  // in a double up to about 104 days). With plus_detection, the constant part of the bound.
  double threshold = 0;
  // The value was written "detection + <duration>" (duration metrics only): the bound is
  // threshold plus the run's failure-detection time (Bound).
  bool plus_detection = false;
  int line = 0, column = 0;  // where the check is written, for reports; 0 when unknown
  // The backends the check applies to, names from kBackendNames in the order written; empty:
  // every backend. A metric that measures the engines' own network (heal_bytes_ratio,
  // wan_frames_per_change) means something else, or nothing, where Corosync carries the frames.
  std::vector<std::string> backends;

  // Whether a run on `backend` (a name from kBackendNames) holds the run to this check.
  bool AppliesTo(std::string_view backend) const;

  // The bound for a run whose membership detects a silent node after `detection`: threshold,
  // plus `detection` in nanoseconds when plus_detection.
  double Bound(Duration detection) const;

  // Whether `observed` (in the same base unit) satisfies the check against threshold (a check
  // with plus_detection is first resolved: Resolved).
  bool Holds(double observed) const;

  // This check with its bound resolved for `detection`: threshold = Bound(detection),
  // plus_detection false, text as written.
  Check Resolved(Duration detection) const;
  friend bool operator==(const Check&, const Check&) = default;
};

struct CheckSyntaxError {
  std::size_t offset = 0;  // byte offset into the text where the problem starts
  std::string message;     // what was expected there
};

// Parses one check expression: optional spaces, a metric name from Metrics(), an operator
// (< <= > >= == !=), a value whose unit fits the metric's kind, optional spaces, nothing else.
// A duration metric's value may be "detection + <duration>" (spaces around '+' optional).
std::variant<Check, CheckSyntaxError> ParseCheck(std::string_view text);

}  // namespace pbxstate::scenario
