// The scenario's calls during a run of real processes (scenarios/README.md, "calls"): each call
// arrives at its entry server at its planned time and is routed by every listed strategy, hop by
// hop, over real time. A hop takes the configured one-way delay between the two servers, as in
// the ns-3 backend (the call's signalling is not itself sent over the network). At each server the
// location strategy asks that server's daemon where the phone is (`locate`, daemon/CONTROL.md), as
// a real server reads its own view; blind-peer needs no view. Whether the phone really is there is
// the truth the runner keeps from the changes the engines took and the faults as applied.
//
// A call at a server whose daemon is not answering yet (just restarted: on real processes the
// start takes tens of ms, while the crash's fault window ends at the restart) has no view to ask:
// location falls back to blind-peer for that hop, as it does on an empty answer. That is what the
// ns-3 and inproc backends do at the same instant (the restarted engine is there at once, empty,
// and `Locate` answers nothing) and what res_pbxstate's PBXSTATE_LOCATION gives while its engine is
// not running (nobody known to hold the phone). So does a call at a server whose crash has
// begun and whose daemon is not killed yet (AdvanceCrash: it takes no more requests).
#include <poll.h>

#include <algorithm>

#include "netns_run.h"

namespace pbxstate::runner::netns_run {

using control::Request;
using harness::CallOutcome;

void NetnsRun::FinishCall(const CallInFlight& c, CallOutcome outcome) {
  if (outcome == CallOutcome::kLooped && !c.asked.empty() && calls_->looped.size() < harness::kMaxLoopedCallsJudged) {
    calls_->looped.push_back({scenario::GeneratedAorName(calls_->plan[c.call].aor), c.asked});
  }
  calls_->rec.Finished(c.strategy, calls_->plan[c.call], outcome, c.hops, c.min_hops, c.stale_sends);
}

Status NetnsRun::PlaceCall(std::size_t i, Duration now) {
  Calls& cw = *calls_;
  const harness::PlannedCall& pc = cw.plan[i];
  cw.rec.Placed(pc);
  const NodeId entry = EntryServer(*s_.calls, pc.entry, cw.reach);
  const std::string aor = scenario::GeneratedAorName(pc.aor);
  if (entry == kNoNode || !cw.truth.Registered(aor, now)) {
    cw.rec.Unroutable(pc);
    return Status::Ok();
  }
  for (scenario::RoutingStrategy strategy : s_.calls->strategies) {
    auto c = std::make_shared<CallInFlight>();
    c->call = i;
    c->strategy = strategy;
    c->at = entry;
    c->min_hops = cw.truth.Holds(aor, entry, now) ? 0 : 1;
    c->visited.push_back(entry);
    if (Status st = Arrive(c, now); !st.ok()) return st;
  }
  return Status::Ok();
}

Status NetnsRun::Arrive(const std::shared_ptr<CallInFlight>& c, Duration now) {
  Calls& cw = *calls_;
  const std::string aor = scenario::GeneratedAorName(cw.plan[c->call].aor);
  if (cw.truth.Holds(aor, c->at, now)) {
    FinishCall(*c, CallOutcome::kCompleted);
    return Status::Ok();
  }
  if (c->hops >= s_.calls->hop_limit) {
    FinishCall(*c, CallOutcome::kHopLimit);
    return Status::Ok();
  }
  if (c->strategy == scenario::RoutingStrategy::kLocation && nodes_[c->at].answering()) {
    // Asked without waiting: a daemon busy with a view change's removals answers late, and the
    // driver's changes must not wait for it.
    // The answers that came are taken before every send, as the changes' are (MakeChange).
    auto& waiting = cw.locating[c->at];
    if (Status st = ReadLocates(c->at, waiting.size() >= kMaxOutstandingChanges); !st.ok()) return st;
    if (Status st = nodes_[c->at].locator->Send(Request::Locate(aor), kCallTimeout); !st.ok()) {
      return Status::FailedPrecondition("node " + std::to_string(c->at) + ": locate: " + st.message());
    }
    waiting.emplace_back(c, now);
    c->asked.push_back({c->at, Now(), Now()});
    ++cw.locates;
    return Status::Ok();
  }
  return SendOn(c, {}, now);
}

Status NetnsRun::SendOn(const std::shared_ptr<CallInFlight>& c, const std::vector<Location>& located, Duration now) {
  Calls& cw = *calls_;
  const harness::Hop hop = harness::NextHop(c->strategy, located, c->at, s_.topology.node_count());
  if (!cw.reach.Reaches(c->at, hop.to)) {
    FinishCall(*c, CallOutcome::kFailedHop);
    return Status::Ok();
  }
  ++c->hops;
  c->to = hop.to;
  c->from_location = hop.from_location;
  cw.hops.push({now + harness::ConfiguredHopDelay(s_, c->at, hop.to), cw.seq++, c});
  return Status::Ok();
}

Status NetnsRun::ReadLocates(NodeId n, bool all) {
  auto& waiting = calls_->locating[n];
  const std::string who = "node " + std::to_string(n) + ": locate: ";
  const auto deadline = std::chrono::steady_clock::now() + kCallTimeout;
  while (!waiting.empty()) {
    std::vector<nlohmann::json> answers;
    if (Status st = nodes_[n].locator->ReadResponses(&answers); !st.ok()) return Status::FailedPrecondition(who + st.message());
    for (const nlohmann::json& r : answers) {
      if (waiting.empty()) return Status::FailedPrecondition(who + "an answer to no request");
      const auto [c, now] = waiting.front();
      waiting.pop_front();
      c->asked.back().answered = Now();
      control::Reply reply;
      if (Status st = control::DecodeReply(control::Op::kLocate, r, &reply); !st.ok()) {
        return Status::FailedPrecondition(who + st.message());
      }
      if (Status st = SendOn(c, std::get<control::LocateReply>(reply).locations, now); !st.ok()) return st;
    }
    if (!all || waiting.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::FailedPrecondition(who + std::to_string(waiting.size()) + " unanswered after " + Seconds(kCallTimeout));
    }
    pollfd p{nodes_[n].locator->fd(), POLLIN, 0};
    poll(&p, 1, 10);
  }
  return Status::Ok();
}

Status NetnsRun::HopArrived(const std::shared_ptr<CallInFlight>& c, Duration at) {
  Calls& cw = *calls_;
  if (!cw.reach.Up(c->to)) {
    FinishCall(*c, CallOutcome::kFailedHop);
    return Status::Ok();
  }
  if (std::find(c->visited.begin(), c->visited.end(), c->to) != c->visited.end()) {
    FinishCall(*c, CallOutcome::kLooped);
    return Status::Ok();
  }
  const std::string aor = scenario::GeneratedAorName(cw.plan[c->call].aor);
  if (c->from_location && !cw.truth.Holds(aor, c->to, at)) ++c->stale_sends;
  c->at = c->to;
  c->visited.push_back(c->to);
  return Arrive(c, at);
}

Status NetnsRun::DriveCalls(Duration now, Duration* next) {
  Calls& cw = *calls_;
  // In time order across both queues, each at its own time (what happened at a planned instant
  // is judged at that instant, however late the harness got to it).
  for (;;) {
    const bool call_due = cw.next < cw.plan.size() && cw.plan[cw.next].at <= now;
    const bool hop_due = !cw.hops.empty() && cw.hops.top().at <= now;
    if (call_due && (!hop_due || cw.plan[cw.next].at <= cw.hops.top().at)) {
      const Duration at = cw.plan[cw.next].at;
      if (Status st = PlaceCall(cw.next++, at); !st.ok()) return st;
    } else if (hop_due) {
      const HopDue h = cw.hops.top();
      cw.hops.pop();
      if (Status st = HopArrived(h.call, h.at); !st.ok()) return st;
    } else {
      break;
    }
  }
  if (cw.next < cw.plan.size()) *next = std::min(*next, cw.plan[cw.next].at);
  if (!cw.hops.empty()) *next = std::min(*next, cw.hops.top().at);
  return Status::Ok();
}

void NetnsRun::CallsChangeAccepted(Duration t, const harness::PlannedChange& c) {
  if (calls_ != nullptr) calls_->truth.ChangeAccepted(t, c);
}

void NetnsRun::CallsFaultApplied(const scenario::Fault& f) {
  if (calls_ == nullptr) return;
  calls_->reach.Apply(f);
  if (const auto* c = std::get_if<scenario::Crash>(&f.what)) calls_->truth.ServerCrashed(c->node);
}

void NetnsRun::CallsResult(harness::RunResult* result) const {
  if (calls_ == nullptr) return;
  calls_->rec.AddMetrics(&result->metrics);
  result->calls = calls_->rec.summary();
  for (const auto& [strategy, stats] : result->calls->strategies) {
    if (strategy != scenario::RoutingStrategy::kLocation) continue;
    const std::uint64_t current = harness::LoopedOnCurrentViews(stats.looped, calls_->looped, result->changes, result->deliveries);
    result->calls->location_looped_on_current_views = current;
    result->metrics["calls.location.looped_on_current_views"] = static_cast<double>(current);
  }
}

}  // namespace pbxstate::runner::netns_run
