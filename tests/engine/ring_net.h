// A hand-driven token ring for engine unit tests, shaped as Corosync's CPG is to pbxstated: every
// frame a node hands over waits in the node's FIFO until the token visits it, the visit sends at
// most `max_messages` of them, and each is then delivered to every member in the ring's order,
// the sender's own copy included (the host's confirmation: SendBacklog() counts what is queued
// or sent and not yet confirmed, and the engine's OnSendReady runs when it drops to 0). A
// unicast reaches its addressee through OnFrame and every other member through OnOverheard, as
// CpgEnv hands them over. Deterministic: one token, fixed times, frames in order.
//
// Written for the send-order tests of branch heal20 (not merged); taken over for mailbox_trips_test.cc.
// What it leaves out of totemsrp: message packing and fragmentation (a frame is one message),
// retransmission and loss, the window's flow control across nodes, membership protocol (views are
// set by the test; `cut` drops deliveries between the sides of a partition). The engines are an
// EngineSet (engine_set.h), as MiniNet's.
#pragma once

#include <deque>
#include <iterator>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "engine_set.h"
#include "pbxstate/engine.h"

namespace pbxstate {
namespace testing_ring_net {

using namespace std::chrono_literals;

struct RingMessage {
  NodeId from, to;  // to: kNoNode for a broadcast
  std::vector<std::uint8_t> bytes;
  bool held = false;  // sent before a view change and delivered after it (Hold): not in the sender's backlog
};

class RingNet;

class RingEnv : public Env {
 public:
  RingEnv(RingNet* net, NodeId id, bool report_backlog) : net_(net), id_(id), report_backlog_(report_backlog) {}
  MonoTime Now() override;
  WallTime WallNow() override { return kSimEpoch + Now().time_since_epoch(); }
  void ScheduleWakeup(MonoTime at) override { wakeup = at; }
  SendStatus Broadcast(std::span<const std::uint8_t> frame) override { return Queue(kNoNode, frame); }
  SendStatus Unicast(NodeId to, std::span<const std::uint8_t> frame) override { return Queue(to, frame); }
  std::uint64_t Random() override { return rng(); }
  void Log(LogLevel, std::string_view) override {}
  // A host like CpgEnv counts its backlog; with report_backlog false, one that cannot tell.
  std::optional<std::size_t> SendBacklog() override {
    if (!report_backlog_) return std::nullopt;
    return fifo.size() + unconfirmed;
  }
  bool UnicastReachesEveryone() const override { return true; }

  std::optional<MonoTime> wakeup;
  std::mt19937_64 rng{7};
  std::deque<RingMessage> fifo;  // handed over, waiting for the token
  std::size_t unconfirmed = 0;   // sent on the ring, own copy not yet delivered back
  bool ready_due = false;        // the backlog dropped to 0: OnSendReady is owed

 private:
  SendStatus Queue(NodeId to, std::span<const std::uint8_t> frame) {
    fifo.push_back({id_, to, {frame.begin(), frame.end()}});
    return SendStatus::kOk;
  }
  RingNet* net_;
  NodeId id_;
  bool report_backlog_;
};

class RingNet {
 public:
  RingNet(int n, bool report_backlog, std::function<void(EngineConfig&)> tune = nullptr) {
    for (int i = 1; i <= n; ++i) {
      const auto id = static_cast<NodeId>(i);
      envs[id] = std::make_unique<RingEnv>(this, id, report_backlog);
    }
    engines.CreateAndStart(envs, MembershipSource::kTransport, tune);
    SetView(AllIds());
    next_visit = now + hop;
  }

  std::vector<NodeId> AllIds() const { return engines.AllIds(); }
  void SetView(const std::vector<NodeId>& members) { engines.SetView(++view_id, members); }

  // Runs until `until`: token visits, deliveries and timers in time order (deliveries first at a
  // tie, then the visit, then timers), each engine's owed OnSendReady after the event that owed it.
  void RunUntil(MonoTime until) {
    while (true) {
      MonoTime next = next_visit;
      if (!deliveries.empty() && deliveries.front().first < next) next = deliveries.front().first;
      for (auto& [id, env] : envs) {
        if (env->wakeup && *env->wakeup < next) next = *env->wakeup;
      }
      if (next > until) break;
      now = next;
      if (!deliveries.empty() && deliveries.front().first == now) {
        RingMessage m = std::move(deliveries.front().second);
        deliveries.pop_front();
        Deliver(m);
      } else if (next_visit == now) {
        Visit();
      } else {
        for (auto& [id, env] : envs) {
          if (env->wakeup && *env->wakeup == now) {
            env->wakeup.reset();
            engines[id]->OnTimer();
          }
        }
      }
      for (auto& [id, env] : envs) {
        if (env->ready_due) {
          env->ready_due = false;
          engines[id]->OnSendReady();
        }
      }
    }
    now = until;
  }
  void Run(Duration d) { RunUntil(now + d); }

  // A frame of the view before, which Corosync held during the membership change and delivers
  // `after` from now, in the new view: as every node's copy of it.
  void Hold(Duration after, RingMessage m) {
    m.held = true;
    Schedule(now + after, std::move(m));
  }

  MonoTime now{};
  Duration hop = 1ms;     // the token's time from one member to the next
  Duration delay = 1ms;   // from a visit until its messages are delivered everywhere
  std::size_t max_messages = 17;  // per visit: corosync.conf's max_messages default
  // What each message of a visit costs the token holder before it passes the token on (sending
  // it to every member; 0: a visit's messages cost nothing, the ring's speed is hop alone). The
  // k-th message of a visit is delivered k x per_message after the first.
  Duration per_message{};
  std::uint64_t view_id = 0;
  MonoTime next_visit{};
  NodeId token_at = 1;
  std::deque<std::pair<MonoTime, RingMessage>> deliveries;  // in time order: one delay after each visit
  std::map<NodeId, std::unique_ptr<RingEnv>> envs;
  testing_engine_set::EngineSet engines;  // after envs: destroyed before them
  std::function<void(const RingMessage&)> on_sent;  // every message the ring carries, at its visit
  std::function<bool(NodeId, NodeId)> cut;           // lost on delivery (from, at)

 private:
  void Visit() {
    RingEnv& env = *envs[token_at];
    std::size_t k = 0;
    for (; k < max_messages && !env.fifo.empty(); ++k) {
      if (on_sent) on_sent(env.fifo.front());
      Schedule(now + delay + static_cast<std::int64_t>(k) * per_message, std::move(env.fifo.front()));
      env.fifo.pop_front();
      ++env.unconfirmed;
    }
    token_at = token_at == static_cast<NodeId>(engines.size()) ? 1 : token_at + 1;
    next_visit = now + hop + static_cast<std::int64_t>(k) * per_message;
  }

  // In time order, after those due at the same time (held frames may wait among the visits').
  void Schedule(MonoTime at, RingMessage m) {
    auto it = deliveries.end();
    while (it != deliveries.begin() && std::prev(it)->first > at) --it;
    deliveries.emplace(it, at, std::move(m));
  }

  void Deliver(const RingMessage& m) {
    for (auto& [at, e] : engines) {
      if (at == m.from && m.held) continue;
      if (at == m.from) {
        RingEnv& env = *envs[at];
        --env.unconfirmed;
        if (env.SendBacklog() == std::optional<std::size_t>(0)) env.ready_due = true;
        continue;
      }
      if (cut && cut(m.from, at)) continue;
      if (m.to == kNoNode || m.to == at) {
        e->OnFrame(m.from, m.bytes);
      } else {
        e->OnOverheard(m.from, m.to, m.bytes);
      }
    }
  }
};

inline MonoTime RingEnv::Now() { return net_->now; }

}  // namespace testing_ring_net
}  // namespace pbxstate
