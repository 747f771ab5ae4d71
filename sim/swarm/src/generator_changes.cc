// Changes: explicit ones on a few shared keys, so that many nodes write the same device, AOR and
// mailbox, and on some seeds the scenario's own generated load, churn and bursts on top.
#include <algorithm>
#include <numeric>

#include "generator_impl.h"

namespace pbxstate::swarm::detail {
namespace {

using scenario::Scenario;
using scenario::TimedChange;

const std::vector<std::string> kDevices = {"Custom:mystate", "PJSIP/alice", "PJSIP/bob",
                                           "SIP/carol",      "Queue:sales_avail", "PJSIP/dave"};
const std::vector<std::string> kMailboxes = {"100@default", "200@default", "300@sales"};
const std::vector<std::string> kAors = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};

enum class Kind { kDevice, kMailbox, kSetRegistration, kRemoveRegistration };

Kind DrawKind(Draw& d) {
  const auto r = d.Below(100);
  return r < 45 ? Kind::kDevice : r < 60 ? Kind::kMailbox : r < 85 ? Kind::kSetRegistration : Kind::kRemoveRegistration;
}

std::vector<NodeId> UpNodes(const Scenario& s, Duration t) {
  std::vector<NodeId> up;
  for (NodeId n = 1; n <= s.topology.node_count(); ++n) {
    if (UpAt(s, n, t)) up.push_back(n);
  }
  return up;
}

TimedChange Change(Draw& d, Kind kind, Duration at, NodeId node) {
  TimedChange c;
  c.at = at;
  c.node = node;
  switch (kind) {
    case Kind::kDevice:
      c.what = scenario::DeviceChange{d.Pick(kDevices), static_cast<DeviceState>(d.Below(kDeviceStateCount))};
      break;
    case Kind::kMailbox: {
      MailboxCounts counts{static_cast<std::uint32_t>(d.Below(50)), static_cast<std::uint32_t>(d.Below(50)),
                           static_cast<std::uint32_t>(d.Below(5))};
      c.what = scenario::MailboxChange{d.Pick(kMailboxes), counts};
      break;
    }
    case Kind::kSetRegistration: {
      scenario::RegistrationSet r;
      r.aor = d.Pick(kAors);
      r.contact = "sip:" + r.aor + "@198.51.100." + std::to_string(d.Below(255)) + ":" + std::to_string(5060 + d.Below(100));
      // Expiry well inside the run (it expires everywhere at once) or hours after it.
      r.expires = d.Chance(0.3) ? std::chrono::seconds(d.Between(1, 5))
                                : Duration(std::chrono::hours(2) + std::chrono::seconds(d.Between(0, 3600)));
      r.status = d.Chance(0.2) ? ContactStatus::kUnreachable : ContactStatus::kReachable;
      c.what = r;
      break;
    }
    case Kind::kRemoveRegistration:
      c.what = scenario::RegistrationRemove{d.Pick(kAors), {}};
      break;
  }
  return c;
}

// One action: a change (or a same-instant burst of them) at `at` by a node up then. MWI writes
// come from stable nodes only, one per instant.
void AddAction(Draw& d, const Shape& shape, Scenario* s, Duration at, std::set<Duration>* mwi_instants) {
  const Kind kind = DrawKind(d);
  if (kind == Kind::kMailbox) {
    if (!mwi_instants->insert(at).second) return;
    const std::vector<NodeId> writers(shape.stable.begin(), shape.stable.end());
    s->workload.changes.push_back(Change(d, kind, at, d.Pick(writers)));
    return;
  }
  const std::vector<NodeId> up = UpNodes(*s, at);
  const NodeId node = d.Pick(up);
  const auto burst = d.Chance(0.1) ? d.Between(2, 30) : 1;
  for (std::int64_t b = 0; b < burst; ++b) s->workload.changes.push_back(Change(d, kind, at, node));
}

// The scenario's own generated load on some seeds: steady changes of generated keys, bursts,
// registration churn.
void DrawGeneratedLoad(Draw& d, const Shape& shape, Scenario* s) {
  scenario::Workload& w = s->workload;
  if (!d.Chance(0.3)) return;
  w.devices = static_cast<std::uint32_t>(d.Between(1, 30));
  w.aors = d.Chance(0.5) ? static_cast<std::uint32_t>(d.Between(1, 30)) : 0;
  w.mailboxes = d.Chance(0.3) ? static_cast<std::uint32_t>(d.Between(1, 3)) : 0;
  // Generated MWI writes come from the mailbox's home: homes only on nodes that never crash.
  if (w.mailboxes > 0) w.nodes.assign(shape.stable.begin(), shape.stable.end());
  w.spread = d.Chance(0.5) ? scenario::Spread::kRandom : scenario::Spread::kEven;
  w.rate_per_s = static_cast<double>(d.Between(1, 40));
  const bool churn = w.aors > 0 && d.Chance(0.4);
  const std::int64_t mwi = w.mailboxes > 0 ? d.Between(1, 30) : 0;
  const std::int64_t reg = w.aors > 0 && !churn ? d.Between(1, 40) : 0;
  w.mix = {static_cast<double>(100 - mwi - reg) / 100.0, static_cast<double>(mwi) / 100.0, static_cast<double>(reg) / 100.0};
  if (d.Chance(0.3)) w.registration_expiry = std::chrono::seconds(d.Between(1, 5));
  if (churn) {
    scenario::Churn c;
    c.register_over = d.Ms(1, s->duration.count() / 1'000'000);
    c.refresh_per_s = static_cast<double>(d.Between(0, 5));
    c.move_per_s = static_cast<double>(d.Between(0, 5));
    c.lapse_per_s = static_cast<double>(d.Between(0, 2));
    c.lapse_expiry = std::chrono::seconds(d.Between(1, 15));
    w.churn = c;
  }
  if (d.Chance(0.3)) {
    scenario::Burst b;
    b.at = d.Ms(0, s->duration.count() / 1'000'000 - 2'000);
    b.what = scenario::CallStorm{d.Ms(1, 2'000), static_cast<double>(d.Between(10, 100)), {}};
    w.bursts.push_back(b);
  }
}

}  // namespace

void DrawChanges(Draw& d, const Shape& shape, Scenario* s) {
  scenario::Workload& w = s->workload;
  w.nodes.resize(s->topology.node_count());
  std::iota(w.nodes.begin(), w.nodes.end(), NodeId{1});
  w.stop = s->duration;
  const std::int64_t faults_ms = shape.faults_end.count() / 1'000'000;
  const std::int64_t end_ms = s->duration.count() / 1'000'000;
  std::vector<Duration> times;
  for (std::int64_t k = d.Between(30, 300); k > 0; --k) times.push_back(d.Ms(0, faults_ms - 1));
  for (std::int64_t k = d.Between(0, 20); k > 0; --k) times.push_back(d.Ms(faults_ms + 1, end_ms));
  std::sort(times.begin(), times.end());
  std::set<Duration> mwi_instants;
  for (Duration t : times) AddAction(d, shape, s, t, &mwi_instants);
  DrawGeneratedLoad(d, shape, s);
}

}  // namespace pbxstate::swarm::detail
