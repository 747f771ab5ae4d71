// Private to the namespace runner (netns_runner.h is the public entry): one run of a scenario on a
// NetnsCluster, split by room:
//   netns_runner.cc    RunNetns, and the run's phases: bring-up, the loop (faults and changes at
//                      their times, events as they come), drain
//   netns_nodes.cc     each node's pbxstated: config, start, connect, calls
//   netns_events.cc    event streams and the recorder's time-ordered queue
//   netns_workload.cc  the workload's changes, pipelined through the control sockets
//   netns_faults.cc    the scenario's faults made with the cluster's mechanisms
//   netns_collect.cc   statistics samples, final views, the run record
//   netns_checks.cc    what the scenario and the host must allow before anything starts
//   netns_views.cc     the daemons' replies and events on the harness's calendar
// Requests and replies are the control library's (pbxstate/control); nothing here builds JSON.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "netns_views.h"
#include "pbxstate/control/client.h"
#include "pbxstate/harness/recorder.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/netns/cluster.h"
#include "pbxstate/runner/netns_runner.h"

namespace pbxstate::runner::netns_run {

using namespace std::chrono_literals;

// How long the harness holds what it learnt before handing it to the recorder, so that events
// read from different nodes' streams reach it in time order (an event reaches the harness
// within milliseconds of its t_mono_ns; this is far above that).
inline constexpr Duration kReorderHold = 250ms;
// Recorder inputs waiting for kReorderHold; past the bound the run fails (it cannot keep up).
inline constexpr std::size_t kMaxPendingRecords = std::size_t{1} << 22;
inline constexpr Duration kCallTimeout = 5s;
inline constexpr Duration kStartTimeout = 30s;
inline constexpr Duration kMaxPoll = 10ms;
// Changes sent to one daemon and not yet answered; at the bound the harness waits for answers.
inline constexpr std::size_t kMaxOutstandingChanges = 1024;
// The harness makes every change through a control socket (pipelined); beyond this rate, with a
// cluster of real processes on one host, it would lag behind the plan.
inline constexpr double kMaxChangeRate = 2000.0;

std::int64_t ClockNs(clockid_t id);
// "200 us", "1.5 s": durations in messages and notes.
std::string Seconds(Duration d);
// "file:line:column: field: what" as InvalidArgument.
Status Where(const scenario::Scenario& s, const scenario::SourcePos& pos, const std::string& field,
             const std::string& what);
netns::NetemParams LanNetem(const scenario::LanParams& lan);
// The totem token: the scenario's failure-detection time (engine.suspect_after), within what
// corosync accepts. With transport membership the engine has no heartbeat of its own; the token
// is what decides when a silent node (its corosync gone or cut off) leaves.
Duration TotemToken(const scenario::Scenario& s);
// The error of a run stopped by SIGINT/SIGTERM.
Status Interrupted();

// One node of the run as the harness sees it.
struct Node {
  bool up = false;        // answering; changes are made on it
  bool starting = false;  // its daemon is started and has not answered yet (a restart)
  std::chrono::steady_clock::time_point start_deadline;
  std::unique_ptr<control::Client> control;  // request/response calls
  std::unique_ptr<control::Client> writer;   // pipelined changes: sent without waiting
  std::deque<std::pair<const harness::PlannedChange*, Duration>> outstanding;  // sent on `writer`, unanswered
  std::unique_ptr<control::EventStream> events;
  std::uint64_t incarnation = 0;
  EngineStats last_stats;        // the live incarnation's, as of the last sample
  std::uint64_t frames_dead = 0; // frames_out / bytes_out of incarnations that crashed
  std::uint64_t bytes_dead = 0;
  std::uint64_t frames_at_last_sample = 0;  // all incarnations' frames at the last sample
  std::string socket;
  std::filesystem::path config;
};

class NetnsRun {
 public:
  NetnsRun(const scenario::Scenario& s, const RunOptions& o, const NetnsOptions& no, std::filesystem::path daemon,
           netns::NetnsCluster* cluster);

  // Brings the cluster up, runs the scenario, collects the final views into `outcome` and writes
  // the record (when asked). Fails, leaving teardown to the caller, when the run cannot go on.
  Status Run(RunOutcome* outcome);

 private:
  struct Pending {
    Duration t;
    std::uint64_t seq;
    std::function<void()> fn;
    NodeId waits_for_start;
    bool operator>(const Pending& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };

  Duration Now() const { return Duration(ClockNs(CLOCK_MONOTONIC) - mono_start_ns_); }
  Duration FromMono(std::int64_t t_mono_ns) const { return Duration(t_mono_ns - mono_start_ns_); }
  std::vector<NodeId> AllNodes() const;

  // ---- phases (netns_runner.cc) ----
  // Corosyncs, then daemons, then everyone sees everyone; time 0 is set at the end.
  Status BringUp();
  // Faults and changes at their times, statistics every second, events as they come, until the end.
  Status Drive(const std::vector<harness::PlannedChange>& plan);
  // Everything answered and read; recorder inputs up to the end delivered.
  Status Drain();

  // ---- daemons (netns_nodes.cc) ----
  // Writes the node's config and starts its pbxstated; the node is `starting` until TryConnect
  // has subscribed to its events and connected a control client (hello).
  Status SpawnDaemon(NodeId n);
  Status WriteDaemonConfig(NodeId n);
  // One attempt (waiting at most `wait`); fails when the daemon exited or its start deadline passed.
  Status TryConnect(NodeId n, Duration wait, bool* connected);
  // TryConnect until connected.
  Status FinishStart(NodeId n);
  template <typename R>
  Status Call(NodeId n, const control::Request& request, R* reply);
  Status FetchStats(NodeId n, EngineStats* stats);
  Status WaitAllMembers(Duration timeout);

  // ---- events and the recorder (netns_events.cc) ----
  // Queues a recorder input for time t. `waits_for_start`: it (and everything after it) is held
  // until that node's daemon has answered.
  void Record(Duration t, std::function<void()> fn, NodeId waits_for_start = kNoNode);
  Status DeliverDue(Duration upto);
  void DropPending();
  Status ReadEvents(NodeId n, bool* closed);
  Status PollEvents(Duration wait);

  // ---- the workload (netns_workload.cc) ----
  Status MakeChange(const harness::PlannedChange& c);
  control::Request ChangeRequest(const harness::PlannedChange& c, Duration t) const;
  // Takes the answers to pipelined changes that have arrived (waits for all of them, at most
  // kCallTimeout, with `all`) and hands them to the recorder at their send time.
  Status ReadAnswers(NodeId n, bool all);
  // The earliest send time of an unanswered change: the recorder may not go past it.
  std::optional<Duration> EarliestOutstanding() const;

  // ---- faults (netns_faults.cc) ----
  Status ApplyFault(const scenario::Fault& f);
  Status Crash(const scenario::Fault& f, NodeId node);
  Status Restart(const scenario::Fault& f, NodeId node);

  // ---- collection (netns_collect.cc) ----
  Status Sample(Duration t);
  // Every live node's final view, the recorder's result, the checks and the record.
  Status Collect(Duration end, RunOutcome* outcome);
  Status WriteRecord(const std::vector<std::optional<harness::FinalView>>& finals, RunOutcome* outcome) const;

  const scenario::Scenario& s_;
  const RunOptions& options_;
  const NetnsOptions& netns_options_;
  std::filesystem::path daemon_;
  netns::NetnsCluster* cluster_;
  harness::RunRecorder rec_;
  std::vector<Node> nodes_;  // by node id; [0] unused
  std::int64_t mono_start_ns_ = 0;
  WallMapping wall_;
  std::chrono::steady_clock::time_point wall_start_;

  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending_;
  std::uint64_t seq_ = 0;
  std::vector<harness::SeriesPoint> series_;
  std::uint64_t sampled_frames_ = 0, sampled_bytes_ = 0;  // cluster totals at the last sample
  Duration max_lag_{};
  std::size_t unmade_changes_ = 0, unmade_faults_ = 0;    // left when Drive reached the end
};

template <typename R>
Status NetnsRun::Call(NodeId n, const control::Request& request, R* reply) {
  Node& node = nodes_[n];
  if (!node.control) return Status::FailedPrecondition("node " + std::to_string(n) + " has no control connection");
  return node.control->CallFor(request, kCallTimeout, reply);
}

// Refuses, with file:line:column and field, a LAN the host's link shaping cannot honour (no
// netem: delays over 1 ms); notes what is run without. (netns_checks.cc)
Status CheckShaping(const scenario::Scenario& s, netns::ShapingMethod method, std::vector<std::string>* notes);

}  // namespace pbxstate::runner::netns_run
