#include "pbxstate/harness/recorder.h"

#include "recorder_impl.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include "pbxstate/check.h"
#include "pbxstate/scenario/check.h"

namespace pbxstate::harness {
namespace {

using scenario::Fault;

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

// Sums a node's incarnations: a flow of EngineStatFields() (stats.h, the one list) adds up; a
// level (entries and bytes held) is the last incarnation's: an ended incarnation's memory is
// gone, so adding it would count what no engine holds (recorder_test.cc,
// ANodesCountersAddUpOverItsIncarnations).
void Accumulate(EngineStats& sum, const EngineStats& s) {
  for (const EngineStatField& f : EngineStatFields()) sum.*f.member = f.level ? s.*f.member : sum.*f.member + s.*f.member;
  for (std::size_t i = 0; i < sum.dropped.size(); ++i) sum.dropped[i] += s.dropped[i];
}

}  // namespace

ValueHash ValueOf(const ViewChange& ch) {
  switch (ch.kind) {
    case EntryKind::kDevice:
      return ch.new_contribution ? DeviceValue(*ch.new_contribution, ch.version.incarnation) : kAbsent;
    case EntryKind::kRegistration:
      return ch.new_registration != nullptr
                 ? RegistrationValue(ch.new_registration->contact, ch.new_registration->path,
                                     ch.new_registration->user_agent, ch.new_registration->expires.time_since_epoch().count() - kSimEpochNs,
                                     ch.new_registration->status, ch.version.incarnation)
                 : kAbsent;
    case EntryKind::kMailbox:
      return ch.new_mailbox ? MailboxValueHash(*ch.new_mailbox) : kAbsent;
  }
  return kAbsent;
}

void NoteDiscrepancy(RunResult* r, NodeId n, std::string what) {
  ++r->discrepancy_count;
  if (r->discrepancies.size() < kMaxDiscrepancies) r->discrepancies.push_back({n, std::move(what)});
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

RunRecorder::Impl::Impl(const scenario::Scenario& s, bool keep)
    : node_count(s.topology.node_count()),
      keep_timelines(keep),
      oracle(&slots, s),
      timelines(keep ? node_count : 0),
      stats(node_count),
      incarnation(node_count, 0),
      last_start(node_count, Duration::max()),
      up(node_count, false),
      memory(s.memory),
      memory_sampled_at(node_count),
      fault_windows(s.topology) {}

ChangeKey RunRecorder::Impl::KeyOf(SlotId slot, const ViewChange& ch) {
  if (ch.kind == EntryKind::kMailbox) {
    assert(ch.new_mailbox);
    return {slot, static_cast<std::uint64_t>(ch.new_mailbox->hlc.physical_ns), ch.new_mailbox->hlc.logical,
            ch.new_mailbox->writer};
  }
  return {slot, ch.version.incarnation, ch.version.sequence, 0};
}

std::string RunRecorder::Impl::DescribeSlot(SlotId s) const {
  const SlotKey& k = slots[s];
  std::string d(EntryKindName(k.kind));
  d += " " + k.key;
  if (k.origin != kNoNode) d += " from node " + std::to_string(k.origin);
  return d;
}

std::string RunRecorder::Impl::DescribeAcceptable(SlotId s, const Acceptable& a) const {
  std::string d;
  constexpr std::size_t kShown = 3;
  for (std::size_t i = 0; i < a.values.size() && i < kShown; ++i) {
    d += (d.empty() ? "" : " or ") + oracle.Describe(s, a.values[i]);
  }
  if (a.values.size() > kShown) d += " or " + std::to_string(a.values.size() - kShown) + " more";
  if (a.absent) d += d.empty() ? "none" : " or none";
  return d;
}

RunRecorder::RunRecorder(const scenario::Scenario& scenario, bool keep_timelines)
    : impl_(std::make_unique<Impl>(scenario, keep_timelines)) {}
RunRecorder::~RunRecorder() = default;

void RunRecorder::NodeStarted(Duration t, NodeId node, std::uint64_t incarnation) {
  Impl& m = *impl_;
  m.oracle.Started(t, node, incarnation);
  m.up[node - 1] = true;
  m.incarnation[node - 1] = incarnation;
  m.last_start[node - 1] = t;
}

void RunRecorder::EngineMemorySampled(Duration t, NodeId node, std::uint64_t held_bytes) {
  Impl& m = *impl_;
  PBXSTATE_CHECK(m.memory.has_value());
  PBXSTATE_CHECK_LT(m.memory_samples.size(),
                    static_cast<std::size_t>(scenario::kMaxMemorySamplesPerNode + 1) * m.node_count);
  PBXSTATE_CHECK(node >= 1 && node <= m.node_count);
  // One level read twice at one instant is a runner's mistake, not a measurement (recorder.h).
  std::optional<Duration>& previous = m.memory_sampled_at[node - 1];
  if (previous) PBXSTATE_CHECK_LT(*previous, t);
  previous = t;
  m.memory_samples.push_back({t, node, held_bytes});
}

void RunRecorder::NodeCrashed(Duration t, NodeId node, const EngineStats& last) {
  Impl& m = *impl_;
  m.oracle.Crashed(t, node);
  m.up[node - 1] = false;
  Accumulate(m.stats[node - 1], last);
  if (m.keep_timelines) {
    // The node's memory is gone: everything it showed is absent from now on.
    for (auto& [slot, tl] : m.timelines[node - 1]) {
      if (!tl.empty() && tl.back().value != kAbsent) tl.push_back({t, kAbsent, 0});
    }
  }
}

void RunRecorder::FaultApplied(Duration t, const Fault& f) {
  Impl& m = *impl_;
  const std::string text = DescribeFault(f);
  m.faults.emplace_back(t, text);
  m.fault_windows.Applied(t, f);
  m.CloseHealBytes(t);
  if (const auto* p = std::get_if<scenario::Partition>(&f.what)) {
    m.oracle.Cut(t, p->sides, p->one_way);
  } else if (const auto* iso = std::get_if<scenario::Isolate>(&f.what)) {
    std::vector<NodeId> rest;
    for (NodeId n = 1; n <= m.node_count; ++n) {
      if (n != iso->node) rest.push_back(n);
    }
    m.oracle.Cut(t, {{iso->node}, rest}, false);
  } else if (std::holds_alternative<scenario::Heal>(f.what)) {
    m.oracle.Cut(t, {}, false);
    std::optional<std::size_t> window;
    if (m.network_bytes) {
      window = m.heal_bytes.size();
      m.heal_bytes.push_back({{{t, m.network_bytes()}}, true, t});
    }
    m.fault_ends.push_back({t, "heal", text, window});
  } else if (std::holds_alternative<scenario::Restore>(f.what)) {
    m.fault_ends.push_back({t, "restore", text, std::nullopt});
  } else if (std::holds_alternative<scenario::Crash>(f.what)) {
    m.fault_ends.push_back({t, "crash", text, std::nullopt});
  } else if (std::holds_alternative<scenario::Restart>(f.what)) {
    m.fault_ends.push_back({t, "restart", text, std::nullopt});
  }
}

void RunRecorder::CountNetworkBytes(std::function<std::uint64_t()> bytes_so_far) {
  impl_->network_bytes = std::move(bytes_so_far);
}

void RunRecorder::Impl::CloseHealBytes(Duration t) {
  if (heal_bytes.empty() || !heal_bytes.back().open) return;
  heal_bytes.back().open = false;
  heal_bytes.back().covered_until = t;
}

void RunRecorder::Impl::ReadHealBytes(Duration t) {
  if (heal_bytes.empty() || !heal_bytes.back().open) return;
  HealBytes& w = heal_bytes.back();
  const Duration window_end = w.samples.front().first + kHealBytesWindow;
  if (t > window_end) return CloseHealBytes(window_end);
  const std::uint64_t now = network_bytes();
  assert(now >= w.samples.back().second);
  w.covered_until = t;
  if (now == w.samples.back().second) return;
  if (w.samples.size() >= kMaxHealByteSamples) return CloseHealBytes(w.samples.back().first);
  w.samples.emplace_back(t, now);
}

std::optional<std::uint64_t> RunRecorder::Impl::HealBytesUntil(std::size_t i, Duration at) const {
  const HealBytes& w = heal_bytes[i];
  if (at > w.covered_until) return std::nullopt;
  // The last count read at or before `at` (view changes at one instant: the last of them).
  auto it = std::upper_bound(w.samples.begin(), w.samples.end(), at,
                             [](Duration x, const std::pair<Duration, std::uint64_t>& s) { return x < s.first; });
  assert(it != w.samples.begin());
  return std::prev(it)->second - w.samples.front().second;
}

void RunRecorder::TransportOutlivesCrashes() { impl_->oracle.TransportOutlivesCrashes(); }

void RunRecorder::TransportRingMayStall() { impl_->oracle.RingMayStall(); }

void RunRecorder::MembershipDelivered(Duration t, NodeId node, const std::vector<NodeId>& members) {
  Impl& m = *impl_;
  if (m.oracle.timing().membership != MembershipSource::kTransport) return;
  ++m.view_count;
  if (m.views.size() < kMaxMembershipRecords) {
    MembershipRecord rec{t, node, members};
    std::sort(rec.members.begin(), rec.members.end());
    m.views.push_back(std::move(rec));
  }
  m.oracle.View(t, node, members);
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
  if (m.keep_timelines) {
    m.timelines[node - 1][slot].push_back({t, ValueOf(ch), static_cast<std::uint32_t>(EncodedRecordBytes(ch))});
  }
  if (m.network_bytes) m.ReadHealBytes(t);
  // A mailbox removal (Engine::RemoveMailbox: no value) is in the timeline above; it is no write
  // the delivery and latency metrics follow (KeyOf needs a write's HLC and writer). The
  // remover's own report tells the oracle the removal was made (oracle.h, "Mailbox removals").
  if (ch.kind == EntryKind::kMailbox && !ch.new_mailbox) {
    if (ch.cause == ChangeCause::kLocal) m.oracle.MailboxStamped(t, node, ch.key, std::nullopt);
    return;
  }
  if (ch.cause == ChangeCause::kLocal) {
    // The writer's own report of a mailbox write carries the write's HLC (oracle.h).
    if (ch.kind == EntryKind::kMailbox && ch.new_mailbox) m.oracle.MailboxStamped(t, node, ch.key, *ch.new_mailbox);
    const auto index = static_cast<std::uint32_t>(m.changes.size());
    m.changes.push_back({t, node, ch.kind, std::string(ch.key), std::nullopt});
    Impl::ChangeState st;
    st.received.assign((m.node_count + 64) / 64, 0);
    m.change_state.push_back(std::move(st));
    m.change_index.emplace(Impl::KeyOf(slot, ch), index);
    return;
  }
  if (ch.cause != ChangeCause::kRemote) return;
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

namespace {

// Metrics, by the names scenario::Metrics() defines.
void PutFamily(RunResult* r, const std::string& family, const std::vector<double>& samples) {
  if (samples.empty()) return;
  const Quantiles q = Summarize(samples);
  r->metrics[family + ".min"] = q.min;
  r->metrics[family + ".p50"] = q.p50;
  r->metrics[family + ".p95"] = q.p95;
  r->metrics[family + ".p99"] = q.p99;
  r->metrics[family + ".max"] = q.max;
  r->metrics[family + ".mean"] = q.mean;
}

void PutConvergence(RunResult* r) {
  std::map<std::string, std::vector<double>> conv;
  std::uint64_t interrupted = 0;
  for (const ConvergenceSample& cs : r->convergence) {
    if (cs.interrupted) {
      ++interrupted;  // neither fast nor slow: the next fault came first
      continue;
    }
    // A fault the cluster never recovered from counts as infinitely slow: any check on it fails.
    const double v = cs.converged ? static_cast<double>(cs.took.count()) : std::numeric_limits<double>::infinity();
    conv["convergence.after_" + cs.after].push_back(v);
    conv["convergence.after_fault"].push_back(v);
  }
  for (const auto& [family, samples] : conv) PutFamily(r, family, samples);
  if (!r->convergence.empty()) r->metrics["convergence.interrupted"] = static_cast<double>(interrupted);
}

// What the heals moved against what differed (check.h): over the heals that converged, each
// counted; not measured when one was not (the runner does not count bytes, or agreement came
// after the window) or there was no such heal.
void PutHealBytes(RunResult* r) {
  std::uint64_t moved = 0, differing = 0;
  bool any = false;
  for (const ConvergenceSample& cs : r->convergence) {
    if (cs.after != "heal" || !cs.converged) continue;
    if (!cs.bytes) return;
    any = true;
    moved += *cs.bytes;
    differing += cs.differing_bytes;
  }
  if (!any) return;
  r->metrics["heal_bytes"] = static_cast<double>(moved);
  r->metrics["heal_differing_bytes"] = static_cast<double>(differing);
  if (differing > 0) r->metrics["heal_bytes_ratio"] = static_cast<double>(moved) / static_cast<double>(differing);
}

void PutEngineCounters(RunResult* r) {
  // Flows only are read from the sum: a level summed this way would be the last node's.
  EngineStats sum;
  for (const NodeSummary& ns : r->nodes) Accumulate(sum, ns.stats);
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
      {"frames_relayed", sum.frames_relayed},
  };
  for (const auto& [name, value] : engine_counters) r->metrics[std::string("engine.") + name] = static_cast<double>(value);
}

}  // namespace

RunResult RunRecorder::Finish(Duration end, const std::function<NodeAtEnd(NodeId)>& node_at_end) {
  Impl& m = *impl_;
  m.oracle.Finish(end);
  RunResult r;
  r.changes_skipped = m.skipped;
  r.changes_refused = m.refused;
  r.membership = m.oracle.timing().membership;
  r.views = m.views;
  r.fault_windows = m.fault_windows.Windows(end);
  r.view_count = m.view_count;

  // Per-node summaries and final views against the oracle.
  std::uint64_t frames = 0, bytes = 0, lost = 0, stale = 0;
  std::optional<std::uint64_t> wan_frames;
  for (const auto& [node, what] : m.oracle.problems()) {
    ++stale;
    NoteDiscrepancy(&r, node, "node " + std::to_string(node) + " " + what);
  }
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
    if (a.frames_to_other_sites) wan_frames = wan_frames.value_or(0) + *a.frames_to_other_sites;
    // The backend's account of who is up must be the history's.
    const bool up_in_history = m.oracle.history().Up(n, end);
    if (up_in_history != a.view.has_value()) {
      ++stale;
      NoteDiscrepancy(&r, n, up_in_history ? "is up at the end but gave no final view"
                                           : "gave a final view but is down at the end");
    }
    if (a.view) {
      ns.final_digest = a.view->digest;
      m.CheckFinalView(n, *a.view, end, &lost, &stale, &r);
      if (m.keep_timelines) ns.last_disagreement = m.LastCatchUp(n, end);
    }
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
  if (!m.heal_bytes.empty() && m.heal_bytes.back().open) m.heal_bytes.back().covered_until = end;
  if (m.keep_timelines) r.convergence = m.MeasureConvergence(end);

  const double n_changes = static_cast<double>(m.changes.size());
  r.metrics["lost"] = static_cast<double>(lost);
  r.metrics["stale"] = static_cast<double>(stale);
  r.metrics["changes"] = n_changes;
  if (n_changes > 0) {
    r.metrics["messages_per_change"] = static_cast<double>(frames) / n_changes;
    r.metrics["bytes_per_change"] = static_cast<double>(bytes) / n_changes;
    if (wan_frames) r.metrics["wan_frames_per_change"] = static_cast<double>(*wan_frames) / n_changes;
  }
  std::vector<double> delivery, stable;
  delivery.reserve(m.deliveries.size());
  for (const DeliverySample& d : m.deliveries) delivery.push_back(static_cast<double>(d.latency.count()));
  for (const ChangeRecord& c : m.changes) {
    if (c.stable) stable.push_back(static_cast<double>(c.stable->count()));
  }
  PutFamily(&r, "delivery_latency", delivery);
  PutFamily(&r, "stable_latency", stable);
  PutConvergence(&r);
  PutHealBytes(&r);
  PutEngineCounters(&r);
  if (m.memory) {
    if (auto g = MemoryGrowthPct(m.memory_samples, m.memory->baseline, end)) r.metrics[std::string(scenario::kMemoryGrowthMetric)] = *g;
  }
  r.memory = std::move(m.memory_samples);

  r.changes = std::move(m.changes);
  r.deliveries = std::move(m.deliveries);
  return r;
}

}  // namespace pbxstate::harness
