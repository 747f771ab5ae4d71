// The workload during a namespace run: each planned change made on its node's daemon through a
// control connection of its own, pipelined (sent without waiting; at most kMaxOutstandingChanges
// unanswered per daemon), and its answer handed to the recorder at its send time.
#include <poll.h>

#include <algorithm>

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
  // The answers that came are taken before every send: the daemon reads a connection's next
  // request only once its last answer is written, so answers left unread while changes are sent
  // in a burst fill its side, it stops reading, and the send waits out kCallTimeout (seen on emu,
  // registration-storm's 2,500/s to a restarted node: sim/emu/README.md, "The driver never waits").
  if (Status st = ReadAnswers(c.node, node.outstanding.size() >= kMaxOutstandingChanges); !st.ok()) return st;
  if (Status st = node.writer->Send(ChangeRequest(c, t), kCallTimeout); !st.ok()) {
    return Status::FailedPrecondition("node " + std::to_string(c.node) + ": " + st.message());
  }
  node.outstanding.emplace_back(&c, t);
  return Status::Ok();
}

Status NetnsRun::ReadAnswers(NodeId n, bool all) {
  Node& node = nodes_[n];
  const auto deadline = std::chrono::steady_clock::now() + kCallTimeout;
  while (!node.outstanding.empty()) {
    std::vector<nlohmann::json> answers;
    if (Status st = node.writer->ReadResponses(&answers); !st.ok()) {
      return Status::FailedPrecondition("node " + std::to_string(n) + ": " + st.message());
    }
    for (const nlohmann::json& r : answers) {
      if (node.outstanding.empty()) return Status::FailedPrecondition("node " + std::to_string(n) + ": an answer to no request");
      const auto [c, t] = node.outstanding.front();
      node.outstanding.pop_front();
      // An engine refusal ("ok": false with the engine's code) is a refused change, as in ns-3; a
      // refusal of the request itself (bad_request, too_large) or a malformed answer is the
      // harness's failure, never a change refused.
      Status st;
      if (std::optional<control::Error> e = control::ResponseError(r)) {
        if (e->code == control::ErrorCode::kBadRequest || e->code == control::ErrorCode::kTooLarge) {
          return Status::FailedPrecondition("node " + std::to_string(n) + ": a change was not understood: " + e->message);
        }
        st = control::ToStatus(*e);
      } else if (control::Reply reply; !(st = control::DecodeReply(ChangeRequest(*c, t).op, r, &reply)).ok()) {
        return Status::FailedPrecondition("node " + std::to_string(n) + ": " + st.message());
      }
      RecordChange(t, c, st);
      if (st.ok()) CallsChangeAccepted(t, *c);
    }
    if (!all || node.outstanding.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::FailedPrecondition("node " + std::to_string(n) + ": " + std::to_string(node.outstanding.size()) +
                                        " changes unanswered after " + Seconds(kCallTimeout));
    }
    pollfd p{node.writer->fd(), POLLIN, 0};
    poll(&p, 1, 10);
  }
  return Status::Ok();
}

std::optional<Duration> NetnsRun::EarliestOutstanding() const {
  std::optional<Duration> earliest;
  for (const Node& node : nodes_) {
    if (!node.outstanding.empty() && (!earliest || node.outstanding.front().second < *earliest)) {
      earliest = node.outstanding.front().second;
    }
  }
  return earliest;
}

}  // namespace pbxstate::runner::netns_run
