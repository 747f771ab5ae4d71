#include "hand_run.h"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace pbxstate::harness::testing {

scenario::Scenario LoadOrDie(const std::string& yaml) {
  scenario::LoadResult r = scenario::LoadScenarioString(yaml, "hand-run.yaml");
  if (!r.ok()) {
    for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
    std::abort();
  }
  return *r.scenario;
}

std::string HandScenario(const std::string& name, std::uint32_t nodes, int duration_s, bool transport,
                         std::optional<int> grace_s) {
  std::string yaml = "name: " + name + "\nduration: " + std::to_string(duration_s) + "s\nquiet: 0ms\n" +
                     "cluster: {nodes: " + std::to_string(nodes) + (transport ? ", membership: transport" : "") +
                     "}\nnetwork:\n  lan: {delay: 1ms}\nengine:\n  heartbeat_interval: 250ms\n  suspect_after: 1s\n";
  if (grace_s) yaml += "  departure_grace: " + std::to_string(*grace_s) + "s\n";
  return yaml;
}

HandRun::HandRun(const std::string& yaml, bool timelines) : HandRun(LoadOrDie(yaml), timelines) {}

HandRun::HandRun(scenario::Scenario s, bool timelines) : scenario(std::move(s)), rec(scenario, timelines) {}

void HandRun::StartAll() {
  for (NodeId n = 1; n <= scenario.topology.node_count(); ++n) Start(Duration{}, n, 1);
}

void HandRun::Start(Duration t, NodeId n, std::uint64_t incarnation) {
  incarnation_[n] = incarnation;
  seq_[n] = 0;
  rec.NodeStarted(t, n, incarnation);
}

void HandRun::Crash(Duration t, NodeId n) {
  rec.NodeCrashed(t, n, EngineStats{});
  scenario::Fault f;
  f.at = t;
  f.what = scenario::Crash{n};
  rec.FaultApplied(t, f);
  incarnation_[n] = 0;
}

void HandRun::Restart(Duration t, NodeId n, std::uint64_t incarnation) {
  Start(t, n, incarnation);
  scenario::Fault f;
  f.at = t;
  f.what = scenario::Restart{n};
  rec.FaultApplied(t, f);
}

void HandRun::Partition(Duration t, std::vector<std::vector<NodeId>> sides, bool one_way) {
  // As the loader does: nodes in no side form one more side.
  std::vector<bool> listed(scenario.topology.node_count() + 1, false);
  for (const auto& side : sides) {
    for (NodeId n : side) listed[n] = true;
  }
  std::vector<NodeId> rest;
  for (NodeId n = 1; n <= scenario.topology.node_count(); ++n) {
    if (!listed[n]) rest.push_back(n);
  }
  if (!rest.empty()) sides.push_back(rest);
  scenario::Fault f;
  f.at = t;
  f.what = scenario::Partition{sides, one_way};
  rec.FaultApplied(t, f);
}

void HandRun::Isolate(Duration t, NodeId n) {
  Apply(t, scenario::Isolate{n});
}

void HandRun::Heal(Duration t) {
  Apply(t, scenario::Heal{});
}

void HandRun::Degrade(Duration t) {
  Apply(t, scenario::Degrade{});
}

void HandRun::Restore(Duration t) {
  Apply(t, scenario::Restore{});
}

std::uint64_t HandRun::Incarnation(NodeId n) const {
  auto it = incarnation_.find(n);
  return it == incarnation_.end() ? 0 : it->second;
}

void HandRun::Apply(Duration t, decltype(scenario::Fault::what) what) {
  scenario::Fault f;
  f.at = t;
  f.what = std::move(what);
  rec.FaultApplied(t, f);
}

PlannedChange HandRun::Planned(Duration t, NodeId n, EntryKind kind, const std::string& key) {
  PlannedChange c;
  c.at = t;
  c.node = n;
  c.kind = kind;
  c.key = key;
  return c;
}

ViewChange HandRun::LocalView(NodeId n, EntryKind kind, const std::string& key) {
  ViewChange ch{};
  ch.kind = kind;
  ch.cause = ChangeCause::kLocal;
  ch.key = key;
  ch.origin = n;
  return ch;
}

decltype(ViewChange::version) HandRun::NextVersion(NodeId n) { return {Incarnation(n), ++seq_[n]}; }

void HandRun::Device(Duration t, NodeId n, const std::string& key, DeviceState s) {
  PlannedChange c = Planned(t, n, EntryKind::kDevice, key);
  c.state = s;
  ViewChange ch = LocalView(n, EntryKind::kDevice, key);
  ch.version = NextVersion(n);
  ch.new_contribution = s;
  rec.ViewChanged(t, n, ch);
  rec.ChangeMade(t, c, Status::Ok());
}

void HandRun::RemoveDevice(Duration t, NodeId n, const std::string& key) {
  PlannedChange c = Planned(t, n, EntryKind::kDevice, key);
  c.remove = true;
  ViewChange ch = LocalView(n, EntryKind::kDevice, key);
  ch.version = NextVersion(n);
  rec.ViewChanged(t, n, ch);
  rec.ChangeMade(t, c, Status::Ok());
}

void HandRun::Mailbox(Duration t, NodeId n, const std::string& key, MailboxCounts counts, HlcTimestamp hlc, bool report) {
  PlannedChange c = Planned(t, n, EntryKind::kMailbox, key);
  c.counts = counts;
  if (report) {
    ViewChange ch = LocalView(n, EntryKind::kMailbox, key);
    ch.new_mailbox = MailboxValue{counts, hlc, n};
    rec.ViewChanged(t, n, ch);
  }
  rec.ChangeMade(t, c, Status::Ok());
}

void HandRun::RemoveMailbox(Duration t, NodeId n, const std::string& key, bool report) {
  PlannedChange c = Planned(t, n, EntryKind::kMailbox, key);
  c.remove = true;
  if (report) rec.ViewChanged(t, n, LocalView(n, EntryKind::kMailbox, key));
  rec.ChangeMade(t, c, Status::Ok());
}

void HandRun::Register(Duration t, NodeId n, const std::string& aor, const std::string& contact, Duration expires_in) {
  PlannedChange c = Planned(t, n, EntryKind::kRegistration, aor);
  c.contact = contact;
  c.expires_in = expires_in;
  infos_.push_back(RegistrationInfo{contact, WallTime(Duration(kSimEpochNs) + t + expires_in), ContactStatus::kReachable, 0, {}, {}});
  ViewChange ch = LocalView(n, EntryKind::kRegistration, aor);
  ch.version = NextVersion(n);
  ch.new_registration = &infos_.back();
  rec.ViewChanged(t, n, ch);
  rec.ChangeMade(t, c, Status::Ok());
}

void HandRun::Unregister(Duration t, NodeId n, const std::string& aor) {
  PlannedChange c = Planned(t, n, EntryKind::kRegistration, aor);
  c.remove = true;
  ViewChange ch = LocalView(n, EntryKind::kRegistration, aor);
  ch.version = NextVersion(n);
  rec.ViewChanged(t, n, ch);
  rec.ChangeMade(t, c, Status::Ok());
}

void HandRun::ShowsDevice(Duration t, NodeId n, const std::string& key, NodeId origin, std::optional<DeviceState> s,
                          std::uint64_t incarnation, std::uint64_t seq) {
  ViewChange ch{};
  ch.kind = EntryKind::kDevice;
  ch.cause = s ? ChangeCause::kRemote : ChangeCause::kDeparture;
  ch.key = key;
  ch.origin = origin;
  ch.version = {incarnation, seq};
  ch.new_contribution = s;
  rec.ViewChanged(t, n, ch);
}

void HandRun::ShowsMailbox(Duration t, NodeId n, const std::string& key, const MailboxValue& v) {
  ViewChange ch{};
  ch.kind = EntryKind::kMailbox;
  ch.cause = ChangeCause::kRemote;
  ch.key = key;
  ch.origin = v.writer;
  ch.new_mailbox = v;
  rec.ViewChanged(t, n, ch);
}

RunResult HandRun::Finish(Duration end, const std::map<NodeId, FinalView>& views, std::uint64_t frames_per_node) {
  return rec.Finish(end, [&](NodeId n) {
    RunRecorder::NodeAtEnd a;
    if (auto it = views.find(n); it != views.end()) a.view = it->second;
    a.frames_sent = frames_per_node;
    a.bytes_sent = 100 * frames_per_node;
    return a;
  });
}

void AddDevice(FinalView* v, const std::string& name, NodeId node, DeviceState s, std::uint64_t incarnation) {
  auto it = std::find_if(v->devices.begin(), v->devices.end(), [&](const FinalView::Device& d) { return d.name == name; });
  if (it == v->devices.end()) {
    v->devices.push_back({name, std::nullopt, {}});
    it = std::prev(v->devices.end());
  }
  it->contributions.push_back({node, s, {incarnation, 1}});
  std::vector<DeviceState> states;
  for (const DeviceContribution& c : it->contributions) states.push_back(c.state);
  it->aggregate = OracleAggregate(states);
}

std::map<NodeId, FinalView> SurvivorsShow(std::optional<DeviceState> d) {
  std::map<NodeId, FinalView> v;
  for (NodeId n : {1, 2}) {
    v[n] = FinalView{};
    if (d) AddDevice(&v[n], "D", 3, *d);
  }
  return v;
}

void AddRegistration(FinalView* v, const std::string& aor, NodeId node, const std::string& contact, Duration expires,
                     std::uint64_t incarnation, ContactStatus status) {
  v->registrations.push_back(
      {aor, RegistrationView{node, RegistrationInfo{contact, WallTime(Duration(kSimEpochNs) + expires), status, 0, {}, {}},
                             {incarnation, 1}}});
}

void AddMailbox(FinalView* v, const std::string& mailbox, MailboxCounts c, HlcTimestamp hlc, NodeId writer) {
  v->mailboxes.push_back({mailbox, MailboxValue{c, hlc, writer}});
}

bool Mentions(const RunResult& r, NodeId n, const std::string& text) {
  for (const Discrepancy& d : r.discrepancies) {
    if ((n == kNoNode || d.node == n) && d.what.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string Discrepancies(const RunResult& r) {
  std::string s;
  for (const Discrepancy& d : r.discrepancies) s += "  node " + std::to_string(d.node) + ": " + d.what + "\n";
  return s.empty() ? "  (none)\n" : s;
}

double Metric(const RunResult& r, const std::string& name) {
  auto it = r.metrics.find(name);
  return it == r.metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

}  // namespace pbxstate::harness::testing
