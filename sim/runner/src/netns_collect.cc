// What a namespace run measures besides the recorder's events: statistics sampled once a second
// from every daemon at once, each live node's final view at the end, and the run record.
#include <cstdio>
#include <fstream>

#include "netns_run.h"
#include "pbxstate/harness/run_record.h"
#include "pbxstate/netns/host_counters.h"

namespace pbxstate::runner::netns_run {

using control::Op;
using control::Request;

Status NetnsRun::Sample(Duration t, std::optional<Duration> memory_at) {
  assert(!sampling_);
  sampling_ = SampleRound{t, memory_at, std::chrono::steady_clock::now()};
  // Every daemon asked at once; the answers are read as they come (PollEvents).
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    Node& node = nodes_[n];
    if (!node.answering()) continue;
    if (Status st = node.control->Send(Request::Simple(Op::kStats), kCallTimeout); !st.ok()) {
      return Status::FailedPrecondition("node " + std::to_string(n) + ": stats: " + st.message());
    }
    ++node.stats_asked;
    node.in_sample = true;
  }
  FinishSampleRound();
  return Status::Ok();
}

Status NetnsRun::ReadStats(NodeId n) {
  Node& node = nodes_[n];
  std::vector<nlohmann::json> answers;
  Status st = node.control->ReadResponses(&answers);
  for (std::size_t i = 0; st.ok() && i < answers.size(); ++i) {
    if (node.listing_since) {
      // The restart's listing was asked before any stats on this connection.
      if (Status c = FinishCatchUp(n, answers[i]); !c.ok()) return c;
      continue;
    }
    if (node.stats_asked == 0) {
      st = Status::FailedPrecondition("an answer to no request");
      break;
    }
    control::Reply reply;
    if (st = control::DecodeReply(Op::kStats, answers[i], &reply); !st.ok()) break;
    --node.stats_asked;
    node.last_stats = std::get<control::StatsReply>(reply).engine;
    // A crash's answer after the round's is as good: the round takes the first.
    if (node.in_sample && sampling_ && sampling_->memory_at) {
      rec_.EngineMemorySampled(*sampling_->memory_at, n, node.last_stats.held_bytes);
    }
    node.in_sample = false;
  }
  if (!st.ok()) return Status::FailedPrecondition("node " + std::to_string(n) + ": stats: " + st.message());
  FinishSampleRound();
  return Status::Ok();
}

void NetnsRun::FinishSampleRound() {
  if (!sampling_) return;
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (nodes_[n].in_sample) return;
  }
  harness::SeriesPoint p;
  p.t = sampling_->t;
  std::uint64_t total_frames = 0, total_bytes = 0;
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    Node& node = nodes_[n];
    const std::uint64_t frames = node.frames_dead + (node.up ? node.last_stats.frames_out : 0);
    const std::uint64_t bytes = node.bytes_dead + (node.up ? node.last_stats.bytes_out : 0);
    p.frames_by_node.push_back(frames - node.frames_at_last_sample);
    node.frames_at_last_sample = frames;
    total_frames += frames;
    total_bytes += bytes;
  }
  p.frames = total_frames - sampled_frames_;
  p.bytes = total_bytes - sampled_bytes_;
  sampled_frames_ = total_frames;
  sampled_bytes_ = total_bytes;
  series_.push_back(std::move(p));
  sampling_.reset();
}

Status NetnsRun::FinishSampling() {
  while (sampling_) {
    if (std::chrono::steady_clock::now() - sampling_->asked > kCallTimeout) {
      return Status::FailedPrecondition("stats of second " + Seconds(sampling_->t) + ": a daemon did not answer within " +
                                        Seconds(kCallTimeout));
    }
    if (Status st = PollEvents(kMaxPoll); !st.ok()) return st;
  }
  return Status::Ok();
}

Status NetnsRun::Collect(Duration end, RunOutcome* outcome) {
  const std::uint32_t count = s_.topology.node_count();
  std::vector<std::optional<harness::FinalView>> finals(count + 1);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> sent(count + 1);
  for (NodeId n : AllNodes()) {
    Node& node = nodes_[n];
    sent[n] = {node.frames_dead, node.bytes_dead};
    if (!node.up) continue;
    control::DumpReply dump;
    control::StatsReply stats;
    if (Status st = Call(n, Request::Simple(Op::kDump), &dump); !st.ok()) return st;
    if (Status st = Call(n, Request::Simple(Op::kStats), &stats); !st.ok()) return st;
    finals[n] = HarnessFinalView(dump, stats.engine, wall_);
    sent[n].first += stats.engine.frames_out;
    sent[n].second += stats.engine.bytes_out;
  }
  outcome->result = rec_.Finish(end, [&](NodeId n) {
    harness::RunRecorder::NodeAtEnd a;
    a.view = finals[n];
    // Frames the engine handed to corosync: a CPG multicast counts once, whatever totem does.
    a.frames_sent = sent[n].first;
    a.bytes_sent = sent[n].second;
    return a;
  });
  AddEndStateMetrics(s_, &outcome->result);
  CallsResult(&outcome->result);
  outcome->info.backend = network_->backend();
  outcome->verdicts = harness::EvaluateChecks(s_, outcome->result, *s_.detection, outcome->info.backend);
  outcome->info.end = end;
  DescribeLateness(outcome);
  ReadHostLoss(outcome);
  outcome->info.notes.push_back("corosync " + std::string(netns::CorosyncTransportName(netns_options_.corosync_transport)) +
                                ", " + TotemSummary(s_, netns_options_) + "; messages count frames the engines handed "
                                "to CPG (a CPG multicast once)");
  if (calls_ != nullptr) {
    outcome->info.notes.push_back("calls routed over real time, " + std::to_string(calls_->locates) +
                                  " locate requests; a hop takes the configured one-way delay between the servers");
  }
  outcome->info.daemon_wait = waits_.Record();
  if (!waits_.unavailable().empty()) outcome->info.notes.push_back(waits_.unavailable());
  network_->Describe(&outcome->info);
  outcome->info.seed = s_.seed;
  outcome->info.series = std::move(series_);
  outcome->info.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  return WriteRecord(finals, outcome);
}

Status NetnsRun::WriteRecord(const std::vector<std::optional<harness::FinalView>>& finals, RunOutcome* outcome) const {
  if (options_.out) {
    std::string error;
    if (!harness::WriteRunRecord(*options_.out, s_, outcome->info, outcome->result, outcome->verdicts, &error)) {
      return Status::FailedPrecondition(error);
    }
    if (options_.dump_state) {
      std::vector<std::string> lines;
      for (NodeId n : AllNodes()) {
        if (finals[n]) harness::AppendNodeState(&lines, n, *finals[n]);
      }
      harness::AppendChangeLog(&lines, outcome->result);
      if (!harness::WriteLines(*options_.out / "state.jsonl", lines, &error)) return Status::FailedPrecondition(error);
    }
  }
  return Status::Ok();
}

void NetnsRun::ReadHostLoss(RunOutcome* outcome) const {
  for (NodeId n : AllNodes()) {
    // corosync's own counters (knet's per link: data packets sent and received, pings), kept
    // with its log as evidence: with the kernel's they place a loss between two knets.
    std::string stats;
    if (cluster_->CorosyncRunning(n) && cluster_->Exec(n, {"corosync-cmapctl", "-m", "stats"}, kCallTimeout, &stats).ok()) {
      std::ofstream(cluster_->NodeDir(n) / "corosync-stats.txt", std::ios::trunc) << stats;
    }
    std::string text;
    netns::HostCounters c;
    Status st = cluster_->Exec(n, {"cat", "/proc/net/snmp", "/proc/net/dev"}, kCallTimeout, &text);
    if (st.ok()) st = netns::ParseHostCounters(text, &c);
    if (!st.ok()) {
      outcome->info.notes.push_back("node " + std::to_string(n) + ": host counters not read: " + st.message());
      continue;
    }
    outcome->info.hosts.push_back({.node = n, .counters = std::move(c), .emu_refused = std::nullopt});
  }
}

void NetnsRun::DescribeLateness(RunOutcome* outcome) {
  harness::DriverLateness d;
  d.changes = lateness_.size();
  d.worst = max_lag_;
  d.worst_at = max_lag_at_;
  d.bound = kMaxChangeLateness;
  auto rank = [&](double q) {
    const auto i = static_cast<std::ptrdiff_t>(q * static_cast<double>(lateness_.size() - 1));
    std::nth_element(lateness_.begin(), lateness_.begin() + i, lateness_.end());
    return lateness_[static_cast<std::size_t>(i)];
  };
  if (!lateness_.empty()) {
    // Time 0 is the instant the driver is ready (RunStart): the first change is as late as any.
    outcome->info.notes.push_back("driver: the first change issued was " + Seconds(lateness_.front()) +
                                  " after its planned time");
    outcome->info.notes.push_back(QueueNote());
    d.p50 = rank(0.5);
    d.p99 = rank(0.99);
  }
  outcome->info.driver = d;
  if (!d.valid()) {
    outcome->invalid = "the harness issued changes up to " + Seconds(d.worst) + " after their planned time (the change "
                       "planned at " + Seconds(d.worst_at) + "; p99 " + Seconds(d.p99) + ", bound " + Seconds(d.bound) +
                       "): it did not run the scenario's workload on time (a starved harness, or more changes than "
                       "it sustains). A less loaded machine, or a lower rate";
  }
}

}  // namespace pbxstate::runner::netns_run
