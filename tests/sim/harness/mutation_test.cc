// The mutation test: a real run on engines (the inproc cluster: four nodes, every kind of
// entry, a crash past its detection, a crash and restart, an expired and a removed
// registration), whose genuine final views the oracle must accept as they are, then corrupted
// one way at a time; each corruption must be caught, with a description that says what it is.
#include <functional>
#include <memory>

#include "hand_run.h"
#include "pbxstate/inproc/cluster.h"

namespace pbxstate::harness::testing {
namespace {

// The scenario the recorder judges by: the same settings the cluster runs with (inproc links
// delay frames by 1 ms).
const std::string kScenario = HandScenario("mutation", 4, 20);

Duration Now(const inproc::Cluster& c) { return c.now().time_since_epoch(); }

// Runs the cluster and keeps everything it told the recorder, so that the same history can be
// judged again with other final views.
class TapedRun {
 public:
  TapedRun() : scenario_(LoadOrDie(kScenario)) {
    inproc::ClusterOptions o;
    o.nodes = 4;
    o.seed = 14;
    o.engine = scenario_.engine;
    EXPECT_TRUE(inproc::Cluster::Create(o, &cluster_).ok());
    for (std::size_t i = 0; i < 4; ++i) {
      const std::uint64_t inc = cluster_->incarnation(i);
      Tape([i, inc](RunRecorder& r) { r.NodeStarted(Duration{}, inproc::Cluster::IdOf(i), inc); });
    }
    cluster_->SetTraceHook([this](const inproc::TraceEvent& e) {
      const Duration t = e.at.time_since_epoch();
      const NodeId n = inproc::Cluster::IdOf(e.node);
      if (e.kind == inproc::TraceKind::kViewChange) {
        auto owned = std::make_shared<Owned>();
        owned->change = *e.change;
        owned->key = std::string(e.change->key);
        if (e.change->old_registration) owned->old_r = *e.change->old_registration;
        if (e.change->new_registration) owned->new_r = *e.change->new_registration;
        Tape([t, n, owned](RunRecorder& r) { r.ViewChanged(t, n, owned->Bound()); });
      } else if (e.kind == inproc::TraceKind::kStart && t > Duration{}) {
        const std::uint64_t inc = cluster_->incarnation(e.node);
        Tape([t, n, inc](RunRecorder& r) { r.NodeStarted(t, n, inc); });
      }
    });
  }

  void At(Duration t) { ASSERT_TRUE(cluster_->RunUntil(MonoTime(t)).ok()); }

  void Device(NodeId n, const std::string& key, DeviceState s) {
    PlannedChange c = Base(n, EntryKind::kDevice, key);
    c.state = s;
    Made(c, cluster_->SetDeviceState(n - 1, key, s));
  }
  void Mailbox(NodeId n, const std::string& key, MailboxCounts counts) {
    PlannedChange c = Base(n, EntryKind::kMailbox, key);
    c.counts = counts;
    Made(c, cluster_->SetMailbox(n - 1, key, counts));
  }
  void Register(NodeId n, const std::string& aor, const std::string& contact, Duration expires_in) {
    PlannedChange c = Base(n, EntryKind::kRegistration, aor);
    c.contact = contact;
    c.expires_in = expires_in;
    Made(c, cluster_->SetRegistration(n - 1, aor, contact, expires_in));
  }
  void Unregister(NodeId n, const std::string& aor) {
    PlannedChange c = Base(n, EntryKind::kRegistration, aor);
    c.remove = true;
    Made(c, cluster_->RemoveRegistration(n - 1, aor));
  }
  void Crash(NodeId n) {
    const Duration t = Now(*cluster_);
    const EngineStats last = cluster_->stats(n - 1);
    ASSERT_TRUE(cluster_->Crash(n - 1).ok());
    scenario::Fault f;
    f.at = t;
    f.what = scenario::Crash{n};
    Tape([t, n, last, f](RunRecorder& r) {
      r.NodeCrashed(t, n, last);
      r.FaultApplied(t, f);
    });
  }
  void Restart(NodeId n) {
    scenario::Fault f;
    f.at = Now(*cluster_);
    f.what = scenario::Restart{n};
    ASSERT_TRUE(cluster_->Restart(n - 1).ok());  // the trace hook tapes the start
    Tape([f](RunRecorder& r) { r.FaultApplied(f.at, f); });
  }

  // Every up node's final view, as the engine gives it.
  std::map<NodeId, FinalView> FinalViews() const {
    std::map<NodeId, FinalView> v;
    for (std::size_t i : cluster_->UpNodes()) v[inproc::Cluster::IdOf(i)] = FinalViewOf(*cluster_->engine(i));
    return v;
  }
  std::uint64_t Incarnation(NodeId n) const { return cluster_->incarnation(n - 1); }

  // Judges the taped history with these final views at the cluster's present instant.
  RunResult Judge(const std::map<NodeId, FinalView>& views) const {
    RunRecorder rec(scenario_, /*keep_timelines=*/true);
    for (const auto& f : tape_) f(rec);
    return rec.Finish(Now(*cluster_), [&](NodeId n) {
      RunRecorder::NodeAtEnd a;
      if (auto it = views.find(n); it != views.end()) a.view = it->second;
      return a;
    });
  }

 private:
  struct Owned {
    ViewChange change;
    std::string key;
    std::optional<RegistrationInfo> old_r, new_r;
    ViewChange Bound() const {
      ViewChange c = change;
      c.key = key;
      c.old_registration = old_r ? &*old_r : nullptr;
      c.new_registration = new_r ? &*new_r : nullptr;
      return c;
    }
  };
  PlannedChange Base(NodeId n, EntryKind kind, const std::string& key) const {
    PlannedChange c;
    c.at = Now(*cluster_);
    c.node = n;
    c.kind = kind;
    c.key = key;
    return c;
  }
  void Made(const PlannedChange& c, const Status& st) {
    ASSERT_TRUE(st.ok()) << st.ToString();
    Tape([c, st](RunRecorder& r) { r.ChangeMade(c.at, c, st); });
  }
  void Tape(std::function<void(RunRecorder&)> f) { tape_.push_back(std::move(f)); }

  scenario::Scenario scenario_;
  std::unique_ptr<inproc::Cluster> cluster_;
  std::vector<std::function<void(RunRecorder&)>> tape_;
};

// The run every mutation starts from.
class MutationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    run_ = new TapedRun();
    TapedRun& r = *run_;
    r.At(500ms);
    r.Device(1, "A", DeviceState::kInUse);
    r.Device(2, "A", DeviceState::kRinging);
    r.Device(3, "B", DeviceState::kBusy);
    r.Device(4, "C", DeviceState::kOnHold);
    r.Mailbox(1, "M1@d", {2, 1, 0});
    r.Mailbox(2, "M2@d", {1, 0, 0});
    r.Register(1, "aor1", "sip:a@198.18.0.1", 3600s);
    r.Register(2, "aor1", "sip:b@198.18.0.2", 3600s);
    r.Register(3, "aor2", "sip:c@198.18.0.3", 2s);  // expires at 2.5 s
    r.Register(2, "aor3", "sip:d@198.18.0.2", 3600s);
    r.At(600ms);
    r.Mailbox(3, "M1@d", {3, 0, 0});  // the winner of M1
    r.At(1s);
    r.Unregister(2, "aor3");
    r.At(2s);
    r.Crash(4);  // detected and dropped long before the end
    r.At(5s);
    first_incarnation_3_ = r.Incarnation(3);
    r.Crash(3);
    r.At(6s);
    r.Restart(3);
    r.At(6500ms);
    r.Device(3, "B", DeviceState::kNotInUse);
    r.Register(3, "aor4", "sip:e@198.18.0.3", 3600s);
    r.At(20s);
    views_ = new std::map<NodeId, FinalView>(r.FinalViews());
  }
  static void TearDownTestSuite() {
    delete run_;
    delete views_;
  }

  static TapedRun* run_;
  static std::map<NodeId, FinalView>* views_;
  static std::uint64_t first_incarnation_3_;
};
TapedRun* MutationTest::run_ = nullptr;
std::map<NodeId, FinalView>* MutationTest::views_ = nullptr;
std::uint64_t MutationTest::first_incarnation_3_ = 0;

FinalView::Device& DeviceOf(FinalView& v, const std::string& name) {
  for (auto& d : v.devices) {
    if (d.name == name) return d;
  }
  ADD_FAILURE() << "no device " << name;
  static FinalView::Device none;
  return none;
}
DeviceContribution& ContributionOf(FinalView& v, const std::string& name, NodeId node) {
  for (auto& c : DeviceOf(v, name).contributions) {
    if (c.node == node) return c;
  }
  ADD_FAILURE() << "no contribution of node " << node << " to " << name;
  static DeviceContribution none{};
  return none;
}
void Reaggregate(FinalView::Device& d) {
  std::vector<DeviceState> states;
  for (const auto& c : d.contributions) states.push_back(c.state);
  d.aggregate = OracleAggregate(states);
}
RegistrationView& RegistrationOf(FinalView& v, const std::string& aor, NodeId node) {
  for (auto& r : v.registrations) {
    if (r.aor == aor && r.view.node == node) return r.view;
  }
  ADD_FAILURE() << "no registration " << aor << " of node " << node;
  static RegistrationView none{};
  return none;
}
MailboxValue& MailboxOf(FinalView& v, const std::string& mailbox) {
  for (auto& m : v.mailboxes) {
    if (m.mailbox == mailbox) return m.value;
  }
  ADD_FAILURE() << "no mailbox " << mailbox;
  static MailboxValue none{};
  return none;
}

TEST_F(MutationTest, TheGenuineFinalViewsPass) {
  ASSERT_EQ(views_->size(), 3u);  // node 4 is down
  const RunResult r = run_->Judge(*views_);
  EXPECT_EQ(Metric(r, "lost"), 0) << Discrepancies(r);
  EXPECT_EQ(Metric(r, "stale"), 0) << Discrepancies(r);
  // The run exercised what the mutations corrupt.
  FinalView v = views_->at(1);
  EXPECT_EQ(DeviceOf(v, "A").aggregate, DeviceState::kRingInUse);
  EXPECT_EQ(MailboxOf(v, "M1@d").writer, 3u);
  EXPECT_EQ(ContributionOf(v, "B", 3).version.incarnation, run_->Incarnation(3));
  EXPECT_NE(run_->Incarnation(3), first_incarnation_3_);
  EXPECT_EQ(v.members, (std::vector<NodeId>{1, 2, 3}));
}

struct Mutation {
  const char* name;
  std::function<void(FinalView&)> corrupt;
  const char* caught_as;  // a piece of the discrepancy it must produce
};

TEST_F(MutationTest, EveryCorruptionIsCaughtAndNamed) {
  const std::uint64_t old_inc = first_incarnation_3_;
  const std::uint64_t inc4 = 0;  // node 4 never restarted: any incarnation of it is void now
  const std::vector<Mutation> mutations = {
      {"changed device state",
       [](FinalView& v) {
         ContributionOf(v, "A", 2).state = DeviceState::kBusy;
         Reaggregate(DeviceOf(v, "A"));
       },
       "stale device A from node 2: shows BUSY"},
      {"dropped registration",
       [](FinalView& v) {
         std::erase_if(v.registrations, [](const auto& r) { return r.aor == "aor1" && r.view.node == 2; });
       },
       "lost registration aor1 <sip:b@198.18.0.2> from node 2"},
      {"wrong mailbox writer", [](FinalView& v) { MailboxOf(v, "M1@d").writer = 2; }, "stale mailbox M1@d"},
      {"wrong mailbox counts", [](FinalView& v) { MailboxOf(v, "M1@d").counts.new_messages = 4; }, "stale mailbox M1@d"},
      {"wrong mailbox HLC", [](FinalView& v) { MailboxOf(v, "M1@d").hlc.logical += 1; }, "stale mailbox M1@d"},
      {"older mailbox write",
       [](FinalView& v) { MailboxOf(v, "M1@d") = MailboxValue{{2, 1, 0}, {kSimEpochNs + 500'000'000, 0}, 1}; },
       "stale mailbox M1@d: shows 2/1/0 by node 1"},
      {"missing mailbox", [](FinalView& v) { std::erase_if(v.mailboxes, [](const auto& m) { return m.mailbox == "M2@d"; }); },
       "lost mailbox M2@d"},
      {"entry of a crashed node",
       [inc4](FinalView& v) { AddDevice(&v, "C", 4, DeviceState::kOnHold, inc4 + 1); },
       "shows device C from node 4, which it should not"},
      {"extra device from a departed node",
       [](FinalView& v) { AddDevice(&v, "PJSIP/ghost", 4, DeviceState::kInUse); },
       "shows device PJSIP/ghost from node 4, which it should not"},
      {"wrong aggregate", [](FinalView& v) { DeviceOf(v, "A").aggregate = DeviceState::kInUse; },
       "wrong aggregate for device A: shows INUSE, its contributions make RINGINUSE"},
      {"old incarnation", [old_inc](FinalView& v) { ContributionOf(v, "B", 3).version.incarnation = old_inc; },
       "stale device B from node 3"},
      {"contribution of the old incarnation",
       [old_inc](FinalView& v) {
         ContributionOf(v, "B", 3) = DeviceContribution{3, DeviceState::kBusy, {old_inc, 1}};
         Reaggregate(DeviceOf(v, "B"));
       },
       "stale device B from node 3: shows BUSY"},
      {"expired registration still shown",
       [old_inc](FinalView& v) { AddRegistration(&v, "aor2", 3, "sip:c@198.18.0.3", 2500ms, old_inc); },
       "shows registration aor2 <sip:c@198.18.0.3> from node 3, which it should not"},
      {"removed registration still shown",
       [](FinalView& v) { AddRegistration(&v, "aor3", 2, "sip:d@198.18.0.2", 3600500ms); },
       "shows registration aor3 <sip:d@198.18.0.2> from node 2, which it should not"},
      // A contact names its entry: another URI is another contact, shown where none should be.
      {"wrong contact", [](FinalView& v) { RegistrationOf(v, "aor1", 1).info.contact = "sip:a@198.18.0.9"; },
       "shows registration aor1 <sip:a@198.18.0.9> from node 1, which it should not"},
      {"wrong registration status",
       [](FinalView& v) { RegistrationOf(v, "aor1", 2).info.status = ContactStatus::kUnreachable; },
       "stale registration aor1 <sip:b@198.18.0.2> from node 2: shows unreachable"},
      {"wrong registration expiry",
       [](FinalView& v) { RegistrationOf(v, "aor4", 3).info.expires += 1s; }, "stale registration aor4 <sip:e@198.18.0.3> from node 3"},
      {"registration listed twice",
       [](FinalView& v) { v.registrations.push_back(v.registrations.front()); }, "twice"},
      {"member missing", [](FinalView& v) { v.members = std::vector<NodeId>{1, 3}; }, "members lack node 2"},
      {"departed node still a member", [](FinalView& v) { v.members = std::vector<NodeId>{1, 2, 3, 4}; },
       "members list node 4"},
  };
  for (const Mutation& m : mutations) {
    SCOPED_TRACE(m.name);
    std::map<NodeId, FinalView> views = *views_;
    m.corrupt(views.at(1));
    const RunResult r = run_->Judge(views);
    EXPECT_GT(Metric(r, "lost") + Metric(r, "stale"), 0) << m.name << " was not caught";
    EXPECT_TRUE(Mentions(r, 1, m.caught_as)) << m.name << ": expected \"" << m.caught_as << "\" in\n"
                                             << Discrepancies(r);
    // Only node 1 was corrupted: nobody else is blamed.
    for (const Discrepancy& d : r.discrepancies) EXPECT_EQ(d.node, 1u) << d.what;
  }
  EXPECT_GE(mutations.size(), 10u);
}

}  // namespace
}  // namespace pbxstate::harness::testing
