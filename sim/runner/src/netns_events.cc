// Event streams during a namespace run, and the recorder's time-ordered queue: events from
// different nodes arrive through different sockets, so what the harness learns is held for
// kReorderHold (and while a stream is behind, before its last event read) and handed to the
// recorder in time order. Streams are read, and records handed over, in slices of kEventSlice
// between the workload's due changes.
#include <poll.h>

#include <algorithm>
#include <cassert>
#include <limits>
#include <variant>

#include "netns_run.h"

namespace pbxstate::runner::netns_run {

void NetnsRun::Record(Duration t, std::function<void()> fn, NodeId waits_for_start) {
  pending_.push_back({t, seq_++, std::move(fn), waits_for_start});
  std::push_heap(pending_.begin(), pending_.end(), std::greater<>{});
}

void NetnsRun::RecordView(Duration t, NodeId n, control::OwnedViewChange change) {
  pending_.push_back({t, seq_++, ViewRecord{n, std::move(change)}, kNoNode});
  std::push_heap(pending_.begin(), pending_.end(), std::greater<>{});
}

void NetnsRun::RecordChange(Duration t, const harness::PlannedChange* change, Status status, Duration sent) {
  assert(t >= sent);
  pending_.push_back({t, seq_++, ChangeRecord{change, std::move(status), sent}, kNoNode});
  std::push_heap(pending_.begin(), pending_.end(), std::greater<>{});
}

Status NetnsRun::DeliverDue(Duration upto, Duration budget) {
  if (pending_.size() > kMaxPendingRecords) {
    return Status::ResourceExhausted("netns run: more than " + std::to_string(kMaxPendingRecords) +
                                     " records waiting for the recorder; the harness cannot keep up");
  }
  const Duration until = budget == Duration::max() ? Duration::max() : Now() + budget;
  while (!pending_.empty() && pending_.front().t <= upto && Now() < until) {
    if (pending_.front().waits_for_start != kNoNode && nodes_[pending_.front().waits_for_start].starting) break;
    std::pop_heap(pending_.begin(), pending_.end(), std::greater<>{});
    Pending p = std::move(pending_.back());
    pending_.pop_back();
    if (auto* v = std::get_if<ViewRecord>(&p.what)) {
      rec_.ViewChanged(p.t, v->node, v->change.change());
    } else if (auto* c = std::get_if<ChangeRecord>(&p.what)) {
      const harness::PlannedChange& change = *c->change;
      if (change.kind == EntryKind::kRegistration && !change.remove && p.t != c->sent) {
        // The oracle counts a registration's expiry from the change's time; the request carried
        // one counted from its send (ChangeRequest).
        harness::PlannedChange as_sent = change;
        as_sent.expires_in -= p.t - c->sent;
        rec_.ChangeMade(p.t, as_sent, c->status);
      } else {
        rec_.ChangeMade(p.t, change, c->status);
      }
    } else {
      std::get<std::function<void()>>(p.what)();
    }
  }
  return Status::Ok();
}

void NetnsRun::DropPending() { pending_.clear(); }

Status NetnsRun::ReadEvents(NodeId n, bool* closed) {
  return ReadEventTurn(n, std::numeric_limits<std::size_t>::max(), closed);
}

Status NetnsRun::ReadEventTurn(NodeId n, std::size_t max_events, bool* closed) {
  Node& node = nodes_[n];
  std::vector<control::Event>& events = event_buffer_;
  events.clear();
  bool drained = false;
  if (Status st = node.events->ReadSlice(&events, max_events, closed, &drained); !st.ok()) {
    return Status::FailedPrecondition("node " + std::to_string(n) + ": " + st.message());
  }
  node.behind = !drained;
  if (!events.empty()) {
    node.read_through = FromMono(std::visit([](const auto& e) { return e.t_mono_ns; }, events.back()));
  }
  for (const control::Event& e : events) {
    if (const auto* view = std::get_if<control::ViewEvent>(&e)) {
      const Duration t = FromMono(view->t_mono_ns);
      if (node.listing_since && t >= *node.listing_since) {
        node.changed_while_listing.emplace(view->view.change().kind, std::string(view->view.change().key));
      }
      RecordView(t, n, HarnessViewChange(*view, wall_));
    } else if (const auto* tv = std::get_if<control::TransportViewEvent>(&e)) {
      // The real CPG view: the oracle judges who counts whom by these (oracle.h). Views before
      // time 0 are dropped with the rest of the bring-up; BringUp records the one in force.
      node.view = *tv;
      if (auto v = HarnessMembership(*tv, mono_start_ns_)) {
        Record(v->t, [this, n, v = std::move(*v)] { rec_.MembershipDelivered(v.t, n, v.members); });
      }
    } else if (std::holds_alternative<control::StoppingEvent>(e)) {
      *closed = true;
    }
    // MembersEvent: the engine's live set, which the oracle derives from the views itself.
  }
  return Status::Ok();
}

void NetnsRun::BuildPollSet(PollSet* set) const {
  // A crashed node's stream is read until it closes (AdvanceCrash), so streams go by `events`.
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (nodes_[n].events) {
      set->fds.push_back({nodes_[n].events->fd(), POLLIN, 0});
      set->who.push_back(n);
      set->any_behind = set->any_behind || nodes_[n].behind;
    }
  }
  set->event_fds = set->fds.size();
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    const ChangeQueue& q = nodes_[n].queue;
    if (nodes_[n].up && !q.empty()) {
      // Answers are awaited while a written change is unanswered, room in the socket while a change
      // is unwritten (the socket was full when it was handed).
      const short want = static_cast<short>((q.awaiting_answer() > 0 ? POLLIN : 0) | (q.wants_write() ? POLLOUT : 0));
      set->fds.push_back({nodes_[n].writer->fd(), want, 0});
      set->who.push_back(n);
    }
  }
  set->answer_fds = set->fds.size();
  for (NodeId n = 1; calls_ != nullptr && n < nodes_.size(); ++n) {
    if (nodes_[n].up && !calls_->locating[n].empty()) {
      set->fds.push_back({nodes_[n].locator->fd(), POLLIN, 0});
      set->who.push_back(n);
    }
  }
  set->locate_fds = set->fds.size();
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (nodes_[n].up && (nodes_[n].stats_asked > 0 || nodes_[n].listing_since)) {
      set->fds.push_back({nodes_[n].control->fd(), POLLIN, 0});
      set->who.push_back(n);
    }
  }
}

Status NetnsRun::PollEvents(Duration wait) {
  PollSet set;
  BuildPollSet(&set);
  const int ms = set.any_behind ? 0 : static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
  const int got = poll(set.fds.data(), set.fds.size(), std::max(ms, 0));
  if (got < 0) return Status::Ok();  // EINTR (the caller checks for interrupts)
  std::vector<NodeId> ready;  // streams to read: something came, or a slice left them behind
  for (std::size_t i = 0; i < set.fds.size(); ++i) {
    const NodeId n = set.who[i];
    if (i < set.event_fds) {
      if (set.fds[i].revents != 0 || nodes_[n].behind) ready.push_back(n);
      continue;
    }
    const short revents = set.fds[i].revents;
    if (revents == 0) continue;
    Status st;
    if (i < set.answer_fds) {
      // Reading the answers writes what waits; room alone only writes.
      st = (revents & (POLLIN | POLLHUP | POLLERR)) != 0 ? ReadAnswers(n) : WriteChanges(n);
    } else {
      st = i < set.locate_fds ? ReadLocates(n, false) : ReadStats(n);
    }
    if (!st.ok()) return st;
  }
  return ReadStreamsInTurns(std::move(ready));
}

Status NetnsRun::ReadStreamsInTurns(std::vector<NodeId> ready) {
  if (ready.empty()) return Status::Ok();
  std::rotate(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(poll_turn_++ % ready.size()), ready.end());
  const Duration until = Now() + kEventSlice;
  while (!ready.empty()) {
    for (auto it = ready.begin(); it != ready.end();) {
      if (Now() >= until) {
        // The slice is spent: what was not read now is read first next time.
        for (; it != ready.end(); ++it) nodes_[*it].behind = true;
        return Status::Ok();
      }
      bool closed = false;
      if (Status st = ReadEventTurn(*it, kEventsPerTurn, &closed); !st.ok()) return st;
      Node& node = nodes_[*it];
      if (closed && !node.killed_at) {
        return Status::FailedPrecondition("pbxstated of node " + std::to_string(*it) +
                                          " closed its event stream while it should be up (log: " +
                                          (cluster_->NodeDir(*it) / "pbxstated.log").string() + ")");
      }
      if (closed) {
        // A killed daemon's stream has ended: everything it reported before it died is read.
        node.events.reset();
        node.behind = false;
      }
      it = node.behind ? it + 1 : ready.erase(it);
    }
  }
  return Status::Ok();
}

std::optional<Duration> NetnsRun::EarliestUnread() const {
  std::optional<Duration> earliest;
  for (const Node& node : nodes_) {
    if (node.events && node.behind && (!earliest || node.read_through < *earliest)) earliest = node.read_through;
  }
  return earliest;
}

}  // namespace pbxstate::runner::netns_run
