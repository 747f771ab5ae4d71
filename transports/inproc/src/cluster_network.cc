// The in-process network's virtual time and links (cluster_impl.h): the event loop that runs
// wakeups, frames and views in (time, sequence) order, and every frame's way over a link.
#include <algorithm>
#include <string>
#include <utility>

#include "cluster_impl.h"

namespace pbxstate::inproc {

Status Cluster::Impl::RunUntil(MonoTime target, bool inclusive) {
  PBXSTATE_CHECK(!in_callback_);
  if (target < now_) return Status::InvalidArgument("RunUntil: target is before now()");
  std::int64_t instant = Ns(now_);
  std::size_t at_instant = 0;
  for (;;) {
    bool have_event = !queue_.empty();
    bool have_wakeup = !wakeups_.empty();
    if (!have_event && !have_wakeup) break;
    bool take_wakeup;
    if (have_event && have_wakeup) {
      const auto& w = *wakeups_.begin();
      take_wakeup = std::tie(std::get<0>(w), std::get<1>(w)) < std::tie(queue_.top().at, queue_.top().seq);
    } else {
      take_wakeup = have_wakeup;
    }
    std::int64_t at = take_wakeup ? std::get<0>(*wakeups_.begin()) : queue_.top().at;
    if (at > Ns(target) || (!inclusive && at == Ns(target))) break;
    PBXSTATE_CHECK(at >= Ns(now_));
    if (at != instant) {
      instant = at;
      at_instant = 0;
    }
    if (++at_instant > options_.max_events_per_instant) {
      std::string what = take_wakeup ? "a wakeup of node " + std::to_string(std::get<2>(*wakeups_.begin()))
                                     : "a frame or view for node " + std::to_string(queue_.top().to);
      return Status::FailedPrecondition("livelock: more than " +
                                        std::to_string(options_.max_events_per_instant) +
                                        " events at virtual instant " + std::to_string(at) + " ns (next: " +
                                        what + ")");
    }
    now_ = MonoTime(Duration(at));
    if (take_wakeup) {
      std::size_t i = std::get<2>(*wakeups_.begin());
      wakeups_.erase(wakeups_.begin());
      nodes_[i].wakeup.reset();
      PBXSTATE_CHECK(nodes_[i].engine != nullptr);  // Crash removes the wakeup
      nodes_[i].engine->OnTimer();
    } else {
      Event ev = queue_.top();
      queue_.pop();
      if (ev.is_frame) {
        Deliver(ev);
        ConfirmSends(ev.from);
      } else {
        DeliverMembership(ev);
      }
    }
  }
  now_ = target;
  return Status::Ok();
}

void Cluster::Impl::ScheduleWakeup(std::size_t i, MonoTime at) {
  Node& n = nodes_[i];
  // An engine being destroyed (Crash) has no future: its requests are void.
  if (n.engine == nullptr && starting_ != i) return;
  if (n.wakeup) wakeups_.erase(*n.wakeup);
  // A wakeup in the past is due now; the queue never runs backwards.
  std::int64_t when = std::max(Ns(at), Ns(now_));
  n.wakeup = std::make_tuple(when, seq_++, i);
  wakeups_.insert(*n.wakeup);
}

SendStatus Cluster::Impl::Send(std::size_t from, std::optional<std::size_t> to, std::span<const std::uint8_t> bytes) {
  Node& sender = nodes_[from];
  // Only an engine being destroyed (Crash) sends while down: a dead node puts nothing on the wire.
  if (sender.engine == nullptr && starting_ != from) return SendStatus::kOk;
  std::uint64_t hash = HashBytes(bytes);
  if (bytes.size() > options_.max_frame_bytes) {
    if (to) {
      Drop(from, *to, bytes, hash, DropCause::kTooLarge);
    } else {
      for (std::size_t j = 0; j < nodes_.size(); ++j) {
        if (j != from && nodes_[j].engine) Drop(from, j, bytes, hash, DropCause::kTooLarge);
      }
    }
    return SendStatus::kTooLarge;
  }
  sender.counters.frames_sent++;
  sender.counters.bytes_sent += bytes.size();
  auto frame = std::make_shared<const std::vector<std::uint8_t>>(bytes.begin(), bytes.end());
  if (HoldsSends(from)) {
    if (frames_queued_ + frames_held_ >= options_.max_queued_frames) {
      for (std::size_t j = 0; j < nodes_.size(); ++j) {
        if ((to ? j == *to : j != from && nodes_[j].engine != nullptr)) Drop(from, j, bytes, hash, DropCause::kQueueFull);
      }
      return SendStatus::kOk;
    }
    sender.held.push_back({to, std::move(frame), hash});
    frames_held_++;
    sender.frames_in_flight++;  // not through with it yet (SendBacklog)
    return SendStatus::kOk;
  }
  Transmit(from, to, frame, hash);
  return SendStatus::kOk;
}

bool Cluster::Impl::HoldsSends(std::size_t i) const {
  return options_.membership == MembershipSource::kTransport &&
         options_.transport_views == TransportViews::kConsistent && nodes_[i].view_due > Ns(now_);
}

void Cluster::Impl::Transmit(std::size_t from, std::optional<std::size_t> to,
                             const std::shared_ptr<const std::vector<std::uint8_t>>& frame, std::uint64_t hash) {
  Node& sender = nodes_[from];
  const std::size_t bytes = frame->size();
  if (to) {
    sender.counters.unicasts++;
    sender.counters.copies_addressed++;
    sender.counters.bytes_addressed += bytes;
    Route(from, *to, frame, hash);
  } else {
    sender.counters.broadcasts++;
    // A broadcast reaches the members of the medium: nodes that are down are not on it.
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      if (j == from || !nodes_[j].engine) continue;
      sender.counters.copies_addressed++;
      sender.counters.bytes_addressed += bytes;
      Route(from, j, frame, hash);
    }
  }
}

void Cluster::Impl::ReleaseHeld(std::size_t i, bool dead) {
  Node& n = nodes_[i];
  std::vector<HeldFrame> held = std::move(n.held);
  n.held.clear();
  PBXSTATE_CHECK(frames_held_ >= held.size() && n.frames_in_flight >= held.size());
  frames_held_ -= held.size();
  n.frames_in_flight -= held.size();
  for (const HeldFrame& h : held) {
    if (!dead) {
      Transmit(i, h.to, h.frame, h.hash);
      continue;
    }
    // It never left its node: every node it was meant for misses it.
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      if (h.to ? j == *h.to : j != i && nodes_[j].engine != nullptr) {
        Drop(i, j, std::span<const std::uint8_t>(*h.frame), h.hash, DropCause::kDeadNode);
      }
    }
  }
}

void Cluster::Impl::Route(std::size_t from, std::size_t to, const std::shared_ptr<const std::vector<std::uint8_t>>& frame,
           std::uint64_t hash) {
  std::span<const std::uint8_t> bytes(*frame);
  if (!nodes_[to].engine) return Drop(from, to, bytes, hash, DropCause::kDeadNode);
  if (!Connected(from, to) || !SameView(from, to)) return Drop(from, to, bytes, hash, DropCause::kPartition);
  const LinkFaults& f = links_[from][to];
  if (net_rng_.Chance(f.loss)) return Drop(from, to, bytes, hash, DropCause::kLoss);
  int copies = net_rng_.Chance(f.duplicate) ? 2 : 1;
  if (copies == 2) nodes_[from].counters.duplicates_made++;
  for (int c = 0; c < copies; ++c) {
    std::int64_t delay = f.delay.count() + net_rng_.Between(0, f.jitter.count());
    // kConsistent: a frame sent in a view reaches a member after that member has the view (its
    // install may wait for the old view's frames): CPG's agreed order of views and messages.
    if (options_.membership == MembershipSource::kTransport &&
        options_.transport_views == TransportViews::kConsistent) {
      delay = std::max(delay, nodes_[to].view_due - Ns(now_));
    }
    if (f.bandwidth_bps != 0) {
      // The copy waits for the link to finish the frames ahead of it, then takes its own
      // transmission time; only then does its delay start.
      std::int64_t& free_at = free_at_[from][to];
      const auto transmit = static_cast<std::int64_t>(
          (static_cast<Uint128>(bytes.size()) * 8 * 1'000'000'000 + f.bandwidth_bps - 1) / f.bandwidth_bps);
      free_at = std::max(free_at, Ns(now_)) + transmit;
      delay += free_at - Ns(now_);
    }
    if (net_rng_.Chance(f.reorder)) {
      delay += f.reorder_delay.count();
      nodes_[from].counters.reordered++;
    }
    if (frames_queued_ >= options_.max_queued_frames) {
      Drop(from, to, bytes, hash, DropCause::kQueueFull);
      continue;
    }
    Event ev{Ns(now_) + delay, seq_++, true, from, to, nodes_[to].generation, frame, hash, nullptr};
    nodes_[to].last_arrival = std::max(nodes_[to].last_arrival, ev.at);
    queue_.push(std::move(ev));
    frames_queued_++;
    nodes_[from].frames_in_flight++;
    nodes_[from].counters.copies_sent++;
    LinkCounters& lc = link_counters_[from][to];
    lc.in_flight++;
    lc.max_in_flight = std::max(lc.max_in_flight, lc.in_flight);
  }
}

void Cluster::Impl::Deliver(const Event& ev) {
  PBXSTATE_CHECK(frames_queued_ > 0);
  frames_queued_--;
  LinkCounters& lc = link_counters_[ev.from][ev.to];
  PBXSTATE_CHECK(lc.in_flight > 0);
  lc.in_flight--;
  PBXSTATE_CHECK(nodes_[ev.from].frames_in_flight > 0);
  nodes_[ev.from].frames_in_flight--;
  Node& n = nodes_[ev.to];
  if (!n.engine || n.generation != ev.to_generation) {
    return Drop(ev.from, ev.to, std::span<const std::uint8_t>(*ev.frame), ev.frame_hash, DropCause::kDeadNode);
  }
  lc.delivered++;
  lc.bytes_delivered += ev.frame->size();
  n.counters.frames_received++;
  n.counters.bytes_received += ev.frame->size();
  TraceEvent te = MakeTrace(TraceKind::kDelivered, ev.to);
  te.peer = ev.from;
  te.bytes = ev.frame->size();
  te.frame_hash = ev.frame_hash;
  te.frame = std::span<const std::uint8_t>(*ev.frame);
  Trace(te);
  n.engine->OnFrame(IdOf(ev.from), std::span<const std::uint8_t>(*ev.frame));
}

void Cluster::Impl::ConfirmSends(std::size_t i) {
  Node& n = nodes_[i];
  if (options_.membership != MembershipSource::kTransport || n.frames_in_flight != 0 || !n.engine) return;
  n.engine->OnSendReady();
}

void Cluster::Impl::Drop(std::size_t from, std::size_t to, std::span<const std::uint8_t> bytes, std::uint64_t hash,
          DropCause cause) {
  nodes_[to].counters.dropped_to[static_cast<int>(cause)]++;
  TraceEvent te = MakeTrace(TraceKind::kDropped, to);
  te.peer = from;
  te.bytes = bytes.size();
  te.frame_hash = hash;
  te.drop_cause = cause;
  te.frame = bytes;
  Trace(te);
}

}  // namespace pbxstate::inproc
