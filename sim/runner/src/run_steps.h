// What every simulated backend (ns-3, inproc) does the same way while it runs a scenario: hand a
// planned change to an engine and tell the recorder, keep the truth calls are judged by, and
// route calls hop by hop on the backend's clock. The netns backend drives daemons instead of
// engines and has its own copy of the change step (run over control sockets).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pbxstate/engine.h"
#include "pbxstate/harness/calls.h"
#include "pbxstate/harness/recorder.h"
#include "pbxstate/harness/workload.h"
#include "pbxstate/scenario/scenario.h"
#include "pbxstate/status.h"

namespace pbxstate::runner {

// "file:line:col: field: what", as InvalidArgument: a scenario a backend cannot run.
Status Where(const scenario::Scenario& s, const scenario::SourcePos& pos, const std::string& field,
             const std::string& what);

// Refuses duplication and reordering of frames (LAN and link keys duplicate and reorder, and
// degrades that set them) for a backend that does not model them yet, naming where the first
// use is written. Ok when the scenario has none.
Status RefuseFrameFaults(const scenario::Scenario& s, const std::string& backend);

// The scenario as the oracle must judge a run whose engines take their membership from a
// transport (netns and emu: real corosync CPG; ns-3 over its Corosync model): cluster.membership
// transport, whether the scenario wrote it or left it out, so that RunRecorder's oracle counts
// members by the views the backend feeds it (RunRecorder::MembershipDelivered). Backends of real
// processes refuse a written `heartbeat` before (CheckRealCluster).
void JudgeByTransportMembership(scenario::Scenario* s);

// A live node's membership at the end (Engine::Members, ascending); nullopt when the backend
// cannot ask (its engines live in other processes).
using MembersAtEnd = std::function<std::optional<std::vector<NodeId>>(NodeId)>;

// The metrics read from the nodes' own end state rather than judged by the oracle (check.h):
// disagreeing_nodes (within each group of nodes that reach each other both ways by the cuts in
// force at the end: a view digest other than the group's lowest live node's, or, when `members`
// answers, a membership other than the group's live nodes), frames_refused_auth and
// changes_refused. Call after RunRecorder::Finish, before the checks are evaluated.
void AddEndStateMetrics(const scenario::Scenario& s, harness::RunResult* result, const MembersAtEnd& members = {});

// What routing calls needs besides the engines: the truth about phones and servers, and the
// per-strategy accounting. Fed by the runner as faults and changes happen (FaultDone,
// MakeChange).
struct CallWorld {
  explicit CallWorld(const scenario::Scenario& s)
      : truth(s.engine.max_contacts_per_aor), reach(s.topology.node_count()), rec(s) {}
  harness::PhoneTruth truth;
  harness::ServerReach reach;
  harness::CallRecorder rec;
};

// Tells the recorder (and the call world, when there is one) that fault `f` took effect at `t`.
void FaultDone(Duration t, const scenario::Fault& f, harness::RunRecorder& rec, CallWorld* calls);

// Hands one planned change to `engine` (nullptr: its node is down, the change is skipped) at
// simulated time `now` and tells the recorder (and the call world) what happened.
void MakeChange(const harness::PlannedChange& c, Engine* engine, Duration now, harness::RunRecorder& rec,
                CallWorld* calls);

// Whether the scenario samples engine memory at `t`: it has a memory section and `t` is a
// multiple of memory.sample_every or the end. Every runner samples at these instants.
bool MemorySampleDue(const scenario::Scenario& s, Duration t);
// A scenario with a memory section, at a whole second `t` the runner reached (the end
// included): when `t` is a sample instant (MemorySampleDue), tells
// the recorder every up node's held_bytes (EngineStats). `engine` gives a node's engine, nullptr
// when it is down. Reads only: the run's events are the same with or without it.
void SampleEngineMemory(const scenario::Scenario& s, Duration t, const std::function<const Engine*(NodeId)>& engine,
                        harness::RunRecorder& rec);

// The server a call planned to enter at `planned` arrives at: `planned` when it is up, else the
// next up node of the calls' entry list (a caller's trunk fails over), kNoNode when none is up.
// Every backend's call routing places calls through it.
NodeId EntryServer(const scenario::Calls& calls, NodeId planned, const harness::ServerReach& reach);

// A backend's clock and engines as call routing sees them.
class CallHost {
 public:
  virtual ~CallHost() = default;
  virtual Duration Now() const = 0;
  // Runs `fn` at simulated time `at` (>= Now()); actions at one instant run in the order given.
  virtual void At(Duration at, std::function<void()> fn) = 0;
  // The engine of `node`, nullptr when it is down.
  virtual const Engine* engine(NodeId node) const = 0;
};

// Routes a scenario's calls: each arrives at its entry server (a crashed one is skipped, as a
// trunk fails over) and is routed by every listed strategy, hop by hop, each hop taking the
// configured one-way delay between the two servers (scenarios/README.md, "calls").
class CallRouting {
 public:
  // `s`, `host` and `world` must outlive the routing.
  CallRouting(const scenario::Scenario& s, CallHost& host, CallWorld& world);
  ~CallRouting();
  // Schedules the first call; each call schedules the next.
  void Schedule();

 private:
  struct InFlight;
  void Pump();
  void Place(std::size_t i);
  void Finish(const InFlight& c, harness::CallOutcome outcome);
  void Arrive(const std::shared_ptr<InFlight>& c);

  const scenario::Scenario& s_;
  CallHost& host_;
  CallWorld& world_;
  const std::vector<harness::PlannedCall> calls_;
  std::size_t next_ = 0;
};

}  // namespace pbxstate::runner
