#include "pbxstate/harness/recorder.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

namespace pbxstate::harness {
namespace {

using scenario::Fault;

// Identity of one change: (slot, incarnation, sequence) for owned entries, (slot, hlc, writer)
// for mailboxes.
struct ChangeKey {
  SlotId slot;
  std::uint64_t a, b, c;
  friend bool operator==(const ChangeKey&, const ChangeKey&) = default;
};
struct ChangeKeyHash {
  std::size_t operator()(const ChangeKey& k) const {
    std::uint64_t h = k.slot * 0x9e3779b97f4a7c15ULL;
    for (std::uint64_t v : {k.a, k.b, k.c}) h = (h ^ v) * 0x100000001b3ULL + (h >> 29);
    return static_cast<std::size_t>(h);
  }
};

ValueHash ValueOf(const ViewChange& ch) {
  switch (ch.kind) {
    case EntryKind::kDevice:
      return ch.new_contribution ? DeviceValue(*ch.new_contribution) : kAbsent;
    case EntryKind::kRegistration:
      return ch.new_registration != nullptr
                 ? RegistrationValue(ch.new_registration->contact,
                                     (ch.new_registration->expires - kSimEpoch).count(),
                                     ch.new_registration->status)
                 : kAbsent;
    case EntryKind::kMailbox:
      return ch.new_mailbox ? MailboxValueHash(ch.new_mailbox->counts, ch.new_mailbox->writer) : kAbsent;
  }
  return kAbsent;
}

std::string NodeList(const std::vector<NodeId>& nodes) {
  std::string s;
  for (NodeId n : nodes) s += (s.empty() ? "" : ",") + std::to_string(n);
  return s;
}

}  // namespace

std::string DescribeFault(const Fault& f) {
  return std::visit(
      [](const auto& w) -> std::string {
        using T = std::decay_t<decltype(w)>;
        if constexpr (std::is_same_v<T, scenario::Partition>) {
          std::string s = w.one_way ? "one-way partition" : "partition";
          for (const auto& side : w.sides) s += " [" + NodeList(side) + "]";
          return s;
        } else if constexpr (std::is_same_v<T, scenario::Heal>) {
          return "heal";
        } else if constexpr (std::is_same_v<T, scenario::Isolate>) {
          return "isolate node " + std::to_string(w.node);
        } else if constexpr (std::is_same_v<T, scenario::Degrade>) {
          return "degrade";
        } else if constexpr (std::is_same_v<T, scenario::Restore>) {
          return "restore";
        } else if constexpr (std::is_same_v<T, scenario::Crash>) {
          return "crash node " + std::to_string(w.node);
        } else {
          return "restart node " + std::to_string(w.node);
        }
      },
      f.what);
}

namespace {

void Accumulate(EngineStats& sum, const EngineStats& s) {
  sum.frames_out += s.frames_out;
  sum.bytes_out += s.bytes_out;
  sum.frames_in += s.frames_in;
  sum.bytes_in += s.bytes_in;
  sum.broadcasts_out += s.broadcasts_out;
  sum.unicasts_out += s.unicasts_out;
  for (std::size_t i = 0; i < sum.dropped.size(); ++i) sum.dropped[i] += s.dropped[i];
  sum.local_changes += s.local_changes;
  sum.records_applied += s.records_applied;
  sum.records_stale += s.records_stale;
  sum.send_try_again += s.send_try_again;
  sum.send_queue_overflow += s.send_queue_overflow;
  sum.send_failed += s.send_failed;
  sum.digests_sent += s.digests_sent;
  sum.digests_received += s.digests_received;
  sum.sync_sessions_started += s.sync_sessions_started;
  sum.sync_sessions_completed += s.sync_sessions_completed;
  sum.sync_sessions_abandoned += s.sync_sessions_abandoned;
  sum.sync_serves_refused += s.sync_serves_refused;
  sum.sync_pages_sent += s.sync_pages_sent;
  sum.sync_pages_received += s.sync_pages_received;
  sum.sync_pages_resent += s.sync_pages_resent;
  sum.heartbeats_sent += s.heartbeats_sent;
  sum.membership_changes += s.membership_changes;
  sum.departures += s.departures;
  // Entries held are a level, not a flow: the last incarnation's count is the node's.
  sum.device_entries = s.device_entries;
  sum.mailbox_entries = s.mailbox_entries;
  sum.registration_entries = s.registration_entries;
}

DeviceState StateOfValue(ValueHash v) {
  for (int i = 0; i < kDeviceStateCount; ++i) {
    if (DeviceValue(static_cast<DeviceState>(i)) == v) return static_cast<DeviceState>(i);
  }
  assert(false && "not a device value");
  return DeviceState::kInvalid;
}

}  // namespace

FinalView FinalViewOf(const Engine& engine) {
  FinalView v;
  v.stats = engine.stats();
  v.digest = engine.Digest().hash;
  engine.ForEachDevice([&](std::string_view device, std::optional<DeviceState> aggregate,
                           std::span<const DeviceContribution> cs) {
    v.devices.push_back({std::string(device), aggregate, std::vector<DeviceContribution>(cs.begin(), cs.end())});
  });
  engine.ForEachRegistration([&](std::string_view aor, const RegistrationView& r) {
    v.registrations.push_back({std::string(aor), r});
  });
  engine.ForEachMailbox([&](std::string_view mailbox, const MailboxValue& m) {
    v.mailboxes.push_back({std::string(mailbox), m});
  });
  return v;
}

Quantiles Summarize(std::vector<double> samples) {
  Quantiles q;
  q.count = samples.size();
  if (samples.empty()) return q;
  std::sort(samples.begin(), samples.end());
  // Nearest rank: the smallest sample with at least that share of samples at or below it.
  auto rank = [&](double p) {
    const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(samples.size())));
    return samples[std::clamp<std::size_t>(i, 1, samples.size()) - 1];
  };
  q.min = samples.front();
  q.max = samples.back();
  q.p50 = rank(0.5);
  q.p95 = rank(0.95);
  q.p99 = rank(0.99);
  double sum = 0;
  for (double s : samples) sum += s;
  q.mean = sum / static_cast<double>(samples.size());
  return q;
}

struct RunRecorder::Impl {
  Impl(const scenario::Scenario& s, bool keep)
      : node_count(s.topology.node_count()),
        keep_timelines(keep),
        oracle(&slots, node_count),
        timelines(keep ? node_count : 0),
        stats(node_count),
        incarnation(node_count, 0),
        last_start(node_count, Duration::max()),
        up(node_count, false) {}

  struct ChangeState {
    std::vector<std::uint64_t> received;  // bit per node
    std::uint32_t received_count = 0;
    Duration max_latency{};
  };
  struct FaultEnd {
    Duration t;
    std::string after;
    std::string text;
    NodeId crashed = kNoNode;
  };

  std::uint32_t node_count;
  bool keep_timelines;
  SlotTable slots;
  Oracle oracle;
  std::vector<ChangeRecord> changes;
  std::vector<ChangeState> change_state;
  std::unordered_map<ChangeKey, std::uint32_t, ChangeKeyHash> change_index;
  std::vector<DeliverySample> deliveries;
  std::vector<std::unordered_map<SlotId, std::vector<Oracle::Point>>> timelines;  // by node - 1
  std::vector<FaultEnd> fault_ends;
  std::vector<EngineStats> stats;
  std::vector<std::uint64_t> incarnation;
  std::vector<Duration> last_start;
  std::vector<bool> up;
  std::uint64_t skipped = 0, refused = 0;

  SlotId SlotOf(const ViewChange& ch) {
    return slots.Intern(ch.kind, ch.key, ch.kind == EntryKind::kMailbox ? kNoNode : ch.origin);
  }

  static ChangeKey KeyOf(SlotId slot, const ViewChange& ch) {
    if (ch.kind == EntryKind::kMailbox) {
      assert(ch.new_mailbox);
      return {slot, static_cast<std::uint64_t>(ch.new_mailbox->hlc.physical_ns), ch.new_mailbox->hlc.logical,
              ch.new_mailbox->writer};
    }
    return {slot, ch.version.incarnation, ch.version.sequence, 0};
  }

  // Fills `by_node` with each node's time to agreement; returns the slowest, nullopt when some
  // node never agreed.
  std::optional<Duration> Convergence(const FaultEnd& fe,
                                      std::vector<std::pair<NodeId, std::optional<Duration>>>* by_node) const;
  std::optional<Duration> LastCatchUp(NodeId n, Duration end) const;
};

RunRecorder::RunRecorder(const scenario::Scenario& scenario, bool keep_timelines)
    : impl_(std::make_unique<Impl>(scenario, keep_timelines)) {}
RunRecorder::~RunRecorder() = default;

void RunRecorder::NodeStarted(Duration t, NodeId node, std::uint64_t incarnation) {
  Impl& m = *impl_;
  m.oracle.Started(t, node);
  m.up[node - 1] = true;
  m.incarnation[node - 1] = incarnation;
  m.last_start[node - 1] = t;
}

void RunRecorder::NodeCrashed(Duration t, NodeId node, const EngineStats& last) {
  Impl& m = *impl_;
  m.oracle.Crashed(t, node);
  m.up[node - 1] = false;
  Accumulate(m.stats[node - 1], last);
  if (m.keep_timelines) {
    // The node's memory is gone: everything it showed is absent from now on.
    for (auto& [slot, tl] : m.timelines[node - 1]) {
      if (!tl.empty() && tl.back().value != kAbsent) tl.push_back({t, kAbsent});
    }
  }
}

void RunRecorder::FaultApplied(Duration t, const Fault& f) {
  Impl& m = *impl_;
  const std::string text = DescribeFault(f);
  if (const auto* p = std::get_if<scenario::Partition>(&f.what)) {
    m.oracle.Partitioned(t, p->sides);
  } else if (const auto* iso = std::get_if<scenario::Isolate>(&f.what)) {
    std::vector<NodeId> rest;
    for (NodeId n = 1; n <= m.node_count; ++n) {
      if (n != iso->node) rest.push_back(n);
    }
    m.oracle.Partitioned(t, {{iso->node}, rest});
  } else if (std::holds_alternative<scenario::Heal>(f.what)) {
    m.oracle.Partitioned(t, {});
    m.fault_ends.push_back({t, "heal", text});
  } else if (std::holds_alternative<scenario::Restore>(f.what)) {
    m.fault_ends.push_back({t, "restore", text});
  } else if (const auto* c = std::get_if<scenario::Crash>(&f.what)) {
    m.fault_ends.push_back({t, "crash", text, c->node});
  } else if (std::holds_alternative<scenario::Restart>(f.what)) {
    m.fault_ends.push_back({t, "restart", text});
  }
}

void RunRecorder::ChangeMade(Duration t, const PlannedChange& change, const Status& status) {
  if (status.ok()) {
    impl_->oracle.Changed(t, change.node, change);
  } else {
    ++impl_->refused;
  }
}

void RunRecorder::ChangeSkipped(Duration, const PlannedChange&) { ++impl_->skipped; }

void RunRecorder::ViewChanged(Duration t, NodeId node, const ViewChange& ch) {
  Impl& m = *impl_;
  const SlotId slot = m.SlotOf(ch);
  if (m.keep_timelines) m.timelines[node - 1][slot].push_back({t, ValueOf(ch)});
  if (ch.cause == ChangeCause::kLocal) {
    const auto index = static_cast<std::uint32_t>(m.changes.size());
    m.changes.push_back({t, node, ch.kind, std::string(ch.key), std::nullopt});
    Impl::ChangeState st;
    st.received.assign((m.node_count + 64) / 64, 0);
    m.change_state.push_back(std::move(st));
    m.change_index.emplace(Impl::KeyOf(slot, ch), index);
    return;
  }
  if (ch.cause != ChangeCause::kRemote) return;
  if (ch.kind == EntryKind::kMailbox && !ch.new_mailbox) return;
  auto it = m.change_index.find(Impl::KeyOf(slot, ch));
  if (it == m.change_index.end()) return;
  const ChangeRecord& c = m.changes[it->second];
  Impl::ChangeState& st = m.change_state[it->second];
  if (node == c.origin) return;
  std::uint64_t& word = st.received[node / 64];
  const std::uint64_t bit = std::uint64_t{1} << (node % 64);
  if ((word & bit) != 0) return;
  word |= bit;
  ++st.received_count;
  const Duration latency = t - c.at;
  st.max_latency = std::max(st.max_latency, latency);
  m.deliveries.push_back({it->second, node, latency});
}

std::optional<Duration> RunRecorder::Impl::Convergence(
    const FaultEnd& fe, std::vector<std::pair<NodeId, std::optional<Duration>>>* by_node) const {
  bool all = true;
  Duration worst{};
  const bool partitioned = oracle.PartitionedAt(fe.t);
  std::vector<SlotId> oracle_slots;
  for (SlotId s = 0; s < oracle.slot_count(); ++s) {
    if (!oracle.Timeline(s).empty()) oracle_slots.push_back(s);
  }
  for (NodeId n = 1; n <= node_count; ++n) {
    // Nodes that are up at the fault's end and stay up until the end of the run.
    if (!up[n - 1] || last_start[n - 1] > fe.t || n == fe.crashed) continue;
    const auto& mine = timelines[n - 1];
    std::optional<Duration> node_took = Duration{};
    std::vector<SlotId> slots_to_check = oracle_slots;
    for (const auto& [s, tl] : mine) {
      if (oracle.Timeline(s).empty()) slots_to_check.push_back(s);
    }
    for (SlotId s : slots_to_check) {
      const SlotKey& k = slots[s];
      if (k.kind == EntryKind::kMailbox && partitioned) continue;
      const auto& otl = oracle.Timeline(s);
      // Values the node may show once caught up: the one in force at fe.t and any later one.
      std::vector<ValueHash> acceptable;
      const bool reachable = k.kind == EntryKind::kMailbox ||
                             (oracle.Up(k.origin, fe.t) && oracle.Connected(n, k.origin, fe.t) && k.origin != fe.crashed);
      auto first_after = std::upper_bound(otl.begin(), otl.end(), fe.t,
                                          [](Duration x, const Oracle::Point& p) { return x < p.t; });
      if (reachable && first_after != otl.begin()) {
        acceptable.push_back(std::prev(first_after)->value);
      } else {
        acceptable.push_back(kAbsent);
      }
      for (auto it = first_after; it != otl.end(); ++it) acceptable.push_back(it->value);
      auto ok = [&](ValueHash v) { return std::find(acceptable.begin(), acceptable.end(), v) != acceptable.end(); };

      ValueHash at_fault = kAbsent;
      auto nit = mine.find(s);
      std::vector<Oracle::Point>::const_iterator later;
      if (nit != mine.end()) {
        const auto& ntl = nit->second;
        later = std::upper_bound(ntl.begin(), ntl.end(), fe.t, [](Duration x, const Oracle::Point& p) { return x < p.t; });
        if (later != ntl.begin()) at_fault = std::prev(later)->value;
      }
      if (ok(at_fault)) continue;
      bool caught_up = false;
      if (nit != mine.end()) {
        for (auto it = later; it != nit->second.end(); ++it) {
          if (ok(it->value)) {
            node_took = std::max(*node_took, it->t - fe.t);
            caught_up = true;
            break;
          }
        }
      }
      if (!caught_up) {
        node_took.reset();
        break;
      }
    }
    by_node->emplace_back(n, node_took);
    if (node_took) worst = std::max(worst, *node_took);
    all = all && node_took.has_value();
  }
  if (!all) return std::nullopt;
  return worst;
}

std::optional<Duration> RunRecorder::Impl::LastCatchUp(NodeId n, Duration end) const {
  std::optional<Duration> last;
  const std::map<SlotId, ValueHash> expected = oracle.ExpectedView(n, end);
  const auto& mine = timelines[n - 1];
  for (const auto& [s, v] : expected) {
    if (mine.count(s) == 0) return end;  // it never showed an entry it must show
  }
  for (const auto& [s, tl] : mine) {
    if (tl.empty()) continue;
    const auto e = expected.find(s);
    const ValueHash want = e == expected.end() ? kAbsent : e->second;
    if (tl.back().value != want) return end;  // still wrong at the end
    // When the oracle reached its final value, and when this node did.
    const auto& otl = oracle.Timeline(s);
    const Duration oracle_t = otl.empty() ? Duration{} : otl.back().t;
    if (tl.back().t > oracle_t && (!last || tl.back().t > *last)) last = tl.back().t;
  }
  return last;
}

RunResult RunRecorder::Finish(Duration end, const std::function<NodeAtEnd(NodeId)>& node_at_end) {
  Impl& m = *impl_;
  m.oracle.Finish(end);
  RunResult r;
  r.changes_skipped = m.skipped;
  r.changes_refused = m.refused;

  // Per-node summaries and final views against the oracle.
  std::uint64_t frames = 0, bytes = 0;
  std::uint64_t lost = 0, stale = 0;
  auto note = [&](NodeId n, std::string what) {
    ++r.discrepancy_count;
    if (r.discrepancies.size() < kMaxDiscrepancies) r.discrepancies.push_back({n, std::move(what)});
  };
  const bool partitioned_at_end = m.oracle.PartitionedAt(end);
  for (NodeId n = 1; n <= m.node_count; ++n) {
    const NodeAtEnd a = node_at_end(n);
    NodeSummary ns;
    ns.node = n;
    ns.up_at_end = a.view.has_value();
    ns.incarnation = m.incarnation[n - 1];
    EngineStats total = m.stats[n - 1];
    if (a.view) Accumulate(total, a.view->stats);
    ns.stats = total;
    ns.frames_sent = a.frames_sent;
    ns.bytes_sent = a.bytes_sent;
    frames += a.frames_sent;
    bytes += a.bytes_sent;
    if (!a.view) {
      r.nodes.push_back(ns);
      continue;
    }
    const FinalView& e = *a.view;
    ns.final_digest = e.digest;
    const std::map<SlotId, ValueHash> expected = m.oracle.ExpectedView(n, end);
    std::map<SlotId, ValueHash> actual;
    std::map<std::string, std::optional<DeviceState>, std::less<>> aggregates;
    std::set<std::string> devices;
    for (const FinalView::Device& d : e.devices) {
      devices.insert(d.name);
      aggregates[d.name] = d.aggregate;
      for (const DeviceContribution& c : d.contributions) {
        actual[m.slots.Intern(EntryKind::kDevice, d.name, c.node)] = DeviceValue(c.state);
      }
    }
    for (const FinalView::Registration& r2 : e.registrations) {
      const RegistrationView& v = r2.view;
      actual[m.slots.Intern(EntryKind::kRegistration, r2.aor, v.node)] =
          RegistrationValue(v.info.contact, (v.info.expires - kSimEpoch).count(), v.info.status);
    }
    if (!partitioned_at_end) {
      for (const FinalView::Mailbox& mb : e.mailboxes) {
        actual[m.slots.Intern(EntryKind::kMailbox, mb.mailbox, kNoNode)] = MailboxValueHash(mb.value.counts, mb.value.writer);
      }
    }
    // A device the node lists no contribution for has no aggregate (Engine::ClusterDeviceState).
    auto aggregate_of = [&](const std::string& device) -> std::optional<DeviceState> {
      auto it = aggregates.find(device);
      return it == aggregates.end() ? std::nullopt : it->second;
    };
    auto describe = [&](SlotId s) {
      const SlotKey& k = m.slots[s];
      std::string d(EntryKindName(k.kind));
      d += " " + k.key;
      if (k.origin != kNoNode) d += " from node " + std::to_string(k.origin);
      return d;
    };
    for (const auto& [s, v] : expected) {
      auto it = actual.find(s);
      if (it == actual.end()) {
        ++lost;
        note(n, "lost " + describe(s));
      } else if (it->second != v) {
        ++stale;
        note(n, "stale " + describe(s));
      }
    }
    for (const auto& [s, v] : actual) {
      if (expected.count(s) == 0) {
        ++stale;
        note(n, "shows " + describe(s) + ", which it should not");
      }
    }
    // The aggregate, recomputed by the oracle's own rules from what the node should hold.
    std::map<std::string, std::vector<DeviceState>> expected_states;
    for (const auto& [s, v] : expected) {
      const SlotKey& k = m.slots[s];
      if (k.kind == EntryKind::kDevice) expected_states[k.key].push_back(StateOfValue(v));
    }
    for (const auto& [device, states] : expected_states) devices.insert(device);
    for (const std::string& device : devices) {
      auto it = expected_states.find(device);
      const std::optional<DeviceState> want =
          it == expected_states.end() ? std::nullopt : OracleAggregate(it->second);
      if (aggregate_of(device) != want) {
        ++stale;
        note(n, "wrong aggregate for device " + device);
      }
    }
    if (m.keep_timelines) ns.last_disagreement = m.LastCatchUp(n, end);
    r.nodes.push_back(ns);
  }

  // Stable latency: every node up from the change to the end (the origin too) has applied it.
  for (std::size_t i = 0; i < m.changes.size(); ++i) {
    ChangeRecord& c = m.changes[i];
    const Impl::ChangeState& st = m.change_state[i];
    if (!m.up[c.origin - 1] || m.last_start[c.origin - 1] > c.at) continue;
    bool all = true;
    for (NodeId n = 1; n <= m.node_count && all; ++n) {
      if (n == c.origin || !m.up[n - 1] || m.last_start[n - 1] > c.at) continue;
      all = (st.received[n / 64] & (std::uint64_t{1} << (n % 64))) != 0;
    }
    if (all) c.stable = st.max_latency;
  }

  if (m.keep_timelines) {
    for (const Impl::FaultEnd& fe : m.fault_ends) {
      ConvergenceSample cs;
      cs.after = fe.after;
      cs.fault_at = fe.t;
      cs.fault = fe.text;
      const std::optional<Duration> took = m.Convergence(fe, &cs.by_node);
      cs.converged = took.has_value();
      if (took) cs.took = *took;
      r.convergence.push_back(cs);
    }
  }

  // Metrics, by the names scenario::Metrics() defines.
  auto put_family = [&](const std::string& family, const std::vector<double>& samples) {
    if (samples.empty()) return;
    const Quantiles q = Summarize(samples);
    r.metrics[family + ".min"] = q.min;
    r.metrics[family + ".p50"] = q.p50;
    r.metrics[family + ".p95"] = q.p95;
    r.metrics[family + ".p99"] = q.p99;
    r.metrics[family + ".max"] = q.max;
    r.metrics[family + ".mean"] = q.mean;
  };
  const double n_changes = static_cast<double>(m.changes.size());
  r.metrics["lost"] = static_cast<double>(lost);
  r.metrics["stale"] = static_cast<double>(stale);
  r.metrics["changes"] = n_changes;
  if (n_changes > 0) {
    r.metrics["messages_per_change"] = static_cast<double>(frames) / n_changes;
    r.metrics["bytes_per_change"] = static_cast<double>(bytes) / n_changes;
  }
  std::vector<double> delivery, stable;
  delivery.reserve(m.deliveries.size());
  for (const DeliverySample& d : m.deliveries) delivery.push_back(static_cast<double>(d.latency.count()));
  for (const ChangeRecord& c : m.changes) {
    if (c.stable) stable.push_back(static_cast<double>(c.stable->count()));
  }
  put_family("delivery_latency", delivery);
  put_family("stable_latency", stable);
  std::map<std::string, std::vector<double>> conv;
  for (const ConvergenceSample& cs : r.convergence) {
    // A fault the cluster never recovered from counts as infinitely slow: any check on it fails.
    const double v = cs.converged ? static_cast<double>(cs.took.count()) : std::numeric_limits<double>::infinity();
    conv["convergence.after_" + cs.after].push_back(v);
    conv["convergence.after_fault"].push_back(v);
  }
  for (const auto& [family, samples] : conv) put_family(family, samples);

  EngineStats sum;
  for (const NodeSummary& ns : r.nodes) {
    EngineStats s = ns.stats;
    Accumulate(sum, s);
  }
  const std::pair<const char*, std::uint64_t> engine_counters[] = {
      {"frames_out", sum.frames_out},
      {"bytes_out", sum.bytes_out},
      {"frames_in", sum.frames_in},
      {"bytes_in", sum.bytes_in},
      {"broadcasts_out", sum.broadcasts_out},
      {"unicasts_out", sum.unicasts_out},
      {"dropped", sum.total_dropped()},
      {"records_applied", sum.records_applied},
      {"records_stale", sum.records_stale},
      {"send_try_again", sum.send_try_again},
      {"send_queue_overflow", sum.send_queue_overflow},
      {"send_failed", sum.send_failed},
      {"digests_sent", sum.digests_sent},
      {"digests_received", sum.digests_received},
      {"sync_sessions_started", sum.sync_sessions_started},
      {"sync_sessions_completed", sum.sync_sessions_completed},
      {"sync_sessions_abandoned", sum.sync_sessions_abandoned},
      {"sync_serves_refused", sum.sync_serves_refused},
      {"sync_pages_sent", sum.sync_pages_sent},
      {"sync_pages_received", sum.sync_pages_received},
      {"sync_pages_resent", sum.sync_pages_resent},
      {"heartbeats_sent", sum.heartbeats_sent},
      {"membership_changes", sum.membership_changes},
      {"departures", sum.departures},
  };
  for (const auto& [name, value] : engine_counters) r.metrics[std::string("engine.") + name] = static_cast<double>(value);

  r.changes = std::move(m.changes);
  r.deliveries = std::move(m.deliveries);
  return r;
}

}  // namespace pbxstate::harness
