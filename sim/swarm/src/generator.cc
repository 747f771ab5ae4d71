#include <algorithm>
#include <string>
#include <variant>

#include "generator_impl.h"
#include "pbxstate/scenario/check.h"

namespace pbxstate::swarm {
namespace {

using detail::Draw;
using detail::Shape;
using scenario::Scenario;

// Streams of one seed: the scenario's draws come from their own, so that the scenario's seed
// (which drives the run's network and engines) is the swarm seed itself.
constexpr std::uint64_t kScenarioStream = 0x5ce7a210;

// The active phase: faults in the first part, then a few seconds of changes only (restarted
// nodes take part), then the quiet phase. The quiet phase outlasts the slowest recovery drawn
// (failure detection 2 s + departure grace 1.5 s + abandoned catch-ups at 3 s + anti-entropy
// rounds of 3 s) several times over.
constexpr Duration kLateChanges = 5s;
constexpr Duration kQuiet = 25s;
// With loss above kLightLoss in force to the end, repairs take retries of their own: seeds 570
// and 754 (transport, 28% and 19% loss) agreed 40 s after the heal, not within 25 s.
constexpr double kLightLoss = 0.01;
constexpr Duration kQuietLossy = 45s;

Shape DrawShape(Draw& d, const GeneratorOptions& options, Scenario* s) {
  Shape shape;
  shape.membership = options.membership.value_or(d.Chance(0.5) ? MembershipSource::kHeartbeat
                                                               : MembershipSource::kTransport);
  shape.reliable = shape.membership == MembershipSource::kTransport && d.Chance(0.25);
  shape.frame_faults = options.frame_faults && !shape.reliable;
  shape.faults_end = d.Ms(8'000, 35'000);
  shape.end_partitioned = d.Chance(0.15);
  s->duration = shape.faults_end + kLateChanges;
  s->quiet = scenario::DetectionRelative{kQuiet};
  return shape;
}

void DrawCluster(Draw& d, Shape& shape, Scenario* s) {
  scenario::Topology& t = s->topology;
  std::vector<std::uint32_t> sizes;
  if (d.Chance(0.6)) {
    sizes.push_back(static_cast<std::uint32_t>(d.Between(2, kMaxGeneratedNodes)));
  } else {
    const auto sites = d.Between(2, 4);
    std::uint32_t total = 0;
    for (std::int64_t i = 0; i < sites; ++i) {
      const auto n = static_cast<std::uint32_t>(d.Between(1, std::min<std::int64_t>(4, kMaxGeneratedNodes - total - (sites - i - 1))));
      sizes.push_back(n);
      total += n;
    }
    t.named_sites = true;
  }
  NodeId next = 1;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    scenario::Site site;
    if (t.named_sites) site.name = "site" + std::to_string(i + 1);
    site.node_count = sizes[i];
    site.first_node = next;
    next += sizes[i];
    t.sites.push_back(site);
  }
  for (std::size_t a = 0; a < t.sites.size(); ++a) {
    for (std::size_t b = a + 1; b < t.sites.size(); ++b) t.links.push_back({a, b, {}});
  }
  // Node 1 never crashes, half the time node 2 neither (when there is one).
  shape.stable = {1};
  if (t.node_count() > 2 && d.Chance(0.5)) shape.stable.insert(2);
  s->auth = d.Chance(0.35);
  if (shape.membership == MembershipSource::kTransport) {
    s->membership.source = MembershipSource::kTransport;
    s->membership.views = shape.reliable ? scenario::ViewModel::kConsistent : scenario::ViewModel::kPerNode;
    if (!shape.reliable) s->membership.view_delay = d.Ms(0, 300);
  } else if (d.Chance(0.5)) {
    s->membership.source = MembershipSource::kHeartbeat;  // written out, or left to the default
  }
  const std::vector<scenario::TransportMode> modes = {scenario::TransportMode::kMulticast,
                                                      scenario::TransportMode::kUnicast};
  s->transport = t.sites.size() == 1 && d.Chance(0.2) ? scenario::TransportMode::kBroadcast : d.Pick(modes);
}

// Loss that stays in force to the end (configured on a LAN or link, not a degradation): only
// where no failure detector can mistake it for a departure. With heartbeats, a few lost in a row
// make a node "depart" for a moment; near the end of a run its entries are then missing or
// frozen, which the oracle cannot know (sim/swarm/README.md). Transport views follow the cuts,
// not the loss.
bool LossMayStay(const Shape& shape) {
  return !shape.reliable && shape.membership == MembershipSource::kTransport;
}

// Frame faults that stay in force to the end: any amount of duplication and reordering.
scenario::FrameFaults DrawFrameFaults(Draw& d, const Shape& shape) {
  scenario::FrameFaults f;
  if (!shape.frame_faults) return f;
  if (d.Chance(0.5)) f.duplicate = d.Share(0.2);
  if (d.Chance(0.5)) {
    f.reorder = d.Share(0.2);
    f.reorder_delay = d.Ms(5, 100);
  }
  return f;
}

void DrawNetwork(Draw& d, const Shape& shape, Scenario* s) {
  scenario::Topology& t = s->topology;
  for (scenario::Site& site : t.sites) {
    site.lan.delay = d.Chance(0.3) ? std::chrono::microseconds(d.Between(50, 999)) : d.Ms(1, 20);
    site.lan.bandwidth_bps = d.Chance(0.2) ? 10'000'000 : 1'000'000'000;
    if (LossMayStay(shape) && d.Chance(0.3)) site.lan.loss = d.Share(0.3);
    site.lan.frames = DrawFrameFaults(d, shape);
  }
  for (scenario::SiteLink& link : t.links) {
    link.params.delay = d.Ms(5, 80);
    if (!shape.reliable) {
      link.params.jitter = d.Chance(0.6) ? d.Ms(0, link.params.delay.count() / 2'000'000) : 0ms;
      link.params.loss = LossMayStay(shape) && d.Chance(0.4) ? d.Share(0.3) : 0.0;
    }
    link.params.bandwidth_bps = d.Chance(0.2) ? 5'000'000 : 100'000'000;
    link.params.frames = DrawFrameFaults(d, shape);
  }
  const bool lossy = std::any_of(t.sites.begin(), t.sites.end(), [](const auto& x) { return x.lan.loss > kLightLoss; }) ||
                     std::any_of(t.links.begin(), t.links.end(), [](const auto& l) { return l.params.loss > kLightLoss; });
  if (lossy) s->quiet = scenario::DetectionRelative{kQuietLossy};
}

void DrawEngine(Draw& d, const Shape& shape, Scenario* s) {
  EngineConfig& e = s->engine;
  e.batch_window = d.Pick(std::vector<Duration>{0ms, 0ms, 2ms, 20ms});
  e.departure_grace = d.Pick(std::vector<Duration>{0ms, 0ms, 300ms, 1500ms});
  e.sync_window_pages = d.Pick(std::vector<std::size_t>{1, 2, 8});
  e.max_sync_pulls = d.Chance(0.5) ? 1 : 4;
  e.anti_entropy_interval = d.Pick(std::vector<Duration>{200ms, 1000ms, 3000ms});
  if (shape.reliable) e.anti_entropy_interval = 0ms;  // joins and heals still exchange digests
  e.max_received_ranges = d.Chance(0.3) ? 2 : 64;
  if (d.Chance(0.3)) {
    e.sync_retransmit = 50ms;
    e.sync_timeout = 1000ms;
  }
  if (d.Chance(0.3)) {
    // Small frames: more splitting and more pages; keys and contacts still fit one record.
    e.max_frame_bytes = 512;
    e.max_key_bytes = 64;
    e.max_contact_bytes = 128;
  }
  if (d.Chance(0.2)) {
    e.heartbeat_interval = 200ms;
    e.suspect_after = 900ms;
  }
}

void AddChecks(Scenario* s) {
  for (const char* text : {"lost == 0", "stale == 0", "disagreeing_nodes == 0", "frames_refused_auth == 0",
                           "changes_refused == 0"}) {
    s->checks.push_back(std::get<scenario::Check>(scenario::ParseCheck(text)));
  }
}

}  // namespace

namespace detail {

bool UpAt(const Scenario& s, NodeId node, Duration t) {
  bool up = true;
  for (const scenario::Fault& f : s.faults) {
    if (f.at > t) break;
    if (const auto* c = std::get_if<scenario::Crash>(&f.what); c != nullptr && c->node == node) up = false;
    if (const auto* r = std::get_if<scenario::Restart>(&f.what); r != nullptr && r->node == node) up = true;
  }
  return up;
}

}  // namespace detail

Scenario GenerateScenario(std::uint64_t seed, const GeneratorOptions& options) {
  Draw d(SplitMix64::Derive(seed, kScenarioStream));
  Scenario s;
  s.file = "swarm-" + std::to_string(seed) + ".yaml";
  s.name = "swarm-" + std::to_string(seed);
  s.seed = seed;
  Shape shape = DrawShape(d, options, &s);
  DrawCluster(d, shape, &s);
  DrawNetwork(d, shape, &s);
  DrawEngine(d, shape, &s);
  detail::DrawFaults(d, shape, &s);
  detail::DrawChanges(d, shape, &s);
  s.description = std::string("pbxstate swarm seed ") + std::to_string(seed) + ", " +
                  (shape.membership == MembershipSource::kTransport ? "transport" : "heartbeat") + " membership" +
                  (shape.reliable ? ", reliable network" : "");
  AddChecks(&s);
  return s;
}

}  // namespace pbxstate::swarm
