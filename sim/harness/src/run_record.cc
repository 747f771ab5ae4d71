#include "pbxstate/harness/run_record.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "pbxstate/check.h"
#include "pbxstate/engine.h"
#include "pbxstate/harness/csv.h"

#ifndef PBXSTATE_GIT_COMMIT
#define PBXSTATE_GIT_COMMIT "unknown"
#endif
#ifndef PBXSTATE_VERSION
#define PBXSTATE_VERSION "0"
#endif
#ifndef PBXSTATE_BUILD_TYPE
#define PBXSTATE_BUILD_TYPE "unknown"
#endif

namespace pbxstate::harness {
namespace {

using nlohmann::json;

// JSON has no infinity: a metric that never converged is written as null.
json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json StatsJson(const EngineStats& s) {
  json j = json::object();
  ForEachStat(s, [&j](std::string_view name, std::uint64_t value) { j[std::string(name)] = value; });
  json dropped = json::object();
  for (int i = 0; i < kDropReasonCount; ++i) {
    dropped[std::string(DropReasonName(static_cast<DropReason>(i)))] = s.dropped[static_cast<std::size_t>(i)];
  }
  j["dropped"] = dropped;
  return j;
}

bool WriteFile(const std::filesystem::path& file, const std::string& text, std::string* error) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    *error = file.string() + ": cannot write";
    return false;
  }
  return true;
}

}  // namespace

std::string BuildIdentity() {
  return std::string("pbxstate ") + PBXSTATE_VERSION + " (" + PBXSTATE_GIT_COMMIT + ", " + PBXSTATE_BUILD_TYPE +
         ", gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + ")";
}

const DaemonWait* DaemonWaits::worst() const {
  const auto most = std::max_element(daemons.begin(), daemons.end(),
                                     [](const DaemonWait& a, const DaemonWait& b) { return a.worst < b.worst; });
  return most == daemons.end() ? nullptr : &*most;
}

std::vector<CheckVerdict> EvaluateChecks(const scenario::Scenario& s, const RunResult& r, Duration detection,
                                         std::string_view backend) {
  // A backend name outside the one list would make every check that names backends "not
  // applicable", and the run pass on nothing.
  PBXSTATE_CHECK(std::find(scenario::kBackendNames.begin(), scenario::kBackendNames.end(), backend) !=
                 scenario::kBackendNames.end());
  std::vector<CheckVerdict> out;
  for (const scenario::Check& c : s.checks) {
    CheckVerdict v;
    v.check = c.Resolved(detection);
    if (c.plus_detection) v.detection = detection;
    if (!c.AppliesTo(backend)) {
      std::string list;
      for (const std::string& b : c.backends) list += (list.empty() ? "" : ", ") + b;
      v.not_applicable = "not applicable on " + std::string(backend) + " (the check is for " + list + ")";
      out.push_back(v);
      continue;
    }
    // A metric this backend does not measure (MetricInfo::measured_on): the check says nothing here.
    if (const scenario::MetricInfo* info = scenario::FindMetric(c.metric); info != nullptr && !info->MeasuredOn(backend)) {
      v.not_applicable = "not applicable on " + std::string(backend) + " (" + c.metric + " is " + MeasuredOnNote(*info) + ")";
      out.push_back(v);
      continue;
    }
    auto it = r.metrics.find(c.metric);
    if (it != r.metrics.end()) {
      v.measured = true;
      v.observed = it->second;
      v.pass = std::isfinite(it->second) ? v.check.Holds(it->second) : false;
    }
    out.push_back(v);
  }
  return out;
}

namespace {

// run.json's "scenario": what was run.
json ScenarioJson(const scenario::Scenario& s) {
  json j = {{"name", s.name},
            {"file", s.file},
            {"description", s.description},
            {"nodes", s.topology.node_count()},
            {"duration_ns", s.duration.count()},
            {"quiet_ns", s.Quiet().count()},
            {"transport", std::string(scenario::TransportModeName(s.transport))}};
  // Present only with cluster.auth, so that other records keep their bytes.
  if (s.auth) j["auth"] = true;
  return j;
}

json CpusJson(const std::vector<LagSpellRecord::Cpu>& cpus) {
  json out = json::array();
  for (const LagSpellRecord::Cpu& c : cpus) {
    json top = json::array();
    for (const LagSpellRecord::Task& t : c.top) {
      top.push_back({{"comm", t.comm}, {"pid", t.pid}, {"prio", t.prio}, {"ran_ns", t.ran.count()}});
    }
    out.push_back({{"cpu", c.cpu},
                   {"known", c.known},
                   {"switches", c.switches},
                   {"simulation_woken", c.simulation_woken},
                   {"not_executed_ns", c.not_executed.count()},
                   {"idle_ns", c.idle.count()},
                   {"other_tasks_ns", c.other_tasks.count()},
                   {"tasks", top}});
  }
  return out;
}

json RealtimeJson(const RealtimeLag& l) {
  json j = {{"probe_interval_ns", l.interval.count()}, {"probes", l.probes},
            {"worst_lag_ns", l.worst.count()},         {"worst_lag_at_ns", l.worst_at.count()},
            {"p50_lag_ns", l.p50.count()},             {"p99_lag_ns", l.p99.count()},
            {"probes_over_1ms", l.over_1ms},           {"bound_ns", l.bound.count()},
            {"valid", l.valid()}};
  if (l.causes_over_1ms.empty()) return j;
  json causes = json::object();
  for (const auto& [cause, n] : l.causes_over_1ms) causes[cause] = n;
  j["stalls_over_1ms_by_cause"] = causes;
  j["bringup_worst_lag_ns"] = l.bringup_worst.count();
  j["bringup_probes_over_1ms"] = l.bringup_over_1ms;
  j["timer_interrupts_traced"] = l.timer_interrupts_traced;
  j["timer_interrupt_losses"] = l.timer_interrupt_losses;
  j["kernel_tick_ns"] = l.kernel_tick.count();
  j["stalls_over_bound"] = l.over_bound;
  j["stalls_over_bound_machine"] = l.over_bound_machine;
  j["machine_pause_bound_ns"] = l.machine_pause_bound.count();
  json spells = json::array();
  for (const LagSpellRecord& s : l.spells) {
    spells.push_back({{"lag_ns", s.lag.count()},
                      {"at_ns", s.at.count()},
                      {"sampled", s.sampled},
                      {"steal_every_cpu_ns", s.steal_every_cpu.count()},
                      {"steal_window_ns", s.steal_window.count()},
                      {"lifeguard_gap_ns", s.lifeguard_gap.count()},
                      {"cause", s.cause}});
    if (s.simulation_ran) spells.back()["simulation_ran_ns"] = s.simulation_ran->count();
    if (s.no_timer_interrupt) spells.back()["no_timer_interrupt_ns"] = s.no_timer_interrupt->count();
    if (s.not_executed_every_cpu) spells.back()["not_executed_every_cpu_ns"] = s.not_executed_every_cpu->count();
    if (!s.cpus.empty()) spells.back()["cpus"] = CpusJson(s.cpus);
  }
  j["stalls_over_1ms"] = spells;
  return j;
}

json DriverJson(const DriverLateness& d) {
  return {{"changes", d.changes},
          {"worst_lateness_ns", d.worst.count()},
          {"worst_lateness_at_ns", d.worst_at.count()},
          {"p50_lateness_ns", d.p50.count()},
          {"p99_lateness_ns", d.p99.count()},
          {"bound_ns", d.bound.count()},
          {"valid", d.valid()}};
}

json HostsJson(const std::vector<HostLoss>& hosts) {
  json out = json::array();
  for (const HostLoss& h : hosts) {
    json one = {{"node", h.node}};
    for (const auto& [name, value] : h.counters) one[name] = value;
    if (h.emu_refused) one["emu_refused"] = *h.emu_refused;
    out.push_back(std::move(one));
  }
  return out;
}

// run.json's "daemon_wait": the run's worst first, then per node each daemon's figures.
json DaemonWaitJson(const DaemonWaits& w) {
  json out = {{"interval_ns", w.interval.count()},       {"samples", w.samples},
              {"longest_interval_ns", w.longest_interval.count()}, {"longest_sample_ns", w.longest_sample.count()},
              {"bound_ns", w.bound.count()},             {"within_bound", w.within_bound()},
              {"max_threads", w.max_threads}};
  if (const DaemonWait* worst = w.worst()) {
    out["worst_wait_ns"] = worst->worst.count();
    out["worst_wait_at_ns"] = worst->worst_at.count();
    out["worst_node"] = worst->node;
    out["worst_daemon"] = worst->daemon;
  }
  std::map<NodeId, json> by_node;
  for (const DaemonWait& d : w.daemons) {
    by_node[d.node][d.daemon] = {{"worst_wait_ns", d.worst.count()},
                                 {"worst_wait_at_ns", d.worst_at.count()},
                                 {"total_wait_ns", d.total.count()},
                                 {"threads", d.threads},
                                 {"threads_unread", d.threads_unread}};
  }
  json nodes = json::array();
  for (auto& [node, daemons] : by_node) {
    daemons["node"] = node;
    nodes.push_back(std::move(daemons));
  }
  out["nodes"] = std::move(nodes);
  return out;
}

// run.json's "checks"; *all_pass tells whether every one passed.
json ChecksJson(const std::vector<CheckVerdict>& verdicts, bool* all_pass) {
  json checks = json::array();
  *all_pass = true;
  for (const CheckVerdict& v : verdicts) {
    checks.push_back({{"check", v.check.text},
                      {"metric", v.check.metric},
                      {"op", std::string(scenario::CompareOpText(v.check.op))},
                      {"threshold", v.check.threshold},
                      {"observed", v.measured ? Number(v.observed) : json(nullptr)},
                      {"measured", v.measured},
                      {"pass", v.applicable() ? json(v.pass) : json(nullptr)}});
    // Only for a check written with "detection", so that other records keep their bytes.
    if (v.detection) checks.back()["detection_ns"] = v.detection->count();
    // Only for a check that names its backends, likewise.
    if (!v.check.backends.empty()) checks.back()["backends"] = v.check.backends;
    if (!v.applicable()) checks.back()["not_applicable"] = v.not_applicable;
    *all_pass = *all_pass && !v.failed();
  }
  return checks;
}

json ConvergenceJson(const std::vector<ConvergenceSample>& samples) {
  json conv = json::array();
  for (const ConvergenceSample& c : samples) {
    json by_node = json::array();
    for (const auto& [node, took] : c.by_node) {
      by_node.push_back({{"node", node}, {"took_ns", took ? json(took->count()) : json(nullptr)}});
    }
    // interrupted: the next fault (interrupted_by, at until_ns) came before agreement; such a
    // sample is in no convergence figure (metric convergence.interrupted counts them).
    conv.push_back({{"by_node", by_node},
                    {"after", c.after},
                    {"fault", c.fault},
                    {"fault_at_ns", c.fault_at.count()},
                    {"converged", c.converged},
                    {"interrupted", c.interrupted},
                    {"interrupted_by", c.interrupted ? json(c.interrupted_by) : json(nullptr)},
                    {"until_ns", c.until.count()},
                    {"took_ns", c.converged ? json(c.took.count()) : json(nullptr)}});
    // A heal whose bytes were counted (RunRecorder::CountNetworkBytes): what it moved until
    // agreement and the encoded size of what the nodes lacked (metric heal_bytes_ratio).
    if (c.bytes) {
      conv.back()["bytes"] = *c.bytes;
      conv.back()["differing_bytes"] = c.differing_bytes;
    }
  }
  return conv;
}

// Both strategies side by side over the same calls (scenarios/README.md, "calls").
json CallsJson(const CallSummary& calls) {
  json strategies = json::array();
  for (const auto& [st, c] : calls.strategies) {
    strategies.push_back({{"strategy", std::string(scenario::RoutingStrategyName(st))},
                          {"routed", c.calls},
                          {"completed", c.completed},
                          {"inside_faults", {{"routed", c.inside_calls}, {"completed", c.inside_completed}}},
                          {"outside_faults",
                           {{"routed", c.calls - c.inside_calls}, {"completed", c.completed - c.inside_completed}}},
                          {"looped", c.looped},
                          {"hop_limit", c.hop_limit},
                          {"failed_hops", c.failed_hops},
                          {"stale_sends", c.stale_sends},
                          {"extra_hops_sum", c.extra_hops_sum},
                          {"extra_hops_max", c.extra_hops_max}});
    if (st == scenario::RoutingStrategy::kLocation && calls.location_looped_on_current_views) {
      strategies.back()["looped_on_current_views"] = *calls.location_looped_on_current_views;
    }
  }
  return {{"total", calls.total}, {"unroutable", calls.unroutable}, {"strategies", strategies}};
}

// The views the oracle judged transport membership by, as the backend handed them over.
json MembershipJson(const RunResult& r) {
  json views = json::array();
  for (const MembershipRecord& v : r.views) views.push_back({{"t_ns", v.t.count()}, {"node", v.node}, {"members", v.members}});
  return {{"source", "transport"}, {"views_delivered", r.view_count}, {"views_listed", r.views.size()}, {"views", views}};
}

// The engines' memory as sampled (a scenario with a memory section): per node, [t_ns, held_bytes]
// in time order.
json MemoryJson(const scenario::MemorySampling& m, const std::vector<MemorySample>& samples) {
  std::map<NodeId, json> by_node;
  for (const MemorySample& s : samples) by_node[s.node].push_back({s.t.count(), s.held_bytes});
  json nodes = json::object();
  for (auto& [node, list] : by_node) nodes[std::to_string(node)] = std::move(list);
  return {{"sample_every_ns", m.sample_every.count()}, {"baseline_ns", m.baseline.count()}, {"held_bytes", nodes}};
}

json NodesJson(const std::vector<NodeSummary>& summaries) {
  json nodes = json::array();
  for (const NodeSummary& n : summaries) {
    nodes.push_back({{"node", n.node},
                     {"up_at_end", n.up_at_end},
                     {"incarnation", n.incarnation},
                     {"final_digest", n.final_digest},
                     {"frames_sent", n.frames_sent},
                     {"bytes_sent", n.bytes_sent},
                     {"last_disagreement_ns", n.last_disagreement ? json(n.last_disagreement->count()) : json(nullptr)},
                     {"stats", StatsJson(n.stats)}});
  }
  return nodes;
}

// The stretches a fault was in force, as the runner applied them (fault_windows.h); closed_by is
// null for a window the run's end closed.
json FaultWindowsJson(const std::vector<FaultWindow>& windows) {
  json out = json::array();
  for (const FaultWindow& w : windows) {
    out.push_back({{"start_ns", w.start.count()}, {"end_ns", w.end.count()}, {"kind", w.kind}, {"nodes", w.nodes},
                   {"opened_by", w.opened_by}, {"closed_by", w.closed_by.empty() ? json(nullptr) : json(w.closed_by)}});
  }
  return out;
}

// run.json: everything but wall-clock figures, so the same run gives the same bytes.
json RunJson(const scenario::Scenario& s, const RunInfo& info, const RunResult& r,
             const std::vector<CheckVerdict>& verdicts) {
  json run;
  run["format"] = "pbxstate-run/1";
  run["scenario"] = ScenarioJson(s);
  run["seed"] = info.seed;
  run["backend"] = info.backend;
  // Only backends with something to say add the key, so other records keep their bytes.
  if (!info.notes.empty()) run["backend_notes"] = info.notes;
  if (info.realtime) run["realtime"] = RealtimeJson(*info.realtime);
  if (info.driver) run["driver"] = DriverJson(*info.driver);
  if (!info.hosts.empty()) run["hosts"] = HostsJson(info.hosts);
  if (info.daemon_wait) run["daemon_wait"] = DaemonWaitJson(*info.daemon_wait);
  run["build"] = BuildIdentity();
  json metrics = json::object();
  for (const auto& [name, value] : r.metrics) metrics[name] = Number(value);
  run["metrics"] = metrics;
  bool all_pass = true;
  run["checks"] = ChecksJson(verdicts, &all_pass);
  run["verdict"] = all_pass ? "pass" : "fail";
  run["convergence"] = ConvergenceJson(r.convergence);
  json faults = json::array();
  for (const scenario::Fault& f : s.faults) {
    faults.push_back({{"at_ns", f.at.count()}, {"line", f.pos.line}, {"text", DescribeFault(f)}});
  }
  run["faults"] = faults;
  run["fault_windows"] = FaultWindowsJson(r.fault_windows);
  // Transport membership only, so that heartbeat records keep their bytes (no views there: the
  // oracle modelled the detectors).
  if (r.membership == MembershipSource::kTransport) run["membership"] = MembershipJson(r);
  run["changes"] = {{"made", r.changes.size()}, {"skipped_node_down", r.changes_skipped}, {"refused", r.changes_refused}};
  if (r.calls) run["calls"] = CallsJson(*r.calls);
  run["nodes"] = NodesJson(r.nodes);
  // Only with a memory section, so other records keep their bytes.
  if (s.memory) run["memory"] = MemoryJson(*s.memory, r.memory);
  json disc = json::array();
  for (const Discrepancy& d : r.discrepancies) disc.push_back({{"node", d.node}, {"what", d.what}});
  run["discrepancies"] = disc;
  run["discrepancy_count"] = r.discrepancy_count;
  json series = json::array();
  for (const SeriesPoint& p : info.series) {
    series.push_back({{"t_ns", p.t.count()}, {"frames", p.frames}, {"bytes", p.bytes}, {"frames_by_node", p.frames_by_node}});
  }
  run["series"] = series;
  run["latency_rows"] = std::min(r.deliveries.size(), kMaxLatencyRows);
  run["latency_rows_dropped"] = r.deliveries.size() > kMaxLatencyRows ? r.deliveries.size() - kMaxLatencyRows : 0;
  return run;
}

// timing.json: the wall-clock figures, which differ from run to run.
json TimingJson(const scenario::Scenario& s, const RunInfo& info) {
  json timing = {{"wall_seconds", info.wall_seconds},
                 {"simulated_seconds", static_cast<double>(s.end().count()) / 1e9},
                 {"events", info.events}};
  if (info.wall_seconds > 0) {
    timing["simulated_seconds_per_wall_second"] = static_cast<double>(s.end().count()) / 1e9 / info.wall_seconds;
    timing["events_per_wall_second"] = static_cast<double>(info.events) / info.wall_seconds;
  }
  return timing;
}

// latencies.csv: one row per (change, node) delivery, at most kMaxLatencyRows.
std::string LatenciesCsv(const RunResult& r) {
  std::string csv;
  CsvRow row(&csv, kLatenciesCsvColumns);
  row.Header();
  std::size_t rows = 0;
  for (const DeliverySample& d : r.deliveries) {
    if (rows++ >= kMaxLatencyRows) break;
    const ChangeRecord& c = r.changes[d.change];
    row.Integer(d.change).Integer(c.origin).Text(EntryKindName(c.kind)).Text(c.key).Integer(c.at.count());
    row.Integer(d.node).Integer(d.latency.count()).End();
  }
  return csv;
}

// changes.csv: one row per local change, with the moment it was stable.
std::string ChangesCsv(const RunResult& r) {
  std::string csv;
  CsvRow row(&csv, kChangesCsvColumns);
  row.Header();
  for (std::size_t i = 0; i < r.changes.size(); ++i) {
    const ChangeRecord& c = r.changes[i];
    row.Integer(i).Integer(c.origin).Text(EntryKindName(c.kind)).Text(c.key).Integer(c.at.count());
    row.OptionalInteger(c.stable ? std::optional<std::int64_t>(c.stable->count()) : std::nullopt).End();
  }
  return csv;
}

}  // namespace

bool WriteRunRecord(const std::filesystem::path& dir, const scenario::Scenario& s, const RunInfo& info,
                    const RunResult& r, const std::vector<CheckVerdict>& verdicts, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = dir.string() + ": " + ec.message();
    return false;
  }
  return WriteFile(dir / "run.json", RunJson(s, info, r, verdicts).dump(2) + "\n", error) &&
         WriteFile(dir / "timing.json", TimingJson(s, info).dump(2) + "\n", error) &&
         WriteFile(dir / "latencies.csv", LatenciesCsv(r), error) &&
         WriteFile(dir / "changes.csv", ChangesCsv(r), error);
}

void AppendNodeState(std::vector<std::string>* lines, NodeId node, const Engine& engine) {
  AppendNodeState(lines, node, FinalViewOf(engine));
}

void AppendNodeState(std::vector<std::string>* lines, NodeId node, const FinalView& view) {
  json devices = json::array();
  for (const FinalView::Device& d : view.devices) {
    json contributions = json::array();
    for (const DeviceContribution& c : d.contributions) {
      contributions.push_back({{"node", c.node}, {"state", std::string(DeviceStateName(c.state))},
                               {"incarnation", c.version.incarnation}, {"sequence", c.version.sequence}});
    }
    devices.push_back({{"device", d.name},
                       {"aggregate", d.aggregate ? json(std::string(DeviceStateName(*d.aggregate))) : json(nullptr)},
                       {"contributions", contributions}});
  }
  json regs = json::array();
  for (const FinalView::Registration& r : view.registrations) {
    const RegistrationView& v = r.view;
    regs.push_back({{"aor", r.aor}, {"node", v.node}, {"contact", v.info.contact},
                    {"expires_ns", v.info.expires.time_since_epoch().count()},
                    {"reachable", v.info.status == ContactStatus::kReachable}});
  }
  json mailboxes = json::array();
  for (const FinalView::Mailbox& m : view.mailboxes) {
    const MailboxValue& v = m.value;
    mailboxes.push_back({{"mailbox", m.mailbox}, {"new", v.counts.new_messages}, {"old", v.counts.old_messages},
                         {"urgent", v.counts.urgent_messages}, {"writer", v.writer}});
  }
  lines->push_back(json({{"type", "node_view"}, {"node", node}, {"devices", devices}, {"registrations", regs},
                         {"mailboxes", mailboxes}}).dump());
}

void AppendChangeLog(std::vector<std::string>* lines, const RunResult& r) {
  for (std::size_t i = 0; i < r.changes.size(); ++i) {
    const ChangeRecord& c = r.changes[i];
    lines->push_back(json({{"type", "change"}, {"index", i}, {"at_ns", c.at.count()}, {"origin", c.origin},
                           {"kind", std::string(EntryKindName(c.kind))}, {"key", c.key}})
                         .dump());
  }
}

bool WriteLines(const std::filesystem::path& file, const std::vector<std::string>& lines, std::string* error) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  return WriteFile(file, text, error);
}

}  // namespace pbxstate::harness
