// The shrinker's "keys" and "time" edits: one setting back at its default per candidate, and
// shorter phases.
#include <algorithm>
#include <functional>

#include "shrink_impl.h"

namespace pbxstate::swarm::detail {
namespace {

using scenario::Scenario;

// Adds a copy of `s` edited by `edit` when the edit changes something.
class Candidates {
 public:
  explicit Candidates(const Scenario& s) : s_(s) {}
  // `edit` returns whether it changed anything.
  void Add(const std::function<bool(Scenario&)>& edit) {
    Scenario c = s_;
    if (edit(c)) out_.push_back(std::move(c));
  }
  std::vector<Scenario> Take() { return std::move(out_); }

 private:
  const Scenario& s_;
  std::vector<Scenario> out_;
};

template <typename T>
bool SetTo(T& field, const T& value) {
  if (field == value) return false;
  field = value;
  return true;
}

void EngineDefaults(Candidates& c) {
  const EngineConfig d;
  c.Add([&](Scenario& s) { return SetTo(s.engine.batch_window, d.batch_window); });
  c.Add([&](Scenario& s) { return SetTo(s.engine.max_batch_changes, d.max_batch_changes); });
  c.Add([&](Scenario& s) {
    // Small frames come with small key and contact bounds: back together.
    bool changed = SetTo(s.engine.max_frame_bytes, d.max_frame_bytes);
    changed = SetTo(s.engine.max_key_bytes, d.max_key_bytes) || changed;
    return SetTo(s.engine.max_contact_bytes, d.max_contact_bytes) || changed;
  });
  c.Add([&](Scenario& s) { return SetTo(s.engine.send_retry_interval, d.send_retry_interval); });
  c.Add([&](Scenario& s) { return SetTo(s.engine.max_send_queue_frames, d.max_send_queue_frames); });
  c.Add([&](Scenario& s) { return SetTo(s.engine.anti_entropy_interval, d.anti_entropy_interval); });
  c.Add([&](Scenario& s) { return SetTo(s.engine.sync_window_pages, d.sync_window_pages); });
  c.Add([&](Scenario& s) { return SetTo(s.engine.max_sync_pulls, d.max_sync_pulls); });
  c.Add([&](Scenario& s) { return SetTo(s.engine.max_sync_serves, d.max_sync_serves); });
  c.Add([&](Scenario& s) {
    const bool changed = SetTo(s.engine.sync_retransmit, d.sync_retransmit);
    return SetTo(s.engine.sync_timeout, d.sync_timeout) || changed;
  });
  c.Add([&](Scenario& s) { return SetTo(s.engine.departure_grace, d.departure_grace); });
  c.Add([&](Scenario& s) {
    const bool changed = SetTo(s.engine.heartbeat_interval, d.heartbeat_interval);
    return SetTo(s.engine.suspect_after, d.suspect_after) || changed;
  });
  c.Add([&](Scenario& s) { return SetTo(s.engine.max_received_ranges, d.max_received_ranges); });
}

void NetworkDefaults(Candidates& c, const Scenario& base) {
  const scenario::Topology& t = base.topology;
  if (t.named_sites) {
    c.Add([](Scenario& s) {
      // One LAN of all the nodes, with the first site's parameters; link faults go.
      scenario::Site one = s.topology.sites[0];
      one.name.clear();
      one.node_count = s.topology.node_count();
      one.first_node = 1;
      s.topology = {};
      s.topology.sites.push_back(one);
      std::erase_if(s.faults, [](const scenario::Fault& f) {
        return std::holds_alternative<scenario::Degrade>(f.what) || std::holds_alternative<scenario::Restore>(f.what);
      });
      return true;
    });
  }
  for (std::size_t i = 0; i < t.sites.size(); ++i) {
    c.Add([i](Scenario& s) { return SetTo(s.topology.sites[i].lan.loss, 0.0); });
    c.Add([i](Scenario& s) { return SetTo(s.topology.sites[i].lan.frames, scenario::FrameFaults{}); });
    c.Add([i](Scenario& s) { return SetTo(s.topology.sites[i].lan.delay, scenario::LanParams{}.delay); });
    c.Add([i](Scenario& s) { return SetTo(s.topology.sites[i].lan.bandwidth_bps, scenario::LanParams{}.bandwidth_bps); });
  }
  for (std::size_t i = 0; i < t.links.size(); ++i) {
    c.Add([i](Scenario& s) { return SetTo(s.topology.links[i].params.loss, 0.0); });
    c.Add([i](Scenario& s) { return SetTo(s.topology.links[i].params.jitter, Duration{}); });
    c.Add([i](Scenario& s) { return SetTo(s.topology.links[i].params.frames, scenario::FrameFaults{}); });
  }
}

void WorkloadDefaults(Candidates& c) {
  c.Add([](Scenario& s) {
    scenario::Workload& w = s.workload;
    if (w.rate_per_s == 0 && !w.churn && w.bursts.empty() && w.devices == 0 && w.mailboxes == 0 && w.aors == 0) {
      return false;
    }
    // Every generated change goes: the explicit ones stay.
    w.rate_per_s = 0;
    w.mix = {};
    w.churn.reset();
    w.bursts.clear();
    w.devices = w.mailboxes = w.aors = 0;
    s.calls.reset();
    return true;
  });
  c.Add([](Scenario& s) { return s.workload.churn && (s.workload.churn.reset(), true); });
  c.Add([](Scenario& s) { return !s.workload.bursts.empty() && (s.workload.bursts.clear(), true); });
  c.Add([](Scenario& s) { return s.calls && (s.calls.reset(), true); });
  c.Add([](Scenario& s) { return SetTo(s.workload.spread, scenario::Spread::kEven); });
}

// Whether a LAN or link keeps loss to the end (configured, not a degradation).
bool LossStays(const Scenario& s) {
  for (const scenario::Site& site : s.topology.sites) {
    if (site.lan.loss > 0) return true;
  }
  for (const scenario::SiteLink& link : s.topology.links) {
    if (link.params.loss > 0) return true;
  }
  return false;
}

void ClusterDefaults(Candidates& c) {
  c.Add([](Scenario& s) { return SetTo(s.auth, false); });
  c.Add([](Scenario& s) { return SetTo(s.membership.view_delay, Duration{}); });
  c.Add([](Scenario& s) { return SetTo(s.membership.views, scenario::ViewModel::kConsistent); });
  // Heartbeats (the default) only where the generator draws them: with anti-entropy on (0 is for
  // reliable ordered transports, config.h) and no loss in force to the end (a detector that
  // fires on lost heartbeats makes a node "depart" near the end: sim/swarm/README.md). A shrink
  // that went elsewhere would end at a failure no generated seed can show.
  c.Add([](Scenario& s) {
    return s.engine.anti_entropy_interval != Duration{} && !LossStays(s) &&
           SetTo(s.membership.source, std::optional<MembershipSource>{});
  });
  c.Add([](Scenario& s) { return SetTo(s.transport, scenario::TransportMode::kMulticast); });
}

// The latest instant anything is planned at: faults, explicit changes, bursts.
Duration LastEvent(const Scenario& s) {
  Duration last{};
  for (const scenario::Fault& f : s.faults) last = std::max(last, f.at);
  for (const scenario::TimedChange& c : s.workload.changes) last = std::max(last, c.at);
  for (const scenario::Burst& b : s.workload.bursts) {
    Duration until = b.at;
    if (const auto* cs = std::get_if<scenario::CallStorm>(&b.what)) until += cs->length;
    last = std::max(last, until);
  }
  return last;
}

}  // namespace

std::vector<Scenario> Simplifications(const Scenario& s) {
  Candidates c(s);
  WorkloadDefaults(c);
  ClusterDefaults(c);
  NetworkDefaults(c, s);
  EngineDefaults(c);
  return c.Take();
}

std::vector<Scenario> ShorterTimes(const Scenario& s) {
  std::vector<Scenario> out;
  // The active phase ends with its last event (generated load ends with it).
  const Duration last = std::max(LastEvent(s), Duration(std::chrono::milliseconds(1)));
  const Duration end_ms = std::chrono::ceil<std::chrono::milliseconds>(last);
  if (end_ms < s.duration && s.workload.rate_per_s == 0 && !s.workload.churn && !s.calls) {
    Scenario c = s;
    c.duration = end_ms;
    c.workload.stop = end_ms;
    out.push_back(std::move(c));
  }
  // The quiet phase stays: it is the time the cluster is given to agree, and with less of it any
  // run "fails" by not having agreed yet.
  return out;
}

}  // namespace pbxstate::swarm::detail
