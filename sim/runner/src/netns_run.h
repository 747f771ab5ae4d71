// Private to the runners of real processes (netns_runner.h and emu_runner.h are the public
// entries): one run of a scenario on a NetnsCluster's daemons, whatever network joins them (a
// RunNetwork: the netns backend's bridge, or the emulation backend's ns-3 world), split by room:
//   netns_runner.cc    RunNetns, and the run's phases: bring-up, the loop (faults, changes and
//                      calls at their times, events as they come), drain
//   netns_start.h      the order of a run's start: what comes before time 0 (RunStart)
//   netns_nodes.cc     each node's pbxstated: config, start, connect, request/response calls
//   netns_events.cc    event streams and the recorder's time-ordered queue
//   netns_workload.cc  the workload's changes, pipelined through the control sockets
//   change_queue.h     a node's changes from their hand-off to their answer (never waits)
//   netns_faults.cc    the scenario's faults: crashes and restarts of the daemons, the network's
//                      through the RunNetwork (NetnsNetwork: nftables cuts and netem on the bridge)
//   netns_calls.cc     the scenario's calls, routed hop by hop over real time with `locate`
//   netns_collect.cc   statistics samples, final views, the run record
//   netns_checks.cc    what the scenario and the host must allow before anything starts
//   netns_views.cc     the daemons' replies and events on the harness's calendar
//   daemon_wait.cc     how long the daemons waited for a CPU (DaemonWaitSampler, sampled by Drive)
//   emu_runner.cc      RunEmu: the same run on an emulated network (EmuNetwork)
// Requests and replies are the control library's (pbxstate/control); nothing here builds JSON.
#pragma once

#include <poll.h>
#include <time.h>

#include <cassert>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "change_queue.h"
#include "netns_views.h"
#include "run_steps.h"
#include "pbxstate/control/client.h"
#include "pbxstate/harness/call_loops.h"
#include "pbxstate/harness/calls.h"
#include "pbxstate/harness/recorder.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/netns/cluster.h"
#include "pbxstate/runner/daemon_wait.h"
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
// The calls' `locate` requests sent to one daemon and not yet answered; at the bound the harness
// waits for answers (netns_calls.cc).
inline constexpr std::size_t kMaxOutstandingChanges = 1024;
// How long the driver makes due changes before it reads events and answers again (Drive).
inline constexpr Duration kChangeSlice = 50ms;
// How long the driver reads and decodes events, and apart from that hands records to the
// recorder, before it looks at its schedule again. At a membership change every daemon reports
// tens of thousands of events within a second (a departed server's removals), which the driver
// decodes at about 20,000 a second: read whole, such a burst held changes back by seconds
// (sim/emu/README.md, "Event bursts read in slices"). A stream left unread holds the recorder
// at its last event read, so what is recorded and in which order does not change.
inline constexpr Duration kEventSlice = 20ms;
// Events taken from one stream per turn within a slice (a 64 KiB chunk holds about 300).
inline constexpr std::size_t kEventsPerTurn = 256;
// After the end, how long the driver may take to read what the streams still hold.
inline constexpr Duration kDrainBacklogTimeout = 60s;
// The latest a change may be issued after its planned time in a valid run (run.json's "driver").
// A driver that keeps up issues a change at most one slice of making changes (kChangeSlice) plus
// one wait for events (kMaxPoll) plus one slice of reading them and one of recording
// (kEventSlice each) after its time; a change later
// than two slices means the driver spent more than a slice elsewhere and fell behind its plan:
// it was starved, or the plan asks more than it sustains.
inline constexpr Duration kMaxChangeLateness = 2 * kChangeSlice;

std::int64_t ClockNs(clockid_t id);
// "200 us", "1.5 s": durations in messages and notes.
std::string Seconds(Duration d);
// Where (file:line:column: field: what) is run_steps.h's, shared by every backend.
netns::NetemParams LanNetem(const scenario::LanParams& lan);
// Refuses (file, line, field) what real corosync and pbxstated cannot be: heartbeat membership,
// per-node views or a view delay, duplicated or reordered frames. `backend` names it.
Status CheckRealCluster(const scenario::Scenario& s, const std::string& backend);
// Refuses what pbxstated's configuration cannot say of the scenario's engine settings (it takes
// whole milliseconds: netns::PbxstatedConfig) and a max_frame_bytes above the 1 MiB it carries.
// "<file>: <why>"; the netns and emu support checks share it.
Status CheckDaemonConfig(const scenario::Scenario& s);
// What one host sustains of a workload on real processes, counted in deliveries (a change times
// the nodes it reaches) a second: every change goes through corosync to every node, is applied by
// every pbxstated and comes back to the driver on every node's event stream, so the cost of a
// change grows with the cluster. Measured with tests/sim/emu/scenarios/rate-probe.yaml on emu
// (sim/emu/README.md, "The driver's rate"): 20 nodes keep 1,000 changes/s within
// kMaxChangeLateness and not 1,500; 8 nodes 5,000/s; 3 nodes 10,000/s and not 20,000. The
// largest cluster's figure is the bound (the others sustain more deliveries).
inline constexpr double kSustainedDeliveriesPerSecond = 20'000;
// A node's changes handed by the driver and not yet answered (its ChangeQueue, change_queue.h).
// A change must go into its daemon's socket within kCallTimeout of being handed, and be answered
// within kCallTimeout of that (CheckQueues); the driver hands no node more than
// kSustainedDeliveriesPerSecond a second (CheckChangeRate refuses more), so this many in a queue
// means one of those bounds has failed: a full queue fails the run too, naming the node. At 24
// bytes an entry (and one request line made), at most 2.4 MB a node.
inline constexpr std::size_t kMaxQueuedChanges =
    static_cast<std::size_t>(kSustainedDeliveriesPerSecond) * static_cast<std::size_t>(kCallTimeout / 1s);
// How many changes a second the driver issues through the daemons' control sockets on a cluster
// of `nodes` (measured: sim/emu/README.md, "The driver's rate").
double SustainedChangeRate(std::uint32_t nodes);
// The latest a change of `plan` (in time order) would be issued by a driver that issues at most
// `sustained_per_s` a second, in order: a queue served at that rate. `*at` gets that change's
// planned time, `*behind_since` when the driver last had nothing queued before it.
Duration PredictedLateness(const std::vector<harness::PlannedChange>& plan, double sustained_per_s, Duration* at,
                           Duration* behind_since);
// Refuses (file, line, field) a workload that the driver could not issue on time: every source of
// changes summed over time (steady rate, bursts, mailbox fill, churn, name churn, timed changes:
// harness::ExpandWorkload's plan) would leave a change later than kMaxChangeLateness at
// SustainedChangeRate. `backend` names it in the message.
Status CheckChangeRate(const scenario::Scenario& s, const std::string& backend);
// Every node's corosync.conf totem settings: the scenario's `corosync:` section, Corosync's
// defaults without one; the transport as the run was asked for. With transport membership the
// engine has no heartbeat of its own: the token decides when a silent node leaves.
totem::TotemConfig TotemSettings(const scenario::Scenario& s, const NetnsOptions& o);
// "token 1000 ms effective, consensus 1200 ms": what failure detection will take.
std::string TotemSummary(const scenario::Scenario& s, const NetnsOptions& o);
// How long the bring-up waits for every corosync to list every node: kStartTimeout plus two
// effective tokens plus consensus. knet brings a link up only after knet_pong_count pongs
// (pings every token / (2 x pong_count), so a link takes up to a token), corosyncs started one
// after another come up a ping interval apart, and the first ring forms a consensus timeout
// after a gather that saw a link come up late. With Corosync's defaults the effective token
// grows by 650 ms a node: 32 nodes form their ring about 36 s after the first corosync
// started (measured, sim/ns3/README.md "Emulation"), beyond a fixed 30 s.
Duration CorosyncFormationTimeout(const scenario::Scenario& s, const NetnsOptions& o);
// Appended to a bring-up that formed no ring: "" for a loss-free network, else why real corosync
// may never form a ring on the scenario's lossy network (the loss acts from the start).
std::string LossHint(const scenario::Scenario& s);
// The error of a run stopped by SIGINT/SIGTERM.
Status Interrupted();

// The network under a run of real processes, and how the scenario's network faults are made on
// it. The daemons, the workload, crashes, restarts and calls are the run's own (NetnsRun).
class RunNetwork {
 public:
  virtual ~RunNetwork() = default;
  // run.json's backend: "netns", "emu".
  virtual std::string backend() const = 0;
  // Makes a partition, heal, isolate, degrade or restore now; `*t_mono_ns` is CLOCK_MONOTONIC
  // when its mechanism began to act (the fault's time in the record).
  virtual Status Apply(const scenario::Fault& f, std::int64_t* t_mono_ns) = 0;
  // Time 0 of the scenario is now (CLOCK_MONOTONIC `t0_mono_ns`): the daemons are up.
  virtual void Started(std::int64_t t0_mono_ns) { (void)t0_mono_ns; }
  // The scenario's end is now: what the network measures of the run (emu's lag) stops here; the
  // drain and the final dumps after it are the harness's, not the scenario's.
  virtual void Ended() {}
  // A few words for the progress line ("" for nothing); called about once a second.
  virtual std::string Progress() const { return {}; }
  // At the end of the run: what the network adds to the run record (notes, the real-time lag).
  virtual void Describe(harness::RunInfo* info) const { (void)info; }
};

// The netns backend's network: the cluster's bridge, cut with nftables, shaped with netem
// (netns_faults.cc).
class NetnsNetwork final : public RunNetwork {
 public:
  NetnsNetwork(const scenario::Scenario& s, netns::NetnsCluster* cluster) : s_(s), cluster_(cluster) {}
  std::string backend() const override { return "netns"; }
  Status Apply(const scenario::Fault& f, std::int64_t* t_mono_ns) override;

 private:
  const scenario::Scenario& s_;
  netns::NetnsCluster* cluster_;
};

// One node of the run as the harness sees it.
struct Node {
  bool up = false;        // answering; changes are made on it
  bool starting = false;  // its daemon is started and has not answered yet (a restart)
  std::chrono::steady_clock::time_point start_deadline;
  std::unique_ptr<control::Client> control;  // request/response calls
  std::unique_ptr<control::Client> writer;   // pipelined changes: sent without waiting
  std::unique_ptr<control::Client> locator;  // pipelined `locate` requests of the calls (with calls)
  ChangeQueue queue{kMaxQueuedChanges};  // changes handed for `writer`: unwritten, or unanswered
  std::unique_ptr<control::EventStream> events;
  control::TransportViewEvent view;  // the CPG view its engine was last handed (view_id 0: none yet)
  std::uint64_t incarnation = 0;
  EngineStats last_stats;        // the live incarnation's, as of the last sample
  std::uint64_t frames_dead = 0; // frames_out / bytes_out of incarnations that crashed
  std::uint64_t bytes_dead = 0;
  std::uint64_t frames_at_last_sample = 0;  // all incarnations' frames at the last sample
  std::string socket;
  std::filesystem::path config;
  // While a restarted daemon is listed (RecordCatchUp: its `dump` asked on `control`, answered
  // before any stats asked after it): when the listing began, and the entries its event stream
  // reported from then on, which the stream, not the listing, tells the recorder.
  std::optional<Duration> listing_since;
  std::set<std::pair<EntryKind, std::string>> changed_while_listing;
  // Stats requests sent on `control` and not yet answered (a sample round's, a crash's): their
  // answers are read as they come (PollEvents, ReadStats), never waited for by the driver.
  std::size_t stats_asked = 0;
  bool in_sample = false;  // the sample round under way waits for its answer
  // A crash under way (netns_faults.cc, AdvanceCrash): the fault; once the daemon is killed, when
  // (`up` is false from then on, and the event stream is read until it closes).
  const scenario::Fault* crash = nullptr;
  std::optional<Duration> killed_at;
  std::chrono::steady_clock::time_point crash_step_since;  // when its current step began
  // Takes changes, locates and samples: up and not crashing.
  bool answering() const { return up && crash == nullptr; }
  // Its event stream holds more than the driver's last slice took (PollEvents reads it first next
  // time); the recorder waits before `read_through`, the time of the last event read from it,
  // since every event still unread is stamped at or after it.
  bool behind = false;
  Duration read_through{};
};

class NetnsRun {
 public:
  NetnsRun(const scenario::Scenario& s, const RunOptions& o, const NetnsOptions& no, std::filesystem::path daemon,
           netns::NetnsCluster* cluster, RunNetwork* network);

  // Brings the cluster up, runs the scenario, collects the final views into `outcome` and writes
  // the record (when asked). Fails, leaving teardown to the caller, when the run cannot go on.
  Status Run(RunOutcome* outcome);

 private:
  // What the recorder is handed, queued for kReorderHold. A view change and a change's answer
  // (nearly every record: one per delivery per node) are held by value, without a std::function
  // or an allocation of their own; the rare rest (faults, starts, views) are functions.
  struct ViewRecord {
    NodeId node;
    control::OwnedViewChange change;
  };
  // A change answered: recorded at the daemon's time of taking it; `sent` is when its line went
  // into the socket, the instant its request's registration expiry counts from.
  struct ChangeRecord {
    const harness::PlannedChange* change;
    Status status;
    Duration sent;
  };
  struct Pending {
    Duration t;
    std::uint64_t seq;
    std::variant<ViewRecord, ChangeRecord, std::function<void()>> what;
    NodeId waits_for_start;
    bool operator>(const Pending& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };

  Duration Now() const { return Duration(ClockNs(CLOCK_MONOTONIC) - mono_start_ns_); }
  Duration FromMono(std::int64_t t_mono_ns) const { return Duration(t_mono_ns - mono_start_ns_); }
  std::vector<NodeId> AllNodes() const;

  // ---- phases (netns_runner.cc) ----
  // Corosyncs, then daemons, then everyone sees everyone.
  Status BringUp();
  // Every stream read once and what it held dropped (the bring-up is before time 0).
  Status FirstPoll();
  // Time 0 of the workload, the faults, the recorder and the oracle is CLOCK_MONOTONIC
  // `t0_mono_ns` (RunStart: the driver is ready to issue); the network, the recorder and the
  // views in force are told.
  void StartClock(std::int64_t t0_mono_ns);
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
  // A daemon (re)started during the run, just subscribed to: asks what its engine holds
  // (`dump`), without waiting; FinishCatchUp takes the answer as it comes (ReadStats) and records
  // it as the deliveries the stream may have missed (HarnessCatchUp), at the instant the listing
  // began; entries the stream reported since then are left to the stream.
  Status RecordCatchUp(NodeId n);
  Status FinishCatchUp(NodeId n, const nlohmann::json& answer);
  template <typename R>
  Status Call(NodeId n, const control::Request& request, R* reply);
  Status WaitAllMembers(Duration timeout);

  // ---- events and the recorder (netns_events.cc) ----
  // Queues a recorder input for time t. `waits_for_start`: it (and everything after it) is held
  // until that node's daemon has answered.
  void Record(Duration t, std::function<void()> fn, NodeId waits_for_start = kNoNode);
  // Node n's engine reported `change` at t; a pipelined change sent at `sent` was taken by its
  // daemon at t (its answer's time) and answered `status`.
  void RecordView(Duration t, NodeId n, control::OwnedViewChange change);
  void RecordChange(Duration t, const harness::PlannedChange* change, Status status, Duration sent);
  // Hands the recorder, in time order, what is queued up to `upto`, for at most `budget`.
  Status DeliverDue(Duration upto, Duration budget);
  void DropPending();
  // Everything node n's stream holds now, and (ReadEventTurn) at most about `max_events` of it,
  // leaving the node `behind` when more may be there.
  Status ReadEvents(NodeId n, bool* closed);
  Status ReadEventTurn(NodeId n, std::size_t max_events, bool* closed);
  // Waits at most `wait` (none while a stream is behind), takes the answers that came (changes,
  // locates, stats) and reads the event streams with something to read in turns, for at most
  // kEventSlice.
  Status PollEvents(Duration wait);
  // What PollEvents waits on: `fds` (and `who`, their nodes) are the event streams first
  // (`*event_fds` of them), then the writers with changes queued (up to `*answer_fds`: their
  // answers, and room to write while a change waits to be written), then
  // the locators, then the control connections with stats unanswered (from `*locate_fds`).
  struct PollSet {
    std::vector<pollfd> fds;
    std::vector<NodeId> who;
    std::size_t event_fds = 0, answer_fds = 0, locate_fds = 0;
    bool any_behind = false;
  };
  void BuildPollSet(PollSet* set) const;
  // Reads the streams in `ready` in turns of kEventsPerTurn until each is drained or kEventSlice
  // has passed (those left are `behind`).
  Status ReadStreamsInTurns(std::vector<NodeId> ready);
  // The earliest time a stream left behind may still report: the recorder stops before it.
  std::optional<Duration> EarliestUnread() const;

  // ---- the workload (netns_workload.cc) ----
  // Hands `c` to its node's queue now (its lateness: now against its planned time) and writes
  // what the node's socket takes, never waiting; fails, naming the node, when the queue is full.
  Status MakeChange(const harness::PlannedChange& c);
  control::Request ChangeRequest(const harness::PlannedChange& c, Duration t) const;
  // Writes node n's queued changes as far as its socket takes them now.
  Status WriteChanges(NodeId n);
  // Takes the answers to node n's changes that have arrived, without waiting, and hands them to
  // the recorder at the time each change's line went into the socket; then writes what waits.
  Status ReadAnswers(NodeId n);
  // Fails, naming the node, when a change waited kCallTimeout to go into its daemon's socket or,
  // once there, for its answer, or a restarted daemon's listing was not answered within it.
  Status CheckWaits() const;
  // The driver's loop until every up node's changes and listing are answered (the drain).
  Status FinishChanges();
  // The earliest record time of what is not yet answered: a change's (its write time; changes not
  // yet written are stamped later than now), a restart's listing's (its start). The recorder may
  // not go past it.
  std::optional<Duration> EarliestOutstanding() const;
  // run.json's note of the queues: how deep each node's got, how long a change waited in it.
  std::string QueueNote() const;

  // ---- faults (netns_faults.cc) ----
  Status ApplyFault(const scenario::Fault& f);
  // Begins a crash without waiting: the node takes no more changes or locates, and is asked its
  // stats; AdvanceCrash kills it once everything sent to it is answered.
  Status Crash(const scenario::Fault& f, NodeId node);
  // Moves node n's crash on, never waiting: once its changes, locates and stats are answered,
  // SIGKILL (the fault's time); once its stream has closed and the daemon is reaped, done.
  // Fails when a step takes more than kCallTimeout.
  Status AdvanceCrash(NodeId n);
  Status AdvanceCrashes();
  // SIGKILL to node n's daemon (and first its corosync, with --crash-corosync): the crash's time.
  Status Kill(NodeId n);
  // AdvanceCrash with the driver's loop until node n's crash is done (a restart of it; the end).
  Status FinishCrash(NodeId n);
  Status Restart(const scenario::Fault& f, NodeId node);

  // ---- calls (netns_calls.cc) ----
  // One call under one strategy, hop by hop (scenario::RoutingStrategy).
  struct CallInFlight {
    std::size_t call = 0;
    scenario::RoutingStrategy strategy{};
    NodeId at = kNoNode;
    std::uint32_t hops = 0, min_hops = 0, stale_sends = 0;
    std::vector<NodeId> visited;
    NodeId to = kNoNode;          // the hop under way: where it goes
    bool from_location = false;   // ... and whether the location table chose it
    std::vector<harness::LocateAsked> asked;  // its `locate`s, one per server it asked (< hop_limit)
  };
  struct HopDue {
    Duration at;
    std::uint64_t seq;
    std::shared_ptr<CallInFlight> call;
    bool operator>(const HopDue& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  // What routing calls needs besides the daemons: the plan, the truth about phones and servers
  // (from the changes the engines took and the faults as applied, never from an engine's view),
  // the per-strategy accounting, and the hops under way.
  struct Calls {
    explicit Calls(const scenario::Scenario& s)
        : plan(harness::ExpandCalls(s)), truth(s.engine.max_contacts_per_aor), reach(s.topology.node_count()), rec(s),
          locating(s.topology.node_count() + 1) {}
    const std::vector<harness::PlannedCall> plan;
    std::size_t next = 0;
    harness::PhoneTruth truth;
    harness::ServerReach reach;
    harness::CallRecorder rec;
    std::priority_queue<HopDue, std::vector<HopDue>, std::greater<>> hops;
    std::uint64_t seq = 0;
    std::uint64_t locates = 0;
    // By node: the calls whose `locate` was sent on its `locator` and not yet answered, with the
    // time they arrived there; at most kMaxOutstandingChanges each.
    std::vector<std::deque<std::pair<std::shared_ptr<CallInFlight>, Duration>>> locating;
    // The location calls that looped, with their `locate`s, to judge at the end (the first
    // kMaxLoopedCallsJudged).
    std::vector<harness::LoopedCall> looped;
  };
  // Places the calls due by `now` and moves the calls whose hop has arrived; *next is when the
  // next call or hop is due (unchanged when none is).
  Status DriveCalls(Duration now, Duration* next);
  Status PlaceCall(std::size_t i, Duration now);
  // A hop's arrival at its server at `at`.
  Status HopArrived(const std::shared_ptr<CallInFlight>& c, Duration at);
  // The call is at a server at `now`: completed there, or sent on (a hop that arrives later);
  // under location, once the server's daemon answers `locate` (ReadLocates).
  Status Arrive(const std::shared_ptr<CallInFlight>& c, Duration now);
  // The call's next hop from where it is at `now`, by what the server located (nothing: none).
  Status SendOn(const std::shared_ptr<CallInFlight>& c, const std::vector<Location>& located, Duration now);
  // Takes the `locate` answers node n has sent (waits for all of them, at most kCallTimeout,
  // with `all`) and sends their calls on.
  Status ReadLocates(NodeId n, bool all);
  void FinishCall(const CallInFlight& c, harness::CallOutcome outcome);
  // Truth for call routing: a change the engine took, a crash (no-ops without calls).
  void CallsChangeAccepted(Duration t, const harness::PlannedChange& c);
  void CallsFaultApplied(const scenario::Fault& f);
  // The calls.* metrics and summary, at the end.
  void CallsResult(harness::RunResult* result) const;

  // ---- collection (netns_collect.cc) ----
  // Asks every answering daemon its stats for second `t` on its control connection, without
  // waiting (one round at a time: sampling_). ReadStats takes the answers; with `memory_at`
  // (MemorySampleInstant) each one's held_bytes is the recorder's sample at that instant; when
  // the last has come the round's series point is made.
  Status Sample(Duration t, std::optional<Duration> memory_at);
  // The answers node n has sent on its control connection (its listing's, then stats), without
  // waiting.
  Status ReadStats(NodeId n);
  // The series point of the round, once no node it asked is still to answer.
  void FinishSampleRound();
  // The driver's loop until the round under way (if any) is done, at most kCallTimeout.
  Status FinishSampling();
  // Every live node's final view, the recorder's result, the checks and the record.
  Status Collect(Duration end, RunOutcome* outcome);
  Status WriteRecord(const std::vector<std::optional<harness::FinalView>>& finals, RunOutcome* outcome) const;
  // The driver's lateness over the run (run.json's "driver"); over kMaxChangeLateness the run is
  // invalid (outcome->invalid says why).
  void DescribeLateness(RunOutcome* outcome);
  // Every node's host counters (run.json's "hosts"), read in its namespace; a node whose reading
  // fails gets a note saying why instead. Its corosync's statistics (corosync-cmapctl -m stats)
  // go next to its log, as corosync-stats.txt.
  void ReadHostLoss(RunOutcome* outcome) const;

  const scenario::Scenario& s_;
  const RunOptions& options_;
  const NetnsOptions& netns_options_;
  std::filesystem::path daemon_;
  netns::NetnsCluster* cluster_;
  RunNetwork* network_;
  harness::RunRecorder rec_;
  std::unique_ptr<Calls> calls_;  // only when the scenario has calls
  DaemonWaitSampler waits_;  // the daemons' run-queue wait, from time 0 to the end
  std::vector<Node> nodes_;  // by node id; [0] unused
  std::int64_t mono_start_ns_ = 0;
  WallMapping wall_;
  std::chrono::steady_clock::time_point wall_start_;

  std::vector<Pending> pending_;  // a heap, earliest (t, seq) first (std::push_heap, std::greater)
  std::uint64_t seq_ = 0;
  std::vector<control::Event> event_buffer_;  // reused by every read: no allocation per read
  std::size_t poll_turn_ = 0;                 // which ready stream reads first: each in turn
  std::vector<harness::SeriesPoint> series_;
  struct SampleRound {
    Duration t;
    std::optional<Duration> memory_at;
    std::chrono::steady_clock::time_point asked;
  };
  std::optional<SampleRound> sampling_;  // the stats round under way
  std::uint64_t sampled_frames_ = 0, sampled_bytes_ = 0;  // cluster totals at the last sample
  Duration memory_read_until_{};  // the run time the last stats read was made at (memory samples)
  Duration max_lag_{};                   // the latest change so far, against its planned time
  Duration max_lag_at_{};                // ... and its planned time
  std::vector<Duration> lateness_;       // every issued change's, in issue order (bounded by the plan)
  std::size_t unmade_changes_ = 0, unmade_faults_ = 0;    // left when Drive reached the end
  // The longest a (re)started daemon's connection (subscribe, hello: answers waited for) held the
  // driver's loop, and which node's.
  Duration worst_connect_{};
  NodeId worst_connect_node_ = kNoNode;
};

template <typename R>
Status NetnsRun::Call(NodeId n, const control::Request& request, R* reply) {
  Node& node = nodes_[n];
  if (!node.control) return Status::FailedPrecondition("node " + std::to_string(n) + " has no control connection");
  // An unanswered stats request on the connection would take this call's answer.
  assert(node.stats_asked == 0 && !node.listing_since);
  return node.control->CallFor(request, kCallTimeout, reply);
}

// Refuses, with file:line:column and field, a LAN the host's link shaping cannot honour (no
// netem: delays over 1 ms); notes what is run without. (netns_checks.cc)
Status CheckShaping(const scenario::Scenario& s, netns::ShapingMethod method, std::vector<std::string>* notes);
// Several sites on the one bridge: refused unless they share the first site's LAN and their links
// add at most 1 ms of delay (not applied) and no jitter, loss or frame faults, and no fault
// degrades a link alone. (netns_checks.cc)
Status CheckSites(const scenario::Scenario& s);
// With several sites: notes that the links are not modelled. (netns_checks.cc)
void NoteSites(const scenario::Scenario& s, std::vector<std::string>* notes);

}  // namespace pbxstate::runner::netns_run
