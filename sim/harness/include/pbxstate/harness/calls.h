// Calls routed across the cluster (a scenario's calls section): the plan, where each phone
// really is, which servers can reach which, how a strategy picks the next hop from one server's
// view, and the per-strategy accounting that becomes the calls.* metrics.
//
// The truth here is built only from what the runner reports (changes the engines accepted,
// crashes, restarts, faults), never by asking an engine: an engine's view is what is being
// judged. Routing itself reads the current server's engine, as a real server would.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pbxstate/engine.h"
#include "pbxstate/harness/contact_book.h"
#include "pbxstate/harness/fault_windows.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/scenario/scenario.h"

namespace pbxstate::harness {

// One call: arrives at `entry` at `at` for generated phone `aor` (GeneratedAorName).
struct PlannedCall {
  Duration at{};
  NodeId entry = kNoNode;
  std::uint32_t aor = 0;
};

// Upper bound on planned calls; the loader's kMaxCalls keeps scenarios below it.
inline constexpr std::size_t kMaxPlannedCalls = 10'000'000;

// Every call of `s.calls` (none without one), in time order: the steady rate and the bursts,
// evenly spaced, entry servers in turn, phones drawn with the scenario's seed.
std::vector<PlannedCall> ExpandCalls(const scenario::Scenario& s);

// Where each phone is really registered, from the changes servers accepted, crashes (a server
// that dies takes its phones' registrations with it) and expiries.
class PhoneTruth {
 public:
  // The engines' max_contacts_per_aor (the scenario's engine section).
  explicit PhoneTruth(std::size_t max_contacts_per_aor) : book_(max_contacts_per_aor) {}
  void ChangeAccepted(Duration t, const PlannedChange& c);
  void ServerCrashed(NodeId node);
  // Whether `node` holds a live contact of `aor` at `t`.
  bool Holds(const std::string& aor, NodeId node, Duration t) const { return book_.Holds(aor, node, t); }
  // Whether any server holds one at `t`.
  bool Registered(const std::string& aor, Duration t) const { return book_.Registered(aor, t); }

 private:
  ContactBook book_;
};

// Which servers are up and which can reach which, from the faults as they are applied.
class ServerReach {
 public:
  explicit ServerReach(std::uint32_t nodes);
  void Apply(const scenario::Fault& fault);
  bool Up(NodeId node) const { return up_[node - 1]; }
  // Whether a call sent by `from` reaches `to` now (both up, no cut between them).
  bool Reaches(NodeId from, NodeId to) const;

 private:
  std::vector<bool> up_;
  std::vector<std::uint32_t> side_;  // partition side per node; all 0 when healed
  std::optional<std::pair<std::uint32_t, std::uint32_t>> one_way_;  // (from side, deaf side)
};

// The next server a call goes to from `at` under `strategy` (never `at` itself), and whether
// the choice came from the location table (a "send" that can be stale). `at_engine` is the
// server's engine, read as a real server would read its own view.
struct Hop {
  NodeId to = kNoNode;
  bool from_location = false;
};
Hop NextHop(scenario::RoutingStrategy strategy, const Engine& at_engine, NodeId at, const std::string& aor,
            std::uint32_t node_count);
// The same from the server's answer to Engine::Locate (a daemon's `locate`), for hosts whose
// engines live in other processes; `located` is read only under kLocation.
Hop NextHop(scenario::RoutingStrategy strategy, const std::vector<Location>& located, NodeId at, std::uint32_t node_count);

// One-way delay of a call's hop between two servers: their LAN, or both LANs and the link between
// their sites, as configured (a degradation in force is not applied to hops).
Duration ConfiguredHopDelay(const scenario::Scenario& s, NodeId a, NodeId b);

enum class CallOutcome : std::uint8_t {
  kCompleted,   // reached a server holding the phone
  kLooped,      // came back to a server it had visited (SIP: 482 Loop Detected)
  kHopLimit,    // the hop limit ran out
  kFailedHop,   // sent to a server that was down or cut off (SIP: timeout)
};

struct StrategyCallStats {
  std::uint64_t calls = 0;  // routable calls routed
  std::uint64_t completed = 0;
  std::uint64_t inside_calls = 0, inside_completed = 0;
  std::uint64_t looped = 0, hop_limit = 0, failed_hops = 0, stale_sends = 0;
  std::uint64_t extra_hops_sum = 0, extra_hops_max = 0;
};

struct CallSummary {
  std::uint64_t total = 0;
  std::uint64_t unroutable = 0;
  std::vector<std::pair<scenario::RoutingStrategy, StrategyCallStats>> strategies;  // as listed
  // Location's loops through views that had every change of the phone (call_loops.h); set by
  // the backends that can tell (netns, emu).
  std::optional<std::uint64_t> location_looped_on_current_views;
};

class CallRecorder {
 public:
  explicit CallRecorder(const scenario::Scenario& s);
  // Every call, once, when it arrives at its entry server.
  void Placed(const PlannedCall& call);
  void Unroutable(const PlannedCall& call);
  // One call's result under one strategy. `hops` taken; `min_hops` the fewest possible (0 when
  // the entry server held the phone, else 1); `stale_sends` location sends that missed.
  void Finished(scenario::RoutingStrategy strategy, const PlannedCall& call, CallOutcome outcome, std::uint32_t hops,
                std::uint32_t min_hops, std::uint32_t stale_sends);
  const CallSummary& summary() const { return summary_; }
  // Adds the calls.* metrics (scenario::Metrics()) that have samples.
  void AddMetrics(std::map<std::string, double>* metrics) const;

 private:
  StrategyCallStats& Stats(scenario::RoutingStrategy strategy);
  bool Inside(Duration t) const;

  CallSummary summary_;
  // [start, end): the scenario's planned fault windows (PlannedFaultWindows).
  std::vector<FaultWindow> windows_;
};

}  // namespace pbxstate::harness
