// The scenario's faults during a namespace run, made with the cluster's real mechanisms
// (sim/netns/README.md, "Faults"). A fault's time is when its mechanism began to act.
#include <unistd.h>

#include "netns_run.h"

namespace pbxstate::runner::netns_run {

Status NetnsRun::Crash(const scenario::Fault& f, NodeId id) {
  Node& node = nodes_[id];
  if (node.starting) {
    if (Status st = FinishStart(id); !st.ok()) return st;
  }
  if (Status st = ReadAnswers(id, true); !st.ok()) return st;
  if (calls_ != nullptr) {
    if (Status st = ReadLocates(id, true); !st.ok()) return st;
  }
  EngineStats last;
  if (Status st = FetchStats(id, &last); !st.ok()) return st;
  const Duration tc = Now();
  // A host crash: corosync first, so its peers learn of it only by the token timeout (killing
  // the daemon first would let the local corosync announce a clean CPG leave).
  Status st;
  if (netns_options_.crash_corosync) st = cluster_->KillCorosync(id);
  if (st.ok()) st = cluster_->KillDaemon(id);
  if (!st.ok()) return st;
  // What the node reported before it died still counts: drain its stream to the end.
  for (int i = 0; i < 100; ++i) {
    bool closed = false;
    if (Status r = ReadEvents(id, &closed); !r.ok()) return r;
    if (closed) break;
    usleep(2000);
  }
  node.up = false;
  node.behind = false;
  node.events.reset();
  node.control.reset();
  node.writer.reset();
  node.locator.reset();
  node.frames_dead += last.frames_out;
  node.bytes_dead += last.bytes_out;
  Record(tc, [this, tc, id, last, &f] {
    rec_.NodeCrashed(tc, id, last);
    rec_.FaultApplied(tc, f);
  });
  CallsFaultApplied(f);
  return Status::Ok();
}

Status NetnsRun::Restart(const scenario::Fault& f, NodeId id) {
  // The machine comes back: corosync (when it was killed) and the daemon start together; the
  // daemon waits for corosync itself (corosync.connect_timeout_ms), the harness does not.
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
