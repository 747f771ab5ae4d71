#include "scenario.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "oracle.h"
#include "util.h"
#include "pbxstate/inproc/cluster.h"
#include "pbxstate/random.h"

namespace pbxstate::testing {

using inproc::Cluster;
using inproc::ClusterOptions;
using inproc::LinkFaults;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// The fault phase, then the quiet period before the final check. The quiet period covers the
// failure detector (suspect_after 2 s), the longest departure grace drawn (1.5 s), several
// anti-entropy rounds and a few abandoned catch-up sessions (sync_timeout 3 s) with room to spare.
constexpr auto kFaultPhase = seconds(30);
constexpr auto kQuietPeriod = seconds(30);
// Changes keep coming for this long after the faults end (restarted nodes take part), so the
// check also covers changes made while the cluster re-forms.
constexpr auto kLateChanges = seconds(5);

const char* const kDevices[] = {"Custom:mystate", "PJSIP/alice", "PJSIP/bob", "SIP/carol", "Queue:sales_avail",
                                "PJSIP/dave"};
const char* const kMailboxes[] = {"100@default", "200@default", "300@sales"};
const char* const kAors[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};

template <typename T, std::size_t N>
const T& Pick(SplitMix64& rng, const T (&array)[N]) {
  return array[rng.Below(N)];
}

std::string Ms(Duration d) { return std::to_string(std::chrono::duration_cast<milliseconds>(d).count()); }

enum class ActionKind { kDevice, kMailbox, kSetRegistration, kRemoveRegistration, kPartition, kCut, kHeal, kCrash, kRestart };

struct Action {
  Duration at;
  ActionKind kind;
  int burst = 1;  // changes made back to back at the same instant by one node
};

}  // namespace

bool Verbose() {
  const char* v = std::getenv("PBXSTATE_VERBOSE");
  return v != nullptr && *v != '\0' && *v != '0';
}

std::vector<std::uint64_t> SeedsToRun(std::uint64_t offset, std::uint64_t count) {
  if (const char* s = std::getenv("PBXSTATE_SEED"); s != nullptr && *s != '\0') {
    return {std::strtoull(s, nullptr, 10)};
  }
  std::uint64_t base = 1;
  if (const char* b = std::getenv("PBXSTATE_SEED_BASE"); b != nullptr && *b != '\0') base = std::strtoull(b, nullptr, 10);
  std::vector<std::uint64_t> seeds;
  for (std::uint64_t i = 0; i < count; ++i) seeds.push_back(base + offset + i);
  return seeds;
}

std::string ReplayCommand(std::uint64_t seed, const std::string& test_filter) {
  std::string exe = "pbxstate_cluster_tests";
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) exe.assign(buf, static_cast<std::size_t>(n));
  std::string filter = test_filter;
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info(); filter.empty() && info) {
    filter = std::string(info->test_suite_name()) + "." + info->name();
  }
  return "PBXSTATE_SEED=" + std::to_string(seed) + " PBXSTATE_VERBOSE=1 " + exe + " --gtest_filter='" + filter + "'";
}

ScenarioResult RunRandomScenario(std::uint64_t seed, MembershipSource membership) {
  ScenarioResult result;
  // The scenario's draws depend on the seed only, so both membership modes run the same workload
  // and faults; the network's own draws come from ClusterOptions::seed.
  SplitMix64 rng(SplitMix64::Derive(seed, 0x5ce7a210));
  auto fail = [&](std::string what) { result.failures.push_back(std::move(what)); };
  auto note = [&](Duration at, const std::string& what) {
    result.timeline.push_back("t=" + Ms(at) + "ms " + what);
  };

  ClusterOptions opt;
  opt.seed = seed;
  opt.membership = membership;
  opt.nodes = static_cast<std::size_t>(rng.Between(3, 12));
  const Duration batch_windows[] = {milliseconds(0), milliseconds(0), milliseconds(2), milliseconds(20)};
  opt.engine.batch_window = Pick(rng, batch_windows);
  const Duration graces[] = {milliseconds(0), milliseconds(0), milliseconds(300), milliseconds(1500)};
  opt.engine.departure_grace = Pick(rng, graces);
  const std::size_t windows[] = {1, 2, 8};
  opt.engine.sync_window_pages = Pick(rng, windows);
  opt.engine.max_sync_pulls = rng.Chance(0.5) ? 1 : 4;
  const Duration intervals[] = {milliseconds(200), milliseconds(1000), milliseconds(3000)};
  opt.engine.anti_entropy_interval = Pick(rng, intervals);
  opt.engine.max_received_ranges = rng.Chance(0.3) ? 2 : 64;
  if (rng.Chance(0.3)) {
    opt.engine.sync_retransmit = milliseconds(50);
    opt.engine.sync_timeout = milliseconds(1000);
  }
  if (rng.Chance(0.3)) {
    // Small frames: more splitting and more pages. Keys and contacts must still fit one record.
    opt.engine.max_frame_bytes = 512;
    opt.engine.max_key_bytes = 64;
    opt.engine.max_contact_bytes = 128;
  }
  opt.membership_delay = milliseconds(rng.Between(0, 300));
  // About a third of the seeds run with a cluster key (every node the same). The choice comes
  // from a stream of its own, so the seeds without a key draw exactly what they drew before keys
  // existed (their trace hashes, frames included, did not move).
  SplitMix64 auth_rng(SplitMix64::Derive(seed, 0xa07ca7ed));
  const bool authenticated = auth_rng.Chance(0.35);
  if (authenticated) {
    std::string key(kClusterKeyBytes, '\0');
    for (char& b : key) b = static_cast<char>(auth_rng.Next() & 0xff);
    opt.engine.cluster_keys = {key};
  }
  auto draw_faults = [&]() {
    LinkFaults f;
    f.delay = milliseconds(rng.Between(1, 20));
    f.jitter = milliseconds(rng.Between(0, 20));
    f.loss = rng.Unit() * 0.3;
    f.duplicate = rng.Chance(0.5) ? rng.Unit() * 0.2 : 0.0;
    f.reorder = rng.Chance(0.5) ? rng.Unit() * 0.2 : 0.0;
    f.reorder_delay = milliseconds(rng.Between(5, 100));
    return f;
  };
  opt.link = draw_faults();
  // CPG proper: within a view nothing is lost, duplicated or reordered, views come at once, and
  // the engine may switch periodic anti-entropy off (README: joins and heals still exchange
  // digests). Partitions, cuts, crashes and restarts still happen.
  const bool reliable = membership == MembershipSource::kTransport && rng.Chance(0.25);
  if (reliable) {
    LinkFaults f;
    f.delay = opt.link.delay;
    opt.link = f;
    opt.membership_delay = Duration::zero();
    opt.transport_views = inproc::TransportViews::kConsistent;
    opt.engine.anti_entropy_interval = Duration::zero();
  }

  std::unique_ptr<Cluster> cluster;
  Status s = Cluster::Create(opt, &cluster);
  if (!s.ok()) {
    fail("Cluster::Create: " + s.ToString());
    return result;
  }
  Cluster& c = *cluster;
  const std::size_t n = c.size();
  PrintTraceIfAsked(c);

  // Some links get faults of their own: an asymmetric, uneven network.
  for (std::int64_t k = rng.Between(0, static_cast<std::int64_t>(n)); k > 0; --k) {
    std::size_t from = rng.Below(n), to = rng.Below(n);
    LinkFaults f = draw_faults();
    if (from != to && !reliable) (void)c.SetLinkFaults(from, to, f);
  }

  // Nodes that never crash: the MWI writers (the oracle's rule) and a guaranteed survivor.
  std::set<std::size_t> stable = {0};
  if (rng.Chance(0.5)) stable.insert(1);

  auto draw_change = [&]() {
    auto r = rng.Below(100);
    return r < 45   ? ActionKind::kDevice
           : r < 60 ? ActionKind::kMailbox
           : r < 85 ? ActionKind::kSetRegistration
                    : ActionKind::kRemoveRegistration;
  };
  std::vector<Action> actions;
  const auto fault_ms = std::chrono::duration_cast<milliseconds>(kFaultPhase).count();
  for (std::int64_t k = rng.Between(30, 300); k > 0; --k) {
    Action a{milliseconds(rng.Between(0, fault_ms)), draw_change()};
    if (a.kind != ActionKind::kMailbox && rng.Chance(0.1)) a.burst = static_cast<int>(rng.Between(2, 30));
    actions.push_back(a);
  }
  for (std::int64_t k = rng.Between(0, 20); k > 0; --k) {
    const ActionKind kinds[] = {ActionKind::kPartition, ActionKind::kPartition, ActionKind::kCut, ActionKind::kCut,
                                ActionKind::kHeal,      ActionKind::kCrash,     ActionKind::kCrash,
                                ActionKind::kRestart,   ActionKind::kRestart};
    actions.push_back({milliseconds(rng.Between(0, fault_ms)), Pick(rng, kinds)});
  }
  std::stable_sort(actions.begin(), actions.end(), [](const Action& a, const Action& b) { return a.at < b.at; });
  std::vector<Action> late;
  const auto late_ms = std::chrono::duration_cast<milliseconds>(kLateChanges).count();
  for (std::int64_t k = rng.Between(0, 20); k > 0; --k) {
    late.push_back({kFaultPhase + milliseconds(rng.Between(1, late_ms)), draw_change()});
  }
  std::stable_sort(late.begin(), late.end(), [](const Action& a, const Action& b) { return a.at < b.at; });

  std::vector<Op> log;
  std::set<WallTime> mwi_instants;
  std::size_t crashes = 0, restarts = 0, partitions = 0, cuts = 0;
  // One line describing the run, filled in on every way out (a failure prints it).
  auto summarize = [&](const Expected* expected) {
    std::uint64_t frames = 0, delivered = 0;
    for (std::size_t i = 0; i < n; ++i) {
      frames += c.counters(i).frames_sent;
      delivered += c.counters(i).frames_received;
    }
    std::ostringstream os;
    os << "nodes=" << n << " membership=" << (membership == MembershipSource::kHeartbeat ? "heartbeat" : "transport")
       << (reliable ? " reliable" : "") << (authenticated ? " authenticated" : "") << " loss=" << opt.link.loss << " dup=" << opt.link.duplicate
       << " reorder=" << opt.link.reorder << " delay=" << Ms(opt.link.delay) << "ms jitter=" << Ms(opt.link.jitter)
       << "ms grace=" << Ms(opt.engine.departure_grace) << "ms batch=" << Ms(opt.engine.batch_window)
       << "ms ae=" << Ms(opt.engine.anti_entropy_interval) << "ms window=" << opt.engine.sync_window_pages
       << " ranges=" << opt.engine.max_received_ranges << " frame=" << opt.engine.max_frame_bytes
       << " ops=" << log.size() << " partitions=" << partitions << " cuts=" << cuts << " crashes=" << crashes
       << " restarts=" << restarts << " up=" << c.UpNodes().size() << " frames=" << frames
       << " delivered=" << delivered;
    if (expected) {
      os << " expect(devices=" << expected->devices.size() << " mailboxes=" << expected->mailboxes.size()
         << " registrations=" << expected->registrations.size() << ")";
    }
    result.summary = os.str();
  };
  auto run_until = [&](Duration at) {
    Status st = c.RunUntil(MonoTime(at));
    if (!st.ok()) {
      fail("RunUntil: " + st.ToString());
      summarize(nullptr);
    }
    return st.ok();
  };
  auto random_up = [&]() {
    auto up = c.UpNodes();
    return up[rng.Below(up.size())];
  };


  // One local change on `node`; logged when its engine accepts it, a failure when it refuses.
  auto change = [&](const Action& a, std::size_t node) {
    Op op;
    op.wall = c.wall_now();
    op.node = node;
    switch (a.kind) {
      case ActionKind::kDevice:
        op.type = Op::Type::kDevice;
        op.key = Pick(rng, kDevices);
        op.state = static_cast<DeviceState>(rng.Below(kDeviceStateCount));
        s = c.SetDeviceState(op.node, op.key, op.state);
        note(a.at, "node " + std::to_string(op.node) + " device " + op.key + " " + ToString(op.state));
        break;
      case ActionKind::kMailbox: {
        op.type = Op::Type::kMailbox;
        std::vector<std::size_t> writers(stable.begin(), stable.end());
        op.node = writers[rng.Below(writers.size())];
        op.key = Pick(rng, kMailboxes);
        op.counts = {static_cast<std::uint32_t>(rng.Below(50)), static_cast<std::uint32_t>(rng.Below(50)),
                     static_cast<std::uint32_t>(rng.Below(5))};
        // Two writes at one instant would be ordered by HLC logical counters the oracle does
        // not model: keep every MWI write at an instant of its own.
        if (!mwi_instants.insert(op.wall).second) return;
        s = c.SetMailbox(op.node, op.key, op.counts);
        note(a.at, "node " + std::to_string(op.node) + " mailbox " + op.key + " new=" +
                       std::to_string(op.counts.new_messages));
        break;
      }
      case ActionKind::kSetRegistration: {
        op.type = Op::Type::kSetRegistration;
        op.key = Pick(rng, kAors);
        op.registration.contact = "sip:" + op.key + "@198.51.100." + std::to_string(rng.Below(255)) + ":" +
                                  std::to_string(5060 + rng.Below(100));
        // Expiry well before the check (seconds after the change) or well after it (hours).
        Duration ttl = rng.Chance(0.3) ? Duration(seconds(rng.Between(1, 5)))
                                       : Duration(std::chrono::hours(2) + seconds(rng.Between(0, 3600)));
        op.registration.expires = op.wall + ttl;
        op.registration.status = rng.Chance(0.2) ? ContactStatus::kUnreachable : ContactStatus::kReachable;
        op.registration.rtt_us = static_cast<std::uint32_t>(rng.Below(200000));
        s = c.SetRegistration(op.node, op.key, op.registration);
        note(a.at, "node " + std::to_string(op.node) + " register " + op.key + " ttl=" + Ms(ttl) + "ms");
        break;
      }
      case ActionKind::kRemoveRegistration:
        op.type = Op::Type::kRemoveRegistration;
        op.key = Pick(rng, kAors);
        s = c.RemoveRegistration(op.node, op.key);
        note(a.at, "node " + std::to_string(op.node) + " unregister " + op.key);
        break;
      default:
        return;
    }
    // Every change the workload makes is valid: a refusal is an engine error.
    if (!s.ok()) {
      fail("t=" + Ms(a.at) + "ms node " + std::to_string(op.node) + " refused a valid change of " + op.key + ": " +
           s.ToString());
      return;
    }
    op.incarnation = c.incarnation(op.node);
    log.push_back(std::move(op));
  };

  auto apply = [&](const Action& a) {
    switch (a.kind) {
      case ActionKind::kDevice:
      case ActionKind::kMailbox:
      case ActionKind::kSetRegistration:
      case ActionKind::kRemoveRegistration: {
        std::size_t node = random_up();
        for (int b = 0; b < a.burst; ++b) change(a, node);
        return;
      }
      case ActionKind::kPartition: {
        std::size_t groups = static_cast<std::size_t>(rng.Between(2, 3));
        std::vector<std::vector<std::size_t>> g(groups);
        for (std::size_t i = 0; i < n; ++i) g[rng.Below(groups)].push_back(i);
        s = c.Partition(g);
        std::string desc;
        for (auto& grp : g) {
          desc += " [";
          for (auto i : grp) desc += " " + std::to_string(i);
          desc += " ]";
        }
        note(a.at, "partition" + desc);
        partitions++;
        if (!s.ok()) fail("Partition: " + s.ToString());
        return;
      }
      case ActionKind::kCut: {
        std::size_t from = rng.Below(n), to = rng.Below(n);
        if (from == to) to = (to + 1) % n;
        s = c.CutLink(from, to);
        note(a.at, "cut " + std::to_string(from) + " -> " + std::to_string(to));
        cuts++;
        if (!s.ok()) fail("CutLink: " + s.ToString());
        return;
      }
      case ActionKind::kHeal:
        c.Heal();
        note(a.at, "heal");
        return;
      case ActionKind::kCrash: {
        std::vector<std::size_t> candidates;
        for (std::size_t i : c.UpNodes()) {
          if (!stable.count(i)) candidates.push_back(i);
        }
        if (candidates.empty()) return;
        std::size_t victim = candidates[rng.Below(candidates.size())];
        s = c.Crash(victim);
        note(a.at, "crash " + std::to_string(victim));
        crashes++;
        if (!s.ok()) fail("Crash: " + s.ToString());
        return;
      }
      case ActionKind::kRestart: {
        std::vector<std::size_t> down;
        for (std::size_t i = 0; i < n; ++i) {
          if (!c.up(i)) down.push_back(i);
        }
        if (down.empty()) return;
        std::size_t node = down[rng.Below(down.size())];
        s = c.Restart(node);
        note(a.at, "restart " + std::to_string(node) + " inc=" + std::to_string(c.incarnation(node)));
        restarts++;
        if (!s.ok()) fail("Restart: " + s.ToString());
        return;
      }
    }
  };

  for (const Action& a : actions) {
    if (!run_until(a.at)) return result;
    apply(a);
  }

  // Every fault ends: one connected network without loss, crashed nodes restarted or left dead.
  if (!run_until(kFaultPhase)) return result;
  c.Heal();
  LinkFaults clean;
  clean.delay = milliseconds(rng.Between(1, 5));
  (void)c.SetAllLinkFaults(clean);
  note(kFaultPhase, "heal, links clean");
  for (std::size_t i = 0; i < n; ++i) {
    if (!c.up(i) && rng.Chance(0.5)) {
      s = c.Restart(i);
      if (!s.ok()) fail("Restart: " + s.ToString());
      note(kFaultPhase, "restart " + std::to_string(i) + " inc=" + std::to_string(c.incarnation(i)));
      restarts++;
    }
  }
  for (const Action& a : late) {
    if (!run_until(a.at)) return result;
    apply(a);
  }
  if (!run_until(kFaultPhase + kQuietPeriod)) return result;

  std::map<NodeId, std::uint64_t> live;
  for (std::size_t i : c.UpNodes()) live[Cluster::IdOf(i)] = c.incarnation(i);
  Expected expected = ComputeExpected(log, live, c.wall_now());
  for (auto& d : CompareWithExpected(c, expected)) fail(d);
  if (result.failures.empty() && !c.Converged()) fail("every node matches the oracle but Converged() is false");
  // Every node holds the same keys (or none): no frame may fail authentication. (Duplicates the
  // network makes are refused as replays with a key; that is expected.)
  for (std::size_t i : c.UpNodes()) {
    const EngineStats st = c.stats(i);
    for (DropReason r : {DropReason::kBadMac, DropReason::kUnknownKey, DropReason::kUnauthenticated,
                         DropReason::kAuthNotConfigured}) {
      if (st.dropped[static_cast<std::size_t>(r)] != 0) {
        fail("node " + std::to_string(i) + " refused " + std::to_string(st.dropped[static_cast<std::size_t>(r)]) +
             " frames as " + std::string(DropReasonName(r)) + " though every node has the same keys");
      }
    }
  }

  summarize(&expected);
  result.trace_hash = c.TraceHash();
  return result;
}

}  // namespace pbxstate::testing
