// Event streams during a namespace run, and the recorder's time-ordered queue: events from
// different nodes arrive through different sockets, so what the harness learns is held for
// kReorderHold and handed to the recorder in time order.
#include <poll.h>

#include <algorithm>

#include "netns_run.h"

namespace pbxstate::runner::netns_run {

void NetnsRun::Record(Duration t, std::function<void()> fn, NodeId waits_for_start) {
  pending_.push({t, seq_++, std::move(fn), waits_for_start});
}

Status NetnsRun::DeliverDue(Duration upto) {
  if (pending_.size() > kMaxPendingRecords) {
    return Status::ResourceExhausted("netns run: more than " + std::to_string(kMaxPendingRecords) +
                                     " records waiting for the recorder; the harness cannot keep up");
  }
  while (!pending_.empty() && pending_.top().t <= upto) {
    if (pending_.top().waits_for_start != kNoNode && nodes_[pending_.top().waits_for_start].starting) break;
    Pending p = pending_.top();
    pending_.pop();
    p.fn();
  }
  return Status::Ok();
}

void NetnsRun::DropPending() {
  while (!pending_.empty()) pending_.pop();
}

Status NetnsRun::ReadEvents(NodeId n, bool* closed) {
  Node& node = nodes_[n];
  std::vector<control::Event> events;
  if (Status st = node.events->ReadAvailable(&events, closed); !st.ok()) {
    return Status::FailedPrecondition("node " + std::to_string(n) + ": " + st.message());
  }
  for (const control::Event& e : events) {
    if (const auto* view = std::get_if<control::ViewEvent>(&e)) {
      auto owned = std::make_shared<control::OwnedViewChange>(HarnessViewChange(*view, wall_));
      const Duration t = FromMono(view->t_mono_ns);
      if (node.listing_since && t >= *node.listing_since) {
        node.changed_while_listing.emplace(view->view.change().kind, std::string(view->view.change().key));
      }
      Record(t, [this, t, n, owned] { rec_.ViewChanged(t, n, owned->change()); });
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

Status NetnsRun::PollEvents(Duration wait) {
  std::vector<pollfd> fds;
  std::vector<NodeId> who;
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (nodes_[n].up && nodes_[n].events) {
      fds.push_back({nodes_[n].events->fd(), POLLIN, 0});
      who.push_back(n);
    }
  }
  const std::size_t event_fds = fds.size();
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    if (nodes_[n].up && !nodes_[n].outstanding.empty()) {
      fds.push_back({nodes_[n].writer->fd(), POLLIN, 0});
      who.push_back(n);
    }
  }
  const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
  const int got = poll(fds.data(), fds.size(), std::max(ms, 0));
  if (got <= 0) return Status::Ok();  // timeout, or EINTR (the caller checks for interrupts)
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    if (i >= event_fds) {
      if (Status st = ReadAnswers(who[i], false); !st.ok()) return st;
      continue;
    }
    bool closed = false;
    if (Status st = ReadEvents(who[i], &closed); !st.ok()) return st;
    if (closed) {
      return Status::FailedPrecondition("pbxstated of node " + std::to_string(who[i]) +
                                        " closed its event stream while it should be up (log: " +
                                        (cluster_->NodeDir(who[i]) / "pbxstated.log").string() + ")");
    }
  }
  return Status::Ok();
}

}  // namespace pbxstate::runner::netns_run
