// A hand-written run for the oracle's and the recorder's tests: what a runner would tell a
// RunRecorder (starts, faults, changes with the local view changes their engines report,
// remote view changes), and final views written out as data.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pbxstate/harness/recorder.h"
#include "pbxstate/scenario/loader.h"

namespace pbxstate::harness::testing {

using namespace std::chrono_literals;

// The scenario in `yaml`; fails the test (and aborts it) when it does not load.
scenario::Scenario LoadOrDie(const std::string& yaml);

// The cluster the hand runs describe, as YAML: `nodes` servers on one LAN of 1 ms ("lan: {delay:
// 1ms}", which tests may edit), heartbeats every 250 ms, suspicion after 1 s, no quiet phase;
// with `transport`, transport membership; with `grace_s`, that departure_grace. Tests append
// their own top-level sections (faults, checks).
std::string HandScenario(const std::string& name, std::uint32_t nodes = 3, int duration_s = 30,
                         bool transport = false, std::optional<int> grace_s = std::nullopt);

// The HLC a write made at `t` gets on an untouched clock.
inline HlcTimestamp Hlc(Duration t, std::uint32_t logical = 0) { return {kSimEpochNs + t.count(), logical}; }

class HandRun {
 public:
  explicit HandRun(const std::string& yaml, bool timelines = true);
  // `s` as given (a test may set what a file cannot, e.g. engine.membership).
  HandRun(scenario::Scenario s, bool timelines);

  // Every node starts at 0 with incarnation 1.
  void StartAll();
  void Start(Duration t, NodeId n, std::uint64_t incarnation);
  void Crash(Duration t, NodeId n);
  // A crashed node starts again (the restart fault).
  void Restart(Duration t, NodeId n, std::uint64_t incarnation);
  void Partition(Duration t, std::vector<std::vector<NodeId>> sides, bool one_way = false);
  void Isolate(Duration t, NodeId n);
  void Heal(Duration t);
  void Degrade(Duration t);
  void Restore(Duration t);
  void View(Duration t, NodeId n, std::vector<NodeId> members) { rec.MembershipDelivered(t, n, members); }

  // Local changes: made by the node's engine, which reports them as local view changes.
  void Device(Duration t, NodeId n, const std::string& key, DeviceState s);
  // The node withdraws its contribution to `key` (Engine::RemoveDevice).
  void RemoveDevice(Duration t, NodeId n, const std::string& key);
  // `report`: whether the writer reports the write (and its HLC) as a local view change.
  void Mailbox(Duration t, NodeId n, const std::string& key, MailboxCounts c, HlcTimestamp hlc, bool report = true);
  // The node removes the mailbox (Engine::RemoveMailbox); `report`: whether its engine made the
  // removal and reported it (a local view change without new_mailbox), as it does when it holds a value.
  void RemoveMailbox(Duration t, NodeId n, const std::string& key, bool report = true);
  void Register(Duration t, NodeId n, const std::string& aor, const std::string& contact, Duration expires_in);
  void Unregister(Duration t, NodeId n, const std::string& aor);

  // Remote view changes: node `n` starts showing `origin`'s contribution (nullopt: none).
  void ShowsDevice(Duration t, NodeId n, const std::string& key, NodeId origin, std::optional<DeviceState> s,
                   std::uint64_t incarnation = 1, std::uint64_t seq = 1);
  void ShowsMailbox(Duration t, NodeId n, const std::string& key, const MailboxValue& v);

  RunResult Finish(Duration end, const std::map<NodeId, FinalView>& views, std::uint64_t frames_per_node = 0);

  scenario::Scenario scenario;
  RunRecorder rec;

 private:
  std::uint64_t Incarnation(NodeId n) const;
  void Apply(Duration t, decltype(scenario::Fault::what) what);  // a fault that takes only its time and action
  // The parts every local change shares: the planned change and the writer's own view change.
  static PlannedChange Planned(Duration t, NodeId n, EntryKind kind, const std::string& key);
  static ViewChange LocalView(NodeId n, EntryKind kind, const std::string& key);
  decltype(ViewChange::version) NextVersion(NodeId n);  // the node's next (incarnation, seq)
  std::map<NodeId, std::uint64_t> incarnation_;
  std::map<NodeId, std::uint64_t> seq_;
  std::deque<RegistrationInfo> infos_;  // what registration view changes point at
};

// Final views, written as data. Devices get the aggregate of their contributions.
void AddDevice(FinalView* v, const std::string& name, NodeId node, DeviceState s, std::uint64_t incarnation = 1);
void AddRegistration(FinalView* v, const std::string& aor, NodeId node, const std::string& contact, Duration expires,
                     std::uint64_t incarnation = 1, ContactStatus status = ContactStatus::kReachable);
void AddMailbox(FinalView* v, const std::string& mailbox, MailboxCounts c, HlcTimestamp hlc, NodeId writer);
// The final views of nodes 1 and 2 after node 3 (of three) crashed: each shows node 3's device
// "D" in state `d`, or no device at all when `d` is empty.
std::map<NodeId, FinalView> SurvivorsShow(std::optional<DeviceState> d);

// Whether any discrepancy of node `n` (kNoNode: any node) contains `text`.
bool Mentions(const RunResult& r, NodeId n, const std::string& text);
// Every discrepancy, one per line, for failure messages.
std::string Discrepancies(const RunResult& r);
double Metric(const RunResult& r, const std::string& name);  // NaN when not measured

}  // namespace pbxstate::harness::testing
