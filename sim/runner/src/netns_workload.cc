// The workload during a namespace run: each planned change handed at its time to its node's
// queue (change_queue.h), written to the node's daemon through a control connection of its own as
// the socket takes it (the poll loop writes the rest at POLLOUT), and its answer, read as it comes,
// handed to the recorder at the time the daemon took the change (the answer's t_mono_ns).
//
// The driver's lateness (run.json's "driver") is the hand-off's: what the driver controls, whether
// it kept its plan while busy elsewhere. What the daemon then takes is the system under test's: a
// daemon reading its socket slower than the scenario sends (registration-storm's storm into a
// node catching up after its restart) leaves changes in the queue, measured in run.json's notes
// (QueueNote), and bounded: a change that waits kCallTimeout there, or for its answer, fails the
// run naming the node. The oracle and the recorder never see the plan's or the hand-off's time: a
// change counts from when its daemon took it (its answer's time; a registration's expiry from
// when its line went into the socket, as the request says), and its delivery latency from the
// writer's own event, stamped by the daemon when its engine made it (sim/emu/README.md, "The
// driver hands changes to queues").
#include "netns_run.h"
#include "pbxstate/harness/slots.h"

namespace pbxstate::runner::netns_run {

using control::Request;

control::Request NetnsRun::ChangeRequest(const harness::PlannedChange& c, Duration t) const {
  switch (c.kind) {
    case EntryKind::kDevice:
      return c.remove ? Request::RemoveDevice(c.key) : Request::SetDevice(c.key, c.state);
    case EntryKind::kMailbox:
      return c.remove ? Request::RemoveMailbox(c.key) : Request::SetMailbox(c.key, c.counts);
    case EntryKind::kRegistration:
      // As the in-process backends do (run_steps.cc): a removal naming a contact removes that one.
      if (c.remove) return c.contact.empty() ? Request::Unregister(c.key) : Request::RemoveContact(c.key, c.contact);
      {
        // The expiry the oracle expects: the change's time plus its lifetime, on the run's
        // calendar, which the daemon's engine reads as CLOCK_REALTIME.
        const WallTime expires = kSimEpoch + t + c.expires_in;
        return Request::Register(c.key, c.contact, wall_.ToUnix(expires), c.status == ContactStatus::kReachable, 0,
                                 c.path, c.user_agent);
      }
  }
  return Request::Simple(control::Op::kHello);
}

Status NetnsRun::MakeChange(const harness::PlannedChange& c) {
  const Duration t = Now();
  if (!nodes_[c.node].answering()) {
    Record(t, [this, t, &c] { rec_.ChangeSkipped(t, c); });
    return Status::Ok();
  }
  if (t - c.at > max_lag_) {
    max_lag_ = t - c.at;
    max_lag_at_ = c.at;
  }
  lateness_.push_back(t - c.at);
  Node& node = nodes_[c.node];
  // The answers that came are taken first: the daemon reads a connection's next request only once
  // its last answer is written, so answers left unread stop it reading.
  if (Status st = ReadAnswers(c.node); !st.ok()) return st;
  if (!node.queue.Hand(&c, t)) {
    const ChangeQueue::Entry* oldest = node.queue.OldestUnwritten();
    return Status::ResourceExhausted(
        "node " + std::to_string(c.node) + ": " + std::to_string(node.queue.size()) + " changes handed to its daemon " +
        "and not answered (the queue's bound), the oldest unwritten handed at " +
        Seconds(oldest != nullptr ? oldest->handed : t) + ": pbxstated takes changes slower than the scenario makes "
        "them; that is the daemon's or the scenario's answer, not the harness's");
  }
  return WriteChanges(c.node);
}

Status NetnsRun::WriteChanges(NodeId n) {
  Node& node = nodes_[n];
  const Status st = node.queue.Write(
      node.writer->fd(), [this] { return Now(); },
      [this](const harness::PlannedChange& c, Duration t) { return control::RequestLine(ChangeRequest(c, t)); });
  if (!st.ok()) return Status::FailedPrecondition("node " + std::to_string(n) + ": " + st.message());
  return Status::Ok();
}

Status NetnsRun::ReadAnswers(NodeId n) {
  Node& node = nodes_[n];
  std::vector<nlohmann::json> answers;
  if (Status st = node.writer->ReadResponses(&answers); !st.ok()) {
    return Status::FailedPrecondition("node " + std::to_string(n) + ": " + st.message());
  }
  for (const nlohmann::json& r : answers) {
    ChangeQueue::Entry e;
    if (!node.queue.Answered(&e)) return Status::FailedPrecondition("node " + std::to_string(n) + ": an answer to no request");
    // An engine refusal ("ok": false with the engine's code) is a refused change, as in ns-3; a
    // refusal of the request itself (bad_request, too_large) or a malformed answer is the
    // harness's failure, never a change refused.
    Status st;
    Duration taken = e.written;  // a refusal has no time: its send's
    if (std::optional<control::Error> err = control::ResponseError(r)) {
      if (err->code == control::ErrorCode::kBadRequest || err->code == control::ErrorCode::kTooLarge) {
        return Status::FailedPrecondition("node " + std::to_string(n) + ": a change was not understood: " + err->message);
      }
      st = control::ToStatus(*err);
    } else if (control::Reply reply; !(st = control::DecodeReply(ChangeRequest(*e.change, e.written).op, r, &reply)).ok()) {
      return Status::FailedPrecondition("node " + std::to_string(n) + ": " + st.message());
    } else if (const auto* done = std::get_if<control::TimeReply>(&reply)) {
      // The daemon's clock (CLOCK_MONOTONIC, the host's) when it took the request, read before
      // its engine made the change: after the send, before the engine's own event of it.
      taken = FromMono(done->t_mono_ns);
      if (taken < e.written) {
        return Status::FailedPrecondition("node " + std::to_string(n) + ": a change answered as taken at " +
                                          Seconds(taken) + ", before it was sent (" + Seconds(e.written) + ")");
      }
    }
    RecordChange(taken, e.change, st, e.written);
    // The calls' truth takes the registration as sent (its expiry counts from then).
    if (st.ok()) CallsChangeAccepted(e.written, *e.change);
  }
  // An answer written frees the daemon to read the next request.
  return answers.empty() ? Status::Ok() : WriteChanges(n);
}

Status NetnsRun::CheckWaits() const {
  const Duration now = Now();
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    if (!node.up) continue;
    const ChangeQueue::Entry* unwritten = node.queue.OldestUnwritten();
    const ChangeQueue::Entry* unanswered = node.queue.OldestAwaitingAnswer();
    std::string what;
    if (node.listing_since && now - *node.listing_since > kCallTimeout) {
      what = "its listing after its restart (dump), asked at " + Seconds(*node.listing_since) + ", was not answered";
    } else if (unwritten != nullptr && now - unwritten->handed > kCallTimeout) {
      what = "a change handed at " + Seconds(unwritten->handed) + " has not gone into its daemon's control socket";
    } else if (unanswered != nullptr && now - unanswered->written > kCallTimeout) {
      what = "a change written at " + Seconds(unanswered->written) + " has not been answered";
    } else {
      continue;
    }
    return Status::FailedPrecondition("node " + std::to_string(n) + ": " + what + " within " + Seconds(kCallTimeout) +
                                      " (" + std::to_string(node.queue.size()) + " changes queued): pbxstated answers "
                                      "slower than the scenario asks");
  }
  return Status::Ok();
}

Status NetnsRun::FinishChanges() {
  for (;;) {
    bool any = false;
    for (NodeId n = 1; n < nodes_.size(); ++n) {
      any = any || (nodes_[n].up && (!nodes_[n].queue.empty() || nodes_[n].listing_since));
    }
    if (!any) return Status::Ok();
    if (Status st = CheckWaits(); !st.ok()) return st;
    if (Status st = PollEvents(kMaxPoll); !st.ok()) return st;
  }
}

std::optional<Duration> NetnsRun::EarliestOutstanding() const {
  std::optional<Duration> earliest;
  for (const Node& node : nodes_) {
    for (const std::optional<Duration>& t : {node.queue.EarliestWritten(), node.listing_since}) {
      if (t && (!earliest || *t < *earliest)) earliest = t;
    }
  }
  return earliest;
}

std::string NetnsRun::QueueNote() const {
  std::string note = "driver: changes are handed to a queue per node at their planned time (the lateness above) and "
                     "written as the daemon's socket takes them; per node, the most queued at once and the longest a "
                     "change waited to be written (handed at):";
  for (NodeId n = 1; n < nodes_.size(); ++n) {
    const ChangeQueue& q = nodes_[n].queue;
    note += (n > 1 ? "; " : " ") + std::string("node ") + std::to_string(n) + " " + std::to_string(q.max_depth()) +
            ", " + Seconds(q.worst_wait()) + " (" + Seconds(q.worst_wait_at()) + ")";
  }
  if (worst_connect_node_ != kNoNode) {
    note += ". A restarted daemon's connection (subscribe and hello answered; its listing is not waited for) held "
            "the driver at most " + Seconds(worst_connect_) + " (node " + std::to_string(worst_connect_node_) + ")";
  }
  return note;
}

}  // namespace pbxstate::runner::netns_run
