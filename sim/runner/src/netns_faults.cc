// The scenario's faults during a namespace run, made with the cluster's real mechanisms
// (sim/netns/README.md, "Faults"). A fault's time is when its mechanism began to act.
#include <signal.h>
#include <unistd.h>

#include "netns_run.h"
#include "pbxstate/netns/interrupt.h"

namespace pbxstate::runner::netns_run {

Status NetnsRun::Crash(const scenario::Fault& f, NodeId id) {
  Node& node = nodes_[id];
  if (node.starting) {
    if (Status st = FinishStart(id); !st.ok()) return st;
  }
  assert(node.up && node.crash == nullptr);
  // The dead incarnation's frames count from stats read after everything sent to it: asked now,
  // read as they come (PollEvents); from now on the node takes no changes or locates.
  if (Status st = node.control->Send(control::Request::Simple(control::Op::kStats), kCallTimeout); !st.ok()) {
    return Status::FailedPrecondition("node " + std::to_string(id) + ": stats: " + st.message());
  }
  ++node.stats_asked;
  node.crash = &f;
  node.crash_step_since = std::chrono::steady_clock::now();
  return AdvanceCrash(id);
}

Status NetnsRun::AdvanceCrash(NodeId id) {
  Node& node = nodes_[id];
  if (node.crash == nullptr) return Status::Ok();
  const bool waited_long = std::chrono::steady_clock::now() - node.crash_step_since > kCallTimeout;
  const std::string who = "crash of node " + std::to_string(id) + ": ";
  if (!node.killed_at) {
    const bool answered = node.queue.empty() && node.stats_asked == 0 && !node.listing_since &&
                          (calls_ == nullptr || calls_->locating[id].empty());
    if (!answered) {
      if (!waited_long) return Status::Ok();
      return Status::FailedPrecondition(who + "its daemon did not answer what was sent to it within " +
                                        Seconds(kCallTimeout));
    }
    return Kill(id);
  }
  if (node.events != nullptr || cluster_->DaemonRunning(id)) {
    if (!waited_long) return Status::Ok();
    return Status::FailedPrecondition(who + (node.events != nullptr ? "its event stream did not close" : "its daemon "
                                      "was not reaped") + " within " + Seconds(kCallTimeout) + " of the SIGKILL");
  }
  node.crash = nullptr;
  node.killed_at.reset();
  return Status::Ok();
}

Status NetnsRun::Kill(NodeId id) {
  Node& node = nodes_[id];
  const scenario::Fault& f = *node.crash;
  // A host crash: corosync first, so its peers learn of it only by the token timeout (killing
  // the daemon first would let the local corosync announce a clean CPG leave). Corosync's kill
  // waits for its reaping (--crash-corosync only); the daemon's is polled (AdvanceCrash).
  if (netns_options_.crash_corosync) {
    if (Status st = cluster_->KillCorosync(id); !st.ok()) return st;
  }
  const Duration tc = Now();
  netns::ChildProcess& daemon = cluster_->daemon(id);
  daemon.Signal(SIGKILL);
  if (daemon.pid() > 0) kill(daemon.pid(), SIGKILL);  // in case it left its group
  node.killed_at = tc;
  node.crash_step_since = std::chrono::steady_clock::now();
  node.up = false;
  node.control.reset();
  node.writer.reset();
  node.queue.Clear();
  node.locator.reset();
  const EngineStats last = node.last_stats;
  node.frames_dead += last.frames_out;
  node.bytes_dead += last.bytes_out;
  // What the node reported before it died still counts: its stream is read to its end.
  Record(tc, [this, tc, id, last, &f] {
    rec_.NodeCrashed(tc, id, last);
    rec_.FaultApplied(tc, f);
  });
  CallsFaultApplied(f);
  return Status::Ok();
}

Status NetnsRun::AdvanceCrashes() {
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (Status st = AdvanceCrash(n); !st.ok()) return st;
  }
  return Status::Ok();
}

Status NetnsRun::FinishCrash(NodeId id) {
  while (nodes_[id].crash != nullptr) {
    if (netns::InterruptRequested()) return Interrupted();
    if (Status st = PollEvents(kMaxPoll); !st.ok()) return st;
    if (Status st = AdvanceCrash(id); !st.ok()) return st;
  }
  return Status::Ok();
}

Status NetnsRun::Restart(const scenario::Fault& f, NodeId id) {
  // The machine comes back: corosync (when it was killed) and the daemon start together; the
  // daemon waits for corosync itself (corosync.connect_timeout_ms), the harness does not.
  if (Status st = FinishCrash(id); !st.ok()) return st;
  const Duration tr = Now();
  if (!cluster_->CorosyncRunning(id)) {
    if (Status st = cluster_->StartCorosync(id); !st.ok()) return st;
  }
  if (Status st = SpawnDaemon(id); !st.ok()) return st;
  // The node counts as started at the restart (as in ns-3, where the restart and the start are
  // one instant); the recorder waits for its incarnation, known once the daemon answers.
  Record(tr, [this, tr, id] { rec_.NodeStarted(tr, id, nodes_[id].incarnation); }, id);
  Record(tr, [this, tr, &f] { rec_.FaultApplied(tr, f); });
  CallsFaultApplied(f);
  return Status::Ok();
}

Status NetnsRun::ApplyFault(const scenario::Fault& f) {
  if (const auto* c = std::get_if<scenario::Crash>(&f.what)) return Crash(f, c->node);
  if (const auto* re = std::get_if<scenario::Restart>(&f.what)) return Restart(f, re->node);
  std::int64_t t_mono = 0;
  if (Status st = network_->Apply(f, &t_mono); !st.ok()) return st;
  const Duration t = FromMono(t_mono);
  Record(t, [this, t, &f] { rec_.FaultApplied(t, f); });
  CallsFaultApplied(f);
  return Status::Ok();
}

Status NetnsNetwork::Apply(const scenario::Fault& f, std::int64_t* t_mono_ns) {
  *t_mono_ns = ClockNs(CLOCK_MONOTONIC);
  const std::uint32_t count = s_.topology.node_count();
  if (const auto* p = std::get_if<scenario::Partition>(&f.what)) return cluster_->Cut(p->sides, p->one_way);
  if (std::holds_alternative<scenario::Heal>(f.what)) return cluster_->Heal();
  if (const auto* iso = std::get_if<scenario::Isolate>(&f.what)) {
    std::vector<NodeId> rest;
    for (NodeId n = 1; n <= count; ++n) {
      if (n != iso->node) rest.push_back(n);
    }
    return cluster_->Cut({{iso->node}, rest}, false);
  }
  if (const auto* d = std::get_if<scenario::Degrade>(&f.what)) {
    netns::NetemParams q = LanNetem(s_.topology.sites[0].lan);
    if (d->delay) q.delay = *d->delay;
    if (d->loss) q.loss = *d->loss;
    if (d->bandwidth_bps) q.rate_bps = *d->bandwidth_bps;
    Status st;
    for (NodeId n = 1; n <= count && st.ok(); ++n) st = cluster_->SetLink(n, q);
    return st;
  }
  if (std::holds_alternative<scenario::Restore>(f.what)) {
    Status st;
    for (NodeId n = 1; n <= count && st.ok(); ++n) st = cluster_->SetLink(n, LanNetem(s_.topology.sites[0].lan));
    return st;
  }
  return Status::InvalidArgument("netns: not a network fault");
}

}  // namespace pbxstate::runner::netns_run
